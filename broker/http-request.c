/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request (http-private.h): what the client sent, the reply and how it is
 * written out, and work deferred to the workers.
 */
#include "http-request.h"
#include "http-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "alloc.h"
#include "cleanup.h"
#include "workers.h"

struct broker_deferred {
	struct broker_req *req; /* NULL once the client went away */
	void (*work)(void *data);
	void (*complete)(struct broker_req *req, void *data);
	void *data;
};

void broker_req_free(struct broker_req *req)
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

/* ---- what the client sent ---------------------------------------------------------------- */

/* Sets req's method from the URI token lws filled; false for one we do not serve. */
static bool read_method(struct broker_req *req)
{
	static const struct {
		enum lws_token_indexes token;
		const char *name;
	} methods[] = {
		{ WSI_TOKEN_GET_URI, "GET" },       { WSI_TOKEN_POST_URI, "POST" },
		{ WSI_TOKEN_PATCH_URI, "PATCH" },   { WSI_TOKEN_DELETE_URI, "DELETE" },
		{ WSI_TOKEN_PUT_URI, "PUT" },
	};

	for (size_t i = 0; i < ELEMENTSOF(methods) && !req->method[0]; i++)
		if (lws_hdr_total_length(req->wsi, methods[i].token) > 0)
			snprintf(req->method, sizeof(req->method), "%s", methods[i].name);
	return req->method[0] != '\0';
}

/* Answers 413 and closes the connection after the reply. */
static void refuse_large_body(struct broker_req *req)
{
	req->close_after = true;
	broker_req_reply_error(req, 413, "request body larger than %d bytes", BROKER_HTTP_MAX_BODY);
}

int broker_req_begin(struct lws *wsi, struct vdi_workers *workers, bool admin_socket, const char *uri,
		     struct broker_req **ret)
{
	struct broker_req *req = vdi_new0(struct broker_req);

	if (!req)
		return -ENOMEM;
	*ret = req;
	req->wsi = wsi;
	req->workers = workers;
	req->admin_socket = admin_socket;
	if (req->admin_socket)
		snprintf(req->peer, sizeof(req->peer), "admin-socket");
	else
		lws_get_peer_simple(wsi, req->peer, sizeof(req->peer));
	snprintf(req->path, sizeof(req->path), "%s", uri ? uri : "/");
	req->content_type = "application/json";

	if (!read_method(req)) {
		req->close_after = true;
		broker_req_reply_error(req, 405, "method not allowed");
		return 0;
	}
	if (!streq(req->method, "GET")) {
		char clen[32];

		if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
			req->body_expected = strtoull(clen, NULL, 10);
		if (req->body_expected > BROKER_HTTP_MAX_BODY) {
			refuse_large_body(req);
			return 0;
		}
		if (req->body_expected > 0)
			return 0; /* wait for the body */
	}
	return 1;
}

int broker_req_add_body(struct broker_req *req, const void *in, size_t len)
{
	char *b;

	if (req->body_len + len > BROKER_HTTP_MAX_BODY) {
		refuse_large_body(req);
		return 0;
	}
	b = realloc(req->body, req->body_len + len + 1);
	if (!b)
		return -ENOMEM;
	req->body = b;
	memcpy(req->body + req->body_len, in, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return 0;
}

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

	if (req->wsi && lws_is_ssl(req->wsi))
		return true; /* our own TLS listener */
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
		if (lws_hdr_copy(req->wsi, req->hdr_buf[known[i].slot], BROKER_REQ_HEADER_MAX, known[i].token) <= 0)
			return NULL;
		return req->hdr_buf[known[i].slot];
	}
	if (strcasecmp(name, "x-csrf-token") == 0) {
		if (lws_hdr_custom_copy(req->wsi, req->hdr_buf[3], BROKER_REQ_HEADER_MAX, "x-csrf-token:", 13) <= 0)
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

/* ---- replies ----------------------------------------------------------------------------- */

/* Takes body (len bytes); borrows content_type (a static string), cookie and extra (copied). */
static void reply_take(struct broker_req *req, unsigned status, const char *content_type, char *body, size_t len,
		       const char *cookie, const char *extra)
{
	if (!req->wsi || req->phase != BROKER_REQ_HANDLING) {
		free(body);
		return;
	}
	req->status = status;
	req->content_type = content_type;
	req->reply = body;
	req->reply_len = body ? len : 0;
	req->set_cookie = cookie ? strdup(cookie) : NULL;
	req->extra_header = extra ? strdup(extra) : NULL;
	req->phase = BROKER_REQ_HEADERS;
	lws_callback_on_writable(req->wsi);
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
	reply_take(req, text ? status : 500, "application/json", text, text ? strlen(text) : 0, cookie, NULL);
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

/* Adds the header line "name: value" (borrowed) at *p (before end): 0, or -1. */
static int add_header_line(struct lws *wsi, const char *line, unsigned char **p, unsigned char *end)
{
	char name[64];
	const char *colon = strchr(line, ':'), *value;

	if (!colon || (size_t)(colon - line) + 2 > sizeof(name))
		return -1;
	snprintf(name, sizeof(name), "%.*s:", (int)(colon - line), line);
	for (value = colon + 1; *value == ' '; value++)
		;
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
					   (int)strlen(value), p, end)
		       ? -1
		       : 0;
}

static int write_headers(struct broker_req *req)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	struct lws *wsi = req->wsi;

	if (lws_add_http_common_headers(wsi, req->status, req->content_type, req->reply_len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-store",
					8, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)"nosniff", 7, &p, end))
		return -1;
	if (req->set_cookie &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
					(const unsigned char *)req->set_cookie, (int)strlen(req->set_cookie), &p, end))
		return -1;
	if (req->extra_header && add_header_line(wsi, req->extra_header, &p, end) < 0)
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	req->phase = BROKER_REQ_BODY;
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_body(struct broker_req *req)
{
	_cleanup_free_ unsigned char *out = malloc(LWS_PRE + req->reply_len + 1);
	struct lws *wsi = req->wsi;

	if (!out)
		return -1;
	memcpy(out + LWS_PRE, req->reply ? req->reply : "", req->reply_len);
	if (lws_write(wsi, out + LWS_PRE, req->reply_len, LWS_WRITE_HTTP_FINAL) != (int)req->reply_len)
		return -1;
	req->phase = BROKER_REQ_WRITTEN;
	if (req->close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int broker_req_write(struct broker_req *req)
{
	if (req->phase == BROKER_REQ_HEADERS)
		return write_headers(req);
	if (req->phase == BROKER_REQ_BODY)
		return write_body(req);
	return 0;
}

/* ---- deferred work ----------------------------------------------------------------------- */

static void deferred_work(void *data)
{
	struct broker_deferred *d = data;

	d->work(d->data);
}

static void deferred_done(void *data, int cancelled)
{
	struct broker_deferred *d = data;

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
	struct broker_deferred *d = vdi_new0(struct broker_deferred);
	int r;

	if (!d)
		return -ENOMEM;
	d->req = req;
	d->work = work;
	d->complete = complete;
	d->data = data;
	r = vdi_workers_submit(req->workers, deferred_work, deferred_done, d);
	if (r < 0) {
		free(d);
		return r;
	}
	req->pending = d;
	return 0;
}
