/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A persistent pool's recompose: each of its desktops not on its template's current version gets
 * what broker_desks_recompose() (lifecycle.h) gives one desktop, at most RECOMPOSE_PARALLEL at a time
 * over all pools.  The work left is in the store (store-recompose.h), not here: after a restart
 * the desktops under way are finished by reconcile and the others are taken as before.  Loop thread.
 */

#include <stdint.h>

#include "error.h"

struct broker_desks;

/*
 * Marks every desktop of persistent pool (borrowed) that is not on its template's current version
 * for recompose and starts the first ones.  Audit "desktop-recompose" (object: the pool).  How many
 * desktops (>= 0); -ENOENT no such pool, -EPERM a pooled pool; err says why.
 */
int broker_desks_recompose_pool(struct broker_desks *d, const char *pool, const char *actor, struct vdi_error *err);

/* Starts the recomposes the bound lets start now (on each tick and after each job). */
void broker_recompose_step(struct broker_desks *d);
