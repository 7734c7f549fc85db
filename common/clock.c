/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clock.h"

#include <pthread.h>
#include <time.h>

#define NSEC 1000000000LL

static pthread_once_t anchor_once = PTHREAD_ONCE_INIT;
static struct timespec anchor_wall, anchor_mono; /* read together, once */

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC + ts->tv_nsec;
}

static void anchor(void)
{
	clock_gettime(CLOCK_REALTIME, &anchor_wall);
	clock_gettime(CLOCK_BOOTTIME, &anchor_mono);
}

double vdi_clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t vdi_clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t vdi_clock_steady(void)
{
	struct timespec now;

	pthread_once(&anchor_once, anchor);
	clock_gettime(CLOCK_BOOTTIME, &now);
	/* Whole seconds of the wall clock at the anchor, then the monotonic time since. */
	return (int64_t)anchor_wall.tv_sec + (anchor_wall.tv_nsec + ns_of(&now) - ns_of(&anchor_mono)) / NSEC;
}
