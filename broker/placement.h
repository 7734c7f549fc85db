/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Where a new desktop goes: a pure function of what the broker knows of its hosts, so that
 * it can be tested without a database or a daemon.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_place_candidate {
	bool can_take;      /* answers, is not draining, and reads the template's disk (or was not looked at yet) */
	int64_t free_bytes; /* free memory at the last look, less what went there since */
	int64_t desktops;   /* desktops it holds (not counting those being deleted) */
};

/*
 * Among the candidates that can take the desktop: the one with the most free memory, then
 * (among those with as much) the fewest desktops, then the first.  Returns its index, or -1
 * when none can.
 */
int broker_placement_pick(const struct broker_place_candidate *c, size_t n);

/*
 * Whether the desktops counts matter to the pick: two or more candidates that can take the
 * desktop share the most free memory (the counts cost a query: only then are they read).
 */
bool broker_placement_needs_counts(const struct broker_place_candidate *c, size_t n);

/*
 * Whether a host whose last look found networks (borrowed: ",a,b,", a comma around each name of a libvirt
 * network it had ACTIVE, "," for none; NULL: not looked at yet, which counts as having every one) can
 * take a desktop on libvirt network name (borrowed; NULL: the desktop needs none).
 */
bool broker_placement_has_network(const char *networks, const char *name);
