/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store (store.h): recompose, a persistent desktop's system overlay replaced by a fresh one on
 * its template's current version (its owner and its user data disk stay).  A desktop waiting for its
 * recompose, or under it, is marked (desktops.recompose = 1) until broker_store_desktop_made_fresh()
 * records the new overlay: the marks are the work left, so a pool's recompose goes on after a
 * restart.  s is borrowed; now is broker_now().
 */

#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_store;

/*
 * Takes desktop id for its recompose: checks that it may have one, then "resetting" (still its
 * owner's) and marked.  0; -ENOENT no such desktop; -EPERM a pooled pool's desktop (pooled desktops
 * follow the rollout); -EBUSY it is being made, reset or deleted.  err says why.
 */
int broker_store_desktop_recompose(struct broker_store *s, int64_t id, int64_t now, struct vdi_error *err);

/*
 * Marks every desktop of persistent pool name that is not on its template's current version (and
 * is not being made or deleted) for recompose.  How many (>= 0); -ENOENT no such pool; -EPERM a
 * pooled pool.  *ret_version: the version they go to.  err says why.
 */
int broker_store_pool_recompose(struct broker_store *s, const char *name, int64_t *ret_version,
				struct vdi_error *err);

/*
 * The marked desktops that may start their recompose now, so that at most limit are under way
 * (the marked ones "resetting" count): id, state, pool; by id.  First forgets the marks of desktops
 * that are on their template's current version by now (a rollback) and are not under way.  Rows or
 * -errno.
 */
int broker_store_recompose_next(struct broker_store *s, int64_t limit, json_t **ret);

/* Takes marked desktop id (not being made, reset or deleted): "resetting", still its owner's: rows changed. */
int broker_store_recompose_take(struct broker_store *s, int64_t id, int64_t now);

/* Forgets desktop id's mark (its recompose failed: an admin decides): rows changed or -errno. */
int broker_store_recompose_clear(struct broker_store *s, int64_t id);
