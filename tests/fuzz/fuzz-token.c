/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The console token verifier.  The first byte picks what the rest is:
 *   even: a token as a client sends it (forgeries of every shape);
 *   odd:  a payload, signed here with the key, so that the verifier's
 *         parsing after the MAC is reached too.
 * Invariants: only a correctly signed, well-formed, unexpired token passes,
 * and what passes signs and verifies again to the same claims; canonical
 * base64url decodes and encodes back to itself.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "token.h"

#define NOW 1700000000

static const struct vdi_token_key key = {
	.bytes = "vdi fuzz key: 32 bytes and more!", .len = 32,
};

static void check_claims(const char *token, const struct vdi_token_claims *c)
{
	struct vdi_token_claims again = *c, back;
	char *resigned = NULL;

	FUZZ_CHECK(c->sub[0] && c->tgt[0] && c->jti[0] && c->exp > NOW && c->dsk >= 0);
	FUZZ_CHECK(memchr(c->sub, 0, sizeof(c->sub)) && memchr(c->tgt, 0, sizeof(c->tgt)) &&
		   memchr(c->jti, 0, sizeof(c->jti)));
	FUZZ_CHECK(vdi_token_sign(&key, &again, &resigned) == 0);
	FUZZ_CHECK(vdi_token_verify(&key, resigned, NOW, &back, NULL) == 0);
	FUZZ_CHECK(strcmp(back.sub, c->sub) == 0 && strcmp(back.tgt, c->tgt) == 0 &&
		   strcmp(back.jti, c->jti) == 0 && back.dsk == c->dsk && back.exp == c->exp);
	free(resigned);
	(void)token;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdi_token_claims c;
	const char *reason = NULL;
	char *token;
	int r;

	if (size == 0 || size > 4 * VDI_TOKEN_MAX)
		return 0;
	if ((data[0] & 1) == 0) {
		uint8_t out[VDI_TOKEN_MAX];
		char *s = fuzz_string(data + 1, size - 1), *enc;
		int n;

		r = vdi_token_verify(&key, s, NOW, &c, &reason);
		FUZZ_CHECK(r == 0 || (reason && (r == -EBADMSG || r == -EPERM || r == -EKEYEXPIRED)));
		if (r == 0)
			check_claims(s, &c);
		/* base64url: what decodes is canonical. */
		n = vdi_base64url_decode(s, strlen(s), out, sizeof(out));
		if (n >= 0) {
			enc = malloc(4 * ((size_t)n + 2) / 3 + 2);
			vdi_base64url_encode(out, (size_t)n, enc);
			FUZZ_CHECK(strcmp(enc, s) == 0);
			free(enc);
		}
		free(s);
		return 0;
	}

	/* A payload signed with the key: "v1." + b64(payload) + "." + b64(HMAC). */
	size--, data++;
	if (size > 1400)
		return 0;
	token = malloc(3 + 4 * (size + 2) / 3 + 1 + 44 + 1);
	strcpy(token, "v1.");
	vdi_base64url_encode(data, size, token + 3);
	{
		unsigned char mac[32];
		unsigned int maclen = 0;

		HMAC(EVP_sha256(), key.bytes, (int)key.len, (const unsigned char *)token, strlen(token), mac, &maclen);
		strcat(token, ".");
		vdi_base64url_encode(mac, maclen, token + strlen(token));
	}
	r = vdi_token_verify(&key, token, NOW, &c, &reason);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EKEYEXPIRED);
	if (r == 0)
		check_claims(token, &c);
	free(token);
	return 0;
}
