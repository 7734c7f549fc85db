/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The store (store.h): giving a user a desktop of a pool, in one transaction. */

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct broker_store;

enum broker_assign_action {
	BROKER_ASSIGN_EXISTING, /* the user already had this desktop: nothing to do but make sure it runs */
	BROKER_ASSIGN_RUNNING,  /* a free running desktop: ready */
	BROKER_ASSIGN_START,    /* a free stopped desktop, now "starting": start it */
	BROKER_ASSIGN_CLONE,    /* a new desktop row, "provisioning": clone it, then start it */
	BROKER_ASSIGN_SPARE,    /* a spare on its way up, now the user's: the job under way brings it up */
	BROKER_ASSIGN_RESET,    /* a free desktop on an older template version, now "resetting": reset it onto
				 * the current version, then start it */
};

struct broker_assignment {
	int64_t desktop_id;
	enum broker_assign_action action;
	char state[16];         /* the desktop's state after the assignment */
};

/*
 * Gives user a desktop of pool, in one BEGIN IMMEDIATE transaction, in this
 * order: the user's desktop in that pool; a free running one; a free
 * stopped one (both on the template's current version); a spare on its way
 * up (prestart: provisioning or starting, nobody's), which becomes the
 * user's as it is (BROKER_ASSIGN_SPARE); a free one on an older version,
 * reset onto the current one first (BROKER_ASSIGN_RESET);
 * a new row on new_host if the pool holds fewer than size;
 * else -ENOSPC ("pool exhausted").  Free desktops on hosts that are down or
 * draining (table hosts), or whose hosts.networks lacks the pool's libvirt
 * network ("network:NAME"; NULL: not looked at yet, usable), are passed over; new_host NULL (no host can take a
 * desktop) makes that last step -EHOSTUNREACH.  -ENOENT: no such pool (or it
 * is draining).  Never gives one desktop to two users.  With want_new, the
 * user's own desktops are skipped, and -EDQUOT refuses one beyond the pool's
 * max_per_user.  A user whose desktop there is in "error" and persistent, or
 * paused by the hypervisor (any pool), gets -EHOSTDOWN, not a second desktop;
 * err says why only for a pause (other messages are for admins).
 * pool, user and new_host are borrowed.
 */
int broker_store_assign(struct broker_store *s, const char *pool, const char *user, bool want_new,
			const char *new_host, int64_t now, struct broker_assignment *ret, struct vdi_error *err);

/* Where a new desktop of template goes: a host URI (borrowed), or NULL when no host can take it.  network
 * (borrowed): the NAME of the pool's effective "network:NAME", NULL when it attaches to no libvirt network. */
struct broker_place {
	const char *(*place)(void *data, const char *template, const char *network);
	void *data;
};

/* The same, with place (borrowed) asked (inside the transaction) only when a new desktop is needed. */
int broker_store_assign_placed(struct broker_store *s, const char *pool, const char *user, bool want_new,
			       const struct broker_place *place, int64_t now, struct broker_assignment *ret, struct vdi_error *err);
