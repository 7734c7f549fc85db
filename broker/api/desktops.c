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
#include "console.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "session.h"
#include "store-sessions.h"
#include "store-views.h"
#include "store.h"
#include "viewers.h"
#include "vmpool.h"

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

static void console(struct broker_req *req, struct broker *b, bool vv)
{
	_cleanup_json_ json_t *row = NULL;
	struct broker_session s;
	char domain[128], what[48], title[128], filename[64], object[32];
	const char *state, *pool;
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
	pool = json_string_value(json_object_get(row, "pool"));
	/* second_viewer "refuse": never a second viewer while one is open (viewers.h). */
	if (streq_ptr(json_string_value(json_object_get(row, "second_viewer")), "refuse") &&
	    broker_viewers_open(b->desks, id, pool)) {
		broker_req_reply_error(req, 409, "desktop %lld is open in another viewer", (long long)id);
		goto out;
	}
	if (pool_domain_name(pool, id, domain, sizeof(domain)) < 0) {
		broker_req_reply_error(req, 500, "cannot prepare the console");
		goto out;
	}
	snprintf(what, sizeof(what), "desktop %lld", (long long)id);
	snprintf(title, sizeof(title), "%s desktop %lld", pool, (long long)id);
	snprintf(filename, sizeof(filename), "desktop-%lld.vv", (long long)id);
	snprintf(object, sizeof(object), "desktop:%lld", (long long)id);
	broker_api_console_open(req, b,
				&(struct broker_console_target){
					.user = s.user,
					.id = id,
					.host = broker_desks_host(b->desks, json_string_value(json_object_get(row, "host"))),
					.domain = domain,
					.what = what,
					.title = title,
					.filename = filename,
					.object = object,
					.usb_redirect = json_integer_value(json_object_get(row, "usb_redirect")),
				},
				vv);
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
