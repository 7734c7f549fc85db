/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's HTTP side on libwebsockets: one event loop thread, requests
 * to /api/v1/... and /healthz routed to handlers, JSON replies.  A handler
 * answers at once with broker_req_reply*(), or hands blocking work to the
 * worker pool and answers from the job's completion (on the loop thread).
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct broker_http;
struct broker_req;
struct vdi_workers;

/* Largest request body read; larger ones get 413. */
#define BROKER_HTTP_MAX_BODY (64 * 1024)

/* Most "*" segments in a route's path. */
#define BROKER_HTTP_MAX_PARAMS 4

struct broker_route {
	const char *method; /* "GET", "POST", "PATCH", "DELETE" */
	/* The path; a "*" segment matches one non-empty segment, read with broker_req_param(). */
	const char *path;
	void (*handler)(struct broker_req *req, void *userdata);
};

struct broker_http_options {
	const char *listen;          /* host:port */
	const char *admin_socket;    /* path of a unix socket serving the same routes (mode 0660), or NULL */
	const char *web_root;        /* GET of an unrouted path outside /api/ serves a file from here, or NULL */
	const char *spice_html5;     /* GET /spice-html5/... serves the system's spice-html5 from here, or NULL */
	/* Called on the loop thread after broker_http_wake() (from any thread) and on each tick. */
	void (*on_wake)(void *userdata);
	void (*on_tick)(void *userdata);
	unsigned tick_ms;            /* 0: no tick */
	const struct broker_route *routes;
	size_t n_routes;
	void *userdata;              /* passed to handlers */
	/*
	 * Borrowed: the pool broker_req_defer() submits to and whose completions the loop drains.  Its
	 * notify calls broker_http_notify(); it is freed before broker_http_free().
	 */
	struct vdi_workers *workers;
};

int broker_http_new(const struct broker_http_options *opts, struct broker_http **ret, struct vdi_error *err);
struct broker_http *broker_http_free(struct broker_http *h);

/* The port actually listened on (useful with port 0). */
int broker_http_port(struct broker_http *h);
/* The address it listens on, for logs: "127.0.0.1", "::1" or "every address". */
const char *broker_http_address(struct broker_http *h);

/* Makes the loop call on_wake soon; thread-safe. */
void broker_http_wake(struct broker_http *h);

/* The workers' notify: makes the loop run the finished jobs' completions soon; thread-safe. */
void broker_http_notify(struct broker_http *h);

/* Runs the loop until broker_http_stop() (thread- and signal-safe). */
int broker_http_run(struct broker_http *h);
void broker_http_stop(struct broker_http *h);

/* ---- inside a handler (loop thread) --------------------------------------------- */

const char *broker_req_method(struct broker_req *req);
const char *broker_req_path(struct broker_req *req);
/* The body, NUL-terminated; len in *ret_len. */
const char *broker_req_body(struct broker_req *req, size_t *ret_len);
/* A request header ("cookie", "origin", "x-csrf-token", "host"), or NULL. Valid during the request. */
const char *broker_req_header(struct broker_req *req, const char *name);
/* The value of cookie name, or NULL. */
const char *broker_req_cookie(struct broker_req *req, const char *name);
/* The client's address as text ("admin-socket" on the admin socket). */
const char *broker_req_peer(struct broker_req *req);
/* Whether the client speaks TLS to us or to a proxy before us (Origin https://, X-Forwarded-Proto: https). */
bool broker_req_is_tls(struct broker_req *req);
/* Whether the request came over the admin unix socket. */
bool broker_req_on_admin_socket(struct broker_req *req);
/* Whether the client is on this host (loopback or the admin socket). */
bool broker_req_is_local(struct broker_req *req);
/* The value of the i-th "*" of the matched route, or NULL. */
const char *broker_req_param(struct broker_req *req, unsigned i);
/* The URL-decoded value of query argument name, copied into buf; NULL when absent or too long. */
const char *broker_req_query(struct broker_req *req, const char *name, char *buf, size_t len);

/* Replies with status and JSON body (reference taken). Adds Set-Cookie when cookie is not NULL. */
void broker_req_reply_json(struct broker_req *req, unsigned status, json_t *body, const char *cookie);
/*
 * Replies with status, content type and body (len bytes, copied); extra
 * is NULL or one more header line "name: value".
 */
void broker_req_reply_raw(struct broker_req *req, unsigned status, const char *content_type, const char *body,
			  size_t len, const char *extra);
/* Replies {"error": message}. */
void broker_req_reply_error(struct broker_req *req, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Runs work(data) on a worker; then complete(req, data) on the loop thread,
 * which must reply.  If the client went away meanwhile, complete gets
 * req = NULL and must only free data.  -EAGAIN: the pool is full (the
 * caller replies 503).
 */
int broker_req_defer(struct broker_req *req, void (*work)(void *data),
		     void (*complete)(struct broker_req *req, void *data), void *data);
