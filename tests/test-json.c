/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "json.h"

static int parse(const char *text, bool want_object, json_t **ret, struct vdi_error *err)
{
	return vdi_json_parse(text, strlen(text), want_object, ret, err);
}

static void test_parse_good_and_dump(void)
{
	_cleanup_json_ json_t *j = NULL;
	_cleanup_free_ char *s = NULL;
	struct vdi_error err = { 0 };

	check_ok(parse(" {\"username\": \"\\u00e9mile\", \"n\": [1, 2, {\"x\": null}]} ", true, &j, &err));
	check_ok(vdi_json_dump(j, &s));
	check_str_eq(s, "{\"username\":\"\xc3\xa9mile\",\"n\":[1,2,{\"x\":null}]}");
}

static void test_parse_bad(void)
{
	json_t *j = NULL;
	struct vdi_error err = { 0 };

	check_err(parse("{\"a\": ", true, &j, &err), EINVAL);
	check_str_contains(err.message, "malformed JSON at line 1");
	check_err(parse("", true, &j, &err), EINVAL);
	check_err(parse("[1, 2]", true, &j, &err), EINVAL);
	check_str_contains(err.message, "must be a JSON object");
	check_err(parse("\"text\"", true, &j, &err), EINVAL);
	check_err(parse("{\"a\": 1, \"a\": 2}", true, &j, &err), EINVAL);
	check_str_contains(err.message, "duplicate");
	/* Invalid UTF-8 and NUL in strings. */
	check_err(parse("{\"a\": \"\xc3\x28\"}", true, &j, &err), EINVAL);
	check_err(parse("{\"a\": \"x\\u0000y\"}", true, &j, &err), EINVAL);
	check_err(vdi_json_parse("{\"a\":1}\0{", 9, true, &j, &err), EINVAL);
	/* Arrays are fine where asked for. */
	check_ok(parse("[1]", false, &j, &err));
	json_decref(j);
}

static void test_depth_limit(void)
{
	struct vdi_error err = { 0 };
	char deep[256] = "";
	json_t *j = NULL;
	int levels;

	for (levels = 0; levels < VDI_JSON_MAX_DEPTH; levels++)
		strcat(deep, "[");
	strcat(deep, "1");
	for (int i = 0; i < VDI_JSON_MAX_DEPTH; i++)
		strcat(deep, "]");
	check_ok(parse(deep, false, &j, &err));
	json_decref(j);

	memmove(deep + 1, deep, strlen(deep) + 1);
	deep[0] = '[';
	strcat(deep, "]");
	check_err(parse(deep, false, &j, &err), EINVAL);
	check_str_contains(err.message, "nested deeper than 16");
}

static void test_getters(void)
{
	_cleanup_json_ json_t *j = NULL;
	const char *s = "unset";
	int64_t i = -1;
	bool b = false;
	struct vdi_error err = { 0 };

	check_ok(parse("{\"user\": \"ann\", \"size\": 10, \"big\": 9223372036854775807, \"flag\": true, "
		       "\"num\": \"10\", \"nul\": null, \"f\": 1.5}", true, &j, &err));

	check_ok(vdi_json_get_string(j, "user", true, &s, &err));
	check_str_eq(s, "ann");
	check_err(vdi_json_get_string(j, "size", true, &s, &err), EINVAL);
	check_str_eq(err.message, "\"size\" must be a string");
	check_err(vdi_json_get_string(j, "password", true, &s, &err), ENOENT);
	check_str_eq(err.message, "\"password\" is required");
	s = "kept";
	check_ok(vdi_json_get_string(j, "password", false, &s, &err));
	check_str_eq(s, "kept");
	/* null counts as absent */
	check_err(vdi_json_get_string(j, "nul", true, &s, &err), ENOENT);

	check_ok(vdi_json_get_int(j, "size", true, 1, 100, &i, &err));
	check_int_eq(i, 10);
	check_err(vdi_json_get_int(j, "size", true, 11, 100, &i, &err), EINVAL);
	check_str_eq(err.message, "\"size\" must be between 11 and 100");
	check_err(vdi_json_get_int(j, "num", true, 0, 100, &i, &err), EINVAL);
	check_str_eq(err.message, "\"num\" must be a whole number");
	check_err(vdi_json_get_int(j, "f", true, 0, 100, &i, &err), EINVAL);
	check_ok(vdi_json_get_int(j, "big", true, 0, INT64_MAX, &i, &err));
	check_int_eq(i, INT64_MAX);

	check_ok(vdi_json_get_bool(j, "flag", true, &b, &err));
	check(b);
	check_err(vdi_json_get_bool(j, "user", true, &b, &err), EINVAL);
	check_str_eq(err.message, "\"user\" must be true or false");
}

static void test_big_numbers_and_members(void)
{
	_cleanup_json_ json_t *j = NULL;
	static const char *const allowed[] = { "username", "password", NULL };
	struct vdi_error err = { 0 };
	json_t *k = NULL;

	/* Beyond int64: jansson refuses rather than wrapping. */
	check_err(parse("{\"n\": 99999999999999999999}", true, &k, &err), EINVAL);
	check_ok(parse("{\"username\": \"a\", \"password\": \"b\"}", true, &j, &err));
	check_ok(vdi_json_check_members(j, allowed, &err));
	json_decref(j);
	check_ok(parse("{\"username\": \"a\", \"admin\": true}", true, &j, &err));
	check_err(vdi_json_check_members(j, allowed, &err), EINVAL);
	check_str_eq(err.message, "unknown member \"admin\"");
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_parse_good_and_dump),
	VDI_TEST(test_parse_bad),
	VDI_TEST(test_depth_limit),
	VDI_TEST(test_getters),
	VDI_TEST(test_big_numbers_and_members),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
