/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Inside the store (store.h): the connection and the SQLite helpers its files
 * share.  Only broker/store*.c (and tests that set rows up) include this; everything else sees the named
 * functions of store.h, store-sessions.h, store-assign.h, store-catalog.h,
 * store-views.h, store-desktops.h and store-hosts.h, never SQL.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cleanup.h"
#include "error.h"

struct pending_audit {
	int64_t time;
	char *actor, *action, *object, *detail;
};

struct broker_store {
	sqlite3 *db;
	struct pending_audit *pending;  /* audit records the database was too busy to take */
	size_t n_pending, cap_pending;
};

void broker_store_finalizep(sqlite3_stmt **st);
#define _cleanup_stmt_ _cleanup_(broker_store_finalizep)

/* SQLite's result code as -errno (-EBUSY, -ENOMEM, -EEXIST for constraints, -EIO, ...). */
int broker_store_errno(int rc);

/* Sets err to "what: SQLite's message" and returns the -errno of rc. */
int broker_store_fail(struct broker_store *s, int rc, struct vdi_error *err, const char *what);
/* Like broker_store_fail() for an -errno already mapped from SQLite's result. */
int broker_store_fail_errno(struct broker_store *s, int r, struct vdi_error *err, const char *what);

/* Runs sql (no arguments, maybe several statements); err says why it failed. */
int broker_store_run(struct broker_store *s, const char *sql, struct vdi_error *err);

/* Prepares sql into *ret (new, for _cleanup_stmt_). */
int broker_store_prepare(struct broker_store *s, const char *sql, sqlite3_stmt **ret);

/* Runs a statement whose first result column is an id; 1 and *ret when a row came, 0 when none. */
int broker_store_step_id(sqlite3_stmt *st, int64_t *ret);

/* The text of column col as a new string; NULL for NULL (or out of memory). */
char *broker_store_column_strdup(sqlite3_stmt *st, int col);

/* ---- generic statements, for the store's files (and tests) ---------------------------- */

/*
 * Runs sql with arguments described by types ('i': int64_t, 's': const
 * char *, NULL binds NULL).  Returns the number of rows changed, or -errno.
 */
int broker_store_exec(struct broker_store *s, const char *sql, const char *types, ...);

/*
 * Runs a query; *ret is a new JSON array with an object per row (column
 * name -> integer, real, string or null).  Returns the number of rows.
 */
int broker_store_query(struct broker_store *s, json_t **ret, const char *sql, const char *types, ...);

/* BEGIN IMMEDIATE / COMMIT (rolls back when it fails) / ROLLBACK. */
int broker_store_begin(struct broker_store *s);
int broker_store_commit(struct broker_store *s);
void broker_store_rollback(struct broker_store *s);

/* The rowid of the last INSERT on this connection. */
int64_t broker_store_last_id(struct broker_store *s);
