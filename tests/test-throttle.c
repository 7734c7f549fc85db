/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "harness.h"
#include "throttle.h"

static struct broker_throttle *make(unsigned max, unsigned lockout, size_t entries)
{
	struct broker_throttle *t = NULL;

	check_ok(broker_throttle_new(max, lockout, entries, &t));
	return t;
}

static void test_lockout_after_max_failures(void)
{
	struct broker_throttle *t = make(5, 300, 1000);

	for (int i = 0; i < 4; i++) {
		broker_throttle_fail(t, "u:ann", 1000 + i);
		check_int_eq(broker_throttle_wait(t, "u:ann", 1000 + i), 0);
	}
	broker_throttle_fail(t, "u:ann", 1004);
	check_int_eq(broker_throttle_wait(t, "u:ann", 1004), 300);
	check_int_eq(broker_throttle_wait(t, "u:ann", 1200), 104);
	check_int_eq(broker_throttle_wait(t, "u:bob", 1200), 0); /* others are not affected */
	check_int_eq(broker_throttle_wait(t, "u:ann", 1304), 0);  /* the lockout passed */
	/* After a lockout, counting starts again. */
	broker_throttle_fail(t, "u:ann", 1305);
	check_int_eq(broker_throttle_wait(t, "u:ann", 1305), 0);
	broker_throttle_free(t);
}

static void test_spaced_failures_and_clear(void)
{
	struct broker_throttle *t = make(3, 60, 1000);

	/* Failures further apart than the lockout do not add up. */
	for (int i = 0; i < 10; i++)
		broker_throttle_fail(t, "a:10.0.0.1", i * 61);
	check_int_eq(broker_throttle_wait(t, "a:10.0.0.1", 10 * 61), 0);

	broker_throttle_fail(t, "u:bob", 0);
	broker_throttle_fail(t, "u:bob", 1);
	broker_throttle_clear(t, "u:bob"); /* bob logged in */
	broker_throttle_fail(t, "u:bob", 2);
	check_int_eq(broker_throttle_wait(t, "u:bob", 2), 0);
	broker_throttle_fail(t, "u:bob", 3);
	broker_throttle_fail(t, "u:bob", 4);
	check_int_eq(broker_throttle_wait(t, "u:bob", 4), 60);

	/* lockout 0 turns throttling off. */
	broker_throttle_free(t);
	t = make(1, 0, 10);
	broker_throttle_fail(t, "u:x", 5);
	check_int_eq(broker_throttle_wait(t, "u:x", 5), 0);
	broker_throttle_free(t);
}

static void test_memory_bounded_and_lockouts_kept(void)
{
	struct broker_throttle *t = make(5, 300, 100);
	char key[32];

	for (int i = 0; i < 5; i++)
		broker_throttle_fail(t, "u:victim", 0);
	check(broker_throttle_wait(t, "u:victim", 1) > 0);

	/* A spray of new keys: memory stays bounded and the lockout stays. */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "u:spray%d", i);
		broker_throttle_fail(t, key, 1 + i / 100);
	}
	check(broker_throttle_size(t) <= 100);
	check(broker_throttle_wait(t, "u:victim", 150) > 0);
	broker_throttle_free(t);

	check_err(broker_throttle_new(0, 300, 100, &t), EINVAL);
	check_err(broker_throttle_new(5, 300, 0, &t), EINVAL);
	broker_throttle_free(NULL);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_lockout_after_max_failures),
	VDI_TEST(test_spaced_failures_and_clear),
	VDI_TEST(test_memory_bounded_and_lockouts_kept),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
