/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <stdio.h>

#include "harness.h"
#include "random.h"

static void test_random_id_alphabet_and_length(void)
{
	char a[65], b[65];

	check_ok(vdi_random_id(a, 64));
	check_ok(vdi_random_id(b, 64));
	check_int_eq(strlen(a), 64);
	for (size_t i = 0; i < 64; i++)
		check(isalnum((unsigned char)a[i]));
	/* 2^-380 chance of a false failure. */
	check(strcmp(a, b) != 0);
}

static void test_random_id_uses_whole_alphabet(void)
{
	char buf[4001];
	int seen[256] = { 0 };
	int distinct = 0;

	check_ok(vdi_random_id(buf, 4000));
	for (size_t i = 0; i < 4000; i++)
		seen[(unsigned char)buf[i]]++;
	for (int c = 0; c < 256; c++)
		if (seen[c])
			distinct++;
	check_int_eq(distinct, 62);
}

static void test_random_uuid_format(void)
{
	char u[37];

	check_ok(vdi_random_uuid(u));
	check_int_eq(strlen(u), 36);
	check(u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
	check(u[14] == '4');
	check(strchr("89ab", u[19]) != NULL);
}

static void test_random_mac_format(void)
{
	char m[18];
	unsigned a, b, c, d, e, f;

	check_ok(vdi_random_mac(m));
	check_int_eq(sscanf(m, "%2x:%2x:%2x:%2x:%2x:%2x", &a, &b, &c, &d, &e, &f), 6);
	check(a == 0x52 && b == 0x54 && c == 0x00);
	check_int_eq(strlen(m), 17);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_random_id_alphabet_and_length),
	VDI_TEST(test_random_id_uses_whole_alphabet),
	VDI_TEST(test_random_uuid_format),
	VDI_TEST(test_random_mac_format),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
