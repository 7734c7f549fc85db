/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's state in SQLite: templates, pools, desktops, sessions and
 * the audit log.  WAL mode; the schema is migrated by PRAGMA user_version.
 * One broker_store per thread (SQLite connections are not shared); several
 * connections, also from several processes, may open the same file.
 *
 * Functions return >= 0 or -errno; where they take char *err, a failure
 * leaves a message there.  -EBUSY: the database stayed locked past the
 * busy timeout.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_store;

/* The schema version this code writes; older files are migrated on open. */
#define BROKER_STORE_SCHEMA_VERSION 5

/* Opens (creating if needed) the database at path, or ":memory:". *ret is new. */
int broker_store_open(const char *path, struct broker_store **ret, struct vdi_error *err);
struct broker_store *broker_store_close(struct broker_store *s);

/* PRAGMA user_version of the open database. */
int broker_store_schema_version(struct broker_store *s);

/* ---- templates and pools ------------------------------------------------------ */

struct broker_pool_def {
	const char *name;       /* [A-Za-z0-9_]{1,32}: part of domain names */
	const char *template_name;
	bool persistent;        /* false: pooled (reset on release) */
	int64_t size;           /* most desktops, >= 0 */
	int64_t prestart;       /* free desktops kept running, 0..size */
	int64_t max_per_user;   /* >= 1 */
	int64_t idle_timeout;   /* seconds, 0 = never */
	const char *groups;     /* comma-separated; "" = everyone */
};

int broker_store_add_template(struct broker_store *s, const char *name, const char *disk_path, const char *xml,
			      int64_t now, struct vdi_error *err);
int broker_store_add_pool(struct broker_store *s, const struct broker_pool_def *def, int64_t now, struct vdi_error *err);

/* ---- desktops ------------------------------------------------------------------ */

/* Desktop states as stored; see ARCHITECTURE.md for the transitions. */
#define BROKER_DESKTOP_STATES \
	"provisioning", "stopped", "starting", "free", "assigned", "connected", "disconnected", "resetting", \
	"error", "deleting"

bool broker_desktop_state_is_valid(const char *state);

enum broker_assign_action {
	BROKER_ASSIGN_EXISTING, /* the user already had this desktop: nothing to do but make sure it runs */
	BROKER_ASSIGN_RUNNING,  /* a free running desktop: ready */
	BROKER_ASSIGN_START,    /* a free stopped desktop, now "starting": start it */
	BROKER_ASSIGN_CLONE,    /* a new desktop row, "provisioning": clone it, then start it */
	BROKER_ASSIGN_SPARE,    /* a spare on its way up, now the user's: the job under way brings it up */
};

/*
 * SQL for the state of desktop row d as users and admins see it: "unavailable" while its
 * host does not answer (the stored state is what it was; reconcile judges it on the host's
 * return), else the stored state.
 */
#define BROKER_SQL_SHOWN_STATE \
	"(CASE WHEN d.host IN (SELECT uri FROM hosts WHERE up = 0) THEN 'unavailable' ELSE d.state END)"

struct broker_assignment {
	int64_t desktop_id;
	enum broker_assign_action action;
	char state[16];         /* the desktop's state after the assignment */
};

/*
 * Gives user a desktop of pool, in one BEGIN IMMEDIATE transaction, in this
 * order: the user's desktop in that pool; a free running one; a free
 * stopped one; a spare on its way up (prestart: provisioning or starting,
 * nobody's), which becomes the user's as it is (BROKER_ASSIGN_SPARE);
 * a new row on new_host if the pool holds fewer than size;
 * else -ENOSPC ("pool exhausted").  Free desktops on hosts that are down or
 * draining (table hosts) are passed over; new_host NULL (no host can take a
 * desktop) makes that last step -EHOSTUNREACH.  -ENOENT: no such pool (or it
 * is draining).  Never gives one desktop to two users.  With want_new, the
 * user's own desktops are skipped, and -EDQUOT refuses one beyond the pool's
 * max_per_user.  A user whose desktop there is in "error" and persistent, or
 * paused by the hypervisor (any pool), gets -EHOSTDOWN, not a second desktop;
 * err says why only for a pause (other messages are for admins).
 */
int broker_store_assign(struct broker_store *s, const char *pool, const char *user, bool want_new,
			const char *new_host, int64_t now, struct broker_assignment *ret, struct vdi_error *err);

/* Where a new desktop of template goes: a host URI (borrowed), or NULL when no host can take it. */
struct broker_place {
	const char *(*place)(void *data, const char *template);
	void *data;
};

/* The same, with place asked (inside the transaction) only when a new desktop is needed. */
int broker_store_assign_placed(struct broker_store *s, const char *pool, const char *user, bool want_new,
			       const struct broker_place *place, int64_t now, struct broker_assignment *ret, struct vdi_error *err);

/* Moves desktop id from state `from` to `to` (-ESTALE when it is not in `from`). */
int broker_store_set_desktop_state(struct broker_store *s, int64_t id, const char *from, const char *to,
				   int64_t now);

/* ---- audit ------------------------------------------------------------------------- */

/*
 * Appends an audit record; actor, object and detail may be NULL.  Never pass
 * secrets.  While another process keeps the database busy the record waits
 * in memory (in order, up to 100,000: then -ENOBUFS) and is written by the
 * next record or broker_store_audit_flush().
 */
int broker_store_audit(struct broker_store *s, int64_t now, const char *actor, const char *action,
		       const char *object, const char *detail);
/* Writes the records that waited; -EBUSY while the database is still busy. */
int broker_store_audit_flush(struct broker_store *s);

/* ---- sessions (rows; broker/session.h makes and checks them) ---------------------- */

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
 * Adds delta seconds to every time stored on broker_now() (sessions' created and expires,
 * desktops' assigned_at, last_disconnect and updated), in one transaction.
 */
int broker_store_shift_times(struct broker_store *s, int64_t delta);

/* ---- generic queries (the loop thread's lifecycle and API code) ---------------------- */

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
