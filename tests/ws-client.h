/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A small blocking WebSocket client (RFC 6455) for tests: the handshake,
 * masked binary frames out, frames in (pings answered, a close reported).
 * Enough to drive vdi-gateway the way spice-html5 does.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ssl_st SSL;

struct ws_client {
	int fd;
	int status;            /* HTTP status of the handshake (101 when upgraded) */
	char protocol[64];     /* Sec-WebSocket-Protocol of the reply */
	char body[1024];       /* the reply's body when it was refused */
	uint8_t *pending;      /* bytes read past the handshake */
	size_t pending_len;
	pthread_mutex_t send_lock; /* one frame at a time: a sender and pongs from the receiver */
	int close_code;        /* of the server's close frame (0: none came, or it had no code) */
	char close_reason[124]; /* its reason */
	SSL *ssl;              /* over TLS (ws_client_open_tls), else NULL */
	char peer_serial[80];  /* over TLS: the serial of the server's certificate, in hex */
};

/*
 * Connects to 127.0.0.1:port and asks to upgrade path with subprotocol (NULL:
 * none).  Returns 0 when an HTTP reply came (see ws->status), -errno when
 * the connection or the reply failed.  ws_client_close() in any case.
 */
int ws_client_open(struct ws_client *ws, int port, const char *path, const char *subprotocol);
/* The same with more request header lines (each ending in \r\n), e.g. "Origin: ...\r\n". */
int ws_client_open_with(struct ws_client *ws, int port, const char *path, const char *subprotocol, const char *headers);

/*
 * The same over TLS (wss://), trusting ca_file alone (tls-client.h).  -EPROTO when the TLS
 * handshake or the certificate's verification failed.  Over TLS, one thread at a time uses ws.
 */
int ws_client_open_tls(struct ws_client *ws, int port, const char *path, const char *subprotocol,
		       const char *headers, const char *ca_file);

/* Sends data as one binary frame; 0 or -errno. Safe while another thread receives. */
int ws_client_send(struct ws_client *ws, const void *data, size_t len);

/*
 * Receives the payload of the next data frame into a new buffer (*ret, *ret_len).
 * Pings are answered on the way. Returns 0, -EPIPE on a close frame (its code and
 * reason in ws->close_code, ws->close_reason) or end of stream, -ETIMEDOUT after timeout_ms without a byte, -errno.
 */
int ws_client_recv(struct ws_client *ws, uint8_t **ret, size_t *ret_len, int timeout_ms);

void ws_client_close(struct ws_client *ws);
