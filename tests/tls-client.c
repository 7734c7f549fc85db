/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tls-client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "harness.h"

/* TLS over fd, or over the session outer (taken: freed with the new one) when fd < 0. */
static int client_start(int fd, SSL *outer, const char *ca_file, SSL **ret)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	BIO *bio = NULL;
	int r = -EPROTO;

	if (!ctx || SSL_CTX_load_verify_file(ctx, ca_file) != 1)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") != 1)
		goto out;
	if (fd >= 0 && SSL_set_fd(ssl, fd) != 1)
		goto out;
	if (fd < 0) {
		bio = BIO_new(BIO_f_ssl());
		if (!bio)
			goto out;
		BIO_set_ssl(bio, outer, BIO_CLOSE);
		outer = NULL;
		SSL_set_bio(ssl, bio, bio);
	}
	if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK)
		goto out;
	*ret = ssl;
	ssl = NULL;
	r = 0;
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_free(outer);
	SSL_CTX_free(ctx); /* the SSL keeps a reference */
	return r;
}

int tls_client_start(int fd, const char *ca_file, SSL **ret)
{
	return client_start(fd, NULL, ca_file, ret);
}

int tls_client_start_inside(SSL *outer, const char *ca_file, SSL **ret)
{
	return client_start(-1, outer, ca_file, ret);
}

int tls_client_send(SSL *ssl, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		int n = SSL_write(ssl, p, len > 1 << 30 ? 1 << 30 : (int)len);

		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void serial_hex(X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(buf, len, "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
}

void tls_client_peer_serial(SSL *ssl, char *buf, size_t len)
{
	X509 *x = ssl ? SSL_get1_peer_certificate(ssl) : NULL;

	serial_hex(x, buf, len);
	X509_free(x);
}

void tls_file_serial(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	serial_hex(x, buf, len);
	X509_free(x);
	if (f)
		fclose(f);
}

void tls_make_certs(const char *dir, const char *names)
{
	const char *src = getenv("VDI_SOURCE_ROOT");
	char cmd[2048];

	if (!src)
		vdi_test_fail(__FILE__, __LINE__, "VDI_SOURCE_ROOT is needed: run through meson");
	snprintf(cmd, sizeof(cmd), "'%s/tests/tls/make-certs' '%s' %s", src, dir, names);
	if (system(cmd) != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s failed", cmd);
}
