/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "broker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "http.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "throttle.h"

#define THROTTLE_ENTRIES 65536
/* A wall clock further than this from broker_now() has jumped (seconds; both tick alike otherwise). */
#define CLOCK_STEP_MIN 2

/* What broker_now() adds to the steady clock: the wall clock's jumps it has followed. */
static _Atomic int64_t clock_shift;

static const struct broker_route routes[] = {
	{ "GET", "/healthz", broker_api_healthz },
	{ "POST", "/api/v1/login", broker_api_login },
	{ "POST", "/api/v1/logout", broker_api_logout },
	{ "GET", "/api/v1/me", broker_api_me },
	{ "GET", "/metrics", broker_api_metrics },
	{ "GET", "/api/v1/pools", broker_api_pools },
	{ "POST", "/api/v1/pools/*/desktop", broker_api_pool_desktop },
	{ "GET", "/api/v1/desktops", broker_api_desktops },
	{ "POST", "/api/v1/desktops/*/console", broker_api_console },
	{ "GET", "/api/v1/desktops/*/console.vv", broker_api_console_vv },
	{ "POST", "/api/v1/desktops/*/release", broker_api_release },
	{ "GET", "/api/v1/admin/templates", broker_api_admin_templates },
	{ "POST", "/api/v1/admin/templates", broker_api_admin_template_add },
	{ "DELETE", "/api/v1/admin/templates/*", broker_api_admin_template_remove },
	{ "GET", "/api/v1/admin/pools", broker_api_admin_pools },
	{ "POST", "/api/v1/admin/pools", broker_api_admin_pool_create },
	{ "PATCH", "/api/v1/admin/pools/*", broker_api_admin_pool_update },
	{ "DELETE", "/api/v1/admin/pools/*", broker_api_admin_pool_delete },
	{ "GET", "/api/v1/admin/desktops", broker_api_admin_desktops },
	{ "POST", "/api/v1/admin/desktops/*/reset", broker_api_admin_desktop_reset },
	{ "POST", "/api/v1/admin/desktops/*/stop", broker_api_admin_desktop_stop },
	{ "DELETE", "/api/v1/admin/desktops/*", broker_api_admin_desktop_delete },
	{ "GET", "/api/v1/admin/sessions", broker_api_admin_sessions },
	{ "DELETE", "/api/v1/admin/sessions", broker_api_admin_sessions_kill },
	{ "DELETE", "/api/v1/admin/sessions/*", broker_api_admin_session_kill },
	{ "GET", "/api/v1/admin/audit", broker_api_admin_audit },
	{ "GET", "/api/v1/admin/hosts", broker_api_admin_hosts },
	{ "POST", "/api/v1/admin/hosts/drain", broker_api_admin_host_drain },
	{ "POST", "/api/v1/admin/hosts/resume", broker_api_admin_host_resume },
};

static void on_wake(void *userdata)
{
	broker_desks_wake(userdata);
}

int64_t broker_now(void)
{
	return vdi_clock_steady() + atomic_load(&clock_shift);
}

/*
 * The wall clock jumped (NTP stepping it, an admin): broker_now() and the times stored on it move
 * by as much, in one transaction, so that durations under way keep their length and the stored
 * times stay wall times (for people, and for the next start).  A busy database: the next tick.
 */
static void follow_wall_clock(struct broker *b)
{
	int64_t delta = vdi_clock_wall() - broker_now();

	if (delta > -CLOCK_STEP_MIN && delta < CLOCK_STEP_MIN)
		return;
	if (broker_store_shift_times(b->store, delta) < 0)
		return;
	atomic_fetch_add(&clock_shift, delta);
	broker_desks_shift_times(b, delta);
	vdi_info("the wall clock jumped %+lld s: sessions and desktops' times moved with it", (long long)delta);
}

static void on_tick(void *userdata)
{
	follow_wall_clock(userdata);
	broker_desks_tick(userdata);
}

int broker_new(struct vdi_config *cfg, struct broker **ret, struct vdi_error *err)
{
	struct broker *b = vdi_new0(struct broker);
	struct broker_http_options ho;
	int r;

	if (!b) {
		vdi_config_finish(cfg);
		return -ENOMEM;
	}
	b->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	(void)broker_now(); /* the steady clock starts from the wall clock now */

	r = broker_store_open(b->cfg.database.path, &b->store, err);
	if (r < 0)
		goto fail;
	r = vdi_token_key_load(b->cfg.tokens.key_file, &b->token_key, err);
	if (r < 0)
		goto fail;
	r = broker_throttle_new((unsigned)b->cfg.broker.login_max_failures, (unsigned)b->cfg.broker.login_lockout,
				THROTTLE_ENTRIES, &b->throttle);
	if (r < 0) {
		vdi_error_set(err, r, "cannot set up login throttling");
		goto fail;
	}
	ho = (struct broker_http_options){
		.listen = b->cfg.broker.listen,
		.admin_socket = b->cfg.broker.admin_socket,
		.web_root = b->cfg.broker.web_root,
		.spice_html5 = b->cfg.broker.spice_html5,
		.on_wake = on_wake,
		.on_tick = on_tick,
		.tick_ms = 1000,
		.routes = routes,
		.n_routes = ELEMENTSOF(routes),
		.userdata = b,
		.workers = &b->workers,
		.worker_threads = 8,
		.max_pending_jobs = 512,
	};
	r = broker_http_new(&ho, &b->http, err);
	if (r < 0)
		goto fail;
	r = broker_desks_new(b, &b->desks, err);
	if (r < 0)
		goto fail;
	/* What a crash or a restarted libvirtd left: repaired before anything else runs. */
	broker_desks_reconcile(b);
	*ret = b;
	return 0;
fail:
	broker_free(b);
	return r;
}

struct broker *broker_free(struct broker *b)
{
	if (!b)
		return NULL;
	/* No more events into the loop; then the workers (inside http), whose jobs use the hosts. */
	broker_desks_stop_events(b->desks);
	b->http = broker_http_free(b->http);
	broker_desks_free(b->desks);
	broker_throttle_free(b->throttle);
	explicit_bzero(&b->token_key, sizeof(b->token_key));
	broker_store_close(b->store);
	vdi_config_finish(&b->cfg);
	free(b);
	return NULL;
}

int broker_run(struct broker *b)
{
	return broker_http_run(b->http);
}

void broker_stop(struct broker *b)
{
	broker_http_stop(b->http);
}

int broker_port(struct broker *b)
{
	return broker_http_port(b->http);
}

const char *broker_address(struct broker *b)
{
	return broker_http_address(b->http);
}

int broker_check_origin(struct broker_req *req)
{
	const char *origin = broker_req_header(req, "origin"), *host = broker_req_header(req, "host"), *rest;
	char host_copy[512];

	if (!origin)
		return 0; /* not a browser's cross-site request */
	snprintf(host_copy, sizeof(host_copy), "%s", host ? host : "");
	rest = startswith(origin, "http://");
	if (!rest)
		rest = startswith(origin, "https://");
	if (rest && host && streq(rest, host_copy))
		return 0;
	broker_req_reply_error(req, 403, "cross-origin request refused");
	return -EPERM;
}

int broker_require_session(struct broker *b, struct broker_req *req, bool csrf, struct broker_session *ret)
{
	const char *id = broker_req_cookie(req, "vdi_session");

	if (broker_check_origin(req) < 0)
		return -EACCES;
	if (!id || broker_session_find(b->store, id, broker_now(), ret) < 0) {
		broker_req_reply_error(req, 401, "not logged in");
		return -EACCES;
	}
	if (csrf && !broker_session_csrf_ok(ret, broker_req_header(req, "x-csrf-token"))) {
		broker_session_finish(ret);
		broker_req_reply_error(req, 403, "missing or wrong X-CSRF-Token header");
		return -EACCES;
	}
	return 0;
}

int broker_require_user(struct broker *b, struct broker_req *req, bool csrf, struct broker_session *ret)
{
	if (broker_req_on_admin_socket(req)) {
		broker_req_reply_error(req, 400, "the admin socket serves /api/v1/admin; user paths need a login");
		return -EACCES;
	}
	return broker_require_session(b, req, csrf, ret);
}

int broker_require_admin(struct broker *b, struct broker_req *req, char *actor, size_t len)
{
	struct broker_session s;
	bool csrf = !streq(broker_req_method(req), "GET");

	if (broker_req_on_admin_socket(req)) {
		snprintf(actor, len, "admin-socket");
		return 0;
	}
	if (broker_require_session(b, req, csrf, &s) < 0)
		return -EACCES;
	if (!s.admin) {
		broker_session_finish(&s);
		broker_req_reply_error(req, 403, "administrators only");
		return -EACCES;
	}
	snprintf(actor, len, "%s", s.user);
	broker_session_finish(&s);
	return 0;
}

int broker_req_desktop_id(struct broker_req *req, unsigned i, int64_t *ret)
{
	const char *p = broker_req_param(req, i);
	char *end = NULL;
	long long v;

	errno = 0;
	v = p && *p >= '1' && *p <= '9' ? strtoll(p, &end, 10) : 0;
	if (v <= 0 || errno || !end || *end) {
		broker_req_reply_error(req, 404, "no such desktop");
		return -ENOENT;
	}
	*ret = v;
	return 0;
}
