/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A pool's new bandwidth_kbps onto its desktops as they are: the definition of every defined desktop
 * of the pool, and live on those that run (pool_desktop_set_bandwidth()), on a worker.  Loop thread.
 */

#include <stdint.h>

struct broker_desks;

/*
 * Starts applying kbps to the desktops of pool (borrowed) on a worker; each failure is logged and audited
 * ("pool-bandwidth" on the desktop, by actor, borrowed) when it is done.  Returns the number of desktops
 * it goes to (0: none), or -errno (nothing started).
 */
int broker_pool_bandwidth_apply(struct broker_desks *d, const char *pool, uint32_t kbps, const char *actor);
