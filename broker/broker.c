/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addresses.h"
#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "http.h"
#include "log.h"
#include "now.h"
#include "store.h"
#include "template-hardware.h"
#include "throttle.h"
#include "workers.h"

#define THROTTLE_ENTRIES 65536
/* A wall clock further than this from broker_now() has jumped (seconds; both tick alike otherwise). */
#define CLOCK_STEP_MIN 2


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
	{ "GET", "/api/v1/admin/templates/*", broker_api_admin_template },
	{ "PATCH", "/api/v1/admin/templates/*", broker_api_admin_template_update },
	{ "DELETE", "/api/v1/admin/templates/*", broker_api_admin_template_remove },
	{ "POST", "/api/v1/admin/templates/*/publish", broker_api_admin_template_publish },
	{ "DELETE", "/api/v1/admin/templates/*/publish", broker_api_admin_template_publish_cancel },
	{ "POST", "/api/v1/admin/templates/*/rollback", broker_api_admin_template_rollback },
	{ "GET", "/api/v1/admin/templates/*/edit", broker_api_admin_template_edit_get },
	{ "POST", "/api/v1/admin/templates/*/edit", broker_api_admin_template_edit },
	{ "DELETE", "/api/v1/admin/templates/*/edit", broker_api_admin_template_edit_discard },
	{ "POST", "/api/v1/admin/templates/*/edit/start", broker_api_admin_template_edit_start },
	{ "POST", "/api/v1/admin/templates/*/edit/console", broker_api_admin_template_edit_console },
	{ "GET", "/api/v1/admin/templates/*/edit/console.vv", broker_api_admin_template_edit_console_vv },
	{ "GET", "/api/v1/admin/pools", broker_api_admin_pools },
	{ "POST", "/api/v1/admin/pools", broker_api_admin_pool_create },
	{ "PATCH", "/api/v1/admin/pools/*", broker_api_admin_pool_update },
	{ "DELETE", "/api/v1/admin/pools/*", broker_api_admin_pool_delete },
	{ "POST", "/api/v1/admin/pools/*/recompose", broker_api_admin_pool_recompose },
	{ "GET", "/api/v1/admin/desktops", broker_api_admin_desktops },
	{ "POST", "/api/v1/admin/desktops/*/reset", broker_api_admin_desktop_reset },
	{ "POST", "/api/v1/admin/desktops/*/stop", broker_api_admin_desktop_stop },
	{ "DELETE", "/api/v1/admin/desktops/*", broker_api_admin_desktop_delete },
	{ "POST", "/api/v1/admin/desktops/*/recompose", broker_api_admin_desktop_recompose },
	{ "GET", "/api/v1/admin/sessions", broker_api_admin_sessions },
	{ "DELETE", "/api/v1/admin/sessions", broker_api_admin_sessions_kill },
	{ "DELETE", "/api/v1/admin/sessions/*", broker_api_admin_session_kill },
	{ "GET", "/api/v1/admin/audit", broker_api_admin_audit },
	{ "GET", "/api/v1/admin/hosts", broker_api_admin_hosts },
	{ "POST", "/api/v1/admin/hosts/drain", broker_api_admin_host_drain },
	{ "POST", "/api/v1/admin/hosts/resume", broker_api_admin_host_resume },
	{ "GET", "/api/v1/admin/networks", broker_api_admin_networks },
	{ "GET", "/api/v1/admin/os", broker_api_admin_os },
	{ "POST", "/api/v1/admin/networks", broker_api_admin_network_add },
	{ "DELETE", "/api/v1/admin/networks/*", broker_api_admin_network_remove },
};

/* From libvirt's event thread: the loop drains the desktops' event queue (on_wake). */
static void wake_loop(void *http)
{
	broker_http_wake(http);
}

static void on_wake(void *userdata)
{
	struct broker *b = userdata;

	broker_desks_wake(b->desks);
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
	broker_now_shift(delta);
	broker_desks_shift_times(b->desks, delta);
	vdi_info("the wall clock jumped %+lld s: sessions and desktops' times moved with it", (long long)delta);
}

static void on_tick(void *userdata)
{
	struct broker *b = userdata;

	follow_wall_clock(b);
	broker_desks_tick(b->desks);
	broker_addresses_tick(b->addresses);
}

/* The workers' notify (from a worker thread): the loop runs the completions. */
static void on_job_done(void *userdata)
{
	struct broker *b = userdata;

	broker_http_notify(b->http);
}

int broker_new(struct vdi_config *cfg, struct broker **ret, struct vdi_error *err)
{
	struct broker *b = vdi_new0(struct broker);
	struct broker_http_options ho;
	struct broker_desks_options desks_opts;
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
	r = broker_templates_hardware_check(b->store);
	if (r < 0) {
		vdi_error_set(err, r, "cannot record the templates' hardware");
		goto fail;
	}
	r = vdi_token_key_load(b->cfg.tokens.key_file, &b->token_key, err);
	if (r < 0)
		goto fail;
	r = broker_throttle_new((unsigned)b->cfg.broker.login_max_failures, (unsigned)b->cfg.broker.login_lockout,
				THROTTLE_ENTRIES, &b->throttle);
	if (r < 0) {
		vdi_error_set(err, r, "cannot set up login throttling");
		goto fail;
	}
	/* No job is submitted before b->http exists. */
	r = vdi_workers_new(8, 512, on_job_done, b, &b->workers);
	if (r < 0) {
		vdi_error_set(err, r, "cannot start worker threads");
		goto fail;
	}
	ho = (struct broker_http_options){
		.listen = b->cfg.broker.listen,
		.admin_socket = b->cfg.broker.admin_socket,
		.web_root = b->cfg.broker.web_root,
		.spice_html5 = b->cfg.broker.spice_html5,
		.tls_cert = b->cfg.broker.tls_cert,
		.tls_key = b->cfg.broker.tls_key,
		.on_wake = on_wake,
		.on_tick = on_tick,
		.tick_ms = 1000,
		.routes = routes,
		.n_routes = ELEMENTSOF(routes),
		.userdata = b,
		.workers = b->workers,
	};
	r = broker_http_new(&ho, &b->http, err);
	if (r < 0)
		goto fail;
	desks_opts = (struct broker_desks_options){
		.cfg = &b->cfg,
		.store = b->store,
		.workers = b->workers,
		.wake = wake_loop,
		.wake_data = b->http,
	};
	r = broker_desks_new(&desks_opts, &b->desks, err);
	if (r < 0)
		goto fail;
	r = broker_addresses_new(&(struct broker_addresses_options){ .store = b->store, .workers = b->workers,
								     .desks = b->desks },
				 &b->addresses);
	if (r < 0) {
		vdi_error_set(err, r, "cannot keep the desktops' addresses");
		goto fail;
	}
	/* What a crash or a restarted libvirtd left: repaired before anything else runs. */
	broker_desks_reconcile(b->desks);
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
	/*
	 * No more events into the loop; then the workers, whose jobs use the hosts and whose
	 * completions may still reference http's requests; then http.
	 */
	broker_desks_stop_events(b->desks);
	b->workers = vdi_workers_free(b->workers);
	b->http = broker_http_free(b->http);
	broker_addresses_free(b->addresses);
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

void broker_reload(struct broker *b)
{
	broker_http_reload(b->http);
}

int broker_port(struct broker *b)
{
	return broker_http_port(b->http);
}

const char *broker_address(struct broker *b)
{
	return broker_http_address(b->http);
}
