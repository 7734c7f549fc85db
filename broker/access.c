/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "access.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "http.h"
#include "now.h"
#include "session.h"
#include "store-sessions.h"
#include "store.h"

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

int broker_require_session(struct broker_store *store, struct broker_req *req, bool csrf, struct broker_session *ret)
{
	const char *id = broker_req_cookie(req, "vdi_session");

	if (broker_check_origin(req) < 0)
		return -EACCES;
	if (!id || broker_session_find(store, id, broker_now(), ret) < 0) {
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

int broker_require_user(struct broker_store *store, struct broker_req *req, bool csrf, struct broker_session *ret)
{
	if (broker_req_on_admin_socket(req)) {
		broker_req_reply_error(req, 400, "the admin socket serves /api/v1/admin; user paths need a login");
		return -EACCES;
	}
	return broker_require_session(store, req, csrf, ret);
}

int broker_require_admin(struct broker_store *store, struct broker_req *req, char *actor, size_t len)
{
	struct broker_session s;
	bool csrf = !streq(broker_req_method(req), "GET");

	if (broker_req_on_admin_socket(req)) {
		snprintf(actor, len, "admin-socket");
		return 0;
	}
	if (broker_require_session(store, req, csrf, &s) < 0)
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
