/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's state in SQLite: templates (and their versions), pools, desktops, sessions and
 * the audit log.  WAL mode; the schema is migrated by PRAGMA user_version.
 * One broker_store per thread (SQLite connections are not shared); several
 * connections, also from several processes, may open the same file.
 *
 * Functions return >= 0 or -errno; where they take struct vdi_error *err, a
 * failure leaves a message there.  -EBUSY: the database stayed locked past the
 * busy timeout.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_store;

/*
 * The store's other headers, one per concern: store-sessions.h (login sessions), store-assign.h
 * (giving a user a desktop), store-catalog.h (templates and pools), store-views.h (the listings
 * the API shows), store-desktops.h (the desktop module's desktops and pools), store-hosts.h
 * (libvirt hosts).  No SQL outside the store's files: the generic statements are
 * store-private.h's.
 */

/* The schema version this code writes; older files are migrated on open. */
#define BROKER_STORE_SCHEMA_VERSION 13

/* Opens (creating if needed) the database at path, or ":memory:". *ret is new. */
int broker_store_open(const char *path, struct broker_store **ret, struct vdi_error *err);
struct broker_store *broker_store_close(struct broker_store *s);

/* PRAGMA user_version of the open database. */
int broker_store_schema_version(struct broker_store *s);

/* ---- desktops ------------------------------------------------------------------ */

/* Desktop states as stored; see ARCHITECTURE.md for the transitions. */
#define BROKER_DESKTOP_STATES \
	"provisioning", "stopped", "starting", "free", "assigned", "connected", "disconnected", "resetting", \
	"error", "deleting"

bool broker_desktop_state_is_valid(const char *state);

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

/* ---- the clock ------------------------------------------------------------------------- */

/*
 * Adds delta seconds to every time stored on broker_now() (sessions' created and expires,
 * desktops' assigned_at, last_disconnect and updated), in one transaction.
 */
int broker_store_shift_times(struct broker_store *s, int64_t delta);
