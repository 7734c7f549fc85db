/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Persistent desktops, recompose and user data disks with real desktops (qemu:///system, the test
 * guest, desktop-fixture.h).  The template's versions are copies of the test guest stamped v1, v2,
 * v3 (tests/guest/stamp-version); the guest names its version in its banner and reads the marker
 * of its data disk (vdb) at boot:
 *
 *  - a persistent pool with data_disk_mib: a user's desktop boots v1 with an empty data disk; a
 *    marker is written to that disk through the guest's serial console;
 *  - v2 is published: the desktop stays on v1 (its next boot says version=v1);
 *  - recompose of a pooled desktop, and of a pooled pool: 409, nothing changes;
 *  - recompose of the running desktop: shut down, back stopped and still the user's, on v2; its
 *    next boot says version=v2 and finds the data disk's marker;
 *  - v3 and a pool recompose: the same through the pool, the marker still on the data disk;
 *  - deleting the desktop deletes its data disk (on disk and in libvirt's storage pool).
 *
 * Boots under TCG are slow: the cases share one desktop, in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "broker-test.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define URI FIXTURE_URI
#define BANNER "VDI-TEST-GUEST READY"
#define BOOT_MS FIXTURE_BOOT_MS
#define DATA_MARK "home42"

static char console[16384];

/* Runs a script of tests/guest with its arguments (b, c may be NULL: fewer); its first line of output
 * (a new string).  The arguments are paths of the test's and values without quotes.  Without the
 * PAM and NSS wrappers the test runs under: the processes of a pipeline initialising pam_wrapper at
 * once race for its directory, and the loser fails. */
static char *guest_tool(const char *tool, const char *a, const char *b, const char *c)
{
	_cleanup_free_ char *script = NULL;
	char cmd[4096], line[256] = "";
	size_t len;
	FILE *p;

	check(asprintf(&script, "%s/tests/guest/%s", test_env_or_fail("VDI_SOURCE_ROOT"), tool) > 0);
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD -u PAM_WRAPPER '%s' '%s'%s%s%s%s%s%s", script, a, b ? " '" : "", b ? b : "", b ? "'" : "",
		 c ? " '" : "", c ? c : "", c ? "'" : "");
	check(p = popen(cmd, "r"));
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	check_int_eq(pclose(p), 0);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	return strdup(line);
}

/* A copy of the test guest's template stamped with version value: its path (a new string). */
static char *stamped(const char *value)
{
	_cleanup_free_ char *tmpl = test_guest_path("template.qcow2");
	char *out;

	check(asprintf(&out, "%s/golden-%s.qcow2", vdi_test_tmpdir(), value) > 0);
	free(guest_tool("stamp-version", tmpl, out, value));
	return out;
}

/* The marker on the data disk at path (read from the host, the desktop stopped). */
static char *disk_marker(const char *path)
{
	return guest_tool("read-marker", path, NULL, NULL);
}

static void expect_console(const char *pool, int64_t id, const char *line, const char *needle)
{
	char domain[128];

	fixture_domain(pool, id, domain, sizeof(domain));
	if (!test_console_command(URI, domain, line, needle, BOOT_MS, console, sizeof(console)))
		vdi_test_fail(__FILE__, __LINE__, "%s: no \"%s\" on the console; it showed:\n%s", domain, needle, console);
}

/* The admin's view of desktop id (a new reference), failing when it is not listed. */
static json_t *admin_desktop(struct fixture *f, const char *pool, int64_t id)
{
	json_t *j = fixture_desktops(f, pool), *dk, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "desktops"), i, dk)
		if (json_integer_value(json_object_get(dk, "id")) == id)
			found = json_incref(dk);
	json_decref(j);
	if (!found)
		vdi_test_fail(__FILE__, __LINE__, "desktop %lld is not in pool %s", (long long)id, pool);
	return found;
}

static int64_t desktop_version(struct fixture *f, const char *pool, int64_t id)
{
	json_t *dk = admin_desktop(f, pool, id);
	int64_t v = json_integer_value(json_object_get(dk, "template_version"));

	json_decref(dk);
	return v;
}

static void publish(struct fixture *f, const char *disk)
{
	char body[1024];
	json_t *j;

	snprintf(body, sizeof(body), "{\"disk\":\"%s\"}", disk);
	j = admin_json(&f->d, "POST", "/api/v1/admin/templates/golden/publish", body, 201);
	vdi_test_log("published version %lld from %s", (long long)json_integer_value(json_object_get(j, "version")), disk);
	json_decref(j);
}

/* Whether libvirt's storage pool of the test has a volume of that name (after a refresh). */
static bool has_volume(struct fixture *f, const char *name)
{
	virConnectPtr c = virConnectOpen(URI);
	virStoragePoolPtr sp;
	virStorageVolPtr v;
	bool found;

	check(c);
	sp = virStoragePoolLookupByName(c, f->storage_pool);
	check(sp);
	check_int_eq(virStoragePoolRefresh(sp, 0), 0);
	v = virStorageVolLookupByName(sp, name);
	found = v != NULL;
	if (v)
		virStorageVolFree(v);
	virStoragePoolFree(sp);
	virConnectClose(c);
	return found;
}

static void test_recompose_keeps_the_data_disk(void)
{
	_cleanup_free_ char *v1 = NULL, *v2 = NULL, *v3 = NULL, *xml = NULL, *data = NULL, *text = NULL;
	char home[32], path[160], domain[128], volume[160], *m;
	struct fixture f;
	struct user u1;
	struct stat st;
	int64_t h, p;
	json_t *j;

	fixture_setup(&f, false, NULL);
	snprintf(home, sizeof(home), "s%d", (int)getpid());
	v1 = stamped("v1");
	v2 = stamped("v2");
	v3 = stamped("v3");
	xml = test_guest_xml(NULL);
	j = json_pack("{s:s, s:s, s:s, s:s}", "name", "golden", "disk", v1, "xml", xml, "lock_command", "/bin/vdi-lock");
	text = json_dumps(j, 0);
	json_decref(j);
	json_decref(admin_json(&f.d, "POST", "/api/v1/admin/templates", text, 201));
	snprintf(path, sizeof(path),
		 "{\"name\":\"%s\",\"template\":\"golden\",\"type\":\"persistent\",\"size\":2,\"data_disk_mib\":64,"
		 "\"groups\":[\"lab\"]}", home);
	j = admin_json(&f.d, "POST", "/api/v1/admin/pools", path, 201);
	check_int_eq(json_integer_value(json_object_get(j, "data_disk_mib")), 64);
	json_decref(j);
	fixture_add_pool(&f, f.pool, "golden", "pooled", 1, 0);
	fixture_login(&f, &u1, 1);

	/* u01's persistent desktop and a pooled one boot v1 side by side; the data disk is empty. */
	h = fixture_ask(&f, &u1, home, 202);
	p = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, h, "assigned", BOOT_MS));
	check(wait_desktop_state(&f.d, &u1, p, "assigned", BOOT_MS));
	expect_console(home, h, NULL, BANNER " marker=none version=v1");
	check_str_contains(console, "vdi-data-marker: none");
	expect_console(f.pool, p, NULL, BANNER " marker=none version=v1");
	check(!strstr(console, "vdi-data-marker"));
	fixture_domain(home, h, domain, sizeof(domain));
	snprintf(volume, sizeof(volume), "%s.data.qcow2", domain);
	check(asprintf(&data, "%s/%s", f.images, volume) > 0);
	check(stat(data, &st) == 0);
	check(has_volume(&f, volume));
	/* The user writes to the data disk. */
	expect_console(home, h, "vdi-data-mark " DATA_MARK, "vdi-data-marker-written: " DATA_MARK);

	/* v2: the persistent desktop keeps v1, across a shutdown and a boot. */
	publish(&f, v2);
	check_int_eq(desktop_version(&f, home, h), 1);
	fixture_release(&f, &u1, h);
	check(wait_admin_state(&f.d, h, "stopped", "u01", BOOT_MS));
	check_int_eq(fixture_ask(&f, &u1, home, 202), h);
	check(wait_desktop_state(&f.d, &u1, h, "assigned", BOOT_MS));
	expect_console(home, h, NULL, BANNER " marker=none version=v1");
	check_str_contains(console, "vdi-data-marker: " DATA_MARK);

	/* Pooled desktops and pools follow the rollout: no recompose, nothing changes. */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/recompose", (long long)p);
	j = admin_json(&f.d, "POST", path, NULL, 409);
	check_str_contains(json_string_value(json_object_get(j, "error")), "pooled desktops follow the rollout");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/admin/pools/%s/recompose", f.pool);
	json_decref(admin_json(&f.d, "POST", path, NULL, 409));
	check(wait_admin_state(&f.d, p, "assigned", "u01", 1000));

	/* Recompose while it runs: shut down, a fresh overlay on v2, stopped, still u01's. */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/recompose", (long long)h);
	json_decref(admin_json(&f.d, "POST", path, NULL, 202));
	check(wait_admin_state(&f.d, h, "stopped", "u01", BOOT_MS));
	check_int_eq(desktop_version(&f, home, h), 2);
	m = disk_marker(data);
	check_str_eq(m, DATA_MARK);
	free(m);
	check(admin_count(&f.d, "/api/v1/admin/audit?action=desktop-recompose", "audit") >= 1);
	/* Its next boot is v2, and the data disk kept its marker. */
	check_int_eq(fixture_ask(&f, &u1, home, 202), h);
	check(wait_desktop_state(&f.d, &u1, h, "assigned", BOOT_MS));
	expect_console(home, h, NULL, BANNER " marker=none version=v2");
	check_str_contains(console, "vdi-data-marker: " DATA_MARK);

	/* v3 through the pool's recompose: the running desktop goes the same way. */
	publish(&f, v3);
	snprintf(path, sizeof(path), "/api/v1/admin/pools/%s/recompose", home);
	j = admin_json(&f.d, "POST", path, NULL, 202);
	check_int_eq(json_integer_value(json_object_get(j, "desktops")), 1);
	json_decref(j);
	check(wait_admin_state(&f.d, h, "stopped", "u01", BOOT_MS));
	check_int_eq(desktop_version(&f, home, h), 3);
	m = disk_marker(data);
	check_str_eq(m, DATA_MARK);
	free(m);
	j = admin_json(&f.d, "POST", path, NULL, 202);
	check_int_eq(json_integer_value(json_object_get(j, "desktops")), 0);
	json_decref(j);
	/* libvirt agrees: one domain, stopped; one overlay (the data disk is not one) and the data disk. */
	{
		struct fixture_ids doms, vols;

		json_decref(fixture_wait_settled(&f, home, BOOT_MS));
		fixture_libvirt_ids(home, &doms);
		fixture_volume_ids_at(URI, f.storage_pool, home, &vols);
		check_int_eq(doms.n, 1);
		check_int_eq(doms.ids[0], h);
		check(!doms.running[0]);
		check_int_eq(vols.n, 1);
		check_int_eq(vols.ids[0], h);
		check(has_volume(&f, volume));
	}

	/* Deleted, the desktop takes its data disk with it. */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld", (long long)h);
	json_decref(admin_json(&f.d, "DELETE", path, NULL, 202));
	{
		uint64_t end = vdi_test_now_ms() + BOOT_MS;

		while (stat(data, &st) == 0 || has_volume(&f, volume)) {
			check(vdi_test_now_ms() < end);
			usleep(200 * 1000);
		}
	}
	check(!test_domain_exists(URI, domain));
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_recompose_keeps_the_data_disk, 1500),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
