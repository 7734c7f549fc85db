/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include "alloc.h"
#include "harness.h"
#include "token.h"

#define NOW 1800000000

static struct vdi_token_key key(char fill)
{
	struct vdi_token_key k = { .len = 32 };

	memset(k.bytes, fill, k.len);
	return k;
}

static struct vdi_token_claims claims(void)
{
	struct vdi_token_claims c = { .dsk = 42, .exp = NOW + 60 };

	snprintf(c.sub, sizeof(c.sub), "ann");
	snprintf(c.tgt, sizeof(c.tgt), "unix:/run/vdi/spice/vdi-sales-42.sock");
	return c;
}

/* Signs an arbitrary payload the way the token format does: the MAC is right, the content is ours. */
static char *sign_raw(const struct vdi_token_key *k, const char *payload)
{
	char *t = malloc(4096);
	uint8_t m[32];
	unsigned int n;

	check(t);
	strcpy(t, "v1.");
	vdi_base64url_encode((const uint8_t *)payload, strlen(payload), t + 3);
	check(HMAC(EVP_sha256(), k->bytes, (int)k->len, (const unsigned char *)t, strlen(t), m, &n) && n == 32);
	strcat(t, ".");
	vdi_base64url_encode(m, 32, t + strlen(t));
	return t;
}

static void test_base64url_vectors(void)
{
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	const uint8_t bin[] = { 0xfb, 0xff, 0xbf };
	uint8_t out[16];
	char enc[16];

	for (size_t i = 0; i < ELEMENTSOF(vec); i++) {
		vdi_base64url_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), enc);
		check_str_eq(enc, vec[i][1]);
		check_int_eq(vdi_base64url_decode(enc, strlen(enc), out, sizeof(out)), strlen(vec[i][0]));
		check(memcmp(out, vec[i][0], strlen(vec[i][0])) == 0);
	}
	/* The URL-safe alphabet: - and _ where base64 has + and /. */
	vdi_base64url_encode(bin, 3, enc);
	check_str_eq(enc, "-_-_");
	check_err(vdi_base64url_decode("+/+/", 4, out, sizeof(out)), EBADMSG);
	check_err(vdi_base64url_decode("Zg==", 4, out, sizeof(out)), EBADMSG); /* no padding */
	check_err(vdi_base64url_decode("Z", 1, out, sizeof(out)), EBADMSG);
	check_err(vdi_base64url_decode("Zh", 2, out, sizeof(out)), EBADMSG);   /* not canonical */
	check_err(vdi_base64url_decode("Zm9", 3, out, sizeof(out)), EBADMSG);  /* not canonical */
	check_err(vdi_base64url_decode("Zm 9v", 5, out, sizeof(out)), EBADMSG);
	check_err(vdi_base64url_decode("Zm9vYmFy", 8, out, 5), EBADMSG);       /* too long for out */
}

static void test_round_trip(void)
{
	struct vdi_token_key k = key('k');
	struct vdi_token_claims c = claims(), got;
	_cleanup_free_ char *t = NULL, *t2 = NULL;
	const char *reason = NULL;

	check_ok(vdi_token_sign(&k, &c, &t));
	check(startswith(t, "v1."));
	check(!strpbrk(t, "=+/ "));
	check_int_eq(strlen(c.jti), 22);
	check_ok(vdi_token_verify(&k, t, NOW, &got, &reason));
	check_str_eq(got.sub, "ann");
	check_int_eq(got.dsk, 42);
	check_str_eq(got.tgt, c.tgt);
	check_int_eq(got.exp, NOW + 60);
	check_str_eq(got.jti, c.jti);

	/* A fresh jti each time. */
	c.jti[0] = '\0';
	check_ok(vdi_token_sign(&k, &c, &t2));
	check(strcmp(t, t2) != 0);

	/* Expiry: valid until exp, not at exp. */
	check_ok(vdi_token_verify(&k, t, NOW + 59, &got, &reason));
	check_err(vdi_token_verify(&k, t, NOW + 60, &got, &reason), EKEYEXPIRED);
	check_str_eq(reason, "token expired");
}

static void test_forgeries(void)
{
	struct vdi_token_key k = key('k'), other = key('x');
	struct vdi_token_claims c = claims(), got;
	_cleanup_free_ char *t = NULL;
	const char *reason;
	char *bad;
	size_t dot;

	check_ok(vdi_token_sign(&k, &c, &t));
	check_err(vdi_token_verify(&other, t, NOW, &got, &reason), EPERM);
	check_str_eq(reason, "bad signature");

	/* One character changed in the payload or in the signature. */
	bad = strdup(t);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	check_err(vdi_token_verify(&k, bad, NOW, &got, &reason), EPERM);
	strcpy(bad, t);
	dot = (size_t)(strrchr(bad, '.') - bad);
	bad[dot + 10] = bad[dot + 10] == 'A' ? 'B' : 'A';
	check_err(vdi_token_verify(&k, bad, NOW, &got, &reason), EPERM);
	free(bad);

	/* Another user's claims under a signature made for ann's payload. */
	{
		struct vdi_token_claims b = claims();
		_cleanup_free_ char *tb = NULL;
		char *mix;

		snprintf(b.sub, sizeof(b.sub), "bob");
		check_ok(vdi_token_sign(&k, &b, &tb));
		check(asprintf(&mix, "%.*s%s", (int)(strrchr(tb, '.') - tb), tb, strrchr(t, '.')) > 0);
		check_err(vdi_token_verify(&k, mix, NOW, &got, &reason), EPERM);
		free(mix);
	}
}

static void test_malformed(void)
{
	struct vdi_token_key k = key('k');
	struct vdi_token_claims c = claims(), got;
	_cleanup_free_ char *t = NULL;
	char buf[4096], longtok[VDI_TOKEN_MAX + 64];
	const char *cases[] = { "", "v1", "v1.", "v1..", "v1.abc", "v1..abc", "v2.abc.def", "V1.abc.def", "v1.a.b.c" };

	check_ok(vdi_token_sign(&k, &c, &t));
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		check_err(vdi_token_verify(&k, cases[i], NOW, &got, NULL), EBADMSG);
	check_err(vdi_token_verify(&k, NULL, NOW, &got, NULL), EBADMSG);

	snprintf(buf, sizeof(buf), "%s ", t);
	check_err(vdi_token_verify(&k, buf, NOW, &got, NULL), EBADMSG);
	snprintf(buf, sizeof(buf), "%s=", t);
	check_err(vdi_token_verify(&k, buf, NOW, &got, NULL), EBADMSG);
	snprintf(buf, sizeof(buf), "%s.", t);
	check_err(vdi_token_verify(&k, buf, NOW, &got, NULL), EBADMSG);
	snprintf(buf, sizeof(buf), "%.*s", (int)strlen(t) - 1, t);
	check_err(vdi_token_verify(&k, buf, NOW, &got, NULL), EBADMSG);

	memset(longtok, 'A', sizeof(longtok) - 1);
	longtok[sizeof(longtok) - 1] = '\0';
	memcpy(longtok, "v1.", 3);
	check_err(vdi_token_verify(&k, longtok, NOW, &got, NULL), EBADMSG);
}

/* Correctly signed payloads that are not what a broker writes: still refused. */
static void test_signed_but_malformed_claims(void)
{
	struct vdi_token_key k = key('k');
	struct vdi_token_claims got;
	const char *reason;
	static const char *const payloads[] = {
		"[]",
		"\"text\"",
		"{\"sub\":\"ann\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1900000000}",                         /* no jti */
		"{\"sub\":\"ann\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\",\"adm\":true}", /* extra */
		"{\"sub\":\"ann\",\"dsk\":\"1\",\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"}",
		"{\"sub\":\"ann\",\"dsk\":-1,\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"}",
		"{\"sub\":\"ann\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1.9e9,\"jti\":\"j\"}",
		"{\"sub\":\"\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"}",
		"{\"sub\":\"ann\",\"sub\":\"bob\",\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"}",
		"{\"sub\":\"ann\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"",
		"{\"sub\":\"a\\u0000b\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"}",
	};

	for (size_t i = 0; i < ELEMENTSOF(payloads); i++) {
		_cleanup_free_ char *t = sign_raw(&k, payloads[i]);
		int r = vdi_token_verify(&k, t, NOW, &got, &reason);

		if (r != -EBADMSG)
			vdi_test_fail(__FILE__, __LINE__, "payload %zu (%s): %d", i, payloads[i], r);
	}
	/* The same construction with a proper payload passes: the helper itself is right. */
	{
		_cleanup_free_ char *t = sign_raw(&k, "{\"sub\":\"ann\",\"dsk\":1,\"tgt\":\"unix:/x\",\"exp\":1900000000,\"jti\":\"j\"}");

		check_ok(vdi_token_verify(&k, t, NOW, &got, &reason));
	}
}

static void test_keys(void)
{
	struct vdi_error err = { 0 };
	char path[512];
	struct vdi_token_key k;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/token.key", vdi_test_tmpdir());
	check_ok(vdi_token_key_generate(path, &err));
	check(stat(path, &st) == 0);
	check_int_eq(st.st_mode & 0777, 0640);
	check_int_eq(st.st_size, 32);
	check_ok(vdi_token_key_load(path, &k, &err));
	check_int_eq(k.len, 32);
	check_err(vdi_token_key_generate(path, &err), EEXIST);

	chmod(path, 0644);
	check_err(vdi_token_key_load(path, &k, &err), EPERM);
	check_str_contains(err.message, "readable by everyone");

	snprintf(path, sizeof(path), "%s/short.key", vdi_test_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	check(fd >= 0 && write(fd, "0123456789abcdef", 16) == 16);
	close(fd);
	check_err(vdi_token_key_load(path, &k, &err), EINVAL);
	check_str_contains(err.message, "32 to 256 bytes");
	check_err(vdi_token_key_load("/nonexistent/token.key", &k, &err), ENOENT);

	/* A short key never signs or verifies. */
	k.len = 16;
	{
		struct vdi_token_claims c = claims();
		char *t = NULL;

		check_err(vdi_token_sign(&k, &c, &t), EINVAL);
		snprintf(c.sub, sizeof(c.sub), "\xff\xfe");
		k.len = 32;
		check_err(vdi_token_sign(&k, &c, &t), EINVAL); /* not UTF-8 */
	}
}

/* A correctly signed token that lives longer than the signer's [tokens] ttl (pen test: exp 2^63-1 was
 * accepted) is refused; one within ttl plus the clocks' skew passes. */
static void test_lifetime_beyond_ttl(void)
{
	struct vdi_token_key k = key('k');
	struct vdi_token_claims c = claims(), got;
	_cleanup_free_ char *forever = NULL, *hour = NULL, *edge = NULL, *past_edge = NULL, *ok = NULL;
	const char *reason = NULL;

	c.exp = INT64_MAX;
	check_ok(vdi_token_sign(&k, &c, &forever));
	check_err(vdi_token_verify_ttl(&k, forever, NOW, 60, &got, &reason), ERANGE);
	check_str_eq(reason, "token lives longer than [tokens] ttl");
	c.exp = NOW + 3600;
	c.jti[0] = '\0';
	check_ok(vdi_token_sign(&k, &c, &hour));
	check_err(vdi_token_verify_ttl(&k, hour, NOW, 60, &got, &reason), ERANGE);
	check_ok(vdi_token_verify_ttl(&k, hour, NOW, 3600, &got, &reason));
	/* ttl + VDI_TOKEN_SKEW ahead is the last second a verifier's slow clock may see. */
	c.exp = NOW + 60 + VDI_TOKEN_SKEW;
	c.jti[0] = '\0';
	check_ok(vdi_token_sign(&k, &c, &edge));
	check_ok(vdi_token_verify_ttl(&k, edge, NOW, 60, &got, &reason));
	check_int_eq(got.exp, NOW + 60 + VDI_TOKEN_SKEW);
	c.exp++;
	c.jti[0] = '\0';
	check_ok(vdi_token_sign(&k, &c, &past_edge));
	check_err(vdi_token_verify_ttl(&k, past_edge, NOW, 60, &got, &reason), ERANGE);
	/* What the broker signs passes; expiry and signature are still judged first. */
	c = claims();
	check_ok(vdi_token_sign(&k, &c, &ok));
	check_ok(vdi_token_verify_ttl(&k, ok, NOW, 60, &got, &reason));
	check_err(vdi_token_verify_ttl(&k, ok, NOW + 60, 60, &got, &reason), EKEYEXPIRED);
	{
		struct vdi_token_key other = key('o');

		check_err(vdi_token_verify_ttl(&other, forever, NOW, 60, &got, &reason), EPERM);
	}
	/* At the far end of time (now + ttl would overflow) no exp is too late: no overflow either. */
	check_ok(vdi_token_verify_ttl(&k, forever, INT64_MAX - 10, 60, &got, &reason));
	check_err(vdi_token_verify_ttl(&k, ok, NOW, -1, &got, &reason), EINVAL);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_base64url_vectors),
	VDI_TEST(test_round_trip),
	VDI_TEST(test_forgeries),
	VDI_TEST(test_malformed),
	VDI_TEST(test_signed_but_malformed_claims),
	VDI_TEST(test_keys),
	VDI_TEST(test_lifetime_beyond_ttl),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
