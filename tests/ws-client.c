/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ws-client.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "random.h"
#include "tls-client.h"

static int send_all(struct ws_client *ws, const void *data, size_t len)
{
	const uint8_t *p = data;
	int fd = ws->fd;

	if (ws->ssl)
		return tls_client_send(ws->ssl, data, len);
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t recv_some(struct ws_client *ws, void *buf, size_t len)
{
	if (ws->ssl) {
		int n = SSL_read(ws->ssl, buf, (int)len);

		return n > 0 ? n : 0;
	}
	return recv(ws->fd, buf, len, 0);
}

static int open_on(struct ws_client *ws, int port, const char *path, const char *subprotocol, const char *headers,
		   const char *ca_file);

int ws_client_open(struct ws_client *ws, int port, const char *path, const char *subprotocol)
{
	return open_on(ws, port, path, subprotocol, NULL, NULL);
}

int ws_client_open_with(struct ws_client *ws, int port, const char *path, const char *subprotocol, const char *headers)
{
	return open_on(ws, port, path, subprotocol, headers, NULL);
}

int ws_client_open_tls(struct ws_client *ws, int port, const char *path, const char *subprotocol,
		       const char *headers, const char *ca_file)
{
	return open_on(ws, port, path, subprotocol, headers, ca_file);
}

static int open_on(struct ws_client *ws, int port, const char *path, const char *subprotocol, const char *headers,
		   const char *ca_file)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[4096], buf[8192], key[32], proto[128] = "";
	uint8_t nonce[16];
	size_t len = 0;
	char *end, *h;
	int r;

	memset(ws, 0, sizeof(*ws));
	pthread_mutex_init(&ws->send_lock, NULL);
	ws->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ws->fd < 0)
		return -errno;
	if (connect(ws->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (ca_file) {
		r = tls_client_start(ws->fd, ca_file, &ws->ssl);
		if (r < 0)
			return r;
		tls_client_peer_serial(ws->ssl, ws->peer_serial, sizeof(ws->peer_serial));
	}
	r = vdi_random_bytes(nonce, sizeof(nonce));
	if (r < 0)
		return r;
	/* base64 of 16 bytes, the Sec-WebSocket-Key */
	{
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t o = 0;

		for (size_t i = 0; i < 16; i += 3) {
			uint32_t v = (uint32_t)nonce[i] << 16 | (i + 1 < 16 ? nonce[i + 1] << 8 : 0) |
				     (i + 2 < 16 ? nonce[i + 2] : 0);

			key[o++] = b64[(v >> 18) & 63];
			key[o++] = b64[(v >> 12) & 63];
			key[o++] = i + 1 < 16 ? b64[(v >> 6) & 63] : '=';
			key[o++] = i + 2 < 16 ? b64[v & 63] : '=';
		}
		key[o] = '\0';
	}
	if (subprotocol)
		snprintf(proto, sizeof(proto), "Sec-WebSocket-Protocol: %s\r\n", subprotocol);
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s\r\n",
		 path, port, key, proto, headers ? headers : "");
	r = send_all(ws, req, strlen(req));
	if (r < 0)
		return r;
	/* The reply head, and for a refusal its body (Content-Length) too. */
	for (;;) {
		ssize_t n = recv_some(ws, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return n < 0 ? -errno : -EPROTO;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (len == sizeof(buf) - 1)
			return -EPROTO;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &ws->status) != 1)
		return -EPROTO;
	*end = '\0';
	for (h = strstr(buf, "\r\n"); h; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "sec-websocket-protocol:", 23) == 0)
			sscanf(h + 2 + 23, " %63[^\r\n]", ws->protocol);
	if (ws->status == 101) {
		ws->pending_len = len - (size_t)(end + 4 - buf);
		if (ws->pending_len) {
			ws->pending = malloc(ws->pending_len);
			if (!ws->pending)
				return -ENOMEM;
			memcpy(ws->pending, end + 4, ws->pending_len);
		}
		return 0;
	}
	{
		const char *cl = strcasestr(buf, "\r\ncontent-length:");
		size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0, have = len - (size_t)(end + 4 - buf);

		memmove(ws->body, end + 4, have < sizeof(ws->body) ? have : sizeof(ws->body) - 1);
		while (have < want && have < sizeof(ws->body) - 1) {
			ssize_t n = recv_some(ws, ws->body + have, sizeof(ws->body) - 1 - have);

			if (n <= 0)
				break;
			have += (size_t)n;
		}
		ws->body[have < sizeof(ws->body) ? have : sizeof(ws->body) - 1] = '\0';
	}
	return 0;
}

/* One frame with the given opcode, masked as a client must. */
static int send_frame(struct ws_client *ws, unsigned opcode, const void *data, size_t len)
{
	uint8_t head[14], mask[4], *buf;
	size_t h = 0;
	int r;

	head[h++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		head[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		head[h++] = 0x80 | 126;
		head[h++] = (uint8_t)(len >> 8);
		head[h++] = (uint8_t)len;
	} else {
		head[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			head[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	r = vdi_random_bytes(mask, sizeof(mask));
	if (r < 0)
		return r;
	buf = malloc(h + 4 + len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, head, h);
	memcpy(buf + h, mask, 4);
	for (size_t i = 0; i < len; i++)
		buf[h + 4 + i] = ((const uint8_t *)data)[i] ^ mask[i & 3];
	pthread_mutex_lock(&ws->send_lock);
	r = send_all(ws, buf, h + 4 + len);
	pthread_mutex_unlock(&ws->send_lock);
	free(buf);
	return r;
}

int ws_client_send(struct ws_client *ws, const void *data, size_t len)
{
	return send_frame(ws, 0x2, data, len);
}

static int read_exact(struct ws_client *ws, void *out, size_t len, int timeout_ms)
{
	uint8_t *p = out;

	while (len) {
		struct pollfd pfd = { .fd = ws->fd, .events = POLLIN };
		ssize_t n;

		if (ws->pending_len) {
			size_t take = ws->pending_len < len ? ws->pending_len : len;

			memcpy(p, ws->pending, take);
			memmove(ws->pending, ws->pending + take, ws->pending_len - take);
			ws->pending_len -= take;
			p += take;
			len -= take;
			continue;
		}
		/* Over TLS, bytes OpenSSL already decrypted are not in the socket any more. */
		n = ws->ssl && SSL_pending(ws->ssl) > 0 ? 1 : poll(&pfd, 1, timeout_ms);
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0)
			return -errno;
		n = recv_some(ws, p, len);
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ws_client_recv(struct ws_client *ws, uint8_t **ret, size_t *ret_len, int timeout_ms)
{
	for (;;) {
		uint8_t head[2], ext[8];
		uint64_t len;
		uint8_t *payload;
		unsigned opcode;
		int r;

		r = read_exact(ws, head, 2, timeout_ms);
		if (r < 0)
			return r;
		opcode = head[0] & 0x0f;
		len = head[1] & 0x7f;
		if (head[1] & 0x80)
			return -EPROTO; /* servers do not mask */
		if (len == 126) {
			if ((r = read_exact(ws, ext, 2, timeout_ms)) < 0)
				return r;
			len = (uint64_t)ext[0] << 8 | ext[1];
		} else if (len == 127) {
			if ((r = read_exact(ws, ext, 8, timeout_ms)) < 0)
				return r;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | ext[i];
		}
		if (len > 64 * 1024 * 1024)
			return -EMSGSIZE;
		payload = malloc(len ? len : 1);
		if (!payload)
			return -ENOMEM;
		if ((r = read_exact(ws, payload, len, timeout_ms)) < 0) {
			free(payload);
			return r;
		}
		switch (opcode) {
		case 0x8: /* close */
			if (len >= 2) {
				ws->close_code = payload[0] << 8 | payload[1];
				snprintf(ws->close_reason, sizeof(ws->close_reason), "%.*s", (int)(len - 2), payload + 2);
			}
			free(payload);
			return -EPIPE;
		case 0x9: /* ping: answer */
			r = send_frame(ws, 0xa, payload, len);
			free(payload);
			if (r < 0)
				return r;
			continue;
		case 0xa: /* pong */
			free(payload);
			continue;
		default:
			*ret = payload;
			*ret_len = len;
			return 0;
		}
	}
}

void ws_client_close(struct ws_client *ws)
{
	if (ws->ssl) {
		SSL_free(ws->ssl);
		ws->ssl = NULL;
	}
	if (ws->fd >= 0)
		close(ws->fd);
	ws->fd = -1;
	free(ws->pending);
	ws->pending = NULL;
}
