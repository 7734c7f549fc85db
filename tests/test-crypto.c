/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "crypto.h"
#include "harness.h"

static void test_sha256_known_answers(void)
{
	uint8_t h[VDI_SHA256_LEN];
	char hex[2 * VDI_SHA256_LEN + 1];

	/* FIPS 180-2 test vectors. */
	check_ok(vdi_sha256("abc", 3, h));
	vdi_hex(h, sizeof(h), hex);
	check_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_ok(vdi_sha256("", 0, h));
	vdi_hex(h, sizeof(h), hex);
	check_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hex_and_const_eq(void)
{
	const uint8_t raw[] = { 0x00, 0x0f, 0xa5, 0xff };
	char hex[9];

	vdi_hex(raw, sizeof(raw), hex);
	check_str_eq(hex, "000fa5ff");
	check(vdi_const_eq("abcd", "abcd", 4));
	check(!vdi_const_eq("abcd", "abce", 4));
	check(!vdi_const_eq("xbcd", "abcd", 4));
	check(vdi_const_eq("", "", 0));
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_sha256_known_answers),
	VDI_TEST(test_hex_and_const_eq),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
