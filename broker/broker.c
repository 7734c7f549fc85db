/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "http.h"
#include "session.h"
#include "store.h"
#include "throttle.h"

#define THROTTLE_ENTRIES 65536

static const struct broker_route routes[] = {
	{ "GET", "/healthz", broker_api_healthz },
	{ "POST", "/api/v1/login", broker_api_login },
	{ "POST", "/api/v1/logout", broker_api_logout },
	{ "GET", "/api/v1/me", broker_api_me },
};

int64_t broker_now(void)
{
	return (int64_t)time(NULL);
}

int broker_new(struct vdi_config *cfg, struct broker **ret, char *err, size_t errlen)
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

	r = broker_store_open(b->cfg.database.path, &b->store, err, errlen);
	if (r < 0)
		goto fail;
	r = broker_throttle_new((unsigned)b->cfg.broker.login_max_failures, (unsigned)b->cfg.broker.login_lockout,
				THROTTLE_ENTRIES, &b->throttle);
	if (r < 0) {
		snprintf(err, errlen, "cannot set up login throttling");
		goto fail;
	}
	ho = (struct broker_http_options){
		.listen = b->cfg.broker.listen,
		.routes = routes,
		.n_routes = ELEMENTSOF(routes),
		.userdata = b,
		.workers = &b->workers,
		.worker_threads = 8,
		.max_pending_jobs = 512,
	};
	r = broker_http_new(&ho, &b->http, err, errlen);
	if (r < 0)
		goto fail;
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
	broker_http_free(b->http);
	broker_throttle_free(b->throttle);
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
