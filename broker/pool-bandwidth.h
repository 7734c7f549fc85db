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
 * ("pool-bandwidth" on the desktop, by actor, borrowed) when it is done, and then how many have it
 * ("pool-bandwidth" on the pool: "K kbit/s on N of M desktops").  Returns the number of desktops
 * it goes to (0: none), or -errno (nothing started).
 */
int broker_pool_bandwidth_apply(struct broker_desks *d, const char *pool, uint32_t kbps, const char *actor);

/*
 * A job gave desktop id of pool on host (URI; all borrowed) the limit made_with, from the row it read when
 * it was submitted: when the pool's limit is another now (an update applied meanwhile did not reach the
 * desktop, or the job wrote the old one back), the pool's goes there too, as above.
 */
void broker_pool_bandwidth_catch_up(struct broker_desks *d, const char *pool, int64_t id, const char *host,
				    uint32_t made_with);
