/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-sessions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "store.h"

void broker_session_finish(struct broker_session *row)
{
	if (!row)
		return;
	free(row->user);
	free(row->groups);
	free(row->client);
	memset(row, 0, sizeof(*row));
}

int broker_store_session_put(struct broker_store *s, const uint8_t id_hash[32], const struct broker_session *row)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	if (!row->user || !*row->user || row->expires <= row->created)
		return -EINVAL;
	r = broker_store_prepare(s,
				 "INSERT INTO sessions (id_hash, user, groups, admin, csrf_hash, client, created, expires)"
				 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
				 &st);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, id_hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->groups ? row->groups : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, row->admin);
	sqlite3_bind_blob(st, 5, row->csrf_hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, row->created);
	sqlite3_bind_int64(st, 8, row->expires);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : broker_store_errno(rc);
}

int broker_store_session_get(struct broker_store *s, const uint8_t id_hash[32], int64_t now,
			     struct broker_session *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct broker_session row = { 0 };
	int r, rc;

	r = broker_store_prepare(s,
				 "SELECT user, groups, admin, csrf_hash, client, created, expires FROM sessions"
				 " WHERE id_hash = ?1 AND expires > ?2",
				 &st);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, id_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return broker_store_errno(rc);
	if (sqlite3_column_bytes(st, 3) != 32)
		return -EBADMSG;
	row.user = broker_store_column_strdup(st, 0);
	row.groups = broker_store_column_strdup(st, 1);
	row.admin = sqlite3_column_int(st, 2) != 0;
	memcpy(row.csrf_hash, sqlite3_column_blob(st, 3), 32);
	row.client = broker_store_column_strdup(st, 4);
	row.created = sqlite3_column_int64(st, 5);
	row.expires = sqlite3_column_int64(st, 6);
	if (!row.user || !row.groups) {
		broker_session_finish(&row);
		return -ENOMEM;
	}
	*ret = row;
	return 0;
}

int broker_store_session_delete(struct broker_store *s, const uint8_t id_hash[32])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = broker_store_prepare(s, "DELETE FROM sessions WHERE id_hash = ?1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, id_hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : broker_store_errno(rc);
}

int broker_store_session_expire(struct broker_store *s, int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = broker_store_prepare(s, "DELETE FROM sessions WHERE expires <= ?1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : broker_store_errno(rc);
}

int broker_store_session_kill(struct broker_store *s, const char *id, const char *user)
{
	return broker_store_exec(s,
				 "DELETE FROM sessions WHERE (?1 IS NOT NULL AND lower(hex(substr(id_hash, 1, 8))) = lower(?1))"
				 " OR (?2 IS NOT NULL AND user = ?2)",
				 "ss", id, user);
}
