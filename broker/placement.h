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

struct pool_hw_features;

/*
 * What a host offers as hosts.hardware and its slot keep it: ",uefi,secure-boot,tpm," (a comma around each
 * feature it offers, "," for none), as a new string from f (borrowed); NULL when out of memory.
 */
char *broker_placement_hardware_string(const struct pool_hw_features *f);

/*
 * The first of needs (borrowed; NULL: none) that hardware (borrowed: ",uefi,secure-boot,tpm," as above, from a
 * host's last look; NULL: not looked at yet, which counts as offering all) lacks, as the template field that
 * asks it: "firmware" (UEFI), "secure_boot" or "tpm"; NULL when it offers them all.
 */
const char *broker_placement_missing_hardware(const char *hardware, const struct pool_hw_features *needs);

/* Whether a host whose last look found hardware (as above) can take a desktop that needs needs (as above). */
bool broker_placement_has_hardware(const char *hardware, const struct pool_hw_features *needs);
