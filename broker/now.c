/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "now.h"

#include <stdatomic.h>

#include "clock.h"

/* What broker_now() adds to the steady clock: the wall clock's jumps it has followed. */
static _Atomic int64_t clock_shift;

int64_t broker_now(void)
{
	return vdi_clock_steady() + atomic_load(&clock_shift);
}

void broker_now_shift(int64_t delta)
{
	atomic_fetch_add(&clock_shift, delta);
}
