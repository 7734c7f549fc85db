/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdictl's pieces with logic: strict numbers, times, URL encoding, table
 * cells and tables, HTTP reply parsing, and the client and the template
 * publish/rollback commands against a fake broker on a unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "ctl.h"
#include "harness.h"
#include "http.h"
#include "table.h"
#include "text.h"

static void set_tz(const char *tz)
{
	check(setenv("TZ", tz, 1) == 0);
	tzset();
}

static void test_parse_uint(void)
{
	uint64_t v = 7;

	check_ok(ctl_parse_uint("0", 0, 10, &v));
	check_int_eq(v, 0);
	check_ok(ctl_parse_uint("42", 0, 100, &v));
	check_int_eq(v, 42);
	check_ok(ctl_parse_uint("007", 0, 100, &v));
	check_int_eq(v, 7);
	check_ok(ctl_parse_uint("18446744073709551615", 0, UINT64_MAX, &v));
	check(v == UINT64_MAX);

	v = 99;
	check_err(ctl_parse_uint("", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("+1", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("-1", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint(" 1", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("1 ", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("1x", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("0x10", 0, 100, &v), EINVAL);
	check_err(ctl_parse_uint("1e3", 0, 10000, &v), EINVAL);
	check_err(ctl_parse_uint("3.0", 0, 10, &v), EINVAL);
	check_int_eq(v, 99);

	check_err(ctl_parse_uint("11", 0, 10, &v), ERANGE);
	check_err(ctl_parse_uint("0", 1, 10, &v), ERANGE);
	check_err(ctl_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), ERANGE);
	check_err(ctl_parse_uint("99999999999999999999999999", 0, UINT64_MAX, &v), ERANGE);
	/* Overflowing text that is not a number is still bad text. */
	check_err(ctl_parse_uint("99999999999999999999999999x", 0, UINT64_MAX, &v), EINVAL);
	check_int_eq(v, 99);
}

static void test_parse_time_utc(void)
{
	int64_t t = -1;

	set_tz("UTC");
	check_ok(ctl_parse_time("0", &t));
	check_int_eq(t, 0);
	check_ok(ctl_parse_time("1700000000", &t));
	check_int_eq(t, 1700000000);
	check_ok(ctl_parse_time("2024-03-01", &t));
	check_int_eq(t, 1709251200);
	check_ok(ctl_parse_time("2024-03-01T12:30", &t));
	check_int_eq(t, 1709251200 + 12 * 3600 + 30 * 60);
	check_ok(ctl_parse_time("2024-03-01T12:30:15", &t));
	check_int_eq(t, 1709251200 + 12 * 3600 + 30 * 60 + 15);
	/* As the tables print it. */
	check_ok(ctl_parse_time("2024-03-01 12:30:15", &t));
	check_int_eq(t, 1709251200 + 12 * 3600 + 30 * 60 + 15);
	check_ok(ctl_parse_time("2024-02-29", &t));
	check_ok(ctl_parse_time("9999-12-31T23:59:59", &t));
	check_int_eq(t, CTL_TIME_MAX);

	t = 5;
	check_err(ctl_parse_time("", &t), EINVAL);
	check_err(ctl_parse_time("yesterday", &t), EINVAL);
	check_err(ctl_parse_time("-5", &t), EINVAL);
	check_err(ctl_parse_time("253402300800", &t), EINVAL);
	check_err(ctl_parse_time("2023-02-29", &t), EINVAL);
	check_err(ctl_parse_time("2024-02-30", &t), EINVAL);
	check_err(ctl_parse_time("2024-04-31", &t), EINVAL);
	check_err(ctl_parse_time("2024-13-01", &t), EINVAL);
	check_err(ctl_parse_time("2024-00-01", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-00", &t), EINVAL);
	check_err(ctl_parse_time("2024-3-1", &t), EINVAL);
	check_err(ctl_parse_time("24-03-01", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:3", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T24:00", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:60", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:30:60", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:30:15Z", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:30:15+01:00", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01x12:30", &t), EINVAL);
	check_err(ctl_parse_time("1969-12-31T23:59:59", &t), EINVAL);
	check_int_eq(t, 5);
}

static void test_parse_time_local(void)
{
	char buf[32];
	int64_t t;

	/* Central European time, spelled out so that no tzdata is needed. */
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	check_ok(ctl_parse_time("2024-07-01T12:00", &t));
	check_int_eq(t, 1719828000); /* 10:00 UTC */
	check_ok(ctl_parse_time("2024-01-15", &t));
	check_int_eq(t, 1705273200); /* 2024-01-14 23:00 UTC */
	check_str_eq(ctl_format_time(t, buf, sizeof(buf)), "2024-01-15 00:00:00");
	/* 02:30 does not exist on the night the clocks go forward. */
	check_err(ctl_parse_time("2024-03-31T02:30", &t), EINVAL);
	check_ok(ctl_parse_time("2024-03-31T03:30", &t));
	check_int_eq(t, 1711848600);
	/* Unix seconds are not local. */
	check_ok(ctl_parse_time("1719828000", &t));
	check_int_eq(t, 1719828000);
}

/* template publish --at: the forms of TIME, against a given now. */
static void test_parse_at(void)
{
	const int64_t now = 1709283600; /* 2024-03-01 09:00:00 UTC */
	struct vdi_error err = { 0 };
	int64_t t = -1;

	set_tz("UTC");
	check_ok(ctl_parse_at("2024-03-01 12:30", now, &t, &err));
	check_int_eq(t, 1709296200);
	check_ok(ctl_parse_at("2024-03-01 12:30:15", now, &t, &err));
	check_int_eq(t, 1709296215);
	check_ok(ctl_parse_at("2024-03-01T12:30", now, &t, &err));
	check_int_eq(t, 1709296200);
	check_ok(ctl_parse_at("@1800000000", now, &t, &err));
	check_int_eq(t, 1800000000);
	/* Now itself is not the past. */
	check_ok(ctl_parse_at("@1709283600", now, &t, &err));
	check_int_eq(t, now);
	check_ok(ctl_parse_at("2024-03-01 09:00", now, &t, &err));
	check_int_eq(t, now);

	/* HH:MM: today while it is to come, else tomorrow. */
	check_ok(ctl_parse_at("12:30", now, &t, &err));
	check_int_eq(t, 1709296200);
	check_ok(ctl_parse_at("09:00", now, &t, &err));
	check_int_eq(t, now);
	check_ok(ctl_parse_at("08:59", now, &t, &err));
	check_int_eq(t, 1709283600 + 86400 - 60);
	check_ok(ctl_parse_at("00:00", now, &t, &err));
	check_int_eq(t, 1709337600); /* 2024-03-02 00:00 */
	check_ok(ctl_parse_at("23:59", now, &t, &err));
	check_int_eq(t, 1709337600 - 60);
	check_ok(ctl_parse_at("09:00", now + 1, &t, &err));
	check_int_eq(t, 1709370000); /* 2024-03-02 09:00 */
	/* Past the end of the month and the year. */
	check_ok(ctl_parse_at("00:10", 1709251200 - 1800, &t, &err)); /* 2024-02-29 23:30 */
	check_int_eq(t, 1709251200 + 600);
	check_ok(ctl_parse_at("00:30", 1704067200 - 60, &t, &err)); /* 2023-12-31 23:59 */
	check_int_eq(t, 1704067200 + 1800);
}

/* Bad forms of TIME: -EINVAL, a message that says what is wrong, *ret untouched. */
static void test_parse_at_bad(void)
{
	static const struct {
		const char *s, *message;
	} bad[] = {
		{ "", "is not a time: give YYYY-MM-DD HH:MM[:SS] or HH:MM (local time), or @SECONDS (unix time)" },
		{ "tomorrow", "\"tomorrow\" is not a time: give YYYY-MM-DD HH:MM[:SS] or HH:MM" },
		{ "2024-03-01 12:30 ", "is not a time: give" },
		{ "2024-03-01  12:30", "is not a time: give" },
		{ "2024-03-01 12", "is not a time: give" },
		{ "2024-03-01 12:30:1", "is not a time: give" },
		{ "2024-03-01 12:30Z", "is not a time: give" },
		{ "2024-3-1 12:30", "is not a time: give" },
		{ "9:30", "\"9:30\" is not a time: give" },
		{ "09:30:00", "is not a time: give" },
		{ "09.30", "is not a time: give" },
		{ "-1", "is not a time: give" },
		{ "1700000000", "\"1700000000\" is not a time: unix seconds are written @1700000000" },
		{ "2024-03-02", "\"2024-03-02\" has no time of day: give YYYY-MM-DD HH:MM" },
		{ "24:00", "\"24:00\" is not a time of day (00:00 to 23:59)" },
		{ "12:60", "is not a time of day" },
		{ "2024-02-30 12:00", "there is no \"2024-02-30 12:00\" in local time" },
		{ "2024-03-01 24:00", "there is no \"2024-03-01 24:00\" in local time" },
		{ "2024-03-01 12:00:60", "there is no" },
		{ "@", "\"@\": @ takes unix seconds, a whole number up to 253402300799" },
		{ "@-5", "@ takes unix seconds" },
		{ "@1e9", "@ takes unix seconds" },
		{ "@ 1800000000", "@ takes unix seconds" },
		{ "@253402300800", "@ takes unix seconds" },
		{ "@1709283599", "\"@1709283599\" is in the past" },
		{ "@0", "is in the past" },
		{ "2024-03-01 08:59:59", "\"2024-03-01 08:59:59\" is in the past" },
		{ "2023-12-31 23:00", "is in the past" },
	};
	int64_t t = 5;

	set_tz("UTC");
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct vdi_error err = { 0 };

		vdi_test_log("%s", bad[i].s);
		check_err(ctl_parse_at(bad[i].s, 1709283600, &t, &err), EINVAL);
		check_str_contains(err.message, bad[i].message);
	}
	check_int_eq(t, 5);
	/* No message wanted. */
	check_err(ctl_parse_at("nope", 1709283600, &t, NULL), EINVAL);
}

/* TIME in local time: the zone's offset, and the night the clocks go forward. */
static void test_parse_at_local(void)
{
	struct vdi_error err = { 0 };
	int64_t t;

	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	/* 2024-07-01 23:30 CEST: the next 00:15 and 12:00 are tomorrow's, local. */
	check_ok(ctl_parse_at("00:15", 1719869400, &t, &err));
	check_int_eq(t, 1719872100);
	check_ok(ctl_parse_at("12:00", 1719869400, &t, &err));
	check_int_eq(t, 1719914400);
	check_ok(ctl_parse_at("2024-07-02 12:00", 1719869400, &t, &err));
	check_int_eq(t, 1719914400);
	/* 2024-03-31 00:00 CET: there is no 02:30 that night; the next is on April 1 (CEST). */
	check_ok(ctl_parse_at("02:30", 1711839600, &t, &err));
	check_int_eq(t, 1711931400);
	check_err(ctl_parse_at("2024-03-31 02:30", 1711839600, &t, &err), EINVAL);
	check_str_contains(err.message, "an hour the clocks skip");
	/* Unix seconds are not local. */
	check_ok(ctl_parse_at("@1719914400", 1719869400, &t, &err));
	check_int_eq(t, 1719914400);
}

static void test_format_time(void)
{
	char buf[32];

	set_tz("UTC");
	check_str_eq(ctl_format_time(0, buf, sizeof(buf)), "1970-01-01 00:00:00");
	check_str_eq(ctl_format_time(1709298615, buf, sizeof(buf)), "2024-03-01 13:10:15");
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	check_str_eq(ctl_format_time(1719828000, buf, sizeof(buf)), "2024-07-01 12:00:00");
}

static void test_url_encode(void)
{
	char *s;

	check_ok(ctl_url_encode("AZaz09-._~", &s));
	check_str_eq(s, "AZaz09-._~");
	free(s);
	check_ok(ctl_url_encode("a b/c?d=e&f#g+h%", &s));
	check_str_eq(s, "a%20b%2Fc%3Fd%3De%26f%23g%2Bh%25");
	free(s);
	check_ok(ctl_url_encode("\xc3\xa9t\xc3\xa9", &s));
	check_str_eq(s, "%C3%A9t%C3%A9");
	free(s);
	check_ok(ctl_url_encode("", &s));
	check_str_eq(s, "");
	free(s);
	check_ok(ctl_url_encode("..", &s));
	check_str_eq(s, "..");
	free(s);
}

static void test_query_append(void)
{
	char *q = strdup("/audit");

	check(q);
	check_ok(ctl_query_append(&q, "user", "ann b"));
	check_str_eq(q, "/audit?user=ann%20b");
	check_ok(ctl_query_append(&q, "action", "pool-create"));
	check_ok(ctl_query_append(&q, "object", "a&b=c"));
	check_str_eq(q, "/audit?user=ann%20b&action=pool-create&object=a%26b%3Dc");
	free(q);
}

static void test_cells(void)
{
	json_t *j = json_loads("{\"s\":\"text\",\"i\":42,\"neg\":-3,\"t\":true,\"f\":false,\"n\":null,"
			       "\"a\":[\"g1\",\"g2\"],\"e\":[],\"o\":{\"k\":1},\"r\":1.5,\"mixed\":[1,\"x\"]}",
			       0, NULL);
	char buf[64], small[6];

	check(j);
	check_str_eq(ctl_cell(json_object_get(j, "s"), buf, sizeof(buf)), "text");
	check_str_eq(ctl_cell(json_object_get(j, "i"), buf, sizeof(buf)), "42");
	check_str_eq(ctl_cell(json_object_get(j, "neg"), buf, sizeof(buf)), "-3");
	check_str_eq(ctl_cell(json_object_get(j, "t"), buf, sizeof(buf)), "yes");
	check_str_eq(ctl_cell(json_object_get(j, "f"), buf, sizeof(buf)), "no");
	check_str_eq(ctl_cell(json_object_get(j, "n"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell(json_object_get(j, "missing"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell(json_object_get(j, "a"), buf, sizeof(buf)), "g1,g2");
	check_str_eq(ctl_cell(json_object_get(j, "e"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell(json_object_get(j, "o"), buf, sizeof(buf)), "{\"k\":1}");
	check_str_eq(ctl_cell(json_object_get(j, "r"), buf, sizeof(buf)), "1.5");
	check_str_eq(ctl_cell(json_object_get(j, "mixed"), buf, sizeof(buf)), "1,x");
	/* Cut to the buffer, never inside a UTF-8 character. */
	check_str_eq(ctl_cell(json_object_get(j, "a"), small, sizeof(small)), "g1,g2");
	json_decref(j);
	j = json_string("ab\xc3\xa9\xc3\xa9");
	check_str_eq(ctl_cell(j, small, sizeof(small)), "ab\xc3\xa9");
	json_decref(j);
	j = json_string("abcdefgh");
	check_str_eq(ctl_cell(j, small, sizeof(small)), "abcde");
	json_decref(j);

	/* A desktop's guest agent: host name and users; none (null) as "-". */
	j = json_loads("{\"both\":{\"hostname\":\"vdi-guest\",\"users\":[\"ann\",\"bob\"]},"
		       "\"host\":{\"hostname\":\"h\",\"users\":[]},\"users\":{\"hostname\":null,\"users\":[\"ann\"]},"
		       "\"none\":null}", 0, NULL);
	check(j);
	check_str_eq(ctl_cell_guest(json_object_get(j, "both"), buf, sizeof(buf)), "vdi-guest (ann,bob)");
	check_str_eq(ctl_cell_guest(json_object_get(j, "host"), buf, sizeof(buf)), "h");
	check_str_eq(ctl_cell_guest(json_object_get(j, "users"), buf, sizeof(buf)), "? (ann)");
	check_str_eq(ctl_cell_guest(json_object_get(j, "none"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell_guest(json_object_get(j, "missing"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell_guest(json_object_get(j, "both"), small, sizeof(small)), "vdi-g");
	json_decref(j);
}

static void test_cell_time(void)
{
	char buf[32];
	json_t *j;

	set_tz("UTC");
	j = json_integer(1709298615);
	check_str_eq(ctl_cell_time(j, buf, sizeof(buf)), "2024-03-01 13:10:15");
	json_decref(j);
	j = json_integer(0);
	check_str_eq(ctl_cell_time(j, buf, sizeof(buf)), "-");
	json_decref(j);
	j = json_null();
	check_str_eq(ctl_cell_time(j, buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell_time(NULL, buf, sizeof(buf)), "-");
}

static void test_cell_counts(void)
{
	json_t *j = json_loads("{\"weird\":1,\"assigned\":2,\"error\":0,\"free\":3,\"stopped\":1}", 0, NULL);
	char buf[128], small[12];

	check(j);
	check_str_eq(ctl_cell_counts(j, buf, sizeof(buf)), "stopped 1, free 3, assigned 2, weird 1");
	check_str_eq(ctl_cell_counts(j, small, sizeof(small)), "stopped 1, ");
	json_decref(j);
	j = json_object();
	check_str_eq(ctl_cell_counts(j, buf, sizeof(buf)), "none");
	json_decref(j);
	j = json_loads("{\"free\":0}", 0, NULL);
	check_str_eq(ctl_cell_counts(j, buf, sizeof(buf)), "none");
	json_decref(j);
	check_str_eq(ctl_cell_counts(NULL, buf, sizeof(buf)), "none");
}

static void test_cell_versions(void)
{
	json_t *j = json_loads("[{\"version\":5,\"state\":\"scheduled\",\"at\":1709296200,\"owned\":true},"
			       "{\"version\":4,\"state\":\"making\",\"owned\":true},"
			       "{\"version\":3,\"state\":\"ready\",\"owned\":true,\"current\":true},"
			       "{\"version\":2,\"state\":\"deleted\",\"owned\":true,\"disk\":null},"
			       "{\"version\":1,\"state\":\"ready\",\"owned\":false}]",
			       0, NULL);
	json_t *old = json_loads("[{\"version\":2,\"note\":\"x\"},{\"version\":1}]", 0, NULL);
	json_t *gone = json_loads("[{\"version\":2,\"state\":\"deleted\"},{\"version\":1,\"state\":\"deleted\"}]", 0,
				  NULL);
	char buf[256], small[12];

	check(j && old && gone);
	set_tz("UTC");
	check_str_eq(ctl_cell_version_state(json_array_get(j, 0), buf, sizeof(buf)), "scheduled 2024-03-01 12:30:00");
	check_str_eq(ctl_cell_version_state(json_array_get(j, 1), buf, sizeof(buf)), "making");
	check_str_eq(ctl_cell_version_state(json_array_get(j, 2), buf, sizeof(buf)), "ready");
	check_str_eq(ctl_cell_version_state(json_array_get(j, 3), buf, sizeof(buf)), "deleted");
	/* A broker that says no state. */
	check_str_eq(ctl_cell_version_state(json_array_get(old, 0), buf, sizeof(buf)), "-");

	check_str_eq(ctl_cell_versions(j, buf, sizeof(buf)),
		     "v5 scheduled 2024-03-01 12:30:00, v4 making, v3 ready, v1 ready (not owned), +1 deleted");
	check_str_eq(ctl_cell_versions(old, buf, sizeof(buf)), "v2, v1");
	check_str_eq(ctl_cell_versions(gone, buf, sizeof(buf)), "+2 deleted");
	check_str_eq(ctl_cell_versions(NULL, buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell_versions(j, small, sizeof(small)), "v5 schedule");
	json_decref(j);
	json_decref(old);
	json_decref(gone);
}

static void test_table(void)
{
	static const struct ctl_column columns[] = { { "ID", true }, { "NAME" }, { "NOTE" } };
	_cleanup_(ctl_table_freep) struct ctl_table *t = NULL;
	const char *r1[] = { "7", "lab", "first" };
	const char *r2[] = { "1234", "caf\xc3\xa9", NULL };
	const char *r3[] = { "9", "a\tb\x1b[31m", "" };
	const char *r4[] = { "10", ("x\xc2\x9b" "1m"), "last" };
	char *text;

	check_ok(ctl_table_new(columns, ELEMENTSOF(columns), &t));
	check_ok(ctl_table_format(t, &text));
	check_str_eq(text, "ID  NAME  NOTE\n");
	free(text);

	check_ok(ctl_table_add_row(t, r1));
	check_ok(ctl_table_add_row(t, r2));
	check_ok(ctl_table_add_row(t, r3));
	check_ok(ctl_table_add_row(t, r4));
	check_ok(ctl_table_format(t, &text));
	/* Right-aligned ids, widths in characters, control characters as '?', no blanks at line ends. */
	check_str_eq(text,
		     "  ID  NAME      NOTE\n"
		     "   7  lab       first\n"
		     "1234  caf\xc3\xa9      -\n"
		     "   9  a?b?[31m\n"
		     "  10  x?1m      last\n");
	free(text);
	check(ctl_table_free(NULL) == NULL);
}

/* ---- HTTP replies ------------------------------------------------------------- */

static int parse(const char *text, bool eof, struct ctl_http_reply *r)
{
	return ctl_http_parse_reply(text, strlen(text), eof, r);
}

static void test_reply_content_length(void)
{
	const char *text = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n"
			   "{\"a\":true}\nEXTRA";
	struct ctl_http_reply r;

	check_ok(parse(text, false, &r));
	check_int_eq(r.status, 201);
	check_int_eq(r.body_len, 11);
	check_str_eq(r.body, "{\"a\":true}\n");
	ctl_http_reply_finish(&r);
	ctl_http_reply_finish(&r);

	/* Not all there yet; cut short. */
	check_err(ctl_http_parse_reply(text, 60, false, &r), EAGAIN);
	check_err(ctl_http_parse_reply(text, 60, true, &r), EBADMSG);
	check_err(ctl_http_parse_reply(text, 20, false, &r), EAGAIN);
	check_err(ctl_http_parse_reply(text, 20, true, &r), EBADMSG);
	check_err(ctl_http_parse_reply(text, 0, true, &r), EBADMSG);
	check(!r.body);

	/* No reason phrase, HTTP/1.0, empty body. */
	check_ok(parse("HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n", false, &r));
	check_int_eq(r.status, 404);
	check_str_eq(r.body, "");
	ctl_http_reply_finish(&r);
}

static void test_reply_to_eof(void)
{
	const char *text = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n{\"pools\":[]}";
	struct ctl_http_reply r;

	check_err(parse(text, false, &r), EAGAIN);
	check_ok(parse(text, true, &r));
	check_int_eq(r.status, 200);
	check_str_eq(r.body, "{\"pools\":[]}");
	ctl_http_reply_finish(&r);

	/* 204 has no body whatever follows. */
	check_ok(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &r));
	check_int_eq(r.body_len, 0);
	ctl_http_reply_finish(&r);
}

static void test_reply_chunked(void)
{
	const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
			   "4\r\n{\"a\"\r\nA;ext=1\r\n:[1,2,3]}\n\r\n0\r\nTrailer: x\r\n\r\n";
	struct ctl_http_reply r;

	check_ok(parse(text, false, &r));
	check_str_eq(r.body, "{\"a\":[1,2,3]}\n");
	check_int_eq(r.body_len, 14);
	ctl_http_reply_finish(&r);
	for (size_t n = 50; n < strlen(text); n++) {
		check_err(ctl_http_parse_reply(text, n, false, &r), EAGAIN);
		check_err(ctl_http_parse_reply(text, n, true, &r), EBADMSG);
	}
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true, &r), EBADMSG);
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", true, &r),
		  EBADMSG);
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", true, &r),
		  EMSGSIZE);
}

static void test_reply_interim(void)
{
	struct ctl_http_reply r;

	check_ok(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}", false,
		       &r));
	check_int_eq(r.status, 409);
	check_str_eq(r.body, "{}");
	ctl_http_reply_finish(&r);
	check_err(parse("HTTP/1.1 100 Continue\r\n\r\n", false, &r), EAGAIN);
	check_err(parse("HTTP/1.1 100 Continue\r\n\r\n", true, &r), EBADMSG);
}

static void test_reply_malformed(void)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Old\r\n\r\n",
		"HTTP/1.1 600 Odd\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
	};
	struct ctl_http_reply r;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int rc = parse(bad[i], true, &r);

		if (rc != -EBADMSG)
			vdi_test_fail(__FILE__, __LINE__, "accepted: %s (%d)", bad[i], rc);
		check(!r.body);
	}
	/* The same lengths twice are fine. */
	check_ok(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length:  2 \r\n\r\nab", true, &r));
	check_str_eq(r.body, "ab");
	ctl_http_reply_finish(&r);
}

/* ---- the client against a fake broker ---------------------------------------- */

struct fake {
	pid_t pid;
	char socket[256];
	char request[256]; /* the file where the fake writes what it got */
};

/* Listens on a unix socket in the temp dir; a child answers one connection with reply (len bytes). */
static void fake_start(struct fake *f, const char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(f->socket, sizeof(f->socket), "%s/admin.sock", vdi_test_tmpdir());
	snprintf(f->request, sizeof(f->request), "%s/request", vdi_test_tmpdir());
	check(strlen(f->socket) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->socket, strlen(f->socket) + 1);
	unlink(f->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(fd >= 0);
	check(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(fd, 4) == 0);
	f->pid = fork();
	check(f->pid >= 0);
	if (f->pid == 0) {
		static char buf[1 << 16];
		size_t got = 0;
		int c = accept(fd, NULL, NULL), out;
		const char *end = NULL;

		signal(SIGPIPE, SIG_IGN);
		if (c < 0)
			_exit(1);
		/* Read the head, then as much body as it announces. */
		while (got < sizeof(buf) - 1) {
			ssize_t n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
			const char *cl;

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
			cl = strstr(buf, "Content-Length: ");
			if (end && cl && got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
				break;
		}
		out = open(f->request, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (out < 0 || write(out, buf, got) != (ssize_t)got)
			_exit(1);
		close(out);
		(void)!send(c, reply, len, MSG_NOSIGNAL);
		close(c);
		_exit(0);
	}
	close(fd);
}

static char *fake_finish(struct fake *f)
{
	static char buf[1 << 16];
	int status, fd;
	ssize_t n;

	check(waitpid(f->pid, &status, 0) == f->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = open(f->request, O_RDONLY | O_CLOEXEC);
	check(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	check(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void test_request(void)
{
	const char *reply = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
			    "{\"name\":\"lab\"}\n";
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;
	char *req;

	fake_start(&f, reply, strlen(reply));
	check_ok(ctl_http_request(f.socket, "POST", "/api/v1/admin/pools", "{\"name\":\"lab\"}", &r, &err));
	check_int_eq(r.status, 201);
	check_str_eq(r.body, "{\"name\":\"lab\"}\n");
	ctl_http_reply_finish(&r);
	req = fake_finish(&f);
	check(startswith(req, "POST /api/v1/admin/pools HTTP/1.1\r\n"));
	check_str_contains(req, "\r\nHost: localhost\r\n");
	check_str_contains(req, "\r\nConnection: close\r\n");
	check_str_contains(req, "\r\nContent-Type: application/json\r\n");
	check_str_contains(req, "\r\nContent-Length: 14\r\n\r\n{\"name\":\"lab\"}");
	check(!strstr(req, "Cookie"));
	check(!strstr(req, "CSRF"));
}

static void test_request_get_to_eof(void)
{
	const char *reply = "HTTP/1.1 200 OK\r\n\r\n{\"hosts\":[]}";
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;
	char *req;

	fake_start(&f, reply, strlen(reply));
	check_ok(ctl_http_request(f.socket, "GET", "/api/v1/admin/hosts", NULL, &r, &err));
	check_int_eq(r.status, 200);
	check_str_eq(r.body, "{\"hosts\":[]}");
	ctl_http_reply_finish(&r);
	req = fake_finish(&f);
	check(startswith(req, "GET /api/v1/admin/hosts HTTP/1.1\r\n"));
	check_str_contains(req, "\r\nContent-Length: 0\r\n\r\n");
	check(!strstr(req, "Content-Type"));
}

static void test_request_too_big(void)
{
	size_t body = CTL_HTTP_MAX_REPLY + 1024;
	_cleanup_free_ char *reply = malloc(body + 128);
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;
	int n;

	check(reply);
	/* Refused as soon as the length is announced... */
	n = snprintf(reply, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
	memset(reply + n, 'x', body);
	fake_start(&f, reply, (size_t)n + body);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/audit", NULL, &r, &err), EMSGSIZE);
	check_str_contains(err.message, "longer than 4 MiB");
	check(!r.body);
	fake_finish(&f);

	/* ... or when too much has come. */
	n = snprintf(reply, 128, "HTTP/1.1 200 OK\r\n\r\n");
	memset(reply + n, 'x', body);
	fake_start(&f, reply, (size_t)n + body);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/audit", NULL, &r, &err), EMSGSIZE);
	check_str_contains(err.message, "longer than 4 MiB");
	check(!r.body);
	fake_finish(&f);

	check_err(parse("HTTP/1.1 200 OK\r\nContent-Length: 4194305\r\n\r\n", false, &r), EMSGSIZE);
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400001\r\n", false, &r), EMSGSIZE);
}

static void test_request_garbage_and_silence(void)
{
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;

	fake_start(&f, "garbage\r\n\r\n", 11);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/hosts", NULL, &r, &err), EBADMSG);
	check_str_contains(err.message, "malformed reply from the broker on ");
	fake_finish(&f);

	fake_start(&f, "", 0);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/hosts", NULL, &r, &err), EBADMSG);
	check_str_contains(err.message, "closed the connection");
	fake_finish(&f);
}

static void test_request_no_socket(void)
{
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	char path[300], longpath[200];

	snprintf(path, sizeof(path), "%s/nothing.sock", vdi_test_tmpdir());
	check_err(ctl_http_request(path, "GET", "/api/v1/admin/hosts", NULL, &r, &err), ENOENT);
	check_str_contains(err.message, "cannot connect to the socket ");
	check_str_contains(err.message, path);
	check_str_contains(err.message, "No such file or directory");

	/* A file that is not a socket. */
	check(close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == 0);
	check_err(ctl_http_request(path, "GET", "/api/v1/admin/hosts", NULL, &r, &err), ECONNREFUSED);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	check_err(ctl_http_request(longpath, "GET", "/", NULL, &r, &err), ENAMETOOLONG);
	check_str_contains(err.message, "too long");
}

/* ---- template publish and rollback against the fake broker ---------------- */

struct cmd_run {
	int status;
	char out[8192];
	char err[4096];
};

static void read_back(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	check(fd >= 0);
	n = read(fd, buf, len - 1);
	check(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Runs the command fn with ctl and the NULL-terminated arguments, its stdout and stderr caught in *res. */
static void __attribute__((sentinel)) run_cmd(struct cmd_run *res, int (*fn)(const struct ctl *, int, char **),
					      const struct ctl *ctl, ...)
{
	char out[300], err[300], *argv[32];
	int argc = 0, o, e, saved_out, saved_err;
	va_list ap;

	argv[argc++] = (char *)ctl->prog;
	va_start(ap, ctl);
	for (char *a = va_arg(ap, char *); a; a = va_arg(ap, char *)) {
		check(argc < (int)ELEMENTSOF(argv) - 1);
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	snprintf(out, sizeof(out), "%s/cmd.out", vdi_test_tmpdir());
	snprintf(err, sizeof(err), "%s/cmd.err", vdi_test_tmpdir());
	o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(o >= 0 && e >= 0);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	check(saved_out >= 0 && saved_err >= 0 && dup2(o, 1) == 1 && dup2(e, 2) == 2);
	res->status = fn(ctl, argc, argv);
	fflush(stdout);
	fflush(stderr);
	check(dup2(saved_out, 1) == 1 && dup2(saved_err, 2) == 2);
	close(saved_out);
	close(saved_err);
	close(o);
	close(e);
	read_back(out, res->out, sizeof(res->out));
	read_back(err, res->err, sizeof(res->err));
}

/* The JSON body of the request req (a new reference). */
static json_t *request_body(const char *req)
{
	const char *body = strstr(req, "\r\n\r\n");
	json_t *j;

	check(body);
	j = json_loads(body + 4, 0, NULL);
	if (!j)
		vdi_test_fail(__FILE__, __LINE__, "the request's body is not JSON: %s", body + 4);
	return j;
}

/* "HTTP/1.1 <status>" with body as JSON, into buf. */
static const char *http_reply(char *buf, size_t len, const char *status, const char *body)
{
	int n = snprintf(buf, len, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 status, strlen(body), body);

	check(n > 0 && (size_t)n < len);
	return buf;
}

static const struct ctl publish_ctl = {
	.prog = "vdictl template publish", .name = "template publish", .usage = "NAME --disk FILE",
};
static const struct ctl rollback_ctl = {
	.prog = "vdictl template rollback", .name = "template rollback", .usage = "NAME [--to VERSION]",
};

/* A relative --disk goes out absolute, with the note; the reply's current version is printed. */
static void test_publish(void)
{
	struct ctl ctl = publish_ctl;
	static struct cmd_run r;
	char reply[1024], disk[PATH_MAX + 32], dir[PATH_MAX];
	struct fake f;
	json_t *body;
	char *req;

	check(realpath(vdi_test_tmpdir(), dir));
	snprintf(disk, sizeof(disk), "%s/new.qcow2", dir);
	check(close(open(disk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == 0);
	check(chdir(vdi_test_tmpdir()) == 0);
	http_reply(reply, sizeof(reply), "201 Created",
		   "{\"name\":\"base\",\"version\":3,\"versions\":["
		   "{\"version\":3,\"state\":\"ready\",\"current\":true},"
		   "{\"version\":2,\"state\":\"ready\"}]}");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "new.qcow2", "--note", "December patches",
		NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_eq(r.out, "template \"base\" published (version 3)\n");
	check_str_eq(r.err, "");
	check(startswith(req, "POST /api/v1/admin/templates/base/publish HTTP/1.1\r\n"));
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "disk")), disk);
	check_str_eq(json_string_value(json_object_get(body, "note")), "December patches");
	check(!json_object_get(body, "at"));
	check_int_eq(json_object_size(body), 2);
	json_decref(body);

	/* --json: the broker's reply as it is. */
	fake_start(&f, reply, strlen(reply));
	ctl.json = true;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", disk, NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_contains(r.out, "\"version\": 3");
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "disk")), disk);
	check_int_eq(json_object_size(body), 1);
	json_decref(body);
}

/* --at goes out as unix seconds; the scheduled version is printed with its time. */
/* The broker's 202 to a publish of template base scheduled for t: version 3, from the maintenance desktop or not. */
static void scheduled_reply(char *reply, size_t len, int64_t t, bool from_maintenance)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"name\":\"base\",\"version\":2,\"versions\":[{\"version\":3,\"state\":\"scheduled\",\"at\":%lld,"
		 "\"from_maintenance\":%s},{\"version\":2,\"state\":\"ready\",\"current\":true}]}",
		 (long long)t, from_maintenance ? "true" : "false");
	http_reply(reply, len, "202 Accepted", text);
}

static void test_publish_at(void)
{
	struct ctl ctl = publish_ctl;
	static struct cmd_run r;
	char reply[1024], at[32], text[1024], when[32];
	int64_t t = (int64_t)time(NULL) + 7200;
	struct fake f;
	json_t *body;
	char *req;

	set_tz("UTC");
	snprintf(at, sizeof(at), "@%lld", (long long)t);
	scheduled_reply(reply, sizeof(reply), t, false);
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/srv/new.qcow2", "--at", at, NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	snprintf(text, sizeof(text), "template \"base\" version 3 scheduled for %s\n",
		 ctl_format_time(t, when, sizeof(when)));
	check_str_eq(r.out, text);
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "disk")), "/srv/new.qcow2");
	check(json_is_integer(json_object_get(body, "at")));
	check_int_eq(json_integer_value(json_object_get(body, "at")), t);
	json_decref(body);

	/* HH:MM: some time in the next day, sent as such. */
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/srv/new.qcow2", "--at", "03:00", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	body = request_body(req);
	t = json_integer_value(json_object_get(body, "at"));
	check(t >= (int64_t)time(NULL) - 5 && t <= (int64_t)time(NULL) + 86400);
	check_int_eq(t % 86400, 3 * 3600);
	json_decref(body);
}

static void test_publish_cancel(void)
{
	struct ctl ctl = publish_ctl;
	static struct cmd_run r;
	char reply[1024];
	struct fake f;
	char *req;

	http_reply(reply, sizeof(reply), "200 OK", "{\"name\":\"a b\",\"version\":2,\"versions\":[]}");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "a b", "--cancel", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_eq(r.out, "template \"a b\": the scheduled publish is cancelled\n");
	check(startswith(req, "DELETE /api/v1/admin/templates/a%20b/publish HTTP/1.1\r\n"));
	check_str_contains(req, "\r\nContent-Length: 0\r\n\r\n");

	/* None scheduled: the broker's message, exit 1. */
	http_reply(reply, sizeof(reply), "404 Not Found",
		   "{\"error\":\"no publish of template \\\"base\\\" is scheduled\"}");
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--cancel", NULL);
	fake_finish(&f);
	check_int_eq(r.status, 1);
	check_str_eq(r.out, "");
	check_str_eq(r.err, "vdictl: no publish of template \"base\" is scheduled\n");
}

/* The broker's refusals are printed as every command prints them. */
static void test_publish_refused(void)
{
	struct ctl ctl = publish_ctl;
	static struct cmd_run r;
	char reply[1024];
	struct fake f;

	http_reply(reply, sizeof(reply), "409 Conflict",
		   "{\"error\":\"/srv/new.qcow2 is in use by the domain vdi-lab-1\"}");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/srv/new.qcow2", NULL);
	fake_finish(&f);
	check_int_eq(r.status, 1);
	check_str_eq(r.out, "");
	check_str_eq(r.err, "vdictl: /srv/new.qcow2 is in use by the domain vdi-lab-1\n");

	http_reply(reply, sizeof(reply), "503 Service Unavailable", "{\"error\":\"no host answers\"}");
	fake_start(&f, reply, strlen(reply));
	ctl.json = true;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/srv/new.qcow2", NULL);
	fake_finish(&f);
	check_int_eq(r.status, 1);
	check_str_eq(r.out, "");
	check_str_eq(r.err, "vdictl: no host answers\n");
}

/* Usage errors: exit 2 and nothing sent (a broker that is not there would be exit 3). */
static void test_publish_usage(void)
{
	struct ctl ctl = publish_ctl;
	static struct cmd_run r;
	char sock[300];

	snprintf(sock, sizeof(sock), "%s/none.sock", vdi_test_tmpdir());
	ctl.socket = sock;
	check(chdir(vdi_test_tmpdir()) == 0);
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "needs --disk FILE (or --cancel)");
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "--disk", "/srv/new.qcow2", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "expects a template NAME");
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--cancel", "--disk", "/srv/new.qcow2", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "--cancel takes no --disk, --note or --at");
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--cancel", "--at", "03:00", NULL);
	check_int_eq(r.status, 2);
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/srv/new.qcow2", "--at", "25:00", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "vdictl: bad time for --at: \"25:00\" is not a time of day");
	check_str_contains(r.err, "Try 'vdictl template publish --help'.");
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/srv/new.qcow2", "--at", "2001-01-01 00:00",
		NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "is in the past");
	/* A relative disk that is not here cannot be made absolute with certainty. */
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "no/such.qcow2", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "--disk no/such.qcow2: No such file or directory");
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--help", NULL);
	check_int_eq(r.status, 0);
	check(startswith(r.out, "usage: vdictl template publish NAME"));
	/* An absolute one that is not here is the broker's to judge. */
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--disk", "/no/such.qcow2", NULL);
	check_int_eq(r.status, 3);
	check_str_contains(r.err, "cannot connect to the socket ");
}

static void test_rollback(void)
{
	struct ctl ctl = rollback_ctl;
	static struct cmd_run r;
	char reply[1024], sock[300];
	struct fake f;
	json_t *body;
	char *req;

	http_reply(reply, sizeof(reply), "200 OK", "{\"name\":\"base\",\"version\":2,\"versions\":[]}");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_rollback, &ctl, "base", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_eq(r.out, "template \"base\" rolled back to version 2\n");
	check(startswith(req, "POST /api/v1/admin/templates/base/rollback HTTP/1.1\r\n"));
	body = request_body(req);
	check(json_is_object(body) && json_object_size(body) == 0);
	json_decref(body);

	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_rollback, &ctl, "base", "--to", "2", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_int_eq(json_object_size(body), 1);
	check_int_eq(json_integer_value(json_object_get(body, "to")), 2);
	json_decref(body);

	http_reply(reply, sizeof(reply), "409 Conflict", "{\"error\":\"template \\\"base\\\" has no version 7\"}");
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_rollback, &ctl, "base", "--to", "7", NULL);
	fake_finish(&f);
	check_int_eq(r.status, 1);
	check_str_eq(r.out, "");
	check_str_eq(r.err, "vdictl: template \"base\" has no version 7\n");

	snprintf(sock, sizeof(sock), "%s/none.sock", vdi_test_tmpdir());
	ctl.socket = sock;
	run_cmd(&r, ctl_cmd_template_rollback, &ctl, "base", "--to", "0", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "bad number for --to: \"0\"");
	run_cmd(&r, ctl_cmd_template_rollback, &ctl, "base", "--to", "two", NULL);
	check_int_eq(r.status, 2);
	run_cmd(&r, ctl_cmd_template_rollback, &ctl, NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "expects a template NAME");
}

/* ---- template edit, console and publish --from-maintenance against the fake broker ---- */

/* publish --from-maintenance sends {"from_maintenance": true} and the note, no disk (with --at, its time);
 * refused with --disk or --cancel. */
static void test_publish_from_maintenance(void)
{
	struct ctl ctl = publish_ctl;
	static struct cmd_run r;
	char reply[1024], at[32], text[1024], when[32];
	int64_t t = (int64_t)time(NULL) + 7200;
	struct fake f;
	json_t *body;
	char *req;

	http_reply(reply, sizeof(reply), "201 Created", "{\"name\":\"base\",\"version\":2,\"versions\":[]}");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--from-maintenance", "--note", "m2", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_eq(r.out, "template \"base\" published (version 2)\n");
	check(startswith(req, "POST /api/v1/admin/templates/base/publish HTTP/1.1\r\n"));
	body = request_body(req);
	check(json_is_true(json_object_get(body, "from_maintenance")));
	check_str_eq(json_string_value(json_object_get(body, "note")), "m2");
	check_int_eq(json_object_size(body), 2);
	json_decref(body);

	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--from-maintenance", "--disk", "/srv/x.qcow2", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "not both");
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--from-maintenance", "--cancel", NULL);
	check_int_eq(r.status, 2);
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--from-maintenance", "--at", "tomorrow", NULL);
	check_int_eq(r.status, 2);
	check_str_contains(r.err, "bad time for --at");

	/* Scheduled: sent with its time; the broker's answer says when. */
	set_tz("UTC");
	snprintf(at, sizeof(at), "@%lld", (long long)t);
	scheduled_reply(reply, sizeof(reply), t, false);
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_publish, &ctl, "base", "--from-maintenance", "--at", at, NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	snprintf(text, sizeof(text), "template \"base\" version 3 scheduled for %s\n",
		 ctl_format_time(t, when, sizeof(when)));
	check_str_eq(r.out, text);
	body = request_body(req);
	check(json_is_true(json_object_get(body, "from_maintenance")));
	check_int_eq(json_integer_value(json_object_get(body, "at")), t);
	check_int_eq(json_object_size(body), 2);
	json_decref(body);
}

static const struct ctl edit_ctl = {
	.prog = "vdictl template edit", .name = "template edit", .usage = "NAME [--start | --discard]",
};
static const struct ctl console_ctl = {
	.prog = "vdictl template console", .name = "template console", .usage = "NAME [--vv FILE]",
};

/* edit POSTs .../edit, --start .../edit/start, --discard DELETEs .../edit; what came of it is printed. */
static void test_edit(void)
{
	struct ctl ctl = edit_ctl;
	static struct cmd_run r;
	char reply[1024];
	struct fake f;
	char *req;

	http_reply(reply, sizeof(reply), "201 Created",
		   "{\"id\":7,\"domain\":\"vdi-_maintenance-7\",\"state\":\"running\",\"host\":\"qemu:///system\","
		   "\"version\":3}");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_edit, &ctl, "a b", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_eq(r.out, "template \"a b\": maintenance desktop vdi-_maintenance-7 (running) on qemu:///system, "
			    "version 3\nopen its console with: vdictl template console a b --vv FILE\n");
	check(startswith(req, "POST /api/v1/admin/templates/a%20b/edit HTTP/1.1\r\n"));

	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_edit, &ctl, "base", "--start", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check(startswith(req, "POST /api/v1/admin/templates/base/edit/start HTTP/1.1\r\n"));

	http_reply(reply, sizeof(reply), "200 OK", "{\"name\":\"base\",\"maintenance\":null}");
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_edit, &ctl, "base", "--discard", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check_str_eq(r.out, "template \"base\": the maintenance desktop is discarded\n");
	check(startswith(req, "DELETE /api/v1/admin/templates/base/edit HTTP/1.1\r\n"));

	http_reply(reply, sizeof(reply), "409 Conflict",
		   "{\"error\":\"template \\\"base\\\" has a maintenance desktop already (running)\"}");
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_edit, &ctl, "base", NULL);
	fake_finish(&f);
	check_int_eq(r.status, 1);
	check_str_eq(r.err, "vdictl: template \"base\" has a maintenance desktop already (running)\n");

	run_cmd(&r, ctl_cmd_template_edit, &ctl, "base", "--start", "--discard", NULL);
	check_int_eq(r.status, 2);
	run_cmd(&r, ctl_cmd_template_edit, &ctl, NULL);
	check_int_eq(r.status, 2);
}

/* console --vv FILE writes the broker's .vv, for its owner only; without --vv the URL and password. */
static void test_console(void)
{
	struct ctl ctl = console_ctl;
	static struct cmd_run r;
	char reply[1024], path[600], text[256] = "";
	struct stat st;
	struct fake f;
	FILE *vv;
	char *req;

	snprintf(path, sizeof(path), "%s/m.vv", vdi_test_tmpdir());
	snprintf(reply, sizeof(reply),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/x-virt-viewer\r\nContent-Length: 29\r\n\r\n"
		 "[virt-viewer]\ntype=spice\nx=1\n");
	fake_start(&f, reply, strlen(reply));
	ctl.socket = f.socket;
	run_cmd(&r, ctl_cmd_template_console, &ctl, "base", "--vv", path, NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check(startswith(req, "GET /api/v1/admin/templates/base/edit/console.vv HTTP/1.1\r\n"));
	check_str_contains(r.out, " written: open it with remote-viewer ");
	check_int_eq(stat(path, &st), 0);
	check_int_eq(st.st_mode & 0777, 0600);
	check(vv = fopen(path, "re"));
	check_int_eq(fread(text, 1, sizeof(text) - 1, vv), 29);
	fclose(vv);
	check(startswith(text, "[virt-viewer]\ntype=spice\n"));

	http_reply(reply, sizeof(reply), "409 Conflict",
		   "{\"error\":\"the maintenance desktop of template \\\"base\\\" is not running (it is stopped)\"}");
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_console, &ctl, "base", "--vv", path, NULL);
	fake_finish(&f);
	check_int_eq(r.status, 1);
	check_str_contains(r.err, "is not running (it is stopped)");

	http_reply(reply, sizeof(reply), "200 OK",
		   "{\"url\":\"ws://gw:8081/spice?token=t\",\"token\":\"t\",\"password\":\"pw\",\"expires\":1800000000}");
	fake_start(&f, reply, strlen(reply));
	run_cmd(&r, ctl_cmd_template_console, &ctl, "base", NULL);
	req = fake_finish(&f);
	check_int_eq(r.status, 0);
	check(startswith(req, "POST /api/v1/admin/templates/base/edit/console HTTP/1.1\r\n"));
	check(startswith(r.out, "url: ws://gw:8081/spice?token=t\npassword: pw\nvalid until: "));
}

/* ---- pools' and templates' network settings against the fake broker ----------------------- */

static const struct ctl pool_create_ctl = {
	.prog = "vdictl pool create", .name = "pool create", .usage = "NAME --template T",
};
static const struct ctl pool_update_ctl = { .prog = "vdictl pool update", .name = "pool update", .usage = "NAME" };
static const struct ctl template_add_ctl = {
	.prog = "vdictl template add", .name = "template add", .usage = "NAME --disk PATH",
};
static const struct ctl template_list_ctl = { .prog = "vdictl template list", .name = "template list", .usage = "" };

/* An empty file name in the test's directory, its absolute path into disk (len bytes; PATH_MAX + 32 will do). */
static void empty_disk(char *disk, size_t len, const char *name)
{
	char dir[PATH_MAX];

	check(realpath(vdi_test_tmpdir(), dir));
	snprintf(disk, len, "%s/%s", dir, name);
	check(close(open(disk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == 0);
}

/* Runs fn with the arguments (NULL-terminated) against a fake broker that replies status text; *ret_req: the
 * request. */
#define run_against(res, fn, ctl, status, text, ret_req, ...)                                               \
	do {                                                                                                  \
		char reply_[2048];                                                                            \
		struct fake f_;                                                                               \
                                                                                                              \
		http_reply(reply_, sizeof(reply_), status, text);                                            \
		fake_start(&f_, reply_, strlen(reply_));                                                      \
		(ctl)->socket = f_.socket;                                                                    \
		run_cmd(res, fn, ctl, __VA_ARGS__);                                                           \
		*(ret_req) = fake_finish(&f_);                                                                \
	} while (0)

static void test_pool_network_options(void)
{
	struct ctl create = pool_create_ctl;
	struct ctl update = pool_update_ctl;
	static struct cmd_run r;
	json_t *body;
	char *req;

	run_against(&r, ctl_cmd_pool_create, &create, "201 Created", "{\"name\":\"lab\"}", &req, "lab", "--template",
		    "golden", "--network", "ovs:br-lan:42", "--isolate-desktops", "no", "--bandwidth-kbps", "20000", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "network")), "ovs:br-lan:42");
	check(json_is_false(json_object_get(body, "isolate_desktops")));
	check_int_eq(json_integer_value(json_object_get(body, "bandwidth_kbps")), 20000);
	json_decref(body);

	/* --network "" and --isolate-desktops default on update: back to the template's and the default (null). */
	run_against(&r, ctl_cmd_pool_update, &update, "200 OK", "{\"name\":\"lab\"}", &req, "lab", "--network", "",
		    "--isolate-desktops", "default", NULL);
	check_int_eq(r.status, 0);
	check(startswith(req, "PATCH /api/v1/admin/pools/lab HTTP/1.1\r\n"));
	body = request_body(req);
	check(json_is_null(json_object_get(body, "network")));
	check(json_is_null(json_object_get(body, "isolate_desktops")));
	check_int_eq(json_object_size(body), 2);
	json_decref(body);
	run_against(&r, ctl_cmd_pool_update, &update, "200 OK", "{\"name\":\"lab\"}", &req, "lab", "--isolate-desktops",
		    "yes", "--bandwidth-kbps", "0", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check(json_is_true(json_object_get(body, "isolate_desktops")));
	check_int_eq(json_integer_value(json_object_get(body, "bandwidth_kbps")), 0);
	json_decref(body);

	/* Usage errors: nothing is sent. */
	create.socket = update.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_pool_create, &create, "lab", "--template", "golden", "--isolate-desktops", "default", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--isolate-desktops");
	run_cmd(&r, ctl_cmd_pool_update, &update, "lab", "--isolate-desktops", "maybe", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	run_cmd(&r, ctl_cmd_pool_update, &update, "lab", "--bandwidth-kbps", "100000001", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--bandwidth-kbps");
}

/* pool list's NETWORK and ISOLATED ("-": the template XML's NICs), template list's NETWORK; template add --network. */
static void test_network_columns(void)
{
	struct ctl list = { .prog = "vdictl pool list", .name = "pool list", .usage = "" };
	struct ctl tlist = template_list_ctl;
	struct ctl add = template_add_ctl;
	static struct cmd_run r;
	char disk[PATH_MAX + 32];
	json_t *body;
	char *req;

	run_against(&r, ctl_cmd_pool_list, &list, "200 OK",
		    "{\"pools\":[{\"name\":\"lab\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":2,\"prestart\":0,"
		    "\"max_per_user\":1,\"idle_timeout\":0,\"groups\":[],\"desktops\":{},\"network\":\"network:default\","
		    "\"network_inherited\":true,\"isolate_desktops\":true,\"bandwidth_kbps\":0},"
		    "{\"name\":\"old\",\"template\":\"golden\",\"type\":\"persistent\",\"size\":2,\"prestart\":0,"
		    "\"max_per_user\":1,\"idle_timeout\":0,\"groups\":[],\"desktops\":{},\"network\":null,"
		    "\"network_inherited\":true,\"isolate_desktops\":false,\"bandwidth_kbps\":0}]}",
		    &req, NULL);
	check_int_eq(r.status, 0);
	check_str_contains(r.out, "GROUPS    NETWORK          ISOLATED  LOCK  2ND-VIEWER  DESKTOPS\n");
	check_str_contains(r.out, "everyone  network:default  yes       -     -           none\n");
	check_str_contains(r.out, "everyone  -                no        -     -           none\n");

	run_against(&r, ctl_cmd_template_list, &tlist, "200 OK",
		    "{\"templates\":[{\"name\":\"golden\",\"version\":1,\"memory_mib\":null,\"vcpus\":null,\"pools\":1,"
		    "\"created\":0,\"network\":\"bridge:br0\",\"disk\":\"/d.qcow2\",\"versions\":[]}]}",
		    &req, NULL);
	check_int_eq(r.status, 0);
	check_str_contains(r.out, "NETWORK     DISK\n");
	check_str_contains(r.out, "bridge:br0  /d.qcow2\n");

	empty_disk(disk, sizeof(disk), "t.qcow2");
	run_against(&r, ctl_cmd_template_add, &add, "201 Created", "{\"name\":\"t\",\"version\":1}", &req, "t",
		    "--disk", disk, "--network", "network:lan", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "network")), "network:lan");
	json_decref(body);
}

/* template add --os/--firmware/--secure-boot/--no-tpm go out as the body's hardware; with --xml they are a usage
 * error; template list's OS, FIRMWARE and TPM. */
static void test_template_hardware(void)
{
	struct ctl add = template_add_ctl;
	struct ctl tlist = template_list_ctl;
	static struct cmd_run r;
	char disk[PATH_MAX + 32];
	json_t *body;
	char *req;

	empty_disk(disk, sizeof(disk), "w.qcow2");
	run_against(&r, ctl_cmd_template_add, &add, "201 Created", "{\"name\":\"w\",\"version\":1}", &req, "w",
		    "--disk", disk, "--os", "win11", "--firmware", "uefi", "--secure-boot", "--no-tpm", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "os")), "win11");
	check_str_eq(json_string_value(json_object_get(body, "firmware")), "uefi");
	check(json_is_true(json_object_get(body, "secure_boot")));
	check(json_is_false(json_object_get(body, "tpm")));
	json_decref(body);

	/* Neither flag: the OS's default (the member is not sent). */
	run_against(&r, ctl_cmd_template_add, &add, "201 Created", "{\"name\":\"w\",\"version\":1}", &req, "w",
		    "--disk", disk, "--os", "debian11", "--tpm", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check(!json_object_get(body, "secure_boot") && !json_object_get(body, "firmware"));
	check(json_is_true(json_object_get(body, "tpm")));
	json_decref(body);

	/* The broker's refusal is printed. */
	run_against(&r, ctl_cmd_template_add, &add, "409 Conflict",
		    "{\"error\":\"tpm: no host that answers offers a TPM emulator (swtpm)\"}", &req, "w", "--disk", disk,
		    "--tpm", NULL);
	check_int_eq(r.status, CTL_EXIT_FAILED);
	check_str_contains(r.err, "tpm: no host that answers offers");

	/* Usage errors: nothing is sent. */
	add.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_template_add, &add, "w", "--disk", disk, "--firmware", "efi", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--firmware");
	run_cmd(&r, ctl_cmd_template_add, &add, "w", "--disk", disk, "--xml", disk, "--os", "win11", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--xml decides the hardware");

	run_against(&r, ctl_cmd_template_list, &tlist, "200 OK",
		    "{\"templates\":[{\"name\":\"w\",\"version\":1,\"memory_mib\":4096,\"vcpus\":2,\"pools\":0,"
		    "\"created\":0,\"network\":null,\"disk\":\"/w.qcow2\",\"versions\":[],\"os\":\"win11\","
		    "\"firmware\":\"uefi\",\"secure_boot\":true,\"tpm\":true},"
		    "{\"name\":\"x\",\"version\":1,\"memory_mib\":null,\"vcpus\":null,\"pools\":0,"
		    "\"created\":0,\"network\":null,\"disk\":\"/x.qcow2\",\"versions\":[],\"os\":null,"
		    "\"firmware\":\"bios\",\"secure_boot\":false,\"tpm\":false}]}",
		    &req, NULL);
	check_int_eq(r.status, 0);
	check_str_contains(r.out, "OS     FIRMWARE  TPM  NETWORK  DISK\n");
	check_str_contains(r.out, "win11  uefi+sb   yes  -        /w.qcow2\n");
	check_str_contains(r.out, "-      bios      no   -        /x.qcow2\n");
}

/* os list [FILTER]: GET /admin/os?filter=F, a table of ID NAME VERSION FAMILY. */
static void test_os_list(void)
{
	struct ctl list = { .prog = "vdictl os list", .name = "os list", .usage = "[FILTER]" };
	static struct cmd_run r;
	char *req;

	run_against(&r, ctl_cmd_os_list, &list, "200 OK",
		    "{\"os\":[{\"id\":\"win11\",\"name\":\"Microsoft Windows 11\",\"version\":\"11\","
		    "\"family\":\"winnt\"}]}",
		    &req, "win 1", NULL);
	check_int_eq(r.status, 0);
	check(startswith(req, "GET /api/v1/admin/os?filter=win%201 HTTP/1.1\r\n"));
	check_str_eq(r.out, "ID     NAME                  VERSION  FAMILY\nwin11  Microsoft Windows 11  11       winnt\n");
	run_against(&r, ctl_cmd_os_list, &list, "200 OK", "{\"os\":[]}", &req, NULL);
	check_int_eq(r.status, 0);
	check(startswith(req, "GET /api/v1/admin/os HTTP/1.1\r\n"));
	list.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_os_list, &list, "a", "b", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
}

/* pool create|update --usb-redirect N (0..8). */
/* Issue 18: template add --heads N sends heads (1..4); without it none is sent (the broker's one). */
static void test_template_heads(void)
{
	struct ctl add = template_add_ctl;
	static struct cmd_run r;
	char disk[PATH_MAX + 32];
	json_t *body;
	char *req;

	empty_disk(disk, sizeof(disk), "h.qcow2");
	run_against(&r, ctl_cmd_template_add, &add, "201 Created", "{\"name\":\"h\",\"version\":1}", &req, "h",
		    "--disk", disk, "--heads", "2", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_int_eq(json_integer_value(json_object_get(body, "heads")), 2);
	json_decref(body);
	run_against(&r, ctl_cmd_template_add, &add, "201 Created", "{\"name\":\"h\",\"version\":1}", &req, "h",
		    "--disk", disk, NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check(!json_object_get(body, "heads"));
	json_decref(body);
	add.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_template_add, &add, "h", "--disk", disk, "--heads", "5", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--heads");
	run_cmd(&r, ctl_cmd_template_add, &add, "h", "--disk", disk, "--heads", "0", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
}

static void test_pool_usb_redirect(void)
{
	struct ctl create = pool_create_ctl;
	struct ctl update = pool_update_ctl;
	static struct cmd_run r;
	json_t *body;
	char *req;

	run_against(&r, ctl_cmd_pool_create, &create, "201 Created", "{\"name\":\"lab\"}", &req, "lab", "--template",
		    "golden", "--usb-redirect", "4", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_int_eq(json_integer_value(json_object_get(body, "usb_redirect")), 4);
	json_decref(body);
	run_against(&r, ctl_cmd_pool_update, &update, "200 OK", "{\"name\":\"lab\"}", &req, "lab", "--usb-redirect",
		    "0", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_int_eq(json_integer_value(json_object_get(body, "usb_redirect")), 0);
	check_int_eq(json_object_size(body), 1);
	json_decref(body);
	update.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_pool_update, &update, "lab", "--usb-redirect", "9", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--usb-redirect");
}

/* pool create|update --[no-]lock-on-disconnect --second-viewer takeover|refuse, their columns; template add|set
 * --lock-command (issue 18). */
static void test_viewer_options(void)
{
	struct ctl create = pool_create_ctl;
	struct ctl update = pool_update_ctl;
	struct ctl list = { .prog = "vdictl pool list", .name = "pool list", .usage = "" };
	struct ctl add = template_add_ctl;
	struct ctl set = { .prog = "vdictl template set", .name = "template set", .usage = "NAME" };
	static struct cmd_run r;
	char disk[PATH_MAX + 32];
	json_t *body;
	char *req;

	run_against(&r, ctl_cmd_pool_create, &create, "201 Created", "{\"name\":\"lab\"}", &req, "lab", "--template",
		    "golden", "--lock-on-disconnect", "--second-viewer", "refuse", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check(json_is_true(json_object_get(body, "lock_on_disconnect")));
	check_str_eq(json_string_value(json_object_get(body, "second_viewer")), "refuse");
	json_decref(body);
	run_against(&r, ctl_cmd_pool_update, &update, "200 OK", "{\"name\":\"lab\"}", &req, "lab",
		    "--no-lock-on-disconnect", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check(json_is_false(json_object_get(body, "lock_on_disconnect")));
	check_int_eq(json_object_size(body), 1);
	json_decref(body);
	update.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_pool_update, &update, "lab", "--second-viewer", "share", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--second-viewer");

	run_against(&r, ctl_cmd_pool_list, &list, "200 OK",
		    "{\"pools\":[{\"name\":\"lab\",\"template\":\"golden\",\"type\":\"persistent\",\"size\":2,"
		    "\"prestart\":0,\"max_per_user\":1,\"idle_timeout\":0,\"groups\":[],\"desktops\":{},\"network\":null,"
		    "\"isolate_desktops\":false,\"lock_on_disconnect\":true,\"second_viewer\":\"refuse\"}]}", &req, NULL);
	check_int_eq(r.status, 0);
	check_str_contains(r.out, "ISOLATED  LOCK  2ND-VIEWER  DESKTOPS\n");
	check_str_contains(r.out, "no        yes   refuse      none\n");

	empty_disk(disk, sizeof(disk), "t.qcow2");
	run_against(&r, ctl_cmd_template_add, &add, "201 Created", "{\"name\":\"t\"}", &req, "t", "--disk", disk,
		    "--lock-command", "/bin/vdi-lock now", NULL);
	check_int_eq(r.status, 0);
	body = request_body(req);
	check_str_eq(json_string_value(json_object_get(body, "lock_command")), "/bin/vdi-lock now");
	json_decref(body);
	run_against(&r, ctl_cmd_template_set, &set, "200 OK", "{\"name\":\"t\"}", &req, "t", "--lock-command", "", NULL);
	check_int_eq(r.status, 0);
	check_str_contains(req, "PATCH /api/v1/admin/templates/t ");
	body = request_body(req);
	check(json_is_null(json_object_get(body, "lock_command")));
	json_decref(body);
	set.socket = "/nonexistent/socket";
	run_cmd(&r, ctl_cmd_template_set, &set, "t", NULL);
	check_int_eq(r.status, CTL_EXIT_USAGE);
	check_str_contains(r.err, "--lock-command");
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_parse_uint),
	VDI_TEST(test_viewer_options),
	VDI_TEST(test_template_hardware),
	VDI_TEST(test_os_list),
	VDI_TEST(test_pool_usb_redirect),
	VDI_TEST(test_template_heads),
	VDI_TEST(test_pool_network_options),
	VDI_TEST(test_network_columns),
	VDI_TEST(test_parse_time_utc),
	VDI_TEST(test_parse_time_local),
	VDI_TEST(test_parse_at),
	VDI_TEST(test_parse_at_bad),
	VDI_TEST(test_parse_at_local),
	VDI_TEST(test_format_time),
	VDI_TEST(test_url_encode),
	VDI_TEST(test_query_append),
	VDI_TEST(test_cells),
	VDI_TEST(test_cell_time),
	VDI_TEST(test_cell_counts),
	VDI_TEST(test_cell_versions),
	VDI_TEST(test_table),
	VDI_TEST(test_reply_content_length),
	VDI_TEST(test_reply_to_eof),
	VDI_TEST(test_reply_chunked),
	VDI_TEST(test_reply_interim),
	VDI_TEST(test_reply_malformed),
	VDI_TEST(test_request),
	VDI_TEST(test_request_get_to_eof),
	VDI_TEST(test_request_too_big),
	VDI_TEST(test_request_garbage_and_silence),
	VDI_TEST(test_request_no_socket),
	VDI_TEST(test_publish),
	VDI_TEST(test_publish_at),
	VDI_TEST(test_publish_cancel),
	VDI_TEST(test_publish_refused),
	VDI_TEST(test_publish_usage),
	VDI_TEST(test_rollback),
	VDI_TEST(test_publish_from_maintenance),
	VDI_TEST(test_edit),
	VDI_TEST(test_console),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
