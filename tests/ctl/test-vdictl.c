/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdictl against the real vdi-broker: the broker runs in a temp dir on
 * test:///default with its admin socket there, and each check runs the
 * vdictl binary and looks at its exit status, its output, and what the
 * broker holds afterwards (through vdictl --json).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "harness.h"

struct daemon {
	pid_t pid;
	char conf[512];
	char socket[512];
};

struct run {
	int status;      /* exit status */
	char out[65536]; /* stdout */
	char err[8192];  /* stderr */
};

static char *tmp_path(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % ELEMENTSOF(paths)];

	snprintf(p, sizeof(paths[0]), "%s/%s", vdi_test_tmpdir(), name);
	return p;
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	check(fd >= 0);
	n = read(fd, buf, len - 1);
	check(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Runs vdictl with args (NULL-terminated) in cwd (NULL: the temp dir); fills *res. */
static void run_argv(struct run *res, const char *cwd, const char *const *args)
{
	const char *bin = getenv("VDICTL_BIN"), *argv[64];
	char out[512], err[512];
	size_t n = 0;
	int status;
	pid_t pid;

	if (!bin)
		vdi_test_fail(__FILE__, __LINE__, "run through meson (VDICTL_BIN)");
	argv[n++] = bin;
	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s", tmp_path("vdictl.out"));
	snprintf(err, sizeof(err), "%s", tmp_path("vdictl.err"));

	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || chdir(cwd ? cwd : vdi_test_tmpdir()) < 0)
			_exit(126);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	check(waitpid(pid, &status, 0) == pid);
	check(WIFEXITED(status));
	res->status = WEXITSTATUS(status);
	read_file(out, res->out, sizeof(res->out));
	read_file(err, res->err, sizeof(res->err));
	{
		char line[1024] = "vdictl";

		for (size_t i = 1; i < n; i++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s", argv[i]);
		vdi_test_log("%s -> %d", line, res->status);
	}
	if (*res->err)
		vdi_test_log("stderr: %s", res->err);
}

/* Collects the NULL-terminated arguments after ap's start into args (room for n, prefix first). */
static void collect(const char **args, size_t n, const char *const *prefix, va_list ap)
{
	size_t k = 0;

	for (; prefix && *prefix; prefix++)
		args[k++] = *prefix;
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
		check(k < n - 1);
		args[k++] = a;
	}
	args[k] = NULL;
}

/* vdictl with the NULL-terminated arguments, in cwd (NULL: the temp dir). */
static void __attribute__((sentinel)) vdictl(struct run *res, const char *cwd, ...)
{
	const char *args[64];
	va_list ap;

	va_start(ap, cwd);
	collect(args, ELEMENTSOF(args), NULL, ap);
	va_end(ap);
	run_argv(res, cwd, args);
}

/* Checks the exit status, printing what vdictl said when it differs. */
#define check_run(res, expected)                                                                          \
	do {                                                                                              \
		if ((res)->status != (expected))                                                          \
			vdi_test_fail(__FILE__, __LINE__, "exit status %d, expected %d; stdout: %s; stderr: %s", \
				      (res)->status, (expected), (res)->out, (res)->err);                 \
	} while (0)

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		vdi_test_fail(__FILE__, __LINE__, "not JSON (%s): %s", e.text, text);
	return j;
}

/* The line of a table whose first column is first, or NULL. */
static const char *table_line(const char *table, const char *first, char *buf, size_t len)
{
	for (const char *p = table; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p), k = strlen(first);

		if (n > k && strncmp(p, first, k) == 0 && p[k] == ' ') {
			snprintf(buf, len, "%.*s", (int)n, p);
			return buf;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static void start_broker(struct daemon *d)
{
	const char *bin = getenv("VDI_BROKER_BIN");
	struct run r;
	char line[512];
	int out[2];
	FILE *f;

	if (!bin || !getenv("PAM_WRAPPER"))
		vdi_test_fail(__FILE__, __LINE__, "run through meson (VDI_BROKER_BIN, pam_wrapper)");
	/* The key comes from vdictl keygen, as an admin would make it. */
	vdictl(&r, NULL, "keygen", tmp_path("token.key"), NULL);
	check_run(&r, 0);

	snprintf(d->conf, sizeof(d->conf), "%s", tmp_path("vdi.conf"));
	snprintf(d->socket, sizeof(d->socket), "%s", tmp_path("admin.sock"));
	f = fopen(d->conf, "we");
	check(f);
	fprintf(f, "[broker]\nlisten = 127.0.0.1:0\nadmin_socket = %s\nweb_root = %s\n"
		   "[database]\npath = %s\n[pam]\nservice = vdi-test\nadmin_group = vdiadmin\n"
		   "[libvirt]\nhosts = test:///default\nstorage_path = %s\nruntime_dir = %s\n"
		   "[tokens]\nkey_file = %s\n",
		d->socket, tmp_path("web"), tmp_path("vdi.db"), tmp_path("images"), tmp_path("run"),
		tmp_path("token.key"));
	fclose(f);

	check(pipe2(out, O_CLOEXEC) == 0);
	d->pid = fork();
	check(d->pid >= 0);
	if (d->pid == 0) {
		dup2(out[1], 2);
		execl(bin, bin, "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* It is ready when it says which port it got. */
	f = fdopen(out[0], "r");
	check(f);
	for (;;) {
		if (!fgets(line, sizeof(line), f))
			vdi_test_fail(__FILE__, __LINE__, "vdi-broker exited before listening");
		fputs(line, stderr);
		if (strstr(line, "listening on port "))
			break;
	}
	/* Keep draining its log so it never blocks on a full pipe. */
	if (fork() == 0) {
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		_exit(0);
	}
	fclose(f);
	for (int i = 0; i < 100 && access(d->socket, F_OK) != 0; i++)
		usleep(50 * 1000);
	check(access(d->socket, F_OK) == 0);
}

static void stop_broker(struct daemon *d)
{
	int status;

	check(kill(d->pid, SIGTERM) == 0);
	check(waitpid(d->pid, &status, 0) == d->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A small QCOW2 disk in the temp dir; skips the test without qemu-img. */
static const char *make_disk(const char *name)
{
	static char path[512];
	char cmd[1024];

	snprintf(path, sizeof(path), "%s", tmp_path(name));
	if (system("command -v qemu-img >/dev/null 2>&1") != 0)
		vdi_test_skip("no qemu-img");
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 64M", path);
	check(system(cmd) == 0);
	return path;
}

/* vdictl --socket S --json ARGS... (NULL-terminated), which must succeed, as JSON (a new reference). */
static json_t *__attribute__((sentinel)) json_of(const struct daemon *d, ...)
{
	const char *prefix[] = { "--socket", d->socket, "--json", NULL }, *args[64];
	static struct run r;
	va_list ap;

	va_start(ap, d);
	collect(args, ELEMENTSOF(args), prefix, ap);
	va_end(ap);
	run_argv(&r, NULL, args);
	check_run(&r, 0);
	return parse_json(r.out);
}

/* The element of the array with member key equal to value, or NULL. */
static json_t *find(json_t *array, const char *key, const char *value)
{
	size_t i;
	json_t *e;

	json_array_foreach(array, i, e)
		if (streq_ptr(json_string_value(json_object_get(e, key)), value))
			return e;
	return NULL;
}

static void test_templates(void)
{
	static struct run r;
	const char *disk = make_disk("base.qcow2");
	char line[1024], real[PATH_MAX];
	struct daemon d;
	json_t *j, *t;

	start_broker(&d);
	check(realpath(disk, real));

	/* Relative to the working directory: vdictl sends the absolute path. */
	vdictl(&r, vdi_test_tmpdir(), "--socket", d.socket, "template", "add", "base", "--disk", "base.qcow2",
	       "--memory", "512", "--vcpus", "1", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "template \"base\" added");
	check_str_eq(r.err, "");

	vdictl(&r, NULL, "--socket", d.socket, "template", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "NAME "));
	check_str_contains(r.out, "MEMORY");
	check(table_line(r.out, "base", line, sizeof(line)));
	check_str_contains(line, real);
	check_str_contains(line, "512 MiB");

	j = json_of(&d, "template", "list", NULL);
	t = find(json_object_get(j, "templates"), "name", "base");
	check(t);
	check_str_eq(json_string_value(json_object_get(t, "disk")), real);
	check_int_eq(json_integer_value(json_object_get(t, "memory_mib")), 512);
	check_int_eq(json_integer_value(json_object_get(t, "vcpus")), 1);
	json_decref(j);

	/* The same name again: the broker refuses, vdictl says why. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "base", "--disk", disk, NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	check_str_contains(r.err, "exists");

	/* A disk that is nowhere: refused here, nothing sent. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "ghost", "--disk", "no/such.qcow2", NULL);
	check_run(&r, 2);

	vdictl(&r, NULL, "--socket", d.socket, "template", "remove", "base", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "template \"base\" removed");
	j = json_of(&d, "template", "list", NULL);
	check_int_eq(json_array_size(json_object_get(j, "templates")), 0);
	json_decref(j);
	vdictl(&r, NULL, "--socket", d.socket, "template", "remove", "base", NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	stop_broker(&d);
}

/* Runs SQL on the broker's database beside it, as a later publish would write it. */
static void store_sql(const char *stmt)
{
	sqlite3 *db;

	check(sqlite3_open(tmp_path("vdi.db"), &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, stmt, NULL, NULL, NULL) != SQLITE_OK)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", stmt, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* Fails unless the table line ends in the cell last (after a blank). */
static void check_last_cell(const char *line, const char *last)
{
	size_t n = strlen(line), k = strlen(last);

	check(n > k && line[n - k - 1] == ' ');
	check_str_eq(line + n - k, last);
}

/* template show: the template, then its versions with the desktops on each, the current one marked. */
static void test_template_show(void)
{
	static struct run r;
	const char *disk = make_disk("base.qcow2");
	char line[1024];
	struct daemon d;
	json_t *j = NULL, *v;

	start_broker(&d);
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "base", "--disk", disk, NULL);
	check_run(&r, 0);
	/* Two spares, made on version 1. */
	vdictl(&r, NULL, "--socket", d.socket, "pool", "create", "lab", "--template", "base", "--size", "2",
	       "--prestart", "2", NULL);
	check_run(&r, 0);
	for (uint64_t end = vdi_test_now_ms() + 20000;; usleep(100 * 1000)) {
		json_decref(j);
		j = json_of(&d, "template", "show", "base", NULL);
		v = json_array_get(json_object_get(j, "versions"), 0);
		if (json_integer_value(json_object_get(v, "desktops")) == 2)
			break;
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "the two spares never showed on version 1");
	}
	check_str_eq(json_string_value(json_object_get(j, "name")), "base");
	check_int_eq(json_array_size(json_object_get(j, "versions")), 1);
	check(json_is_true(json_object_get(v, "current")));
	json_decref(j);

	/* Version 2 current, no desktop on it yet. */
	store_sql("INSERT INTO template_versions (template_id, version, disk_path, note, created)"
		  " SELECT id, 2, disk_path, 'patched', strftime('%s', 'now') FROM templates WHERE name = 'base';"
		  "UPDATE templates SET version = 2 WHERE name = 'base'");
	vdictl(&r, NULL, "--socket", d.socket, "template", "show", "base", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "NAME "));
	check(table_line(r.out, "base", line, sizeof(line)));
	check_str_contains(r.out, "\nVERSION ");
	check_str_contains(r.out, "NOTE ");
	check_str_contains(r.out, "DESKTOPS\n");
	check(table_line(r.out, "2", line, sizeof(line)));
	check(startswith(line, "2 (current) "));
	check_str_contains(line, "patched");
	check_last_cell(line, "0");
	check(table_line(r.out, "1", line, sizeof(line)));
	check(!strstr(line, "current"));
	check_last_cell(line, "2");
	/* The JSON is the broker's, newest first. */
	j = json_of(&d, "template", "show", "base", NULL);
	check_int_eq(json_array_size(json_object_get(j, "versions")), 2);
	check_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "versions"), 0), "version")),
		     2);
	check_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "versions"), 1), "desktops")),
		     2);
	json_decref(j);

	vdictl(&r, NULL, "--socket", d.socket, "template", "show", "nope", NULL);
	check_run(&r, 1);
	check_str_eq(r.err, "vdictl: no such template\n");
	vdictl(&r, NULL, "--socket", d.socket, "template", "show", NULL);
	check_run(&r, 2);
	stop_broker(&d);
}

static void test_pools_desktops_audit(void)
{
	static struct run r;
	const char *disk = make_disk("base.qcow2");
	char line[1024];
	struct daemon d;
	json_t *j, *p, *e;
	size_t i;

	start_broker(&d);
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "base", "--disk", disk, NULL);
	check_run(&r, 0);

	vdictl(&r, NULL, "--socket", d.socket, "pool", "create", "lab", "--template", "base", "--size", "2",
	       "--prestart", "0", "--max-per-user", "1", "--idle-timeout", "600", "--groups", "staff,dev", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "pool \"lab\" created\n");

	vdictl(&r, NULL, "--socket", d.socket, "pool", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "NAME "));
	check(table_line(r.out, "lab", line, sizeof(line)));
	check_str_contains(line, "base");
	check_str_contains(line, "pooled");
	check_str_contains(line, "staff,dev");

	/* PATCH with only what is given. */
	vdictl(&r, NULL, "--socket", d.socket, "pool", "update", "lab", "--size", "3", "--groups", "", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "pool \"lab\" updated\n");
	j = json_of(&d, "pool", "list", NULL);
	p = find(json_object_get(j, "pools"), "name", "lab");
	check(p);
	check_int_eq(json_integer_value(json_object_get(p, "size")), 3);
	check_int_eq(json_integer_value(json_object_get(p, "prestart")), 0);
	check_int_eq(json_integer_value(json_object_get(p, "idle_timeout")), 600);
	check_str_eq(json_string_value(json_object_get(p, "template")), "base");
	check_str_eq(json_string_value(json_object_get(p, "type")), "pooled");
	json_decref(j);

	/* An unknown template: the broker's message, exit 1, no pool. */
	vdictl(&r, NULL, "--socket", d.socket, "pool", "create", "ghost", "--template", "nosuch", "--size", "1", NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	check_str_contains(r.err, "template");
	check(!strchr(r.err, '\n') || strchr(r.err, '\n')[1] == '\0');
	check_str_eq(r.out, "");
	j = json_of(&d, "pool", "list", NULL);
	check(!find(json_object_get(j, "pools"), "name", "ghost"));
	check_int_eq(json_array_size(json_object_get(j, "pools")), 1);
	json_decref(j);

	/* Desktops: a table with its header, and JSON for the pool. */
	vdictl(&r, NULL, "--socket", d.socket, "desktop", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "ID  POOL  STATE  OWNER  HOST  DOMAIN  ASSIGNED  DISCONNECTED  UPDATED  ADDRESSES  GUEST\n"));
	j = json_of(&d, "desktop", "list", "--pool", "lab", "--state", "free", NULL);
	check(json_is_array(json_object_get(j, "desktops")));
	json_array_foreach(json_object_get(j, "desktops"), i, e) {
		check_str_eq(json_string_value(json_object_get(e, "pool")), "lab");
		check_str_eq(json_string_value(json_object_get(e, "state")), "free");
	}
	json_decref(j);
	vdictl(&r, NULL, "--socket", d.socket, "desktop", "reset", "999999", NULL);
	check_run(&r, 1);
	check_str_eq(r.err, "vdictl: no such desktop\n");

	/* The audit log has the pool's creation, by the admin socket. */
	vdictl(&r, NULL, "--socket", d.socket, "audit", "--action", "pool-create", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "ID  TIME "));
	check_str_contains(r.out, "pool-create");
	check_str_contains(r.out, "admin-socket");
	check_str_contains(r.out, "lab");
	j = json_of(&d, "audit", "--action", "pool-create", "--object", "lab", "--since", "2000-01-01", "--limit", "5",
		    NULL);
	check_int_eq(json_array_size(json_object_get(j, "audit")), 1);
	e = json_array_get(json_object_get(j, "audit"), 0);
	check_str_eq(json_string_value(json_object_get(e, "action")), "pool-create");
	check_str_eq(json_string_value(json_object_get(e, "object")), "lab");
	check_str_eq(json_string_value(json_object_get(e, "actor")), "admin-socket");
	json_decref(j);
	/* Nothing after a day in the future: --since reaches the broker as unix seconds. */
	j = json_of(&d, "audit", "--since", "2999-01-01T00:00", NULL);
	check_int_eq(json_array_size(json_object_get(j, "audit")), 0);
	json_decref(j);
	j = json_of(&d, "audit", "--action", "pool-update", "--user", "admin-socket", NULL);
	check_int_eq(json_array_size(json_object_get(j, "audit")), 1);
	json_decref(j);

	vdictl(&r, NULL, "--socket", d.socket, "host", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "URI "));
	check(table_line(r.out, "test:///default", line, sizeof(line)));
	check_str_contains(line, "yes");
	/* Drain and resume: the table says so, a host not configured is refused. */
	vdictl(&r, NULL, "--socket", d.socket, "host", "drain", "test:///default", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "host test:///default is draining: ");
	j = json_of(&d, "host", "list", NULL);
	check(json_is_true(json_object_get(json_array_get(json_object_get(j, "hosts"), 0), "draining")));
	json_decref(j);
	vdictl(&r, NULL, "--socket", d.socket, "host", "resume", "test:///default", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "host test:///default takes new desktops again");
	vdictl(&r, NULL, "--socket", d.socket, "host", "list", NULL);
	check_run(&r, 0);
	check(table_line(r.out, "test:///default", line, sizeof(line)));
	check(strstr(line, " yes ") && strstr(line, " no "));
	vdictl(&r, NULL, "--socket", d.socket, "host", "drain", "qemu+ssh://elsewhere/system", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "no host \"qemu+ssh://elsewhere/system\"");
	vdictl(&r, NULL, "--socket", d.socket, "host", "drain", NULL);
	check_run(&r, 2);

	vdictl(&r, NULL, "--socket", d.socket, "session", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "ID "));
	vdictl(&r, NULL, "--socket", d.socket, "session", "kill", "--user", "nobody", NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));

	/* A pool in use keeps its template. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "remove", "base", NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	vdictl(&r, NULL, "--socket", d.socket, "pool", "delete", "lab", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "pool \"lab\" d");
	stop_broker(&d);
}

static void test_config_and_json(void)
{
	static struct run r;
	struct daemon d;
	json_t *j;

	start_broker(&d);
	/* No --socket: [broker] admin_socket from the configuration. */
	vdictl(&r, NULL, "--config", d.conf, "pool", "list", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "NAME  TEMPLATE  TYPE  SIZE  PRESTART  MAX/USER  IDLE(s)  GROUPS  NETWORK  ISOLATED  LOCK  2ND-VIEWER  DESKTOPS\n");

	vdictl(&r, NULL, "--config", d.conf, "--json", "host", "list", NULL);
	check_run(&r, 0);
	j = parse_json(r.out);
	check(json_is_array(json_object_get(j, "hosts")));
	check_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "hosts"), 0), "uri")),
		     "test:///default");
	json_decref(j);
	/* Indented for people reading it too. */
	check_str_contains(r.out, "\n  \"hosts\": [");

	/* Errors stay on stderr in JSON mode. */
	vdictl(&r, NULL, "--config", d.conf, "--json", "pool", "delete", "nosuch", NULL);
	check_run(&r, 1);
	check_str_eq(r.out, "");
	check_str_eq(r.err, "vdictl: no such pool\n");
	stop_broker(&d);
}

static void test_local_errors(void)
{
	static struct run r;

	/* Nobody on the socket. */
	vdictl(&r, NULL, "--socket", tmp_path("nothing.sock"), "pool", "list", NULL);
	check_run(&r, 3);
	check(startswith(r.err, "vdictl: cannot connect to the socket "));
	check_str_contains(r.err, "nothing.sock");
	check_str_eq(r.out, "");

	/* Numbers are whole numbers in range, checked before anything is sent. */
	vdictl(&r, NULL, "--socket", tmp_path("nothing.sock"), "pool", "create", "p", "--template", "t", "--size",
	       "3x", NULL);
	check_run(&r, 2);
	check_str_contains(r.err, "bad number for --size: \"3x\"");
	vdictl(&r, NULL, "--socket", tmp_path("nothing.sock"), "pool", "update", "p", "--prestart", "-1", NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--socket", tmp_path("nothing.sock"), "audit", "--limit", "1001", NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--socket", tmp_path("nothing.sock"), "audit", "--since", "2024-02-30", NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--socket", tmp_path("nothing.sock"), "desktop", "stop", "abc", NULL);
	check_run(&r, 2);

	vdictl(&r, NULL, "frobnicate", NULL);
	check_run(&r, 2);
	check_str_contains(r.err, "unknown command \"frobnicate\"");
	check_str_contains(r.err, "--help");
	vdictl(&r, NULL, "pool", "frob", NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--bogus", "pool", "list", NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--help", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "vdictl pool create NAME --template T");
	vdictl(&r, NULL, "pool", "update", "--help", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "usage: vdictl pool update NAME"));

	/* A configuration that is not there is an error when named. */
	vdictl(&r, NULL, "--config", tmp_path("none.conf"), "pool", "list", NULL);
	check_run(&r, 2);
	check_str_contains(r.err, "none.conf");
}

static void test_keygen(void)
{
	static struct run r;
	const char *path = tmp_path("new.key");
	struct stat st;

	vdictl(&r, NULL, "keygen", path, NULL);
	check_run(&r, 0);
	check(stat(path, &st) == 0);
	check_int_eq(st.st_size, 32);
	check_int_eq(st.st_mode & 0777, 0640);
	check_str_contains(r.out, path);
	/* Never overwritten. */
	vdictl(&r, NULL, "keygen", path, NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "File exists");
	vdictl(&r, NULL, "keygen", NULL);
	check_run(&r, 2);
}

/* ---- template publish, --at, --cancel and rollback (issue 15) ---------------- */

/* A copy of the disk src as a new QCOW2 file name in the temp dir, as an admin prepares one; its path. */
static const char *copy_disk(const char *src, const char *name)
{
	static char path[512];
	char cmd[1200];

	snprintf(path, sizeof(path), "%s", tmp_path(name));
	snprintf(cmd, sizeof(cmd), "qemu-img convert -q -O qcow2 '%s' '%s'", src, path);
	check(system(cmd) == 0);
	return path;
}

/* Writes text to the file path in the temp dir; its path. */
static const char *write_text(const char *name, const char *text)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "we");

	check(f);
	check(fputs(text, f) >= 0);
	check(fclose(f) == 0);
	return path;
}

/* Element version v of template t's "versions" (borrowed), or NULL. */
static json_t *version_of(json_t *t, json_int_t v)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(t, "versions"), i, e)
		if (json_integer_value(json_object_get(e, "version")) == v)
			return e;
	return NULL;
}

/* template show NAME --json (a new reference). */
static json_t *show_template(const struct daemon *d, const char *name)
{
	return json_of(d, "template", "show", name, NULL);
}

/* Fails unless template name has exactly n versions and version current is current. */
static void check_versions(const struct daemon *d, const char *name, size_t n, json_int_t current)
{
	json_t *t = show_template(d, name);

	check_int_eq(json_array_size(json_object_get(t, "versions")), n);
	check_int_eq(json_integer_value(json_object_get(t, "version")), current);
	check(json_is_true(json_object_get(version_of(t, current), "current")));
	json_decref(t);
}

/* The detail of the newest audit entry of action on object (in a static buffer). */
static const char *audit_detail(const struct daemon *d, const char *action, const char *object)
{
	static char detail[1024];
	json_t *j = json_of(d, "audit", "--action", action, "--object", object, "--limit", "1", NULL);
	json_t *e = json_array_get(json_object_get(j, "audit"), 0);
	const char *text;

	check(e);
	text = json_string_value(json_object_get(e, "detail"));
	snprintf(detail, sizeof(detail), "%s", text ? text : "");
	json_decref(j);
	return detail;
}

/* publish --at schedules, a second publish is refused meanwhile, --cancel drops it. */
static void test_publish_at_cancel(void)
{
	static struct run r;
	const char *disk = make_disk("base.qcow2"), *next;
	char at[32], hhmm[8], line[1024];
	int64_t when = (int64_t)time(NULL) + 3600, got;
	struct daemon d;
	struct tm tm;
	time_t tt;
	json_t *t, *v;

	start_broker(&d);
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "base", "--disk", disk, NULL);
	check_run(&r, 0);
	next = copy_disk(disk, "base-next.qcow2");

	snprintf(at, sizeof(at), "@%lld", (long long)when);
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", next, "--note", "tonight",
	       "--at", at, NULL);
	check_run(&r, 0);
	check(startswith(r.out, "template \"base\" version 2 scheduled for "));
	t = show_template(&d, "base");
	check_int_eq(json_integer_value(json_object_get(t, "version")), 1);
	v = version_of(t, 2);
	check(v);
	check_str_eq(json_string_value(json_object_get(v, "state")), "scheduled");
	check_int_eq(json_integer_value(json_object_get(v, "at")), when);
	check(!json_is_true(json_object_get(v, "current")));
	json_decref(t);
	vdictl(&r, NULL, "--socket", d.socket, "template", "show", "base", NULL);
	check_run(&r, 0);
	check(table_line(r.out, "2", line, sizeof(line)));
	check_str_contains(line, " scheduled ");
	check(!strstr(line, "current"));
	check_str_contains(audit_detail(&d, "template-publish", "base"), "version 2 scheduled for ");

	/* One publish at a time. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", next, NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	check_versions(&d, "base", 2, 1);

	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--cancel", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "template \"base\": the scheduled publish is cancelled\n");
	t = show_template(&d, "base");
	check_int_eq(json_integer_value(json_object_get(t, "version")), 1);
	v = version_of(t, 2);
	check(!v || !streq_ptr(json_string_value(json_object_get(v, "state")), "scheduled"));
	json_decref(t);
	check_str_contains(audit_detail(&d, "template-publish", "base"), "cancelled");
	/* Nothing left to cancel. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--cancel", NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));

	/* HH:MM: the next such local time, within a day. */
	tt = (time_t)(time(NULL) + 7200);
	check(localtime_r(&tt, &tm));
	check(strftime(hhmm, sizeof(hhmm), "%H:%M", &tm) == 5);
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", next, "--at", hhmm, NULL);
	check_run(&r, 0);
	check_str_contains(r.out, " scheduled for ");
	t = show_template(&d, "base");
	v = json_array_get(json_object_get(t, "versions"), 0);
	check_str_eq(json_string_value(json_object_get(v, "state")), "scheduled");
	got = json_integer_value(json_object_get(v, "at"));
	check(got > (int64_t)time(NULL) + 7200 - 120 && got <= (int64_t)time(NULL) + 7200);
	json_decref(t);
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--cancel", NULL);
	check_run(&r, 0);

	/* A time that has passed is refused here; nothing is sent. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", next, "--at",
	       "2001-01-01 00:00", NULL);
	check_run(&r, 2);
	check_str_contains(r.err, "is in the past");
	t = show_template(&d, "base");
	check_int_eq(json_integer_value(json_object_get(t, "version")), 1);
	check(!streq_ptr(json_string_value(json_object_get(json_array_get(json_object_get(t, "versions"), 0), "state")),
			 "scheduled"));
	json_decref(t);
	stop_broker(&d);
}

/* The 4xx of publish: exit 1, the broker's message, nothing changed. */
static void test_publish_refused(void)
{
	static struct run r;
	const char *disk = make_disk("base.qcow2"), *next, *notimage, *empty;
	char note[600];
	struct daemon d;

	start_broker(&d);
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "base", "--disk", disk, NULL);
	check_run(&r, 0);
	next = copy_disk(disk, "base-next.qcow2");
	notimage = write_text("notes.txt", "this is not a disk image\n");
	empty = write_text("empty.img", "");

	/* A disk that is not there, absolute: the broker's to refuse. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", "/no/such/disk.qcow2", NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	check_str_eq(r.out, "");
	/* Relative and not there: refused here (exit 2), nothing sent. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", "no/such.qcow2", NULL);
	check_run(&r, 2);
	/* Not an image: text, or empty. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", notimage, NULL);
	check_run(&r, 1);
	check(startswith(r.err, "vdictl: "));
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", empty, NULL);
	check_run(&r, 1);
	/* A note longer than 500 bytes. */
	memset(note, 'n', 501);
	note[501] = '\0';
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--disk", next, "--note", note, NULL);
	check_run(&r, 1);
	/* No such template. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "nosuch", "--disk", next, NULL);
	check_run(&r, 1);
	check_str_eq(r.err, "vdictl: no such template \"nosuch\"\n");
	/* Rollback with nothing to go back to. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "rollback", "base", NULL);
	check_run(&r, 1);
	vdictl(&r, NULL, "--socket", d.socket, "template", "rollback", "base", "--to", "2", NULL);
	check_run(&r, 1);
	check_versions(&d, "base", 1, 1);

	/* A publish that works needs a real host: tests/test-golden.c has it (test:///default reads no files). */
	stop_broker(&d);
}

/* template edit on test:///default: one maintenance desktop per template, shown, refusing what it must, discarded. */
static void test_maintenance(void)
{
	static struct run r;
	const char *disk = make_disk("base.qcow2");
	struct daemon d;
	json_t *t, *m;
	char domain[128];

	start_broker(&d);
	vdictl(&r, NULL, "--socket", d.socket, "template", "add", "base", "--disk", disk, NULL);
	check_run(&r, 0);
	t = show_template(&d, "base");
	check(json_is_null(json_object_get(t, "maintenance")));
	json_decref(t);
	vdictl(&r, NULL, "--socket", d.socket, "template", "console", "base", NULL);
	check_run(&r, 1);
	check_str_eq(r.err, "vdictl: template \"base\" has no maintenance desktop\n");

	/* Made and running when vdictl returns. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "edit", "base", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "template \"base\": maintenance desktop vdi-_maintenance-");
	check_str_contains(r.out, "(running) on test:///default, version 1");
	/* Booting it again needs it stopped. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "edit", "base", "--start", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "is running");
	t = show_template(&d, "base");
	m = json_object_get(t, "maintenance");
	check_str_eq(json_string_value(json_object_get(m, "state")), "running");
	check_str_eq(json_string_value(json_object_get(m, "started_by")), "admin-socket");
	check_int_eq(json_integer_value(json_object_get(m, "version")), 1);
	check(json_is_true(json_object_get(m, "current")));
	check(startswith(json_string_value(json_object_get(m, "domain")), "vdi-_maintenance-"));
	snprintf(domain, sizeof(domain), "%s", json_string_value(json_object_get(m, "domain")));
	json_decref(t);
	vdictl(&r, NULL, "--socket", d.socket, "template", "show", "base", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, "\nmaintenance desktop: vdi-_maintenance-");
	check_str_contains(r.out, ", started by admin-socket at ");
	check_str_contains(audit_detail(&d, "template-edit", "base"), "started on version 1: vdi-_maintenance-");

	/* One per template; it keeps the template; it must be shut down before a publish. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "edit", "base", NULL);
	check_run(&r, 1);
	check_str_eq(r.err, "vdictl: template \"base\" has a maintenance desktop already (running)\n");
	vdictl(&r, NULL, "--socket", d.socket, "template", "remove", "base", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "has a maintenance desktop");
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--from-maintenance", "--note", "x", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "vdictl: shut down the maintenance desktop first");
	check_versions(&d, "base", 1, 1);
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--from-maintenance", "--disk", disk, NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--from-maintenance", "--at", "@1", NULL);
	check_run(&r, 2);
	/* A pool may not take the maintenance desktops' name. */
	vdictl(&r, NULL, "--socket", d.socket, "pool", "create", "_maintenance", "--template", "base", "--size", "1",
	       NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "reserved");

	vdictl(&r, NULL, "--socket", d.socket, "template", "edit", "base", "--discard", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "template \"base\": the maintenance desktop is discarded\n");
	t = show_template(&d, "base");
	check(json_is_null(json_object_get(t, "maintenance")));
	json_decref(t);
	check_str_contains(audit_detail(&d, "template-edit", "base"), "discarded: ");
	vdictl(&r, NULL, "--socket", d.socket, "template", "edit", "base", "--discard", NULL);
	check_run(&r, 1);
	vdictl(&r, NULL, "--socket", d.socket, "template", "publish", "base", "--from-maintenance", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "has no maintenance desktop");
	vdictl(&r, NULL, "--socket", d.socket, "template", "edit", "nosuch", NULL);
	check_run(&r, 1);
	check_str_eq(r.err, "vdictl: no such template \"nosuch\"\n");
	/* Gone: the template goes too. */
	vdictl(&r, NULL, "--socket", d.socket, "template", "remove", "base", NULL);
	check_run(&r, 0);
	stop_broker(&d);
}

/* vdictl network list|add|remove on test:///default (which has an active "default" network), and the hosts'
 * networks in host list. */
static void test_networks(void)
{
	struct daemon d;
	struct run r;
	char line[1024];
	uint64_t end;
	json_t *j;

	start_broker(&d);
	vdictl(&r, NULL, "--socket", d.socket, "network", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "HOST "));
	check_str_contains(r.out, " NAME ");
	check_str_contains(r.out, " SUBNET");
	check(table_line(r.out, "test:///default", line, sizeof(line)));
	check_str_contains(line, " default ");
	check_str_contains(line, " yes ");
	check_str_contains(line, "192.168.122.0/24");

	/* Bad input: the broker's message, nothing made; missing options: a usage error. */
	vdictl(&r, NULL, "--socket", d.socket, "network", "add", "vdinet", "--mode", "bridge", "--subnet",
	       "10.77.0.0/24", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "mode:");
	vdictl(&r, NULL, "--socket", d.socket, "network", "add", "vdinet", "--mode", "nat", "--subnet",
	       "192.168.122.128/25", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "overlaps libvirt network \"default\"");
	vdictl(&r, NULL, "--socket", d.socket, "network", "add", "vdinet", "--mode", "nat", NULL);
	check_run(&r, 2);
	vdictl(&r, NULL, "--socket", d.socket, "network", "add", "--mode", "nat", "--subnet", "10.77.0.0/24", NULL);
	check_run(&r, 2);
	j = json_of(&d, "network", "list", NULL);
	check_int_eq(json_array_size(json_object_get(j, "networks")), 1);
	json_decref(j);

	vdictl(&r, NULL, "--socket", d.socket, "network", "add", "vdinet", "--mode", "routed", "--subnet",
	       "10.77.0.0/24", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "network \"vdinet\" added on test:///default\n");
	vdictl(&r, NULL, "--socket", d.socket, "network", "list", NULL);
	check_run(&r, 0);
	check_str_contains(r.out, " vdinet ");
	check_str_contains(r.out, "10.77.0.0/24");
	vdictl(&r, NULL, "--socket", d.socket, "network", "add", "vdinet", "--mode", "nat", "--subnet",
	       "10.78.0.0/24", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "exists already");

	/* host list: NETWORKS once the host was looked at (the new one at once after that). */
	end = vdi_test_now_ms() + 15000;
	for (;;) {
		vdictl(&r, NULL, "--socket", d.socket, "host", "list", NULL);
		check_run(&r, 0);
		check(table_line(r.out, "test:///default", line, sizeof(line)));
		if (strstr(line, "default,vdinet") || strstr(line, "vdinet,default"))
			break;
		check(vdi_test_now_ms() < end);
		usleep(100 * 1000);
	}
	check_str_contains(r.out, "NETWORKS");
	check_str_contains(r.out, "MISSING NETWORKS");

	vdictl(&r, NULL, "--socket", d.socket, "network", "remove", "vdinet", NULL);
	check_run(&r, 0);
	check_str_eq(r.out, "network \"vdinet\" removed from test:///default\n");
	vdictl(&r, NULL, "--socket", d.socket, "network", "remove", "vdinet", NULL);
	check_run(&r, 1);
	check_str_contains(r.err, "no host has libvirt network \"vdinet\"");
	vdictl(&r, NULL, "--socket", d.socket, "network", "remove", NULL);
	check_run(&r, 2);
	j = json_of(&d, "network", "list", NULL);
	check_int_eq(json_array_size(json_object_get(j, "networks")), 1);
	json_decref(j);
	stop_broker(&d);
}

/* host list's HARDWARE: what test:///default offered at the broker's look ("-" while not known: the test driver
 * may not answer domain capabilities), as the JSON's "hardware" says. */
static void test_host_hardware(void)
{
	struct daemon d;
	struct run r;
	char line[1024], want[256] = "";
	uint64_t end;
	json_t *j, *h, *hw, *v;
	size_t k;

	start_broker(&d);
	end = vdi_test_now_ms() + 15000;
	for (;;) {
		j = json_of(&d, "host", "list", NULL);
		h = json_array_get(json_object_get(j, "hosts"), 0);
		if (json_is_integer(json_object_get(h, "looked_at")))
			break;
		json_decref(j);
		check(vdi_test_now_ms() < end);
		usleep(100 * 1000);
	}
	hw = json_object_get(h, "hardware");
	check(json_is_null(hw) || json_is_array(hw));
	json_array_foreach(hw, k, v) {
		check(streq(json_string_value(v), "uefi") || streq(json_string_value(v), "secure-boot") ||
		      streq(json_string_value(v), "tpm"));
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", k ? "," : "", json_string_value(v));
	}
	if (json_is_null(hw))
		strcpy(want, "-");
	else if (!json_array_size(hw))
		strcpy(want, "none");
	vdi_test_log("test:///default hardware: %s", want);
	json_decref(j);
	vdictl(&r, NULL, "--socket", d.socket, "host", "list", NULL);
	check_run(&r, 0);
	check(startswith(r.out, "URI "));
	check_str_contains(r.out, "  HARDWARE\n");
	check(table_line(r.out, "test:///default", line, sizeof(line)));
	/* The last column. */
	check(strlen(line) >= strlen(want) && streq(line + strlen(line) - strlen(want), want));
	stop_broker(&d);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_local_errors),
	VDI_TEST(test_keygen),
	VDI_TEST(test_templates),
	VDI_TEST(test_template_show),
	VDI_TEST(test_pools_desktops_audit),
	VDI_TEST(test_config_and_json),
	/* Issue 15: these need the broker's publish/rollback endpoints. */
	VDI_TEST(test_publish_at_cancel),
	VDI_TEST(test_publish_refused),
	VDI_TEST(test_maintenance),
	VDI_TEST(test_networks),
	VDI_TEST(test_host_hardware),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
