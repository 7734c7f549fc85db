/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The broker's wall clock jumps while it runs (libfaketime, with the monotonic clock left alone,
 * as with NTP stepping a clock): sessions, idle desktops and login lockouts keep their durations,
 * neither ended early by a forward jump nor frozen by a backward one, and a restart after a jump
 * finds the stored times right.  Desktops on libvirt's test driver: an assigned desktop that
 * nobody connects to is what the idle timer judges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "broker-test.h"
#include "harness.h"

#define HOURS_10 36000

/* [broker] lines in a drop-in, over the ones start_broker() writes. */
static void broker_dropin(const char *lines)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vdi.conf.d", vdi_test_tmpdir());
	check(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/vdi.conf.d/clock.conf", vdi_test_tmpdir());
	check(f = fopen(path, "we"));
	fprintf(f, "[broker]\n%s", lines);
	fclose(f);
}

/* Runs fn(d) with the environment that puts a broker it starts under libfaketime (on top of
 * pam_wrapper's preloads); only the broker's clock is faked. */
static void with_faketime(struct daemon *d, void (*fn)(struct daemon *))
{
	char *saved = faketime_begin();

	fn(d);
	faketime_end(saved);
}

static void start_default_broker(struct daemon *d)
{
	start_broker(d, NULL);
}

/* Starts the broker under libfaketime, its clock at real time. */
static void start_broker_faketime(struct daemon *d)
{
	fake_clock_set(0);
	with_faketime(d, start_default_broker);
}

/* Template "golden" and a pooled pool of one desktop per idle timeout given. */
static void make_pools(struct daemon *d, const char *const *names, const int *idle, size_t n)
{
	char body[800], disk[512], cmd[700];

	snprintf(disk, sizeof(disk), "%s/golden.qcow2", vdi_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 64M", disk);
	check_int_eq(system(cmd), 0);
	snprintf(body, sizeof(body), "{\"name\":\"golden\",\"disk\":\"%s\"}", disk);
	json_decref(admin_json(d, "POST", "/api/v1/admin/templates", body, 201));
	for (size_t i = 0; i < n; i++) {
		snprintf(body, sizeof(body),
			 "{\"name\":\"%s\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":1,\"idle_timeout\":%d}",
			 names[i], idle[i]);
		json_decref(admin_json(d, "POST", "/api/v1/admin/pools", body, 201));
	}
}

/* u's desktop of pool, once it is up and assigned to u. */
static int64_t assigned_desktop(struct daemon *d, struct user *u, const char *pool)
{
	char path[128];
	json_t *j;
	int64_t id;

	snprintf(path, sizeof(path), "/api/v1/pools/%s/desktop", pool);
	check_int_eq(user_req(d, u, "POST", path, NULL, &j), 202);
	id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check(wait_desktop_state(d, u, id, "assigned", 20000));
	return id;
}

/* The admin view of desktop id (a new reference). */
static json_t *admin_desktop(struct daemon *d, int64_t id)
{
	json_t *j = admin_json(d, "GET", "/api/v1/admin/desktops", NULL, 200), *dk, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "desktops"), i, dk)
		if (json_integer_value(json_object_get(dk, "id")) == id)
			found = json_incref(dk);
	json_decref(j);
	check(found);
	return found;
}

static void check_me(struct daemon *d, struct user *u, const char *name)
{
	json_t *j;

	check_int_eq(user_req(d, u, "GET", "/api/v1/me", NULL, &j), 200);
	check_str_eq(json_string_value(json_object_get(j, "user")), name);
	json_decref(j);
}

/* The audit records of action on desktop id. */
static size_t audited(struct daemon *d, const char *action, int64_t id, int64_t *ret_time)
{
	char path[200];
	json_t *j;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=%s&object=desktop:%lld", action, (long long)id);
	j = admin_json(d, "GET", path, NULL, 200);
	n = json_array_size(json_object_get(j, "audit"));
	if (n && ret_time)
		*ret_time = json_integer_value(json_object_get(json_array_get(json_object_get(j, "audit"), 0), "time"));
	json_decref(j);
	return n;
}

/* Ten hours forward, more than session_ttl (8 h) and a pool's idle_timeout (1 h): ann's session
 * goes on, and her desktop, idle for seconds, is not reclaimed. */
static void test_forward_jump_session_lives(void)
{
	struct daemon d;
	struct user ann;

	start_broker_faketime(&d);
	user_login(&d, &ann, "ann", "ann-secret");
	fake_clock_set(HOURS_10);
	check_me(&d, &ann, "ann");
	stop_broker(&d);
}

static void test_forward_jump_desktop_kept(void)
{
	static const char *const pools[] = { "long", "quick" };
	static const int idle[] = { 3600, 3 };
	struct daemon d;
	struct user ann, again;
	int64_t kept, quick, t_login, t_assigned, t_audit = 0;
	json_t *row, *sessions;

	start_broker_faketime(&d);
	make_pools(&d, pools, idle, ELEMENTSOF(pools));
	t_login = (int64_t)time(NULL);
	user_login(&d, &ann, "ann", "ann-secret");
	kept = assigned_desktop(&d, &ann, "long");
	t_assigned = (int64_t)time(NULL);
	fake_clock_set(HOURS_10);
	/* A desktop of idle_timeout 3 s after the jump (by a login of its own, so that this does not
	 * depend on the first session): once the broker reclaims it, it has judged the idle desktops
	 * on a clock past the jump, the one of "long" with them. */
	user_login(&d, &again, "ann", "ann-secret");
	quick = assigned_desktop(&d, &again, "quick");
	check(wait_admin_state(&d, quick, "stopped", NULL, 30000));
	check_int_eq(audited(&d, "idle-reclaim", quick, &t_audit), 1);
	check_int_eq(audited(&d, "idle-reclaim", kept, NULL), 0);
	row = admin_desktop(&d, kept);
	check_str_eq(json_string_value(json_object_get(row, "state")), "assigned");
	check_str_eq(json_string_value(json_object_get(row, "owner")), "ann");
	/* What admins read is on the wall clock they have now: the assignment was seconds ago by it,
	 * the audit record's time too. */
	check(json_integer_value(json_object_get(row, "assigned_at")) >= t_assigned + HOURS_10 - 2);
	check(json_integer_value(json_object_get(row, "assigned_at")) <= (int64_t)time(NULL) + HOURS_10 + 1);
	check(t_audit >= t_assigned + HOURS_10 - 2 && t_audit <= (int64_t)time(NULL) + HOURS_10 + 1);
	json_decref(row);
	/* Both sessions are listed; the first ends 8 h after its login by the new wall clock. */
	sessions = admin_json(&d, "GET", "/api/v1/admin/sessions", NULL, 200);
	check_int_eq(json_array_size(json_object_get(sessions, "sessions")), 2);
	row = json_array_get(json_object_get(sessions, "sessions"), 0);
	check(json_integer_value(json_object_get(row, "created")) >= t_login + HOURS_10 - 1);
	check(json_integer_value(json_object_get(row, "expires")) ==
	      json_integer_value(json_object_get(row, "created")) + 28800);
	json_decref(sessions);

	/* A restart (the wall clock still 10 h ahead) finds the stored times right: the first session,
	 * 10 h old by the times stored before the jump, lives.  (Desktops of the test driver do not
	 * outlive their broker: reconcile repairs them.) */
	stop_broker(&d);
	with_faketime(&d, run_broker);
	check_me(&d, &ann, "ann");
	stop_broker(&d);
}

/* Ten hours back: ann's session still ends after session_ttl (60 s), no earlier. */
static void test_backward_jump_session_ends(void)
{
	struct daemon d;
	struct user ann;
	uint64_t t0, ended = 0;

	broker_dropin("session_ttl = 60\n");
	start_broker_faketime(&d);
	t0 = vdi_test_now_ms();
	user_login(&d, &ann, "ann", "ann-secret");
	fake_clock_set(-HOURS_10);
	check_me(&d, &ann, "ann");
	while (vdi_test_now_ms() < t0 + 120000) {
		if (user_req(&d, &ann, "GET", "/api/v1/me", NULL, NULL) == 401) {
			ended = vdi_test_now_ms();
			break;
		}
		usleep(250 * 1000);
	}
	if (!ended)
		vdi_test_fail(__FILE__, __LINE__, "the session still works 120 s after a login with session_ttl = 60");
	check(ended - t0 >= 59000);
	check_int_eq(admin_count(&d, "/api/v1/admin/sessions", "sessions"), 0);
	stop_broker(&d);
}

/* Ten hours back: a desktop nobody uses is reclaimed after its idle_timeout (3 s). */
static void test_backward_jump_desktop_reclaimed(void)
{
	static const char *const pools[] = { "quick" };
	static const int idle[] = { 3 };
	struct daemon d;
	struct user ann;
	int64_t id;

	start_broker_faketime(&d);
	make_pools(&d, pools, idle, ELEMENTSOF(pools));
	user_login(&d, &ann, "ann", "ann-secret");
	id = assigned_desktop(&d, &ann, "quick");
	fake_clock_set(-HOURS_10);
	check(wait_admin_state(&d, id, "stopped", NULL, 60000));
	check_int_eq(audited(&d, "idle-reclaim", id, NULL), 1);
	stop_broker(&d);
}

/* Ten hours back: a locked-out login is let in again after login_lockout (3 s). */
static void test_backward_jump_lockout_ends(void)
{
	char cookie[256], csrf[128];
	struct daemon d;
	uint64_t t0;
	int status;

	broker_dropin("login_lockout = 3\n");
	start_broker_faketime(&d);
	for (int i = 0; i < 5; i++)
		check_int_eq(login(&d, "bob", "guess", cookie, sizeof(cookie), csrf, sizeof(csrf)), 401);
	check_int_eq(login(&d, "bob", "bob-secret", cookie, sizeof(cookie), csrf, sizeof(csrf)), 429);
	t0 = vdi_test_now_ms();
	fake_clock_set(-HOURS_10);
	do {
		status = login(&d, "bob", "bob-secret", cookie, sizeof(cookie), csrf, sizeof(csrf));
		if (status == 429)
			usleep(250 * 1000);
	} while (status == 429 && vdi_test_now_ms() < t0 + 60000);
	check_int_eq(status, 200);
	stop_broker(&d);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_forward_jump_session_lives),
	VDI_TEST_TIMEOUT(test_forward_jump_desktop_kept, 120),
	VDI_TEST_TIMEOUT(test_backward_jump_session_ends, 240),
	VDI_TEST_TIMEOUT(test_backward_jump_desktop_reclaimed, 120),
	VDI_TEST_TIMEOUT(test_backward_jump_lockout_ends, 120),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
