/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's clock for the times it stores and judges durations by (sessions' created and
 * expires, desktops' assigned_at, last_disconnect and updated): unix seconds that advance on
 * the monotonic clock.  When the wall clock jumps, the broker's next tick (1 s) moves this
 * clock and those stored times by as much at once (broker.c), so that a duration under way
 * keeps its length and the stored times stay wall times.  Durations kept only in memory
 * (lockouts, the keeper's backoff, the tick's intervals) use vdi_clock_steady(), which never
 * moves.  What only people read (the audit log, templates' and pools' created, hosts'
 * looked_at) and what other programs judge (console tokens, SPICE tickets) is on the wall
 * clock, vdi_clock_wall().  Thread-safe.
 */

#include <stdint.h>

int64_t broker_now(void);

/* Moves broker_now() by delta seconds (the wall clock jumped by as much). */
void broker_now_shift(int64_t delta);
