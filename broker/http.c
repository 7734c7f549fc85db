/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HTTP side's transport and routing (http-private.h): the lws context with
 * its TCP and admin-socket vhosts, the loop, and the protocol callback that
 * hands each request to its route.
 */
#include "http.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "alloc.h"
#include "http-private.h"
#include "http-static.h"
#include "log.h"
#include "lws-listen.h"
#include "tls.h"
#include "workers.h"

struct broker_http {
	struct lws_context *ctx;
	struct lws_vhost *vhost, *admin_vhost;
	const struct broker_route *routes;
	size_t n_routes;
	void *userdata;
	struct vdi_workers *workers;
	atomic_bool stop;
	atomic_bool woken;
	atomic_bool reload; /* SIGHUP: read the certificate again */
	const char *tls_cert, *tls_key; /* borrowed from the options; NULL: plain */
	SSL_CTX *ssl_ctx;   /* the TCP vhost's with TLS (lws owns it) */
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

/* ---- routing ---------------------------------------------------------------------------- */

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
static int serve_file(struct broker_http *h, struct broker_req *req)
{
	char real[PATH_MAX];

	if (!broker_static_find(&h->files, req->path, real, sizeof(real)))
		return 0;
	req->phase = BROKER_REQ_FILE; /* lws writes the reply */
	return broker_static_send(req->wsi, real) < 0 ? -1 : 1;
}

/* Runs req's handler, or answers 405, a file or 404: 0, or -1 to close the connection. */
static int dispatch(struct broker_http *h, struct broker_req *req)
{
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
		int r = serve_file(h, req);

		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	broker_req_reply_error(req, 404, "no such resource");
	return 0;
}

/* ---- the protocol callback ------------------------------------------------------------------ */

/* A request on wsi for uri (borrowed): its own, or the next one on a kept-alive connection. */
static int on_request(struct broker_http *h, struct lws *wsi, struct pss *pss, const char *uri)
{
	bool admin_socket = h->admin_vhost && lws_get_vhost(wsi) == h->admin_vhost;
	int r;

	broker_req_free(pss->req);
	pss->req = NULL;
	r = broker_req_begin(wsi, h->workers, admin_socket, uri, &pss->req);
	if (r < 0)
		return -1;
	return r > 0 ? dispatch(h, pss->req) : 0;
}

/* Part of req's body (lws also reports an empty body: in = NULL, len = 0). */
static int on_body(struct broker_req *req, const void *in, size_t len)
{
	if (!req || req->phase != BROKER_REQ_HANDLING || !len)
		return 0;
	return broker_req_add_body(req, in, len) < 0 ? -1 : 0;
}

static void on_closed(struct pss *pss)
{
	if (!pss->req)
		return;
	pss->req->wsi = NULL;
	broker_req_free(pss->req);
	pss->req = NULL;
}

/* lws_cancel_service() was called: broker_http_notify() or broker_http_wake(). */
static void on_cancelled(struct broker_http *h)
{
	if (h && h->workers)
		vdi_workers_drain(h->workers);
	if (h && h->on_wake && atomic_exchange(&h->woken, false))
		h->on_wake(h->userdata);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct broker_http *h = lws_context_user(lws_get_context(wsi));
	struct pss *pss = user;
	struct broker_req *req = pss ? pss->req : NULL;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_request(h, wsi, pss, in);

	case LWS_CALLBACK_HTTP_BODY:
		return on_body(req, in, len);

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/* lws reports the completion of an empty POST body too, after on_request() dispatched it. */
		if (req && req->phase == BROKER_REQ_HANDLING && !req->dispatched)
			return dispatch(h, req);
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		return req && req->phase != BROKER_REQ_FILE ? broker_req_write(req) : 0;

	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/* A kept-alive connection finished a transaction: lws rebinds the protocol and frees
		 * this per-session data, so the request goes now (browsers keep connections alive). */
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss)
			on_closed(pss);
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		on_cancelled(h);
		return 0;

	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* While the TCP vhost is made with TLS: its context, for broker_http_reload_tls(). */
		h->ssl_ctx = user;
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the context and the loop -------------------------------------------------------------- */

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
				    LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT);
	/* Plain: it is a local socket, and vdi-ctl speaks HTTP to it. */
	info.ssl_cert_filepath = NULL;
	info.ssl_private_key_filepath = NULL;
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

/*
 * A new h (new) with opts' settings and where (both borrowed; h keeps
 * borrowing the routes, userdata and workers), without its context yet.
 */
static struct broker_http *http_alloc(const struct broker_http_options *opts, const struct vdi_listen *where)
{
	struct broker_http *h = vdi_new0(struct broker_http);

	if (!h)
		return NULL;
	h->routes = opts->routes;
	h->n_routes = opts->n_routes;
	h->userdata = opts->userdata;
	h->on_wake = opts->on_wake;
	h->on_tick = opts->on_tick;
	h->workers = opts->workers;
	h->tick_ms = opts->tick_ms;
	h->where = *where;
	h->tls_cert = opts->tls_cert;
	h->tls_key = opts->tls_key;
	broker_static_init(&h->files, opts->web_root, opts->spice_html5);
	h->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = callback,
		.per_session_data_size = sizeof(struct pss),
		.rx_buffer_size = 0,
	};
	return h;
}

/* What the context and the TCP vhost are made from, into *info. */
static void context_info(struct broker_http *h, struct lws_context_creation_info *info)
{
	memset(info, 0, sizeof(*info));
	info->protocols = h->protocols;
	info->user = h;
	info->timeout_secs = 20;
	info->options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	vdi_listen_to_lws(&h->where, info);
	info->vhost_name = "default";
	if (h->tls_cert) {
		info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info->ssl_cert_filepath = h->tls_cert;
		info->ssl_private_key_filepath = h->tls_key;
	}
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

	r = vdi_tls_check_pair("broker", opts->tls_cert, opts->tls_key, err);
	if (r < 0)
		return r;
	h = http_alloc(opts, &where);
	if (!h)
		return -ENOMEM;
	lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
	context_info(h, &info);
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
	if (h->tls_cert && !h->ssl_ctx) {
		broker_http_free(h);
		return vdi_error_set(err, -EIO, "[broker] tls_cert: the listener has no TLS context");
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

int broker_http_reload_tls(struct broker_http *h, struct vdi_error *err)
{
	if (!h->ssl_ctx)
		return 0;
	return vdi_tls_load_pair(h->ssl_ctx, "broker", h->tls_cert, h->tls_key, err);
}

void broker_http_reload(struct broker_http *h)
{
	atomic_store(&h->reload, true);
	lws_cancel_service(h->ctx);
}

static void reload_now(struct broker_http *h)
{
	struct vdi_error err = { 0 };

	if (!h->ssl_ctx)
		vdi_info("SIGHUP: no [broker] tls_cert, nothing to reload");
	else if (broker_http_reload_tls(h, &err) < 0)
		vdi_error("SIGHUP: %s; the certificate loaded before stays in use", err.message);
	else
		vdi_info("SIGHUP: reloaded the certificate %s and key %s", h->tls_cert, h->tls_key);
}

int broker_http_run(struct broker_http *h)
{
	while (!atomic_load(&h->stop)) {
		if (atomic_exchange(&h->reload, false))
			reload_now(h);
		if (lws_service(h->ctx, 0) < 0)
			return -EIO;
	}
	return 0;
}

void broker_http_stop(struct broker_http *h)
{
	atomic_store(&h->stop, true);
	lws_cancel_service(h->ctx);
}

void broker_http_wake(struct broker_http *h)
{
	atomic_store(&h->woken, true);
	lws_cancel_service(h->ctx);
}

void broker_http_notify(struct broker_http *h)
{
	lws_cancel_service(h->ctx);
}
