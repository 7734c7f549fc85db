/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET /api/v1/desktops, POST /api/v1/desktops/{id}/console,
 * GET /api/v1/desktops/{id}/console.vv, POST /api/v1/desktops/{id}/release
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "alloc.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "random.h"
#include "session.h"
#include "store-sessions.h"
#include "store-views.h"
#include "store.h"
#include "token.h"
#include "vmpool.h"
#include "vv.h"

/* SPICE ticket length: random [A-Za-z0-9], under POOL_TICKET_MAX. */
#define TICKET_LEN 32

void broker_api_desktops(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	struct broker_session s;
	json_t *rows = NULL;

	if (broker_require_user(b->store, req, false, &s) < 0)
		return;
	if (broker_store_user_desktops(b->store, s.user, &rows) < 0)
		broker_req_reply_error(req, 500, "cannot read your desktops");
	else
		broker_req_reply_json(req, 200, json_pack("{s:o}", "desktops", rows), NULL);
	broker_session_finish(&s);
}

/* The caller's desktop {id}: its row, or a reply already sent and NULL. Another user's desktop is "no such desktop". */
static json_t *owned_desktop(struct broker *b, struct broker_req *req, const char *user, int64_t *ret_id)
{
	json_t *rows = NULL, *row;

	if (broker_req_desktop_id(req, 0, ret_id) < 0)
		return NULL;
	if (broker_store_user_desktop(b->store, *ret_id, user, &rows) <= 0) {
		json_decref(rows);
		broker_req_reply_error(req, 404, "no such desktop");
		return NULL;
	}
	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return row;
}

void broker_api_release(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_json_ json_t *row = NULL, *after = NULL;
	struct broker_session s;
	int64_t id;
	int r;

	if (broker_require_user(b->store, req, true, &s) < 0)
		return;
	row = owned_desktop(b, req, s.user, &id);
	if (!row)
		goto out;
	r = broker_desks_release(b->desks, id, s.user, "user");
	if (r == -EBUSY) {
		broker_req_reply_error(req, 409, "desktop %lld is busy; try again", (long long)id);
		goto out;
	}
	if (r < 0) {
		broker_req_reply_error(req, 500, "cannot release desktop %lld: %s", (long long)id, strerror(-r));
		goto out;
	}
	(void)broker_store_desktop_state(b->store, id, &after);
	broker_req_reply_json(req, 202,
			      json_pack("{s:I, s:s}", "id", (json_int_t)id, "state",
					json_string_value(json_object_get(json_array_get(after, 0), "state"))
						?: "deleting"),
			      NULL);
out:
	broker_session_finish(&s);
}

/* ---- console ------------------------------------------------------------------------------- */

struct console_job {
	struct broker *b;
	bool vv;
	struct pool_host *host;
	char user[256];
	char pool[40];
	char domain[128];
	int64_t id;
	char password[TICKET_LEN + 1];
	char target[512];
	int64_t expires;
	int result;
	struct vdi_error err;
};

static void console_job_free(struct console_job *j)
{
	explicit_bzero(j->password, sizeof(j->password));
	free(j);
}

static void console_work(void *data)
{
	struct console_job *j = data;

	j->result = pool_desktop_set_ticket(j->host, j->domain, j->password, (time_t)j->expires, &j->err);
	if (j->result >= 0)
		j->result = pool_desktop_spice_target(j->host, j->domain, j->target, sizeof(j->target));
}

/* host:port of the gateway's public URL ("ws://h:p/x" -> "h:p"). */
static void console_complete(struct broker_req *req, void *data)
{
	struct console_job *j = data;
	struct broker *b = j->b;
	struct vdi_token_claims claims = { 0 };
	_cleanup_free_ char *token = NULL, *url = NULL, *vv = NULL;
	char object[32];

	if (!req)
		goto out;
	if (j->result < 0) {
		vdi_warn("console for desktop %lld: %s", (long long)j->id, j->err.message);
		broker_req_reply_error(req, j->result == -ENOTCONN ? 503 : 409, "cannot open the console of desktop %lld: %s",
				       (long long)j->id, j->err.message[0] ? j->err.message : strerror(-j->result));
		goto out;
	}
	snprintf(claims.sub, sizeof(claims.sub), "%s", j->user);
	claims.dsk = j->id;
	snprintf(claims.tgt, sizeof(claims.tgt), "%s", j->target);
	claims.exp = j->expires;
	if (vdi_token_sign(&b->token_key, &claims, &token) < 0 ||
	    asprintf(&url, "%s/spice?token=%s", b->cfg.gateway.public_url, token) < 0) {
		url = NULL;
		broker_req_reply_error(req, 500, "cannot make a console token");
		goto out;
	}
	snprintf(object, sizeof(object), "desktop:%lld", (long long)j->id);
	(void)broker_store_audit(b->store, vdi_clock_wall(), j->user, "console", object, j->vv ? "remote-viewer" : "browser");
	if (!j->vv) {
		broker_req_reply_json(req, 200,
				      json_pack("{s:s, s:s, s:s, s:I}", "url", url, "token", token, "password", j->password,
						"expires", (json_int_t)j->expires),
				      NULL);
	} else {
		char title[128], disposition[128];
		size_t n;

		snprintf(title, sizeof(title), "%s desktop %lld", j->pool, (long long)j->id);
		if (broker_vv_write(&(struct broker_vv){ .desktop = j->id, .password = j->password, .token = token,
							  .public_url = b->cfg.gateway.public_url, .title = title },
				    &vv, &n) < 0) {
			broker_req_reply_error(req, 500, "cannot write the remote-viewer file");
			goto out;
		}
		snprintf(disposition, sizeof(disposition), "content-disposition: attachment; filename=\"desktop-%lld.vv\"",
			 (long long)j->id);
		broker_req_reply_raw(req, 200, "application/x-virt-viewer", vv, n, disposition);
		explicit_bzero(vv, n);
	}
out:
	if (token)
		explicit_bzero(token, strlen(token));
	console_job_free(j);
}

static void console(struct broker_req *req, struct broker *b, bool vv)
{
	_cleanup_json_ json_t *row = NULL;
	struct broker_session s;
	struct console_job *j = NULL;
	const char *state;
	int64_t id;

	if (broker_require_user(b->store, req, !vv, &s) < 0)
		return;
	row = owned_desktop(b, req, s.user, &id);
	if (!row)
		goto out;
	state = json_string_value(json_object_get(row, "state"));
	if (streq(state, "unavailable")) {
		broker_req_reply_error(req, 503, "desktop %lld is unavailable: its host does not answer now", (long long)id);
		goto out;
	}
	if (broker_desks_busy(b->desks, id) ||
	    !(streq(state, "assigned") || streq(state, "connected") || streq(state, "disconnected"))) {
		broker_req_reply_error(req, 409, "desktop %lld is not running (it is %s); try again when it is", (long long)id,
				       broker_desks_busy(b->desks, id) ? "busy" : state);
		goto out;
	}
	j = vdi_new0(struct console_job);
	if (!j) {
		broker_req_reply_error(req, 500, "out of memory");
		goto out;
	}
	j->b = b;
	j->vv = vv;
	j->id = id;
	j->host = broker_desks_host(b->desks, json_string_value(json_object_get(row, "host")));
	/* Unix seconds: the gateway and QEMU judge them by their own wall clocks. */
	j->expires = vdi_clock_wall() + (int64_t)b->cfg.tokens.ttl;
	snprintf(j->user, sizeof(j->user), "%s", s.user);
	snprintf(j->pool, sizeof(j->pool), "%s", json_string_value(json_object_get(row, "pool")));
	if (!j->host || pool_domain_name(j->pool, id, j->domain, sizeof(j->domain)) < 0 ||
	    vdi_random_id(j->password, TICKET_LEN) < 0) {
		broker_req_reply_error(req, 500, "cannot prepare the console");
		console_job_free(j);
		goto out;
	}
	if (broker_req_defer(req, console_work, console_complete, j) < 0) {
		console_job_free(j);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
out:
	broker_session_finish(&s);
}

void broker_api_console(struct broker_req *req, void *userdata)
{
	console(req, userdata, false);
}

void broker_api_console_vv(struct broker_req *req, void *userdata)
{
	console(req, userdata, true);
}
