/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Maintenance desktops with real desktops (docs/templates.md): vdi-broker against the real
 * libvirtd (qemu:///system) with the test guest as its template.
 *
 *  - template edit boots a maintenance desktop (its serial console shows the guest's banner); a
 *    marker typed on its console ("vdi-mark m2") is written to its overlay; publish is refused
 *    while it runs; one scheduled (--at) while it runs is taken, blocks its discard, and when due
 *    fails with the audit saying why and nothing changed; kill -9 of the broker and a restart
 *    leave it running and the store saying so; an ACPI shutdown shows as "stopped" (libvirt's
 *    event); a publish --from-maintenance scheduled then (after one cancelled) makes version 2
 *    when due, a flattened base (no backing file) with the marker, and the maintenance desktop
 *    goes (domain and overlay); a new pool desktop on the template boots with "marker=m2";
 *  - discard removes domain and overlay; after kill -9, a maintenance domain whose row is gone is
 *    deleted by the restarted broker's reconcile, and a row whose domain is gone is removed with
 *    what was left of it.
 *
 * Boots under TCG take minutes: the first test shares its one maintenance boot between its steps.
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sqlite3.h>

#include "alloc.h"
#include "broker-test.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "maintenance-fixture.h"
#include "vmpool-test.h"

#define URI FIXTURE_URI
#define BANNER "VDI-TEST-GUEST READY"
#define BOOT_MS FIXTURE_BOOT_MS

/* ---- helpers ------------------------------------------------------------------------------------ */

/* Fails (at the caller's line) unless the admin socket answers status with an error containing text. */
#define admin_error(d, method, path, body, status, text) \
	admin_error_at(__FILE__, __LINE__, d, method, path, body, status, text)
static void admin_error_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
			   const char *body, int status, const char *text)
{
	struct http_reply r = admin_req(d, method, path, body);
	json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	if (r.status != status || !e || !strstr(e, text))
		vdi_test_fail(file, line, "%s %s: expected %d \"%s\", got %d %s", method, path, status, text, r.status,
			      r.body ? r.body : "");
	json_decref(j);
	http_reply_finish(&r);
}

/* Version v of template t as its GET shows it (a new reference), or NULL when it has none. */
static json_t *version_of(struct fixture *f, const char *t, int64_t v)
{
	json_t *j = admin_json(&f->d, "GET", fixture_template_path(t, ""), NULL, 200), *row, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "versions"), i, row)
		if (json_integer_value(json_object_get(row, "version")) == v)
			found = json_incref(row);
	json_decref(j);
	return found;
}

/* Waits until version v of t is in state (NULL: gone); false after ms. */
static bool wait_version(struct fixture *f, const char *t, int64_t v, const char *state, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	for (;;) {
		json_t *row = version_of(f, t, v);
		bool ok = state ? row && streq_ptr(json_string_value(json_object_get(row, "state")), state) : !row;

		json_decref(row);
		if (ok)
			return true;
		if (vdi_test_now_ms() > end)
			return false;
		usleep(200 * 1000);
	}
}

/* POSTs a publish from t's maintenance desktop due in seconds s: 202 and version v scheduled, from it. */
static void schedule_publish(struct fixture *f, const char *t, int s, const char *note, int64_t v)
{
	char body[256];
	json_t *j, *row;

	snprintf(body, sizeof(body), "{\"from_maintenance\": true, \"note\": \"%s\", \"at\": %lld}", note,
		 (long long)time(NULL) + s);
	j = admin_json(&f->d, "POST", fixture_template_path(t, "/publish"), body, 202);
	check_int_eq(json_integer_value(json_object_get(j, "version")), v - 1);
	json_decref(j);
	row = version_of(f, t, v);
	check(row);
	check_str_eq(json_string_value(json_object_get(row, "state")), "scheduled");
	check(json_is_true(json_object_get(row, "from_maintenance")));
	check_str_eq(json_string_value(json_object_get(row, "note")), note);
	json_decref(row);
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The overlay of maintenance domain name: "<images>/<name>.qcow2" (static buffer). */
static const char *overlay_of(struct fixture *f, const char *name)
{
	static char path[768];

	snprintf(path, sizeof(path), "%s/%s.qcow2", f->images, name);
	return path;
}

/* How many maintenance overlays ("vdi-_maintenance-*.qcow2") the images directory holds. */
static size_t maintenance_files(struct fixture *f)
{
	struct fixture_ids ids;

	fixture_overlay_ids(f, FIXTURE_MAINTENANCE_POOL, &ids);
	return ids.n;
}

/* Types line on the domain's serial console (the guest reads commands there). */
static void console_type(const char *domain, const char *line)
{
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr d;
	virStreamPtr st;
	size_t done = 0, len = strlen(line);

	check(c);
	check(d = virDomainLookupByName(c, domain));
	check(st = virStreamNew(c, 0));
	if (virDomainOpenConsole(d, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0)
		vdi_test_fail(__FILE__, __LINE__, "cannot open the console of %s: %s", domain, virGetLastErrorMessage());
	while (done < len) {
		int n = virStreamSend(st, line + done, len - done);

		if (n < 0)
			vdi_test_fail(__FILE__, __LINE__, "cannot type on %s: %s", domain, virGetLastErrorMessage());
		done += (size_t)n;
	}
	(void)virStreamFinish(st);
	virStreamFree(st);
	virDomainFree(d);
	virConnectClose(c);
}

/* Destroys and undefines a domain behind the broker's back (its overlay stays). */
static void remove_domain(const char *domain)
{
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr d;

	check(c);
	check(d = virDomainLookupByName(c, domain));
	(void)virDomainDestroy(d);
	check(virDomainUndefine(d) == 0);
	virDomainFree(d);
	virConnectClose(c);
}

/* Waits for needle on the domain's serial console; fails the test with what it showed otherwise. */
static void expect_console(const char *domain, const char *needle)
{
	static char out[16384];

	if (!test_console_wait(URI, domain, needle, BOOT_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: no \"%s\" on the console; it showed:\n%s", domain, needle, out);
}

/* The first line the shell command cmd prints (a static buffer, without its newline). */
static const char *command_line(const char *cmd)
{
	static char line[4096];
	FILE *p;

	check(p = popen(cmd, "r"));
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	check_int_eq(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

/* The marker in disk (tests/guest/read-marker, which follows the backing chain). */
static const char *marker_of(const char *disk)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s/tests/guest/read-marker' '%s'", test_env_or_fail("VDI_SOURCE_ROOT"), disk);
	return command_line(cmd);
}

/* SQL on the broker's database (the broker is stopped). */
static void store_sql(struct fixture *f, const char *stmt)
{
	sqlite3 *db;

	check(sqlite3_open(f->d.db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, stmt, NULL, NULL, NULL) != SQLITE_OK)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", stmt, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* The newest audit detail of action on object (a static buffer). */
static const char *audit_detail(struct fixture *f, const char *action, const char *object)
{
	static char detail[1024];
	char path[256];
	json_t *j, *e;

	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=%s&object=%s&limit=1", action, object);
	j = admin_json(&f->d, "GET", path, NULL, 200);
	e = json_array_get(json_object_get(j, "audit"), 0);
	snprintf(detail, sizeof(detail), "%s", json_string_value(json_object_get(e, "detail")) ?: "");
	json_decref(j);
	return detail;
}

/* How many audit records of action on object there are. */
static size_t audit_count(struct fixture *f, const char *action, const char *object)
{
	char path[256];
	json_t *j;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=%s&object=%s&limit=100", action, object);
	j = admin_json(&f->d, "GET", path, NULL, 200);
	n = json_array_size(json_object_get(j, "audit"));
	json_decref(j);
	return n;
}

static void setup(struct fixture *f, char *t, size_t len)
{
	fixture_setup(f, false, NULL);
	/* A name of this test's own: another broker on this host judges only its templates' maintenance desktops. */
	snprintf(t, len, "maint%d", (int)getpid());
	fixture_add_template(f, t, "");
}

static void teardown(struct fixture *f)
{
	fixture_remove_maintenance_domains(f);
	fixture_teardown(f);
}

/* ---- edit, change, shut down, publish -------------------------------------------------------------- */

/* The admin sees t's maintenance desktop (domain, on overlay) with its version, host and who started it. */
static void check_shown(struct fixture *f, const char *t, const char *domain, const char *overlay)
{
	json_t *m = admin_json(&f->d, "GET", fixture_template_path(t, "/edit"), NULL, 200);

	check_str_eq(json_string_value(json_object_get(m, "domain")), domain);
	check_int_eq(json_integer_value(json_object_get(m, "version")), 1);
	check_str_eq(json_string_value(json_object_get(m, "host")), URI);
	check_str_eq(json_string_value(json_object_get(m, "started_by")), "admin-socket");
	check_str_eq(json_string_value(json_object_get(m, "disk")), overlay);
	check(json_integer_value(json_object_get(m, "created")) > 0);
	json_decref(m);
}

/* The console of t's maintenance desktop is the admins' (a): a token and a ticket for them, nothing for a user (u). */
static void console_is_admins(struct fixture *f, const char *t, struct user *u, struct user *a)
{
	json_t *j = admin_json(&f->d, "POST", fixture_template_path(t, "/edit/console"), "{}", 200);
	char *vv;

	check(startswith(json_string_value(json_object_get(j, "url")), "ws://"));
	check(json_string_value(json_object_get(j, "password")));
	check(json_integer_value(json_object_get(j, "expires")) > 0);
	json_decref(j);
	vv = req_text(&f->d, "GET", fixture_template_path(t, "/edit/console.vv"), a->hdr, NULL, 200);
	check(startswith(vv, "[virt-viewer]\n"));
	check_str_contains(vv, "\ntitle=maintenance desktop of template ");
	free(vv);
	check_int_eq(user_req(&f->d, u, "POST", fixture_template_path(t, "/edit/console"), "{}", NULL), 403);
	check_int_eq(user_req(&f->d, u, "GET", fixture_template_path(t, "/edit"), NULL, NULL), 403);
}

/* A publish scheduled while the maintenance desktop (domain) of t runs: taken (it may be shut down by
 * then), and it cannot be discarded meanwhile; still running when due, the publish says so in the
 * audit and changes nothing. */
static void scheduled_while_running(struct fixture *f, const char *t, const char *domain)
{
	json_t *j;

	schedule_publish(f, t, 4, "m2 early", 2);
	admin_error(&f->d, "DELETE", fixture_template_path(t, "/edit"), NULL, 409, "cancel that publish first");
	admin_error(&f->d, "POST", fixture_template_path(t, "/publish"), "{\"disk\": \"/x.qcow2\"}", 409, "scheduled already");
	check(wait_version(f, t, 2, NULL, 30000));
	check_str_contains(audit_detail(f, "template-publish", t),
			   "version 2 failed: shut down the maintenance desktop first");
	check(fixture_wait_maintenance(f, t, "running", 1000));
	check(test_domain_exists(URI, domain));
	j = admin_json(&f->d, "GET", fixture_template_path(t, ""), NULL, 200);
	check_int_eq(json_integer_value(json_object_get(j, "version")), 1);
	json_decref(j);
}

/* The base of t's version 2 (path): flattened QCOW2, no backing file, with the marker m2. */
static void check_flat_m2(struct fixture *f, const char *base)
{
	char path[1024], cmd[2048];
	json_t *info;

	snprintf(path, sizeof(path), "%s/info.json", f->images);
	snprintf(cmd, sizeof(cmd), "qemu-img info --output=json '%s' > '%s'", base, path);
	check_int_eq(system(cmd), 0);
	info = json_load_file(path, 0, NULL);
	check(info);
	check_str_eq(json_string_value(json_object_get(info, "format")), "qcow2");
	check(!json_object_get(info, "backing-filename"));
	json_decref(info);
	unlink(path);
	check_str_eq(marker_of(base), "m2");
}

static void test_edit_publish(void)
{
	struct fixture f;
	struct user u, a;
	char t[32], domain[128], pooldom[128], overlay[768];
	const char *base;
	json_t *j, *v;
	int64_t id;

	setup(&f, t, sizeof(t));
	fixture_login(&f, &u, 1);
	user_login(&f.d, &a, "adm", "adm-pw");

	/* Made and booted: the guest's banner on its serial console; the admin sees it with its version. */
	fixture_maintenance_start(&f, t, domain, sizeof(domain));
	snprintf(overlay, sizeof(overlay), "%s", overlay_of(&f, domain));
	check(file_exists(overlay));
	check_shown(&f, t, domain, overlay);
	admin_error(&f.d, "POST", fixture_template_path(t, "/edit"), NULL, 409, "has a maintenance desktop already");
	expect_console(domain, BANNER " marker=none");

	/* The admin's change, typed on its console, lands in its overlay. */
	console_type(domain, "vdi-mark m2\n");
	expect_console(domain, BANNER " marker=m2");

	console_is_admins(&f, t, &u, &a);

	/* Running: publish refuses and changes nothing; the template cannot go. */
	admin_error(&f.d, "POST", fixture_template_path(t, "/publish"), "{\"from_maintenance\": true, \"note\": \"m2\"}", 409,
		    "shut down the maintenance desktop first");
	j = admin_json(&f.d, "GET", fixture_template_path(t, ""), NULL, 200);
	check_int_eq(json_integer_value(json_object_get(j, "version")), 1);
	check_int_eq(json_array_size(json_object_get(j, "versions")), 1);
	json_decref(j);
	admin_error(&f.d, "DELETE", fixture_template_path(t, ""), NULL, 409, "has a maintenance desktop");
	admin_error(&f.d, "POST", fixture_template_path(t, "/publish"), "{\"from_maintenance\": true, \"disk\": \"/x\"}", 400,
		    "exactly one");

	scheduled_while_running(&f, t, domain);

	/* kill -9 and a restart: still running, still one domain and one overlay. */
	kill_broker(&f.d);
	run_broker(&f.d);
	check(fixture_wait_maintenance(&f, t, "running", 30000));
	check(test_domain_exists(URI, domain));
	check_int_eq(maintenance_files(&f), 1);

	/* Shut down through ACPI: libvirt's event makes it "stopped" (long before the next reconcile). */
	fixture_power_button(domain);
	check(fixture_wait_maintenance(&f, t, "stopped", 60000));
	check(test_domain_exists(URI, domain));
	check_str_eq(marker_of(overlay), "m2");
	admin_error(&f.d, "POST", fixture_template_path(t, "/edit/console"), "{}", 409, "not running");

	/* Scheduled once it is shut off: published when due (a cancelled schedule first changes nothing):
	 * version 2, flattened, with the change; the maintenance desktop goes. */
	schedule_publish(&f, t, 600, "m2 later", 2);
	json_decref(admin_json(&f.d, "DELETE", fixture_template_path(t, "/publish"), NULL, 200));
	check(wait_version(&f, t, 2, NULL, 1000));
	check(fixture_wait_maintenance(&f, t, "stopped", 1000));
	schedule_publish(&f, t, 3, "m2 patch", 2);
	check(wait_version(&f, t, 2, "ready", 60000));
	j = admin_json(&f.d, "GET", fixture_template_path(t, ""), NULL, 200);
	check_int_eq(json_integer_value(json_object_get(j, "version")), 2);
	v = json_array_get(json_object_get(j, "versions"), 0);
	check_int_eq(json_integer_value(json_object_get(v, "version")), 2);
	check_str_eq(json_string_value(json_object_get(v, "note")), "m2 patch");
	check(json_is_true(json_object_get(v, "owned")));
	base = json_string_value(json_object_get(v, "disk"));
	check(base);
	check_flat_m2(&f, base);
	json_decref(j);
	check(fixture_wait_maintenance(&f, t, NULL, 60000));
	check(fixture_wait_domain(domain, true, 30000));
	check(!file_exists(overlay));
	check_str_contains(audit_detail(&f, "template-publish", t), "version 2 from the maintenance desktop's ");
	/* Scheduled, failed, scheduled, cancelled, scheduled, published. */
	check_int_eq(audit_count(&f, "template-publish", t), 6);
	check_str_contains(audit_detail(&f, "template-edit", t), "published as version 2");

	/* A new desktop of the template boots version 2: the change is in it. */
	fixture_add_pool(&f, f.pool, t, "pooled", 1, 0);
	id = fixture_ask(&f, &u, f.pool, 202);
	check(wait_desktop_state(&f.d, &u, id, "assigned", BOOT_MS));
	fixture_domain(f.pool, id, pooldom, sizeof(pooldom));
	expect_console(pooldom, BANNER " marker=m2");
	check_int_eq(maintenance_files(&f), 0);
	teardown(&f);
}

/* ---- discard, and what kill -9 leaves -------------------------------------------------------------- */

static void test_discard_and_leftovers(void)
{
	struct fixture f;
	char t[32], domain[128], overlay[768];
	json_t *j;

	setup(&f, t, sizeof(t));

	/* Discarded: domain and overlay gone, and the audit says who. */
	fixture_maintenance_start(&f, t, domain, sizeof(domain));
	snprintf(overlay, sizeof(overlay), "%s", overlay_of(&f, domain));
	check(file_exists(overlay));
	j = admin_json(&f.d, "DELETE", fixture_template_path(t, "/edit"), NULL, 200);
	check(json_is_null(json_object_get(j, "maintenance")));
	json_decref(j);
	check(!test_domain_exists(URI, domain));
	check(!file_exists(overlay));
	check_str_contains(audit_detail(&f, "template-edit", t), "discarded");
	admin_error(&f.d, "DELETE", fixture_template_path(t, "/edit"), NULL, 404, "has no maintenance desktop");
	admin_error(&f.d, "GET", fixture_template_path(t, "/edit"), NULL, 404, "has no maintenance desktop");

	/* A maintenance domain whose row is gone (kill -9, then the row removed): the restarted broker deletes it. */
	fixture_maintenance_start(&f, t, domain, sizeof(domain));
	snprintf(overlay, sizeof(overlay), "%s", overlay_of(&f, domain));
	kill_broker(&f.d);
	store_sql(&f, "DELETE FROM maintenance");
	run_broker(&f.d);
	check(fixture_wait_domain(domain, true, 90000));
	for (int i = 0; i < 100 && file_exists(overlay); i++)
		usleep(100 * 1000);
	check(!file_exists(overlay));
	check(fixture_wait_maintenance(&f, t, NULL, 1000));

	/* A row whose domain is gone (kill -9, then the domain undefined): removed with the overlay left. */
	fixture_maintenance_start(&f, t, domain, sizeof(domain));
	snprintf(overlay, sizeof(overlay), "%s", overlay_of(&f, domain));
	kill_broker(&f.d);
	remove_domain(domain);
	check(file_exists(overlay));
	run_broker(&f.d);
	check(fixture_wait_maintenance(&f, t, NULL, 90000));
	for (int i = 0; i < 100 && file_exists(overlay); i++)
		usleep(100 * 1000);
	check(!file_exists(overlay));
	check_str_contains(audit_detail(&f, "template-edit", t), "its domain is gone");

	/* Nothing is left: the template goes. */
	check_int_eq(maintenance_files(&f), 0);
	json_decref(admin_json(&f.d, "DELETE", fixture_template_path(t, ""), NULL, 200));
	teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_edit_publish),
	VDI_TEST(test_discard_and_leftovers),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
