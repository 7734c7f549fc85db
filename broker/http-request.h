/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * One request, inside a handler (loop thread; http-request.c): what the client sent, the
 * reply, and blocking work handed to the worker pool with the reply from its completion.
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct broker_req;

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
/* Whether the client speaks TLS to us (a [broker] tls_cert listener) or to a proxy before us (Origin
 * https://, X-Forwarded-Proto: https). */
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
