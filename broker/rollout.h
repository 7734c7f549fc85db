/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The rollout of a template's new current version (a publish or a rollback made it): free pooled
 * desktops on an older version are reset onto the current one in the background, a few at a
 * time, never leaving a pool with fewer free running desktops than its prestart (a spare on the
 * current version is booted or made first).  Assigned desktops move when they are released
 * (their reset clones the current version); persistent ones keep theirs.  It needs no state of
 * its own: the desktops' rows say which are outdated, so a restarted broker goes on where the
 * last one stopped.  Loop thread.
 */

struct broker_desks;

/* Resets the next outdated free desktops, as far as the limits allow. */
void broker_rollout_step(struct broker_desks *d);
