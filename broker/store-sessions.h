/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The store (store.h): login sessions, as rows; broker/session.h makes and checks them. */

#include <stdbool.h>
#include <stdint.h>

struct broker_store;

struct broker_session {
	char *user;
	char *groups;       /* comma-separated */
	bool admin;
	char *client;       /* the address it logged in from */
	int64_t created, expires; /* on the broker's clock, broker_now() */
	uint8_t csrf_hash[32];
};

void broker_session_finish(struct broker_session *s);

/* Stores a session under the SHA-256 of its id (never the id itself). */
int broker_store_session_put(struct broker_store *s, const uint8_t id_hash[32], const struct broker_session *row);

/* The live session with that id hash at now: 0 and *ret, or -ENOENT (none, or expired). */
int broker_store_session_get(struct broker_store *s, const uint8_t id_hash[32], int64_t now,
			     struct broker_session *ret);

/* Deletes one session (0 also when there was none). */
int broker_store_session_delete(struct broker_store *s, const uint8_t id_hash[32]);

/* Deletes the sessions expired at now; returns how many. */
int broker_store_session_expire(struct broker_store *s, int64_t now);

/*
 * Deletes (for an admin) the sessions whose id hash starts with the 16 hex digits id (any
 * case), or those of user; either may be NULL (borrowed).  Returns how many.
 */
int broker_store_session_kill(struct broker_store *s, const char *id, const char *user);
