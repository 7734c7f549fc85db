/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Clocks.  The wall clock (CLOCK_REALTIME) is what people read; it jumps when NTP or an
 * admin sets it.  The monotonic clock (CLOCK_MONOTONIC) never jumps but counts from an
 * unspecified start.  The steady clock is the two together: unix seconds, like the wall
 * clock, that advance like the monotonic clock: the wall clock's reading when the process
 * first asked for it, plus the time since on CLOCK_BOOTTIME (monotonic, and counting the time
 * the machine was suspended, so that a suspend is not taken for a jump of the wall clock).  Durations kept in memory are judged
 * on the steady (or monotonic) clock, so that a jump of the wall clock neither ends them
 * early nor stretches them; unlike monotonic seconds, a steady time of 0 is long ago.
 * All functions are thread-safe.
 */

#include <stdint.h>

/* Seconds on the monotonic clock. */
double vdi_clock_mono(void);

/* Unix seconds on the wall clock. */
int64_t vdi_clock_wall(void);

/* Unix seconds on the steady clock (anchored at the first call in this process). */
int64_t vdi_clock_steady(void);
