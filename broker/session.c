/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "session.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "random.h"

static int new_token(char *out)
{
	uint8_t raw[BROKER_SESSION_TOKEN_LEN / 2];
	int r = vdi_random_bytes(raw, sizeof(raw));

	if (r < 0)
		return r;
	vdi_hex(raw, sizeof(raw), out);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Hashes a token after checking its shape: 64 lower-case hex characters. */
static int hash_token(const char *token, uint8_t out[32])
{
	if (!token || strlen(token) != BROKER_SESSION_TOKEN_LEN ||
	    strspn(token, "0123456789abcdef") != BROKER_SESSION_TOKEN_LEN)
		return -ENOENT;
	return vdi_sha256(token, BROKER_SESSION_TOKEN_LEN, out);
}

int broker_session_create(struct broker_store *st, const char *user, const char *groups, bool admin,
			  const char *client, int64_t now, int64_t ttl, char *ret_id, char *ret_csrf)
{
	struct broker_session row = {
		.user = (char *)user,
		.groups = (char *)groups,
		.admin = admin,
		.client = (char *)client,
		.created = now,
		.expires = now + ttl,
	};
	uint8_t id_hash[32];
	int r;

	if (ttl <= 0)
		return -EINVAL;
	if ((r = new_token(ret_id)) < 0 || (r = new_token(ret_csrf)) < 0 || (r = hash_token(ret_id, id_hash)) < 0 ||
	    (r = hash_token(ret_csrf, row.csrf_hash)) < 0)
		goto fail;
	r = broker_store_session_put(st, id_hash, &row);
	if (r >= 0)
		return 0;
fail:
	explicit_bzero(ret_id, BROKER_SESSION_TOKEN_LEN + 1);
	explicit_bzero(ret_csrf, BROKER_SESSION_TOKEN_LEN + 1);
	return r;
}

int broker_session_find(struct broker_store *st, const char *id, int64_t now, struct broker_session *ret)
{
	uint8_t id_hash[32];
	int r = hash_token(id, id_hash);

	return r < 0 ? r : broker_store_session_get(st, id_hash, now, ret);
}

bool broker_session_csrf_ok(const struct broker_session *s, const char *token)
{
	uint8_t h[32];

	return hash_token(token, h) >= 0 && vdi_const_eq(h, s->csrf_hash, sizeof(h));
}

int broker_session_end(struct broker_store *st, const char *id)
{
	uint8_t id_hash[32];

	return hash_token(id, id_hash) < 0 ? 0 : broker_store_session_delete(st, id_hash);
}
