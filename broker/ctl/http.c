/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "http.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"

void ctl_http_reply_finish(struct ctl_http_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* The next "\r\n" at or after p before end, or NULL. */
static const char *find_crlf(const char *p, const char *end)
{
	return memmem(p, (size_t)(end - p), "\r\n", 2);
}

/* A decimal number of at most max, taking the whole of s..end. */
static int parse_decimal(const char *s, const char *end, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end)
		return -EBADMSG;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

struct head {
	int status;
	size_t len;             /* bytes up to and with the empty line */
	bool has_length;
	uint64_t content_length;
	bool chunked;
};

/* If the header line [p, end) is "name: value", sets the value without surrounding blanks and returns true. */
static bool header_value(const char *p, const char *end, const char *name, const char **ret, const char **ret_end)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
		return false;
	p += n + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*ret = p;
	*ret_end = end;
	return true;
}

static int parse_head(const char *buf, const char *end, struct head *h)
{
	const char *line = buf, *eol, *v, *vend;
	uint64_t status;

	*h = (struct head){ 0 };
	eol = find_crlf(line, end);
	if (!eol)
		return -EAGAIN;
	/* HTTP/1.x NNN[ reason] */
	if (eol - line < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
	    line[8] != ' ' || parse_decimal(line + 9, line + 12, 999, &status) < 0 || status < 100 || status > 599 ||
	    (eol - line > 12 && line[12] != ' '))
		return -EBADMSG;
	h->status = (int)status;

	for (line = eol + 2;; line = eol + 2) {
		const char *colon;

		eol = find_crlf(line, end);
		if (!eol)
			return -EAGAIN;
		if (eol == line)
			break;
		colon = memchr(line, ':', (size_t)(eol - line));
		/* No folded lines, no blanks in or before the name. */
		if (!colon || colon == line || memchr(line, ' ', (size_t)(colon - line)) ||
		    memchr(line, '\t', (size_t)(colon - line)))
			return -EBADMSG;
		if (header_value(line, eol, "content-length", &v, &vend)) {
			uint64_t n;

			if (parse_decimal(v, vend, UINT64_MAX / 10 - 10, &n) < 0 ||
			    (h->has_length && n != h->content_length))
				return -EBADMSG;
			if (n > CTL_HTTP_MAX_REPLY)
				return -EMSGSIZE;
			h->has_length = true;
			h->content_length = n;
		} else if (header_value(line, eol, "transfer-encoding", &v, &vend)) {
			/* Only chunked is understood; no other coding is asked for. */
			if (vend - v != 7 || strncasecmp(v, "chunked", 7) != 0)
				return -EBADMSG;
			h->chunked = true;
		}
	}
	h->len = (size_t)(eol + 2 - buf);
	return 0;
}

/* Decodes a chunked body at p..end into out (which has room for end - p bytes). */
static int decode_chunked(const char *p, const char *end, bool eof, char *out, size_t *ret_len)
{
	size_t n = 0;

	for (;;) {
		const char *eol = find_crlf(p, end), *q;
		uint64_t size = 0;

		if (!eol)
			return eof ? -EBADMSG : -EAGAIN;
		for (q = p; q < eol && *q != ';'; q++) {
			int d;

			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if (*q >= 'a' && *q <= 'f')
				d = *q - 'a' + 10;
			else if (*q >= 'A' && *q <= 'F')
				d = *q - 'A' + 10;
			else
				return -EBADMSG;
			size = size * 16 + (uint64_t)d;
			if (size > CTL_HTTP_MAX_REPLY)
				return -EMSGSIZE;
		}
		if (q == p)
			return -EBADMSG;
		p = eol + 2;
		if (size == 0) {
			/* Trailer lines up to an empty line. */
			for (;;) {
				eol = find_crlf(p, end);
				if (!eol)
					return eof ? -EBADMSG : -EAGAIN;
				if (eol == p)
					break;
				p = eol + 2;
			}
			*ret_len = n;
			return 0;
		}
		if ((uint64_t)(end - p) < size + 2)
			return eof ? -EBADMSG : -EAGAIN;
		if (p[size] != '\r' || p[size + 1] != '\n')
			return -EBADMSG;
		memcpy(out + n, p, size);
		n += size;
		p += size + 2;
	}
}

int ctl_http_parse_reply(const char *buf, size_t len, bool eof, struct ctl_http_reply *ret)
{
	const char *end = buf + len;
	_cleanup_free_ char *body = NULL;
	size_t body_len = 0;
	struct head h;
	int r;

	memset(ret, 0, sizeof(*ret));
	for (;;) {
		r = parse_head(buf, end, &h);
		if (r == -EAGAIN && eof)
			return -EBADMSG;
		if (r < 0)
			return r;
		buf += h.len;
		if (h.status >= 200)
			break;
		/* 1xx: an interim reply without a body; the real one follows. */
	}

	body = malloc((size_t)(end - buf) + 1);
	if (!body)
		return -ENOMEM;
	if (h.status == 204 || h.status == 304) {
		body_len = 0;
	} else if (h.chunked) {
		r = decode_chunked(buf, end, eof, body, &body_len);
		if (r < 0)
			return r;
	} else if (h.has_length) {
		if ((uint64_t)(end - buf) < h.content_length)
			return eof ? -EBADMSG : -EAGAIN;
		body_len = (size_t)h.content_length;
		memcpy(body, buf, body_len);
	} else {
		/* Delimited by the end of the connection. */
		if (!eof)
			return -EAGAIN;
		body_len = (size_t)(end - buf);
		memcpy(body, buf, body_len);
	}
	body[body_len] = '\0';
	ret->status = h.status;
	ret->body = TAKE_PTR(body);
	ret->body_len = body_len;
	return 0;
}

/* Sends all of buf; -EPIPE and -ECONNRESET when the peer closed (it may still have answered). */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int connect_unix(const char *path, struct vdi_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_HTTP_TIMEOUT_S };
	_cleanup_close_ int fd = -1;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sa.sun_path))
		return vdi_error_set(err, -ENAMETOOLONG, "cannot connect to the socket %s: %s", path,
				     n ? "the path is too long for a unix socket" : "empty path");
	memcpy(sa.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		return vdi_error_set(err, r, "cannot connect to the socket %s: %s", path, strerror(-r));
	}
	return TAKE_FD(fd);
}

int ctl_http_request(const char *socket_path, const char *method, const char *target, const char *body,
		     struct ctl_http_reply *ret, struct vdi_error *err)
{
	size_t body_len = body ? strlen(body) : 0, len = 0, cap = 0;
	_cleanup_free_ char *head = NULL, *buf = NULL;
	_cleanup_close_ int fd = -1;
	bool eof = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	fd = connect_unix(socket_path, err);
	if (fd < 0)
		return fd;
	if (asprintf(&head,
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: vdictl\r\n"
		     "Accept: application/json\r\n%sContent-Length: %zu\r\n\r\n",
		     method, target, body ? "Content-Type: application/json\r\n" : "", body_len) < 0) {
		head = NULL;
		return vdi_error_set(err, -ENOMEM, "out of memory");
	}
	r = send_all(fd, head, strlen(head));
	if (r >= 0 && body)
		r = send_all(fd, body, body_len);
	/* A broker that closed early may have said why: read its reply before giving up. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return vdi_error_set(err, r, "cannot send to the broker on %s: %s", socket_path, strerror(-r));

	for (;;) {
		ssize_t n;

		if (vdi_grow((void **)&buf, &cap, len + 65536 + 1, 1) < 0)
			return vdi_error_set(err, -ENOMEM, "out of memory");
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET && len > 0)
			n = 0;
		if (n < 0) {
			r = -errno;
			if (r == -EAGAIN)
				return vdi_error_set(err, -ETIMEDOUT, "no reply from the broker on %s within %d s",
						     socket_path, CTL_HTTP_TIMEOUT_S);
			return vdi_error_set(err, r, "cannot read from the broker on %s: %s", socket_path,
					     strerror(-r));
		}
		eof = n == 0;
		len += (size_t)n;
		r = len > CTL_HTTP_MAX_REPLY ? -EMSGSIZE : ctl_http_parse_reply(buf, len, eof, ret);
		if (r != -EAGAIN)
			break;
	}
	if (r == -EMSGSIZE)
		vdi_error_set(err, r, "the broker's reply on %s is longer than %d MiB", socket_path,
			      CTL_HTTP_MAX_REPLY / (1024 * 1024));
	else if (r == -EBADMSG && len == 0)
		vdi_error_set(err, r, "the broker closed the connection on %s without a reply", socket_path);
	else if (r == -EBADMSG)
		vdi_error_set(err, r, "malformed reply from the broker on %s", socket_path);
	else if (r < 0)
		vdi_error_set(err, r, "out of memory");
	return r;
}
