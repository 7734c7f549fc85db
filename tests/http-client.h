/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A minimal HTTP/1.1 client for tests: one request per connection. */

#include <stddef.h>

struct http_reply {
	int status;
	char headers[8192]; /* raw, lower-cased names */
	char *body;         /* NUL-terminated */
};

/*
 * Sends method path to 127.0.0.1:port with the extra header lines (each
 * ending in \r\n, may be NULL) and body (may be NULL).  Returns 0 and fills
 * *ret, or -errno.
 */
int http_request(int port, const char *method, const char *path, const char *headers, const char *body,
		 size_t body_len, struct http_reply *ret);
/* The same over the unix socket at socket_path. */
int http_request_unix(const char *socket_path, const char *method, const char *path, const char *headers,
		      const char *body, size_t body_len, struct http_reply *ret);
void http_reply_finish(struct http_reply *r);

/* The value of a header in r ("set-cookie"), copied into buf; NULL when absent. */
const char *http_reply_header(const struct http_reply *r, const char *name, char *buf, size_t len);
