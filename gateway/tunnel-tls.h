/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * SPICE over TLS inside a CONNECT tunnel (CONNECT desktop-N:5901): the gateway is the TLS server,
 * with [gateway] tls_cert and tls_key, and relays the plaintext to the desktop's socket.  OpenSSL
 * works on memory buffers only (no socket of its own, no blocking, no thread): the relay hands it
 * the client's bytes as they arrive and takes the bytes to send back.
 */

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "error.h"

struct gw;
struct gw_tunnel_tls;

/*
 * (Re)loads the tunnels' certificate and key from [gateway] tls_cert and tls_key into gw (none when
 * tls_cert is unset): new tunnels get the new pair, open ones keep theirs.  On failure (a message
 * naming the file) gw keeps what it had.
 */
int gw_tunnel_tls_load(struct gw *gw, struct vdi_error *err);

/* gw_tunnel_tls_load in two steps: the new context (NULL without tls_cert) read from the files, which
 * can fail and changes nothing; then made gw's, which cannot fail (ctx is gw's then). */
int gw_tunnel_tls_prepare(struct gw *gw, SSL_CTX **ret, struct vdi_error *err);
void gw_tunnel_tls_install(struct gw *gw, SSL_CTX *ctx);

/* Frees gw's tunnel certificate (open tunnels hold their own reference). */
void gw_tunnel_tls_unload(struct gw *gw);

/* A tunnel's TLS server side, with gw's certificate; NULL when gw has none or out of memory. */
struct gw_tunnel_tls *gw_tunnel_tls_new(struct gw *gw);
void gw_tunnel_tls_free(struct gw_tunnel_tls *t);

/* Where the bytes go: plaintext to the desktop, ciphertext to the client; < 0 stops the pump. */
typedef int (*gw_tunnel_tls_sink)(void *data, const void *buf, size_t len);

/*
 * The client's bytes (ciphertext): the plaintext they hold goes to plain, handshake replies and
 * alerts to cipher.  -EPROTO (a line in the log names the client and the reason) when the client
 * does not speak TLS or fails the handshake; the sinks' errors as they are.
 */
int gw_tunnel_tls_from_client(struct gw_tunnel_tls *t, const void *in, size_t len, gw_tunnel_tls_sink plain,
			      gw_tunnel_tls_sink cipher, void *data, const char *desc);

/* Whether the handshake is done: only then can the desktop's bytes go out (the relay does not read them
 * before). */
bool gw_tunnel_tls_ready(const struct gw_tunnel_tls *t);

/*
 * The desktop hung up: the client is told the session ends (close_notify, to cipher) before the
 * tunnel closes, so it can tell the end from a cut.  Nothing goes through t after it.  (A client's own
 * close_notify is answered by gw_tunnel_tls_from_client.)
 */
int gw_tunnel_tls_shutdown(struct gw_tunnel_tls *t, gw_tunnel_tls_sink cipher, void *data);

/* The desktop's bytes (plaintext), encrypted to cipher. */
int gw_tunnel_tls_to_client(struct gw_tunnel_tls *t, const void *in, size_t len, gw_tunnel_tls_sink cipher,
			    void *data);
