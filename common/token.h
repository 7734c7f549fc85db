/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Console tokens, version 1 (see ARCHITECTURE.md):
 *
 *   v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(key, "v1." + payload_b64))>
 *
 * base64url is RFC 4648 section 5 without padding.  The payload is
 * {"sub": user, "dsk": desktop id, "tgt": "unix:/path" | "tcp:host:port",
 *  "exp": unix seconds, "jti": random id}, nothing more.  The verifier is
 * strict: one format, canonical base64url only, the MAC checked in
 * constant time before the payload is parsed, every member present with its
 * type and no other member.
 */

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VDI_TOKEN_KEY_MIN 32
#define VDI_TOKEN_KEY_MAX 256
#define VDI_TOKEN_MAX 2048 /* longest token accepted */
#define VDI_TOKEN_SKEW 30  /* seconds a verifier's clock may be behind the signer's */

struct vdi_token_key {
	uint8_t bytes[VDI_TOKEN_KEY_MAX];
	size_t len;
};

struct vdi_token_claims {
	char sub[256];
	int64_t dsk;
	char tgt[512];
	int64_t exp;
	char jti[64];
};

/*
 * Reads a key file: 32 to 256 bytes, used as they are.  Refuses a file
 * that others may read (mode o+r).  err names the file and the problem.
 */
int vdi_token_key_load(const char *path, struct vdi_token_key *ret, struct vdi_error *err);

/* Writes a new random 32-byte key to path (mode 0640), refusing to overwrite. */
int vdi_token_key_generate(const char *path, struct vdi_error *err);

/* Signs claims; *ret is a new string.  jti is filled with a fresh random id when empty. */
int vdi_token_sign(const struct vdi_token_key *key, struct vdi_token_claims *claims, char **ret);

/*
 * Verifies token at now.  Returns 0 and fills *ret; -EBADMSG (malformed),
 * -EPERM (bad signature), -EKEYEXPIRED (exp <= now).  *ret_reason, when not
 * NULL, gets a short static reason for logs.
 */
int vdi_token_verify(const struct vdi_token_key *key, const char *token, int64_t now, struct vdi_token_claims *ret,
		     const char **ret_reason);

/*
 * vdi_token_verify(), and a token that expires further ahead of now than
 * ttl + VDI_TOKEN_SKEW seconds is refused too, -ERANGE: its signer, whose
 * tokens live ttl seconds ([tokens] ttl), did not make it so (a leaked key,
 * or a clock far ahead).
 */
int vdi_token_verify_ttl(const struct vdi_token_key *key, const char *token, int64_t now, int64_t ttl,
			 struct vdi_token_claims *ret, const char **ret_reason);

/* RFC 4648 section 5 without padding: out needs 4 * ceil(len / 3) + 1 bytes. */
void vdi_base64url_encode(const uint8_t *in, size_t len, char *out);

/* Decodes canonical unpadded base64url into out (outlen bytes); returns the length or -EBADMSG. */
int vdi_base64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);
