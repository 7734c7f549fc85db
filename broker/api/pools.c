/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GET /api/v1/pools, POST /api/v1/pools/{pool}/desktop */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bodies.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "session.h"
#include "store.h"

/* Whether a member of user_groups (comma-separated) may use a pool restricted to pool_groups ("" = anyone). */
bool broker_entitled(const char *pool_groups, const char *user_groups)
{
	_cleanup_free_ char *want = NULL;
	char *save = NULL;

	if (!pool_groups || !*pool_groups)
		return true;
	want = strdup(pool_groups);
	for (char *g = want ? strtok_r(want, ",", &save) : NULL; g; g = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(g);

		for (const char *p = user_groups; p && *p;) {
			const char *end = strchr(p, ',');
			size_t plen = end ? (size_t)(end - p) : strlen(p);

			if (plen == len && strncmp(p, g, len) == 0)
				return true;
			p = end ? end + 1 : NULL;
		}
	}
	return false;
}

void broker_api_pools(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_json_ json_t *rows = NULL;
	struct broker_session s;
	json_t *list, *row;
	size_t i;

	if (broker_require_user(b, req, false, &s) < 0)
		return;
	if (broker_store_query(b->store, &rows,
			       "SELECT p.name, CASE p.persistent WHEN 1 THEN 'persistent' ELSE 'pooled' END AS type,"
			       " p.size, p.groups,"
			       " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner IS NULL"
			       "  AND state IN ('free', 'stopped', 'starting', 'provisioning')) AS spare,"
			       " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND state != 'deleting') AS total,"
			       " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner = ?1"
			       "  AND state NOT IN ('deleting', 'error')) AS mine"
			       " FROM pools p WHERE p.draining = 0 ORDER BY p.name",
			       "s", s.user) < 0) {
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

void broker_api_pool_desktop(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *pool = broker_req_param(req, 0), *text;
	_cleanup_json_ json_t *rows = NULL, *after = NULL;
	struct broker_assignment a;
	struct broker_session s;
	double t0 = broker_monotonic();
	const char *new_host;
	bool want_new = false;
	struct vdi_error err = { 0 };
	size_t len;
	int r, running;

	if (broker_require_user(b, req, true, &s) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_assign(text, len, &want_new, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		goto out;
	}
	if (broker_store_query(b->store, &rows,
			       "SELECT p.groups, t.name AS template FROM pools p JOIN templates t ON t.id = p.template_id"
			       " WHERE p.name = ?1 AND p.draining = 0",
			       "s", pool) <= 0) {
		broker_req_reply_error(req, 404, "no such pool");
		goto out;
	}
	if (!broker_entitled(json_string_value(json_object_get(json_array_get(rows, 0), "groups")), s.groups)) {
		broker_req_reply_error(req, 403, "you are not entitled to pool \"%s\"", pool);
		goto out;
	}

	/* Where a new desktop would go, should the user need one. */
	new_host = broker_desks_place(b, json_string_value(json_object_get(json_array_get(rows, 0), "template")));
	r = broker_store_assign(b->store, pool, s.user, want_new, new_host, broker_now(), &a, &err);
	switch (r) {
	case 0:
		break;
	case -ENOENT:
		broker_req_reply_error(req, 404, "no such pool");
		goto out;
	case -ENOSPC:
	case -EHOSTUNREACH:
	case -EHOSTDOWN:
		broker_req_reply_error(req, 503, "%s", err.message);
		goto out;
	case -EDQUOT:
		broker_req_reply_error(req, 409, "%s", err.message);
		goto out;
	case -EBUSY:
		broker_req_reply_error(req, 503, "the broker is busy; try again");
		goto out;
	default:
		broker_req_reply_error(req, 500, "cannot assign a desktop");
		goto out;
	}
	if (a.action != BROKER_ASSIGN_EXISTING) {
		char object[32];

		snprintf(object, sizeof(object), "desktop:%lld", (long long)a.desktop_id);
		(void)broker_store_audit(b->store, vdi_clock_wall(), s.user, "assign", object, pool);
	}
	running = broker_desks_assigned(b, a.desktop_id, a.action, a.state);
	if (running < 0) {
		broker_req_reply_error(req, 500, "cannot start desktop %lld", (long long)a.desktop_id);
		goto out;
	}
	if (broker_store_query(b->store, &after, "SELECT state FROM desktops WHERE id = ?1", "i", a.desktop_id) <= 0) {
		broker_req_reply_error(req, 500, "desktop %lld vanished", (long long)a.desktop_id);
		goto out;
	}
	broker_req_reply_json(req, running ? 200 : 202,
			      json_pack("{s:I, s:O, s:s}", "id", (json_int_t)a.desktop_id, "state",
					json_object_get(json_array_get(after, 0), "state"), "pool", pool),
			      NULL);
	broker_histogram_observe(&b->metrics.assignment, broker_monotonic() - t0);
out:
	broker_session_finish(&s);
}
