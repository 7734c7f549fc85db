/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Login throttling: after max_failures failed logins for one key (a user
 * name, or a client address), further tries by that key are refused until
 * lockout seconds have passed.  Failures further apart than lockout do not
 * add up.  Memory is bounded: at most max_entries keys are remembered; when
 * full, keys that are neither locked nor recent go first.  Thread-safe.
 * "now" is in seconds on a clock that does not jump (vdi_clock_steady()).
 */

#include <stddef.h>
#include <stdint.h>

struct broker_throttle;

int broker_throttle_new(unsigned max_failures, unsigned lockout_s, size_t max_entries, struct broker_throttle **ret);
struct broker_throttle *broker_throttle_free(struct broker_throttle *t);

/* 0 when key may try now, else the seconds it must wait. */
int64_t broker_throttle_wait(struct broker_throttle *t, const char *key, int64_t now);

/* Counts a failure of key at now. */
void broker_throttle_fail(struct broker_throttle *t, const char *key, int64_t now);

/* Forgets key's failures (a user who logged in). */
void broker_throttle_clear(struct broker_throttle *t, const char *key);

/* Keys remembered now. */
size_t broker_throttle_size(struct broker_throttle *t);
