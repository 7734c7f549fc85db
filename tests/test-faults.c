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
 *    next ask gets a running desktop;
 *  - another process holds the database's write lock while a SPICE client
 *    goes away: the broker keeps libvirt's event and applies it once the
 *    lock is gone (disconnected, then reclaimed when idle), also when the
 *    broker's wall clock jumps meanwhile;
 *  - a running desktop's storage fills up: QEMU pauses the guest, the desktop
 *    is in error with the reason and nobody gets it; with room again the
 *    broker resumes it, the guest's write completes and it is free again;
 *  - a desktop paused through libvirt (virsh suspend): in error, its owner's,
 *    and back in service, in the state its SPICE client left it, when resumed;
 *    never back in service when its domain goes while it is paused (persistent).
 *
 * (SIGKILL and SIGTERM of the broker during an assignment storm are in
 * test-broker-vms; a target vanishing mid-stream is in test-gateway.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sqlite3.h>

#include "alloc.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "spice-link.h"
#include "token.h"
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
	check_int_eq(user_count(&f.d, &u1, "/api/v1/desktops", "desktops"), 0);
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
	for (uint64_t end = vdi_test_now_ms() + 60000; !gone && vdi_test_now_ms() < end; usleep(200 * 1000))
		gone = user_count(&f.d, &u1, "/api/v1/desktops", "desktops") == 0;
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

/* ---- libvirt events while another process holds the database --------------------------------- */

/* The broker's vdi_events_waiting gauge (from /metrics on the admin socket); -1 when it has none. */
static long events_waiting(struct fixture *f)
{
	struct http_reply r = admin_req(&f->d, "GET", "/metrics", NULL);
	const char *p = r.status == 200 ? strstr(r.body, "\nvdi_events_waiting ") : NULL;
	long n = p ? strtol(p + strlen("\nvdi_events_waiting "), NULL, 10) : -1;

	http_reply_finish(&r);
	return n;
}

/* A SPICE client that stays: logs into the desktop's main channel with the console's ticket. */
static int spice_client_open(const char *target, const char *password)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct spice_link_result res;
	int fd;

	check(startswith(target, "unix:") && strlen(target + 5) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, target + 5);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(fd >= 0);
	check(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	/* The probe closes what it is given: a duplicate, so that the connection stays open. */
	check_ok(spice_link_probe_fd(dup(fd), password, 10000, &res));
	check(res.auth_done);
	check_int_eq(res.auth_result, SPICE_LINK_OK);
	return fd;
}

/* A SPICE client on desktop id's console as u (borrowed), the desktop's owner (borrowed), with the
 * console's ticket, until the returned fd is closed; the broker has seen it connect. */
static int console_connected(struct fixture *f, struct user *u, const char *owner, int64_t id)
{
	struct vdi_token_key key;
	struct vdi_token_claims claims;
	struct vdi_error err = { 0 };
	char path[128];
	json_t *j = NULL;
	int fd;

	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	check_int_eq(user_req(&f->d, u, "POST", path, NULL, &j), 200);
	if (vdi_token_key_load(f->key_path, &key, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
	check_ok(vdi_token_verify(&key, json_string_value(json_object_get(j, "token")), time(NULL), &claims, NULL));
	fd = spice_client_open(claims.tgt, json_string_value(json_object_get(j, "password")));
	json_decref(j);
	check(wait_admin_state(&f->d, id, "connected", owner, 30000));
	return fd;
}

/* Another process's hold on the database at path: its write lock (new; db_release() ends it). */
static sqlite3 *db_hold_write_lock(const char *path)
{
	sqlite3 *db = NULL;

	check_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	check_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

/* db: taken. */
static void db_release(sqlite3 *db)
{
	check_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A SPICE client goes away while another process holds the database; the broker's wall clock
 * jumps jump seconds meanwhile (0: none). */
static void disconnect_while_locked(long jump)
{
	struct fixture f;
	struct user u1;
	char path[128];
	sqlite3 *db;
	long waiting = -1;
	int64_t id;
	int fd;

	if (jump) {
		char *saved;

		fake_clock_set(0);
		saved = faketime_begin();
		fixture_setup(&f, false, NULL);
		faketime_end(saved);
	} else {
		fixture_setup(&f, false, NULL);
	}
	id = fixture_running_desktop(&f, &u1, 20);

	/* A SPICE client logs in with the console's ticket and stays: the desktop is connected. */
	fd = console_connected(&f, &u1, "u01", id);

	/* Another process takes the database's write lock; the client goes away meanwhile. */
	db = db_hold_write_lock(f.d.db);
	close(fd);
	vdi_test_log("database locked; the SPICE client of desktop %lld went away", (long long)id);
	/* The broker has the event and could not write it (it says so in /metrics). */
	for (uint64_t end = vdi_test_now_ms() + 30000; waiting < 1 && vdi_test_now_ms() < end; usleep(100 * 1000))
		waiting = events_waiting(&f);
	vdi_test_log("libvirt events waiting for the database: %ld", waiting);
	check(wait_admin_state(&f.d, id, "connected", "u01", 0));
	if (jump) {
		/* The broker follows the jump once it can write (the stored times move with it); the
		 * time the waiting event recorded must move too, or its idle clock is off by as much. */
		fake_clock_set(jump);
		vdi_test_log("the broker's wall clock jumped %+ld s", jump);
	}
	db_release(db);
	vdi_test_log("database released");

	/* The event was kept, not lost: disconnected, then idle_timeout later reclaimed and reset. */
	check(wait_admin_state(&f.d, id, "disconnected", "u01", 30000));
	check(waiting >= 1);
	check(wait_admin_state(&f.d, id, "stopped", NULL, 90000));
	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=idle-reclaim&object=desktop:%lld", (long long)id);
	check_int_eq(admin_count(&f.d, path, "audit"), 1);
	check_int_eq(events_waiting(&f), 0);
	fixture_teardown(&f);
}

static void test_disconnect_while_database_locked(void)
{
	disconnect_while_locked(0);
}

/* The wall clock goes back 10 h meanwhile: the disconnect is still seconds ago, reclaimed when idle. */
static void test_disconnect_while_database_locked_clock_back(void)
{
	disconnect_while_locked(-36000);
}

/* ---- a running desktop whose storage fills up ---------------------------------------------------- */

/* The admin's view of the first desktop of pool in state (a new reference), or NULL after timeout_ms. */
static json_t *wait_pool_desktop(struct fixture *f, const char *pool, const char *state, unsigned timeout_ms)
{
	uint64_t end = vdi_test_now_ms() + timeout_ms;

	do {
		json_t *listing = fixture_desktops(f, pool), *dk, *found = NULL;
		size_t i;

		json_array_foreach(json_object_get(listing, "desktops"), i, dk)
			if (!found && streq_ptr(json_string_value(json_object_get(dk, "state")), state))
				found = json_incref(dk);
		json_decref(listing);
		if (found)
			return found;
		usleep(200 * 1000);
	} while (vdi_test_now_ms() < end);
	return NULL;
}

/* libvirt's state and state reason of domain. */
static void domain_state(const char *domain, int *state, int *reason)
{
	virConnectPtr c = virConnectOpen(FIXTURE_URI);
	virDomainPtr d = c ? virDomainLookupByName(c, domain) : NULL;

	check(d);
	check(virDomainGetState(d, state, reason, 0) == 0);
	virDomainFree(d);
	virConnectClose(c);
}

static void test_paused_on_full_storage(void)
{
	struct fixture f;
	struct user u1;
	char cmd[1400], body[400], domain[128], path[160];
	_cleanup_free_ char *console = vdi_calloc(16384, 1);
	json_t *dk;
	int64_t id;
	int state, reason;

	fixture_setup(&f, false, NULL);
	/* The desktops' disks go to an 8 MiB file system; the spare's guest writes 24 MiB at boot. */
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=8m vdi-test-paused '%s'", f.images);
	check_int_eq(system(cmd), 0);
	fixture_add_template(&f, "filling", " vdi.fill=24");
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"template\":\"filling\",\"type\":\"pooled\",\"size\":1,\"prestart\":1,\"groups\":[\"lab\"]}",
		 f.pool);
	json_decref(admin_json(&f.d, "POST", "/api/v1/admin/pools", body, 201));

	/* QEMU pauses the guest on the full disk: the admin sees the desktop in error, and why. */
	dk = wait_pool_desktop(&f, f.pool, "error", FIXTURE_BOOT_MS);
	if (!dk) {
		json_t *listing = fixture_desktops(&f, f.pool);
		_cleanup_free_ char *text = json_dumps(listing, JSON_INDENT(1));

		vdi_test_fail(__FILE__, __LINE__, "the spare never went to error:\n%s", text);
	}
	id = json_integer_value(json_object_get(dk, "id"));
	vdi_test_log("desktop %lld: %s", (long long)id, json_string_value(json_object_get(dk, "message")));
	check_str_contains(json_string_value(json_object_get(dk, "message")), "paused by the hypervisor");
	check(json_is_null(json_object_get(dk, "owner")));
	json_decref(dk);
	fixture_domain(f.pool, id, domain, sizeof(domain));
	domain_state(domain, &state, &reason);
	check_int_eq(state, VIR_DOMAIN_PAUSED);
	check_int_eq(reason, VIR_DOMAIN_PAUSED_IOERROR);

	/* The broker tries to resume it (every 10 s): QEMU stops it again at once, and libvirt now
	 * says why.  It stays out of service. */
	for (uint64_t end = vdi_test_now_ms() + 60000;; usleep(200 * 1000)) {
		bool refined;

		dk = wait_pool_desktop(&f, f.pool, "error", 0);
		check(dk);
		refined = strstr(json_string_value(json_object_get(dk, "message")) ?: "", "no space left") != NULL;
		if (refined)
			vdi_test_log("desktop %lld: %s", (long long)id, json_string_value(json_object_get(dk, "message")));
		json_decref(dk);
		if (refined)
			break;
		check(vdi_test_now_ms() < end);
	}
	domain_state(domain, &state, &reason);
	check_int_eq(state, VIR_DOMAIN_PAUSED);
	check_int_eq(reason, VIR_DOMAIN_PAUSED_IOERROR);

	/* It is the pool's only desktop, and nobody gets it. */
	fixture_login(&f, &u1, 1);
	snprintf(path, sizeof(path), "/api/v1/pools/%s/desktop", f.pool);
	expect_error(&f.d, &u1, "POST", path, NULL, 503, "pool exhausted");
	check(wait_admin_state(&f.d, id, "error", NULL, 0));

	/* Room again: the broker resumes it, the guest's write goes through, and it is free again. */
	snprintf(cmd, sizeof(cmd), "mount -o remount,size=128m '%s'", f.images);
	check_int_eq(system(cmd), 0);
	vdi_test_log("the file system under the desktops' disks has room again");
	check(wait_admin_state(&f.d, id, "free", NULL, 120000));
	if (!test_console_wait(FIXTURE_URI, domain, "vdi-fill-done: 24", 120000, console, 16384))
		vdi_test_fail(__FILE__, __LINE__, "the guest never finished its write:\n%s", console);
	domain_state(domain, &state, &reason);
	check_int_eq(state, VIR_DOMAIN_RUNNING);
	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=resume&object=desktop:%lld", (long long)id);
	check_int_eq(admin_count(&f.d, path, "audit"), 1);

	/* Back in service: the next user gets it, running. */
	check_int_eq(fixture_ask(&f, &u1, f.pool, 200), id);
	check(wait_admin_state(&f.d, id, "assigned", "u01", 0));
	fixture_teardown(&f);
	snprintf(cmd, sizeof(cmd), "umount '%s'", f.images);
	check_int_eq(system(cmd), 0);
}

/* Suspends (pause) or resumes domain through libvirt, as an admin with virsh would. */
static void domain_pause(const char *domain, bool pause)
{
	virConnectPtr c = virConnectOpen(FIXTURE_URI);
	virDomainPtr d = c ? virDomainLookupByName(c, domain) : NULL;

	check(d);
	if ((pause ? virDomainSuspend(d) : virDomainResume(d)) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s %s: %s", pause ? "suspend" : "resume", domain, virGetLastErrorMessage());
	virDomainFree(d);
	virConnectClose(c);
}

/* Powers domain off and undefines it, as an admin with virsh would. */
static void domain_remove(const char *domain)
{
	virConnectPtr c = virConnectOpen(FIXTURE_URI);
	virDomainPtr d = c ? virDomainLookupByName(c, domain) : NULL;

	check(d);
	if (virDomainDestroy(d) < 0 || virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_NVRAM) < 0)
		vdi_test_fail(__FILE__, __LINE__, "remove %s: %s", domain, virGetLastErrorMessage());
	virDomainFree(d);
	virConnectClose(c);
}

/* Waits until desktop id is in error because its domain is gone or missing. */
static bool wait_domain_gone_noted(struct fixture *f, int64_t id, unsigned timeout_ms)
{
	for (uint64_t end = vdi_test_now_ms() + timeout_ms; vdi_test_now_ms() < end; usleep(200 * 1000)) {
		json_t *listing = fixture_desktops(f, f->pool), *dk, *found = NULL;
		bool done;
		size_t i;

		json_array_foreach(json_object_get(listing, "desktops"), i, dk)
			if (json_integer_value(json_object_get(dk, "id")) == id)
				found = dk;
		done = found && streq(json_string_value(json_object_get(found, "state")), "error") &&
		       strstr(json_string_value(json_object_get(found, "message")) ?: "", "its domain is ");
		if (done)
			vdi_test_log("desktop %lld: %s (%s)", (long long)id,
				     json_string_value(json_object_get(found, "state")),
				     json_string_value(json_object_get(found, "message")) ?: "");
		json_decref(listing);
		if (done)
			return true;
	}
	return false;
}

static void test_paused_by_admin(void)
{
	struct fixture f;
	struct user u1;
	char domain[128];
	json_t *dk;
	int64_t id;
	int fd;

	fixture_setup(&f, false, NULL);
	id = fixture_running_desktop(&f, &u1, 0);
	fixture_domain(f.pool, id, domain, sizeof(domain));
	fd = console_connected(&f, &u1, "u01", id);

	/* Paused through libvirt: out of service, still its owner's, and the admin sees why. */
	domain_pause(domain, true);
	check(wait_admin_state(&f.d, id, "error", "u01", 30000));
	dk = wait_pool_desktop(&f, f.pool, "error", 0);
	check(dk);
	check_str_contains(json_string_value(json_object_get(dk, "message")), "paused through libvirt");
	json_decref(dk);
	/* Its user goes away meanwhile; resumed, it is back to what it is then: disconnected. */
	close(fd);
	domain_pause(domain, false);
	check(wait_admin_state(&f.d, id, "disconnected", "u01", 30000));

	/* Without the events (paused, then resumed, while the broker is down), reconcile finds both. */
	stop_broker(&f.d);
	domain_pause(domain, true);
	run_broker(&f.d);
	check(wait_admin_state(&f.d, id, "error", "u01", 30000));
	stop_broker(&f.d);
	domain_pause(domain, false);
	run_broker(&f.d);
	check(wait_admin_state(&f.d, id, "disconnected", "u01", 30000));
	fixture_teardown(&f);
}

static void test_paused_domain_gone(void)
{
	struct fixture f;
	struct user u1;
	char path[128], domain[128];
	int64_t id;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "persistent", 1, 0);
	fixture_login(&f, &u1, 1);
	id = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, id, "assigned", FIXTURE_BOOT_MS));
	fixture_domain(f.pool, id, domain, sizeof(domain));
	domain_pause(domain, true);
	check(wait_admin_state(&f.d, id, "error", "u01", 30000));

	/* Its domain goes while the broker is down (with it up, libvirt's destroy shows it stopped
	 * first, which is what a stopped desktop becomes): reconcile finds it missing, or the resume
	 * pass finds it gone; either way it is an error for good, never back in service. */
	stop_broker(&f.d);
	domain_remove(domain);
	run_broker(&f.d);
	check(wait_domain_gone_noted(&f, id, 120000));
	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=resume&object=desktop:%lld", (long long)id);
	check_int_eq(admin_count(&f.d, path, "audit"), 0);
	check(wait_admin_state(&f.d, id, "error", "u01", 0));
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_desktop_qemu_killed, 900),
	VDI_TEST_TIMEOUT(test_libvirtd_killed_during_provisioning, 900),
	VDI_TEST_TIMEOUT(test_storage_full, 600),
	VDI_TEST_TIMEOUT(test_disconnect_while_database_locked, 600),
	VDI_TEST_TIMEOUT(test_disconnect_while_database_locked_clock_back, 600),
	VDI_TEST_TIMEOUT(test_paused_on_full_storage, 900),
	VDI_TEST_TIMEOUT(test_paused_by_admin, 600),
	VDI_TEST_TIMEOUT(test_paused_domain_gone, 600),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
