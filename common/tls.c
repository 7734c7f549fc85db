/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "cleanup.h"

/* What one [section] tls_cert + tls_key pair holds once read. */
struct pair {
	X509 *cert;
	STACK_OF(X509) *chain; /* the certificates after the first one */
	EVP_PKEY *key;
};

static void pair_free(struct pair *p)
{
	X509_free(p->cert);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
}

static int open_pem(const char *section, const char *name, const char *path, FILE **ret, struct vdi_error *err)
{
	*ret = fopen(path, "re");
	if (!*ret)
		return vdi_error_set(err, -errno, "[%s] %s: cannot read %s: %s", section, name, path, strerror(errno));
	return 0;
}

/* The first certificate of path, and those after it into *chain (when chain is not NULL). */
static int read_certs(const char *section, const char *name, const char *path, X509 **ret,
		      STACK_OF(X509) **chain, struct vdi_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	X509 *x;
	int r;

	r = open_pem(section, name, path, &f, err);
	if (r < 0)
		return r;
	*ret = PEM_read_X509(f, NULL, NULL, NULL);
	if (!*ret) {
		ERR_clear_error();
		return vdi_error_set(err, -EINVAL, "[%s] %s: %s is not a PEM certificate", section, name, path);
	}
	if (!chain)
		return 0;
	*chain = sk_X509_new_null();
	if (!*chain)
		return -ENOMEM;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)))
		if (!sk_X509_push(*chain, x)) {
			X509_free(x);
			return -ENOMEM;
		}
	ERR_clear_error(); /* the end of the file */
	return 0;
}

static int read_key(const char *section, const char *path, EVP_PKEY **ret, struct vdi_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	r = open_pem(section, "tls_key", path, &f, err);
	if (r < 0)
		return r;
	/* No passphrase callback: an encrypted key is refused, not asked for on a terminal. */
	*ret = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
	if (!*ret) {
		ERR_clear_error();
		return vdi_error_set(err, -EINVAL, "[%s] tls_key: %s is not a PEM private key (unencrypted)",
				     section, path);
	}
	return 0;
}

static int read_pair(const char *section, const char *cert, const char *key, struct pair *p, struct vdi_error *err)
{
	int r;

	if (!cert && key)
		return vdi_error_set(err, -EINVAL, "[%s] tls_key: set tls_cert too", section);
	if (cert && !key)
		return vdi_error_set(err, -EINVAL, "[%s] tls_cert: set tls_key too", section);
	r = read_certs(section, "tls_cert", cert, &p->cert, &p->chain, err);
	if (r < 0)
		return r;
	r = read_key(section, key, &p->key, err);
	if (r < 0)
		return r;
	if (X509_check_private_key(p->cert, p->key) != 1) {
		ERR_clear_error();
		return vdi_error_set(err, -EINVAL, "[%s] tls_key: %s is not the key of the certificate in %s", section,
				     key, cert);
	}
	return 0;
}

int vdi_tls_check_pair(const char *section, const char *cert, const char *key, struct vdi_error *err)
{
	struct pair p = { 0 };
	int r;

	if (!cert && !key)
		return 0;
	r = read_pair(section, cert, key, &p, err);
	pair_free(&p);
	return r;
}

int vdi_tls_check_ca(const char *section, const char *ca, const char *cert, struct vdi_error *err)
{
	X509 *ca_cert = NULL, *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	int r;

	if (!ca)
		return 0;
	r = read_certs(section, "tls_ca", ca, &ca_cert, NULL, err);
	if (r < 0 || !cert)
		goto out;
	r = read_certs(section, "tls_cert", cert, &leaf, &chain, err);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	store = X509_STORE_new();
	vctx = X509_STORE_CTX_new();
	if (!store || !vctx || X509_STORE_add_cert(store, ca_cert) != 1 ||
	    X509_STORE_CTX_init(vctx, store, leaf, chain) != 1)
		goto out;
	r = 0;
	if (X509_verify_cert(vctx) != 1)
		r = vdi_error_set(err, -EINVAL, "[%s] tls_ca: the certificate in %s does not verify against %s: %s",
				  section, cert, ca, X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	X509_free(ca_cert);
	return r;
}

/* OpenSSL keeps one certificate per key type: one of another type would be added beside the old, not
 * replace it, and clients could still be shown the old one. */
static int same_key_type(SSL_CTX *ctx, const char *section, const char *key, EVP_PKEY *pkey,
			 struct vdi_error *err)
{
	X509 *now = SSL_CTX_get0_certificate(ctx);
	EVP_PKEY *now_key = now ? X509_get0_pubkey(now) : NULL;

	if (!now_key || EVP_PKEY_get_base_id(now_key) == EVP_PKEY_get_base_id(pkey))
		return 0;
	return vdi_error_set(err, -EINVAL,
			     "[%s] tls_key: %s is an %s key, the one in use an %s key: restart the daemon to change the type",
			     section, key, EVP_PKEY_get0_type_name(pkey), EVP_PKEY_get0_type_name(now_key));
}

int vdi_tls_load_pair(SSL_CTX *ctx, const char *section, const char *cert, const char *key,
		      struct vdi_error *err)
{
	struct pair p = { 0 };
	int r;

	if (!cert || !key)
		return vdi_error_set(err, -EINVAL, "[%s] tls_cert and tls_key: both are needed", section);
	r = read_pair(section, cert, key, &p, err);
	if (r >= 0)
		r = same_key_type(ctx, section, key, p.key, err);
	/* Certificate, key and chain replaced in one call (override 1): never a half-changed ctx. */
	if (r >= 0 && SSL_CTX_use_cert_and_key(ctx, p.cert, p.key, p.chain, 1) != 1) {
		unsigned long e = ERR_get_error();
		char why[256];

		ERR_error_string_n(e, why, sizeof(why));
		ERR_clear_error();
		r = vdi_error_set(err, -EINVAL, "[%s] tls_cert: cannot use %s with %s: %s", section, cert, key, why);
	}
	pair_free(&p);
	return r;
}

int vdi_tls_use_pair_of(SSL_CTX *ctx, SSL_CTX *from, const char *section, const char *key, struct vdi_error *err)
{
	X509 *cert = SSL_CTX_get0_certificate(from);
	EVP_PKEY *pkey = SSL_CTX_get0_privatekey(from);
	STACK_OF(X509) *chain = NULL;
	int r;

	if (!cert || !pkey || SSL_CTX_get0_chain_certs(from, &chain) != 1)
		return vdi_error_set(err, -EINVAL, "[%s] tls_cert: no certificate loaded", section);
	r = same_key_type(ctx, section, key, pkey, err);
	if (r >= 0 && SSL_CTX_use_cert_and_key(ctx, cert, pkey, chain, 1) != 1) {
		unsigned long e = ERR_get_error();
		char why[256];

		ERR_error_string_n(e, why, sizeof(why));
		r = vdi_error_set(err, -EINVAL, "[%s] tls_cert: cannot use the certificate and key of %s: %s", section,
				  key, why);
	}
	ERR_clear_error();
	return r;
}
