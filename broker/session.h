/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Login sessions: a 256-bit random id for the vdi_session cookie and a
 * 256-bit CSRF token for the X-CSRF-Token header, both handed to the client
 * once and stored only as SHA-256 hashes.
 */

#include <stdbool.h>
#include <stdint.h>

#include "store-sessions.h"

/* Hex characters of a session id or CSRF token (32 random bytes). */
#define BROKER_SESSION_TOKEN_LEN 64

/*
 * Starts a session for user that lives ttl seconds from now (on the broker's clock,
 * broker_now(), so that a jump of the wall clock neither ends it nor stretches it).  ret_id and
 * ret_csrf (BROKER_SESSION_TOKEN_LEN + 1 bytes each) receive the id and
 * the CSRF token; they exist nowhere else.
 */
int broker_session_create(struct broker_store *st, const char *user, const char *groups, bool admin,
			  const char *client, int64_t now, int64_t ttl, char *ret_id, char *ret_csrf);

/* The live session for a cookie id: 0 and *ret, or -ENOENT (unknown, malformed or expired). */
int broker_session_find(struct broker_store *st, const char *id, int64_t now, struct broker_session *ret);

/* Whether token is the session's CSRF token; compared in constant time. */
bool broker_session_csrf_ok(const struct broker_session *s, const char *token);

/* Ends the session with that id (logout). Unknown ids are not an error. */
int broker_session_end(struct broker_store *st, const char *id);
