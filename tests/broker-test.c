/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "broker-test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "harness.h"
#include "token.h"

void start_broker(struct daemon *d, const char *extra_conf)
{
	start_broker_with(d, extra_conf, NULL);
}

void start_broker_with(struct daemon *d, const char *extra_conf, const char *libvirt_section)
{
	const char *bin = getenv("VDI_BROKER_BIN");
	char conf[512], line[512];
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
		   "[libvirt]\nstorage_path = %s/images\nruntime_dir = %s/run\n%s"
		   "[tokens]\nkey_file = %s/token.key\n",
		vdi_test_tmpdir(), extra_conf ? extra_conf : "", d->db, vdi_test_tmpdir(), vdi_test_tmpdir(),
		libvirt_section ? libvirt_section : "hosts = test:///default\n", vdi_test_tmpdir());
	snprintf(d->conf, sizeof(d->conf), "%s", conf);
	snprintf(d->admin_socket, sizeof(d->admin_socket), "%s/admin.sock", vdi_test_tmpdir());
	fclose(f);
	snprintf(line, sizeof(line), "%s/token.key", vdi_test_tmpdir());
	if (access(line, F_OK) != 0)
		check_ok(vdi_token_key_generate(line, NULL));

	run_broker(d);
}

void run_broker(struct daemon *d)
{
	const char *bin = getenv("VDI_BROKER_BIN");
	const char *conf = d->conf;
	char line[512];
	int out[2];
	FILE *f;

	snprintf(d->log_path, sizeof(d->log_path), "%s/broker.log", vdi_test_tmpdir());
	check(pipe2(out, O_CLOEXEC) == 0);
	d->pid = fork();
	check(d->pid >= 0);
	if (d->pid == 0) {
		/* A test that fails exits at once: its broker must not outlive it. */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
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
		/* What it says before that is the test's log too: why a start failed. */
		fputs(line, stderr);
	}
	if (d->port <= 0) {
		int status = 0;

		if (waitpid(d->pid, &status, 0) == d->pid)
			vdi_test_log("vdi-broker exited before it listened: %s %d", WIFEXITED(status) ? "status" : "signal",
				     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	check(d->port > 0);
	/* Keep draining its log so it never blocks on a full pipe; a copy goes to log_path. */
	if (fork() == 0) {
		FILE *copy = fopen(d->log_path, "ae");

		while (fgets(line, sizeof(line), f)) {
			fputs(line, stderr);
			if (copy) {
				fputs(line, copy);
				fflush(copy);
			}
		}
		_exit(0);
	}
	fclose(f);
}

bool broker_log_has(struct daemon *d, const char *needle)
{
	return vdi_test_file_has(d->log_path, needle);
}

void broker_wait_log(struct daemon *d, const char *needle)
{
	for (uint64_t end = vdi_test_now_ms() + 10000; !broker_log_has(d, needle); usleep(50 * 1000))
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "no \"%s\" in the broker's log", needle);
}

void stop_broker(struct daemon *d)
{
	int status;

	check(kill(d->pid, SIGTERM) == 0);
	check(waitpid(d->pid, &status, 0) == d->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

/* The file libfaketime reads the clock from. */
static void fake_clock_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/clock", vdi_test_tmpdir());
}

void fake_clock_set(long offset)
{
	char path[600];
	FILE *f;

	fake_clock_path(path, sizeof(path));
	check(f = fopen(path, "we"));
	fprintf(f, "%+lds\n", offset);
	fclose(f);
}

char *faketime_begin(void)
{
	const char *old = getenv("LD_PRELOAD");
	char *saved = old ? strdup(old) : NULL, clock[600];
	_cleanup_free_ char *preload = NULL;

	if (access(FAKETIME_LIB, R_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s is needed: tools/install-deps installs faketime", FAKETIME_LIB);
	check(!old || saved);
	fake_clock_path(clock, sizeof(clock));
	check(asprintf(&preload, "%s%s%s", old ? old : "", old ? ":" : "", FAKETIME_LIB) > 0);
	check_int_eq(setenv("LD_PRELOAD", preload, 1), 0);
	check_int_eq(setenv("FAKETIME_TIMESTAMP_FILE", clock, 1), 0);
	check_int_eq(setenv("FAKETIME_NO_CACHE", "1", 1), 0);
	check_int_eq(setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1), 0);
	return saved;
}

void faketime_end(char *saved)
{
	if (saved)
		check_int_eq(setenv("LD_PRELOAD", saved, 1), 0);
	else
		unsetenv("LD_PRELOAD");
	unsetenv("FAKETIME_TIMESTAMP_FILE");
	free(saved);
}

/* The reply to a request on the web port; fails at file:line when none comes. */
static struct http_reply reply_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
				  const char *headers, const char *body)
{
	struct http_reply r;
	int rc = http_request(d->port, method, path, headers, body, body ? strlen(body) : 0, &r);

	if (rc < 0)
		vdi_test_fail(file, line, "%s %s: %s", method, path, strerror(-rc));
	return r;
}

struct http_reply req(struct daemon *d, const char *method, const char *path, const char *headers,
			     const char *body)
{
	return reply_at(__FILE__, __LINE__, d, method, path, headers, body);
}

/* r's body as JSON (a new reference); fails at file:line unless it is JSON. */
static json_t *json_at(const char *file, int line, const char *method, const char *path, const struct http_reply *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	if (!j)
		vdi_test_fail(file, line, "%s %s: reply is not JSON: %s", method, path, r->body);
	return j;
}

json_t *body_json(const struct http_reply *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	if (!j)
		vdi_test_fail(__FILE__, __LINE__, "reply is not JSON: %s", r->body);
	return j;
}

struct http_reply req_status_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
				const char *headers, const char *body, int want)
{
	struct http_reply r = reply_at(file, line, d, method, path, headers, body);

	if (r.status != want)
		vdi_test_fail(file, line, "%s %s: %d, not %d: %.400s", method, path, r.status, want, r.body);
	return r;
}

void expect_reply_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		     const char *headers, const char *body, int want, const char *part)
{
	struct http_reply r = req_status_at(file, line, d, method, path, headers, body, want);

	if (part && !strstr(r.body, part))
		vdi_test_fail(file, line, "%s %s: %d without \"%s\" in its body: %.400s", method, path, r.status, part,
			      r.body);
	http_reply_finish(&r);
}

void expect_body_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		    const char *headers, const char *body, int want, const char *text)
{
	struct http_reply r = req_status_at(file, line, d, method, path, headers, body, want);

	if (!streq(r.body, text))
		vdi_test_fail(file, line, "%s %s: %d with the body \"%.400s\", not \"%s\"", method, path, r.status,
			      r.body, text);
	http_reply_finish(&r);
}

char *req_text_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		  const char *headers, const char *body, int want)
{
	struct http_reply r = req_status_at(file, line, d, method, path, headers, body, want);

	return TAKE_PTR(r.body);
}

json_t *req_json_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		    const char *headers, const char *body, int want)
{
	struct http_reply r = req_status_at(file, line, d, method, path, headers, body, want);
	json_t *j = json_at(file, line, method, path, &r);

	http_reply_finish(&r);
	return j;
}

/* Logs in; on 200 fills cookie ("vdi_session=...") and csrf. Returns the status. */
int login(struct daemon *d, const char *user, const char *pw, char *cookie, size_t clen, char *csrf,
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

void kill_broker(struct daemon *d)
{
	int status;

	check(kill(d->pid, SIGKILL) == 0);
	check(waitpid(d->pid, &status, 0) == d->pid);
}

/* The reply to a request on the admin socket; fails at file:line when none comes. */
static struct http_reply admin_reply_at(const char *file, int line, struct daemon *d, const char *method,
					const char *path, const char *body)
{
	struct http_reply r;
	int rc = http_request_unix(d->admin_socket, method, path, NULL, body, body ? strlen(body) : 0, &r);

	if (rc < 0)
		vdi_test_fail(file, line, "%s %s on the admin socket: %s", method, path, strerror(-rc));
	return r;
}

struct http_reply admin_req(struct daemon *d, const char *method, const char *path, const char *body)
{
	return admin_reply_at(__FILE__, __LINE__, d, method, path, body);
}

/* The reply on the admin socket; fails at file:line unless its status is want_status. */
static struct http_reply admin_status_reply_at(const char *file, int line, struct daemon *d, const char *method,
					       const char *path, const char *body, int want_status)
{
	struct http_reply r = admin_reply_at(file, line, d, method, path, body);

	if (r.status != want_status)
		vdi_test_fail(file, line, "%s %s: %d %s", method, path, r.status, r.body);
	return r;
}

json_t *admin_json_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		      const char *body, int want_status)
{
	struct http_reply r = admin_status_reply_at(file, line, d, method, path, body, want_status);
	json_t *j = json_at(file, line, method, path, &r);

	http_reply_finish(&r);
	return j;
}

void admin_status_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		     const char *body, int want_status)
{
	struct http_reply r = admin_status_reply_at(file, line, d, method, path, body, want_status);

	http_reply_finish(&r);
}

size_t admin_count_at(const char *file, int line, struct daemon *d, const char *path, const char *member)
{
	json_t *j = admin_json_at(file, line, d, "GET", path, NULL, 200);
	size_t n = json_array_size(json_object_get(j, member));

	json_decref(j);
	return n;
}

void check_alive(struct daemon *d)
{
	expect_body(d, "GET", "/healthz", NULL, NULL, 200, "{\"status\":\"ok\"}");
}

void user_login(struct daemon *d, struct user *u, const char *name, const char *pw)
{
	check_int_eq(login(d, name, pw, u->cookie, sizeof(u->cookie), u->csrf, sizeof(u->csrf)), 200);
	snprintf(u->hdr, sizeof(u->hdr), "Cookie: %s\r\nX-CSRF-Token: %s\r\n", u->cookie, u->csrf);
}

/* A request as user u; returns the status and, when ret is not NULL, the JSON reply. */
int user_req_at(const char *file, int line, struct daemon *d, struct user *u, const char *method, const char *path,
		const char *body, json_t **ret)
{
	struct http_reply r = reply_at(file, line, d, method, path, u ? u->hdr : NULL, body);
	int status = r.status;

	if (ret)
		*ret = json_at(file, line, method, path, &r);
	http_reply_finish(&r);
	return status;
}

size_t user_count_at(const char *file, int line, struct daemon *d, struct user *u, const char *path,
		     const char *member)
{
	json_t *j = req_json_at(file, line, d, "GET", path, u ? u->hdr : NULL, NULL, 200);
	size_t n = json_array_size(json_object_get(j, member));

	json_decref(j);
	return n;
}

/* Fails unless the reply is status with {"error": ...} containing text. */
void expect_error_at(const char *file, int line, struct daemon *d, struct user *u, const char *method,
		     const char *path, const char *body, int status, const char *text)
{
	struct http_reply r = reply_at(file, line, d, method, path, u ? u->hdr : NULL, body);
	json_t *j = json_at(file, line, method, path, &r);
	const char *e = json_string_value(json_object_get(j, "error"));

	if (r.status != status || !e || !strstr(e, text))
		vdi_test_fail(file, line, "%s %s %.200s: expected %d \"%s\", got %d %s", method, path, body ? body : "",
			      status, text, r.status, e ? e : "(no error)");
	json_decref(j);
	http_reply_finish(&r);
}

/* Waits until the user's desktop id is in state want; returns false after timeout_ms. */
bool wait_desktop_state(struct daemon *d, struct user *u, int64_t id, const char *want, unsigned timeout_ms)
{
	uint64_t end = vdi_test_now_ms() + timeout_ms;

	do {
		json_t *j = NULL, *dk;
		size_t i;
		bool ok = false;

		check_int_eq(user_req(d, u, "GET", "/api/v1/desktops", NULL, &j), 200);
		json_array_foreach(json_object_get(j, "desktops"), i, dk)
			if (json_integer_value(json_object_get(dk, "id")) == id &&
			    streq(json_string_value(json_object_get(dk, "state")), want))
				ok = true;
		json_decref(j);
		if (ok)
			return true;
		usleep(50 * 1000);
	} while (vdi_test_now_ms() < end);
	return false;
}

/* Waits until the admin view of desktop id has the given state and owner (NULL: nobody). */
bool wait_admin_state(struct daemon *d, int64_t id, const char *state, const char *owner, unsigned timeout_ms)
{
	uint64_t end = vdi_test_now_ms() + timeout_ms;
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/desktops?state=%s", state);
	do {
		json_t *j = admin_json(d, "GET", path, NULL, 200), *dk;
		size_t i;
		bool ok = false;

		json_array_foreach(json_object_get(j, "desktops"), i, dk) {
			const char *o = json_string_value(json_object_get(dk, "owner"));

			if (json_integer_value(json_object_get(dk, "id")) == id && (owner ? streq_ptr(o, owner) : !o))
				ok = true;
		}
		json_decref(j);
		if (ok)
			return true;
		usleep(50 * 1000);
	} while (vdi_test_now_ms() < end);
	return false;
}
