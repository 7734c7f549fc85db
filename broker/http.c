/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "alloc.h"
#include "cleanup.h"
#include "workers.h"

#define HEADER_MAX 4096

struct deferred;

struct broker_req {
	struct lws *wsi;
	struct broker_http *http;
	char method[8];
	char path[256];
	char peer[64];
	char *body;
	size_t body_len;
	size_t body_expected;
	char hdr_buf[4][HEADER_MAX];
	char cookie_val[512];

	/* the reply */
	unsigned status;
	char *reply;
	size_t reply_len;
	char *set_cookie;
	int phase; /* 0 handling, 1 headers to write, 2 body to write */
	bool close_after;
	struct deferred *pending;
};

struct deferred {
	struct broker_req *req; /* NULL once the client went away */
	void (*work)(void *data);
	void (*complete)(struct broker_req *req, void *data);
	void *data;
};

struct broker_http {
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	const struct broker_route *routes;
	size_t n_routes;
	void *userdata;
	struct vdi_workers *workers;
	atomic_bool stop;
	struct lws_protocols protocols[2];
};

struct pss {
	struct broker_req *req;
};

/* ---- replies -------------------------------------------------------------------------- */

static void req_free(struct broker_req *req)
{
	if (!req)
		return;
	if (req->pending)
		req->pending->req = NULL; /* the job completes into nothing */
	free(req->body);
	free(req->reply);
	free(req->set_cookie);
	free(req);
}

static void reply_raw(struct broker_req *req, unsigned status, char *body, const char *cookie)
{
	if (!req->wsi || req->phase != 0) {
		free(body);
		return;
	}
	req->status = status;
	req->reply = body;
	req->reply_len = body ? strlen(body) : 0;
	req->set_cookie = cookie ? strdup(cookie) : NULL;
	req->phase = 1;
	lws_callback_on_writable(req->wsi);
}

void broker_req_reply_json(struct broker_req *req, unsigned status, json_t *body, const char *cookie)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text)
		text = strdup("{\"error\":\"out of memory\"}");
	reply_raw(req, text ? status : 500, text, cookie);
}

void broker_req_reply_error(struct broker_req *req, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	broker_req_reply_json(req, status, json_pack("{s:s}", "error", msg), NULL);
}

static int write_reply(struct broker_req *req)
{
	struct lws *wsi = req->wsi;

	if (req->phase == 1) {
		unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;

		if (lws_add_http_common_headers(wsi, req->status, "application/json", req->reply_len, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)"no-store", 8, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
						(const unsigned char *)"nosniff", 7, &p, end))
			return -1;
		if (req->set_cookie &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
						(const unsigned char *)req->set_cookie, (int)strlen(req->set_cookie), &p,
						end))
			return -1;
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		req->phase = 2;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (req->phase == 2) {
		_cleanup_free_ unsigned char *out = malloc(LWS_PRE + req->reply_len + 1);

		if (!out)
			return -1;
		memcpy(out + LWS_PRE, req->reply ? req->reply : "", req->reply_len);
		if (lws_write(wsi, out + LWS_PRE, req->reply_len, LWS_WRITE_HTTP_FINAL) != (int)req->reply_len)
			return -1;
		req->phase = 3;
		if (req->close_after)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	return 0;
}

/* ---- deferred work ---------------------------------------------------------------------- */

static void deferred_work(void *data)
{
	struct deferred *d = data;

	d->work(d->data);
}

static void deferred_done(void *data, int cancelled)
{
	struct deferred *d = data;

	if (d->req) {
		d->req->pending = NULL;
		if (cancelled)
			broker_req_reply_error(d->req, 503, "the broker is shutting down");
	}
	d->complete(cancelled ? NULL : d->req, d->data);
	free(d);
}

int broker_req_defer(struct broker_req *req, void (*work)(void *data),
		     void (*complete)(struct broker_req *req, void *data), void *data)
{
	struct deferred *d = vdi_new0(struct deferred);
	int r;

	if (!d)
		return -ENOMEM;
	d->req = req;
	d->work = work;
	d->complete = complete;
	d->data = data;
	r = vdi_workers_submit(req->http->workers, deferred_work, deferred_done, d);
	if (r < 0) {
		free(d);
		return r;
	}
	req->pending = d;
	return 0;
}

static void notify_loop(void *data)
{
	struct broker_http *h = data;

	lws_cancel_service(h->ctx);
}

/* ---- requests -------------------------------------------------------------------------- */

const char *broker_req_method(struct broker_req *req)
{
	return req->method;
}

const char *broker_req_path(struct broker_req *req)
{
	return req->path;
}

const char *broker_req_body(struct broker_req *req, size_t *ret_len)
{
	if (ret_len)
		*ret_len = req->body_len;
	return req->body ? req->body : "";
}

const char *broker_req_peer(struct broker_req *req)
{
	return req->peer;
}

const char *broker_req_header(struct broker_req *req, const char *name)
{
	static const struct {
		const char *name;
		enum lws_token_indexes token;
		int slot;
	} known[] = {
		{ "cookie", WSI_TOKEN_HTTP_COOKIE, 0 },
		{ "origin", WSI_TOKEN_ORIGIN, 1 },
		{ "host", WSI_TOKEN_HOST, 2 },
	};

	if (!req->wsi)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(known); i++) {
		if (strcasecmp(name, known[i].name) != 0)
			continue;
		if (lws_hdr_copy(req->wsi, req->hdr_buf[known[i].slot], HEADER_MAX, known[i].token) <= 0)
			return NULL;
		return req->hdr_buf[known[i].slot];
	}
	if (strcasecmp(name, "x-csrf-token") == 0) {
		if (lws_hdr_custom_copy(req->wsi, req->hdr_buf[3], HEADER_MAX, "x-csrf-token:", 13) <= 0)
			return NULL;
		return req->hdr_buf[3];
	}
	return NULL;
}

const char *broker_req_cookie(struct broker_req *req, const char *name)
{
	const char *all = broker_req_header(req, "cookie");
	size_t nlen = strlen(name);

	for (const char *p = all; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1, *e = strchr(v, ';');
			size_t len = e ? (size_t)(e - v) : strlen(v);

			if (len >= sizeof(req->cookie_val))
				return NULL;
			memcpy(req->cookie_val, v, len);
			req->cookie_val[len] = '\0';
			return req->cookie_val;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

static void dispatch(struct broker_req *req)
{
	struct broker_http *h = req->http;
	bool path_known = false;

	for (size_t i = 0; i < h->n_routes; i++) {
		if (!streq(h->routes[i].path, req->path))
			continue;
		path_known = true;
		if (streq(h->routes[i].method, req->method)) {
			h->routes[i].handler(req, h->userdata);
			return;
		}
	}
	if (path_known)
		broker_req_reply_error(req, 405, "method %s not allowed on %s", req->method, req->path);
	else
		broker_req_reply_error(req, 404, "no such resource");
}

static int begin_request(struct lws *wsi, struct pss *pss, struct broker_http *h, const char *uri)
{
	struct broker_req *req = vdi_new0(struct broker_req);
	char clen[32];

	if (!req)
		return -1;
	pss->req = req;
	req->wsi = wsi;
	req->http = h;
	lws_get_peer_simple(wsi, req->peer, sizeof(req->peer));
	snprintf(req->path, sizeof(req->path), "%s", uri ? uri : "/");

	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
		snprintf(req->method, sizeof(req->method), "POST");
	else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
		snprintf(req->method, sizeof(req->method), "GET");
	else {
		req->close_after = true;
		broker_req_reply_error(req, 405, "method not allowed");
		return 0;
	}

	if (streq(req->method, "POST")) {
		if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
			req->body_expected = strtoull(clen, NULL, 10);
		if (req->body_expected > BROKER_HTTP_MAX_BODY) {
			req->close_after = true;
			broker_req_reply_error(req, 413, "request body larger than %d bytes", BROKER_HTTP_MAX_BODY);
			return 0;
		}
		if (req->body_expected > 0)
			return 0; /* wait for the body */
	}
	dispatch(req);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct broker_http *h = lws_context_user(lws_get_context(wsi));
	struct pss *pss = user;
	struct broker_req *req = pss ? pss->req : NULL;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (req) /* a new request on a kept-alive connection */
			req_free(req);
		pss->req = NULL;
		return begin_request(wsi, pss, h, in);

	case LWS_CALLBACK_HTTP_BODY:
		if (!req || req->phase != 0)
			return 0;
		if (req->body_len + len > BROKER_HTTP_MAX_BODY) {
			req->close_after = true;
			broker_req_reply_error(req, 413, "request body larger than %d bytes", BROKER_HTTP_MAX_BODY);
			return 0;
		}
		{
			char *b = realloc(req->body, req->body_len + len + 1);

			if (!b)
				return -1;
			req->body = b;
			memcpy(req->body + req->body_len, in, len);
			req->body_len += len;
			req->body[req->body_len] = '\0';
		}
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (req && req->phase == 0)
			dispatch(req);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		return req ? write_reply(req) : 0;

	case LWS_CALLBACK_CLOSED_HTTP:
		if (req) {
			req->wsi = NULL;
			req_free(req);
			pss->req = NULL;
		}
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (h && h->workers)
			vdi_workers_drain(h->workers);
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "<4>[lws] %s", line);
}

int broker_http_new(const struct broker_http_options *opts, struct broker_http **ret, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct broker_http *h;
	char host[256];
	const char *colon;
	int port, r;

	colon = opts->listen ? strrchr(opts->listen, ':') : NULL;
	if (!colon || (size_t)(colon - opts->listen) >= sizeof(host)) {
		snprintf(err, errlen, "listen address \"%s\" is not host:port", opts->listen ? opts->listen : "");
		return -EINVAL;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - opts->listen), opts->listen);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	port = atoi(colon + 1);

	h = vdi_new0(struct broker_http);
	if (!h)
		return -ENOMEM;
	h->routes = opts->routes;
	h->n_routes = opts->n_routes;
	h->userdata = opts->userdata;
	h->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = callback,
		.per_session_data_size = sizeof(struct pss),
		.rx_buffer_size = 0,
	};

	lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host;
	info.protocols = h->protocols;
	info.user = h;
	info.timeout_secs = 20;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	h->ctx = lws_create_context(&info);
	if (!h->ctx) {
		free(h);
		snprintf(err, errlen, "cannot start the HTTP server");
		return -EIO;
	}
	h->vhost = lws_create_vhost(h->ctx, &info);
	if (!h->vhost) {
		snprintf(err, errlen, "cannot listen on %s", opts->listen);
		broker_http_free(h);
		return -EADDRINUSE;
	}
	r = vdi_workers_new(opts->worker_threads ? opts->worker_threads : 4,
			    opts->max_pending_jobs ? opts->max_pending_jobs : 256, notify_loop, h, &h->workers);
	if (r < 0) {
		snprintf(err, errlen, "cannot start worker threads");
		broker_http_free(h);
		return r;
	}
	if (opts->workers)
		*opts->workers = h->workers;
	*ret = h;
	return 0;
}

struct broker_http *broker_http_free(struct broker_http *h)
{
	if (!h)
		return NULL;
	/* Workers first: their completions may still reference requests of the context. */
	h->workers = vdi_workers_free(h->workers);
	if (h->ctx)
		lws_context_destroy(h->ctx);
	free(h);
	return NULL;
}

int broker_http_port(struct broker_http *h)
{
	return lws_get_vhost_listen_port(h->vhost);
}

int broker_http_run(struct broker_http *h)
{
	while (!atomic_load(&h->stop))
		if (lws_service(h->ctx, 0) < 0)
			return -EIO;
	return 0;
}

void broker_http_stop(struct broker_http *h)
{
	atomic_store(&h->stop, true);
	lws_cancel_service(h->ctx);
}
