/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vdi-broker daemon on loopback in a temp dir, with real PAM through
 * pam_wrapper + pam_matrix (tests/pam/): logins, sessions, CSRF, Origin,
 * throttling and bad input, over real HTTP.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alloc.h"
#include "token.h"
#include "harness.h"
#include "broker-test.h"
#include "http-client.h"
#include "screen.h"
#include "tls-client.h"

static void test_login_me_logout(void)
{
	struct daemon d;
	struct http_reply r;
	char cookie[256], csrf[128], hdr[512], sc[512];
	json_t *j;

	start_broker(&d, NULL);
	check_alive(&d);

	r = req_status(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 200);
	check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
	check_str_contains(sc, "vdi_session=");
	check_str_contains(sc, "HttpOnly");
	check_str_contains(sc, "SameSite=Strict");
	check(!strstr(sc, "Secure"));
	check(http_reply_header(&r, "content-type", hdr, sizeof(hdr)) && streq(hdr, "application/json"));
	j = body_json(&r);
	check_str_eq(json_string_value(json_object_get(j, "user")), "ann");
	check(json_is_false(json_object_get(j, "admin")));
	check_int_eq(strlen(json_string_value(json_object_get(j, "csrf"))), 64);
	check_str_eq(json_string_value(json_array_get(json_object_get(j, "groups"), 1)), "staff");
	json_decref(j);
	http_reply_finish(&r);

	/* Behind a TLS-terminating proxy the cookie is Secure. */
	r = req_status(&d, "POST", "/api/v1/login", "X-Forwarded-Proto: https\r\n",
		       "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 200);
	check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
	check_str_contains(sc, "; Secure");
	http_reply_finish(&r);

	check_int_eq(login(&d, "ann", "ann-secret", cookie, sizeof(cookie), csrf, sizeof(csrf)), 200);
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookie);
	expect_body(&d, "GET", "/api/v1/me", hdr, NULL, 200, "{\"user\":\"ann\",\"groups\":[\"ann\",\"staff\"],\"admin\":false}");
	expect_body(&d, "GET", "/api/v1/me", NULL, NULL, 401, "{\"error\":\"not logged in\"}");

	/* Logout changes state: without the CSRF token it is refused and the session lives on. */
	expect_reply(&d, "POST", "/api/v1/logout", hdr, NULL, 403, "X-CSRF-Token");
	{
		char with[1024];

		snprintf(with, sizeof(with), "%sX-CSRF-Token: %s\r\n", hdr, "0000000000000000000000000000000000000000000000000000000000000000");
		expect_reply(&d, "POST", "/api/v1/logout", with, NULL, 403, NULL);
		expect_reply(&d, "GET", "/api/v1/me", hdr, NULL, 200, NULL);

		snprintf(with, sizeof(with), "%sX-CSRF-Token: %s\r\n", hdr, csrf);
		r = req_status(&d, "POST", "/api/v1/logout", with, NULL, 200);
		check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
		check_str_contains(sc, "Max-Age=0");
		http_reply_finish(&r);
	}
	expect_reply(&d, "GET", "/api/v1/me", hdr, NULL, 401, NULL);

	/* An admin is a member of the admin group. */
	j = req_json(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"adm\",\"password\":\"adm-secret\"}", 200);
	check(json_is_true(json_object_get(j, "admin")));
	json_decref(j);
	stop_broker(&d);
}

static void test_bad_credentials_look_alike(void)
{
	struct daemon d;
	_cleanup_free_ char *a = NULL, *b = NULL;

	start_broker(&d, NULL);
	a = req_text(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"ann\",\"password\":\"wrong\"}", 401);
	b = req_text(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"nobody\",\"password\":\"wrong\"}", 401);
	check_str_eq(a, b);
	check_str_eq(a, "{\"error\":\"invalid user name or password\"}");

	/* Right password, but the account may not log in here. */
	expect_reply(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"expired\",\"password\":\"exp-secret\"}", 403, NULL);
	stop_broker(&d);
}

static void test_lockout(void)
{
	struct daemon d;
	char cookie[256], csrf[128];

	start_broker(&d, NULL);
	for (int i = 0; i < 5; i++)
		check_int_eq(login(&d, "bob", "guess", cookie, sizeof(cookie), csrf, sizeof(csrf)), 401);
	/* Locked: the right password does not help, and the address is locked for everyone. */
	expect_reply(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"bob\",\"password\":\"bob-secret\"}", 429,
		     "too many failed logins");
	check_int_eq(login(&d, "ann", "ann-secret", cookie, sizeof(cookie), csrf, sizeof(csrf)), 429);
	check_alive(&d);
	stop_broker(&d);

	/* Failed logins are audited, without the password. */
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		check(sqlite3_open(d.db, &db) == SQLITE_OK);
		check(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE action = 'login-failed' AND actor = 'bob'"
					     " AND coalesce(detail, '') NOT LIKE '%guess%'", -1, &st, NULL) == SQLITE_OK);
		check(sqlite3_step(st) == SQLITE_ROW);
		check_int_eq(sqlite3_column_int(st, 0), 5);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static void test_session_expiry(void)
{
	struct daemon d;
	char cookie[256], csrf[128], hdr[512];
	sqlite3 *db;

	start_broker(&d, NULL);
	check_int_eq(login(&d, "ann", "ann-secret", cookie, sizeof(cookie), csrf, sizeof(csrf)), 200);
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookie);
	/* Let the session run out (the shortest ttl is a minute; the clock is moved in the store instead). */
	check(sqlite3_open(d.db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	check(sqlite3_exec(db, "UPDATE sessions SET expires = strftime('%s', 'now') - 1", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	expect_reply(&d, "GET", "/api/v1/me", hdr, NULL, 401, NULL);
	stop_broker(&d);
}

static void test_origin_and_bad_input(void)
{
	static const char *const bad[][2] = {
		{ "{\"username\":", "malformed JSON" },
		{ "[\"ann\",\"ann-secret\"]", "must be a JSON object" },
		{ "{\"username\":1,\"password\":\"x\"}", "\"username\" must be a string" },
		{ "{\"username\":\"ann\"}", "\"password\" is required" },
		{ "{\"username\":\"ann\",\"password\":\"x\",\"admin\":true}", "unknown member \"admin\"" },
		{ "{\"username\":\"ann\",\"username\":\"bob\",\"password\":\"x\"}", "duplicate" },
		{ "{\"username\":\"\xc3\x28\",\"password\":\"x\"}", "malformed JSON" },
	};
	struct daemon d;
	_cleanup_free_ char *big = NULL;

	start_broker(&d, NULL);
	expect_reply(&d, "POST", "/api/v1/login", "Origin: http://evil.example\r\n",
		     "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 403, "cross-origin");
	expect_reply(&d, "POST", "/api/v1/login", "Origin: http://127.0.0.1:1\r\n",
		     "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 403, NULL);
	{
		char same[128];

		snprintf(same, sizeof(same), "Origin: http://127.0.0.1:%d\r\n", d.port);
		expect_reply(&d, "POST", "/api/v1/login", same, "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 200,
			     NULL);
	}

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		expect_error(&d, NULL, "POST", "/api/v1/login", bad[i][0], 400, bad[i][1]);
	/* Odd but valid unicode is just an unknown user. */
	expect_reply(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"\xf0\x9f\x90\xa7 \\u202e\",\"password\":\"x\"}",
		     401, NULL);

	big = malloc(100000);
	memset(big, 'x', 99999);
	big[99999] = '\0';
	expect_reply(&d, "POST", "/api/v1/login", NULL, big, 413, "larger than");

	expect_body(&d, "GET", "/api/v1/nothing-here", NULL, NULL, 404, "{\"error\":\"no such resource\"}");
	expect_reply(&d, "GET", "/api/v1/login", NULL, NULL, 405, NULL);

	check_alive(&d);
	stop_broker(&d);
}

static void test_check_config(void)
{
	char conf[512], cmd[1200];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/bad.conf", vdi_test_tmpdir());
	f = fopen(conf, "we");
	check(f);
	fputs("[broker]\nlisten = nowhere\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --check-config 2>&1 | grep -q 'bad.conf:2: \\[broker\\] listen'",
		 getenv("VDI_BROKER_BIN"), conf);
	check_int_eq(system(cmd), 0);
	f = fopen(conf, "we");
	fputs("[broker]\nlisten = 127.0.0.1:8080\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --check-config >/dev/null", getenv("VDI_BROKER_BIN"), conf);
	check_int_eq(system(cmd), 0);
}


/* ---- pools and desktops on libvirt's test driver ------------------------------------------ */

static void make_disk(const char *path)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 64M", path);
	check_int_eq(system(cmd), 0);
}

/* One number from the broker's store, read beside the running daemon. */
static long long store_int(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static long long store_int(struct daemon *d, const char *fmt, ...)
{
	_cleanup_free_ char *q = NULL;
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&q, fmt, ap);
	va_end(ap);
	check(r > 0);
	check(sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", q, sqlite3_errmsg(db));
	check(sqlite3_step(st) == SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void setup_pools(struct daemon *d)
{
	char body[1024], disk[512];
	json_t *j;

	snprintf(disk, sizeof(disk), "%s/golden.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	snprintf(body, sizeof(body), "{\"name\":\"golden\",\"disk\":\"%s\"}", disk);
	j = admin_json(d, "POST", "/api/v1/admin/templates", body, 201);
	check_str_eq(json_string_value(json_object_get(j, "disk")), disk);
	json_decref(j);
	json_decref(admin_json(d, "POST", "/api/v1/admin/pools",
			       "{\"name\":\"lab\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":2}", 201));
	json_decref(admin_json(d, "POST", "/api/v1/admin/pools",
			       "{\"name\":\"staffonly\",\"template\":\"golden\",\"type\":\"persistent\",\"size\":5,"
			       "\"max_per_user\":2,\"groups\":[\"staff\"]}",
			       201));
	json_decref(admin_json(d, "POST", "/api/v1/admin/pools",
			       "{\"name\":\"admins\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":1,"
			       "\"groups\":[\"vdiadmin\"]}",
			       201));
}

static void test_assignment_policy(void)
{
	struct daemon d;
	struct user ann, bob, adm;
	json_t *j;
	int64_t ann_id, bob_id, first, second;
	char path[128];

	start_broker(&d, NULL);
	setup_pools(&d);
	user_login(&d, &ann, "ann", "ann-secret");
	user_login(&d, &bob, "bob", "bob-secret");
	user_login(&d, &adm, "adm", "adm-secret");

	/* ann sees the pools she is entitled to, with counts. */
	check_int_eq(user_req(&d, &ann, "GET", "/api/v1/pools", NULL, &j), 200);
	check_int_eq(json_array_size(json_object_get(j, "pools")), 2);
	check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "pools"), 0), "name")), "lab");
	check_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "pools"), 0), "free")), 2);
	json_decref(j);

	expect_error(&d, &ann, "POST", "/api/v1/pools/admins/desktop", NULL, 403, "not entitled");
	expect_error(&d, &adm, "POST", "/api/v1/pools/staffonly/desktop", NULL, 403, "not entitled");
	expect_error(&d, &ann, "POST", "/api/v1/pools/nope/desktop", NULL, 404, "no such pool");

	/* The first request clones (202), the desktop comes up, the next request answers 200 with it. */
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 202);
	ann_id = json_integer_value(json_object_get(j, "id"));
	check_str_eq(json_string_value(json_object_get(j, "pool")), "lab");
	json_decref(j);
	check(wait_desktop_state(&d, &ann, ann_id, "assigned", 10000));
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 200);
	check_int_eq(json_integer_value(json_object_get(j, "id")), ann_id);
	json_decref(j);
	/* max_per_user = 1 in lab: no second one; 2 in staffonly. */
	expect_error(&d, &ann, "POST", "/api/v1/pools/lab/desktop", "{\"new\":true}", 409, "the most it allows");
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/staffonly/desktop", NULL, &j), 202);
	first = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/staffonly/desktop", "{\"new\":true}", &j), 202);
	second = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	expect_error(&d, &ann, "POST", "/api/v1/pools/staffonly/desktop", "{\"new\":true}", 409, "you have 2 desktops");
	/* Two of them, both hers, both up, in the store and in her listing. */
	check(first > 0 && second > 0 && first != second && first != ann_id && second != ann_id);
	check(wait_desktop_state(&d, &ann, first, "assigned", 10000));
	check(wait_desktop_state(&d, &ann, second, "assigned", 10000));
	check_int_eq(store_int(&d,
			       "SELECT count(*) FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.name = 'staffonly'"
			       " AND d.owner = 'ann' AND d.state = 'assigned' AND d.id != %lld",
			       (long long)ann_id),
		     2);
	check_int_eq(user_count(&d, &ann, "/api/v1/desktops", "desktops"), 3);

	/* lab holds 2: bob gets the second, adm is refused. */
	check_int_eq(user_req(&d, &bob, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 202);
	bob_id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check(bob_id != ann_id);
	expect_error(&d, &adm, "POST", "/api/v1/pools/lab/desktop", NULL, 503, "pool exhausted");

	/* Another user's desktop does not exist for bob. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/release", (long long)ann_id);
	expect_error(&d, &bob, "POST", path, NULL, 404, "no such desktop");
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)ann_id);
	expect_error(&d, &bob, "POST", path, NULL, 404, "no such desktop");
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)second);
	expect_error(&d, &bob, "GET", path, NULL, 404, "no such desktop");
	check_int_eq(user_count(&d, &bob, "/api/v1/desktops", "desktops"), 1);

	/* ann gives hers back: it is reset, nobody's, and then adm's. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/release", (long long)ann_id);
	check_int_eq(user_req(&d, &ann, "POST", path, NULL, NULL), 202);
	check(wait_admin_state(&d, ann_id, "stopped", NULL, 10000));
	check_int_eq(user_req(&d, &adm, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 202);
	check_int_eq(json_integer_value(json_object_get(j, "id")), ann_id);
	json_decref(j);
	check(wait_admin_state(&d, ann_id, "assigned", "adm", 10000));

	/* The audit log has all of it. */
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?user=ann&action=assign", "audit"), 3);
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?action=release", "audit"), 1);
	check_alive(&d);
	stop_broker(&d);
}

static void test_desktop_bad_input(void)
{
	static const struct {
		const char *method, *path, *body;
		int status;
		const char *error;
	} bad[] = {
		{ "POST", "/api/v1/pools/lab/desktop", "{\"new\":", 400, "malformed JSON" },
		{ "POST", "/api/v1/pools/lab/desktop", "{\"new\":\"yes\"}", 400, "\"new\" must be" },
		{ "POST", "/api/v1/pools/lab/desktop", "{\"bogus\":1}", 400, "unknown member \"bogus\"" },
		{ "POST", "/api/v1/pools/lab/desktop", "[1]", 400, "must be a JSON object" },
		{ "POST", "/api/v1/pools/%F0%9F%90%A7/desktop", NULL, 404, "no such pool" },
		{ "POST", "/api/v1/desktops/abc/release", NULL, 404, "no such desktop" },
		{ "POST", "/api/v1/desktops/0/console", NULL, 404, "no such desktop" },
		{ "POST", "/api/v1/desktops/-1/release", NULL, 404, "no such desktop" },
		{ "POST", "/api/v1/desktops/99999999999999999999/release", NULL, 404, "no such desktop" },
		{ "POST", "/api/v1/desktops/12/nothing", NULL, 404, "no such resource" },
		{ "GET", "/api/v1/admin/pools", NULL, 403, "administrators only" },
		{ "POST", "/api/v1/admin/pools", "{}", 403, "administrators only" },
	};
	struct daemon d;
	struct user ann, adm;
	_cleanup_free_ char *big = NULL;

	start_broker(&d, NULL);
	setup_pools(&d);
	user_login(&d, &ann, "ann", "ann-secret");
	user_login(&d, &adm, "adm", "adm-secret");
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		expect_error(&d, &ann, bad[i].method, bad[i].path, bad[i].body, bad[i].status, bad[i].error);
	/* A NUL in the path: libwebsockets' parser drops the connection before the broker sees the
	 * request. Nothing may be served for it, and the daemon goes on. */
	{
		char hdr[512];
		struct http_reply nul;
		int rc;

		snprintf(hdr, sizeof(hdr), "Cookie: %s\r\nX-CSRF-Token: %s\r\n", ann.cookie, ann.csrf);
		rc = http_request(d.port, "POST", "/api/v1/pools/lab%00x/desktop", hdr, NULL, 0, &nul);
		if (rc >= 0) {
			check_int_eq(nul.status / 100, 4);
			http_reply_finish(&nul);
		}
		check_alive(&d);
	}

	/* No CSRF token, no session, a foreign Origin. */
	expect_reply(&d, "POST", "/api/v1/pools/lab/desktop", NULL, NULL, 401, NULL);
	{
		char hdr[512];

		snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", ann.cookie);
		expect_reply(&d, "POST", "/api/v1/pools/lab/desktop", hdr, NULL, 403, "X-CSRF-Token");
		snprintf(hdr, sizeof(hdr), "Cookie: %s\r\nX-CSRF-Token: %s\r\nOrigin: http://evil.example\r\n", ann.cookie,
			 ann.csrf);
		expect_reply(&d, "POST", "/api/v1/pools/lab/desktop", hdr, NULL, 403, "cross-origin");
	}
	big = malloc(70000);
	memset(big, ' ', 69999);
	big[69999] = '\0';
	expect_error(&d, &ann, "POST", "/api/v1/pools/lab/desktop", big, 413, "larger than");

	/* Admin API: bad bodies, unknown names, and the checks of values. */
	expect_error(&d, &adm, "POST", "/api/v1/admin/pools", "{\"name\":\"x-y\",\"template\":\"golden\",\"size\":1}", 400,
		     "pool name");
	expect_error(&d, &adm, "POST", "/api/v1/admin/pools", "{\"name\":\"x\",\"template\":\"nope\",\"size\":1}", 404,
		     "no template");
	expect_error(&d, &adm, "POST", "/api/v1/admin/pools", "{\"name\":\"x\",\"template\":\"golden\",\"size\":\"1\"}", 400,
		     "\"size\" must be a whole number");
	expect_error(&d, &adm, "POST", "/api/v1/admin/pools",
		     "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"type\":\"weird\"}", 400, "\"type\" must be");
	expect_error(&d, &adm, "POST", "/api/v1/admin/pools", "{\"name\":\"lab\",\"template\":\"golden\",\"size\":1}", 409,
		     "exists already");
	expect_error(&d, &adm, "PATCH", "/api/v1/admin/pools/lab", "{\"prestart\":5}", 400, "must not exceed");
	expect_error(&d, &adm, "PATCH", "/api/v1/admin/pools/nope", "{\"size\":5}", 404, "no such pool");
	expect_error(&d, &adm, "POST", "/api/v1/admin/templates", "{\"name\":\"t2\",\"disk\":\"/nonexistent.qcow2\"}", 400,
		     "nonexistent.qcow2");
	expect_error(&d, &adm, "POST", "/api/v1/admin/templates", "{\"name\":\"t2\",\"disk\":\"relative.qcow2\"}", 400,
		     "absolute path");
	expect_error(&d, &adm, "DELETE", "/api/v1/admin/templates/golden", NULL, 409, "used by 3 pools");
	expect_error(&d, &adm, "GET", "/api/v1/admin/audit?limit=0", NULL, 400, "\"limit\" must be");
	expect_error(&d, &adm, "DELETE", "/api/v1/admin/sessions/zz", NULL, 404, "no such session");
	expect_error(&d, &adm, "POST", "/api/v1/admin/desktops/77/reset", NULL, 404, "no such desktop");
	/* User paths are not served on the admin socket. */
	admin_status(&d, "GET", "/api/v1/desktops", NULL, 400);
	check_alive(&d);
	stop_broker(&d);
}

static void test_admin_api(void)
{
	struct daemon d;
	struct user ann, adm;
	json_t *j;
	char path[128];
	int64_t id;

	start_broker(&d, NULL);
	setup_pools(&d);
	user_login(&d, &ann, "ann", "ann-secret");
	user_login(&d, &adm, "adm", "adm-secret");

	/* An admin's session works like the socket, with the CSRF token. */
	check_int_eq(user_req(&d, &adm, "PATCH", "/api/v1/admin/pools/lab", "{\"prestart\":1,\"size\":3}", &j), 200);
	check_int_eq(json_integer_value(json_object_get(j, "prestart")), 1);
	json_decref(j);
	/* prestart 1: a spare comes up by itself. */
	{
		uint64_t end = vdi_test_now_ms() + 10000;
		size_t n = 0;

		while (n == 0 && vdi_test_now_ms() < end) {
			j = admin_json(&d, "GET", "/api/v1/admin/desktops?pool=lab&state=free", NULL, 200);
			n = json_array_size(json_object_get(j, "desktops"));
			json_decref(j);
			usleep(50 * 1000);
		}
		check_int_eq(n, 1);
	}
	/* ann gets that spare at once: 200. */
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 200);
	id = json_integer_value(json_object_get(j, "id"));
	check_str_eq(json_string_value(json_object_get(j, "state")), "assigned");
	json_decref(j);
	/* The keeper makes a new spare right away. */
	{
		uint64_t end = vdi_test_now_ms() + 10000;
		int64_t spare = 0;

		while (!spare && vdi_test_now_ms() < end) {
			j = admin_json(&d, "GET", "/api/v1/admin/desktops?pool=lab&state=free", NULL, 200);
			spare = json_integer_value(json_object_get(json_array_get(json_object_get(j, "desktops"), 0), "id"));
			json_decref(j);
			usleep(50 * 1000);
		}
		check(spare > 0 && spare != id);
	}

	check_int_eq(admin_count(&d, "/api/v1/admin/sessions", "sessions"), 2);
	j = admin_json(&d, "DELETE", "/api/v1/admin/sessions?user=ann", NULL, 200);
	check_int_eq(json_integer_value(json_object_get(j, "killed")), 1);
	json_decref(j);
	expect_error(&d, &ann, "GET", "/api/v1/desktops", NULL, 401, "not logged in");

	j = admin_json(&d, "GET", "/api/v1/admin/hosts", NULL, 200);
	check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "hosts"), 0), "uri")),
		     "test:///default");
	check(json_is_true(json_object_get(json_array_get(json_object_get(j, "hosts"), 0), "alive")));
	json_decref(j);

	/* Admin reset of ann's pooled desktop: nobody's, stopped, fresh. Then delete it. */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/reset", (long long)id);
	json_decref(admin_json(&d, "POST", path, NULL, 202));
	check(wait_admin_state(&d, id, "stopped", NULL, 10000));
	check_int_eq(store_int(&d, "SELECT count(*) FROM desktops WHERE id = %lld AND state = 'stopped' AND owner IS NULL"
				   " AND assigned_at IS NULL", (long long)id), 1);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'reset' AND object = 'desktop:%lld'",
			       (long long)id), 1);
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld", (long long)id);
	json_decref(admin_json(&d, "DELETE", path, NULL, 202));
	/* Deleted: gone from the store and the listing once libvirt's domain is gone, and audited. */
	for (uint64_t end = vdi_test_now_ms() + 10000;
	     store_int(&d, "SELECT count(*) FROM desktops WHERE id = %lld", (long long)id) > 0; usleep(50 * 1000))
		check(vdi_test_now_ms() < end);
	j = admin_json(&d, "GET", "/api/v1/admin/desktops?pool=lab", NULL, 200);
	{
		size_t i;
		json_t *dk;

		json_array_foreach(json_object_get(j, "desktops"), i, dk) {
			check(json_integer_value(json_object_get(dk, "id")) != id);
			/* Each row has its addresses (issue 16): an array of strings, [] when none is known. */
			check(json_is_array(json_object_get(dk, "addresses")));
			for (size_t k = 0; k < json_array_size(json_object_get(dk, "addresses")); k++)
				check(json_is_string(json_array_get(json_object_get(dk, "addresses"), k)));
			/* And its guest (issue 18): null, since no guest agent answers on the test driver. */
			check(json_is_null(json_object_get(dk, "guest")));
		}
	}
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'delete' AND object = 'desktop:%lld'",
			       (long long)id), 1);

	/* Deleting pools drains them; then the template can go. */
	json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"prestart\":0}", 200));
	{
		uint64_t end = vdi_test_now_ms() + 10000;
		size_t n = 1;

		json_decref(admin_json(&d, "DELETE", "/api/v1/admin/pools/staffonly", NULL, 200));
		json_decref(admin_json(&d, "DELETE", "/api/v1/admin/pools/admins", NULL, 200));
		/* lab still has its spare: it drains (202), then goes by itself. */
		j = admin_json(&d, "DELETE", "/api/v1/admin/pools/lab", NULL, 202);
		check(json_is_true(json_object_get(j, "draining")));
		check(json_integer_value(json_object_get(j, "desktops")) >= 1);
		json_decref(j);
		while (n > 0 && vdi_test_now_ms() < end) {
			j = admin_json(&d, "GET", "/api/v1/admin/pools", NULL, 200);
			n = json_array_size(json_object_get(j, "pools"));
			json_decref(j);
			usleep(50 * 1000);
		}
		check_int_eq(n, 0);
	}
	/* Nothing of the pools is left in the store; lab's drain ended with the broker deleting it. */
	check_int_eq(store_int(&d, "SELECT count(*) FROM desktops"), 0);
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools"), 0);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-delete' AND object = 'lab'"
				   " AND actor = 'broker' AND detail = 'drained'"), 1);
	json_decref(admin_json(&d, "DELETE", "/api/v1/admin/templates/golden", NULL, 200));
	check(admin_count(&d, "/api/v1/admin/audit?action=pool-delete", "audit") >= 3);

	/* Metrics: from loopback. */
	{
		_cleanup_free_ char *metrics = req_text(&d, "GET", "/metrics", NULL, NULL, 200);

		check_str_contains(metrics, "vdi_logins_total{result=\"ok\"} 2");
		check_str_contains(metrics, "vdi_host_up{uri=\"test:///default\"} 1");
		check_str_contains(metrics, "vdi_assignment_seconds_count 1");
		check_str_contains(metrics, "vdi_pam_seconds_count 2");
	}
	stop_broker(&d);
}

/* Fails unless versions[i] of template j is version v with that many desktops and current flag. */
static void check_version(json_t *j, size_t i, int64_t v, int64_t desktops, bool current)
{
	json_t *e = json_array_get(json_object_get(j, "versions"), i);

	check(e);
	check_int_eq(json_integer_value(json_object_get(e, "version")), v);
	check_int_eq(json_integer_value(json_object_get(e, "desktops")), desktops);
	check(json_is_boolean(json_object_get(e, "current")));
	check_int_eq(json_is_true(json_object_get(e, "current")), current);
	check(json_integer_value(json_object_get(e, "created")) > 0);
}

/* The templates' versions with the desktops on each, in the list and for one template. */
/* Fails unless the admin socket answers method path body with status and an error containing text. */
#define admin_error(d, method, path, body, status, text) admin_error_at(__LINE__, d, method, path, body, status, text)
static void admin_error_at(int line, struct daemon *d, const char *method, const char *path, const char *body,
			   int status, const char *text)
{
	struct http_reply r = admin_req(d, method, path, body);
	json_t *j = body_json(&r);
	const char *e = json_string_value(json_object_get(j, "error"));

	if (r.status != status || !e || !strstr(e, text))
		vdi_test_fail(__FILE__, line, "%s %s %.200s: expected %d \"%s\", got %d %s", method, path, body, status,
			      text, r.status, e ? e : "(no error)");
	json_decref(j);
	http_reply_finish(&r);
}

/* One pool's row as GET /admin/pools shows it (a new reference). */
static json_t *pool_row(struct daemon *d, const char *name)
{
	json_t *j = admin_json(d, "GET", "/api/v1/admin/pools", NULL, 200), *p, *ret = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "pools"), i, p)
		if (streq(json_string_value(json_object_get(p, "name")), name))
			ret = json_incref(p);
	json_decref(j);
	check(ret);
	return ret;
}

static void check_pool_net(struct daemon *d, const char *name, const char *network, bool inherited, bool isolated,
			   int64_t kbps)
{
	json_t *p = pool_row(d, name);

	if (network)
		check_str_eq(json_string_value(json_object_get(p, "network")), network);
	else
		check(json_is_null(json_object_get(p, "network")));
	check(json_is_boolean(json_object_get(p, "network_inherited")));
	check_int_eq(json_is_true(json_object_get(p, "network_inherited")), inherited);
	check(json_is_boolean(json_object_get(p, "isolate_desktops")));
	check_int_eq(json_is_true(json_object_get(p, "isolate_desktops")), isolated);
	check_int_eq(json_integer_value(json_object_get(p, "bandwidth_kbps")), kbps);
	json_decref(p);
}

/* Pools' and templates' network settings: stored and shown as given, every bad one refused with nothing changed,
 * a bandwidth change applied to the pool's desktops. */
static void test_pool_networks(void)
{
	static const char pools[] = "SELECT count(*) FROM pools";
	struct daemon d;
	char body[1024], disk[512];
	json_t *j;
	long long audits;

	start_broker(&d, NULL);
	snprintf(disk, sizeof(disk), "%s/golden.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	/* Without XML and network: libvirt's default network, which test:///default has active. */
	snprintf(body, sizeof(body), "{\"name\":\"golden\",\"disk\":\"%s\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_str_eq(json_string_value(json_object_get(j, "network")), "network:default");
	json_decref(j);
	snprintf(body, sizeof(body), "{\"name\":\"bridged\",\"disk\":\"%s\",\"network\":\"bridge:br0\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_str_eq(json_string_value(json_object_get(j, "network")), "bridge:br0");
	json_decref(j);
	/* Refused templates: a libvirt network no host has, a malformed value; neither is made. */
	snprintf(body, sizeof(body), "{\"name\":\"t2\",\"disk\":\"%s\",\"network\":\"network:nosuch\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "network: no host has libvirt network \"nosuch\" active");
	snprintf(body, sizeof(body), "{\"name\":\"t2\",\"disk\":\"%s\",\"network\":\"vlan:3\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "\"network\"");
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates"), 2);

	/* A pooled pool on the template's bridge: inherited, isolated by default. */
	json_decref(admin_json(&d, "POST", "/api/v1/admin/pools",
			       "{\"name\":\"lab\",\"template\":\"bridged\",\"size\":2,\"prestart\":1}", 201));
	check_pool_net(&d, "lab", "bridge:br0", true, true, 0);
	j = admin_json(&d, "POST", "/api/v1/admin/pools",
		       "{\"name\":\"nat\",\"template\":\"bridged\",\"type\":\"persistent\",\"size\":2,"
		       "\"network\":\"network:default\",\"bandwidth_kbps\":20000}", 201);
	check_str_eq(json_string_value(json_object_get(j, "network")), "network:default");
	json_decref(j);
	check_pool_net(&d, "nat", "network:default", false, false, 20000);
	json_decref(admin_json(&d, "POST", "/api/v1/admin/pools",
			       "{\"name\":\"vlan\",\"template\":\"golden\",\"size\":1,\"network\":\"ovs:br-ovs:42\"}", 201));
	check_pool_net(&d, "vlan", "ovs:br-ovs:42", false, false, 0);
	check_int_eq(store_int(&d, pools), 3);

	/* Every refusal of a new pool: 400, no pool.  A network no host has is known once the host was looked at
	 * (before that it may have it, as placement takes it). */
	for (uint64_t end = vdi_test_now_ms() + 15000;
	     store_int(&d, "SELECT count(*) FROM hosts WHERE networks IS NOT NULL") == 0; usleep(50 * 1000))
		check(vdi_test_now_ms() < end);
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"network\":\"network:nosuch\"}", 400,
		    "network: no host has libvirt network \"nosuch\" active");
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"network\":\"ovs:br0:4095\"}", 400, "\"network\"");
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"network\":\"ovs:br0\",\"isolate_desktops\":true}",
		    400, "Open vSwitch ports cannot be isolated");
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"network\":\"user\",\"bandwidth_kbps\":100}", 400,
		    "bandwidth_kbps");
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"bandwidth_kbps\":100000001}", 400, "bandwidth_kbps");
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"golden\",\"size\":1,\"isolate_desktops\":\"yes\"}", 400,
		    "isolate_desktops");
	check_int_eq(store_int(&d, pools), 3);

	/* Updates: every refusal leaves the pool as it was. */
	admin_error(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"network\":\"network:nosuch\"}", 400,
		    "network: no host has libvirt network \"nosuch\" active");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"network\":\"bridge:\"}", 400, "\"network\"");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"network\":\"ovs:br1\",\"isolate_desktops\":true}", 400,
		    "isolate_desktops");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/vlan", "{\"isolate_desktops\":true}", 400, "Open vSwitch");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/nat", "{\"network\":\"user\"}", 400, "bandwidth_kbps");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/nat", "{\"bandwidth_kbps\":-5}", 400, "bandwidth_kbps");
	check_pool_net(&d, "lab", "bridge:br0", true, true, 0);
	check_pool_net(&d, "nat", "network:default", false, false, 20000);
	check_pool_net(&d, "vlan", "ovs:br-ovs:42", false, false, 0);
	/* Changes, and back: null and "" give the template's network and the default isolation again. */
	json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"network\":\"user\"}", 200));
	check_pool_net(&d, "lab", "user", false, false, 0);
	json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"network\":\"\",\"isolate_desktops\":false}", 200));
	check_pool_net(&d, "lab", "bridge:br0", true, false, 0);
	json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"isolate_desktops\":null}", 200));
	check_pool_net(&d, "lab", "bridge:br0", true, true, 0);
	json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/nat", "{\"network\":null,\"bandwidth_kbps\":0}", 200));
	check_pool_net(&d, "nat", "bridge:br0", true, false, 0);

	/* A new limit goes to the pool's desktops at once: lab's spare (on test:///default, which takes a live
	 * change) takes it without a failure in the audit. */
	{
		uint64_t end = vdi_test_now_ms() + 10000;

		while (store_int(&d, "SELECT count(*) FROM desktops WHERE state = 'free'") == 0)
		{
			check(vdi_test_now_ms() < end);
			usleep(50 * 1000);
		}
	}
	audits = store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth'");
	check_int_eq(audits, 0);
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"bandwidth_kbps\":8000}", 200);
	check_int_eq(json_integer_value(json_object_get(j, "bandwidth_kbps")), 8000);
	json_decref(j);
	/* Done when the audit says on how many it is: the spare, without a failure. */
	{
		uint64_t end = vdi_test_now_ms() + 10000;

		while (store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth' AND object = 'lab'") == 0) {
			check(vdi_test_now_ms() < end);
			usleep(50 * 1000);
		}
	}
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth' AND object = 'lab'"
				   " AND detail = '8000 kbit/s on 1 of 1 desktops'"), 1);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-update' AND object = 'lab'"), 4);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth'"
				   " AND object LIKE 'desktop:%%'"), 0);

	/* A desktop made without a NIC (its template's XML has none) keeps it so when its pool gets a network: the
	 * new limit cannot go there, which the audit says, and the update still stands. */
	snprintf(body, sizeof(body),
		 "{\"name\":\"bare\",\"disk\":\"%s\",\"xml\":\"<domain><memory unit='MiB'>128</memory>"
		 "<os><type>hvm</type></os></domain>\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check(json_is_null(json_object_get(j, "network")));
	json_decref(j);
	json_decref(admin_json(&d, "POST", "/api/v1/admin/pools",
			       "{\"name\":\"bare\",\"template\":\"bare\",\"size\":1,\"prestart\":1}", 201));
	check_pool_net(&d, "bare", NULL, true, false, 0);
	{
		uint64_t end = vdi_test_now_ms() + 10000;
		long long id;

		while ((id = store_int(&d, "SELECT coalesce(max(d.id), 0) FROM desktops d JOIN pools p ON p.id = d.pool_id"
					   " WHERE p.name = 'bare' AND d.state = 'free'")) == 0) {
			check(vdi_test_now_ms() < end);
			usleep(50 * 1000);
		}
		json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/bare",
				       "{\"network\":\"bridge:br0\",\"bandwidth_kbps\":8000}", 200));
		check_pool_net(&d, "bare", "bridge:br0", false, true, 8000);
		end = vdi_test_now_ms() + 10000;
		while (store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth' AND object = 'desktop:%lld'"
				     " AND detail LIKE 'bandwidth_kbps 8000 not applied:%%no NIC%%'", id) == 0) {
			check(vdi_test_now_ms() < end);
			usleep(50 * 1000);
		}
	}
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth' AND object LIKE 'desktop:%%'"),
		     1);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'pool-bandwidth' AND object = 'bare'"
				   " AND detail = '8000 kbit/s on 0 of 1 desktops'"), 1);
	stop_broker(&d);
}

/* The templates' versions with the desktops on each, in the list and for one template. */
/* Issue 17: a template's hardware from its OS (osinfo-db) or its own XML, the refusals, GET /admin/os, a pool's
 * usb_redirect. */
static void test_template_hardware(void)
{
	struct daemon d;
	char body[1024], disk[512];
	json_t *j, *e;
	size_t i;
	bool win11 = false;

	start_broker(&d, NULL);
	snprintf(disk, sizeof(disk), "%s/win.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	/* win11 needs UEFI: Secure Boot and a TPM by default, as its row says. */
	snprintf(body, sizeof(body), "{\"name\":\"win\",\"disk\":\"%s\",\"os\":\"win11\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_str_eq(json_string_value(json_object_get(j, "os")), "win11");
	check_str_eq(json_string_value(json_object_get(j, "firmware")), "uefi");
	check(json_is_true(json_object_get(j, "secure_boot")));
	check(json_is_true(json_object_get(j, "tpm")));
	check(json_integer_value(json_object_get(j, "memory_mib")) >= 4096);
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates WHERE name = 'win' AND os = 'win11' AND firmware = 'uefi'"
				   " AND secure_boot = 1 AND tpm = 1 AND xml LIKE '%%tpm%%'"), 1);
	/* Turned off where the OS allows it. */
	snprintf(body, sizeof(body), "{\"name\":\"win-notpm\",\"disk\":\"%s\",\"os\":\"win10\",\"tpm\":false}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check(json_is_false(json_object_get(j, "tpm")));
	json_decref(j);
	/* No OS: vdi's generic desktop, BIOS. */
	snprintf(body, sizeof(body), "{\"name\":\"plain\",\"disk\":\"%s\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check(json_is_null(json_object_get(j, "os")));
	check_str_eq(json_string_value(json_object_get(j, "firmware")), "bios");
	check(json_is_false(json_object_get(j, "secure_boot")) && json_is_false(json_object_get(j, "tpm")));
	json_decref(j);
	/* The list shows them too. */
	j = admin_json(&d, "GET", "/api/v1/admin/templates", NULL, 200);
	json_array_foreach(json_object_get(j, "templates"), i, e) {
		check(json_is_string(json_object_get(e, "firmware")));
		check(json_is_boolean(json_object_get(e, "secure_boot")) && json_is_boolean(json_object_get(e, "tpm")));
	}
	json_decref(j);

	/* Refusals: nothing is made. */
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"xml\":\"<domain type='kvm'/>\",\"os\":\"win11\"}",
		 disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "xml: the template XML decides the hardware");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"os\":\"debian12\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "os: unknown OS 'debian12'");
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "debian11");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"firmware\":\"bios\",\"secure_boot\":true}",
		 disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "secure_boot");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"os\":\"win11\",\"firmware\":\"bios\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "firmware");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"firmware\":\"efi\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "firmware");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"tpm\":\"yes\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "\"tpm\"");
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates"), 3);

	/* osinfo-db's OSes, filtered. */
	j = admin_json(&d, "GET", "/api/v1/admin/os?filter=win", NULL, 200);
	check(json_array_size(json_object_get(j, "os")) > 0);
	json_array_foreach(json_object_get(j, "os"), i, e) {
		check(json_is_string(json_object_get(e, "id")) && json_object_get(e, "name") &&
		      json_object_get(e, "version") && json_object_get(e, "family"));
		win11 = win11 || streq(json_string_value(json_object_get(e, "id")), "win11");
	}
	check(win11);
	json_decref(j);
	j = admin_json(&d, "GET", "/api/v1/admin/os?filter=no-such-os-anywhere", NULL, 200);
	check_int_eq(json_array_size(json_object_get(j, "os")), 0);
	json_decref(j);
	{
		char path[300] = "/api/v1/admin/os?filter=";

		memset(path + strlen(path), 'w', 200);
		admin_error(&d, "GET", path, NULL, 400, "filter");
	}

	/* A pool's USB redirection channels: 2 by default, 0..8. */
	j = admin_json(&d, "POST", "/api/v1/admin/pools", "{\"name\":\"lab\",\"template\":\"plain\",\"size\":0}", 201);
	check_int_eq(json_integer_value(json_object_get(j, "usb_redirect")), 2);
	json_decref(j);
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"lab2\",\"template\":\"plain\",\"size\":0,\"usb_redirect\":9}", 400, "usb_redirect");
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"usb_redirect\":0}", 200);
	check_int_eq(json_integer_value(json_object_get(j, "usb_redirect")), 0);
	json_decref(j);
	admin_error(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"usb_redirect\":-1}", 400, "usb_redirect");
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"usb_redirect\":8}", 200);
	check_int_eq(json_integer_value(json_object_get(j, "usb_redirect")), 8);
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT usb_redirect FROM pools WHERE name = 'lab'"), 8);
	stop_broker(&d);
}

/* Issue 18: a pool's lock_on_disconnect (default: on for persistent pools) and second_viewer, a template's
 * lock_command (add and PATCH); every bad value is a 400 naming the field, and changes nothing. */
static void test_viewer_settings(void)
{
	struct daemon d;
	char body[1024], disk[512], lng[700];
	json_t *j;

	start_broker(&d, NULL);
	snprintf(disk, sizeof(disk), "%s/t.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	snprintf(body, sizeof(body), "{\"name\":\"plain\",\"disk\":\"%s\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check(json_is_null(json_object_get(j, "lock_command")));
	json_decref(j);
	snprintf(body, sizeof(body), "{\"name\":\"locky\",\"disk\":\"%s\",\"lock_command\":\"/bin/vdi-lock now\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_str_eq(json_string_value(json_object_get(j, "lock_command")), "/bin/vdi-lock now");
	json_decref(j);
	snprintf(body, sizeof(body), "{\"name\":\"bad\",\"disk\":\"%s\",\"lock_command\":\"a\\nb\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "lock_command");
	snprintf(body, sizeof(body), "{\"name\":\"bad\",\"disk\":\"%s\",\"lock_command\":7}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "lock_command");
	snprintf(body, sizeof(body), "{\"name\":\"bad\",\"disk\":\"%s\",\"lock_command\":\"   \"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "lock_command");
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates WHERE name = 'bad'"), 0);
	/* PATCH: set, back to the default (null or ""), refused. */
	j = admin_json(&d, "PATCH", "/api/v1/admin/templates/plain", "{\"lock_command\":\"/bin/vdi-lock\"}", 200);
	check_str_eq(json_string_value(json_object_get(j, "lock_command")), "/bin/vdi-lock");
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'template-update' AND object = 'plain'"), 1);
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"lock_command\":\"%s\"}", lng);
	admin_error(&d, "PATCH", "/api/v1/admin/templates/plain", body, 400, "lock_command");
	admin_error(&d, "PATCH", "/api/v1/admin/templates/plain", "{\"heads\":2,\"lock\":1}", 400, "heads");
	admin_error(&d, "PATCH", "/api/v1/admin/templates/nosuch", "{\"lock_command\":null}", 404, "no such template");
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates WHERE lock_command = '/bin/vdi-lock'"), 1);
	j = admin_json(&d, "PATCH", "/api/v1/admin/templates/locky", "{\"lock_command\":\"\"}", 200);
	check(json_is_null(json_object_get(j, "lock_command")));
	json_decref(j);
	j = admin_json(&d, "PATCH", "/api/v1/admin/templates/plain", "{\"lock_command\":null}", 200);
	check(json_is_null(json_object_get(j, "lock_command")));
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates WHERE lock_command IS NULL"), 2);

	/* Pools: the defaults, each way. */
	j = admin_json(&d, "POST", "/api/v1/admin/pools", "{\"name\":\"pooled\",\"template\":\"plain\",\"size\":0}", 201);
	check(json_is_false(json_object_get(j, "lock_on_disconnect")));
	check_str_eq(json_string_value(json_object_get(j, "second_viewer")), "takeover");
	json_decref(j);
	j = admin_json(&d, "POST", "/api/v1/admin/pools",
		       "{\"name\":\"mine\",\"template\":\"plain\",\"type\":\"persistent\",\"size\":0}", 201);
	check(json_is_true(json_object_get(j, "lock_on_disconnect")));
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE lock_on_disconnect IS NULL"), 2);
	j = admin_json(&d, "POST", "/api/v1/admin/pools",
		       "{\"name\":\"kiosk\",\"template\":\"plain\",\"size\":0,\"lock_on_disconnect\":true,"
		       "\"second_viewer\":\"refuse\"}", 201);
	check(json_is_true(json_object_get(j, "lock_on_disconnect")));
	check_str_eq(json_string_value(json_object_get(j, "second_viewer")), "refuse");
	json_decref(j);
	/* Refusals. */
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"plain\",\"size\":0,\"lock_on_disconnect\":\"yes\"}", 400,
		    "lock_on_disconnect");
	admin_error(&d, "POST", "/api/v1/admin/pools",
		    "{\"name\":\"x\",\"template\":\"plain\",\"size\":0,\"second_viewer\":\"share\"}", 400,
		    "second_viewer");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/kiosk", "{\"second_viewer\":null}", 400, "second_viewer");
	admin_error(&d, "PATCH", "/api/v1/admin/pools/kiosk", "{\"lock_on_disconnect\":1}", 400, "lock_on_disconnect");
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE name = 'x'"), 0);
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE name = 'kiosk' AND lock_on_disconnect = 1"
				   " AND second_viewer = 'refuse'"), 1);
	/* Updates: off, takeover, back to the default (null); the rest stays. */
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/mine", "{\"lock_on_disconnect\":false}", 200);
	check(json_is_false(json_object_get(j, "lock_on_disconnect")));
	json_decref(j);
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/kiosk", "{\"second_viewer\":\"takeover\",\"size\":1}", 200);
	check_str_eq(json_string_value(json_object_get(j, "second_viewer")), "takeover");
	check(json_is_true(json_object_get(j, "lock_on_disconnect")));
	json_decref(j);
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/mine", "{\"lock_on_disconnect\":null}", 200);
	check(json_is_true(json_object_get(j, "lock_on_disconnect")));
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE name = 'mine' AND lock_on_disconnect IS NULL"), 1);
	stop_broker(&d);
}

/* Issue 18: a template's monitors (heads): 1 by default, 1..4, in its row and listing; more than one refused for an
 * XML whose video cannot show them. */
static void test_template_heads(void)
{
	struct daemon d;
	char body[1024], disk[512];
	json_t *j, *e;
	size_t i;

	start_broker(&d, NULL);
	snprintf(disk, sizeof(disk), "%s/heads.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	snprintf(body, sizeof(body), "{\"name\":\"one\",\"disk\":\"%s\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_int_eq(json_integer_value(json_object_get(j, "heads")), 1);
	json_decref(j);
	snprintf(body, sizeof(body), "{\"name\":\"two\",\"disk\":\"%s\",\"heads\":2}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_int_eq(json_integer_value(json_object_get(j, "heads")), 2);
	json_decref(j);
	snprintf(body, sizeof(body),
		 "{\"name\":\"four\",\"disk\":\"%s\",\"heads\":4,\"xml\":\"<domain type='kvm'><name>x</name>"
		 "<memory unit='MiB'>256</memory><os><type>hvm</type></os><devices><video><model type='virtio'/></video>"
		 "</devices></domain>\"}", disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_int_eq(json_integer_value(json_object_get(j, "heads")), 4);
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT heads FROM templates WHERE name = 'two'"), 2);
	j = admin_json(&d, "GET", "/api/v1/admin/templates", NULL, 200);
	json_array_foreach(json_object_get(j, "templates"), i, e)
		check(json_integer_value(json_object_get(e, "heads")) >= 1);
	json_decref(j);

	/* Refusals name the member; nothing is made. */
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"heads\":5}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "heads");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"heads\":0}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "heads");
	snprintf(body, sizeof(body), "{\"name\":\"t\",\"disk\":\"%s\",\"heads\":\"2\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "heads");
	snprintf(body, sizeof(body),
		 "{\"name\":\"t\",\"disk\":\"%s\",\"heads\":2,\"xml\":\"<domain type='kvm'><name>x</name>"
		 "<memory unit='MiB'>256</memory><os><type>hvm</type></os><devices><video><model type='vga'/></video>"
		 "</devices></domain>\"}", disk);
	admin_error(&d, "POST", "/api/v1/admin/templates", body, 400, "heads: the template's video is \"vga\"");
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates"), 3);
	stop_broker(&d);
}

static void test_template_versions(void)
{
	struct daemon d;
	struct user ann, bob;
	char body[1024], disk[512];
	json_t *j, *t;
	sqlite3 *db;
	int64_t ids[3];

	start_broker(&d, NULL);
	setup_pools(&d);
	j = admin_json(&d, "GET", "/api/v1/admin/templates", NULL, 200);
	t = json_array_get(json_object_get(j, "templates"), 0);
	check_int_eq(json_array_size(json_object_get(t, "versions")), 1);
	check_version(t, 0, 1, 0, true);
	check(json_is_null(json_object_get(json_array_get(json_object_get(t, "versions"), 0), "note")));
	json_decref(j);

	/* Two desktops of golden's pools made on version 1; then version 2 is current and bob's is made on it. */
	user_login(&d, &ann, "ann", "ann-secret");
	user_login(&d, &bob, "bob", "bob-secret");
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 202);
	ids[0] = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/staffonly/desktop", NULL, &j), 202);
	ids[1] = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check(wait_desktop_state(&d, &ann, ids[0], "assigned", 10000));
	check(wait_desktop_state(&d, &ann, ids[1], "assigned", 10000));
	check(sqlite3_open(d.db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	check(sqlite3_exec(db, "INSERT INTO template_versions (template_id, version, disk_path, note, created)"
			       " SELECT id, 2, disk_path, 'patched', 1800000000 FROM templates WHERE name = 'golden';"
			       "UPDATE templates SET version = 2 WHERE name = 'golden'", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	check_int_eq(user_req(&d, &bob, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 202);
	ids[2] = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check(wait_desktop_state(&d, &bob, ids[2], "assigned", 10000));

	j = admin_json(&d, "GET", "/api/v1/admin/templates", NULL, 200);
	t = json_array_get(json_object_get(j, "templates"), 0);
	check_int_eq(json_integer_value(json_object_get(t, "version")), 2);
	check_int_eq(json_array_size(json_object_get(t, "versions")), 2);
	check_version(t, 0, 2, 1, true);
	check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(t, "versions"), 0), "note")),
		     "patched");
	check_version(t, 1, 1, 2, false);
	json_decref(j);
	/* One template: the same object; a missing one is 404. */
	j = admin_json(&d, "GET", "/api/v1/admin/templates/golden", NULL, 200);
	check_str_eq(json_string_value(json_object_get(j, "name")), "golden");
	check_version(j, 0, 2, 1, true);
	check_version(j, 1, 1, 2, false);
	json_decref(j);
	j = admin_json(&d, "GET", "/api/v1/admin/templates/nope", NULL, 404);
	check_str_contains(json_string_value(json_object_get(j, "error")), "no such template");
	json_decref(j);
	/* A template added is its version 1, in the reply too; golden's counts are its own. */
	snprintf(body, sizeof(body), "{\"name\":\"second\",\"disk\":\"%s/second.qcow2\"}", vdi_test_tmpdir());
	snprintf(disk, sizeof(disk), "%s/second.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	j = admin_json(&d, "POST", "/api/v1/admin/templates", body, 201);
	check_int_eq(json_array_size(json_object_get(j, "versions")), 1);
	check_version(j, 0, 1, 0, true);
	json_decref(j);
	j = admin_json(&d, "GET", "/api/v1/admin/templates", NULL, 200);
	check_int_eq(json_array_size(json_object_get(j, "templates")), 2);
	check_version(json_array_get(json_object_get(j, "templates"), 0), 1, 1, 2, false);
	check_version(json_array_get(json_object_get(j, "templates"), 1), 0, 1, 0, true);
	json_decref(j);
	stop_broker(&d);
}

/* A persistent pool's data disks and recompose through the API (test driver: no guest, no disk to read). */
static void test_recompose_and_data_disk(void)
{
	struct daemon d;
	struct user ann;
	char path[128];
	int64_t home, lab;
	sqlite3 *db;
	json_t *j;

	start_broker_with(&d, NULL, "hosts = test:///default\nshutdown_timeout = 1\n");
	setup_pools(&d);
	j = admin_json(&d, "POST", "/api/v1/admin/pools",
		       "{\"name\":\"home\",\"template\":\"golden\",\"type\":\"persistent\",\"size\":3,"
		       "\"data_disk_mib\":64}", 201);
	check_int_eq(json_integer_value(json_object_get(j, "data_disk_mib")), 64);
	json_decref(j);
	/* Bad input changes nothing: a data disk on a pooled pool, a smaller one. */
	j = admin_json(&d, "POST", "/api/v1/admin/pools",
		       "{\"name\":\"bad\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":1,"
		       "\"data_disk_mib\":64}", 400);
	check_str_contains(json_string_value(json_object_get(j, "error")), "a data disk needs a persistent pool");
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE name = 'bad'"), 0);
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/lab", "{\"data_disk_mib\":10}", 400);
	check_str_contains(json_string_value(json_object_get(j, "error")), "a data disk needs a persistent pool");
	json_decref(j);
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/home", "{\"size\":2,\"data_disk_mib\":32}", 400);
	check_str_contains(json_string_value(json_object_get(j, "error")), "cannot shrink");
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE name = 'home' AND size = 3 AND data_disk_mib = 64"), 1);
	json_decref(admin_json(&d, "PATCH", "/api/v1/admin/pools/home", "{\"data_disk_mib\":-1}", 400));

	user_login(&d, &ann, "ann", "ann-secret");
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/home/desktop", NULL, &j), 202);
	home = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check_int_eq(user_req(&d, &ann, "POST", "/api/v1/pools/lab/desktop", NULL, &j), 202);
	lab = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	check(wait_desktop_state(&d, &ann, home, "assigned", 10000));
	check(wait_desktop_state(&d, &ann, lab, "assigned", 10000));

	/* Pooled desktops and pools follow the rollout: 409, nothing changes. */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/recompose", (long long)lab);
	j = admin_json(&d, "POST", path, NULL, 409);
	check_str_contains(json_string_value(json_object_get(j, "error")), "pooled desktops follow the rollout");
	json_decref(j);
	j = admin_json(&d, "POST", "/api/v1/admin/pools/lab/recompose", NULL, 409);
	check_str_contains(json_string_value(json_object_get(j, "error")), "pool \"lab\" is pooled");
	json_decref(j);
	check_int_eq(store_int(&d, "SELECT count(*) FROM desktops WHERE id = %lld AND state = 'assigned' AND owner = 'ann'",
			       (long long)lab), 1);
	json_decref(admin_json(&d, "POST", "/api/v1/admin/pools/nope/recompose", NULL, 404));
	json_decref(admin_json(&d, "POST", "/api/v1/admin/desktops/99999/recompose", NULL, 404));
	/* Everything on the current version: nothing to do. */
	j = admin_json(&d, "POST", "/api/v1/admin/pools/home/recompose", NULL, 202);
	check_int_eq(json_integer_value(json_object_get(j, "desktops")), 0);
	json_decref(j);

	/* Version 2 current: the pool's recompose takes ann's running desktop; it comes back stopped, hers. */
	check(sqlite3_open(d.db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	check(sqlite3_exec(db, "INSERT INTO template_versions (template_id, version, disk_path, created)"
			       " SELECT id, 2, disk_path, 1800000000 FROM templates WHERE name = 'golden';"
			       "UPDATE templates SET version = 2 WHERE name = 'golden'", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	j = admin_json(&d, "POST", "/api/v1/admin/pools/home/recompose", NULL, 202);
	check_int_eq(json_integer_value(json_object_get(j, "desktops")), 1);
	check_str_eq(json_string_value(json_object_get(j, "pool")), "home");
	json_decref(j);
	check(wait_admin_state(&d, home, "stopped", "ann", 15000));
	check_int_eq(store_int(&d, "SELECT count(*) FROM desktops WHERE id = %lld AND template_version = 2 AND recompose = 0",
			       (long long)home), 1);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'desktop-recompose' AND object = 'home'"
				   " AND detail LIKE '1 desktop onto version 2%%'"), 1);
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'desktop-recompose'"
				   " AND object = 'desktop:%lld' AND actor = 'broker'", (long long)home), 1);
	/* The lab desktop is still ann's, untouched (pooled: it moves when released). */
	check_int_eq(store_int(&d, "SELECT count(*) FROM desktops WHERE id = %lld AND state = 'assigned'"
				   " AND template_version = 1", (long long)lab), 1);
	/* One desktop, asked for by the admin. */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/recompose", (long long)home);
	json_decref(admin_json(&d, "POST", path, NULL, 202));
	check(wait_admin_state(&d, home, "stopped", "ann", 15000));
	check_int_eq(store_int(&d, "SELECT count(*) FROM audit WHERE action = 'desktop-recompose'"
				   " AND object = 'desktop:%lld' AND detail = 'from version 2 onto version 2'",
			       (long long)home), 1);
	/* Growing the data disks is fine. */
	j = admin_json(&d, "PATCH", "/api/v1/admin/pools/home", "{\"data_disk_mib\":128}", 200);
	check_int_eq(json_integer_value(json_object_get(j, "data_disk_mib")), 128);
	json_decref(j);
	stop_broker(&d);
}

static void test_static_files(void)
{
	struct daemon d;
	struct http_reply r;
	char conf[1400], dir[512], file[600], hdr[256];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/web", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	snprintf(file, sizeof(file), "%s/index.html", dir);
	f = fopen(file, "we");
	check(f);
	fputs("<!doctype html><title>vdi</title>", f);
	fclose(f);
	/* The system's spice-html5 comes under /spice-html5/ from its own directory. */
	{
		char sh[600], js[700];

		snprintf(sh, sizeof(sh), "%s/spice-html5", vdi_test_tmpdir());
		check(mkdir(sh, 0755) == 0);
		snprintf(js, sizeof(js), "%s/main.js", sh);
		f = fopen(js, "we");
		check(f);
		fputs("export class SpiceMainConn {}\n", f);
		fclose(f);
		snprintf(conf, sizeof(conf), "web_root = %s\nspice_html5 = %s\n", dir, sh);
	}
	/* A secret next to the web root must stay out of reach. */
	snprintf(file, sizeof(file), "%s/secret.txt", vdi_test_tmpdir());
	f = fopen(file, "we");
	check(f);
	fputs("secret", f);
	fclose(f);
	snprintf(file, sizeof(file), "%s/web/link.txt", vdi_test_tmpdir());
	check(symlink("../secret.txt", file) == 0);

	start_broker(&d, conf);
	r = req_status(&d, "GET", "/", NULL, NULL, 200);
	check_str_eq(r.body, "<!doctype html><title>vdi</title>");
	check(http_reply_header(&r, "content-type", hdr, sizeof(hdr)));
	check_str_contains(hdr, "text/html");
	http_reply_finish(&r);
	expect_reply(&d, "GET", "/index.html", NULL, NULL, 200, NULL);
	r = req_status(&d, "GET", "/spice-html5/main.js", NULL, NULL, 200);
	check_str_eq(r.body, "export class SpiceMainConn {}\n");
	check(http_reply_header(&r, "content-type", hdr, sizeof(hdr)));
	check_str_contains(hdr, "text/javascript");
	http_reply_finish(&r);
	static const char *const refused[] = { "/../secret.txt", "/%2e%2e/secret.txt", "/link.txt", "/missing.js",
					       "/.hidden", "/spice-html5/../secret.txt", "/spice-html5/%2e%2e/secret.txt",
					       "/spice-html5/", "/spice-html5/nope.js", "/spice-html5" };
	for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
		_cleanup_free_ char *text = req_text(&d, "GET", refused[i], NULL, NULL, 404);

		if (strstr(text, "secret"))
			vdi_test_fail(__FILE__, __LINE__, "%s: 404 %s", refused[i], text);
	}
	check_alive(&d);
	stop_broker(&d);
}

/* The login page and "your desktops" (web/) in chromium, against this broker. */
static void test_web_login_page(void)
{
	const char *node = getenv("VDI_NODE_BIN"), *src = getenv("VDI_SOURCE_ROOT");
	char conf[700], script[700], url[64], dir[600], log[700], cmd[1600];
	struct daemon d;
	pid_t pid;
	int status;

	if (!node || !*node || !src)
		vdi_test_fail(__FILE__, __LINE__, "VDI_NODE_BIN and VDI_SOURCE_ROOT are needed: run through meson with node installed");
	snprintf(conf, sizeof(conf), "web_root = %s/web\n", src);
	start_broker(&d, conf);
	setup_pools(&d);
	snprintf(script, sizeof(script), "%s/tests/browser/web-login.mjs", src);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", d.port);
	snprintf(dir, sizeof(dir), "%s/shots", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	snprintf(log, sizeof(log), "%s/browser.log", dir);
	pid = screen_spawn(log, (char *[]){ (char *)node, script, url, dir, NULL }, NULL);
	check(waitpid(pid, &status, 0) == pid);
	snprintf(cmd, sizeof(cmd), "sed 's/^/# /' '%s'", log);
	(void)system(cmd);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_alive(&d);
	/* What the admin page set (issue 18). */
	check_int_eq(store_int(&d, "SELECT count(*) FROM pools WHERE name = 'kiosk' AND lock_on_disconnect = 0"
				   " AND second_viewer = 'refuse'"), 1);
	check_int_eq(store_int(&d, "SELECT count(*) FROM templates WHERE name = 'golden'"
				   " AND lock_command = '/bin/vdi-lock --now'"), 1);
	stop_broker(&d);
}

/* ---- security: every admin route, session fixation, header injection ---------------------- */

/* The admin routes of the broker's own table (broker/broker.c), '*' filled in. */
static size_t admin_routes(char methods[][8], char paths[][128], size_t max)
{
	const char *src = getenv("VDI_SOURCE_ROOT");
	char file[600], line[512];
	size_t n = 0;
	FILE *f;

	if (!src)
		vdi_test_fail(__FILE__, __LINE__, "VDI_SOURCE_ROOT is needed: run through meson");
	snprintf(file, sizeof(file), "%s/broker/broker.c", src);
	check(f = fopen(file, "re"));
	while (n < max && fgets(line, sizeof(line), f)) {
		char m[8], pth[100];

		if (sscanf(line, " { \"%7[A-Z]\", \"%99[^\"]\",", m, pth) != 2 || !strstr(pth, "/api/v1/admin/"))
			continue;
		const char *star = strchr(pth, '*');

		snprintf(methods[n], 8, "%s", m);
		if (star)
			snprintf(paths[n], 128, "%.*s%s%s", (int)(star - pth), pth,
				 strstr(pth, "/pools/") || strstr(pth, "/templates/") ? "lab" : "1", star + 1);
		else
			snprintf(paths[n], 128, "%s", pth);
		n++;
	}
	fclose(f);
	return n;
}

static void test_admin_routes_refuse_everyone_else(void)
{
	char methods[64][8], paths[64][128];
	struct daemon d;
	struct user ann;
	size_t n;
	json_t *j;

	size_t pools;

	start_broker(&d, NULL);
	setup_pools(&d);
	j = admin_json(&d, "GET", "/api/v1/admin/pools", NULL, 200);
	pools = json_array_size(json_object_get(j, "pools"));
	json_decref(j);
	user_login(&d, &ann, "ann", "ann-secret");
	n = admin_routes(methods, paths, 64);
	check(n >= 16);
	for (size_t i = 0; i < n; i++) {
		const char *body = streq(methods[i], "GET") || streq(methods[i], "DELETE") ? NULL : "{}";
		int st;

		st = user_req(&d, NULL, methods[i], paths[i], body, NULL);
		if (st != 401)
			vdi_test_fail(__FILE__, __LINE__, "%s %s without a login: %d, not 401", methods[i], paths[i], st);
		st = user_req(&d, &ann, methods[i], paths[i], body, NULL);
		if (st != 403)
			vdi_test_fail(__FILE__, __LINE__, "%s %s as the non-admin ann: %d, not 403", methods[i], paths[i], st);
	}
	vdi_test_log("%zu admin routes: 401 without a login, 403 for a non-admin", n);
	/* The admin socket: mode 0660, root's; another user (nobody) cannot even connect, although
	 * the directories on the way let them through. */
	{
		struct stat st;
		pid_t child;
		int status;

		check(stat(d.admin_socket, &st) == 0);
		check_int_eq(st.st_mode & 0777, 0660);
		check(chmod(vdi_test_tmpdir(), 0711) == 0);
		child = fork();
		check(child >= 0);
		if (child == 0) {
			struct http_reply rep;
			int rc;

			if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
				_exit(2);
			rc = http_request_unix(d.admin_socket, "GET", "/api/v1/admin/pools", NULL, NULL, 0, &rep);
			_exit(rc == -EACCES ? 0 : 1);
		}
		check(waitpid(child, &status, 0) == child);
		check(WIFEXITED(status));
		check_int_eq(WEXITSTATUS(status), 0);
		check(chmod(vdi_test_tmpdir(), 0700) == 0);
		vdi_test_log("the admin socket is 0660 root: user nobody gets EACCES connecting to it");
	}
	/* Nothing changed: the pool and template are there, and ann did nothing an admin does. */
	check_int_eq(admin_count(&d, "/api/v1/admin/pools", "pools"), pools);
	j = admin_json(&d, "GET", "/api/v1/admin/audit?user=ann", NULL, 200);
	for (size_t i = 0; i < json_array_size(json_object_get(j, "audit")); i++)
		check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "audit"), i), "action")),
			     "login");
	json_decref(j);
	stop_broker(&d);
}

static void test_session_fixation_and_header_injection(void)
{
	static const char planted[] = "vdi_session=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	static const char *const paths[] = {
		"/x%0d%0aSet-Cookie:%20evil=1",
		"/api/v1/x%0d%0aX-Evil:%201",
		"/api/v1/admin/audit?user=a%0d%0aX-Evil:%201",
		"/api/v1/desktops/1%0d%0aX-Evil:%201/console.vv",
	};
	struct daemon d;
	struct http_reply r;
	char hdr[600], sc[512];

	start_broker(&d, NULL);
	/* A cookie planted before the login is not the session after it. */
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\nContent-Type: application/json\r\n", planted);
	r = req_status(&d, "POST", "/api/v1/login", hdr, "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 200);
	check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
	check(!strstr(sc, planted + strlen("vdi_session=")));
	http_reply_finish(&r);
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", planted);
	expect_reply(&d, "GET", "/api/v1/me", hdr, NULL, 401, NULL);
	/* CR LF in paths and queries never becomes a header of the reply (libwebsockets may also
	 * drop such a request without a reply: no header either way). */
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		int rc = http_request(d.port, "GET", paths[i], NULL, NULL, 0, &r);

		if (rc < 0) {
			vdi_test_log("GET %s: dropped without a reply (%s)", paths[i], strerror(-rc));
			continue;
		}
		if (strstr(r.headers, "evil"))
			vdi_test_fail(__FILE__, __LINE__, "GET %s: injected header in\n%s", paths[i], r.headers);
		check(r.status >= 400);
		vdi_test_log("GET %s: %d, no injected header", paths[i], r.status);
		http_reply_finish(&r);
	}
	check_alive(&d);
	stop_broker(&d);
}

/* ---- the database locked by another process ----------------------------------------------- */

static void test_database_locked_by_another_process(void)
{
	struct daemon d;
	struct user ann, bob;
	struct pollfd pfd;
	char cmd[1400], line[64];
	FILE *locker;
	json_t *j;

	start_broker(&d, NULL);
	user_login(&d, &ann, "ann", "ann-secret");
	/* Another process (an admin's sqlite3 shell, a backup tool) takes the write lock for 3 s. */
	snprintf(cmd, sizeof(cmd),
		 "exec env -u LD_PRELOAD python3 -c 'import sqlite3, sys, time\n"
		 "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
		 "c.execute(\"BEGIN EXCLUSIVE\")\nprint(\"locked\", flush=True)\ntime.sleep(3)\n"
		 "c.execute(\"COMMIT\")\nprint(\"released\", flush=True)' '%s'",
		 d.db);
	check(locker = popen(cmd, "r"));
	check(fgets(line, sizeof(line), locker) && strstr(line, "locked"));

	/* Meanwhile the broker answers at once: health, reads, and clear refusals for writes. */
	expect_reply(&d, "GET", "/healthz", NULL, NULL, 200, NULL);
	check_int_eq(user_req(&d, &ann, "GET", "/api/v1/desktops", NULL, NULL), 200);
	expect_reply(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"bob\",\"password\":\"bob-secret\"}", 503, "busy");
	expect_reply(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"ann\",\"password\":\"wrong\"}", 401, NULL);
	pfd = (struct pollfd){ .fd = fileno(locker), .events = POLLIN };
	check_int_eq(poll(&pfd, 1, 0), 0); /* all of that while the lock was still held */
	vdi_test_log("while another process held the database: /healthz 200, reads 200, a login 503 (busy)");

	check(fgets(line, sizeof(line), locker) && strstr(line, "released"));
	check_int_eq(pclose(locker), 0);
	/* Afterwards everything works again, and the failed login made during the lock is in the log. */
	user_login(&d, &bob, "bob", "bob-secret");
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?user=ann&action=login-failed", "audit"), 1);
	j = admin_json(&d, "GET", "/api/v1/admin/audit?limit=3", NULL, 200);
	/* In order: ann's failed login, then bob's login. */
	check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "audit"), 0), "action")), "login");
	check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "audit"), 1), "action")),
		     "login-failed");
	json_decref(j);
	stop_broker(&d);
}

/* ---- several hosts ---------------------------------------------------------------------------- */

/* The admin view of the hosts; fails unless there are n. */
static json_t *hosts(struct daemon *d, size_t n)
{
	json_t *j = admin_json(d, "GET", "/api/v1/admin/hosts", NULL, 200);

	check_int_eq(json_array_size(json_object_get(j, "hosts")), n);
	return j;
}

static json_t *host_at(json_t *hosts_json, size_t i)
{
	return json_array_get(json_object_get(hosts_json, "hosts"), i);
}

/* The host of desktop id in the admin view. */
static char *desktop_host(struct daemon *d, int64_t id)
{
	json_t *j = admin_json(d, "GET", "/api/v1/admin/desktops", NULL, 200), *dk;
	char *host = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "desktops"), i, dk)
		if (json_integer_value(json_object_get(dk, "id")) == id)
			host = strdup(json_string_value(json_object_get(dk, "host")) ?: "");
	json_decref(j);
	check(host);
	return host;
}

/*
 * A libvirt test driver host from an XML file at path: it reports 0 bytes free; with_default, it has an
 * active libvirt network "default" as test:///default does (what a template made without XML attaches to).
 */
static void write_test_host(const char *path, bool with_default)
{
	FILE *f;

	check(f = fopen(path, "we"));
	fprintf(f, "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>"
		   "<active>2</active><mhz>2000</mhz></cpu><memory>8388608</memory>%s</node>\n",
		with_default ? "<network><name>default</name><bridge name='virbr9'/><forward/>"
			       "<ip address='192.168.124.1' netmask='255.255.255.0'/></network>"
			     : "");
	fclose(f);
}

/* Template "golden" and pool "spread" of size desktops, as many a user's. */
static void spread_pool(struct daemon *d, int size)
{
	char body[800], disk[512];

	snprintf(disk, sizeof(disk), "%s/golden.qcow2", vdi_test_tmpdir());
	make_disk(disk);
	snprintf(body, sizeof(body), "{\"name\":\"golden\",\"disk\":\"%s\"}", disk);
	json_decref(admin_json(d, "POST", "/api/v1/admin/templates", body, 201));
	snprintf(body, sizeof(body),
		 "{\"name\":\"spread\",\"template\":\"golden\",\"type\":\"pooled\",\"size\":%d,\"max_per_user\":%d}",
		 size, size);
	json_decref(admin_json(d, "POST", "/api/v1/admin/pools", body, 201));
}

/* One more desktop of pool "spread" for u: its id (202 expected). */
static int64_t one_more(struct daemon *d, struct user *u)
{
	json_t *j;
	int64_t id;

	check_int_eq(user_req(d, u, "POST", "/api/v1/pools/spread/desktop", "{\"new\":true}", &j), 202);
	id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	return id;
}

/*
 * Three hosts: libvirt's test:///default (a few MiB free, as the test driver says), a second test
 * driver from an XML file (0 bytes free) and one that never answers.  New desktops go to the
 * host with the most free memory, then spread; a drained host takes nothing new, loses its free
 * desktops and its pooled ones on release; the host that does not answer takes nothing.
 */
static void test_hosts_placement_and_drain(void)
{
	char libvirt[1024], h2[600], h2_uri[640], body[800];
	const char *h1_uri = "test:///default", *down_uri = "qemu+tcp://127.0.0.1:1/system";
	int64_t ids[6], on_h1 = 0, on_h2 = 0, h2_desktop = 0;
	struct daemon d;
	struct user ann;
	uint64_t end;
	json_t *j;

	snprintf(h2, sizeof(h2), "%s/host2.xml", vdi_test_tmpdir());
	write_test_host(h2, true);
	snprintf(h2_uri, sizeof(h2_uri), "test://%s", h2);
	snprintf(libvirt, sizeof(libvirt), "hosts = %s, %s, %s\n", h2_uri, h1_uri, down_uri);
	start_broker_with(&d, NULL, libvirt);

	/* Each host as the broker sees it, once it has looked at them. */
	end = vdi_test_now_ms() + 15000;
	for (;;) {
		j = hosts(&d, 3);
		if (json_is_integer(json_object_get(host_at(j, 0), "free_memory")) &&
		    json_is_integer(json_object_get(host_at(j, 1), "free_memory")))
			break;
		json_decref(j);
		check(vdi_test_now_ms() < end);
		usleep(100 * 1000);
	}
	check_str_eq(json_string_value(json_object_get(host_at(j, 0), "uri")), h2_uri);
	check(json_is_true(json_object_get(host_at(j, 0), "alive")));
	check_int_eq(json_integer_value(json_object_get(host_at(j, 0), "free_memory")), 0);
	check(json_integer_value(json_object_get(host_at(j, 1), "free_memory")) > 0);
	check_int_eq(json_array_size(json_object_get(host_at(j, 1), "templates")), 0);
	check_str_eq(json_string_value(json_object_get(host_at(j, 2), "uri")), down_uri);
	check(json_is_false(json_object_get(host_at(j, 2), "alive")));
	check(json_is_null(json_object_get(host_at(j, 2), "free_memory")));
	check(json_is_false(json_object_get(host_at(j, 1), "draining")));
	json_decref(j);

	spread_pool(&d, 6);
	user_login(&d, &ann, "ann", "ann-secret");

	/* The first goes to the host with the most free memory, although it is listed second. */
	ids[0] = one_more(&d, &ann);
	{
		char *h = desktop_host(&d, ids[0]);

		check_str_eq(h, h1_uri);
		free(h);
	}
	/* What it takes is reckoned there: the next ones spread over both answering hosts. */
	for (int k = 1; k < 4; k++)
		ids[k] = one_more(&d, &ann);
	for (int k = 0; k < 4; k++) {
		char *h = desktop_host(&d, ids[k]);

		check(streq(h, h1_uri) || streq(h, h2_uri));
		if (streq(h, h1_uri)) {
			on_h1++;
		} else {
			on_h2++;
			h2_desktop = ids[k];
		}
		free(h);
		check(wait_desktop_state(&d, &ann, ids[k], "assigned", 10000));
	}
	vdi_test_log("4 desktops: %lld on %s, %lld on %s", (long long)on_h1, h1_uri, (long long)on_h2, h2_uri);
	check(on_h1 >= 1 && on_h2 >= 1);

	/* Drain host 2: its desktops are ann's, so they stay until she releases them. */
	snprintf(body, sizeof(body), "{\"host\":\"%s\"}", h2_uri);
	j = admin_json(&d, "POST", "/api/v1/admin/hosts/drain", body, 200);
	check(json_is_true(json_object_get(j, "draining")));
	check_int_eq(json_integer_value(json_object_get(j, "remaining")), on_h2);
	json_decref(j);
	j = hosts(&d, 3);
	check(json_is_true(json_object_get(host_at(j, 0), "draining")));
	check_int_eq(json_integer_value(json_object_get(host_at(j, 0), "desktops")), on_h2);
	json_decref(j);
	/* Nothing new goes there. */
	ids[4] = one_more(&d, &ann);
	{
		char *h = desktop_host(&d, ids[4]);

		check_str_eq(h, h1_uri);
		free(h);
	}
	/* A pooled desktop released on a draining host is deleted, not reset for the next user. */
	{
		char path[128];

		check(wait_desktop_state(&d, &ann, h2_desktop, "assigned", 10000));
		snprintf(path, sizeof(path), "/api/v1/desktops/%lld/release", (long long)h2_desktop);
		check_int_eq(user_req(&d, &ann, "POST", path, NULL, NULL), 202);
		end = vdi_test_now_ms() + 10000;
		for (;;) {
			j = hosts(&d, 3);
			if (json_integer_value(json_object_get(host_at(j, 0), "desktops")) == on_h2 - 1)
				break;
			json_decref(j);
			check(vdi_test_now_ms() < end);
			usleep(50 * 1000);
		}
		json_decref(j);
	}

	/* With every answering host drained, a desktop that must be made has nowhere to go. */
	snprintf(body, sizeof(body), "{\"host\":\"%s\"}", h1_uri);
	json_decref(admin_json(&d, "POST", "/api/v1/admin/hosts/drain", body, 200));
	expect_error(&d, &ann, "POST", "/api/v1/pools/spread/desktop", "{\"new\":true}", 503, "no host can take a new desktop");
	json_decref(admin_json(&d, "POST", "/api/v1/admin/hosts/resume", body, 200));
	snprintf(body, sizeof(body), "{\"host\":\"%s\"}", h2_uri);
	j = admin_json(&d, "POST", "/api/v1/admin/hosts/resume", body, 200);
	check(json_is_false(json_object_get(j, "draining")));
	json_decref(j);
	j = hosts(&d, 3);
	check(json_is_false(json_object_get(host_at(j, 0), "draining")));
	check(json_is_false(json_object_get(host_at(j, 1), "draining")));
	json_decref(j);
	ids[5] = one_more(&d, &ann);
	check(wait_desktop_state(&d, &ann, ids[5], "assigned", 10000));

	/* Bad requests. */
	j = admin_json(&d, "POST", "/api/v1/admin/hosts/drain", "{\"host\":\"qemu+ssh://nowhere/system\"}", 404);
	check_str_contains(json_string_value(json_object_get(j, "error")), "no host \"qemu+ssh://nowhere/system\"");
	json_decref(j);
	json_decref(admin_json(&d, "POST", "/api/v1/admin/hosts/drain", "{}", 400));
	json_decref(admin_json(&d, "POST", "/api/v1/admin/hosts/drain", "{\"host\":\"test:///default\",\"x\":1}", 400));
	json_decref(admin_json(&d, "POST", "/api/v1/admin/hosts/resume", "[", 400));
	/* The admins' actions are in the audit log. */
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?action=host-drain", "audit"), 2);
	/* Draining survives a restart (table hosts). */
	json_decref(admin_json(&d, "POST", "/api/v1/admin/hosts/drain", body, 200));
	stop_broker(&d);
	run_broker(&d);
	j = hosts(&d, 3);
	check(json_is_true(json_object_get(host_at(j, 0), "draining")));
	check(json_is_false(json_object_get(host_at(j, 1), "draining")));
	json_decref(j);
	stop_broker(&d);
}

/* Two test-driver hosts from XML files: both report 0 bytes free. */
static void two_equal_hosts(char *libvirt, size_t len, char uris[2][640])
{
	for (int i = 0; i < 2; i++) {
		char path[600];

		snprintf(path, sizeof(path), "%s/equal%d.xml", vdi_test_tmpdir(), i + 1);
		write_test_host(path, false);
		snprintf(uris[i], sizeof(uris[i]), "test://%s", path);
	}
	snprintf(libvirt, len, "hosts = %s, %s\n", uris[0], uris[1]);
}

/* Waits until the broker has looked at both hosts after unix time t. */
static void wait_looked_after(struct daemon *d, int64_t t)
{
	uint64_t end = vdi_test_now_ms() + 30000;

	for (;;) {
		json_t *j = hosts(d, 2);
		bool done = json_integer_value(json_object_get(host_at(j, 0), "looked_at")) > t &&
			    json_integer_value(json_object_get(host_at(j, 1), "looked_at")) > t;

		json_decref(j);
		if (done)
			return;
		check(vdi_test_now_ms() < end);
		usleep(200 * 1000);
	}
}

/*
 * Hosts with as much free memory: the one with fewer desktops gets the next.  Once the broker has
 * looked at the hosts again after the first desktop, nothing placed is reckoned against a host's
 * memory any more: only the count of desktops tells the hosts apart, and the second desktop must
 * go to the second host, although the first is listed first.
 */
static void test_hosts_fewest_desktops_on_a_tie(void)
{
	char libvirt[1400], uris[2][640];
	struct daemon d;
	struct user ann;
	int64_t first, second;
	char *h;

	two_equal_hosts(libvirt, sizeof(libvirt), uris);
	start_broker_with(&d, NULL, libvirt);
	wait_looked_after(&d, 0);
	spread_pool(&d, 4);
	user_login(&d, &ann, "ann", "ann-secret");
	first = one_more(&d, &ann);
	h = desktop_host(&d, first);
	check_str_eq(h, uris[0]); /* a tie of everything: the first listed */
	free(h);
	check(wait_desktop_state(&d, &ann, first, "assigned", 10000));

	wait_looked_after(&d, (int64_t)time(NULL));
	second = one_more(&d, &ann);
	h = desktop_host(&d, second);
	check_str_eq(h, uris[1]);
	free(h);
	stop_broker(&d);
}

/* A counter of the broker's /metrics (from loopback); -1 when it has none. */
static long long metric(struct daemon *d, const char *name)
{
	_cleanup_free_ char *text = req_text(d, "GET", "/metrics", NULL, NULL, 200);
	char line[128];
	const char *p;

	snprintf(line, sizeof(line), "\n%s ", name);
	p = strstr(text, line);
	return p ? strtoll(p + strlen(line), NULL, 10) : -1;
}

/* Deletes desktop id as an admin and waits until its row is gone. */
static void delete_desktop(struct daemon *d, int64_t id)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld", (long long)id);
	json_decref(admin_json(d, "DELETE", path, NULL, 202));
	for (uint64_t end = vdi_test_now_ms() + 10000;
	     store_int(d, "SELECT count(*) FROM desktops WHERE id = %lld", (long long)id) > 0; usleep(50 * 1000))
		check(vdi_test_now_ms() < end);
}

/*
 * The jobs share one vmpool template per template (so that vmpool validates only the first
 * clone): four desktops of one pool make it once.  A template removed and added again under the
 * same name (its file may have been replaced) is made afresh.
 */
static void test_template_cache(void)
{
	struct daemon d;
	struct user ann;
	int64_t ids[4];

	start_broker(&d, NULL);
	spread_pool(&d, 4);
	user_login(&d, &ann, "ann", "ann-secret");
	check_int_eq(metric(&d, "vdi_template_cache_misses_total"), 0);
	check_int_eq(metric(&d, "vdi_template_cache_hits_total"), 0);
	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		ids[i] = one_more(&d, &ann);
	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		check(wait_desktop_state(&d, &ann, ids[i], "assigned", 10000));
	check_int_eq(metric(&d, "vdi_template_cache_misses_total"), 1);
	check(metric(&d, "vdi_template_cache_hits_total") >= (long long)ELEMENTSOF(ids) - 1);

	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		delete_desktop(&d, ids[i]);
	json_decref(admin_json(&d, "DELETE", "/api/v1/admin/pools/spread", NULL, 200));
	json_decref(admin_json(&d, "DELETE", "/api/v1/admin/templates/golden", NULL, 200));
	spread_pool(&d, 4);
	ids[0] = one_more(&d, &ann);
	check(wait_desktop_state(&d, &ann, ids[0], "assigned", 10000));
	check_int_eq(metric(&d, "vdi_template_cache_misses_total"), 2);
	check_alive(&d);
	stop_broker(&d);
}

/* ---- libvirt networks ------------------------------------------------------------------------ */

/* Runs sql on the broker's database (as another process would). */
static void db_exec(struct daemon *d, const char *sql)
{
	sqlite3 *db;

	check(sqlite3_open(d->db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	check(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

/* The text in the first column of the first row sql gives on the broker's database (new; NULL: none). */
static char *db_text(struct daemon *d, const char *sql)
{
	sqlite3_stmt *st;
	char *text = NULL;
	sqlite3 *db;

	check(sqlite3_open(d->db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	check(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		check(text = strdup((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return text;
}

/* How many rows GET /admin/networks has for libvirt network name (on any host). */
static size_t network_rows(struct daemon *d, const char *name)
{
	json_t *j = admin_json(d, "GET", "/api/v1/admin/networks", NULL, 200), *row;
	size_t i, n = 0;

	json_array_foreach(json_object_get(j, "networks"), i, row)
		n += streq(json_string_value(json_object_get(row, "name")) ?: "", name);
	json_decref(j);
	return n;
}

/* Whether the JSON array of strings list has s. */
static bool strings_have(json_t *list, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (streq(json_string_value(e) ?: "", s))
			return true;
	return false;
}

/* Waits until host i's networks (hosts JSON) have name (or, want false, do not). */
static void wait_host_network(struct daemon *d, size_t i, const char *name, bool want)
{
	uint64_t end = vdi_test_now_ms() + 15000;

	for (;;) {
		json_t *j = hosts(d, 2);
		json_t *nets = json_object_get(host_at(j, i), "networks");
		bool done = json_is_array(nets) && strings_have(nets, name) == want;

		json_decref(j);
		if (done)
			return;
		check(vdi_test_now_ms() < end);
		usleep(50 * 1000);
	}
}

/*
 * GET/POST/DELETE /admin/networks on two test-driver hosts (test:///default has its active "default"
 * network; the file host has none), and the hosts' networks in GET /admin/hosts.
 */
static void test_networks(void)
{
	static const char *const bad[][2] = {
		{ "{\"name\":\"bad name\",\"mode\":\"nat\",\"subnet\":\"10.78.0.0/24\"}", "name:" },
		{ "{\"name\":\".dot\",\"mode\":\"nat\",\"subnet\":\"10.78.0.0/24\"}", "name:" },
		{ "{\"mode\":\"nat\",\"subnet\":\"10.78.0.0/24\"}", "\"name\" is required" },
		{ "{\"name\":\"vdibad\",\"mode\":\"bridge\",\"subnet\":\"10.78.0.0/24\"}", "mode:" },
		{ "{\"name\":\"vdibad\",\"subnet\":\"10.78.0.0/24\"}", "\"mode\" is required" },
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\",\"subnet\":\"10.78.0.1/24\"}", "subnet:" },
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\",\"subnet\":\"10.78.0.0/31\"}", "subnet:" },
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\",\"subnet\":\"300.1.0.0/16\"}", "subnet:" },
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\"}", "\"subnet\" is required" },
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\",\"subnet\":24}", "\"subnet\" must be" },
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\",\"subnet\":\"10.78.0.0/24\",\"x\":1}", "unknown member" },
		{ "[", "malformed JSON" },
		{ "[]", "JSON object" },
		/* 192.168.122.0/24 is test:///default's "default". */
		{ "{\"name\":\"vdibad\",\"mode\":\"nat\",\"subnet\":\"192.168.0.0/16\"}", "overlaps libvirt network \"default\"" },
	};
	char libvirt[1024], h2[600], h2_uri[640];
	struct daemon d;
	json_t *j, *row;
	size_t i;

	snprintf(h2, sizeof(h2), "%s/host2.xml", vdi_test_tmpdir());
	write_test_host(h2, false);
	snprintf(h2_uri, sizeof(h2_uri), "test://%s", h2);
	snprintf(libvirt, sizeof(libvirt), "hosts = test:///default, %s\n", h2_uri);
	start_broker_with(&d, NULL, libvirt);
	setup_pools(&d);

	/* The list: one row per host and network. */
	j = admin_json(&d, "GET", "/api/v1/admin/networks", NULL, 200);
	check_int_eq(json_array_size(json_object_get(j, "networks")), 1);
	row = json_array_get(json_object_get(j, "networks"), 0);
	check_str_eq(json_string_value(json_object_get(row, "host")), "test:///default");
	check_str_eq(json_string_value(json_object_get(row, "name")), "default");
	check(json_is_true(json_object_get(row, "active")));
	check(json_is_string(json_object_get(row, "mode")));
	check_str_eq(json_string_value(json_object_get(row, "subnet")), "192.168.122.0/24");
	json_decref(j);
	/* The hosts' networks once looked at.  The pools' template was made without XML on a broker with a host
	 * that has libvirt's `default`: its desktops attach to it, which the second host lacks. */
	wait_host_network(&d, 0, "default", true);
	wait_host_network(&d, 1, "default", false);
	j = hosts(&d, 2);
	check_int_eq(json_array_size(json_object_get(host_at(j, 1), "networks")), 0);
	check_int_eq(json_array_size(json_object_get(host_at(j, 0), "missing_networks")), 0);
	check_int_eq(json_array_size(json_object_get(host_at(j, 1), "missing_networks")), 1);
	check_str_eq(json_string_value(json_array_get(json_object_get(host_at(j, 1), "missing_networks"), 0)),
		     "default");
	json_decref(j);

	/* Bad input: 400 naming what is wrong, nothing made anywhere. */
	for (i = 0; i < ELEMENTSOF(bad); i++)
		admin_error(&d, "POST", "/api/v1/admin/networks", bad[i][0], 400, bad[i][1]);
	check_int_eq(network_rows(&d, "vdibad"), 0);
	j = admin_json(&d, "GET", "/api/v1/admin/networks", NULL, 200);
	check_int_eq(json_array_size(json_object_get(j, "networks")), 1);
	json_decref(j);

	/* Made on every host, listed there, and in the hosts' networks at once. */
	j = admin_json(&d, "POST", "/api/v1/admin/networks",
		       "{\"name\":\"vdinet\",\"mode\":\"isolated\",\"subnet\":\"10.77.0.0/24\"}", 201);
	check_str_eq(json_string_value(json_object_get(j, "name")), "vdinet");
	check_int_eq(json_array_size(json_object_get(j, "hosts")), 2);
	check(strings_have(json_object_get(j, "hosts"), "test:///default"));
	check(strings_have(json_object_get(j, "hosts"), h2_uri));
	json_decref(j);
	check_int_eq(network_rows(&d, "vdinet"), 2);
	j = admin_json(&d, "GET", "/api/v1/admin/networks", NULL, 200);
	json_array_foreach(json_object_get(j, "networks"), i, row)
		if (streq(json_string_value(json_object_get(row, "name")), "vdinet")) {
			check(json_is_true(json_object_get(row, "active")));
			check(json_is_true(json_object_get(row, "autostart")));
			check_str_eq(json_string_value(json_object_get(row, "subnet")), "10.77.0.0/24");
		}
	json_decref(j);
	wait_host_network(&d, 0, "vdinet", true);
	wait_host_network(&d, 1, "vdinet", true);
	/* It exists: 409; a subnet overlapping it: 400; neither changes anything. */
	admin_error(&d, "POST", "/api/v1/admin/networks",
		     "{\"name\":\"vdinet\",\"mode\":\"nat\",\"subnet\":\"10.79.0.0/24\"}", 409, "exists already");
	j = admin_json(&d, "POST", "/api/v1/admin/networks",
		       "{\"name\":\"vdinet2\",\"mode\":\"nat\",\"subnet\":\"10.77.0.128/25\"}", 400);
	check_str_contains(json_string_value(json_object_get(j, "error")), "overlaps libvirt network \"vdinet\"");
	json_decref(j);
	check_int_eq(network_rows(&d, "vdinet2"), 0);
	check_int_eq(network_rows(&d, "vdinet"), 2);

	/* A pool on it: it cannot go; a pool on a network a host lacks shows it missing there. */
	db_exec(&d, "UPDATE pools SET network = 'network:vdinet' WHERE name = 'lab'");
	db_exec(&d, "UPDATE templates SET network = 'network:default' WHERE name = 'golden'");
	admin_error(&d, "DELETE", "/api/v1/admin/networks/vdinet", NULL, 409, "pool \"lab\"");
	check_int_eq(network_rows(&d, "vdinet"), 2);
	j = hosts(&d, 2);
	check_int_eq(json_array_size(json_object_get(host_at(j, 0), "missing_networks")), 0);
	check_int_eq(json_array_size(json_object_get(host_at(j, 1), "missing_networks")), 1);
	check(strings_have(json_object_get(host_at(j, 1), "missing_networks"), "default"));
	json_decref(j);
	/* The template's network is the pools' that set none: removing "default" is refused too, and names the
	 * template (its maintenance desktop and pools made later attach to it). */
	admin_error(&d, "DELETE", "/api/v1/admin/networks/default", NULL, 409,
		    "is used by pool \"admins\", pool \"staffonly\", template \"golden\";");
	db_exec(&d, "UPDATE pools SET network = NULL WHERE name = 'lab'; UPDATE pools SET network = 'network:vdinet'");
	admin_error(&d, "DELETE", "/api/v1/admin/networks/default", NULL, 409, "is used by template \"golden\";");
	db_exec(&d, "UPDATE pools SET network = NULL; UPDATE templates SET network = NULL");

	/* Removed from every host; then there is none. */
	j = admin_json(&d, "DELETE", "/api/v1/admin/networks/vdinet", NULL, 200);
	check_str_eq(json_string_value(json_object_get(j, "name")), "vdinet");
	check_int_eq(json_array_size(json_object_get(j, "hosts")), 2);
	json_decref(j);
	check_int_eq(network_rows(&d, "vdinet"), 0);
	wait_host_network(&d, 0, "vdinet", false);
	wait_host_network(&d, 1, "vdinet", false);
	admin_error(&d, "DELETE", "/api/v1/admin/networks/vdinet", NULL, 404, "no host has libvirt network");
	admin_error(&d, "DELETE", "/api/v1/admin/networks/bad%20name", NULL, 400, "name:");
	/* The hosts' active networks are in the store too. */
	{
		char *stored = db_text(&d, "SELECT networks FROM hosts WHERE uri = 'test:///default'");

		check_str_eq(stored, ",default,");
		free(stored);
		stored = db_text(&d, "SELECT networks FROM hosts WHERE uri LIKE 'test://%host2.xml'");
		check_str_eq(stored, ",");
		free(stored);
	}
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?action=network-add", "audit"), 1);
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?action=network-remove", "audit"), 1);
	stop_broker(&d);
}

/* A host that does not answer: nothing is made or removed anywhere (503 naming it); the list has the others'. */
static void test_networks_host_down(void)
{
	const char *down_uri = "qemu+tcp://127.0.0.1:1/system";
	char libvirt[256];
	struct daemon d;
	json_t *j;

	snprintf(libvirt, sizeof(libvirt), "hosts = test:///default, %s\n", down_uri);
	start_broker_with(&d, NULL, libvirt);
	j = admin_json(&d, "GET", "/api/v1/admin/networks", NULL, 200);
	check_int_eq(json_array_size(json_object_get(j, "networks")), 1);
	json_decref(j);
	admin_error(&d, "POST", "/api/v1/admin/networks",
		    "{\"name\":\"vdinet\",\"mode\":\"nat\",\"subnet\":\"10.77.0.0/24\"}", 503, down_uri);
	check_int_eq(network_rows(&d, "vdinet"), 0);
	admin_error(&d, "DELETE", "/api/v1/admin/networks/default", NULL, 503, down_uri);
	check_int_eq(network_rows(&d, "default"), 1);
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?action=network-add", "audit"), 0);
	check_int_eq(admin_count(&d, "/api/v1/admin/audit?action=network-remove", "audit"), 0);
	stop_broker(&d);
}

/* A host's "hardware" in GET /admin/hosts: null for test:///default (the test driver has no domain capabilities:
 * not known, so placement counts it as offering all), and for this machine's libvirtd (qemu:///system, which has
 * Debian's ovmf and swtpm) uefi, secure-boot and tpm once the broker looked.  The broker's storage pool on
 * qemu:///system is its own (named by the test's pid) and removed at the end; no broker pool names a desktop
 * there, so nothing else on that libvirtd is the broker's to judge. */
static void test_hosts_hardware(void)
{
	char libvirt[512], cmd[512], spool[64];
	const char *want[] = { "uefi", "secure-boot", "tpm" };
	struct daemon d;
	uint64_t end;
	json_t *j, *hw;

	snprintf(spool, sizeof(spool), "vdi-test-api-%d", (int)getpid());
	snprintf(libvirt, sizeof(libvirt), "hosts = test:///default, qemu:///system\nstorage_pool = %s\n", spool);
	start_broker_with(&d, NULL, libvirt);
	/* Hosts are looked at every 10 s; a loaded machine (CI, ASan) may miss a look or two. */
	end = vdi_test_now_ms() + 60000;
	for (;;) {
		j = hosts(&d, 2);
		if (json_is_integer(json_object_get(host_at(j, 0), "looked_at")) &&
		    json_is_array(json_object_get(host_at(j, 1), "hardware")))
			break;
		if (vdi_test_now_ms() >= end) {
			_cleanup_free_ char *seen = json_dumps(j, JSON_COMPACT);

			vdi_test_log("after 60 s the hosts are %s", seen ? seen : "(out of memory)");
			break;
		}
		json_decref(j);
		usleep(200 * 1000);
	}
	stop_broker(&d);
	snprintf(cmd, sizeof(cmd), "virsh -q -c qemu:///system pool-destroy %s >/dev/null 2>&1;"
		 " virsh -q -c qemu:///system pool-undefine %s >/dev/null 2>&1", spool, spool);
	(void)!system(cmd);
	check(j);
	check_str_eq(json_string_value(json_object_get(host_at(j, 0), "uri")), "test:///default");
	check(json_is_integer(json_object_get(host_at(j, 0), "looked_at")));
	check(json_is_null(json_object_get(host_at(j, 0), "hardware")));
	check_str_eq(json_string_value(json_object_get(host_at(j, 1), "uri")), "qemu:///system");
	hw = json_object_get(host_at(j, 1), "hardware");
	check(json_is_array(hw));
	vdi_test_log("qemu:///system offers %zu of uefi, secure-boot, tpm", json_array_size(hw));
	check_int_eq(json_array_size(hw), ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		check_str_eq(json_string_value(json_array_get(hw, i)), want[i]);
	json_decref(j);
}

/* [broker] tls_cert, tls_key: HTTPS on listen (plain HTTP gets nowhere there), login works and its cookie
 * is Secure; the admin socket stays plain; SIGHUP after a renewal: new connections get the new certificate,
 * a key of another certificate is logged and the renewed pair kept. */
static void test_https(void)
{
	struct daemon d;
	struct http_reply r;
	char dir[600], extra[1400], ca[700], pem[700], cmd[1600], serial[80], renewed[80], sc[512], hdr[512];
	int rc;

	snprintf(dir, sizeof(dir), "%s/tls", vdi_test_tmpdir());
	tls_make_certs(dir, "broker other");
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/broker.pem", dir);
	tls_file_serial(pem, serial, sizeof(serial));
	snprintf(extra, sizeof(extra), "tls_cert = %s\ntls_key = %s/broker.key\n", pem, dir);
	start_broker(&d, extra);

	rc = http_request(d.port, "GET", "/healthz", NULL, NULL, 0, &r);
	check(rc < 0 || r.status != 200);
	if (rc >= 0)
		http_reply_finish(&r);

	http_client_use_tls(ca);
	check_alive(&d);
	r = req_status(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"ann\",\"password\":\"ann-secret\"}", 200);
	check_str_eq(r.peer_serial, serial);
	check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
	check_str_contains(sc, "vdi_session=");
	check_str_contains(sc, "; Secure");
	http_reply_finish(&r);
	snprintf(hdr, sizeof(hdr), "Cookie: %.*s\r\n", (int)(strchr(sc, ';') - sc), sc);
	expect_reply(&d, "GET", "/api/v1/me", hdr, NULL, 200, "\"user\":\"ann\"");
	admin_status(&d, "GET", "/healthz", NULL, 200);

	tls_make_certs(dir, "broker");
	tls_file_serial(pem, renewed, sizeof(renewed));
	check(!streq(renewed, serial));
	check(kill(d.pid, SIGHUP) == 0);
	broker_wait_log(&d, "SIGHUP: reloaded the certificate");
	r = req_status(&d, "GET", "/api/v1/me", hdr, NULL, 200);
	check_str_eq(r.peer_serial, renewed);
	http_reply_finish(&r);

	snprintf(cmd, sizeof(cmd), "cp '%s/other.pem' '%s'", dir, pem);
	check_int_eq(system(cmd), 0);
	check(kill(d.pid, SIGHUP) == 0);
	broker_wait_log(&d, "is not the key of the certificate in");
	r = req_status(&d, "GET", "/healthz", NULL, NULL, 200);
	check_str_eq(r.peer_serial, renewed);
	http_reply_finish(&r);
	http_client_use_tls(NULL);
	stop_broker(&d);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_web_login_page, 120),
	VDI_TEST(test_https),
	VDI_TEST(test_assignment_policy),
	VDI_TEST(test_desktop_bad_input),
	VDI_TEST(test_admin_api),
	VDI_TEST(test_template_versions),
	VDI_TEST(test_pool_networks),
	VDI_TEST(test_template_hardware),
	VDI_TEST(test_viewer_settings),
	VDI_TEST(test_template_heads),
	VDI_TEST_TIMEOUT(test_recompose_and_data_disk, 120),
	VDI_TEST(test_static_files),
	VDI_TEST(test_login_me_logout),
	VDI_TEST(test_bad_credentials_look_alike),
	VDI_TEST(test_lockout),
	VDI_TEST(test_session_expiry),
	VDI_TEST(test_origin_and_bad_input),
	VDI_TEST(test_check_config),
	VDI_TEST(test_admin_routes_refuse_everyone_else),
	VDI_TEST(test_session_fixation_and_header_injection),
	VDI_TEST(test_database_locked_by_another_process),
	VDI_TEST_TIMEOUT(test_hosts_placement_and_drain, 120),
	VDI_TEST_TIMEOUT(test_hosts_fewest_desktops_on_a_tie, 120),
	VDI_TEST(test_template_cache),
	VDI_TEST_TIMEOUT(test_networks, 120),
	VDI_TEST_TIMEOUT(test_networks_host_down, 120),
	VDI_TEST_TIMEOUT(test_hosts_hardware, 120),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
