/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Faults around vdi-broker with real desktops (qemu:///system, the test
 * guest), each checked afterwards against libvirt, the disks and the store:
 *
 *  - libvirtd killed (SIGKILL) while a pool's desktops are being made and
 *    started, then started again: the broker reconnects and the pool ends
 *    up whole, nothing twice, nothing orphaned;
 *  - a desktop's QEMU killed under its user: a pooled desktop goes back to
 *    its pool (reset) and the user gets a running one when asking again; a
 *    persistent one is marked stopped, stays its owner's and starts again;
 *  - the storage pool's file system full: the user's desktop cannot be made,
 *    the audit log says why, nothing is left over; with space again the
 *    next ask gets a running desktop.
 *
 * (SIGKILL and SIGTERM of the broker during an assignment storm are in
 * test-broker-vms; a target vanishing mid-stream is in test-gateway.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "vmpool-test.h"

#define BOOT_MS 180000

static pid_t pid_from(const char *file)
{
	FILE *f = fopen(file, "re");
	long pid = 0;

	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

static void libvirt_host(const char *what)
{
	char cmd[700];

	/* Without the tests' PAM and NSS wrappers (the script looks up system users and groups). */
	snprintf(cmd, sizeof(cmd), "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin '%s/tools/libvirt-host' %s >&2",
		 test_env_or_fail("VDI_SOURCE_ROOT"), what);
	check_int_eq(system(cmd), 0);
}

static void add_pool_prestart(struct fixture *f, const char *name, const char *type, int size, int prestart)
{
	char body[300];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"template\":\"golden\",\"type\":\"%s\",\"size\":%d,\"prestart\":%d,\"groups\":[\"lab\"]}",
		 name, type, size, prestart);
	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/pools", body, 201));
}

static size_t count_state(json_t *listing, const char *state)
{
	json_t *dk;
	size_t i, n = 0;

	json_array_foreach(json_object_get(listing, "desktops"), i, dk)
		n += streq(json_string_value(json_object_get(dk, "state")), state);
	return n;
}

/* ---- libvirtd killed while desktops are made ------------------------------------------------ */

static void test_libvirtd_killed_during_provisioning(void)
{
	struct fixture f;
	json_t *listing, *hosts;
	pid_t libvirtd;
	uint64_t end;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	add_pool_prestart(&f, f.pool, "pooled", 4, 4);
	/* As soon as the first clone is under way, libvirtd dies. */
	for (end = vdi_test_now_ms() + 30000;; usleep(20 * 1000)) {
		listing = fixture_desktops(&f, f.pool);
		if (json_array_size(json_object_get(listing, "desktops")) > 0)
			break;
		json_decref(listing);
		check(vdi_test_now_ms() < end);
	}
	json_decref(listing);
	libvirtd = pid_from("/run/libvirtd.pid");
	check(libvirtd > 0);
	check(kill(libvirtd, SIGKILL) == 0);
	vdi_test_log("libvirtd (pid %d) killed while the pool was being made", (int)libvirtd);
	/* The broker sees the host down: not alive, or (where a service manager restarts libvirtd
	 * at once) connected again after it was lost. */
	for (end = vdi_test_now_ms() + 30000;; usleep(50 * 1000)) {
		json_t *host;
		bool down;

		hosts = admin_json(&f.d, "GET", "/api/v1/admin/hosts", NULL, 200);
		host = json_array_get(json_object_get(hosts, "hosts"), 0);
		down = json_is_false(json_object_get(host, "alive")) ||
		       json_integer_value(json_object_get(host, "reconnects")) >= 1;
		json_decref(hosts);
		if (down)
			break;
		check(vdi_test_now_ms() < end);
	}
	check_alive(&f.d);
	libvirt_host("start");

	/* The broker finds the host again and finishes the pool: four desktops free, all real. */
	listing = fixture_wait_settled(&f, f.pool, 2 * BOOT_MS);
	if (count_state(listing, "free") != 4) {
		_cleanup_free_ char *text = json_dumps(listing, JSON_INDENT(1));

		vdi_test_fail(__FILE__, __LINE__, "the pool did not end up with 4 free desktops:\n%s", text);
	}
	fixture_check_no_orphans(&f, f.pool, listing);
	json_decref(listing);
	hosts = admin_json(&f.d, "GET", "/api/v1/admin/hosts", NULL, 200);
	check(json_is_true(json_object_get(json_array_get(json_object_get(hosts, "hosts"), 0), "alive")));
	check(json_integer_value(json_object_get(json_array_get(json_object_get(hosts, "hosts"), 0), "reconnects")) >= 1);
	json_decref(hosts);
	fixture_teardown(&f);
}

/* ---- a desktop's QEMU killed ------------------------------------------------------------------ */

static void kill_qemu(const char *pool, int64_t id)
{
	char domain[128], file[256];
	pid_t qemu;

	fixture_domain(pool, id, domain, sizeof(domain));
	snprintf(file, sizeof(file), "/run/libvirt/qemu/%s.pid", domain);
	qemu = pid_from(file);
	check(qemu > 0);
	check(kill(qemu, SIGKILL) == 0);
	vdi_test_log("QEMU of %s (pid %d) killed", domain, (int)qemu);
}

/* Waits until desktop id of pool is in state (owner: NULL for none). */
static void wait_row(struct fixture *f, int64_t id, const char *state, const char *owner)
{
	if (!wait_admin_state(&f->d, id, state, owner, BOOT_MS)) {
		json_t *j = admin_json(&f->d, "GET", "/api/v1/admin/desktops", NULL, 200);
		_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(1));

		vdi_test_fail(__FILE__, __LINE__, "desktop %lld never became %s (%s):\n%s", (long long)id, state,
			      owner ? owner : "no owner", text);
	}
}

static void test_desktop_qemu_killed(void)
{
	struct fixture f;
	struct user u1, u2;
	char persistent[32];
	int64_t a, b, again;
	json_t *listing;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "pooled", 2, 0);
	snprintf(persistent, sizeof(persistent), "s%d", (int)getpid());
	fixture_add_pool(&f, persistent, "golden", "persistent", 1, 0);
	fixture_login(&f, &u1, 1);
	fixture_login(&f, &u2, 2);

	/* Pooled: the desktop goes back to its pool, reset; its user asks again and gets one that runs. */
	a = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, a, "assigned", BOOT_MS));
	kill_qemu(f.pool, a);
	wait_row(&f, a, "stopped", NULL);
	check_int_eq(user_req(&f.d, &u1, "GET", "/api/v1/desktops", NULL, &listing), 200);
	check_int_eq(json_array_size(json_object_get(listing, "desktops")), 0);
	json_decref(listing);
	again = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, again, "assigned", BOOT_MS));
	vdi_test_log("pooled: desktop %lld went back to its pool; u01 now has %lld, running", (long long)a,
		     (long long)again);

	/* Persistent: stopped, still u02's, and it starts again (the same desktop). */
	b = fixture_ask(&f, &u2, persistent, 202);
	check(wait_desktop_state(&f.d, &u2, b, "assigned", BOOT_MS));
	kill_qemu(persistent, b);
	wait_row(&f, b, "stopped", "u02");
	check_int_eq(fixture_ask(&f, &u2, persistent, 202), b);
	check(wait_desktop_state(&f.d, &u2, b, "assigned", BOOT_MS));

	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);
	fixture_check_no_orphans(&f, f.pool, listing);
	json_decref(listing);
	listing = fixture_wait_settled(&f, persistent, BOOT_MS);
	fixture_check_no_orphans(&f, persistent, listing);
	json_decref(listing);
	fixture_teardown(&f);
}

/* ---- the storage pool out of space ----------------------------------------------------------- */

/* The audit records of action for desktop id, as one string. */
static char *audit_details(struct fixture *f, const char *action, int64_t id)
{
	char path[160];
	json_t *j, *a;
	size_t i;
	char *out = strdup("");

	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=%s&object=desktop:%lld", action, (long long)id);
	j = admin_json(&f->d, "GET", path, NULL, 200);
	json_array_foreach(json_object_get(j, "audit"), i, a) {
		char *more = NULL;

		check(asprintf(&more, "%s%s\n", out, json_string_value(json_object_get(a, "detail")) ?: "") > 0);
		free(out);
		out = more;
	}
	json_decref(j);
	return out;
}

static void test_storage_full(void)
{
	struct fixture f;
	struct user u1;
	char cmd[1400], filler[600];
	json_t *listing;
	int64_t id, again;
	bool gone = false;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "pooled", 2, 0);
	/* The desktops' disks go to a 4 MiB file system, filled up but for 32 KiB. */
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=4m vdi-test-full '%s'", f.images);
	check_int_eq(system(cmd), 0);
	snprintf(filler, sizeof(filler), "%s/filler", f.images);
	snprintf(cmd, sizeof(cmd), "fallocate -l %d '%s'", 4 * 1024 * 1024 - 32 * 1024, filler);
	check_int_eq(system(cmd), 0);
	fixture_login(&f, &u1, 1);

	/* A desktop cannot be made: the user is not left waiting for it, and nothing is left over. */
	id = fixture_ask(&f, &u1, f.pool, 202);
	for (uint64_t end = vdi_test_now_ms() + 60000; !gone && vdi_test_now_ms() < end; usleep(200 * 1000)) {
		check_int_eq(user_req(&f.d, &u1, "GET", "/api/v1/desktops", NULL, &listing), 200);
		gone = json_array_size(json_object_get(listing, "desktops")) == 0;
		json_decref(listing);
	}
	check(gone);
	{
		_cleanup_free_ char *why = audit_details(&f, "error", id);

		vdi_test_log("desktop %lld could not be made: %s", (long long)id, why);
		check(strstr(why, "space") != NULL);
	}
	listing = fixture_wait_settled(&f, f.pool, 60000);
	check_int_eq(json_array_size(json_object_get(listing, "desktops")), 0);
	fixture_check_no_orphans(&f, f.pool, listing);
	json_decref(listing);

	/* Space again: the next ask gets a desktop that runs. */
	check(unlink(filler) == 0);
	again = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, again, "assigned", BOOT_MS));
	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);
	fixture_check_no_orphans(&f, f.pool, listing);
	json_decref(listing);
	fixture_teardown(&f);
	snprintf(cmd, sizeof(cmd), "umount '%s'", f.images);
	check_int_eq(system(cmd), 0);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_desktop_qemu_killed, 900),
	VDI_TEST_TIMEOUT(test_libvirtd_killed_during_provisioning, 900),
	VDI_TEST_TIMEOUT(test_storage_full, 600),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
