/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The daemons' TLS certificates ([broker] and [gateway] tls_cert, tls_key, tls_ca): checked for
 * --check-config and at start, and loaded into a server's SSL_CTX (at start and on SIGHUP).
 * Every message names the section, the key and the file.
 */

#include "error.h"

typedef struct ssl_ctx_st SSL_CTX;

/*
 * Both cert and key unset (NULL: plain, 0), or both set: each a readable PEM file (a certificate,
 * then maybe its chain; a private key), and the key is the certificate's.  section: "broker" or
 * "gateway", for the message.  0 or -errno with the reason in err.
 */
int vdi_tls_check_pair(const char *section, const char *cert, const char *key, struct vdi_error *err);

/*
 * [section] tls_ca (NULL: nothing to check, 0): a readable PEM certificate, and cert (may be NULL)
 * verifies against it.  0 or -errno with the reason in err.
 */
int vdi_tls_check_ca(const char *section, const char *ca, const char *cert, struct vdi_error *err);

/*
 * Reads the pair as vdi_tls_check_pair() checks it and makes it ctx's certificate, chain and key
 * at once: connections that are open keep the one they were made with, new ones get this.  The
 * key must be of the type (EC, RSA) of the one in use, if any.  On failure ctx keeps what it had.  0 or -errno with the reason in err.
 */
/*
 * Makes the certificate, chain and key that from holds (loaded by vdi_tls_load_pair) ctx's too, as
 * vdi_tls_load_pair would (the same key type; ctx unchanged on failure): a pair read once serves two
 * contexts.  key: its file, for the message.
 */
int vdi_tls_use_pair_of(SSL_CTX *ctx, SSL_CTX *from, const char *section, const char *key, struct vdi_error *err);

int vdi_tls_load_pair(SSL_CTX *ctx, const char *section, const char *cert, const char *key,
		      struct vdi_error *err);
