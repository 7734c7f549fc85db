/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vdi-broker daemon on loopback in a temp dir, with real PAM through
 * pam_wrapper + pam_matrix (tests/pam/): logins, sessions, CSRF, Origin,
 * throttling and bad input, over real HTTP.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alloc.h"
#include "token.h"
#include "harness.h"
#include "http-client.h"

struct daemon {
	pid_t pid;
	int port;
	char db[512];
};

static void start_broker(struct daemon *d, const char *extra_conf)
{
	const char *bin = getenv("VDI_BROKER_BIN");
	char conf[512], line[512];
	int out[2];
	FILE *f;

	if (!bin || !getenv("PAM_WRAPPER"))
		vdi_test_fail(__FILE__, __LINE__, "run through meson (VDI_BROKER_BIN, pam_wrapper)");
	snprintf(d->db, sizeof(d->db), "%s/vdi.db", vdi_test_tmpdir());
	snprintf(conf, sizeof(conf), "%s/vdi.conf", vdi_test_tmpdir());
	f = fopen(conf, "we");
	check(f);
	fprintf(f, "[broker]\nlisten = 127.0.0.1:0\nlogin_max_failures = 5\nlogin_lockout = 300\n"
		   "admin_socket = %s/admin.sock\n%s"
		   "[database]\npath = %s\n[pam]\nservice = vdi-test\nadmin_group = vdiadmin\n"
		   "[libvirt]\nhosts = test:///default\nstorage_path = %s/images\nruntime_dir = %s/run\n"
		   "[tokens]\nkey_file = %s/token.key\n",
		vdi_test_tmpdir(), extra_conf ? extra_conf : "", d->db, vdi_test_tmpdir(), vdi_test_tmpdir(),
		vdi_test_tmpdir());
	fclose(f);
	snprintf(line, sizeof(line), "%s/token.key", vdi_test_tmpdir());
	if (access(line, F_OK) != 0)
		check_ok(vdi_token_key_generate(line, NULL, 0));

	check(pipe2(out, O_CLOEXEC) == 0);
	d->pid = fork();
	check(d->pid >= 0);
	if (d->pid == 0) {
		dup2(out[1], 2);
		execl(bin, bin, "--config", conf, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* The daemon says which port it got. */
	f = fdopen(out[0], "r");
	check(f);
	d->port = 0;
	while (!d->port && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "listening on port ");

		if (p)
			d->port = atoi(p + strlen("listening on port "));
	}
	check(d->port > 0);
	/* Keep draining its log so it never blocks on a full pipe. */
	if (fork() == 0) {
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		_exit(0);
	}
	fclose(f);
}

static void stop_broker(struct daemon *d)
{
	int status;

	check(kill(d->pid, SIGTERM) == 0);
	check(waitpid(d->pid, &status, 0) == d->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static struct http_reply req(struct daemon *d, const char *method, const char *path, const char *headers,
			     const char *body)
{
	struct http_reply r;
	int rc = http_request(d->port, method, path, headers, body, body ? strlen(body) : 0, &r);

	if (rc < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s %s: %s", method, path, strerror(-rc));
	return r;
}

static json_t *body_json(const struct http_reply *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	if (!j)
		vdi_test_fail(__FILE__, __LINE__, "reply is not JSON: %s", r->body);
	return j;
}

/* Logs in; on 200 fills cookie ("vdi_session=...") and csrf. Returns the status. */
static int login(struct daemon *d, const char *user, const char *pw, char *cookie, size_t clen, char *csrf,
		 size_t slen)
{
	_cleanup_free_ char *body = NULL;
	struct http_reply r;
	char sc[512];
	int status;

	check(asprintf(&body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw) > 0);
	r = req(d, "POST", "/api/v1/login", NULL, body);
	status = r.status;
	if (status == 200) {
		json_t *j = body_json(&r);

		check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
		check(strchr(sc, ';'));
		snprintf(cookie, clen, "%.*s", (int)(strchr(sc, ';') - sc), sc);
		snprintf(csrf, slen, "%s", json_string_value(json_object_get(j, "csrf")));
		json_decref(j);
	}
	http_reply_finish(&r);
	return status;
}

static void check_alive(struct daemon *d)
{
	struct http_reply r = req(d, "GET", "/healthz", NULL, NULL);

	check_int_eq(r.status, 200);
	check_str_eq(r.body, "{\"status\":\"ok\"}");
	http_reply_finish(&r);
}

static void test_login_me_logout(void)
{
	struct daemon d;
	struct http_reply r;
	char cookie[256], csrf[128], hdr[512], sc[512];
	json_t *j;

	start_broker(&d, NULL);
	check_alive(&d);

	r = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"ann\",\"password\":\"ann-secret\"}");
	check_int_eq(r.status, 200);
	check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
	check_str_contains(sc, "vdi_session=");
	check_str_contains(sc, "HttpOnly");
	check_str_contains(sc, "SameSite=Strict");
	check(http_reply_header(&r, "content-type", hdr, sizeof(hdr)) && streq(hdr, "application/json"));
	j = body_json(&r);
	check_str_eq(json_string_value(json_object_get(j, "user")), "ann");
	check(json_is_false(json_object_get(j, "admin")));
	check_int_eq(strlen(json_string_value(json_object_get(j, "csrf"))), 64);
	check_str_eq(json_string_value(json_array_get(json_object_get(j, "groups"), 1)), "staff");
	json_decref(j);
	http_reply_finish(&r);

	check_int_eq(login(&d, "ann", "ann-secret", cookie, sizeof(cookie), csrf, sizeof(csrf)), 200);
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookie);
	r = req(&d, "GET", "/api/v1/me", hdr, NULL);
	check_int_eq(r.status, 200);
	check_str_eq(r.body, "{\"user\":\"ann\",\"groups\":[\"ann\",\"staff\"],\"admin\":false}");
	http_reply_finish(&r);

	r = req(&d, "GET", "/api/v1/me", NULL, NULL);
	check_int_eq(r.status, 401);
	check_str_eq(r.body, "{\"error\":\"not logged in\"}");
	http_reply_finish(&r);

	/* Logout changes state: without the CSRF token it is refused and the session lives on. */
	r = req(&d, "POST", "/api/v1/logout", hdr, NULL);
	check_int_eq(r.status, 403);
	check_str_contains(r.body, "X-CSRF-Token");
	http_reply_finish(&r);
	{
		char with[1024];

		snprintf(with, sizeof(with), "%sX-CSRF-Token: %s\r\n", hdr, "0000000000000000000000000000000000000000000000000000000000000000");
		r = req(&d, "POST", "/api/v1/logout", with, NULL);
		check_int_eq(r.status, 403);
		http_reply_finish(&r);
		r = req(&d, "GET", "/api/v1/me", hdr, NULL);
		check_int_eq(r.status, 200);
		http_reply_finish(&r);

		snprintf(with, sizeof(with), "%sX-CSRF-Token: %s\r\n", hdr, csrf);
		r = req(&d, "POST", "/api/v1/logout", with, NULL);
		check_int_eq(r.status, 200);
		check(http_reply_header(&r, "set-cookie", sc, sizeof(sc)));
		check_str_contains(sc, "Max-Age=0");
		http_reply_finish(&r);
	}
	r = req(&d, "GET", "/api/v1/me", hdr, NULL);
	check_int_eq(r.status, 401);
	http_reply_finish(&r);

	/* An admin is a member of the admin group. */
	r = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"adm\",\"password\":\"adm-secret\"}");
	check_int_eq(r.status, 200);
	j = body_json(&r);
	check(json_is_true(json_object_get(j, "admin")));
	json_decref(j);
	http_reply_finish(&r);
	stop_broker(&d);
}

static void test_bad_credentials_look_alike(void)
{
	struct daemon d;
	struct http_reply a, b;

	start_broker(&d, NULL);
	a = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"ann\",\"password\":\"wrong\"}");
	b = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"nobody\",\"password\":\"wrong\"}");
	check_int_eq(a.status, 401);
	check_int_eq(b.status, 401);
	check_str_eq(a.body, b.body);
	check_str_eq(a.body, "{\"error\":\"invalid user name or password\"}");
	http_reply_finish(&a);
	http_reply_finish(&b);

	/* Right password, but the account may not log in here. */
	a = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"expired\",\"password\":\"exp-secret\"}");
	check_int_eq(a.status, 403);
	http_reply_finish(&a);
	stop_broker(&d);
}

static void test_lockout(void)
{
	struct daemon d;
	char cookie[256], csrf[128];
	struct http_reply r;

	start_broker(&d, NULL);
	for (int i = 0; i < 5; i++)
		check_int_eq(login(&d, "bob", "guess", cookie, sizeof(cookie), csrf, sizeof(csrf)), 401);
	/* Locked: the right password does not help, and the address is locked for everyone. */
	r = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"bob\",\"password\":\"bob-secret\"}");
	check_int_eq(r.status, 429);
	check_str_contains(r.body, "too many failed logins");
	http_reply_finish(&r);
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
	struct http_reply r;
	sqlite3 *db;

	start_broker(&d, NULL);
	check_int_eq(login(&d, "ann", "ann-secret", cookie, sizeof(cookie), csrf, sizeof(csrf)), 200);
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookie);
	/* Let the session run out (the shortest ttl is a minute; the clock is moved in the store instead). */
	check(sqlite3_open(d.db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	check(sqlite3_exec(db, "UPDATE sessions SET expires = strftime('%s', 'now') - 1", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	r = req(&d, "GET", "/api/v1/me", hdr, NULL);
	check_int_eq(r.status, 401);
	http_reply_finish(&r);
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
	struct http_reply r;
	_cleanup_free_ char *big = NULL;

	start_broker(&d, NULL);
	r = req(&d, "POST", "/api/v1/login", "Origin: http://evil.example\r\n",
		"{\"username\":\"ann\",\"password\":\"ann-secret\"}");
	check_int_eq(r.status, 403);
	check_str_contains(r.body, "cross-origin");
	http_reply_finish(&r);
	r = req(&d, "POST", "/api/v1/login", "Origin: http://127.0.0.1:1\r\n",
		"{\"username\":\"ann\",\"password\":\"ann-secret\"}");
	check_int_eq(r.status, 403);
	http_reply_finish(&r);
	{
		char same[128];

		snprintf(same, sizeof(same), "Origin: http://127.0.0.1:%d\r\n", d.port);
		r = req(&d, "POST", "/api/v1/login", same, "{\"username\":\"ann\",\"password\":\"ann-secret\"}");
		check_int_eq(r.status, 200);
		http_reply_finish(&r);
	}

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		json_t *j;

		r = req(&d, "POST", "/api/v1/login", NULL, bad[i][0]);
		j = body_json(&r);
		if (r.status != 400 || !json_is_string(json_object_get(j, "error")) ||
		    !strstr(json_string_value(json_object_get(j, "error")), bad[i][1]))
			vdi_test_fail(__FILE__, __LINE__, "%s: %d %s", bad[i][0], r.status, r.body);
		json_decref(j);
		http_reply_finish(&r);
	}
	/* Odd but valid unicode is just an unknown user. */
	r = req(&d, "POST", "/api/v1/login", NULL, "{\"username\":\"\xf0\x9f\x90\xa7 \\u202e\",\"password\":\"x\"}");
	check_int_eq(r.status, 401);
	http_reply_finish(&r);

	big = malloc(100000);
	memset(big, 'x', 99999);
	big[99999] = '\0';
	r = req(&d, "POST", "/api/v1/login", NULL, big);
	check_int_eq(r.status, 413);
	check_str_contains(r.body, "larger than");
	http_reply_finish(&r);

	r = req(&d, "GET", "/api/v1/nothing-here", NULL, NULL);
	check_int_eq(r.status, 404);
	check_str_eq(r.body, "{\"error\":\"no such resource\"}");
	http_reply_finish(&r);
	r = req(&d, "GET", "/api/v1/login", NULL, NULL);
	check_int_eq(r.status, 405);
	http_reply_finish(&r);

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

static const struct vdi_test tests[] = {
	VDI_TEST(test_login_me_logout),
	VDI_TEST(test_bad_credentials_look_alike),
	VDI_TEST(test_lockout),
	VDI_TEST(test_session_expiry),
	VDI_TEST(test_origin_and_bad_input),
	VDI_TEST(test_check_config),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
