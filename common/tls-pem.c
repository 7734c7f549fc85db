/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tls-pem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "cleanup.h"

static int open_pem(const char *path, FILE **ret, struct vdi_error *err)
{
	int e;

	*ret = fopen(path, "re");
	if (*ret)
		return 0;
	e = errno;
	return vdi_error_set(err, -e, "%s: %s", path, strerror(e));
}

/* Each certificate of f written to out; how many, or -errno. */
static int copy_certificates(FILE *f, BIO *out)
{
	X509 *x;
	int n = 0;

	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		int ok = PEM_write_bio_X509(out, x);

		X509_free(x);
		if (!ok)
			return -ENOMEM;
		n++;
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	return n;
}

int vdi_pem_certificates(const char *path, char **ret, struct vdi_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	BIO *out;
	char *p;
	long len;
	int n, r;

	r = open_pem(path, &f, err);
	if (r < 0)
		return r;
	out = BIO_new(BIO_s_mem());
	if (!out)
		return -ENOMEM;
	n = copy_certificates(f, out);
	len = BIO_get_mem_data(out, &p);
	if (n == 0)
		r = vdi_error_set(err, -EINVAL, "%s: no PEM certificate", path);
	else if (n < 0 || len <= 0 || !(*ret = strndup(p, (size_t)len)))
		r = -ENOMEM;
	else
		r = 0;
	BIO_free(out);
	return r;
}

/* Appends s to buf (at *at of len), "\" before "\" and "," when escape; false when it does not fit. */
static bool append(char *buf, size_t len, size_t *at, const char *s, size_t n, bool escape)
{
	for (size_t i = 0; i < n; i++) {
		if (escape && (s[i] == '\\' || s[i] == ',')) {
			if (*at + 1 >= len)
				return false;
			buf[(*at)++] = '\\';
		}
		if (*at + 1 >= len)
			return false;
		buf[(*at)++] = s[i];
	}
	buf[*at] = '\0';
	return true;
}

/* Why entry i of a subject cannot be spelled as spice-gtk compares it, or NULL when it can. */
static const char *unspellable(const X509_NAME_ENTRY *e, int i, const unsigned char *value, int n)
{
	int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));

	if (n < 0)
		return "a value of the subject is not a string";
	if (nid == NID_undef || !OBJ_nid2sn(nid))
		return "the subject has an attribute without a short name (it would read UNDEF=)";
	if (X509_NAME_ENTRY_set(e) != i)
		return "the subject has a multi-valued RDN (A=x+B=y)";
	if (n > 0 && memchr(value, '\0', (size_t)n))
		return "a value of the subject holds a NUL";
	return NULL;
}

/* The subject spelled into buf; -EINVAL with the reason in *why, or -ENAMETOOLONG. */
static int spell_name(const X509_NAME *name, char *buf, size_t len, const char **why)
{
	size_t at = 0;

	buf[0] = '\0';
	*why = "the subject is empty";
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		const char *key = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
		unsigned char *value = NULL;
		int n = ASN1_STRING_to_UTF8(&value, X509_NAME_ENTRY_get_data(e));
		bool ok;

		*why = unspellable(e, i, value, n);
		if (*why) {
			OPENSSL_free(value);
			return -EINVAL;
		}
		ok = (!i || append(buf, len, &at, ",", 1, false)) && append(buf, len, &at, key, strlen(key), false) &&
		     append(buf, len, &at, "=", 1, false) && append(buf, len, &at, (char *)value, (size_t)n, true);
		OPENSSL_free(value);
		if (!ok) {
			*why = "the subject is too long";
			return -ENAMETOOLONG;
		}
	}
	return at ? 0 : -EINVAL;
}

int vdi_pem_subject(const char *path, char *buf, size_t len, struct vdi_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	const char *why = NULL;
	X509 *x;
	int r;

	r = open_pem(path, &f, err);
	if (r < 0)
		return r;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	ERR_clear_error();
	if (!x)
		return vdi_error_set(err, -EINVAL, "%s: no PEM certificate", path);
	r = spell_name(X509_get_subject_name(x), buf, len, &why);
	X509_free(x);
	if (r < 0)
		return vdi_error_set(err, r, "%s: %s", path, why);
	return 0;
}
