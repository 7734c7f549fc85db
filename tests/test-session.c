/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "session.h"
#include "store-private.h"
#include "store.h"

#define NOW 1800000000

static struct broker_store *open_store(char **ret_path)
{
	struct broker_store *s = NULL;
	struct vdi_error err = { 0 };

	check(asprintf(ret_path, "%s/vdi.db", vdi_test_tmpdir()) > 0);
	if (broker_store_open(*ret_path, &s, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
	return s;
}

/* True when needle's bytes appear anywhere in the file (database, WAL). */
static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long len;
	bool found = false;

	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len + 1);
	check(buf && fread(buf, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	for (long i = 0; i + (long)strlen(needle) <= len && !found; i++)
		found = memcmp(buf + i, needle, strlen(needle)) == 0;
	free(buf);
	return found;
}

static void test_create_find_end(void)
{
	_cleanup_free_ char *path = NULL, *wal = NULL;
	struct broker_store *st = open_store(&path);
	char id[BROKER_SESSION_TOKEN_LEN + 1], csrf[BROKER_SESSION_TOKEN_LEN + 1], id2[65], csrf2[65];
	struct broker_session s;

	check_ok(broker_session_create(st, "ann", "ann,staff", false, "127.0.0.1", NOW, 3600, id, csrf));
	check_int_eq(strlen(id), 64);
	check_int_eq(strspn(id, "0123456789abcdef"), 64);
	check(strcmp(id, csrf) != 0);

	check_ok(broker_session_find(st, id, NOW + 10, &s));
	check_str_eq(s.user, "ann");
	check_str_eq(s.groups, "ann,staff");
	check(!s.admin);
	check_str_eq(s.client, "127.0.0.1");
	check_int_eq(s.expires, NOW + 3600);
	check(broker_session_csrf_ok(&s, csrf));
	check(!broker_session_csrf_ok(&s, id));
	check(!broker_session_csrf_ok(&s, ""));
	check(!broker_session_csrf_ok(&s, NULL));
	broker_session_finish(&s);

	/* Ids are stored hashed: neither the id nor the CSRF token is in the files. */
	check(asprintf(&wal, "%s-wal", path) > 0);
	check(!file_contains(path, id) && !file_contains(wal, id));
	check(!file_contains(path, csrf) && !file_contains(wal, csrf));
	check(file_contains(path, "ann,staff") || file_contains(wal, "ann,staff")); /* the scan itself works */

	/* Another session, another id. */
	check_ok(broker_session_create(st, "ann", "ann", false, NULL, NOW, 3600, id2, csrf2));
	check(strcmp(id, id2) != 0);

	check_ok(broker_session_end(st, id));
	check_err(broker_session_find(st, id, NOW + 11, &s), ENOENT);
	check_ok(broker_session_find(st, id2, NOW + 11, &s));
	broker_session_finish(&s);
	check_ok(broker_session_end(st, id)); /* twice is fine */
	broker_store_close(st);
}

static void test_expiry_and_bad_ids(void)
{
	_cleanup_free_ char *path = NULL;
	struct broker_store *st = open_store(&path);
	char a[65], ca[65], b[65], cb[65], upper[65];
	struct broker_session s;

	check_ok(broker_session_create(st, "ann", "", false, NULL, NOW, 60, a, ca));
	check_ok(broker_session_create(st, "bob", "", true, NULL, NOW, 600, b, cb));
	check_ok(broker_session_find(st, a, NOW + 59, &s));
	broker_session_finish(&s);
	check_err(broker_session_find(st, a, NOW + 60, &s), ENOENT);

	check_int_eq(broker_store_session_expire(st, NOW + 60), 1);
	check_ok(broker_session_find(st, b, NOW + 60, &s));
	check(s.admin);
	broker_session_finish(&s);

	/* Malformed ids never reach the database. */
	check_err(broker_session_find(st, "", NOW, &s), ENOENT);
	check_err(broker_session_find(st, "' OR 1=1 --", NOW, &s), ENOENT);
	snprintf(upper, sizeof(upper), "%s", b);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	check_err(broker_session_find(st, upper, NOW, &s), ENOENT);
	b[63] = '\0';
	check_err(broker_session_find(st, b, NOW, &s), ENOENT);

	check_err(broker_session_create(st, "ann", "", false, NULL, NOW, 0, a, ca), EINVAL);
	check_err(broker_session_create(st, "", "", false, NULL, NOW, 60, a, ca), EINVAL);
	broker_store_close(st);
}

/* The wall clock jumped: the stored times move with it, and the session keeps its length. */
static void test_shift_times(void)
{
	_cleanup_free_ char *path = NULL;
	struct broker_store *st = open_store(&path);
	char a[65], ca[65];
	struct broker_session s;
	json_t *rows = NULL;

	check_ok(broker_session_create(st, "ann", "", false, NULL, NOW, 60, a, ca));
	check_int_eq(broker_store_exec(st, "INSERT INTO templates (name, disk_path, xml, created) VALUES ('t', '/d', '', 1)",
				       NULL), 1);
	check_int_eq(broker_store_exec(st,
				       "INSERT INTO pools (name, template_id, persistent, size, prestart, max_per_user,"
				       " idle_timeout, created) VALUES ('p', 1, 0, 1, 0, 1, 60, 1)", NULL), 1);
	check_int_eq(broker_store_exec(st,
				       "INSERT INTO desktops (pool_id, state, owner, assigned_at, last_disconnect, updated)"
				       " VALUES (1, 'disconnected', 'ann', ?1, ?1 + 5, ?1 + 5), (1, 'free', NULL, NULL, NULL, ?1)",
				       "i", (int64_t)NOW), 2);

	check_ok(broker_store_shift_times(st, -36000));
	check_err(broker_session_find(st, a, NOW + 10, &s), ENOENT); /* its times are 10 h earlier now */
	check_ok(broker_session_find(st, a, NOW - 36000 + 59, &s));
	check_int_eq(s.created, NOW - 36000);
	check_int_eq(s.expires, NOW - 36000 + 60);
	broker_session_finish(&s);
	check_err(broker_session_find(st, a, NOW - 36000 + 60, &s), ENOENT);

	check_int_eq(broker_store_query(st, &rows, "SELECT assigned_at, last_disconnect, updated FROM desktops ORDER BY id",
					NULL), 2);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "assigned_at")), NOW - 36000);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "last_disconnect")), NOW - 36000 + 5);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "updated")), NOW - 36000 + 5);
	check(json_is_null(json_object_get(json_array_get(rows, 1), "assigned_at")));
	check(json_is_null(json_object_get(json_array_get(rows, 1), "last_disconnect")));
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 1), "updated")), NOW - 36000);
	json_decref(rows);
	broker_store_close(st);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_create_find_end),
	VDI_TEST(test_expiry_and_bad_ids),
	VDI_TEST(test_shift_times),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
