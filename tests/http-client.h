/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A minimal HTTP/1.1 client for tests: one request per connection. */

#include <stddef.h>

struct http_reply {
	int status;
	char headers[8192]; /* raw, lower-cased names */
	char *body;         /* NUL-terminated */
	char peer_serial[80]; /* over TLS: the serial of the server's certificate, in hex ("" in plain) */
};

/*
 * From now on requests to TCP ports (http_request and all built on it) speak TLS, trusting
 * ca_file (copied) alone and checking the server's certificate names 127.0.0.1; NULL: plain HTTP
 * again.  For a test's HTTPS daemons; the unix socket stays plain.
 */
void http_client_use_tls(const char *ca_file);

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

/*
 * Requests to 127.0.0.1:port checked as they come back, for tests: each fails the test, at the
 * caller's file:line (the macros pass it to the *_at functions), unless a reply comes and, when
 * want is not HTTP_ANY_STATUS, its status is want.  body: the request's (NULL: none), borrowed.
 */
#define HTTP_ANY_STATUS 0
/* The reply's body, new (free it); its status in *ret_status when that is not NULL. */
#define http_text(port, method, path, body, want, ret_status) \
	http_text_at(__FILE__, __LINE__, port, method, path, body, want, ret_status)
/* Also fails unless the body contains part (NULL: any body). */
#define http_expect(port, method, path, body, want, part) \
	http_expect_at(__FILE__, __LINE__, port, method, path, body, want, part)

char *http_text_at(const char *file, int line, int port, const char *method, const char *path, const char *body,
		   int want, int *ret_status);
void http_expect_at(const char *file, int line, int port, const char *method, const char *path, const char *body,
		    int want, const char *part);
