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

struct broker_http;
struct broker_req;
struct vdi_workers;

/* Largest request body read; larger ones get 413. */
#define BROKER_HTTP_MAX_BODY (64 * 1024)

struct broker_route {
	const char *method; /* "GET", "POST" */
	const char *path;   /* exact path, e.g. "/api/v1/login" */
	void (*handler)(struct broker_req *req, void *userdata);
};

struct broker_http_options {
	const char *listen;          /* host:port */
	const struct broker_route *routes;
	size_t n_routes;
	void *userdata;              /* passed to handlers */
	struct vdi_workers **workers; /* set by broker_http_new: the pool whose completions the loop drains */
	unsigned worker_threads;
	size_t max_pending_jobs;
};

int broker_http_new(const struct broker_http_options *opts, struct broker_http **ret, char *err, size_t errlen);
struct broker_http *broker_http_free(struct broker_http *h);

/* The port actually listened on (useful with port 0). */
int broker_http_port(struct broker_http *h);

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
/* The client's address as text. */
const char *broker_req_peer(struct broker_req *req);

/* Replies with status and JSON body (reference taken). Adds Set-Cookie when cookie is not NULL. */
void broker_req_reply_json(struct broker_req *req, unsigned status, json_t *body, const char *cookie);
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
