/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store (store.h): the read-only listings the API shows.  Each returns a
 * new JSON array in *ret with an object per row, and the number of rows (or
 * -errno).  A desktop's state there is "unavailable" while its host does not
 * answer (the stored state is what it was; reconcile judges it on the host's
 * return), else the stored state.  String arguments are borrowed.
 */

#include <stdint.h>

#include <jansson.h>

struct broker_store;

/* user's desktops, by id: id, pool, state, type ("persistent" or "pooled"), assigned_at. */
int broker_store_user_desktops(struct broker_store *s, const char *user, json_t **ret);

/* Desktop id if user owns it: at most one row of id, state, host, pool, persistent, usb_redirect and second_viewer
 * (its pool's). */
int broker_store_user_desktop(struct broker_store *s, int64_t id, const char *user, json_t **ret);

/*
 * What desktop id of pool (borrowed) does when its last SPICE client leaves (viewers.c): at most one row of
 * host, lock_on_disconnect (its pool's, effective: 0/1) and lock_command (its template's; null: the default).
 */
int broker_store_desktop_lock(struct broker_store *s, int64_t id, const char *pool, json_t **ret);

/* Desktop id's stored state: at most one row of state. */
int broker_store_desktop_state(struct broker_store *s, int64_t id, json_t **ret);

/*
 * The desktops, by id, of pool, user and in state (each NULL: any): id, pool, host, state, owner,
 * domain, assigned_at, last_disconnect, updated, message, template_version (the template version of its
 * overlay; NULL while it is being made), recompose (1: waiting for or under its recompose).
 */
int broker_store_admin_desktops(struct broker_store *s, const char *pool, const char *user, const char *state,
				json_t **ret);

/* The sessions live at now, oldest first: id (16 hex digits of its id hash), user, admin, client, created, expires. */
int broker_store_admin_sessions(struct broker_store *s, int64_t now, json_t **ret);

/* Which audit records broker_store_admin_audit() returns. */
struct broker_audit_filter {
	const char *actor, *action, *object; /* NULL: any */
	int64_t since, until;                /* time, inclusive */
	int64_t limit;                       /* the newest this many */
};

/* The audit records f selects, newest first: id, time, actor, action, object, detail. */
int broker_store_admin_audit(struct broker_store *s, const struct broker_audit_filter *f, json_t **ret);

/* How many desktops each pool has in each state, by pool and state: pool, state, n. */
int broker_store_desktop_counts(struct broker_store *s, json_t **ret);
