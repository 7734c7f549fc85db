/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "alloc.h"
#include "cleanup.h"
#include "http-static.h"
#include "lws-listen.h"
#include "workers.h"

#define HEADER_MAX 4096

struct deferred;

struct broker_req {
	struct lws *wsi;
	struct broker_http *http;
	char method[8];
	char path[256];
	char peer[64];
	bool admin_socket;
	char params[BROKER_HTTP_MAX_PARAMS][128];
	unsigned n_params;
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
	const char *content_type; /* static string */
	char *extra_header;       /* "name: value" or NULL */
	int phase; /* 0 handling, 1 headers to write, 2 body to write */
	bool close_after;
	bool dispatched; /* the handler ran: once per request */
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
	struct lws_vhost *vhost, *admin_vhost;
	const struct broker_route *routes;
	size_t n_routes;
	void *userdata;
	struct vdi_workers *workers;
	atomic_bool stop;
	atomic_bool woken;
	struct lws_protocols protocols[2];
	struct broker_static files; /* web_root and spice_html5 */
	char *admin_socket;
	void (*on_wake)(void *userdata);
	void (*on_tick)(void *userdata);
	unsigned tick_ms;
	lws_sorted_usec_list_t tick;
	struct vdi_listen where; /* [broker] listen, resolved */
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
	free(req->extra_header);
	free(req);
}

/* Takes body (len bytes). */
static void reply_take(struct broker_req *req, unsigned status, const char *content_type, char *body, size_t len,
		       const char *cookie, const char *extra)
{
	if (!req->wsi || req->phase != 0) {
		free(body);
		return;
	}
	req->status = status;
	req->content_type = content_type;
	req->reply = body;
	req->reply_len = body ? len : 0;
	req->set_cookie = cookie ? strdup(cookie) : NULL;
	req->extra_header = extra ? strdup(extra) : NULL;
	req->phase = 1;
	lws_callback_on_writable(req->wsi);
}

static void reply_raw(struct broker_req *req, unsigned status, char *body, const char *cookie)
{
	reply_take(req, status, "application/json", body, body ? strlen(body) : 0, cookie, NULL);
}

void broker_req_reply_raw(struct broker_req *req, unsigned status, const char *content_type, const char *body,
			  size_t len, const char *extra)
{
	char *copy = malloc(len + 1);

	if (!copy) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	reply_take(req, status, content_type, copy, len, NULL, extra);
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

		if (lws_add_http_common_headers(wsi, req->status, req->content_type, req->reply_len, &p, end) ||
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
		if (req->extra_header) {
			char name[64];
			const char *colon = strchr(req->extra_header, ':'), *value;

			if (!colon || (size_t)(colon - req->extra_header) + 2 > sizeof(name))
				return -1;
			snprintf(name, sizeof(name), "%.*s:", (int)(colon - req->extra_header), req->extra_header);
			for (value = colon + 1; *value == ' '; value++)
				;
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
							(int)strlen(value), &p, end))
				return -1;
		}
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

void broker_http_notify(struct broker_http *h)
{
	lws_cancel_service(h->ctx);
}

void broker_http_wake(struct broker_http *h)
{
	atomic_store(&h->woken, true);
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

bool broker_req_is_tls(struct broker_req *req)
{
	const char *origin = broker_req_header(req, "origin");
	char proto[16];

	if (origin && startswith(origin, "https://"))
		return true;
	return req->wsi && lws_hdr_custom_copy(req->wsi, proto, sizeof(proto), "x-forwarded-proto:", 18) > 0 &&
	       strcasecmp(proto, "https") == 0;
}

bool broker_req_on_admin_socket(struct broker_req *req)
{
	return req->admin_socket;
}

bool broker_req_is_local(struct broker_req *req)
{
	return req->admin_socket || startswith(req->peer, "127.") || streq(req->peer, "::1") ||
	       startswith(req->peer, "::ffff:127.");
}

const char *broker_req_param(struct broker_req *req, unsigned i)
{
	return i < req->n_params ? req->params[i] : NULL;
}

const char *broker_req_query(struct broker_req *req, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);
	char frag[1024];

	if (!req->wsi)
		return NULL;
	for (int i = 0; i < 64; i++) {
		int n = lws_hdr_copy_fragment(req->wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0)
			return NULL;
		if (strncmp(frag, name, nlen) != 0 || frag[nlen] != '=')
			continue;
		if (strlen(frag + nlen + 1) >= len)
			return NULL;
		memcpy(buf, frag + nlen + 1, strlen(frag + nlen + 1) + 1);
		return buf;
	}
	return NULL;
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

/* Whether path matches pattern ("*" = one non-empty segment); fills req's params. */
static bool route_matches(struct broker_req *req, const char *pattern, const char *path)
{
	unsigned n = 0;

	while (*pattern && *path) {
		if (pattern[0] == '*' && (pattern[1] == '/' || pattern[1] == '\0')) {
			size_t len = strcspn(path, "/");

			if (len == 0 || len >= sizeof(req->params[0]) || n >= BROKER_HTTP_MAX_PARAMS)
				return false;
			memcpy(req->params[n], path, len);
			req->params[n++][len] = '\0';
			pattern++;
			path += len;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	if (*pattern || *path)
		return false;
	req->n_params = n;
	return true;
}

/* GET of an unrouted path: 1 when lws took over the reply, 0 when there is no such file (the caller answers 404). */
static int serve_file(struct broker_req *req)
{
	char real[PATH_MAX];

	if (!broker_static_find(&req->http->files, req->path, real, sizeof(real)))
		return 0;
	req->phase = 4; /* lws writes the reply */
	return broker_static_send(req->wsi, real) < 0 ? -1 : 1;
}

static int dispatch(struct broker_req *req)
{
	struct broker_http *h = req->http;
	bool path_known = false;

	req->dispatched = true;
	for (size_t i = 0; i < h->n_routes; i++) {
		if (!route_matches(req, h->routes[i].path, req->path))
			continue;
		path_known = true;
		if (streq(h->routes[i].method, req->method)) {
			h->routes[i].handler(req, h->userdata);
			return 0;
		}
	}
	if (path_known) {
		broker_req_reply_error(req, 405, "method %s not allowed on %s", req->method, req->path);
		return 0;
	}
	if (streq(req->method, "GET")) {
		int r = serve_file(req);

		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	broker_req_reply_error(req, 404, "no such resource");
	return 0;
}

static int begin_request(struct lws *wsi, struct pss *pss, struct broker_http *h, const char *uri)
{
	static const struct {
		enum lws_token_indexes token;
		const char *name;
	} methods[] = {
		{ WSI_TOKEN_GET_URI, "GET" },       { WSI_TOKEN_POST_URI, "POST" },
		{ WSI_TOKEN_PATCH_URI, "PATCH" },   { WSI_TOKEN_DELETE_URI, "DELETE" },
		{ WSI_TOKEN_PUT_URI, "PUT" },
	};
	struct broker_req *req = vdi_new0(struct broker_req);
	char clen[32];

	if (!req)
		return -1;
	pss->req = req;
	req->wsi = wsi;
	req->http = h;
	req->admin_socket = h->admin_vhost && lws_get_vhost(wsi) == h->admin_vhost;
	if (req->admin_socket)
		snprintf(req->peer, sizeof(req->peer), "admin-socket");
	else
		lws_get_peer_simple(wsi, req->peer, sizeof(req->peer));
	snprintf(req->path, sizeof(req->path), "%s", uri ? uri : "/");
	req->content_type = "application/json";

	for (size_t i = 0; i < ELEMENTSOF(methods) && !req->method[0]; i++)
		if (lws_hdr_total_length(wsi, methods[i].token) > 0)
			snprintf(req->method, sizeof(req->method), "%s", methods[i].name);
	if (!req->method[0]) {
		req->close_after = true;
		broker_req_reply_error(req, 405, "method not allowed");
		return 0;
	}

	if (!streq(req->method, "GET")) {
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
	return dispatch(req);
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
		/* lws also reports an empty body (in = NULL, len = 0). */
		if (!req || req->phase != 0 || !len)
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
		/* lws reports the completion of an empty POST body too, after begin_request() dispatched it. */
		if (req && req->phase == 0 && !req->dispatched)
			return dispatch(req);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		return req && req->phase != 4 ? write_reply(req) : 0;

	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/* A kept-alive connection finished a transaction: lws rebinds the protocol and frees
		 * this per-session data, so the request goes now (browsers keep connections alive). */
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
		if (h && h->on_wake && atomic_exchange(&h->woken, false))
			h->on_wake(h->userdata);
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct broker_http *h = lws_container_of(sul, struct broker_http, tick);

	if (h->on_tick)
		h->on_tick(h->userdata);
	lws_sul_schedule(h->ctx, 0, &h->tick, on_tick, (lws_usec_t)h->tick_ms * LWS_US_PER_MS);
}

/* The admin socket: a fresh unix socket at path, mode 0660. */
static int listen_admin(struct broker_http *h, const char *path, const struct lws_context_creation_info *base,
			struct vdi_error *err)
{
	struct lws_context_creation_info info = *base;
	struct sockaddr_un sun;
	struct stat st;

	if (strlen(path) >= sizeof(sun.sun_path))
		return vdi_error_set(err, -ENAMETOOLONG, "admin_socket \"%s\" is longer than a unix socket path may be",
				     path);
	/* A socket left by an earlier run goes; any other kind of file stays and is an error. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return vdi_error_set(err, -EEXIST, "admin_socket %s exists and is not a socket", path);
		(void)unlink(path);
	}
	h->admin_socket = strdup(path);
	if (!h->admin_socket)
		return -ENOMEM;
	/* Nothing of the TCP listener's address family options applies to a unix socket. */
	info.options &= ~(uint64_t)(LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE |
				    LWS_SERVER_OPTION_DISABLE_IPV6);
	info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
	info.iface = path;
	info.port = 0;
	info.vhost_name = "admin";
	h->admin_vhost = lws_create_vhost(h->ctx, &info);
	if (!h->admin_vhost)
		return vdi_error_set(err, -EADDRINUSE, "cannot listen on the admin socket %s", path);
	if (chmod(path, 0660) < 0) {
		int r = -errno;

		return vdi_error_set(err, r, "cannot set the mode of the admin socket %s: %s", path, strerror(-r));
	}
	return 0;
}

static void log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "<4>[lws] %s", line);
}

int broker_http_new(const struct broker_http_options *opts, struct broker_http **ret, struct vdi_error *err)
{
	struct lws_context_creation_info info;
	struct vdi_listen where;
	struct broker_http *h;
	int r;

	r = vdi_listen_resolve(opts->listen ? opts->listen : "", &where, err);
	if (r < 0)
		return r;

	h = vdi_new0(struct broker_http);
	if (!h)
		return -ENOMEM;
	h->routes = opts->routes;
	h->n_routes = opts->n_routes;
	h->userdata = opts->userdata;
	h->on_wake = opts->on_wake;
	h->on_tick = opts->on_tick;
	h->workers = opts->workers;
	h->tick_ms = opts->tick_ms;
	h->where = where;
	broker_static_init(&h->files, opts->web_root, opts->spice_html5);
	h->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = callback,
		.per_session_data_size = sizeof(struct pss),
		.rx_buffer_size = 0,
	};

	lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
	memset(&info, 0, sizeof(info));
	info.protocols = h->protocols;
	info.user = h;
	info.timeout_secs = 20;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	vdi_listen_to_lws(&h->where, &info);
	info.vhost_name = "default";
	h->ctx = lws_create_context(&info);
	if (!h->ctx) {
		broker_static_finish(&h->files);
		free(h);
		return vdi_error_set(err, -EIO, "cannot start the HTTP server");
	}
	h->vhost = lws_create_vhost(h->ctx, &info);
	if (!h->vhost) {
		vdi_error_set(err, -EADDRINUSE, "cannot listen on %s", opts->listen);
		broker_http_free(h);
		return -EADDRINUSE;
	}
	if (opts->admin_socket && *opts->admin_socket) {
		r = listen_admin(h, opts->admin_socket, &info, err);
		if (r < 0) {
			broker_http_free(h);
			return r;
		}
	}
	if (h->tick_ms)
		lws_sul_schedule(h->ctx, 0, &h->tick, on_tick, (lws_usec_t)h->tick_ms * LWS_US_PER_MS);
	*ret = h;
	return 0;
}

struct broker_http *broker_http_free(struct broker_http *h)
{
	if (!h)
		return NULL;
	/* Its owner freed the workers before: their completions may still reference requests of the context. */
	if (h->ctx)
		lws_context_destroy(h->ctx);
	if (h->admin_socket)
		(void)unlink(h->admin_socket);
	free(h->admin_socket);
	broker_static_finish(&h->files);
	free(h);
	return NULL;
}

int broker_http_port(struct broker_http *h)
{
	return lws_get_vhost_listen_port(h->vhost);
}

const char *broker_http_address(struct broker_http *h)
{
	return vdi_listen_describe(&h->where);
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
