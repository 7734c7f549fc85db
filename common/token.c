/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/hmac.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "random.h"

#define PREFIX "v1."
#define MAC_LEN 32
#define MAC_B64_LEN 43 /* 32 bytes, unpadded */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void vdi_base64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		if (n > 1)
			out[o++] = alphabet[(v >> 6) & 63];
		if (n > 2)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
}

static int sextet(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

int vdi_base64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	size_t o = 0;

	if (inlen % 4 == 1)
		return -EBADMSG;
	for (size_t i = 0; i < inlen; i += 4) {
		size_t n = inlen - i < 4 ? inlen - i : 4;
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			int s = k < n ? sextet(in[i + k]) : 0;

			if (s < 0)
				return -EBADMSG;
			v = (v << 6) | (uint32_t)s;
		}
		/* Canonical only: the bits an unpadded tail leaves over must be zero. */
		if ((n == 2 && (v & 0xffff)) || (n == 3 && (v & 0xff)))
			return -EBADMSG;
		for (size_t k = 0; k + 1 < n; k++) {
			if (o >= outlen)
				return -EBADMSG;
			out[o++] = (uint8_t)(v >> (16 - 8 * k));
		}
	}
	return (int)o;
}

int vdi_token_key_load(const char *path, struct vdi_token_key *ret, struct vdi_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;

		return vdi_error_set(err, r, "token key %s: %s", path, strerror(-r));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return vdi_error_set(err, -EINVAL, "token key %s: not a regular file", path);
	if (st.st_mode & S_IROTH)
		return vdi_error_set(err, -EPERM, "token key %s: readable by everyone (mode %04o); chmod o-r it", path,
				     (unsigned)(st.st_mode & 07777));
	n = read(fd, ret->bytes, sizeof(ret->bytes));
	if (n < 0) {
		int r = -errno;

		return vdi_error_set(err, r, "token key %s: %s", path, strerror(-r));
	}
	if (n < VDI_TOKEN_KEY_MIN || st.st_size > VDI_TOKEN_KEY_MAX) {
		explicit_bzero(ret->bytes, sizeof(ret->bytes));
		return vdi_error_set(err, -EINVAL, "token key %s: must hold %d to %d bytes, holds %lld", path,
				     VDI_TOKEN_KEY_MIN, VDI_TOKEN_KEY_MAX, (long long)st.st_size);
	}
	ret->len = (size_t)n;
	return 0;
}

int vdi_token_key_generate(const char *path, struct vdi_error *err)
{
	_cleanup_close_ int fd = -1;
	uint8_t key[VDI_TOKEN_KEY_MIN];
	int r;

	r = vdi_random_bytes(key, sizeof(key));
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		r = -errno;
		vdi_error_set(err, r, "token key %s: %s", path, strerror(-r));
		explicit_bzero(key, sizeof(key));
		return r;
	}
	r = write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0 ? 0 : -EIO;
	explicit_bzero(key, sizeof(key));
	if (r < 0) {
		unlink(path);
		vdi_error_set(err, r, "token key %s: cannot write", path);
	}
	return r;
}

static int mac(const struct vdi_token_key *key, const char *signed_part, size_t len, uint8_t out[MAC_LEN])
{
	unsigned int n = 0;

	if (key->len < VDI_TOKEN_KEY_MIN)
		return -EINVAL;
	if (!HMAC(EVP_sha256(), key->bytes, (int)key->len, (const unsigned char *)signed_part, len, out, &n) ||
	    n != MAC_LEN)
		return -EIO;
	return 0;
}

int vdi_token_sign(const struct vdi_token_key *key, struct vdi_token_claims *c, char **ret)
{
	_cleanup_free_ char *payload = NULL, *token = NULL;
	json_t *j;
	uint8_t m[MAC_LEN];
	size_t plen, len;
	int r;

	if (!c->sub[0] || !c->tgt[0] || c->dsk < 0)
		return -EINVAL;
	if (!c->jti[0] && (r = vdi_random_id(c->jti, 22)) < 0)
		return r;
	j = json_pack("{s:s, s:I, s:s, s:I, s:s}", "sub", c->sub, "dsk", (json_int_t)c->dsk, "tgt", c->tgt, "exp",
		      (json_int_t)c->exp, "jti", c->jti);
	if (!j)
		return -EINVAL; /* not UTF-8 */
	payload = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!payload)
		return -ENOMEM;

	plen = strlen(payload);
	len = strlen(PREFIX) + 4 * ((plen + 2) / 3) + 1 + MAC_B64_LEN + 1;
	if (len > VDI_TOKEN_MAX)
		return -E2BIG;
	token = malloc(len);
	if (!token)
		return -ENOMEM;
	strcpy(token, PREFIX);
	vdi_base64url_encode((const uint8_t *)payload, plen, token + strlen(PREFIX));
	r = mac(key, token, strlen(token), m);
	if (r < 0)
		return r;
	strcat(token, ".");
	vdi_base64url_encode(m, sizeof(m), token + strlen(token));
	*ret = TAKE_PTR(token);
	return 0;
}

static int fail(const char **ret_reason, const char *reason, int r)
{
	if (ret_reason)
		*ret_reason = reason;
	return r;
}

static int copy_member(json_t *payload, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(payload, key);
	const char *s;

	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	if (!*s || strlen(s) >= outlen || json_string_length(v) != strlen(s))
		return -EBADMSG;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int vdi_token_verify(const struct vdi_token_key *key, const char *token, int64_t now, struct vdi_token_claims *ret,
		     const char **ret_reason)
{
	uint8_t want[MAC_LEN], got[MAC_LEN], payload[VDI_TOKEN_MAX];
	struct vdi_token_claims c = { 0 };
	const char *dot, *sig;
	json_error_t e;
	json_t *j, *v;
	size_t len;
	int n, r;

	if (!token || (len = strnlen(token, VDI_TOKEN_MAX + 1)) > VDI_TOKEN_MAX)
		return fail(ret_reason, "token too long", -EBADMSG);
	if (strncmp(token, PREFIX, strlen(PREFIX)) != 0)
		return fail(ret_reason, "not a v1 token", -EBADMSG);
	dot = strchr(token + strlen(PREFIX), '.');
	if (!dot || dot == token + strlen(PREFIX) || strchr(dot + 1, '.'))
		return fail(ret_reason, "malformed token", -EBADMSG);
	sig = dot + 1;
	if (strlen(sig) != MAC_B64_LEN || vdi_base64url_decode(sig, MAC_B64_LEN, got, sizeof(got)) != MAC_LEN)
		return fail(ret_reason, "malformed signature", -EBADMSG);

	/* The MAC first: nothing from an unsigned payload is parsed. */
	r = mac(key, token, (size_t)(dot - token), want);
	if (r < 0)
		return fail(ret_reason, "no usable key", r);
	if (!vdi_const_eq(want, got, MAC_LEN))
		return fail(ret_reason, "bad signature", -EPERM);

	n = vdi_base64url_decode(token + strlen(PREFIX), (size_t)(dot - token) - strlen(PREFIX), payload,
				 sizeof(payload));
	if (n <= 0)
		return fail(ret_reason, "malformed payload", -EBADMSG);
	j = json_loadb((const char *)payload, (size_t)n, JSON_REJECT_DUPLICATES, &e);
	if (!json_is_object(j) || json_object_size(j) != 5) {
		json_decref(j);
		return fail(ret_reason, "malformed payload", -EBADMSG);
	}
	if (copy_member(j, "sub", c.sub, sizeof(c.sub)) < 0 || copy_member(j, "tgt", c.tgt, sizeof(c.tgt)) < 0 ||
	    copy_member(j, "jti", c.jti, sizeof(c.jti)) < 0 || !json_is_integer(v = json_object_get(j, "dsk")) ||
	    (c.dsk = json_integer_value(v)) < 0 || !json_is_integer(v = json_object_get(j, "exp"))) {
		json_decref(j);
		return fail(ret_reason, "malformed claims", -EBADMSG);
	}
	c.exp = json_integer_value(v);
	json_decref(j);
	if (c.exp <= now)
		return fail(ret_reason, "token expired", -EKEYEXPIRED);
	*ret = c;
	return fail(ret_reason, "ok", 0);
}

int vdi_token_verify_ttl(const struct vdi_token_key *key, const char *token, int64_t now, int64_t ttl,
			 struct vdi_token_claims *ret, const char **ret_reason)
{
	struct vdi_token_claims c;
	int64_t latest;
	int r;

	if (ttl < 0 || ttl > INT64_MAX - VDI_TOKEN_SKEW)
		return fail(ret_reason, "bad ttl", -EINVAL);
	r = vdi_token_verify(key, token, now, &c, ret_reason);
	if (r < 0)
		return r;
	/* The latest exp a signer could have given it (none is later than INT64_MAX). */
	if (!__builtin_add_overflow(now, ttl + VDI_TOKEN_SKEW, &latest) && c.exp > latest)
		return fail(ret_reason, "token lives longer than [tokens] ttl", -ERANGE);
	*ret = c;
	return 0;
}
