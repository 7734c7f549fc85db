/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdi-broker with real desktops: the broker runs in a temp dir against the
 * real libvirtd (qemu:///system) with the test guest as its template, and
 * PAM through pam_wrapper + pam_matrix with users made here (u01..u30).
 * What the broker says is checked against libvirt, the disks and the
 * guests' own consoles:
 *
 *  - a pooled desktop is reset between users (the guest of the second user
 *    finds no marker of the first), a persistent one keeps its disk across
 *    sessions and shutdowns; while it runs, the admin listing shows what its guest agent tells (host
 *    name vdi-guest, user vdiuser, address 10.0.2.15), and its release shuts it down through the agent
 *    (the guest's console says "vdi-shutdown: agent");
 *  - 20 users at once on a pool of 10: 10 desktops, 10 "pool exhausted";
 *  - 16 users at once on a pool of 8 with 5 spares booted: 8 desktops (the spares among them),
 *    8 "pool exhausted", each desktop its winner's in the store, libvirt and its SPICE server;
 *  - kill -9 (and SIGTERM) during a 30-user assignment storm, restart: no desktop twice,
 *    no domain or overlay without its row, nor a row without them;
 *  - resets by an admin, after a QEMU crash and by idle reclaim after remote-viewer came and went
 *    each wipe the disk (the guest of the next boot finds no marker of the last);
 *  - after a release, the last user's console token and ticket do not reach the next user's
 *    desktop.
 *
 * Each test makes its own storage pool vdi-test-<run>-<test> (removed by
 * test_cleanup_stale_runs() when a run dies) and its own broker pools, whose
 * names carry the test's pid so that domain names never collide.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "broker-test.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "screen.h"
#include "spice-link.h"
#include "token.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define URI FIXTURE_URI
#define BANNER "VDI-TEST-GUEST READY"
#define MARK "u01data"
#define BOOT_MS FIXTURE_BOOT_MS
#define MAX_USERS FIXTURE_MAX_USERS

/* ---- the guest's marker and console ------------------------------------------------------- */

/* The marker in disk (which is taken: read_marker(fixture_overlay(...)) frees the path). */
static char *read_marker(char *disk)
{
	_cleanup_free_ char *script = NULL;
	char cmd[2048], line[256] = "";
	FILE *p;
	size_t len;

	check(asprintf(&script, "%s/tests/guest/read-marker", test_env_or_fail("VDI_SOURCE_ROOT")) > 0);
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", script, disk);
	check(p = popen(cmd, "r"));
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	check_int_eq(pclose(p), 0);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	free(disk);
	return strdup(line);
}

/* Waits for needle on the desktop's console; fails the test with what it showed otherwise. */
static void expect_console(const char *pool, int64_t id, const char *needle, char *out, size_t outlen)
{
	char domain[128];

	fixture_domain(pool, id, domain, sizeof(domain));
	if (!test_console_wait(URI, domain, needle, BOOT_MS, out, outlen))
		vdi_test_fail(__FILE__, __LINE__, "%s: no \"%s\" on the console; it showed:\n%s", domain, needle, out);
}

/* ---- pooled reset, persistent keep ---------------------------------------------------------- */

/* Whether desktop id of pool has TPM state on disk now: swtpm's directory by the domain's UUID, as libvirt
 * makes it at the first start (and deletes it when the domain is undefined with its TPM). */
static bool tpm_state_exists(const char *pool, int64_t id)
{
	char domain[128], uuid[VIR_UUID_STRING_BUFLEN], path[256];
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr dom;

	check(c);
	fixture_domain(pool, id, domain, sizeof(domain));
	dom = virDomainLookupByName(c, domain);
	check(dom);
	check_ok(virDomainGetUUIDString(dom, uuid));
	virDomainFree(dom);
	virConnectClose(c);
	snprintf(path, sizeof(path), "/var/lib/libvirt/swtpm/%s/tpm2", uuid);
	return access(path, F_OK) == 0;
}

/* A template of the test guest whose every boot writes MARK to its disk, with an emulated TPM 2.0. */
static void add_marking_template_with_tpm(struct fixture *f)
{
	_cleanup_free_ char *disk = test_guest_path("template.qcow2"), *xml = test_guest_xml(" vdi.marker=" MARK);
	char *end = strstr(xml, "</devices>");
	_cleanup_free_ char *with_tpm = NULL;
	json_t *body;
	char *text;

	check(end);
	check(asprintf(&with_tpm, "%.*s<tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm>%s",
		       (int)(end - xml), xml, end) > 0);
	body = json_pack("{s:s, s:s, s:s, s:s}", "name", "marking", "disk", disk, "xml", with_tpm, "lock_command",
			 "/bin/vdi-lock");
	text = json_dumps(body, 0);
	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/templates", text, 201));
	free(text);
	json_decref(body);
}

/* ---- the guest agent ----------------------------------------------------------------------- */

#define GUEST_SHOWN_MS 60000 /* the broker asks the agents every 10 s; qemu-ga starts after the banner */

/* Desktop id's row of pool in GET /admin/desktops (a new reference), or NULL. */
static json_t *admin_row(struct fixture *f, const char *pool, int64_t id)
{
	json_t *j = fixture_desktops(f, pool), *d, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "desktops"), i, d) {
		if (json_integer_value(json_object_get(d, "id")) == id)
			found = json_incref(d);
	}
	json_decref(j);
	return found;
}

static bool strings_have(json_t *arr, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		if (streq_ptr(json_string_value(e), s))
			return true;
	}
	return false;
}

/* Waits until the admin listing shows what desktop id's guest agent tells: the text guest's host name, its
 * console user and its address on QEMU's user network (build-guest). */
static void wait_admin_guest(struct fixture *f, const char *pool, int64_t id)
{
	uint64_t start = vdi_test_now_ms(), end = start + GUEST_SHOWN_MS;

	for (;; usleep(500 * 1000)) {
		json_t *row = admin_row(f, pool, id), *guest = json_object_get(row, "guest");
		_cleanup_free_ char *text = NULL;

		check(row);
		check(json_is_null(guest) || json_is_object(guest));
		if (streq_ptr(json_string_value(json_object_get(guest, "hostname")), "vdi-guest") &&
		    strings_have(json_object_get(guest, "users"), "vdiuser") &&
		    strings_have(json_object_get(row, "addresses"), "10.0.2.15")) {
			vdi_test_log("GET /admin/desktops: desktop %lld's guest agent tells vdi-guest, vdiuser, 10.0.2.15 "
				     "(shown after %llu ms)", (long long)id, (unsigned long long)(vdi_test_now_ms() - start));
			json_decref(row);
			return;
		}
		if (vdi_test_now_ms() > end) {
			text = json_dumps(row, JSON_COMPACT);
			vdi_test_fail(__FILE__, __LINE__, "GET /admin/desktops never showed the guest agent's host name vdi-guest, "
				      "user vdiuser and address 10.0.2.15: %s", text);
		}
		json_decref(row);
	}
}

struct release_call {
	struct fixture *f;
	struct user *u;
	int64_t id;
};

static void release_call(void *data)
{
	struct release_call *c = data;

	fixture_release(c->f, c->u, c->id);
}

static void test_pooled_reset_and_persistent_keep(void)
{
	static char console[16384];
	struct fixture f;
	struct user u1, u2;
	char persistent[32], domain[128];
	int64_t a, b;
	char *m;

	fixture_setup(&f, false, NULL);
	snprintf(persistent, sizeof(persistent), "s%d", (int)getpid());
	/* Every boot of this template writes the marker MARK to the disk after printing what it found; its
	 * desktops have a TPM, whose state is the user's as the disk is. */
	add_marking_template_with_tpm(&f);
	fixture_add_pool(&f, f.pool, "marking", "pooled", 1, 0);
	fixture_add_pool(&f, persistent, "marking", "persistent", 2, 0);
	fixture_login(&f, &u1, 1);
	fixture_login(&f, &u2, 2);

	/* u01's pooled desktop boots from a fresh overlay and writes the marker. */
	a = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, a, "assigned", BOOT_MS));
	expect_console(f.pool, a, "vdi-marker: none", console, sizeof(console));
	expect_console(f.pool, a, BANNER " marker=" MARK, console, sizeof(console));
	check(tpm_state_exists(f.pool, a));

	/* Released, it is reset before anyone can have it: the overlay on disk holds no marker, and the TPM
	 * state of u01's session is gone with it (the next start makes a fresh one). */
	fixture_release(&f, &u1, a);
	check(wait_admin_state(&f.d, a, "stopped", NULL, BOOT_MS));
	m = read_marker(fixture_overlay(&f, f.pool, a));
	check_str_eq(m, "none");
	free(m);
	check(!tpm_state_exists(f.pool, a));

	/* u02 gets the same desktop (the pool holds one), and its guest finds nothing of u01's. */
	check_int_eq(fixture_ask(&f, &u2, f.pool, 202), a);
	check(wait_desktop_state(&f.d, &u2, a, "assigned", BOOT_MS));
	expect_console(f.pool, a, "vdi-marker: ", console, sizeof(console));
	if (!strstr(console, "vdi-marker: none") || strstr(console, "vdi-marker: " MARK))
		vdi_test_fail(__FILE__, __LINE__, "u02's guest saw a marker:\n%s", console);

	/* u01's persistent desktop: the same one in a new session, and its disk survives a shutdown. */
	b = fixture_ask(&f, &u1, persistent, 202);
	check(wait_desktop_state(&f.d, &u1, b, "assigned", BOOT_MS));
	expect_console(persistent, b, BANNER " marker=" MARK, console, sizeof(console));
	check_int_eq(user_req(&f.d, &u1, "POST", "/api/v1/logout", NULL, NULL), 200);
	fixture_login(&f, &u1, 1);
	check_int_eq(fixture_ask(&f, &u1, persistent, 200), b);

	/* Its guest agent (qemu-ga in the guest) tells the admin listing the guest's host name, user and address;
	 * the release shuts it down through the agent, as the guest's console tells (build-guest). */
	wait_admin_guest(&f, persistent, b);
	fixture_domain(persistent, b, domain, sizeof(domain));
	{
		struct release_call rc = { .f = &f, .u = &u1, .id = b };
		uint64_t t0 = vdi_test_now_ms();

		if (!test_console_during(URI, domain, release_call, &rc, "vdi-shutdown: agent", BOOT_MS, console,
					 sizeof(console)))
			vdi_test_fail(__FILE__, __LINE__, "%s: no \"vdi-shutdown: agent\" on the console:\n%s", domain, console);
		check(!strstr(console, "vdi-shutdown: acpi"));
		vdi_test_log("%s: \"vdi-shutdown: agent\" on its console %llu ms after the release", domain,
			     (unsigned long long)(vdi_test_now_ms() - t0));
	}
	check(wait_admin_state(&f.d, b, "stopped", "u01", BOOT_MS));
	check(test_domain_exists(URI, domain));
	m = read_marker(fixture_overlay(&f, persistent, b));
	check_str_eq(m, MARK);
	free(m);
	check(tpm_state_exists(persistent, b));
	/* Asked again, it boots from the kept disk: the guest finds the marker of its last boot. */
	check_int_eq(fixture_ask(&f, &u1, persistent, 202), b);
	check(wait_desktop_state(&f.d, &u1, b, "assigned", BOOT_MS));
	expect_console(persistent, b, "vdi-marker: ", console, sizeof(console));
	if (!strstr(console, "vdi-marker: " MARK))
		vdi_test_fail(__FILE__, __LINE__, "the persistent desktop lost its disk:\n%s", console);

	/* u02 has a persistent desktop of its own, not u01's. */
	check(fixture_ask(&f, &u2, persistent, 202) != b);

	/* An admin's reset of u01's persistent desktop: a fresh disk for the same owner, its TPM kept. */
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/reset", (long long)b);
		json_decref(admin_json(&f.d, "POST", path, NULL, 202));
		check(wait_admin_state(&f.d, b, "stopped", "u01", BOOT_MS));
		m = read_marker(fixture_overlay(&f, persistent, b));
		check_str_eq(m, "none");
		free(m);
		check(tpm_state_exists(persistent, b));
	}
	fixture_teardown(&f);
}

/* ---- many users at once --------------------------------------------------------------------- */

struct racer {
	struct fixture *f;
	struct user u;
	pthread_barrier_t *start;
	atomic_int *done;
	char path[128];
	int rc;          /* http_request's result */
	int status;
	int64_t id;
	char error[256];
	char body[256];
};

static void *race(void *data)
{
	struct racer *r = data;
	struct http_reply rep;

	pthread_barrier_wait(r->start);
	r->rc = http_request(r->f->d.port, "POST", r->path, r->u.hdr, NULL, 0, &rep);
	if (r->rc >= 0) {
		json_t *j = json_loads(rep.body, 0, NULL);

		r->status = rep.status;
		snprintf(r->body, sizeof(r->body), "%s", rep.body ? rep.body : "");
		r->id = json_integer_value(json_object_get(j, "id"));
		snprintf(r->error, sizeof(r->error), "%s", json_string_value(json_object_get(j, "error")) ?: "");
		json_decref(j);
		http_reply_finish(&rep);
	}
	atomic_fetch_add(r->done, 1);
	return NULL;
}

/* What storm() saw when it stopped the broker. */
struct storm_stop {
	int answered;               /* answers back when the signal went */
	struct fixture_ids domains; /* the pool's domains in libvirt right after it */
};

/*
 * n users ask for a desktop of pool at once.  When kill_after is > 0 the
 * broker gets sig as soon as that many answers came back: SIGKILL, or
 * SIGTERM, after which it must exit 0 by itself; at (not NULL) gets what
 * was there when it went.
 */
static void storm(struct fixture *f, const char *pool, struct racer *r, int n, int kill_after, int sig,
		  struct storm_stop *at)
{
	pthread_t th[MAX_USERS];
	pthread_barrier_t start;
	atomic_int done = 0;

	check(n <= MAX_USERS);
	check_int_eq(pthread_barrier_init(&start, NULL, (unsigned)n + 1), 0);
	for (int i = 0; i < n; i++) {
		r[i].f = f;
		r[i].start = &start;
		r[i].done = &done;
		snprintf(r[i].path, sizeof(r[i].path), "/api/v1/pools/%s/desktop", pool);
		check_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	pthread_barrier_wait(&start);
	if (kill_after > 0) {
		uint64_t end = vdi_test_now_ms() + 30000;
		int seen;

		while (atomic_load(&done) < kill_after && vdi_test_now_ms() < end)
			;
		seen = atomic_load(&done);
		if (sig == SIGKILL) {
			kill_broker(&f->d);
			if (at)
				fixture_libvirt_ids(pool, &at->domains);
		} else {
			uint64_t t0 = vdi_test_now_ms();

			if (at)
				fixture_libvirt_ids(pool, &at->domains);
			stop_broker(&f->d); /* SIGTERM, then it must exit 0 */
			vdi_test_log("vdi-broker stopped by itself %llu ms after SIGTERM",
				     (unsigned long long)(vdi_test_now_ms() - t0));
		}
		vdi_test_log("vdi-broker got %s after %d of %d answers", strsignal(sig), seen, n);
		if (at)
			at->answered = seen;
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
}

static void test_twenty_users_on_ten(void)
{
	struct racer r[20] = { 0 };
	struct fixture f;
	struct fixture_ids doms;
	json_t *listing, *dk;
	int granted = 0, exhausted = 0;
	size_t i;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "pooled", 10, 0);
	for (int k = 0; k < 20; k++)
		fixture_login(&f, &r[k].u, k + 1);

	storm(&f, f.pool, r, 20, 0, 0, NULL);
	for (int k = 0; k < 20; k++) {
		check_int_eq(r[k].rc, 0);
		if (r[k].status == 200 || r[k].status == 202) {
			for (int m = 0; m < k; m++)
				if ((r[m].status == 200 || r[m].status == 202) && r[m].id == r[k].id)
					vdi_test_fail(__FILE__, __LINE__, "desktop %lld went to u%02d and u%02d",
						      (long long)r[k].id, m + 1, k + 1);
			granted++;
		} else {
			check_int_eq(r[k].status, 503);
			check_str_contains(r[k].error, "pool exhausted");
			exhausted++;
		}
	}
	check_int_eq(granted, 10);
	check_int_eq(exhausted, 10);

	/* All ten come up, each its winner's, each a running domain of its own. */
	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);
	check_int_eq(json_array_size(json_object_get(listing, "desktops")), 10);
	json_array_foreach(json_object_get(listing, "desktops"), i, dk) {
		int64_t id = json_integer_value(json_object_get(dk, "id"));
		const char *owner = json_string_value(json_object_get(dk, "owner"));
		bool found = false;

		check_str_eq(json_string_value(json_object_get(dk, "state")), "assigned");
		for (int k = 0; k < 20; k++) {
			char name[8];

			fixture_user_name(k + 1, name, sizeof(name));
			if (r[k].status / 100 == 2 && r[k].id == id)
				found = streq_ptr(owner, name);
		}
		if (!found)
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld belongs to %s, who was not given it", (long long)id,
				      owner ? owner : "nobody");
	}
	fixture_check_no_orphans(&f, f.pool, listing);
	fixture_check_libvirt_agrees(&f, f.pool, listing);
	fixture_libvirt_ids(f.pool, &doms);
	for (size_t k = 0; k < doms.n; k++)
		check(doms.running[k]);
	json_decref(listing);
	fixture_teardown(&f);
}

/*
 * 16 users at once on a pool of 8 whose 5 spares are booted and free: the race for free running
 * desktops.  8 granted (the 5 spares among them, and no other clone than the 3 more the pool
 * allows), 8 "pool exhausted"; no desktop is anyone's but its one winner's, in the store, in
 * libvirt and at the SPICE server (each winner's ticket, set after all the others', is the one
 * its desktop takes).
 */
static void test_sixteen_users_on_prestarted(void)
{
	enum { USERS = 16, SIZE = 8, PRESTART = 5 };
	struct racer r[USERS] = { 0 };
	struct fixture f;
	struct fixture_ids spares, doms;
	json_t *listing, *dk;
	char body[512], token[4096], target[USERS][600], password[USERS][128];
	int granted = 0, exhausted = 0;
	size_t i;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":%d,\"prestart\":%d,"
		 "\"groups\":[\"lab\"]}",
		 f.pool, SIZE, PRESTART);
	json_decref(admin_json(&f.d, "POST", "/api/v1/admin/pools", body, 201));
	for (int k = 0; k < USERS; k++)
		fixture_login(&f, &r[k].u, k + 1);

	/* The spares: booted, free, running in libvirt. */
	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);
	check_int_eq(json_array_size(json_object_get(listing, "desktops")), PRESTART);
	memset(&spares, 0, sizeof(spares));
	json_array_foreach(json_object_get(listing, "desktops"), i, dk) {
		check_str_eq(json_string_value(json_object_get(dk, "state")), "free");
		spares.ids[spares.n++] = json_integer_value(json_object_get(dk, "id"));
	}
	fixture_check_libvirt_agrees(&f, f.pool, listing);
	json_decref(listing);

	storm(&f, f.pool, r, USERS, 0, 0, NULL);
	for (int k = 0; k < USERS; k++) {
		check_int_eq(r[k].rc, 0);
		if (r[k].status == 200 || r[k].status == 202) {
			for (int m = 0; m < k; m++)
				if (r[m].status / 100 == 2 && r[m].id == r[k].id)
					vdi_test_fail(__FILE__, __LINE__, "desktop %lld went to u%02d and u%02d",
						      (long long)r[k].id, m + 1, k + 1);
			granted++;
		} else {
			check_int_eq(r[k].status, 503);
			check_str_contains(r[k].error, "pool exhausted");
			exhausted++;
		}
	}
	check_int_eq(granted, SIZE);
	check_int_eq(exhausted, USERS - SIZE);
	/* No spare was left while someone waited for a new clone. */
	for (size_t s = 0; s < spares.n; s++) {
		bool given = false;

		for (int k = 0; k < USERS; k++)
			given |= r[k].status / 100 == 2 && r[k].id == spares.ids[s];
		if (!given)
			vdi_test_fail(__FILE__, __LINE__, "spare %lld was given to nobody", (long long)spares.ids[s]);
	}

	/* The store: each desktop its winner's, assigned; libvirt: SIZE domains, all running. */
	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);
	check_int_eq(json_array_size(json_object_get(listing, "desktops")), SIZE);
	json_array_foreach(json_object_get(listing, "desktops"), i, dk) {
		int64_t id = json_integer_value(json_object_get(dk, "id"));
		const char *owner = json_string_value(json_object_get(dk, "owner"));
		bool found = false;

		check_str_eq(json_string_value(json_object_get(dk, "state")), "assigned");
		for (int k = 0; k < USERS; k++) {
			char name[8];

			fixture_user_name(k + 1, name, sizeof(name));
			if (r[k].status / 100 == 2 && r[k].id == id)
				found = streq_ptr(owner, name);
		}
		if (!found)
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld belongs to %s, who was not given it", (long long)id,
				      owner ? owner : "nobody");
	}
	fixture_check_no_orphans(&f, f.pool, listing);
	fixture_check_libvirt_agrees(&f, f.pool, listing);
	fixture_libvirt_ids(f.pool, &doms);
	check_int_eq(doms.n, SIZE);
	json_decref(listing);

	/* The SPICE servers: every winner sets a ticket on its desktop, then each ticket still opens its
	 * own desktop (had two winners shared one, the first one's ticket would be gone) and no other. */
	for (int k = 0; k < USERS; k++) {
		struct vdi_token_key key;
		struct vdi_token_claims claims;
		struct vdi_error err = { 0 };
		char path[128];
		json_t *j = NULL;

		if (r[k].status / 100 != 2)
			continue;
		snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)r[k].id);
		check_int_eq(user_req(&f.d, &r[k].u, "POST", path, NULL, &j), 200);
		snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
		snprintf(password[k], sizeof(password[k]), "%s", json_string_value(json_object_get(j, "password")));
		if (vdi_token_key_load(f.key_path, &key, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
		check_ok(vdi_token_verify(&key, token, time(NULL), &claims, NULL));
		snprintf(target[k], sizeof(target[k]), "%s", claims.tgt);
		json_decref(j);
	}
	for (int k = 0; k < USERS; k++) {
		struct spice_link_result res;

		if (r[k].status / 100 != 2)
			continue;
		check_ok(spice_link_probe(target[k], password[k], 10000, &res));
		if (res.auth_result != SPICE_LINK_OK)
			vdi_test_fail(__FILE__, __LINE__, "u%02d's ticket does not open its desktop %lld", k + 1,
				      (long long)r[k].id);
		for (int m = 0; m < USERS; m++)
			if (m != k && r[m].status / 100 == 2) {
				check(!streq(target[m], target[k]));
				check_ok(spice_link_probe(target[m], password[k], 10000, &res));
				check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
				break;
			}
	}
	fixture_teardown(&f);
}

/*
 * The kill landed while desktops were still being made: some promised, and fewer running in
 * libvirt than users asked.  (The broker answers 202 once the row is in, before the clone: all 30
 * may have their answer, unread, when the signal goes; the clones are what it interrupts.)
 */
static void check_mid_storm(const struct storm_stop *at, const struct racer *r, int n, int sig)
{
	size_t running = 0;
	int died = 0;

	for (size_t k = 0; k < at->domains.n; k++)
		running += at->domains.running[k];
	for (int k = 0; k < n; k++)
		died += r[k].rc < 0;
	vdi_test_log("at the %s: %d of %d answered, %zu domains defined, %zu running; %d requests died", strsignal(sig),
		     at->answered, n, at->domains.n, running, died);
	if (at->answered <= 0 || running >= (size_t)n)
		vdi_test_fail(__FILE__, __LINE__, "the %s did not land mid-storm: %d of %d answered, %zu of %d running",
			      strsignal(sig), at->answered, n, running, n);
}

/*
 * The broker gets sig (SIGKILL or SIGTERM) during a 30-user assignment
 * storm and is started again: no promise is broken, no desktop is given
 * twice, the store, libvirt and the disk agree, and everyone can ask again.
 */
static void stopped_during_storm(int sig)
{
	struct racer r[MAX_USERS] = { 0 }, again[MAX_USERS] = { 0 };
	struct storm_stop at = { 0 };
	int64_t held[MAX_USERS] = { 0 };
	struct fixture f;
	json_t *listing, *dk;
	int answered = 0, unanswered_holding = 0;
	size_t i;

	fixture_setup(&f, false, NULL);
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "pooled", MAX_USERS, 0);
	for (int k = 0; k < MAX_USERS; k++)
		fixture_login(&f, &r[k].u, k + 1);

	/* Killed while clones are being made and started. */
	storm(&f, f.pool, r, MAX_USERS, 10, sig, &at);
	check_mid_storm(&at, r, MAX_USERS, sig);
	run_broker(&f.d);
	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);

	/* Who holds what now (no user two desktops), and no desktop is in error. */
	json_array_foreach(json_object_get(listing, "desktops"), i, dk) {
		const char *owner = json_string_value(json_object_get(dk, "owner"));
		int k;

		check(!streq(json_string_value(json_object_get(dk, "state")), "error"));
		if (!owner)
			continue;
		check(sscanf(owner, "u%d", &k) == 1 && k >= 1 && k <= MAX_USERS);
		if (held[k - 1])
			vdi_test_fail(__FILE__, __LINE__, "%s holds two desktops", owner);
		held[k - 1] = json_integer_value(json_object_get(dk, "id"));
		/* A desktop someone holds runs for them. */
		check_str_eq(json_string_value(json_object_get(dk, "state")), "assigned");
	}
	/* Whoever was told a desktop id before the kill holds it now: the broker promised it. */
	for (int k = 0; k < MAX_USERS; k++) {
		if (r[k].rc < 0 || r[k].status / 100 != 2) {
			/* No answer, or not a desktop: whatever it holds it gets when it asks again (below). */
			unanswered_holding += held[k] > 0;
			continue;
		}
		answered++;
		if (held[k] != r[k].id)
			vdi_test_fail(__FILE__, __LINE__, "u%02d was told desktop %lld (%d %s), and holds %lld", k + 1,
				      (long long)r[k].id, r[k].status, r[k].body, (long long)held[k]);
	}
	vdi_test_log("%d users were given a desktop before the %s; %d unanswered ones hold one", answered, strsignal(sig),
		     unanswered_holding);
	/* libvirt, the disk, the storage pool and the SPICE sockets hold exactly what the store holds. */
	fixture_check_no_orphans(&f, f.pool, listing);
	fixture_check_libvirt_agrees(&f, f.pool, listing);
	json_decref(listing);

	/* The broker carries on: everyone asks again (new sessions are not needed) and gets one of their
	 * own: the one they hold, if any. */
	for (int k = 0; k < MAX_USERS; k++)
		again[k].u = r[k].u;
	storm(&f, f.pool, again, MAX_USERS, 0, 0, NULL);
	for (int k = 0; k < MAX_USERS; k++) {
		check_int_eq(again[k].rc, 0);
		if (again[k].status != 200 && again[k].status != 202)
			vdi_test_fail(__FILE__, __LINE__, "u%02d after the restart: %d %s", k + 1, again[k].status,
				      again[k].error);
		if (held[k] && again[k].id != held[k])
			vdi_test_fail(__FILE__, __LINE__, "u%02d held desktop %lld, and was given %lld", k + 1,
				      (long long)held[k], (long long)again[k].id);
		for (int m = 0; m < k; m++)
			check(again[m].id != again[k].id);
	}
	listing = fixture_wait_settled(&f, f.pool, BOOT_MS);
	check_int_eq(json_array_size(json_object_get(listing, "desktops")), MAX_USERS);
	json_array_foreach(json_object_get(listing, "desktops"), i, dk)
		check_str_eq(json_string_value(json_object_get(dk, "state")), "assigned");
	fixture_check_no_orphans(&f, f.pool, listing);
	fixture_check_libvirt_agrees(&f, f.pool, listing);
	json_decref(listing);
	fixture_teardown(&f);
}

static void test_kill9_during_storm(void)
{
	stopped_during_storm(SIGKILL);
}

static void test_sigterm_during_storm(void)
{
	stopped_during_storm(SIGTERM);
}

/* ---- resets: by an admin, after a QEMU crash, by idle reclaim ----------------------------------- */

/*
 * u asks for the pool's one desktop, which boots from a fresh overlay: the guest finds no marker
 * and writes MARK (the template's kernel command line asks it to).  Returns its id.
 */
static int64_t boot_clean_and_mark(struct fixture *f, struct user *u, int want_status)
{
	static char console[16384];
	int64_t id = fixture_ask(f, u, f->pool, want_status);

	check(wait_desktop_state(&f->d, u, id, "assigned", BOOT_MS));
	expect_console(f->pool, id, "vdi-marker-written: " MARK, console, sizeof(console));
	if (!strstr(console, "vdi-marker: none") || strstr(console, "vdi-marker: " MARK))
		vdi_test_fail(__FILE__, __LINE__, "the guest did not boot from a clean disk:\n%s", console);
	return id;
}

/* How many audit records of action the desktop has. */
static size_t audit_count(struct fixture *f, int64_t id, const char *action)
{
	char path[160];
	json_t *audit;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=%s&object=desktop:%lld", action, (long long)id);
	audit = admin_json(&f->d, "GET", path, NULL, 200);
	n = json_array_size(json_object_get(audit, "audit"));
	json_decref(audit);
	return n;
}

/* The desktop was reset: stopped, nobody's, its overlay without the marker, the audit says why. */
static void check_reset(struct fixture *f, int64_t id, const char *action, const char *detail)
{
	char path[160];
	json_t *audit;
	char *m;

	check(wait_admin_state(&f->d, id, "stopped", NULL, BOOT_MS));
	m = read_marker(fixture_overlay(f, f->pool, id));
	check_str_eq(m, "none");
	free(m);
	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=%s&object=desktop:%lld", action, (long long)id);
	audit = admin_json(&f->d, "GET", path, NULL, 200);
	if (json_array_size(json_object_get(audit, "audit")) < 1) {
		char domain[128], cmd[400];

		/* Seen once: spice-server's worker segfaulted as remote-viewer left, and the desktop
		 * went back as "the guest stopped" instead. */
		fixture_domain(f->pool, id, domain, sizeof(domain));
		snprintf(cmd, sizeof(cmd), "grep -h 'shutting down' /var/log/libvirt/qemu/%s.log >&2", domain);
		(void)system(cmd);
		vdi_test_fail(__FILE__, __LINE__, "no \"%s\" of desktop %lld in the audit", action, (long long)id);
	}
	if (detail) {
		_cleanup_free_ char *text = json_dumps(audit, 0);

		check_str_contains(text, detail);
	}
	json_decref(audit);
}

/* SIGKILL to the desktop's QEMU, as a crash would. */
static void kill_qemu(const char *pool, int64_t id)
{
	char domain[128], path[300];
	FILE *p;
	int pid = 0;

	fixture_domain(pool, id, domain, sizeof(domain));
	snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", domain);
	check(p = fopen(path, "re"));
	check(fscanf(p, "%d", &pid) == 1 && pid > 1);
	fclose(p);
	check_int_eq(kill(pid, SIGKILL), 0);
	vdi_test_log("QEMU of %s (pid %d) killed", domain, pid);
}

/* How many <redirdev> desktop id of pool has in its live definition (virsh on qemu:///system). */
static int redirdevs(const char *pool, int64_t id)
{
	char domain[128], cmd[300];
	FILE *p;
	int n = -1;

	fixture_domain(pool, id, domain, sizeof(domain));
	snprintf(cmd, sizeof(cmd), "virsh -q -c qemu:///system dumpxml '%s' | grep -c '<redirdev '", domain);
	check(p = popen(cmd, "r"));
	check(fscanf(p, "%d", &n) == 1);
	pclose(p);
	return n;
}

/* The ticket of a remote-viewer file is replaced by the next console request's; the file offers USB
 * redirection, as the pool (2 channels by default) gives its desktops. */
static void check_console_tickets(struct fixture *f, struct user *u1, int64_t id)
{
	struct vdi_token_key key;
	struct vdi_token_claims claims;
	struct spice_link_result res;
	_cleanup_free_ char *vv = NULL;
	struct vdi_error err = { 0 };
	char path[128], host[64], old_password[128];
	const char *token, *password;
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)id);
	vv = req_text(&f->d, "GET", path, u1->hdr, NULL, 200);
	check_str_contains(vv, "type=spice");
	snprintf(host, sizeof(host), "host=desktop-%lld", (long long)id);
	check_str_contains(vv, host);
	check_str_contains(vv, "proxy=http://token:");
	check_str_contains(vv, "\nenable-usbredir=1\n");
	check_str_contains(vv, "\nenable-usb-autoshare=0\n");
	check_int_eq(redirdevs(f->pool, id), 2);
	{
		const char *p = strstr(vv, "\npassword=");

		check(p);
		p += strlen("\npassword=");
		snprintf(old_password, sizeof(old_password), "%.*s", (int)strcspn(p, "\n"), p);
	}

	/* A console: a fresh SPICE ticket and a token for the gateway naming the desktop's socket. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	check_int_eq(user_req(&f->d, u1, "POST", path, NULL, &j), 200);
	token = json_string_value(json_object_get(j, "token"));
	password = json_string_value(json_object_get(j, "password"));
	check(token && password);
	check_str_contains(json_string_value(json_object_get(j, "url")), "/spice?token=");
	if (vdi_token_key_load(f->key_path, &key, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
	check_ok(vdi_token_verify(&key, token, time(NULL), &claims, NULL));
	check_str_eq(claims.sub, "u01");
	check_int_eq(claims.dsk, id);
	check(startswith(claims.tgt, "unix:"));

	/* The ticket of the remote-viewer file is no longer good; the new one is. */
	check_ok(spice_link_probe(claims.tgt, old_password, 10000, &res));
	check(res.auth_done);
	check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	check_ok(spice_link_probe(claims.tgt, password, 10000, &res));
	check(res.auth_done);
	check_int_eq(res.auth_result, SPICE_LINK_OK);
	json_decref(j);
	check(wait_admin_state(&f->d, id, "disconnected", "u01", 30000));
}

/* remote-viewer opens the desktop's .vv on a virtual X screen; returns its pid once the desktop is connected. */
static pid_t remote_viewer_connect(struct fixture *f, struct user *u, int64_t id, struct screen *scr)
{
	char path[128], file[600], log[600], fbdir[600], cmd[1400];
	_cleanup_free_ char *vv = NULL;
	pid_t viewer;
	FILE *out;

	if (access("/usr/bin/remote-viewer", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer is needed: tools/install-deps installs it");
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)id);
	vv = req_text(&f->d, "GET", path, u->hdr, NULL, 200);
	snprintf(file, sizeof(file), "%s/desktop-%lld.vv", vdi_test_tmpdir(), (long long)id);
	check(out = fopen(file, "we"));
	fputs(vv, out);
	fclose(out);
	snprintf(log, sizeof(log), "%s/remote-viewer.log", vdi_test_tmpdir());
	snprintf(fbdir, sizeof(fbdir), "%s/fb", vdi_test_tmpdir());
	screen_start(scr, fbdir, log);
	viewer = screen_spawn(log, (char *[]){ "/usr/bin/remote-viewer", file, NULL }, scr->display);
	if (!wait_admin_state(&f->d, id, "connected", "u01", 60000)) {
		snprintf(cmd, sizeof(cmd), "cat '%s' '%s' >&2", log, f->gateway_log);
		(void)system(cmd);
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer did not get to the desktop");
	}
	return viewer;
}

/*
 * One pooled desktop of a template whose every boot writes a marker to the disk (after printing
 * what it found), reset three ways while u01 holds it: by an admin, after its QEMU crashed, and
 * by idle reclaim after remote-viewer left.  Each time the overlay loses the marker and the next
 * boot finds none.
 */
static void test_resets_wipe_the_disk(void)
{
	struct fixture f;
	struct user u1;
	struct screen scr;
	char path[160];
	pid_t viewer;
	int64_t id;

	fixture_setup(&f, true, NULL);
	fixture_add_template(&f, "marking", " vdi.marker=" MARK);
	fixture_add_pool(&f, f.pool, "marking", "pooled", 1, 0);
	fixture_login(&f, &u1, 1);

	/* An admin resets it. */
	id = boot_clean_and_mark(&f, &u1, 202);
	check_console_tickets(&f, &u1, id);
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/reset", (long long)id);
	json_decref(admin_json(&f.d, "POST", path, NULL, 202));
	check_reset(&f, id, "reset", NULL);

	/* Its QEMU crashes: the desktop goes back to the pool through a reset. */
	check_int_eq(boot_clean_and_mark(&f, &u1, 202), id);
	kill_qemu(f.pool, id);
	check_reset(&f, id, "release", "the guest stopped");

	/* remote-viewer comes and goes; idle_timeout later the desktop is taken back and reset.
	 * Debian 12's spice-server segfaults now and then as a client leaves (its "SPICE Worker"
	 * thread, in dmesg): the desktop then goes back as "the guest stopped", and the idle path
	 * is tried again on a new boot, at most five times (three in a row were seen once, in a
	 * clean-clone CI run: three "SPICE Worker ... segfault" lines in dmesg within 30 s). */
	snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", f.pool);
	for (int attempt = 1;; attempt++) {
		check_int_eq(boot_clean_and_mark(&f, &u1, 202), id);
		viewer = remote_viewer_connect(&f, &u1, id, &scr);
		json_decref(admin_json(&f.d, "PATCH", path, "{\"idle_timeout\":5}", 200));
		kill(viewer, SIGTERM);
		waitpid(viewer, NULL, 0);
		screen_stop(&scr);
		check(wait_admin_state(&f.d, id, "stopped", NULL, BOOT_MS));
		if (audit_count(&f, id, "idle-reclaim") > 0 || attempt == 5)
			break;
		check_int_eq(audit_count(&f, id, "release"), attempt + 1);
		vdi_test_log("QEMU died as remote-viewer left (attempt %d); again", attempt);
		json_decref(admin_json(&f.d, "PATCH", path, "{\"idle_timeout\":0}", 200));
	}
	check_reset(&f, id, "idle-reclaim", NULL);
	fixture_teardown(&f);
}

/* ---- a console of the last user does not reach the next one ------------------------------------- */

/* A console for desktop id as u: the token, the ticket and the SPICE target (all copied out). */
static void console_of(struct fixture *f, struct user *u, int64_t id, char *token, size_t toklen, char *password,
		       size_t plen, char *target, size_t tlen)
{
	struct vdi_token_key key;
	struct vdi_token_claims claims;
	struct vdi_error err = { 0 };
	char path[128];
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	check_int_eq(user_req(&f->d, u, "POST", path, NULL, &j), 200);
	snprintf(token, toklen, "%s", json_string_value(json_object_get(j, "token")) ?: "");
	snprintf(password, plen, "%s", json_string_value(json_object_get(j, "password")) ?: "");
	check(*token && *password);
	if (vdi_token_key_load(f->key_path, &key, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
	check_ok(vdi_token_verify(&key, token, time(NULL), &claims, NULL));
	snprintf(target, tlen, "%s", claims.tgt);
	json_decref(j);
}

/*
 * u01 opens a console (token and ticket), releases the desktop; u02 gets it (a pool of one).
 * u01's token and ticket, still within their lifetime, do not reach u02's desktop: the SPICE
 * server of the desktop's new boot refuses the old ticket, through the gateway and directly.
 * The same for u02's after u02 logs out and the desktop, reset, goes back to u01.
 */
static void test_old_console_does_not_reach_next_user(void)
{
	char token_a[4096], pass_a[128], target_a[600], token_b[4096], pass_b[128], target_b[600];
	struct spice_link_result res;
	struct fixture f;
	struct user u1, u2;
	int64_t id;
	int status;

	fixture_setup(&f, true, NULL);
	id = fixture_running_desktop(&f, &u1, 0);
	fixture_login(&f, &u2, 2);

	/* u01's console works through the gateway, as remote-viewer's would. */
	console_of(&f, &u1, id, token_a, sizeof(token_a), pass_a, sizeof(pass_a), target_a, sizeof(target_a));
	check_ok(spice_link_via_gateway(f.gateway_port, id, token_a, pass_a, 10000, &status, &res));
	check_int_eq(status, 200);
	check_int_eq(res.auth_result, SPICE_LINK_OK);
	check(wait_admin_state(&f.d, id, "disconnected", "u01", 30000));

	/* Released, reset, and u02's. */
	fixture_release(&f, &u1, id);
	check(wait_admin_state(&f.d, id, "stopped", NULL, BOOT_MS));
	check_int_eq(fixture_ask(&f, &u2, f.pool, 202), id);
	check(wait_desktop_state(&f.d, &u2, id, "assigned", BOOT_MS));

	/* u01's token through the gateway, with u01's ticket: the gateway refuses, or SPICE does. */
	check_ok(spice_link_via_gateway(f.gateway_port, id, token_a, pass_a, 10000, &status, &res));
	vdi_test_log("u01's old token after the release: gateway %d, SPICE %s %u", status, res.magic, res.auth_result);
	if (status == 200) {
		check_str_eq(res.magic, "REDQ");
		check(res.auth_done);
		check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	}
	/* And SPICE itself refuses u01's ticket on the desktop's socket, before and after u02 opens a console. */
	check_ok(spice_link_probe(target_a, pass_a, 10000, &res));
	check(res.auth_done);
	check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	console_of(&f, &u2, id, token_b, sizeof(token_b), pass_b, sizeof(pass_b), target_b, sizeof(target_b));
	check_str_eq(target_b, target_a);
	check_ok(spice_link_via_gateway(f.gateway_port, id, token_a, pass_a, 10000, &status, &res));
	if (status == 200)
		check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	check_ok(spice_link_probe(target_a, pass_a, 10000, &res));
	check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	/* u02's own console gets there (the refusals above are not of a dead path). */
	check_ok(spice_link_via_gateway(f.gateway_port, id, token_b, pass_b, 10000, &status, &res));
	check_int_eq(status, 200);
	check_int_eq(res.auth_result, SPICE_LINK_OK);
	check(wait_admin_state(&f.d, id, "disconnected", "u02", 30000));

	/* u02 logs out; the desktop (still u02's) is reset by an admin and goes to u01: u02's token and
	 * ticket do not reach it either. */
	check_int_eq(user_req(&f.d, &u2, "POST", "/api/v1/logout", NULL, NULL), 200);
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/reset", (long long)id);
		json_decref(admin_json(&f.d, "POST", path, NULL, 202));
	}
	check(wait_admin_state(&f.d, id, "stopped", NULL, BOOT_MS));
	check_int_eq(fixture_ask(&f, &u1, f.pool, 202), id);
	check(wait_desktop_state(&f.d, &u1, id, "assigned", BOOT_MS));
	check_ok(spice_link_via_gateway(f.gateway_port, id, token_b, pass_b, 10000, &status, &res));
	vdi_test_log("u02's old token after logout and reset: gateway %d, SPICE %s %u", status, res.magic, res.auth_result);
	if (status == 200)
		check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	check_ok(spice_link_probe(target_b, pass_b, 10000, &res));
	check(res.auth_done);
	check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	fixture_teardown(&f);
}

/* ---- reconcile: orphans of our pools go, other pools' domains stay ------------------------------ */

static void make_desktop(struct fixture *f, const char *pool, int64_t id)
{
	_cleanup_free_ char *disk = test_guest_path("template.qcow2"), *xml = test_guest_xml(NULL);
	char run[600];
	struct pool_host_options ho = {
		.uri = URI, .storage_pool = f->storage_pool, .storage_path = f->images, .runtime_dir = run,
	};
	struct pool_template_options to = { .name = "golden", .disk_path = disk, .xml = xml };
	struct vdi_error err = { { 0 } };
	struct pool_host *host = NULL;
	struct pool_template *t = NULL;

	snprintf(run, sizeof(run), "%s/run", vdi_test_tmpdir());
	if (pool_host_new(&ho, &host, &err) < 0 || pool_template_new(&to, &t, &err) < 0 ||
	    pool_desktop_create(host, t, pool, id, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s-%lld: %s", pool, (long long)id, err.message);
	pool_template_free(t);
	pool_host_free(host);
}

static void test_reconcile_deletes_orphans_of_its_pools_only(void)
{
	struct fixture f;
	char foreign[32], orphan[128], other[128];
	struct fixture_ids doms, files;
	uint64_t end;

	fixture_setup(&f, false, NULL);
	snprintf(foreign, sizeof(foreign), "q%d", (int)getpid());
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "pooled", 2, 0);
	stop_broker(&f.d);

	/* While the broker is down: a desktop of its pool that its store never heard of (what a crash
	 * between clone and commit would leave), and a desktop of a pool it does not know. */
	make_desktop(&f, f.pool, 999);
	make_desktop(&f, foreign, 1);
	fixture_domain(f.pool, 999, orphan, sizeof(orphan));
	fixture_domain(foreign, 1, other, sizeof(other));
	check(test_domain_exists(URI, orphan) && test_domain_exists(URI, other));

	/* The reconcile at start deletes the first, domain and overlay, and leaves the other alone. */
	run_broker(&f.d);
	end = vdi_test_now_ms() + 60000;
	while (test_domain_exists(URI, orphan) && vdi_test_now_ms() < end)
		usleep(100 * 1000);
	check(!test_domain_exists(URI, orphan));
	fixture_libvirt_ids(f.pool, &doms);
	fixture_overlay_ids(&f, f.pool, &files);
	check_int_eq(doms.n, 0);
	for (end = vdi_test_now_ms() + 10000; files.n && vdi_test_now_ms() < end; fixture_overlay_ids(&f, f.pool, &files))
		usleep(100 * 1000);
	check_int_eq(files.n, 0);
	check(test_domain_exists(URI, other));
	fixture_overlay_ids(&f, foreign, &files);
	check_int_eq(files.n, 1);
	fixture_teardown(&f);
}

/* ---- remote-viewer through the gateway ---------------------------------------------------------- */

/* How many of remote-viewer's USB redirection channels came up, as its --spice-debug log (path) says
 * ("usbredir-9:<id>: channel up", each id once): waits up to ms for want of them; returns the count seen last. */
static int usbredir_channels_up(const char *path, int want, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;
	int up = 0;

	do {
		FILE *l = fopen(path, "re");
		unsigned seen = 0;
		char line[1024];

		while (l && fgets(line, sizeof(line), l)) {
			const char *at = strstr(line, "usbredir-9:");
			int id;

			if (at && strstr(at, ": channel up") && sscanf(at, "usbredir-9:%d:", &id) == 1 && id >= 0 && id < 32)
				seen |= 1u << id;
		}
		if (l)
			fclose(l);
		up = __builtin_popcount(seen);
		if (up >= want)
			break;
		usleep(500 * 1000);
	} while (vdi_test_now_ms() < end);
	return up;
}

/* Issue 19: the gateway has TLS ([gateway] tls_cert), so the .vv has remote-viewer reach it as an https proxy
 * and speak SPICE over TLS inside the tunnel, ended by the gateway (test-thin-client keeps the plain path). */
static void test_remote_viewer_through_gateway(void)
{
	struct fixture f;
	struct user u1;
	_cleanup_free_ char *vv = NULL;
	char path[128], file[600], cmd[1600], log[600], fbdir[600], domain[128], serial[8192], ca[700];
	struct screen scr;
	pid_t viewer;
	int64_t id;
	FILE *out;

	if (access("/usr/bin/remote-viewer", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer is needed: tools/install-deps installs it");
	fixture_setup_with(&f, true, NULL, &(struct fixture_options){ .tls_gateway = true });
	snprintf(ca, sizeof(ca), "%s/ca.pem", f.tls_dir);
	id = fixture_running_desktop(&f, &u1, 0);
	/* Issue 18: the pool refuses a second viewer and locks the screen when the last one leaves, through the
	 * guest agent running the template's lock command (the test guest's /bin/vdi-lock). */
	json_decref(admin_json(&f.d, "PATCH", "/api/v1/admin/templates/golden", "{\"lock_command\":\"/bin/vdi-lock\"}",
			       200));
	snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", f.pool);
	json_decref(admin_json(&f.d, "PATCH", path, "{\"lock_on_disconnect\":true,\"second_viewer\":\"refuse\"}", 200));

	/* The .vv file the user downloads, as the broker writes it: proxy = the gateway over TLS, token as
	 * password; SPICE over TLS with the gateway's subject and the CA inline. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)id);
	vv = req_text(&f.d, "GET", path, u1.hdr, NULL, 200);
	snprintf(cmd, sizeof(cmd), "proxy=https://token:");
	check_str_contains(vv, cmd);
	check_str_contains(vv, "\ntls-port=5901\nsecure-channels=all\nhost-subject=O=vdi test,CN=gateway\n");
	check_str_contains(vv, "\nca=-----BEGIN CERTIFICATE-----\\n");
	check(!strstr(vv, "\nport="));
	snprintf(cmd, sizeof(cmd), "@127.0.0.1:%d\n", f.gateway_port);
	check_str_contains(vv, cmd);
	/* The pool has the default two USB redirection channels: the file lets remote-viewer use them. */
	check_str_contains(vv, "\nenable-usbredir=1\n");
	snprintf(file, sizeof(file), "%s/desktop.vv", vdi_test_tmpdir());
	check(out = fopen(file, "we"));
	fputs(vv, out);
	fclose(out);

	/* remote-viewer opens it on a virtual X screen: CONNECT through the gateway, the ticket to SPICE. */
	snprintf(log, sizeof(log), "%s/remote-viewer.log", vdi_test_tmpdir());
	snprintf(fbdir, sizeof(fbdir), "%s/fb", vdi_test_tmpdir());
	screen_start(&scr, fbdir, log);
	viewer = screen_spawn_trusting(log, (char *[]){ "/usr/bin/remote-viewer", "--spice-debug", file, NULL },
				       scr.display, ca);
	/* SPICE's main channel logged in: libvirt's graphics event moves the desktop to "connected". */
	if (!wait_admin_state(&f.d, id, "connected", "u01", 60000)) {
		snprintf(cmd, sizeof(cmd), "cat '%s' '%s' >&2", log, f.gateway_log);
		(void)system(cmd);
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer did not get to the desktop");
	}
	check(fixture_gateway_log_has(&f, "CONNECT relay from"));
	check(fixture_gateway_log_has(&f, "(SPICE over TLS)"));
	check(!fixture_gateway_log_has(&f, "TLS tunnel for"));
	snprintf(cmd, sizeof(cmd), "desktop %lld of u01", (long long)id);
	check(fixture_gateway_log_has(&f, cmd));
	/* Both USB redirection channels of the desktop came up through the gateway, and no third. */
	check_int_eq(usbredir_channels_up(log, 2, 30000), 2);
	vdi_test_log("remote-viewer has the desktop's two USB redirection channels up");

	/* And the window shows the guest's console: its banner, read off the screen by OCR
	 * (tesseract reads the VGA font's V as U now and then: the rest of the banner must be there). */
	{
		uint64_t end = vdi_test_now_ms() + BOOT_MS;
		char *text = NULL;
		bool banner = false;

		while (!banner && vdi_test_now_ms() < end) {
			free(text);
			text = screen_text(&scr);
			banner = text && strstr(text, "-TEST-GUEST READY");
			if (!banner)
				usleep(1000 * 1000);
		}
		if (!banner)
			vdi_test_fail(__FILE__, __LINE__, "no banner on remote-viewer's screen; OCR read:\n%s", text ? text : "");
		vdi_test_log("remote-viewer shows the guest's banner");
		free(text);
	}
	/* second_viewer "refuse": no second console while it is open, neither for the browser nor a .vv. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	snprintf(cmd, sizeof(cmd), "desktop %lld is open in another viewer", (long long)id);
	expect_reply(&f.d, "POST", path, u1.hdr, NULL, 409, cmd);
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)id);
	expect_reply(&f.d, "GET", path, u1.hdr, NULL, 409, cmd);
	/* Not locked while it is connected. */
	fixture_domain(f.pool, id, domain, sizeof(domain));
	if (!test_console_command(FIXTURE_URI, domain, "vdi-locked?", "vdi-lock: off", 30000, serial, sizeof(serial)))
		vdi_test_fail(__FILE__, __LINE__, "the guest does not say its screen is unlocked; console:\n%s", serial);

	/* When it goes, the desktop sees its client leave. */
	kill(viewer, SIGTERM);
	waitpid(viewer, NULL, 0);
	screen_stop(&scr);
	if (!wait_admin_state(&f.d, id, "disconnected", "u01", 30000)) {
		struct http_reply m;

		(void)system("ps aux | grep -E '[r]emote-viewer|[X]vfb' >&2");
		check_ok(http_request(f.gateway_port, "GET", "/metrics", NULL, NULL, 0, &m));
		vdi_test_fail(__FILE__, __LINE__, "the desktop did not see its client go; gateway:\n%s", m.body);
	}
	/* The last client left: BROKER_LOCK_GRACE_S later the broker ran /bin/vdi-lock through the guest agent,
	 * audited once (at the broker's next tick), and the guest says its screen is locked. */
	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=desktop-lock&object=desktop:%lld", (long long)id);
	{
		uint64_t end = vdi_test_now_ms() + 60000;
		json_t *a = NULL;

		do {
			json_decref(a);
			usleep(200 * 1000);
			a = admin_json(&f.d, "GET", path, NULL, 200);
		} while (json_array_size(json_object_get(a, "audit")) == 0 && vdi_test_now_ms() < end);
		check_int_eq(json_array_size(json_object_get(a, "audit")), 1);
		check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(a, "audit"), 0), "detail")),
			     "/bin/vdi-lock: exit 0");
		json_decref(a);
	}
	if (!test_console_command(FIXTURE_URI, domain, "vdi-locked?", "vdi-lock: on", 30000, serial, sizeof(serial)))
		vdi_test_fail(__FILE__, __LINE__, "the guest's screen was not locked after its viewer left; console:\n%s",
			      serial);
	vdi_test_log("the guest's screen was locked when remote-viewer left");
	/* And with no viewer open, a console is given again. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	expect_reply(&f.d, "POST", path, u1.hdr, NULL, 200, "\"token\"");
	fixture_teardown(&f);
}

/* ---- spice-html5 in a browser through the gateway ------------------------------------------------ */

static void test_browser_console_shows_banner(void)
{
	struct fixture f;
	struct user u1;
	char path[128], dir[600], log[700], stop[700], png[700], script[700];
	const char *url, *password;
	json_t *j = NULL;
	pid_t node;
	int64_t id;
	char *text = NULL;
	bool banner = false;

	fixture_setup(&f, true, NULL);
	id = fixture_running_desktop(&f, &u1, 0);

	/* What the console page gets from the broker: the gateway's URL with a token, and the ticket. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	check_int_eq(user_req(&f.d, &u1, "POST", path, NULL, &j), 200);
	url = json_string_value(json_object_get(j, "url"));
	password = json_string_value(json_object_get(j, "password"));
	check(url && password);
	snprintf(dir, sizeof(dir), "%s/browser", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	snprintf(log, sizeof(log), "%s/browser.log", dir);
	snprintf(script, sizeof(script), "%s/tests/browser/open-console.mjs", test_env_or_fail("VDI_SOURCE_ROOT"));
	node = screen_spawn(log, (char *[]){ (char *)test_env_or_fail("VDI_NODE_BIN"), script, (char *)url,
					     (char *)password, dir, NULL },
			    NULL);
	json_decref(j);

	/* spice-html5 draws the guest's text console: its banner is in the screenshot. */
	snprintf(png, sizeof(png), "%s/console.png", dir);
	for (uint64_t end = vdi_test_now_ms() + BOOT_MS; !banner && vdi_test_now_ms() < end;) {
		free(text);
		text = image_text(png);
		banner = text && strstr(text, "-TEST-GUEST READY");
		if (!banner)
			usleep(1000 * 1000);
	}
	snprintf(stop, sizeof(stop), "%s/stop", dir);
	fclose(fopen(stop, "we"));
	waitpid(node, NULL, 0);
	if (!banner) {
		char cmd[1400];

		snprintf(cmd, sizeof(cmd), "cat '%s' '%s' >&2", log, f.gateway_log);
		(void)system(cmd);
		vdi_test_fail(__FILE__, __LINE__, "no banner in the browser; OCR read:\n%s", text ? text : "");
	}
	free(text);
	vdi_test_log("spice-html5 shows the guest's banner");
	check(fixture_gateway_log_has(&f, "WebSocket relay from"));
	/* libvirt saw the browser's SPICE session come and go. */
	check(wait_admin_state(&f.d, id, "disconnected", "u01", 30000));
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_browser_console_shows_banner, 400),
	VDI_TEST_TIMEOUT(test_remote_viewer_through_gateway, 300),
	VDI_TEST_TIMEOUT(test_reconcile_deletes_orphans_of_its_pools_only, 300),
	VDI_TEST_TIMEOUT(test_resets_wipe_the_disk, 600),
	VDI_TEST_TIMEOUT(test_old_console_does_not_reach_next_user, 300),
	VDI_TEST_TIMEOUT(test_pooled_reset_and_persistent_keep, 900),
	VDI_TEST_TIMEOUT(test_twenty_users_on_ten, 600),
	VDI_TEST_TIMEOUT(test_sixteen_users_on_prestarted, 600),
	VDI_TEST_TIMEOUT(test_kill9_during_storm, 900),
	VDI_TEST_TIMEOUT(test_sigterm_during_storm, 900),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
