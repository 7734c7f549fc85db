/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "harness.h"
#include "log.h"

static void test_log_safe(void)
{
	char out[16];

	check_str_eq(vdi_log_safe("ann", out, sizeof(out)), "ann");
	check_str_eq(vdi_log_safe("a\nb\r<3>x\x7f", out, sizeof(out)), "a?b?<3>x?");
	check_str_eq(vdi_log_safe("\xc3\xa9mile", out, sizeof(out)), "\xc3\xa9mile"); /* UTF-8 stays */
	check_str_eq(vdi_log_safe("0123456789abcdefghij", out, sizeof(out)), "0123456789abcde");
	check_str_eq(vdi_log_safe(NULL, out, sizeof(out)), "");
	/* Bidi overrides and isolates, line separators, C1 controls: one '?' each. */
	check_str_eq(vdi_log_safe("a\xe2\x80\xae" "b\xe2\x81\xa6" "c", out, sizeof(out)), "a?b?c");
	check_str_eq(vdi_log_safe("x\xe2\x80\xa8" "y\xc2\x85" "z", out, sizeof(out)), "x?y?z");
	/* Not UTF-8: a lone continuation byte, an overlong '/', a cut sequence, a surrogate. */
	check_str_eq(vdi_log_safe("\x80\xc0\xaf\xe2\x80", out, sizeof(out)), "?????");
	check_str_eq(vdi_log_safe("\xed\xa0\x80" "!", out, sizeof(out)), "??" "?!");
	/* A penguin is fine; truncation never cuts it in half. */
	check_str_eq(vdi_log_safe("\xf0\x9f\x90\xa7", out, sizeof(out)), "\xf0\x9f\x90\xa7");
	check_str_eq(vdi_log_safe("0123456789ab\xf0\x9f\x90\xa7", out, sizeof(out)), "0123456789ab");
	check_str_eq(vdi_log_safe("x", out, 0), "");
}

static void test_log_errno_returns_its_argument(void)
{
	vdi_log_set_max_priority(LOG_EMERG); /* quiet */
	check_int_eq(vdi_log_errno(LOG_ERR, -ENOENT, "missing: %m"), -ENOENT);
	check_int_eq(vdi_log_get_max_priority(), LOG_EMERG);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_log_safe),
	VDI_TEST(test_log_errno_returns_its_argument),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
