/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GET /api/v1/pools, POST /api/v1/pools/{pool}/desktop */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "alloc.h"
#include "bodies.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "assign.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "session.h"
#include "store-catalog.h"
#include "store-sessions.h"

void broker_api_pools(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_json_ json_t *rows = NULL;
	struct broker_session s;
	json_t *list, *row;
	size_t i;

	if (broker_require_user(b->store, req, false, &s) < 0)
		return;
	if (broker_store_user_pools(b->store, s.user, &rows) < 0) {
		broker_session_finish(&s);
		broker_req_reply_error(req, 500, "cannot read the pools");
		return;
	}
	list = json_array();
	json_array_foreach(rows, i, row) {
		json_int_t size = json_integer_value(json_object_get(row, "size")),
			   total = json_integer_value(json_object_get(row, "total")),
			   spare = json_integer_value(json_object_get(row, "spare"));

		if (!broker_entitled(json_string_value(json_object_get(row, "groups")), s.groups))
			continue;
		json_array_append_new(list, json_pack("{s:O, s:O, s:I, s:I, s:I, s:O}", "name", json_object_get(row, "name"),
						      "type", json_object_get(row, "type"), "free",
						      spare + (size > total ? size - total : 0), "total", total, "size", size,
						      "mine", json_object_get(row, "mine")));
	}
	broker_session_finish(&s);
	broker_req_reply_json(req, 200, json_pack("{s:o}", "pools", list), NULL);
}

/* The HTTP status of an assignment's failure. */
static int assign_status(int r)
{
	switch (r) {
	case -ENOENT:
		return 404;
	case -EACCES:
		return 403;
	case -ENOSPC:
	case -EHOSTUNREACH:
	case -EHOSTDOWN:
	case -EBUSY:
		return 503;
	case -EDQUOT:
		return 409;
	default:
		return 500;
	}
}

void broker_api_pool_desktop(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *pool = broker_req_param(req, 0), *text;
	struct broker_assign_request rq = { .pool = pool };
	struct broker_assign_result a;
	struct broker_session s;
	double t0 = broker_monotonic();
	struct vdi_error err = { 0 };
	size_t len;
	int r;

	if (broker_require_user(b->store, req, true, &s) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_assign(text, len, &rq.want_new, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		goto out;
	}
	rq.user = s.user;
	rq.groups = s.groups;
	r = broker_desks_assign(b->desks, &rq, &a, &err);
	if (r < 0) {
		broker_req_reply_error(req, assign_status(r), "%s", err.message);
		goto out;
	}
	broker_req_reply_json(req, a.running ? 200 : 202,
			      json_pack("{s:I, s:s, s:s}", "id", (json_int_t)a.id, "state", a.state, "pool", pool), NULL);
	broker_histogram_observe(&b->metrics.assignment, broker_monotonic() - t0);
out:
	broker_session_finish(&s);
}
