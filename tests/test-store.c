/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "harness.h"
#include "json.h"
#include "store-assign.h"
#include "store-catalog.h"
#include "store-versions.h"
#include "store-desktops.h"
#include "store-hosts.h"
#include "store-maintenance.h"
#include "store-recompose.h"
#include "store-views.h"
#include "store-private.h"
#include "store.h"
#include "template-hardware.h"

#define NOW 1800000000

/* A version source (store-versions.h) made of designated initializers. */
#define SRC(...) (&(struct broker_version_source){ __VA_ARGS__ })

static struct broker_store *open_store(const char *path)
{
	struct broker_store *s = NULL;
	struct vdi_error err = { 0 };

	if (broker_store_open(path, &s, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "open %s: %s", path, err.message);
	return s;
}

static char *db_path(void)
{
	char *p;

	check(asprintf(&p, "%s/vdi.db", vdi_test_tmpdir()) > 0);
	return p;
}

/* Runs SQL on the file behind the store's back, as another process would. */
static void sql(const char *path, const char *stmt)
{
	sqlite3 *db;
	char *msg = NULL;

	check(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", stmt, msg);
	sqlite3_close(db);
}

static long long sql_int(const char *path, const char *query)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v;

	check(sqlite3_open(path, &db) == SQLITE_OK);
	check(sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK);
	check(sqlite3_step(st) == SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void add_pool(struct broker_store *s, const char *name, int64_t size)
{
	struct broker_pool_def d = { .name = name, .template_name = "golden", .size = size, .max_per_user = 1 };
	struct vdi_error err = { 0 };

	if (broker_store_add_pool(s, &d, NOW, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "add pool: %s", err.message);
}

static void add_template(struct broker_store *s)
{
	struct vdi_error err = { 0 };

	check_ok(broker_store_add_template(s, "golden", "/images/golden.qcow2", "<domain/>", NOW, &err));
}

static void test_open_and_migrate(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(":memory:");
	struct vdi_error err = { 0 };

	check_int_eq(broker_store_schema_version(s), BROKER_STORE_SCHEMA_VERSION);
	broker_store_close(s);

	s = open_store(path);
	add_template(s);
	broker_store_close(s);
	/* Reopening keeps the data and the version; the file is in WAL mode. */
	s = open_store(path);
	check_int_eq(broker_store_schema_version(s), BROKER_STORE_SCHEMA_VERSION);
	check_int_eq(sql_int(path, "SELECT count(*) FROM templates"), 1);
	check_int_eq(sql_int(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	broker_store_close(s);

	/* A file from a newer vdi is refused, untouched. */
	sql(path, "PRAGMA user_version = 99");
	check_err(broker_store_open(path, &s, &err), EPROTO);
	check_str_contains(err.message, "schema version 99");
	check_str_contains(err.message, path);
	check_int_eq(sql_int(path, "PRAGMA user_version"), 99);

	/* Not a database at all. */
	{
		FILE *f;
		_cleanup_free_ char *junk = NULL;

		check(asprintf(&junk, "%s/junk.db", vdi_test_tmpdir()) > 0);
		f = fopen(junk, "we");
		check(f);
		for (int i = 0; i < 512; i++)
			fputs("this is not sqlite ", f);
		fclose(f);
		check_err(broker_store_open(junk, &s, &err), EBADMSG);
		check_str_contains(err.message, "junk.db");
	}
	check_err(broker_store_open("/nonexistent/dir/vdi.db", &s, &err), ENOENT);
}

/* Desktop ids name domains, overlays and audit entries: a deleted one is never given again. */
static void test_desktop_ids_not_reused(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);

	add_template(s);
	add_pool(s, "lab", 5);
	broker_store_close(s);
	sql(path, "INSERT INTO desktops (pool_id, state, updated) VALUES (1, 'free', 1), (1, 'free', 1)");
	check_int_eq(sql_int(path, "SELECT max(id) FROM desktops"), 2);
	sql(path, "DELETE FROM desktops WHERE id = 2");
	sql(path, "INSERT INTO desktops (pool_id, state, updated) VALUES (1, 'free', 1)");
	check_int_eq(sql_int(path, "SELECT max(id) FROM desktops"), 3);
}

static void test_templates_and_pools(void)
{
	struct broker_store *s = open_store(":memory:");
	struct broker_pool_def d = { .name = "sales", .template_name = "golden", .size = 4, .prestart = 1,
				     .max_per_user = 1, .groups = "staff,sales" };
	struct vdi_error err = { 0 };

	add_template(s);
	check_err(broker_store_add_template(s, "golden", "/x.qcow2", "<domain/>", NOW, &err), EEXIST);
	check_str_contains(err.message, "\"golden\" exists already");
	check_err(broker_store_add_template(s, "t", "relative.qcow2", "<domain/>", NOW, &err), EINVAL);

	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_err(broker_store_add_pool(s, &d, NOW, &err), EEXIST);
	check_str_contains(err.message, "pool \"sales\" exists already");
	d.name = "bad-name";
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	d.name = "eng";
	d.prestart = 5;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	d.prestart = 0;
	d.max_per_user = 0;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	d.max_per_user = 1;
	d.template_name = "missing";
	check_err(broker_store_add_pool(s, &d, NOW, &err), ENOENT);
	check_str_contains(err.message, "no template \"missing\"");
	broker_store_close(s);
}

/* Version v of template t's versions list (newest first) as found at index i; checks its fields. */
static void check_version(json_t *rows, size_t i, const char *t, int64_t v, int64_t desktops, bool current)
{
	json_t *row = json_array_get(rows, i);

	check(row);
	check_str_eq(json_string_value(json_object_get(row, "template")), t);
	check_int_eq(json_integer_value(json_object_get(row, "version")), v);
	check_int_eq(json_integer_value(json_object_get(row, "desktops")), desktops);
	check_int_eq(json_integer_value(json_object_get(row, "current")), current);
}

/* A file of schema 5 (before template versions) gets a version row per template: its current one. */
static void test_migrate_5_to_6(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct vdi_error err = { 0 };
	json_t *rows = NULL;

	add_template(s);
	check_ok(broker_store_add_template(s, "other", "/images/other.qcow2", "<domain/>", NOW + 60, &err));
	add_pool(s, "lab", 5);
	broker_store_close(s);
	/* Schema 5 is schema 6 without the table (nor the later ones: 8's table, 9's, 11's, 12's and 13's columns); golden was at
	 * version 3 then. */
	sql(path, "DROP TABLE maintenance; DROP TABLE template_versions; ALTER TABLE pools DROP COLUMN data_disk_mib;"
		  "ALTER TABLE desktops DROP COLUMN recompose; ALTER TABLE pools DROP COLUMN network;"
		  "ALTER TABLE pools DROP COLUMN isolate_desktops; ALTER TABLE pools DROP COLUMN bandwidth_kbps;"
		  "ALTER TABLE templates DROP COLUMN network; ALTER TABLE hosts DROP COLUMN networks;"
		  "ALTER TABLE templates DROP COLUMN os; ALTER TABLE templates DROP COLUMN firmware;"
		  "ALTER TABLE templates DROP COLUMN secure_boot; ALTER TABLE templates DROP COLUMN tpm;"
		  "ALTER TABLE pools DROP COLUMN usb_redirect; ALTER TABLE hosts DROP COLUMN hardware;"
		  "ALTER TABLE pools DROP COLUMN lock_on_disconnect; ALTER TABLE pools DROP COLUMN second_viewer;"
		  "ALTER TABLE templates DROP COLUMN heads; ALTER TABLE templates DROP COLUMN lock_command;"
		  "PRAGMA user_version = 5;"
		  "UPDATE templates SET version = 3 WHERE name = 'golden';"
		  "INSERT INTO desktops (pool_id, state, template_version, updated)"
		  " VALUES (1, 'free', 3, 0), (1, 'free', 2, 0)");
	check_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'template_versions'"), 0);

	s = open_store(path);
	check_int_eq(broker_store_schema_version(s), BROKER_STORE_SCHEMA_VERSION);
	check_int_eq(sql_int(path, "SELECT count(*) FROM templates"), 2);
	check_int_eq(sql_int(path, "SELECT count(*) FROM pools"), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops"), 2);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions"), 2);
	/* Schema 7: the versions there were are ready, on the admin's disks. */
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions WHERE state = 'ready' AND owned = 0"
				   " AND publish_at IS NULL"), 2);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions v JOIN templates t ON t.id = v.template_id"
				   " WHERE t.name = 'golden' AND v.version = 3 AND v.disk_path = '/images/golden.qcow2'"
				   " AND v.note IS NULL AND v.created = 1800000000"), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions v JOIN templates t ON t.id = v.template_id"
				   " WHERE t.name = 'other' AND v.version = 1 AND v.disk_path = '/images/other.qcow2'"
				   " AND v.note IS NULL AND v.created = 1800000060"), 1);
	/* The desktop on version 2 runs a version the file never recorded: it counts for none. */
	check_int_eq(broker_store_template_versions(s, "golden", &rows), 1);
	check_version(rows, 0, "golden", 3, 1, true);
	json_decref(rows);
	broker_store_close(s);
}

/* A new template is version 1, with its row, or nothing at all. */
static void test_add_template_version_1(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct vdi_error err = { 0 };
	json_t *rows = NULL;

	add_template(s);
	check_int_eq(broker_store_template_versions(s, "golden", &rows), 1);
	check_version(rows, 0, "golden", 1, 0, true);
	check(json_is_null(json_object_get(json_array_get(rows, 0), "note")));
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "created")), NOW);
	json_decref(rows);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions WHERE version = 1"
				   " AND disk_path = '/images/golden.qcow2'"), 1);
	/* A template refused adds no version; a version refused adds no template. */
	check_err(broker_store_add_template(s, "golden", "/x.qcow2", "<domain/>", NOW, &err), EEXIST);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions"), 1);
	sql(path, "CREATE TRIGGER no_versions BEFORE INSERT ON template_versions BEGIN SELECT RAISE(ABORT, 'no'); END");
	check(broker_store_add_template(s, "other", "/images/other.qcow2", "<domain/>", NOW, &err) < 0);
	check_str_contains(err.message, "first version");
	check_int_eq(sql_int(path, "SELECT count(*) FROM templates"), 1);
	sql(path, "DROP TRIGGER no_versions");
	check_ok(broker_store_add_template(s, "other", "/images/other.qcow2", "<domain/>", NOW, &err));
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions"), 2);
	/* Removing a template removes its versions. */
	check_int_eq(broker_store_remove_template(s, "other"), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions"), 1);
	broker_store_close(s);
}

/* How many desktops run each version: only the template's own pools', not those not made yet. */
static void test_template_version_counts(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def q = { .name = "q", .template_name = "other", .size = 9, .max_per_user = 1 };
	struct vdi_error err = { 0 };
	json_t *rows = NULL;

	add_template(s);
	check_ok(broker_store_add_template(s, "other", "/images/other.qcow2", "<domain/>", NOW, &err));
	add_pool(s, "p", 9);
	add_pool(s, "p2", 9);
	check_ok(broker_store_add_pool(s, &q, NOW, &err));
	/* golden: versions 1..3, 3 current; pool p2 is golden's too, pool q is other's. */
	sql(path, "INSERT INTO template_versions (template_id, version, disk_path, note, created)"
		  " VALUES (1, 2, '/images/golden-2.qcow2', 'patched', 5), (1, 3, '/images/golden-3.qcow2', NULL, 6);"
		  "UPDATE templates SET version = 3 WHERE name = 'golden';"
		  "INSERT INTO desktops (pool_id, state, template_version, updated) VALUES"
		  " (1, 'free', 1, 0), (2, 'assigned', 1, 0), (1, 'deleting', 1, 0), (1, 'free', 3, 0),"
		  " (1, 'provisioning', NULL, 0), (3, 'free', 1, 0), (3, 'free', 2, 0), (3, 'free', 2, 0)");
	check_int_eq(broker_store_template_versions(s, "golden", &rows), 3);
	check_version(rows, 0, "golden", 3, 1, true);
	check_version(rows, 1, "golden", 2, 0, false);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 1), "note")), "patched");
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 1), "created")), 5);
	check_version(rows, 2, "golden", 1, 3, false);
	json_decref(rows);
	/* All templates: by name, each newest first. */
	check_int_eq(broker_store_template_versions(s, NULL, &rows), 4);
	check_version(rows, 0, "golden", 3, 1, true);
	check_version(rows, 2, "golden", 1, 3, false);
	check_version(rows, 3, "other", 1, 1, true);
	json_decref(rows);
	check_int_eq(broker_store_template_versions(s, "missing", &rows), 0);
	json_decref(rows);
	broker_store_close(s);
}

static void test_assignment_order(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	add_pool(s, "p", 4);
	/* Desktop 1 free and running, desktop 2 free and stopped, desktop 3 someone else's. */
	sql(path, "INSERT INTO desktops (id, pool_id, state, updated) VALUES (1, 1, 'free', 0), (2, 1, 'stopped', 0);"
		  "INSERT INTO desktops (id, pool_id, state, owner, updated) VALUES (3, 1, 'assigned', 'carol', 0)");

	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_RUNNING);
	check_str_eq(a.state, "assigned");

	check_ok(broker_store_assign(s, "p", "bob", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 2);
	check_int_eq(a.action, BROKER_ASSIGN_START);
	check_str_eq(a.state, "starting");

	check_ok(broker_store_assign(s, "p", "dan", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.action, BROKER_ASSIGN_CLONE);
	check_str_eq(a.state, "provisioning");
	check_int_eq(a.desktop_id, 4);

	/* Asking again returns the same desktop. */
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_EXISTING);
	check_ok(broker_store_assign(s, "p", "carol", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 3);

	/* Four desktops, four users: the fifth is refused and nothing changes. */
	check_err(broker_store_assign(s, "p", "eve", false, "qemu:///system", NOW, &a, &err), ENOSPC);
	check_str_contains(err.message, "pool exhausted");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops"), 4);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE owner = 'eve'"), 0);

	/* A desktop being deleted does not count against the size, nor is it handed out. */
	sql(path, "UPDATE desktops SET state = 'deleting', owner = NULL WHERE id = 4");
	check_ok(broker_store_assign(s, "p", "eve", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.action, BROKER_ASSIGN_CLONE);
	check(a.desktop_id != 4);

	check_err(broker_store_assign(s, "nope", "ann", false, "qemu:///system", NOW, &a, &err), ENOENT);
	check_str_contains(err.message, "no pool \"nope\"");
	check_err(broker_store_assign(s, "p", "", false, "qemu:///system", NOW, &a, &err), EINVAL);
	/* A draining pool hands out nothing. */
	sql(path, "UPDATE pools SET draining = 1");
	check_err(broker_store_assign(s, "p", "fay", false, "qemu:///system", NOW, &a, &err), ENOENT);
	broker_store_close(s);
}

/* A spare on its way up (prestart) goes to a user before a pool that is full says "exhausted". */
static void test_spare_on_its_way_up(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	add_pool(s, "p", 2);
	sql(path, "INSERT INTO desktops (id, pool_id, state, updated) VALUES (1, 1, 'provisioning', 0), (2, 1, 'starting', 0)");
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_SPARE);
	check_str_eq(a.state, "provisioning");
	check_ok(broker_store_assign(s, "p", "bob", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 2);
	check_str_eq(a.state, "starting");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE owner = 'ann' AND id = 1 AND state = 'provisioning'"), 1);
	/* Asking again: her own desktop, nothing new. */
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_EXISTING);
	check_err(broker_store_assign(s, "p", "carol", false, "qemu:///system", NOW, &a, &err), ENOSPC);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops"), 2);
	broker_store_close(s);
}

/* A persistent desktop in "error" (paused on a full disk, say) stays its owner's: no second one. */
static void test_persistent_desktop_in_error(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def d = { .name = "mine", .template_name = "golden", .size = 4, .max_per_user = 1,
				     .persistent = true };
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	add_pool(s, "shared", 4);
	/* 1: ann's persistent desktop failed (a message for admins: not shown to her); 2: her pooled
	 * desktop failed; 3: carol's pooled one is paused by the hypervisor. */
	sql(path, "INSERT INTO desktops (id, pool_id, state, owner, updated, message, paused_from) VALUES"
		  " (1, 1, 'error', 'ann', 0, 'cannot start: /var/lib/vdi/images/x.qcow2: Permission denied', NULL),"
		  " (2, 2, 'error', 'ann', 0, 'cannot start: qemu exited', NULL),"
		  " (3, 2, 'error', 'carol', 0, 'paused by the hypervisor: no space left', 'assigned')");
	check_err(broker_store_assign(s, "mine", "ann", false, "qemu:///system", NOW, &a, &err), EHOSTDOWN);
	check_str_contains(err.message, "your desktop 1 in pool \"mine\" is out of service; an administrator can repair");
	check(!strstr(err.message, "/var/lib"));
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE pool_id = 1"), 1);
	check_err(broker_store_assign(s, "shared", "carol", false, "qemu:///system", NOW, &a, &err),
		  EHOSTDOWN);
	check_str_contains(err.message, "your desktop 3 in pool \"shared\" is out of service (paused by the hypervisor: no"
				" space left); it comes back as it was");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE owner = 'carol'"), 1);
	/* Another user of that pool, and ann in a pooled pool (her desktop failed, not paused), are served. */
	check_ok(broker_store_assign(s, "mine", "bob", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.action, BROKER_ASSIGN_CLONE);
	check_ok(broker_store_assign(s, "shared", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.action, BROKER_ASSIGN_CLONE);
	check(a.desktop_id != 2);
	/* Once it is repaired, it is hers again. */
	sql(path, "UPDATE desktops SET state = 'stopped', message = NULL WHERE id = 1");
	check_ok(broker_store_assign(s, "mine", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_EXISTING);
	broker_store_close(s);
}

/* Free desktops on hosts that are down or being drained are passed over; new ones go to new_host. */
static void test_assignment_across_hosts(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	add_pool(s, "p", 6);
	sql(path, "INSERT INTO hosts (uri, up, draining) VALUES ('qemu+tcp://h1/system', 1, 0),"
		  " ('qemu+tcp://h2/system', 0, 0), ('qemu+tcp://h3/system', 1, 1);"
		  "INSERT INTO desktops (id, pool_id, host, state, updated) VALUES"
		  " (1, 1, 'qemu+tcp://h2/system', 'free', 0), (2, 1, 'qemu+tcp://h3/system', 'free', 0),"
		  " (3, 1, 'qemu+tcp://h2/system', 'stopped', 0), (4, 1, 'qemu+tcp://h1/system', 'stopped', 0)");

	/* Desktops 1-3 sit on a host that is down or draining: the stopped one on h1 is taken. */
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu+tcp://h1/system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 4);
	check_int_eq(a.action, BROKER_ASSIGN_START);
	/* Then a new one, on the host the broker chose. */
	check_ok(broker_store_assign(s, "p", "bob", false, "qemu+tcp://h1/system", NOW, &a, &err));
	check_int_eq(a.action, BROKER_ASSIGN_CLONE);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE owner = 'bob' AND host = 'qemu+tcp://h1/system'"), 1);
	/* No host can take one: refused, and no row is left. */
	check_err(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err), EHOSTUNREACH);
	check_str_contains(err.message, "no host can take a new desktop");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE owner = 'carol'"), 0);
	/* h2 is back: its free desktop is handed out again. */
	sql(path, "UPDATE hosts SET up = 1 WHERE uri = 'qemu+tcp://h2/system'");
	check_ok(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	/* A user keeps the desktop they have, whatever its host. */
	sql(path, "UPDATE hosts SET up = 0 WHERE uri = 'qemu+tcp://h2/system'");
	check_ok(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_EXISTING);
	broker_store_close(s);
}

struct racer {
	const char *path;
	char user[16];
	int result;
	int64_t desktop;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct broker_store *s = NULL;
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	r->result = broker_store_open(r->path, &s, &err);
	if (r->result < 0)
		return NULL;
	r->result = broker_store_assign(s, "p", r->user, false, "qemu:///system", NOW, &a, &err);
	r->desktop = r->result >= 0 ? a.desktop_id : -1;
	broker_store_close(s);
	return NULL;
}

static void test_twenty_users_ten_desktops(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct racer racers[20];
	pthread_t threads[20];
	int ok = 0, exhausted = 0;

	add_template(s);
	add_pool(s, "p", 10);
	broker_store_close(s);

	for (int i = 0; i < 20; i++) {
		racers[i] = (struct racer){ .path = path };
		snprintf(racers[i].user, sizeof(racers[i].user), "user%02d", i);
		check(pthread_create(&threads[i], NULL, race, &racers[i]) == 0);
	}
	for (int i = 0; i < 20; i++)
		pthread_join(threads[i], NULL);

	for (int i = 0; i < 20; i++) {
		if (racers[i].result == 0)
			ok++;
		else if (racers[i].result == -ENOSPC)
			exhausted++;
		else
			vdi_test_fail(__FILE__, __LINE__, "%s: %d", racers[i].user, racers[i].result);
		for (int j = 0; j < i; j++)
			if (racers[i].result == 0 && racers[j].result == 0)
				check(racers[i].desktop != racers[j].desktop);
	}
	check_int_eq(ok, 10);
	check_int_eq(exhausted, 10);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops"), 10);
	check_int_eq(sql_int(path, "SELECT count(DISTINCT owner) FROM desktops"), 10);
}

static void test_state_changes_and_audit(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	add_pool(s, "p", 1);
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	check_ok(broker_store_set_desktop_state(s, a.desktop_id, "provisioning", "starting", NOW + 1));
	check_err(broker_store_set_desktop_state(s, a.desktop_id, "provisioning", "free", NOW + 2), ESTALE);
	check_err(broker_store_set_desktop_state(s, a.desktop_id, "starting", "sleeping", NOW + 2), EINVAL);
	check_err(broker_store_set_desktop_state(s, 999, "starting", "free", NOW + 2), ESTALE);
	check_int_eq(sql_int(path, "SELECT updated FROM desktops WHERE id = 1"), NOW + 1);

	check_ok(broker_store_audit(s, NOW, "ann", "login", NULL, "from 127.0.0.1"));
	check_ok(broker_store_audit(s, NOW, "ann", "assign", "desktop 1", NULL));
	check_err(broker_store_audit(s, NOW, "ann", "", NULL, NULL), EINVAL);
	check_int_eq(sql_int(path, "SELECT count(*) FROM audit WHERE actor = 'ann'"), 2);
	broker_store_close(s);
}

static void test_max_per_user(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_assignment a, b;
	struct vdi_error err = { 0 };

	add_template(s);
	add_pool(s, "p", 5);
	sql(path, "UPDATE pools SET max_per_user = 2");

	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	/* Without "new" the same desktop comes back; with it, a second one, and no third. */
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &b, &err));
	check_int_eq(b.desktop_id, a.desktop_id);
	check_ok(broker_store_assign(s, "p", "ann", true, "qemu:///system", NOW, &b, &err));
	check(b.desktop_id != a.desktop_id);
	check_int_eq(b.action, BROKER_ASSIGN_CLONE);
	check_err(broker_store_assign(s, "p", "ann", true, "qemu:///system", NOW, &b, &err), EDQUOT);
	check_str_contains(err.message, "you have 2 desktops in pool \"p\"");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE owner = 'ann'"), 2);
	/* Another user is not limited by ann's desktops. */
	check_ok(broker_store_assign(s, "p", "bob", true, "qemu:///system", NOW, &b, &err));
	broker_store_close(s);
}

static void test_generic_queries(void)
{
	struct broker_store *s = open_store(":memory:");
	json_t *rows = NULL;

	add_template(s);
	check_int_eq(broker_store_exec(s, "INSERT INTO audit (time, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
				       "isss", (int64_t)7, "ann", "login", NULL), 1);
	check_int_eq(broker_store_query(s, &rows, "SELECT time, actor, detail FROM audit WHERE actor = ?1", "s", "ann"),
		     1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "time")), 7);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "actor")), "ann");
	check(json_is_null(json_object_get(json_array_get(rows, 0), "detail")));
	json_decref(rows);
	/* Bad SQL and a bad type letter are errors, not crashes. */
	check(broker_store_exec(s, "SELECT nonsense FROM nowhere", NULL) < 0);
	check_err(broker_store_exec(s, "SELECT ?1", "x", 1), EINVAL);
	/* A transaction rolled back leaves nothing. */
	check_ok(broker_store_begin(s));
	check_int_eq(broker_store_exec(s, "DELETE FROM audit", NULL), 1);
	broker_store_rollback(s);
	check_int_eq(broker_store_query(s, &rows, "SELECT id FROM audit", NULL), 1);
	json_decref(rows);
	broker_store_close(s);
}

/* Desktops 1..3 of pool p: 1 assigned to ann, 2 paused (from assigned, ann's), 3 in error (a failed job). */
static void add_three_desktops(const char *path)
{
	sql(path, "INSERT INTO desktops (id, pool_id, state, owner, paused_from, updated) VALUES"
		  " (1, 1, 'assigned', 'ann', NULL, 0), (2, 1, 'error', 'ann', 'assigned', 0), (3, 1, 'error', 'bob', NULL, 0)");
}

/* A SPICE client follows the state; of a paused desktop, the state it goes back to. */
static void test_desktop_spice(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);

	add_template(s);
	add_pool(s, "p", 4);
	add_three_desktops(path);
	check_int_eq(broker_store_desktop_spice(s, 1, "p", true, NOW), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 1 AND state = 'connected'"
				   " AND updated = 1800000000"), 1);
	check_int_eq(broker_store_desktop_spice(s, 2, "p", true, NOW), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 2 AND state = 'error'"
				   " AND paused_from = 'connected'"), 1);
	/* Not for an error that is no pause, nor for a desktop of another pool, nor twice. */
	check_int_eq(broker_store_desktop_spice(s, 3, "p", true, NOW), 0);
	check_int_eq(broker_store_desktop_spice(s, 1, "other", false, NOW), 0);
	check_int_eq(broker_store_desktop_spice(s, 1, "p", true, NOW), 0);

	check_int_eq(broker_store_desktop_spice(s, 1, "p", false, NOW + 5), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 1 AND state = 'disconnected'"
				   " AND last_disconnect = 1800000005"), 1);
	check_int_eq(broker_store_desktop_spice(s, 2, "p", false, NOW + 5), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 2 AND state = 'error'"
				   " AND paused_from = 'disconnected'"), 1);
	check_int_eq(broker_store_desktop_spice(s, 2, "p", false, NOW + 6), 0);
	check_int_eq(broker_store_desktop_spice(s, 3, "p", false, NOW + 6), 0);
	broker_store_close(s);
}

/* Running again: free when nobody's, else assigned since now; the message and any pause go. */
static void test_desktop_mark_running(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	char state[16];

	add_template(s);
	add_pool(s, "p", 4);
	sql(path, "INSERT INTO desktops (id, pool_id, state, owner, message, last_disconnect, updated) VALUES"
		  " (1, 1, 'starting', NULL, 'old', 5, 0), (2, 1, 'starting', 'ann', 'old', 5, 0)");
	check_int_eq(broker_store_desktop_mark_running(s, 1, NOW), 1);
	check_int_eq(broker_store_desktop_mark_running(s, 2, NOW), 1);
	check_int_eq(broker_store_desktop_get_state(s, 1, state, sizeof(state)), 1);
	check_str_eq(state, "free");
	check_int_eq(broker_store_desktop_get_state(s, 2, state, sizeof(state)), 1);
	check_str_eq(state, "assigned");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 1 AND assigned_at IS NULL AND message IS NULL"
				   " AND last_disconnect IS NULL"), 1);
	check_int_eq(sql_int(path, "SELECT assigned_at FROM desktops WHERE id = 2"), NOW);
	check_int_eq(broker_store_desktop_get_state(s, 9, state, sizeof(state)), 0);
	broker_store_close(s);
}

/* Paused from the state it ran in (or free/assigned by owner), only from the state the caller saw; and back. */
static void test_desktop_pause_unpause(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);

	add_template(s);
	add_pool(s, "p", 4);
	sql(path, "INSERT INTO desktops (id, pool_id, state, owner, updated) VALUES"
		  " (1, 1, 'connected', 'ann', 0), (2, 1, 'starting', 'bob', 0), (3, 1, 'stopped', NULL, 0)");
	check_int_eq(broker_store_desktop_pause(s, 1, "assigned", "paused", NOW), 0);
	check_int_eq(broker_store_desktop_pause(s, 1, "connected", "paused", NOW), 1);
	check_int_eq(broker_store_desktop_pause(s, 2, "starting", "paused", NOW), 1);
	check_int_eq(broker_store_desktop_pause(s, 3, "stopped", "paused", NOW), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE state = 'error' AND message = 'paused' AND"
				   " ((id = 1 AND paused_from = 'connected') OR (id = 2 AND paused_from = 'assigned') OR"
				   "  (id = 3 AND paused_from = 'free'))"), 3);
	check_int_eq(broker_store_desktop_unpause(s, 2, NOW + 3), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 2 AND state = 'assigned' AND paused_from IS NULL"
				   " AND message IS NULL AND assigned_at = 1800000003"), 1);
	check_int_eq(broker_store_desktop_unpause(s, 2, NOW + 3), 0);
	check_int_eq(broker_store_desktop_paused_to_error(s, 1, "gone", NOW), 1);
	check_int_eq(broker_store_desktop_paused_to_error(s, 1, "gone", NOW), 0);
	check_int_eq(broker_store_desktop_unpause(s, 1, NOW), 0);
	broker_store_close(s);
}

/* Placement's and the hosts' counts: rows being deleted do not count; rows without a host are the first host's. */
static void test_desktop_counts_per_host(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;
	int64_t a = 0, b = 0, none = 0;

	add_template(s);
	add_pool(s, "p", 9);
	sql(path, "INSERT INTO desktops (pool_id, host, state, updated) VALUES"
		  " (1, 'qemu+ssh://a/system', 'free', 0), (1, 'qemu+ssh://a/system', 'deleting', 0),"
		  " (1, 'qemu+ssh://b/system', 'deleting', 0), (1, NULL, 'stopped', 0)");
	check(broker_store_desktops_count_by_host(s, &rows) >= 0);
	json_array_foreach(rows, i, row) {
		const char *h = json_string_value(json_object_get(row, "host"));
		int64_t n = json_integer_value(json_object_get(row, "n"));

		if (!h)
			none += n;
		else if (strcmp(h, "qemu+ssh://a/system") == 0)
			a += n;
		else
			b += n;
	}
	check_int_eq(a, 1);
	check_int_eq(b, 0);
	check_int_eq(none, 1);
	check_int_eq(broker_store_desktops_count_on_host(s, "qemu+ssh://a/system", true), 3);
	check_int_eq(broker_store_desktops_count_on_host(s, "qemu+ssh://a/system", false), 2);
	check_int_eq(broker_store_desktops_count_live_on_host(s, "qemu+ssh://a/system", true), 2);
	check_int_eq(broker_store_desktops_count_live_on_host(s, "qemu+ssh://b/system", false), 0);
	broker_store_close(s);
}

/* One desktop's row carries its pool's and template's settings, and draining from its host too. */
static void test_desktop_get(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	_cleanup_json_ json_t *row = NULL;

	add_template(s);
	add_pool(s, "p", 4);
	check_int_eq(broker_store_host_add(s, "qemu+ssh://a/system"), 1);
	check_int_eq(broker_store_host_add(s, "qemu+ssh://a/system"), 0);
	check_int_eq(broker_store_host_is_draining(s, "qemu+ssh://a/system"), 0);
	check_int_eq(broker_store_host_set_draining(s, "qemu+ssh://a/system", true), 1);
	check_int_eq(broker_store_host_is_draining(s, "qemu+ssh://a/system"), 1);
	check_int_eq(broker_store_host_is_draining(s, "qemu+ssh://nowhere/system"), 0);
	sql(path, "INSERT INTO desktops (id, pool_id, host, state, owner, updated) VALUES"
		  " (7, 1, 'qemu+ssh://a/system', 'free', NULL, 0)");
	check_int_eq(broker_store_desktop_get(s, 7, &row), 1);
	check_int_eq(json_integer_value(json_object_get(row, "id")), 7);
	check_str_eq(json_string_value(json_object_get(row, "pool")), "p");
	check_str_eq(json_string_value(json_object_get(row, "template")), "golden");
	check_str_eq(json_string_value(json_object_get(row, "disk_path")), "/images/golden.qcow2");
	check_int_eq(json_integer_value(json_object_get(row, "draining")), 1);
	check(json_is_null(json_object_get(row, "owner")));
	json_decref(row);
	check_int_eq(broker_store_desktop_get(s, 8, &row), 0);
	check(!row);
	/* A domain of a known pool that no row holds is an orphan; one of an unknown pool is not ours. */
	check_int_eq(broker_store_desktop_is_orphan(s, 7, "p"), 0);
	check_int_eq(broker_store_desktop_is_orphan(s, 8, "p"), 1);
	check_int_eq(broker_store_desktop_is_orphan(s, 8, "q"), 0);
	broker_store_close(s);
}

/* The state of version v of golden: "scheduled", "making", "ready", "deleted", or "" when there is none. */
static const char *version_state(const char *path, int v)
{
	static const char *const states[] = { "", "scheduled", "making", "ready", "deleted" };
	char q[300];

	snprintf(q, sizeof(q),
		 "SELECT IFNULL((SELECT CASE state WHEN 'scheduled' THEN 1 WHEN 'making' THEN 2 WHEN 'ready' THEN 3"
		 " ELSE 4 END FROM template_versions WHERE version = %d"
		 " AND template_id = (SELECT id FROM templates WHERE name = 'golden')), 0)", v);
	return states[sql_int(path, q)];
}

/* Publish's steps: reserve, made (current), scheduled ones, their start, postpone, drop. */
static void test_version_publish_steps(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct vdi_error err = { 0 };
	json_t *rows = NULL;
	int64_t v = 0, m = -1;

	add_template(s);
	check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/src/new.qcow2", .note = "patch"), NOW + 1, &v,
					      &err));
	check_int_eq(v, 2);
	check_str_eq(version_state(path, 2), "making");
	/* One at a time, and only of a template that is there. */
	check_err(broker_store_version_reserve(s, "golden", SRC(.path = "/src/other.qcow2"), NOW, &v, &err), EBUSY);
	check_str_contains(err.message, "version 2 of template \"golden\" is making already");
	check_err(broker_store_version_reserve(s, "nosuch", SRC(.path = "/src/x"), NOW, &v, &err), ENOENT);
	/* Still the old version until the base is made. */
	check_int_eq(sql_int(path, "SELECT version FROM templates WHERE name = 'golden'"), 1);
	check_ok(broker_store_version_made(s, "golden", 2, "/pool/vdi-template-golden-v2.qcow2", "qemu:///system",
					   NOW + 5));
	check_int_eq(sql_int(path, "SELECT count(*) FROM templates WHERE name = 'golden' AND version = 2"
				   " AND disk_path = '/pool/vdi-template-golden-v2.qcow2'"), 1);
	check_int_eq(broker_store_template_versions(s, "golden", &rows), 2);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "state")), "ready");
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "owned")), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "current")), 1);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "note")), "patch");
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 1), "owned")), 0);
	json_decref(rows);
	/* A reservation that is gone cannot be made. */
	check_err(broker_store_version_made(s, "golden", 7, "/pool/x", NULL, NOW), ENOENT);

	/* Scheduled: due at its time, started (making), postponed, dropped. */
	check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/src/v3.qcow2", .at = NOW + 100), NOW, &v, &err));
	check_int_eq(v, 3);
	check_str_eq(version_state(path, 3), "scheduled");
	check_int_eq(broker_store_versions_due(s, NOW + 99, &rows), 0);
	json_decref(rows);
	check_int_eq(broker_store_versions_due(s, NOW + 100, &rows), 1);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "source")), "/src/v3.qcow2");
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "maintenance_id")), 0);
	json_decref(rows);
	check_int_eq(broker_store_version_scheduled(s, "golden", &v, &m), 1);
	check_int_eq(v, 3);
	check_int_eq(m, 0);
	check_int_eq(broker_store_template_versions(s, "golden", &rows), 3);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "from_maintenance")), 0);
	json_decref(rows);
	check_int_eq(broker_store_version_begin(s, "golden", 3), 1);
	check_str_eq(version_state(path, 3), "making");
	check_int_eq(broker_store_version_begin(s, "golden", 3), 0);
	check_int_eq(broker_store_versions_making(s, &rows), 1);
	json_decref(rows);
	check_int_eq(broker_store_version_postpone(s, "golden", 3, NOW + 200), 1);
	check_str_eq(version_state(path, 3), "scheduled");
	check_int_eq(broker_store_version_drop(s, "golden", 3), 1);
	check_str_eq(version_state(path, 3), "");
	check_int_eq(broker_store_version_scheduled(s, "golden", &v, NULL), 0);
	/* A ready version is not dropped. */
	check_int_eq(broker_store_version_drop(s, "golden", 2), 0);
	broker_store_close(s);
}

/* Rollback's target and refusals; which bases nothing needs (keep_versions, desktops). */
static void test_version_rollback_and_unused(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct vdi_error err = { 0 };
	json_t *rows = NULL;
	int64_t v = 0;

	add_template(s);
	add_pool(s, "p", 4);
	for (int64_t n = 2; n <= 3; n++) {
		char disk[64];

		snprintf(disk, sizeof(disk), "/pool/vdi-template-golden-v%lld.qcow2", (long long)n);
		check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/src/x"), NOW, &v, &err));
		check_ok(broker_store_version_made(s, "golden", v, disk, "qemu:///system", NOW));
	}
	check_err(broker_store_version_rollback(s, "golden", 3, &v, &err), EALREADY);
	check_err(broker_store_version_rollback(s, "golden", 9, &v, &err), ESRCH);
	check_err(broker_store_version_rollback(s, "nosuch", 0, &v, &err), ENOENT);
	/* keep 2: current 3 and 2 stay; keep 1: 2 goes (1 is the admin's, never). */
	check_int_eq(broker_store_versions_unused(s, 2, &rows), 0);
	json_decref(rows);
	check_int_eq(broker_store_versions_unused(s, 1, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "version")), 2);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "host")), "qemu:///system");
	json_decref(rows);
	/* A desktop on version 2 keeps it. */
	sql(path, "INSERT INTO desktops (id, pool_id, state, template_version, updated) VALUES (1, 1, 'stopped', 2, 0)");
	check_int_eq(broker_store_versions_unused(s, 1, &rows), 0);
	json_decref(rows);
	/* Rollback without a target: the newest ready one below the current. */
	check_ok(broker_store_version_rollback(s, "golden", 0, &v, &err));
	check_int_eq(v, 2);
	check_int_eq(sql_int(path, "SELECT count(*) FROM templates WHERE version = 2"
				   " AND disk_path = '/pool/vdi-template-golden-v2.qcow2'"), 1);
	/* Now 3 is not current; kept (the newest other ready one) with keep 2, not with keep 1. */
	check_int_eq(broker_store_versions_unused(s, 2, &rows), 0);
	json_decref(rows);
	check_int_eq(broker_store_versions_unused(s, 1, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "version")), 3);
	json_decref(rows);
	check_int_eq(broker_store_version_deleted(s, "golden", 3), 1);
	check_str_eq(version_state(path, 3), "deleted");
	check_err(broker_store_version_rollback(s, "golden", 3, &v, &err), ENODATA);
	check_int_eq(broker_store_versions_live(s, &rows), 2);
	json_decref(rows);
	check_int_eq(broker_store_template_bases(s, "golden", &rows), 1);
	json_decref(rows);
	/* Back to 1, the admin's disk; nothing below it. */
	check_ok(broker_store_version_rollback(s, "golden", 1, &v, &err));
	check_int_eq(sql_int(path, "SELECT count(*) FROM templates WHERE version = 1"
				   " AND disk_path = '/images/golden.qcow2'"), 1);
	check_err(broker_store_version_rollback(s, "golden", 0, &v, &err), ESRCH);
	/* A publish under way blocks a rollback. */
	check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/src/x"), NOW, &v, &err));
	check_err(broker_store_version_rollback(s, "golden", 2, &v, &err), EBUSY);
	broker_store_close(s);
}

/* Assignment takes the current version first, then an outdated free one (reset onto the current). */
static void test_assignment_prefers_current_version(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_assignment a;
	struct vdi_error err = { 0 };
	json_t *rows = NULL;

	add_template(s);
	add_pool(s, "p", 3);
	sql(path, "UPDATE templates SET version = 2;"
		  "INSERT INTO desktops (id, pool_id, state, template_version, updated) VALUES"
		  " (1, 1, 'free', 1, 0), (2, 1, 'stopped', 2, 0), (3, 1, 'free', 2, 0)");
	/* The rollout sees the outdated one. */
	check_int_eq(broker_store_desktops_outdated(s, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "id")), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "free")), 2);
	json_decref(rows);
	check_ok(broker_store_assign(s, "p", "ann", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 3);
	check_int_eq(a.action, BROKER_ASSIGN_RUNNING);
	check_ok(broker_store_assign(s, "p", "bob", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 2);
	check_int_eq(a.action, BROKER_ASSIGN_START);
	check_ok(broker_store_assign(s, "p", "cat", false, "qemu:///system", NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	check_int_eq(a.action, BROKER_ASSIGN_RESET);
	check_str_eq(a.state, "resetting");
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 1 AND owner = 'cat' AND state = 'resetting'"), 1);
	/* The rollout cannot take what a user has. */
	check_int_eq(broker_store_desktop_rollout_take(s, 1, NOW), 0);
	broker_store_close(s);
}

/* A template's maintenance desktop: one at a time, its states, its version's base kept, published or recovered. */
static void test_maintenance(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct vdi_error err = { 0 };
	json_t *row = NULL, *rows = NULL;
	int64_t v = 0, m = 0;

	add_template(s);
	check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/src/x"), NOW, &v, &err));
	check_ok(broker_store_version_made(s, "golden", v, "/pool/vdi-template-golden-v2.qcow2", "qemu:///system", NOW));
	check_int_eq(broker_store_maintenance_list(s, NULL, &rows), 0);
	json_decref(rows);

	/* Made on the current version (2), from its disk and XML. */
	check_ok(broker_store_maintenance_add(s, "golden", 77, "qemu:///system", "adm", NOW, &row, &err));
	check_int_eq(json_integer_value(json_object_get(row, "id")), 77);
	check_int_eq(json_integer_value(json_object_get(row, "version")), 2);
	check_str_eq(json_string_value(json_object_get(row, "disk_path")), "/pool/vdi-template-golden-v2.qcow2");
	check_str_eq(json_string_value(json_object_get(row, "xml")), "<domain/>");
	json_decref(row);
	/* One per template; an id is never two's; no template, no maintenance desktop. */
	check_err(broker_store_maintenance_add(s, "golden", 78, NULL, "adm", NOW, &row, &err), EEXIST);
	check_str_eq(err.message, "template \"golden\" has a maintenance desktop already (provisioning)");
	check_err(broker_store_maintenance_add(s, "nosuch", 79, NULL, "adm", NOW, &row, &err), ENOENT);
	check_ok(broker_store_add_template(s, "other", "/images/other.qcow2", "<domain/>", NOW, &err));
	check_err(broker_store_maintenance_add(s, "other", 77, NULL, "adm", NOW, &row, &err), EADDRINUSE);
	check_int_eq(sql_int(path, "SELECT count(*) FROM maintenance"), 1);

	/* Its state moves only from the state given. */
	check_int_eq(broker_store_maintenance_set_state(s, 77, "stopped", "publishing", NULL, NULL, NOW), 0);
	check_int_eq(broker_store_maintenance_set_state(s, 77, "provisioning", "running", "/pool/vdi-_maintenance-77.qcow2",
							NULL, NOW + 5), 1);
	check_int_eq(broker_store_maintenance_get(s, 77, &row), 1);
	check_str_eq(json_string_value(json_object_get(row, "state")), "running");
	check_str_eq(json_string_value(json_object_get(row, "template")), "golden");
	check_str_eq(json_string_value(json_object_get(row, "disk")), "/pool/vdi-_maintenance-77.qcow2");
	check_str_eq(json_string_value(json_object_get(row, "started_by")), "adm");
	check_int_eq(json_integer_value(json_object_get(row, "updated")), NOW + 5);
	check_int_eq(json_integer_value(json_object_get(row, "current")), 1);
	json_decref(row);
	check_int_eq(broker_store_maintenance_get(s, 78, &row), 0);

	/* A template with one cannot be removed behind the API's back either. */
	check(broker_store_remove_template(s, "golden") < 0);

	/* Version 2 is kept while the maintenance desktop is on it, even when nothing else needs it. */
	check_ok(broker_store_version_rollback(s, "golden", 1, &v, &err));
	check_int_eq(broker_store_versions_unused(s, 1, &rows), 0);
	json_decref(rows);
	check_int_eq(broker_store_maintenance_get(s, 77, &row), 1);
	check_int_eq(json_integer_value(json_object_get(row, "current")), 0);
	json_decref(row);
	check_ok(broker_store_version_rollback(s, "golden", 2, &v, &err));

	/* Scheduled from it: the version names it, when due as when asked. */
	check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/pool/vdi-_maintenance-77.qcow2",
							       .maintenance_id = 77, .at = NOW + 60), NOW, &v, &err));
	check_int_eq(v, 3);
	check_int_eq(broker_store_version_scheduled(s, "golden", &v, &m), 1);
	check_int_eq(m, 77);
	check_int_eq(broker_store_versions_due(s, NOW + 60, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "maintenance_id")), 77);
	json_decref(rows);
	check_int_eq(broker_store_template_versions(s, "golden", &rows), 3);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "from_maintenance")), 1);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "state")), "scheduled");
	json_decref(rows);
	check_int_eq(broker_store_version_drop(s, "golden", 3), 1);

	/* Publishing: the version is made and the maintenance desktop goes, in one transaction. */
	check_int_eq(broker_store_maintenance_set_state(s, 77, "running", "stopped", NULL, NULL, NOW), 1);
	check_int_eq(broker_store_maintenance_set_state(s, 77, "stopped", "publishing", NULL, NULL, NOW), 1);
	check_ok(broker_store_version_reserve(s, "golden", SRC(.path = "/pool/vdi-_maintenance-77.qcow2",
							       .maintenance_id = 77, .note = "m2"), NOW, &v, &err));
	check_int_eq(v, 3);
	/* A broker that stopped meanwhile: at start the maintenance desktop is stopped again. */
	check_int_eq(broker_store_maintenance_recover(s, NOW), 1);
	check_err(broker_store_version_made_from_maintenance(s, "golden", 3, "/pool/vdi-template-golden-v3.qcow2",
							     "qemu:///system", 77, NOW), ENOENT);
	check_int_eq(sql_int(path, "SELECT version FROM templates WHERE name = 'golden'"), 2);
	check_int_eq(sql_int(path, "SELECT count(*) FROM template_versions WHERE version = 3 AND state = 'making'"), 1);
	check_int_eq(broker_store_maintenance_set_state(s, 77, "stopped", "publishing", NULL, NULL, NOW), 1);
	check_ok(broker_store_version_made_from_maintenance(s, "golden", 3, "/pool/vdi-template-golden-v3.qcow2",
							    "qemu:///system", 77, NOW));
	check_int_eq(sql_int(path, "SELECT version FROM templates WHERE name = 'golden'"), 3);
	check_int_eq(sql_int(path, "SELECT count(*) FROM maintenance WHERE id = 77 AND state = 'deleting'"), 1);
	/* Still there (being removed), it keeps version 2; once gone, version 2 may go. */
	check_int_eq(broker_store_versions_unused(s, 1, &rows), 0);
	json_decref(rows);
	check_int_eq(broker_store_maintenance_remove(s, 77), 1);
	check_int_eq(broker_store_versions_unused(s, 1, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "version")), 2);
	json_decref(rows);
	check_int_eq(broker_store_remove_template(s, "golden"), 1);
	broker_store_close(s);
}

/* A user data disk: persistent pools only, within range, never smaller once set; shown with the pool. */
static void test_pool_data_disk(void)
{
	struct broker_store *s = open_store(":memory:");
	struct broker_pool_def d = { .name = "home", .template_name = "golden", .persistent = true, .size = 4,
				     .max_per_user = 1, .data_disk_mib = 2048 };
	struct broker_pool_limits l;
	struct vdi_error err = { 0 };
	json_t *rows = NULL;

	add_template(s);
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_ok(broker_store_pool_limits(s, "home", &l));
	check_int_eq(l.data_disk_mib, 2048);
	check_int_eq(broker_store_pools(s, "home", &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "data_disk_mib")), 2048);
	json_decref(rows);
	/* Pooled: none. */
	d.name = "lab";
	d.persistent = false;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	check_str_contains(err.message, "a data disk needs a persistent pool");
	check_int_eq(broker_store_pool_exists(s, "lab"), 0);
	d.data_disk_mib = 0;
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_err(broker_store_pool_check_data_disk(s, "lab", 100, &err), EINVAL);
	check_str_contains(err.message, "a data disk needs a persistent pool");
	check_ok(broker_store_pool_check_data_disk(s, "lab", 0, &err));
	/* Out of range. */
	d.name = "big";
	d.persistent = true;
	d.data_disk_mib = BROKER_DATA_DISK_MIB_MAX + 1;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	d.data_disk_mib = -1;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	/* Growing is fine, shrinking (or dropping) is not. */
	check_ok(broker_store_pool_check_data_disk(s, "home", 2048, &err));
	check_ok(broker_store_pool_check_data_disk(s, "home", 4096, &err));
	check_err(broker_store_pool_check_data_disk(s, "home", 1024, &err), EINVAL);
	check_str_contains(err.message, "cannot shrink");
	check_str_contains(err.message, "2048 MiB");
	check_err(broker_store_pool_check_data_disk(s, "home", 0, &err), EINVAL);
	check_err(broker_store_pool_check_data_disk(s, "nosuch", 1, &err), ENOENT);
	l.data_disk_mib = 4096;
	check_int_eq(broker_store_update_pool(s, "home", &l, NULL), 1);
	check_ok(broker_store_pool_limits(s, "home", &l));
	check_int_eq(l.data_disk_mib, 4096);
	broker_store_close(s);
}

/* Network settings: stored as given, the effective network in the listings and the rows jobs read; refused
 * combinations change nothing. */
static void test_pool_network(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def d = { .name = "lab", .template_name = "golden", .size = 4, .max_per_user = 1,
				     .network = "network:lan", .isolate = BROKER_ISOLATE_NO, .bandwidth_kbps = 8000 };
	struct broker_pool_limits l;
	struct vdi_error err = { 0 };
	json_t *rows = NULL, *row;
	char buf[BROKER_NETWORK_VALUE_MAX];
	int64_t id = 0;

	add_template(s);
	/* The template's network: none, then set. */
	check_int_eq(broker_store_template_network(s, "golden", buf, sizeof(buf)), 0);
	check_str_eq(buf, "");
	check_err(broker_store_template_network(s, "nosuch", buf, sizeof(buf)), ENOENT);
	check_int_eq(broker_store_set_template_network(s, "golden", "bridge:br0"), 1);
	check_int_eq(broker_store_template_network(s, "golden", buf, sizeof(buf)), 1);
	check_str_eq(buf, "bridge:br0");
	check_int_eq(broker_store_templates(s, "golden", &rows), 1);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "network")), "bridge:br0");
	json_decref(rows);

	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_ok(broker_store_pool_limits(s, "lab", &l));
	check_str_eq(l.network, "network:lan");
	check_int_eq(l.isolate, BROKER_ISOLATE_NO);
	check_int_eq(l.bandwidth_kbps, 8000);
	check_str_eq(l.template_network, "bridge:br0");
	check(!l.persistent);
	check_int_eq(broker_store_pools(s, "lab", &rows), 1);
	row = json_array_get(rows, 0);
	check_str_eq(json_string_value(json_object_get(row, "network")), "network:lan");
	check_int_eq(json_integer_value(json_object_get(row, "network_inherited")), 0);
	check_int_eq(json_integer_value(json_object_get(row, "isolate_desktops")), 0);
	check_int_eq(json_integer_value(json_object_get(row, "bandwidth_kbps")), 8000);
	json_decref(rows);

	/* Back to the template's network and the default isolation: inherited. */
	l.network[0] = '\0';
	l.isolate = BROKER_ISOLATE_DEFAULT;
	check_int_eq(broker_store_update_pool(s, "lab", &l, NULL), 1);
	check_int_eq(sql_int(path, "SELECT network IS NULL AND isolate_desktops IS NULL FROM pools WHERE name = 'lab'"), 1);
	check_int_eq(broker_store_pools(s, "lab", &rows), 1);
	row = json_array_get(rows, 0);
	check_str_eq(json_string_value(json_object_get(row, "network")), "bridge:br0");
	check_int_eq(json_integer_value(json_object_get(row, "network_inherited")), 1);
	check(json_is_null(json_object_get(row, "isolate_desktops")));
	json_decref(rows);
	l.isolate = BROKER_ISOLATE_YES;
	check_int_eq(broker_store_update_pool(s, "lab", &l, NULL), 1);
	check_int_eq(sql_int(path, "SELECT isolate_desktops FROM pools WHERE name = 'lab'"), 1);

	/* The rows jobs, spares and the rollout read carry the effective network. */
	check_int_eq(broker_store_desktop_add_spare(s, 1, NULL, NOW, &id), 1);
	check_int_eq(broker_store_desktop_get(s, id, &row), 1);
	check_str_eq(json_string_value(json_object_get(row, "network")), "bridge:br0");
	check_int_eq(json_integer_value(json_object_get(row, "isolate_desktops")), 1);
	check_int_eq(json_integer_value(json_object_get(row, "bandwidth_kbps")), 8000);
	json_decref(row);
	check(broker_store_desktops_for_reconcile(s, &rows) >= 1);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "network")), "bridge:br0");
	json_decref(rows);
	l.prestart = 1;
	check_int_eq(broker_store_update_pool(s, "lab", &l, NULL), 1);
	check_int_eq(broker_store_pools_to_keep(s, &rows), 1);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "network")), "bridge:br0");
	json_decref(rows);
	/* Defined desktops (not one being made) for the live bandwidth change. */
	check_int_eq(broker_store_pool_desktops_defined(s, "lab", &rows), 0);
	json_decref(rows);
	sql(path, "UPDATE desktops SET state = 'free'");
	check_int_eq(broker_store_pool_desktops_defined(s, "lab", &rows), 1);
	json_decref(rows);

	/* Refused, nothing added: isolation where it cannot be, a limit without a network, out of range, malformed. */
	d = (struct broker_pool_def){ .name = "bad", .template_name = "golden", .size = 1, .max_per_user = 1,
				      .network = "ovs:br-ovs:12", .isolate = BROKER_ISOLATE_YES };
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	check_str_contains(err.message, "isolate_desktops");
	check_str_contains(err.message, "Open vSwitch");
	d.network = "user";
	d.isolate = BROKER_ISOLATE_DEFAULT;
	d.bandwidth_kbps = 100;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	check_str_contains(err.message, "bandwidth_kbps");
	d.network = "network:lan";
	d.bandwidth_kbps = BROKER_BANDWIDTH_KBPS_MAX + 1;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	check_str_contains(err.message, "bandwidth_kbps");
	d.bandwidth_kbps = 0;
	d.network = "network:";
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	check_str_contains(err.message, "network");
	/* The template's bridge can be isolated: an inherited network counts. */
	d.network = NULL;
	d.isolate = BROKER_ISOLATE_YES;
	d.bandwidth_kbps = 1;
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_int_eq(sql_int(path, "SELECT count(*) FROM pools"), 2);
	broker_store_close(s);
}

/* Assignment passes over free desktops on a host without the pool's libvirt network (not looked yet: usable). */
/* Schema 12's columns: a template's OS, firmware, Secure Boot and TPM; a pool's usb_redirect, to the rows jobs and
 * the console read. */
static void test_template_hardware_and_usb(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def d = { .name = "lab", .template_name = "golden", .size = 4, .max_per_user = 1,
				     .usb_redirect = 4 };
	struct broker_pool_limits l;
	struct vdi_error err = { 0 };
	json_t *rows = NULL, *row;

	add_template(s);
	/* The defaults: no OS, BIOS, neither. */
	check_int_eq(broker_store_templates(s, "golden", &rows), 1);
	row = json_array_get(rows, 0);
	check(json_is_null(json_object_get(row, "os")));
	check_str_eq(json_string_value(json_object_get(row, "firmware")), "bios");
	check_int_eq(json_integer_value(json_object_get(row, "secure_boot")), 0);
	check_int_eq(json_integer_value(json_object_get(row, "tpm")), 0);
	json_decref(rows);
	check_int_eq(broker_store_set_template_hardware(s, "golden", "win11", "uefi", true, true), 1);
	check_int_eq(broker_store_templates(s, "golden", &rows), 1);
	row = json_array_get(rows, 0);
	check_str_eq(json_string_value(json_object_get(row, "os")), "win11");
	check_str_eq(json_string_value(json_object_get(row, "firmware")), "uefi");
	check_int_eq(json_integer_value(json_object_get(row, "secure_boot")), 1);
	check_int_eq(json_integer_value(json_object_get(row, "tpm")), 1);
	json_decref(rows);
	/* "" is none; a firmware the schema does not know is refused. */
	check_int_eq(broker_store_set_template_hardware(s, "golden", "", "bios", false, true), 1);
	check_int_eq(sql_int(path, "SELECT os IS NULL AND firmware = 'bios' AND secure_boot = 0 AND tpm = 1 FROM templates"), 1);
	check(broker_store_set_template_hardware(s, "golden", NULL, "efi", false, false) < 0);
	check_int_eq(broker_store_set_template_hardware(s, "nosuch", NULL, "bios", false, false), 0);

	/* A pool's usb_redirect: given, in its limits and rows, updated, checked. */
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_ok(broker_store_pool_limits(s, "lab", &l));
	check_int_eq(l.usb_redirect, 4);
	check_int_eq(broker_store_pools(s, "lab", &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "usb_redirect")), 4);
	json_decref(rows);
	l.usb_redirect = 0;
	check_int_eq(broker_store_update_pool(s, "lab", &l, NULL), 1);
	check_int_eq(sql_int(path, "SELECT usb_redirect FROM pools WHERE name = 'lab'"), 0);
	l.usb_redirect = 9;
	check(broker_store_update_pool(s, "lab", &l, NULL) < 0);
	d.name = "bad";
	d.usb_redirect = 9;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);
	check_str_contains(err.message, "usb_redirect");
	d.usb_redirect = -1;
	check_err(broker_store_add_pool(s, &d, NOW, &err), EINVAL);

	/* The rows a job and a user's console read carry it. */
	sql(path, "UPDATE pools SET usb_redirect = 3 WHERE name = 'lab'");
	sql(path, "INSERT INTO desktops (id, pool_id, host, state, owner, updated) VALUES"
		  " (7, 1, 'qemu+ssh://a/system', 'assigned', 'alice', 0)");
	check_int_eq(broker_store_desktop_get(s, 7, &row), 1);
	check_int_eq(json_integer_value(json_object_get(row, "usb_redirect")), 3);
	json_decref(row);
	check_int_eq(broker_store_desktops_for_reconcile(s, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "usb_redirect")), 3);
	json_decref(rows);
	check_int_eq(broker_store_user_desktop(s, 7, "alice", &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "usb_redirect")), 3);
	json_decref(rows);
	broker_store_close(s);
}

/* Templates recorded before schema 12 (BIOS, no TPM, whatever their XML): the broker's start records what each
 * XML without an OS asks of a host, so placement passes over hosts without it; a template with an OS is left. */
static void test_template_hardware_check(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct vdi_error err = { 0 };
	json_t *rows = NULL, *row;

	check_ok(broker_store_add_template(s, "efi", "/images/efi.qcow2",
					   "<domain><memory>1</memory><os firmware='efi'><firmware><feature enabled='yes' "
					   "name='secure-boot'/></firmware></os><devices><tpm model='tpm-crb'><backend "
					   "type='emulator' version='2.0'/></tpm></devices></domain>", NOW, &err));
	check_ok(broker_store_add_template(s, "plain", "/images/plain.qcow2", "<domain><memory>1</memory><os/></domain>",
					   NOW, &err));
	check_ok(broker_store_add_template(s, "win", "/images/win.qcow2", "<domain><memory>1</memory><os/></domain>",
					   NOW, &err));
	check_int_eq(broker_store_set_template_hardware(s, "win", "win11", "uefi", true, true), 1);

	check_int_eq(broker_templates_hardware_check(s), 1);
	check_int_eq(broker_store_templates(s, NULL, &rows), 3);
	row = json_array_get(rows, 0); /* efi */
	check_str_eq(json_string_value(json_object_get(row, "firmware")), "uefi");
	check_int_eq(json_integer_value(json_object_get(row, "secure_boot")), 1);
	check_int_eq(json_integer_value(json_object_get(row, "tpm")), 1);
	row = json_array_get(rows, 1); /* plain: as it was */
	check_str_eq(json_string_value(json_object_get(row, "firmware")), "bios");
	check_int_eq(json_integer_value(json_object_get(row, "tpm")), 0);
	row = json_array_get(rows, 2); /* win: its OS decided, untouched */
	check_str_eq(json_string_value(json_object_get(row, "os")), "win11");
	check_int_eq(json_integer_value(json_object_get(row, "tpm")), 1);
	json_decref(rows);
	/* Once recorded, nothing more to do. */
	check_int_eq(broker_templates_hardware_check(s), 0);
	broker_store_close(s);
}

static void test_assignment_by_network(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def d = { .name = "p", .template_name = "golden", .size = 6, .max_per_user = 1,
				     .network = "network:lan" };
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	sql(path, "INSERT INTO hosts (uri, up, draining, networks) VALUES ('qemu+tcp://h1/system', 1, 0, ',default,'),"
		  " ('qemu+tcp://h2/system', 1, 0, ',default,lan,'), ('qemu+tcp://h3/system', 1, 0, NULL);"
		  "INSERT INTO desktops (id, pool_id, host, state, updated) VALUES"
		  " (1, 1, 'qemu+tcp://h1/system', 'free', 0), (2, 1, 'qemu+tcp://h2/system', 'free', 0),"
		  " (3, 1, 'qemu+tcp://h3/system', 'free', 0), (4, 1, 'qemu+tcp://h1/system', 'stopped', 0)");
	check_ok(broker_store_assign(s, "p", "ann", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 2);
	check_ok(broker_store_assign(s, "p", "bob", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 3);
	/* h1 lacks lan: its free and stopped desktops stay; nothing else can be had without a host. */
	check_err(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err), EHOSTUNREACH);
	/* "lan2" is not "lan". */
	sql(path, "UPDATE hosts SET networks = ',lan2,' WHERE uri = 'qemu+tcp://h1/system'");
	check_err(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err), EHOSTUNREACH);
	sql(path, "UPDATE hosts SET networks = ',lan2,lan,' WHERE uri = 'qemu+tcp://h1/system'");
	check_ok(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	/* A pool on a bridge (or none) is not held to the hosts' libvirt networks. */
	sql(path, "UPDATE hosts SET networks = ','; UPDATE pools SET network = 'bridge:br0'");
	check_ok(broker_store_assign(s, "p", "dan", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 4);
	broker_store_close(s);
}

/* A free desktop on a host that no longer offers what its template asks (its OVMF or swtpm went) is not handed
 * out; a host not looked at yet counts as offering it. */
static void test_assignment_by_hardware(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def d = { .name = "p", .template_name = "golden", .size = 6, .max_per_user = 1 };
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	check_int_eq(broker_store_set_template_hardware(s, "golden", "win11", "uefi", true, true), 1);
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	sql(path, "INSERT INTO hosts (uri, up, draining, hardware) VALUES ('qemu+tcp://h1/system', 1, 0, ',uefi,secure-boot,'),"
		  " ('qemu+tcp://h2/system', 1, 0, ',uefi,secure-boot,tpm,'), ('qemu+tcp://h3/system', 1, 0, NULL);"
		  "INSERT INTO desktops (id, pool_id, host, state, updated) VALUES"
		  " (1, 1, 'qemu+tcp://h1/system', 'free', 0), (2, 1, 'qemu+tcp://h2/system', 'free', 0),"
		  " (3, 1, 'qemu+tcp://h3/system', 'free', 0)");
	check_ok(broker_store_assign(s, "p", "ann", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 2);
	check_ok(broker_store_assign(s, "p", "bob", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 3);
	/* h1 lacks a TPM: its desktop stays. */
	check_err(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err), EHOSTUNREACH);
	/* Without the TPM need, h1 lacks nothing the template asks. */
	check_int_eq(broker_store_set_template_hardware(s, "golden", "win11", "uefi", true, false), 1);
	check_ok(broker_store_assign(s, "p", "carol", false, NULL, NOW, &a, &err));
	check_int_eq(a.desktop_id, 1);
	broker_store_close(s);
}

/* The place callback is asked with the NAME of the pool's effective "network:NAME". */
static const char *place_record(void *data, const char *template, const char *network)
{
	char *seen = data;

	snprintf(seen, 128, "%s %s", template, network ? network : "(none)");
	return "qemu:///system";
}

static void test_assignment_place_network(void)
{
	struct broker_store *s = open_store(":memory:");
	struct broker_pool_def d = { .name = "p", .template_name = "golden", .size = 6, .max_per_user = 1 };
	char seen[128] = "";
	struct broker_place place = { place_record, seen };
	struct broker_assignment a;
	struct vdi_error err = { 0 };

	add_template(s);
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	check_ok(broker_store_assign_placed(s, "p", "ann", false, &place, NOW, &a, &err));
	check_str_eq(seen, "golden (none)");
	check_int_eq(broker_store_set_template_network(s, "golden", "network:default"), 1);
	check_ok(broker_store_assign_placed(s, "p", "bob", false, &place, NOW, &a, &err));
	check_str_eq(seen, "golden default");
	check_int_eq(broker_store_exec(s, "UPDATE pools SET network = 'ovs:br1:7'", NULL), 1);
	check_ok(broker_store_assign_placed(s, "p", "carol", false, &place, NOW, &a, &err));
	check_str_eq(seen, "golden (none)");
	broker_store_close(s);
}

/* Recompose: persistent desktops only, not while one is being made, reset or deleted; a pool's marks. */
static void test_recompose(void)
{
	_cleanup_free_ char *path = db_path();
	struct broker_store *s = open_store(path);
	struct broker_pool_def d = { .name = "home", .template_name = "golden", .persistent = true, .size = 9,
				     .max_per_user = 1 };
	struct vdi_error err = { 0 };
	json_t *rows = NULL;
	int64_t v = 0;

	add_template(s);
	add_pool(s, "lab", 4);
	check_ok(broker_store_add_pool(s, &d, NOW, &err));
	sql(path, "UPDATE templates SET version = 2;"
		  "INSERT INTO desktops (id, pool_id, state, owner, template_version, updated) VALUES"
		  " (1, 1, 'free', NULL, 1, 0), (2, 2, 'connected', 'ann', 1, 0), (3, 2, 'stopped', 'bob', 2, 0),"
		  " (4, 2, 'provisioning', 'cat', NULL, 0), (5, 2, 'deleting', 'dan', 1, 0),"
		  " (6, 2, 'stopped', 'eve', 1, 0), (7, 2, 'stopped', 'fay', 1, 0), (8, 2, 'error', 'gus', 1, 0)");
	/* One desktop: pooled ones follow the rollout; not while one is made, reset or deleted. */
	check_err(broker_store_desktop_recompose(s, 1, NOW, &err), EPERM);
	check_str_contains(err.message, "pooled desktops follow the rollout");
	check_err(broker_store_desktop_recompose(s, 4, NOW, &err), EBUSY);
	check_str_contains(err.message, "provisioning");
	check_err(broker_store_desktop_recompose(s, 5, NOW, &err), EBUSY);
	check_err(broker_store_desktop_recompose(s, 99, NOW, &err), ENOENT);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE recompose = 1"), 0);
	/* A running one: "resetting", still its owner's, marked. */
	check_ok(broker_store_desktop_recompose(s, 2, NOW + 1, &err));
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 2 AND state = 'resetting' AND owner = 'ann'"
				   " AND recompose = 1 AND updated = 1800000001"), 1);
	check_err(broker_store_desktop_recompose(s, 2, NOW, &err), EBUSY);
	/* A pool: pooled refused; the persistent one's outdated desktops marked (not 3: current; not 4, 5). */
	check_err(broker_store_pool_recompose(s, "lab", &v, &err), EPERM);
	check_str_contains(err.message, "pool \"lab\" is pooled");
	check_err(broker_store_pool_recompose(s, "nosuch", &v, &err), ENOENT);
	check_int_eq(broker_store_pool_recompose(s, "home", &v, &err), 4);
	check_int_eq(v, 2);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE recompose = 1 AND id IN (2, 6, 7, 8)"), 4);
	/* Two at a time: 2 is under way, so one more. */
	check_int_eq(broker_store_recompose_next(s, 2, &rows), 1);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "id")), 6);
	check_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "pool")), "home");
	json_decref(rows);
	check_int_eq(broker_store_recompose_take(s, 6, NOW), 1);
	check_int_eq(broker_store_recompose_take(s, 6, NOW), 0);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE id = 6 AND state = 'resetting' AND owner = 'eve'"), 1);
	check_int_eq(broker_store_recompose_next(s, 2, &rows), 0);
	json_decref(rows);
	/* Done (a fresh overlay on 2): the mark goes; a failed one's is cleared; the next comes. */
	check_int_eq(broker_store_desktop_made_fresh(s, 2, 2, NOW), 1);
	check_int_eq(broker_store_recompose_clear(s, 6), 1);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE recompose = 1"), 2);
	check_int_eq(broker_store_recompose_next(s, 2, &rows), 2);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "id")), 7);
	check_int_eq(json_integer_value(json_object_get(json_array_get(rows, 1), "id")), 8);
	json_decref(rows);
	/* A rollback to 1 puts the marked ones on the current version: their marks go. */
	sql(path, "UPDATE templates SET version = 1");
	check_int_eq(broker_store_recompose_next(s, 2, &rows), 0);
	json_decref(rows);
	check_int_eq(sql_int(path, "SELECT count(*) FROM desktops WHERE recompose = 1"), 0);
	broker_store_close(s);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_max_per_user),
	VDI_TEST(test_generic_queries),
	VDI_TEST(test_open_and_migrate),
	VDI_TEST(test_desktop_ids_not_reused),
	VDI_TEST(test_templates_and_pools),
	VDI_TEST(test_migrate_5_to_6),
	VDI_TEST(test_add_template_version_1),
	VDI_TEST(test_template_version_counts),
	VDI_TEST(test_version_publish_steps),
	VDI_TEST(test_version_rollback_and_unused),
	VDI_TEST(test_maintenance),
	VDI_TEST(test_assignment_prefers_current_version),
	VDI_TEST(test_assignment_order),
	VDI_TEST(test_assignment_across_hosts),
	VDI_TEST(test_persistent_desktop_in_error),
	VDI_TEST(test_spare_on_its_way_up),
	VDI_TEST(test_twenty_users_ten_desktops),
	VDI_TEST(test_state_changes_and_audit),
	VDI_TEST(test_desktop_spice),
	VDI_TEST(test_desktop_mark_running),
	VDI_TEST(test_desktop_pause_unpause),
	VDI_TEST(test_desktop_counts_per_host),
	VDI_TEST(test_desktop_get),
	VDI_TEST(test_pool_data_disk),
	VDI_TEST(test_recompose),
	VDI_TEST(test_pool_network),
	VDI_TEST(test_template_hardware_and_usb),
	VDI_TEST(test_template_hardware_check),
	VDI_TEST(test_assignment_by_network),
	VDI_TEST(test_assignment_by_hardware),
	VDI_TEST(test_assignment_place_network),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
