/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The client side of TLS for tests (OpenSSL, blocking): the handshake on a connected socket with
 * the server's certificate verified against a test CA (tests/tls/make-certs) for 127.0.0.1, and
 * what the server showed.
 */

#include <stddef.h>

typedef struct ssl_st SSL;

/*
 * TLS on fd (connected, borrowed: SSL_free() does not close it), trusting ca_file alone and
 * checking the certificate names 127.0.0.1.  0 and *ret, or -EPROTO when the handshake or the
 * verification failed.
 */
int tls_client_start(int fd, const char *ca_file, SSL **ret);
/*
 * The same inside the TLS session outer (a CONNECT tunnel's TLS inside TLS to the proxy): outer is
 * taken, SSL_free() of *ret frees it too (always, even on failure).
 */
int tls_client_start_inside(SSL *outer, const char *ca_file, SSL **ret);

/* Sends all of data; 0 or -EIO. */
int tls_client_send(SSL *ssl, const void *data, size_t len);

/* The serial number of the certificate the server showed, in hex, into buf; "" when none. */
void tls_client_peer_serial(SSL *ssl, char *buf, size_t len);
/* The serial number of the (first) certificate in a PEM file, in hex, into buf; "" when unreadable. */
void tls_file_serial(const char *path, char *buf, size_t len);

/*
 * Runs tests/tls/make-certs DIR NAMES (space-separated) from VDI_SOURCE_ROOT: DIR/ca.pem and, for each
 * name, DIR/NAME.pem + DIR/NAME.key (made again: a renewal).  Fails the test when it cannot.
 */
void tls_make_certs(const char *dir, const char *names);
