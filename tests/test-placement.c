/* SPDX-License-Identifier: GPL-2.0-or-later */
/* broker/placement.c: where a new desktop goes, without a database or a daemon. */
#include "cleanup.h"
#include "harness.h"
#include "placement.h"

#define GIB (INT64_C(1) << 30)

/* The most free memory wins, wherever it stands in the list. */
static void test_most_free_memory(void)
{
	const struct broker_place_candidate c[] = {
		{ true, 2 * GIB, 0 },
		{ true, 8 * GIB, 9 },
		{ true, 4 * GIB, 0 },
	};

	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 1);
}

/* A host that cannot take it (down, draining, or without the template's disk) is passed over, however free. */
static void test_passes_over_what_cannot_take(void)
{
	const struct broker_place_candidate c[] = {
		{ false, 64 * GIB, 0 },
		{ true, 1 * GIB, 5 },
		{ false, 32 * GIB, 0 },
	};

	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 1);
}

/* As much memory: the fewest desktops; as many too: the first. */
static void test_ties(void)
{
	const struct broker_place_candidate fewest[] = {
		{ true, 4 * GIB, 3 },
		{ true, 4 * GIB, 1 },
		{ true, 4 * GIB, 2 },
		{ true, 3 * GIB, 0 },
	};
	const struct broker_place_candidate same[] = {
		{ true, 4 * GIB, 2 },
		{ true, 4 * GIB, 2 },
	};

	check_int_eq(broker_placement_pick(fewest, ELEMENTSOF(fewest)), 1);
	check_int_eq(broker_placement_pick(same, ELEMENTSOF(same)), 0);
}

/* What went there since the last look counts against a host: free memory below zero still ranks. */
static void test_overcommitted(void)
{
	const struct broker_place_candidate c[] = {
		{ true, -2 * GIB, 0 },
		{ true, -1 * GIB, 7 },
	};

	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 1);
}

/* No host can: -1; no hosts at all: -1. */
static void test_none(void)
{
	const struct broker_place_candidate c[] = {
		{ false, 8 * GIB, 0 },
		{ false, 8 * GIB, 0 },
	};

	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), -1);
	check_int_eq(broker_placement_pick(c, 0), -1);
}

/* The desktops counts are read only when memory alone does not decide. */
static void test_counts_needed_only_for_ties(void)
{
	const struct broker_place_candidate clear[] = {
		{ true, 4 * GIB, 0 },
		{ true, 2 * GIB, 0 },
		{ false, 4 * GIB, 0 },
	};
	const struct broker_place_candidate tie[] = {
		{ true, 2 * GIB, 0 },
		{ true, 4 * GIB, 0 },
		{ true, 4 * GIB, 0 },
	};

	check(!broker_placement_needs_counts(clear, ELEMENTSOF(clear)));
	check(broker_placement_needs_counts(tie, ELEMENTSOF(tie)));
	check(!broker_placement_needs_counts(tie, 0));
}

/* A host's active libvirt networks at its last look (",a,b,"): only whole names count; not looked at yet
 * (NULL) has every one; a desktop that needs none goes anywhere. */
static void test_has_network(void)
{
	check(broker_placement_has_network(",default,lab,", "default"));
	check(broker_placement_has_network(",default,lab,", "lab"));
	check(!broker_placement_has_network(",default,lab,", "la"));
	check(!broker_placement_has_network(",default,lab,", "ab"));
	check(!broker_placement_has_network(",default,lab,", "default,lab"));
	check(!broker_placement_has_network(",default,lab,", "other"));
	check(!broker_placement_has_network(",", "default"));
	check(!broker_placement_has_network("", "default"));
	check(!broker_placement_has_network(",default,", ""));
	check(broker_placement_has_network(NULL, "default"));
	check(broker_placement_has_network(",", NULL));
	check(broker_placement_has_network(NULL, NULL));
}

/* Hosts without the pool's network cannot take its desktop, however free; one not looked at yet can. */
static void test_network_filter(void)
{
	const char *networks[] = { ",default,", ",lab,", NULL };
	struct broker_place_candidate c[] = {
		{ true, 8 * GIB, 0 },
		{ true, 4 * GIB, 0 },
		{ true, 2 * GIB, 0 },
	};

	for (size_t i = 0; i < ELEMENTSOF(c); i++)
		c[i].can_take = c[i].can_take && broker_placement_has_network(networks[i], "lab");
	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 1);
	c[1].can_take = broker_placement_has_network(",default,", "lab");
	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 2);
	c[2].can_take = broker_placement_has_network(",", "lab");
	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), -1);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_most_free_memory),
	VDI_TEST(test_passes_over_what_cannot_take),
	VDI_TEST(test_ties),
	VDI_TEST(test_overcommitted),
	VDI_TEST(test_none),
	VDI_TEST(test_counts_needed_only_for_ties),
	VDI_TEST(test_has_network),
	VDI_TEST(test_network_filter),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
