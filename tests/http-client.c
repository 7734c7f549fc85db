/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "http-client.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "tls-client.h"

#include <openssl/ssl.h>

static char tls_ca[512]; /* http_client_use_tls(): "" is plain */

void http_client_use_tls(const char *ca_file)
{
	snprintf(tls_ca, sizeof(tls_ca), "%s", ca_file ? ca_file : "");
}

/* A connection: its socket and, over TLS, the session on it. */
struct conn {
	int fd;
	SSL *ssl;
};

static int conn_send(struct conn *c, const void *data, size_t len)
{
	if (c->ssl)
		return tls_client_send(c->ssl, data, len);
	return send(c->fd, data, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
}

static ssize_t conn_recv(struct conn *c, void *buf, size_t len)
{
	if (c->ssl) {
		int n = SSL_read(c->ssl, buf, (int)len);

		return n > 0 ? n : 0;
	}
	return recv(c->fd, buf, len, 0);
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
}

static int request(struct conn *c, const char *host, const char *method, const char *path, const char *headers,
		   const char *body, size_t body_len, struct http_reply *ret);

int http_request(int port, const char *method, const char *path, const char *headers, const char *body,
		 size_t body_len, struct http_reply *ret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char host[32];
	int fd, n;

	memset(ret, 0, sizeof(*ret));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	{
		struct conn c = { .fd = fd };

		if (tls_ca[0]) {
			struct timeval tv = { .tv_sec = 30 };

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (tls_client_start(fd, tls_ca, &c.ssl) < 0) {
				close(fd);
				return -EPROTO;
			}
			tls_client_peer_serial(c.ssl, ret->peer_serial, sizeof(ret->peer_serial));
		}
		return request(&c, host, method, path, headers, body, body_len, ret);
	}
}

int http_request_unix(const char *socket_path, const char *method, const char *path, const char *headers,
		      const char *body, size_t body_len, struct http_reply *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n;

	memset(ret, 0, sizeof(*ret));
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	return request(&(struct conn){ .fd = fd }, "localhost", method, path, headers, body, body_len, ret);
}

/* Sends the request on c (taken) and reads the reply. */
static int request(struct conn *c, const char *host, const char *method, const char *path, const char *headers,
		   const char *body, size_t body_len, struct http_reply *ret)
{
	struct timeval tv = { .tv_sec = 30 };
	char head[4096], *buf = NULL, *sep;
	size_t len = 0, cap = 0;
	int n;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s%zu\r\n\r\n", method, path, host,
		     headers ? headers : "", body ? "Content-Type: application/json\r\nContent-Length: " : "Content-Length: ",
		     body ? body_len : 0);
	if (conn_send(c, head, (size_t)n) < 0 || (body && conn_send(c, body, body_len) < 0)) {
		conn_close(c);
		return -EIO;
	}
	for (;;) {
		ssize_t got;

		if (len + 4096 + 1 > cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 16384);

			if (!b) {
				free(buf);
				conn_close(c);
				return -ENOMEM;
			}
			buf = b;
		}
		got = conn_recv(c, buf + len, cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	conn_close(c);
	if (!buf)
		return -ECONNRESET;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*[01] %d", &ret->status) != 1 || !(sep = strstr(buf, "\r\n\r\n"))) {
		free(buf);
		return -EPROTO;
	}
	snprintf(ret->headers, sizeof(ret->headers), "%.*s", (int)(sep - buf), buf);
	for (char *p = ret->headers; *p; p++) {
		/* lower-case header names: from each line start up to ':' */
		if (p == ret->headers || p[-1] == '\n')
			for (char *q = p; *q && *q != ':' && *q != '\r'; q++)
				*q = (char)tolower((unsigned char)*q);
	}
	{
		/* A reply cut short (the server died while writing it) is no reply. */
		size_t got_len = len - (size_t)(sep + 4 - buf);
		char clen[32];

		if (http_reply_header(ret, "content-length", clen, sizeof(clen)) &&
		    strtoull(clen, NULL, 10) > got_len) {
			free(buf);
			return -EPIPE;
		}
	}
	ret->body = strdup(sep + 4);
	free(buf);
	return ret->body ? 0 : -ENOMEM;
}

void http_reply_finish(struct http_reply *r)
{
	free(r->body);
	r->body = NULL;
}

const char *http_reply_header(const struct http_reply *r, const char *name, char *buf, size_t len)
{
	char needle[128];
	const char *p, *e;

	snprintf(needle, sizeof(needle), "\n%s:", name);
	p = strstr(r->headers, needle);
	if (!p)
		return NULL;
	p += strlen(needle);
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	snprintf(buf, len, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
	return buf;
}

char *http_text_at(const char *file, int line, int port, const char *method, const char *path, const char *body,
		   int want, int *ret_status)
{
	struct http_reply r;
	int rc = http_request(port, method, path, NULL, body, body ? strlen(body) : 0, &r);

	if (rc < 0)
		vdi_test_fail(file, line, "%s %s: %s", method, path, strerror(-rc));
	if (want != HTTP_ANY_STATUS && r.status != want)
		vdi_test_fail(file, line, "%s %s: %d, not %d: %.400s", method, path, r.status, want, r.body);
	if (ret_status)
		*ret_status = r.status;
	return r.body;
}

void http_expect_at(const char *file, int line, int port, const char *method, const char *path, const char *body,
		    int want, const char *part)
{
	char *text = http_text_at(file, line, port, method, path, body, want, NULL);

	if (part && !strstr(text, part))
		vdi_test_fail(file, line, "%s %s: no \"%s\" in the body: %.400s", method, path, part, text);
	free(text);
}
