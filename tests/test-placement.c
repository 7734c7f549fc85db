/* SPDX-License-Identifier: GPL-2.0-or-later */
/* broker/placement.c: where a new desktop goes, without a database or a daemon. */
#include "cleanup.h"
#include "harness.h"
#include "placement.h"
#include "vmpool.h"

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

/* What a template asks of a host against what a host offered: the first need it lacks names the template field;
 * a host not looked at yet (NULL) offers all; a template that asks nothing goes anywhere. */
static void test_has_hardware(void)
{
	const struct pool_hw_features none = { 0 }, tpm = { .tpm = true }, uefi = { .uefi = true },
				      win11 = { .uefi = true, .secure_boot = true, .tpm = true };

	check(broker_placement_has_hardware(",", &none));
	check(broker_placement_has_hardware(",", NULL));
	check(!broker_placement_has_hardware(",", &tpm));
	check(!broker_placement_has_hardware(",uefi,secure-boot,", &tpm));
	check(broker_placement_has_hardware(",uefi,secure-boot,tpm,", &tpm));
	check(broker_placement_has_hardware(",tpm,", &tpm));
	check(broker_placement_has_hardware(NULL, &win11));
	check(!broker_placement_has_hardware(",tpm,", &uefi));
	check_str_eq(broker_placement_missing_hardware(",", &win11), "firmware");
	check_str_eq(broker_placement_missing_hardware(",uefi,", &win11), "secure_boot");
	check_str_eq(broker_placement_missing_hardware(",uefi,secure-boot,", &win11), "tpm");
	check(!broker_placement_missing_hardware(",uefi,secure-boot,tpm,", &win11));
	check(!broker_placement_missing_hardware(NULL, &win11));
	/* Whole names only. */
	check(!broker_placement_has_hardware(",tpm2,uefi-x,", &tpm));
	check(!broker_placement_has_hardware(",secure-boot,", &uefi));
}

/* The string a look keeps and stores, and that it reads back as the same. */
static void test_hardware_string(void)
{
	const struct pool_hw_features all = { true, true, true }, none = { 0 }, tpm = { .tpm = true };
	_cleanup_free_ char *a = broker_placement_hardware_string(&all);
	_cleanup_free_ char *n = broker_placement_hardware_string(&none);
	_cleanup_free_ char *t = broker_placement_hardware_string(&tpm);

	check_str_eq(a, ",uefi,secure-boot,tpm,");
	check_str_eq(n, ",");
	check_str_eq(t, ",tpm,");
	check(broker_placement_has_hardware(a, &all));
	check(!broker_placement_has_hardware(n, &tpm));
	check(broker_placement_has_hardware(t, &tpm));
}

/* A template that needs a TPM skips the freest host, which has none, and goes to one that has; with the host
 * that has it not looked at yet, that one still counts. */
static void test_hardware_filter(void)
{
	const struct pool_hw_features tpm = { .tpm = true };
	const char *hardware[] = { ",uefi,secure-boot,", ",uefi,secure-boot,tpm,", NULL };
	struct broker_place_candidate c[] = {
		{ true, 8 * GIB, 0 },
		{ true, 4 * GIB, 0 },
		{ true, 2 * GIB, 0 },
	};

	for (size_t i = 0; i < ELEMENTSOF(c); i++)
		c[i].can_take = c[i].can_take && broker_placement_has_hardware(hardware[i], &tpm);
	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 1);
	c[1].can_take = broker_placement_has_hardware(",uefi,", &tpm);
	check_int_eq(broker_placement_pick(c, ELEMENTSOF(c)), 2);
	c[2].can_take = broker_placement_has_hardware(",", &tpm);
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
	VDI_TEST(test_has_hardware),
	VDI_TEST(test_hardware_string),
	VDI_TEST(test_hardware_filter),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
