/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The live relays by desktop, for takeover.  A desktop is the pair of a console token's claims
 * dsk and tgt (a maintenance desktop's id may be a pool desktop's too; their SPICE servers
 * differ).  A viewer is one console token (claim jti): spice-html5 and remote-viewer open a
 * relay per SPICE channel, all with the viewer's token.  When a relay of another viewer joins a
 * desktop, the relays of every other viewer of it leave the registry and are handed to the
 * caller to close ("taken over"); their tokens are remembered as superseded while the desktop
 * has relays, so a late channel of a viewer that was taken over does not take the desktop back
 * (its viewer asks the broker for a new token to do that).
 *
 * Not thread-safe: the gateway's event loop is its only user.  No call blocks.
 */

#include <stdbool.h>
#include <stdint.h>

#include "token.h"

#define GW_REGISTRY_BUCKETS 256

struct gw_desk;

/* One relay's place in the registry, inside the relay; all zero when it is in none. */
struct gw_member {
	struct gw_member *prev, *next; /* the desktop's other relays */
	struct gw_desk *desk;
	char jti[sizeof(((struct vdi_token_claims *)0)->jti)];
	void *owner; /* the relay, for the takeover callback */
};

struct gw_registry {
	struct gw_desk *buckets[GW_REGISTRY_BUCKETS];
};

/* Called for each relay taken over, which is no longer in the registry when it is called. */
typedef void gw_takeover_fn(struct gw_member *older, void *data);

/*
 * Adds m (borrowed, zeroed, owner set; it stays the caller's and must stay put until
 * gw_registry_leave) for the desktop and viewer of claims (borrowed).  Every relay of another
 * viewer of the same desktop leaves and is given to takeover(older, data) first.  Returns the
 * number of relays taken over; -ESTALE when the viewer of claims was taken over at this desktop
 * (m is not added, nobody is taken over); -ENOMEM.
 */
int gw_registry_join(struct gw_registry *reg, struct gw_member *m, const struct vdi_token_claims *claims,
		     gw_takeover_fn *takeover, void *data);

/* Whether the viewer of claims (borrowed) was taken over at its desktop: its relays are refused. */
bool gw_registry_superseded(const struct gw_registry *reg, const struct vdi_token_claims *claims);

/* Removes m from the registry when it is in it (a desktop without relays is forgotten). */
void gw_registry_leave(struct gw_registry *reg, struct gw_member *m);

/* How many relays the desktop (dsk, tgt) has now (tests, logs). */
unsigned gw_registry_count(const struct gw_registry *reg, int64_t dsk, const char *tgt);

/* Forgets every desktop (their members are left pointing at nothing: only at the end). */
void gw_registry_clear(struct gw_registry *reg);
