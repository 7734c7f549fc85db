/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fixture of the tests with real desktops: see desktop-fixture.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "token.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define URI FIXTURE_URI
#define MAX_USERS FIXTURE_MAX_USERS

void fixture_user_name(int i, char *buf, size_t len)
{
	snprintf(buf, len, "u%02d", i);
}

/* Users u01..u30 (password "uNN-pw") in the group "lab" and the admin "adm" (password
 * "adm-pw"), for this test's broker only. */
static void write_users(void)
{
	char path[600];
	FILE *pw, *db, *gr;

	snprintf(path, sizeof(path), "%s/passwd", vdi_test_tmpdir());
	check(pw = fopen(path, "we"));
	check_int_eq(setenv("NSS_WRAPPER_PASSWD", path, 1), 0);
	snprintf(path, sizeof(path), "%s/passdb", vdi_test_tmpdir());
	check(db = fopen(path, "we"));
	check_int_eq(setenv("PAM_MATRIX_PASSWD", path, 1), 0);
	snprintf(path, sizeof(path), "%s/group", vdi_test_tmpdir());
	check(gr = fopen(path, "we"));
	check_int_eq(setenv("NSS_WRAPPER_GROUP", path, 1), 0);
	fputs("lab:x:4000:", gr);
	for (int i = 1; i <= MAX_USERS; i++) {
		char u[8];

		fixture_user_name(i, u, sizeof(u));
		fprintf(pw, "%s:x:%d:%d:User %d:/nonexistent:/usr/sbin/nologin\n", u, 5000 + i, 5000 + i, i);
		fprintf(db, "%s:%s-pw:vdi-test\n", u, u);
		fprintf(gr, "%s%s", i > 1 ? "," : "", u);
	}
	fputs("\n", gr);
	/* The admin: a member of [pam] admin_group. */
	fputs("adm:x:4900:4900:Admin:/nonexistent:/usr/sbin/nologin\n", pw);
	fputs("adm:adm-pw:vdi-test\n", db);
	fputs("vdiadmin:x:4100:adm\n", gr);
	fclose(pw);
	fclose(db);
	fclose(gr);
}

void fixture_login(struct fixture *f, struct user *u, int i)
{
	char name[8], pw[16];

	fixture_user_name(i, name, sizeof(name));
	snprintf(pw, sizeof(pw), "%s-pw", name);
	user_login(&f->d, u, name, pw);
}

/* A template named name from the test guest, whose kernel command line gets extra_cmdline.  Its lock_command is
 * the guest's own /bin/vdi-lock (the default, loginctl, is not in the test guest): a persistent pool's desktops
 * are locked when their viewer leaves, and that must not fail in every test that has one. */
void fixture_add_template(struct fixture *f, const char *name, const char *extra_cmdline)
{
	_cleanup_free_ char *disk = test_guest_path("template.qcow2");

	fixture_add_template_disk(f, name, disk, extra_cmdline);
}

void fixture_add_template_disk(struct fixture *f, const char *name, const char *disk, const char *extra_cmdline)
{
	_cleanup_free_ char *xml = test_guest_xml(extra_cmdline);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "disk", disk, "xml", xml, "lock_command",
				 "/bin/vdi-lock");
	_cleanup_free_ char *text = json_dumps(body, 0);

	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/templates", text, 201));
	json_decref(body);
}

void fixture_add_pool(struct fixture *f, const char *name, const char *tmpl, const char *type, int size,
		     int idle_timeout)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"template\":\"%s\",\"type\":\"%s\",\"size\":%d,\"idle_timeout\":%d,"
		 "\"groups\":[\"lab\"]}",
		 name, tmpl, type, size, idle_timeout);
	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/pools", body, 201));
}

/* The test's CA and the certificates "broker" and "gateway" in f->tls_dir (tests/tls/make-certs). */
static void make_certs(struct fixture *f)
{
	char cmd[1500];

	snprintf(f->tls_dir, sizeof(f->tls_dir), "%s/tls", vdi_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/tls/make-certs' '%s' broker gateway", test_env_or_fail("VDI_SOURCE_ROOT"),
		 f->tls_dir);
	check_int_eq(system(cmd), 0);
}

/* Appends to buf the lines naming certificate name of f->tls_dir and its key, and the CA when ca. */
static void append_tls(const struct fixture *f, const char *name, bool ca, char *buf, size_t len)
{
	size_t n = strlen(buf);
	const char *d = f->tls_dir;

	check((size_t)snprintf(buf + n, len - n, "tls_cert = %s/%s.pem\ntls_key = %s/%s.key\n%s%s%s", d, name, d, name,
			       ca ? "tls_ca = " : "", ca ? d : "", ca ? "/ca.pem\n" : "") < len - n);
}

/* vdi-gateway on 127.0.0.1, any port, admitting the SPICE sockets of this test's desktops (and extra_targets);
 * with TLS when f->tls_dir is set. */
static void start_gateway(struct fixture *f, const char *extra_targets)
{
	const char *bin = test_env_or_fail("VDI_GATEWAY_BIN");
	char conf[600], line[512], tls[2000] = "";
	uint64_t end;
	FILE *c;
	int out;

	if (*f->tls_dir)
		append_tls(f, "gateway", true, tls, sizeof(tls));
	snprintf(conf, sizeof(conf), "%s/gateway.conf", vdi_test_tmpdir());
	snprintf(f->gateway_log, sizeof(f->gateway_log), "%s/gateway.log", vdi_test_tmpdir());
	check(c = fopen(conf, "we"));
	fprintf(c, "[gateway]\nlisten = 127.0.0.1:0\nallowed_targets = unix:%s/run/spice/%s%s\n%s[tokens]\nkey_file = %s\n",
		vdi_test_tmpdir(), extra_targets ? ", " : "", extra_targets ? extra_targets : "", tls, f->key_path);
	fclose(c);
	if (access(f->key_path, F_OK) != 0)
		check_ok(vdi_token_key_generate(f->key_path, NULL));
	out = open(f->gateway_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(out >= 0);
	f->gateway = fork();
	check(f->gateway >= 0);
	if (f->gateway == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(out, 2);
		execl(bin, bin, "--config", conf, (char *)NULL);
		_exit(127);
	}
	close(out);
	for (end = vdi_test_now_ms() + 10000; !f->gateway_port && vdi_test_now_ms() < end; usleep(20 * 1000)) {
		FILE *l = fopen(f->gateway_log, "re");

		while (l && fgets(line, sizeof(line), l))
			if (strstr(line, "listening on port "))
				f->gateway_port = atoi(strstr(line, "listening on port ") + strlen("listening on port "));
		if (l)
			fclose(l);
	}
	check(f->gateway_port > 0);
}

bool fixture_gateway_log_has(struct fixture *f, const char *needle)
{
	FILE *l = fopen(f->gateway_log, "re");
	char line[1024];
	bool found = false;

	while (l && !found && fgets(line, sizeof(line), l))
		found = strstr(line, needle) != NULL;
	if (l)
		fclose(l);
	return found;
}

/* Destroys and undefines the domains whose names are this test process's (fixture_ours()). */
static void remove_our_domains(virConnectPtr c)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(c, &doms, 0);

	for (int i = 0; i < n; i++) {
		char pool[40];
		int64_t id;

		if (fixture_ours(virDomainGetName(doms[i]), pool, sizeof(pool), &id)) {
			(void)virDomainDestroy(doms[i]);
			(void)virDomainUndefine(doms[i]);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}

void fixture_setup(struct fixture *f, bool gateway, const char *broker_conf)
{
	fixture_setup_with(f, gateway, broker_conf, NULL);
}

void fixture_setup_with(struct fixture *f, bool gateway, const char *broker_conf, const struct fixture_options *o)
{
	static const struct fixture_options none = { 0 };
	char libvirt[4096], conf[4096];

	test_require_libvirt(URI);
	test_cleanup_stale_runs(URI);
	{
		/* A killed run of long ago may have left domains under the names this pid gives its
		 * pools (pids come round again): they would make our desktops' names taken. */
		virConnectPtr c = virConnectOpen(URI);

		check(c);
		remove_our_domains(c);
		virConnectClose(c);
	}
	memset(f, 0, sizeof(*f));
	snprintf(f->storage_pool, sizeof(f->storage_pool), "vdi-test-%d-%d", (int)getppid(), (int)getpid());
	snprintf(f->images, sizeof(f->images), "%s/images", vdi_test_tmpdir());
	snprintf(f->pool, sizeof(f->pool), "p%d", (int)getpid());
	snprintf(f->key_path, sizeof(f->key_path), "%s/token.key", vdi_test_tmpdir());
	write_users();
	if (!o)
		o = &none;
	if (o->tls || o->tls_gateway)
		make_certs(f);
	snprintf(libvirt, sizeof(libvirt), "hosts = %s%s%s\nstorage_pool = %s\nshutdown_timeout = 20\n", URI,
		 o->extra_hosts ? ", " : "", o->extra_hosts ? o->extra_hosts : "", f->storage_pool);
	if (gateway) {
		/* The broker's console URLs and .vv files name the gateway. */
		start_gateway(f, o->extra_targets);
		snprintf(libvirt + strlen(libvirt), sizeof(libvirt) - strlen(libvirt),
			 "[gateway]\npublic_url = %s://127.0.0.1:%d\n", *f->tls_dir ? "wss" : "ws", f->gateway_port);
		/* As one vdi.conf says it for both daemons: the broker's .vv files name the gateway's CA. */
		if (*f->tls_dir)
			append_tls(f, "gateway", true, libvirt, sizeof(libvirt));
	}
	check((size_t)snprintf(conf, sizeof(conf), "%s", broker_conf ? broker_conf : "") < sizeof(conf));
	if (o->tls)
		append_tls(f, "broker", false, conf, sizeof(conf));
	start_broker_with(&f->d, conf, libvirt);
}

/* Domain names of this test's broker pools: "vdi-<p|q|s><pid>-<id>". */
bool fixture_ours(const char *name, char *pool, size_t poollen, int64_t *id)
{
	char suffix[24];
	size_t slen;

	if (pool_domain_name_parse(name, pool, poollen, id) < 0)
		return false;
	snprintf(suffix, sizeof(suffix), "%d", (int)getpid());
	slen = strlen(suffix);
	return strlen(pool) == slen + 1 && streq(pool + 1, suffix);
}

/* Removes every domain of this test and the storage pool (the temp dir goes with the test). */
void fixture_teardown(struct fixture *f)
{
	virConnectPtr c;
	virStoragePoolPtr sp;

	stop_broker(&f->d);
	if (f->gateway > 0) {
		int status;

		check(kill(f->gateway, SIGTERM) == 0);
		check(waitpid(f->gateway, &status, 0) == f->gateway);
		check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	c = virConnectOpen(URI);
	check(c);
	remove_our_domains(c);
	sp = virStoragePoolLookupByName(c, f->storage_pool);
	if (sp) {
		(void)virStoragePoolDestroy(sp);
		(void)virStoragePoolUndefine(sp);
		virStoragePoolFree(sp);
	}
	virConnectClose(c);
}

/* ---- what libvirt and the disks hold -------------------------------------------------------- */


bool fixture_ids_has(const struct fixture_ids *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

/* Desktop ids of pool's domains in libvirt. */
void fixture_libvirt_ids(const char *pool, struct fixture_ids *ret)
{
	fixture_libvirt_ids_at(URI, pool, ret);
}

void fixture_libvirt_ids_at(const char *uri, const char *pool, struct fixture_ids *ret)
{
	virConnectPtr c = virConnectOpen(uri);
	virDomainPtr *doms = NULL;
	int n;

	check(c);
	memset(ret, 0, sizeof(*ret));
	n = virConnectListAllDomains(c, &doms, 0);
	check(n >= 0);
	for (int i = 0; i < n; i++) {
		char p[40];
		int64_t id;

		if (pool_domain_name_parse(virDomainGetName(doms[i]), p, sizeof(p), &id) >= 0 && streq(p, pool) &&
		    ret->n < ELEMENTSOF(ret->ids)) {
			ret->running[ret->n] = virDomainIsActive(doms[i]) == 1;
			ret->ids[ret->n++] = id;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(c);
}

/* Desktop ids of pool's overlay files in the images directory (the disk itself, not libvirt's idea). */
void fixture_overlay_ids(struct fixture *f, const char *pool, struct fixture_ids *ret)
{
	DIR *dir = opendir(f->images);
	struct dirent *e;

	memset(ret, 0, sizeof(*ret));
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char name[256], p[40];
		size_t len = strlen(e->d_name);
		int64_t id;

		if (len <= 6 || len >= sizeof(name) || !streq(e->d_name + len - 6, ".qcow2"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 6), e->d_name);
		if (pool_domain_name_parse(name, p, sizeof(p), &id) >= 0 && streq(p, pool) &&
		    ret->n < ELEMENTSOF(ret->ids))
			ret->ids[ret->n++] = id;
	}
	closedir(dir);
}

/* Whether name is "vdi-<pool>-<id><suffix>"; its id. */
static bool desktop_file_name(const char *name, const char *suffix, const char *pool, int64_t *id)
{
	size_t len = strlen(name), slen = strlen(suffix);
	char base[256], p[40];

	if (len <= slen || len - slen >= sizeof(base) || !streq(name + len - slen, suffix))
		return false;
	snprintf(base, sizeof(base), "%.*s", (int)(len - slen), name);
	return pool_domain_name_parse(base, p, sizeof(p), id) >= 0 && streq(p, pool);
}

void fixture_volume_ids_at(const char *uri, const char *storage_pool, const char *pool, struct fixture_ids *ret)
{
	virConnectPtr c = virConnectOpen(uri);
	virStoragePoolPtr sp;
	virStorageVolPtr *vols = NULL;
	int n;

	check(c);
	memset(ret, 0, sizeof(*ret));
	sp = virStoragePoolLookupByName(c, storage_pool);
	if (!sp)
		vdi_test_fail(__FILE__, __LINE__, "no storage pool %s on %s: %s", storage_pool, uri, virGetLastErrorMessage());
	check_int_eq(virStoragePoolRefresh(sp, 0), 0);
	n = virStoragePoolListAllVolumes(sp, &vols, 0);
	check(n >= 0);
	for (int i = 0; i < n; i++) {
		int64_t id;

		if (desktop_file_name(virStorageVolGetName(vols[i]), ".qcow2", pool, &id) && ret->n < ELEMENTSOF(ret->ids))
			ret->ids[ret->n++] = id;
		virStorageVolFree(vols[i]);
	}
	free(vols);
	virStoragePoolFree(sp);
	virConnectClose(c);
}

void fixture_socket_ids(const char *pool, struct fixture_ids *ret)
{
	char path[600];
	DIR *dir;
	struct dirent *e;

	memset(ret, 0, sizeof(*ret));
	snprintf(path, sizeof(path), "%s/run/spice", vdi_test_tmpdir());
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		int64_t id;

		if (desktop_file_name(e->d_name, ".sock", pool, &id) && ret->n < ELEMENTSOF(ret->ids))
			ret->ids[ret->n++] = id;
	}
	closedir(dir);
}

static bool store_says_running(const char *state)
{
	return streq(state, "free") || streq(state, "assigned") || streq(state, "connected") ||
	       streq(state, "disconnected");
}

void fixture_check_libvirt_agrees(struct fixture *f, const char *pool, json_t *listing)
{
	struct fixture_ids doms, vols, socks;
	json_t *rows = json_object_get(listing, "desktops"), *dk;
	size_t i, n_running = 0;

	fixture_libvirt_ids(pool, &doms);
	fixture_volume_ids_at(URI, f->storage_pool, pool, &vols);
	fixture_socket_ids(pool, &socks);
	json_array_foreach(rows, i, dk) {
		int64_t id = json_integer_value(json_object_get(dk, "id"));
		const char *state = json_string_value(json_object_get(dk, "state"));
		bool active = false;
		size_t nvol = 0;

		for (size_t k = 0; k < doms.n; k++)
			if (doms.ids[k] == id)
				active = doms.running[k];
		for (size_t k = 0; k < vols.n; k++)
			nvol += vols.ids[k] == id;
		if (store_says_running(state) && !active)
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld is %s in the store, not running in libvirt", (long long)id,
				      state);
		if (streq(state, "stopped") && active)
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld is stopped in the store, running in libvirt", (long long)id);
		if (nvol != 1)
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld has %zu volumes in storage pool %s", (long long)id, nvol,
				      f->storage_pool);
		n_running += active;
	}
	/* Every volume is of a row (one each, above): no other. */
	check_int_eq(vols.n, json_array_size(rows));
	for (size_t k = 0; k < socks.n; k++) {
		bool active = false;

		for (size_t m = 0; m < doms.n; m++)
			if (doms.ids[m] == socks.ids[k])
				active = doms.running[m];
		if (!active)
			vdi_test_fail(__FILE__, __LINE__, "SPICE socket of desktop %lld left, with no desktop running",
				      (long long)socks.ids[k]);
	}
	vdi_test_log("pool %s: %zu rows, %zu running in libvirt, %zu volumes, %zu SPICE sockets", pool,
		     json_array_size(rows), n_running, vols.n, socks.n);
}

/* The target path of a storage pool's XML (a new string), or NULL. */
static char *pool_target_path(virStoragePoolPtr sp)
{
	_cleanup_free_ char *xml = virStoragePoolGetXMLDesc(sp, 0);
	char *p = xml ? strstr(xml, "<path>") : NULL, *e = p ? strstr(p, "</path>") : NULL;

	if (!p || !e)
		return NULL;
	p += strlen("<path>");
	return strndup(p, (size_t)(e - p));
}

size_t fixture_pools_under(const char *dir, bool remove, char *names, size_t len)
{
	virConnectPtr c = virConnectOpen(URI);
	virStoragePoolPtr *pools = NULL;
	size_t dlen = strlen(dir), found = 0;
	int n;

	check(c);
	if (names && len)
		names[0] = '\0';
	n = virConnectListAllStoragePools(c, &pools, 0);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *path = pool_target_path(pools[i]);

		if (path && strncmp(path, dir, dlen) == 0 && (path[dlen] == '\0' || path[dlen] == '/')) {
			found++;
			if (names && len)
				snprintf(names + strlen(names), len - strlen(names), "%s%s (%s)", found > 1 ? ", " : "",
					 virStoragePoolGetName(pools[i]), path);
			if (remove) {
				(void)virStoragePoolDestroy(pools[i]);
				(void)virStoragePoolUndefine(pools[i]);
			}
		}
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	virConnectClose(c);
	return found;
}

void fixture_domain(const char *pool, int64_t id, char *buf, size_t len)
{
	check_ok(pool_domain_name(pool, id, buf, len));
}

char *fixture_overlay(struct fixture *f, const char *pool, int64_t id)
{
	char domain[128], *p;

	fixture_domain(pool, id, domain, sizeof(domain));
	check(asprintf(&p, "%s/%s.qcow2", f->images, domain) > 0);
	return p;
}

/* The admin's view of pool's desktops. */
json_t *fixture_desktops(struct fixture *f, const char *pool)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/desktops?pool=%s", pool);
	return admin_json(&f->d, "GET", path, NULL, 200);
}

static bool transient(const char *state)
{
	return streq(state, "provisioning") || streq(state, "starting") || streq(state, "resetting") ||
	       streq(state, "deleting");
}

/* Waits until no desktop of pool is on its way somewhere and the listing stays the same for 3 s. */
json_t *fixture_wait_settled(struct fixture *f, const char *pool, unsigned timeout_ms)
{
	uint64_t end = vdi_test_now_ms() + timeout_ms, stable_since = 0;
	_cleanup_free_ char *last = NULL;

	for (;;) {
		json_t *j = fixture_desktops(f, pool), *dk;
		_cleanup_free_ char *text = NULL;
		bool moving = false;
		size_t i;

		json_array_foreach(json_object_get(j, "desktops"), i, dk) {
			json_object_del(dk, "updated");
			if (transient(json_string_value(json_object_get(dk, "state"))))
				moving = true;
		}
		text = json_dumps(j, JSON_SORT_KEYS);
		if (!moving && last && streq(text, last)) {
			if (vdi_test_now_ms() - stable_since >= 3000)
				return j;
		} else {
			stable_since = vdi_test_now_ms();
			free(last);
			last = TAKE_PTR(text);
		}
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "pool %s did not settle: %s", pool, last);
		json_decref(j);
		usleep(200 * 1000);
	}
}

/* The store, libvirt and the disk agree on pool: the same desktop ids everywhere. */
void fixture_check_no_orphans(struct fixture *f, const char *pool, json_t *listing)
{
	struct fixture_ids doms, files;
	json_t *dk;
	size_t i, rows = json_array_size(json_object_get(listing, "desktops"));

	fixture_libvirt_ids(pool, &doms);
	fixture_overlay_ids(f, pool, &files);
	vdi_test_log("pool %s: %zu rows, %zu domains, %zu overlays", pool, rows, doms.n, files.n);
	json_array_foreach(json_object_get(listing, "desktops"), i, dk) {
		int64_t id = json_integer_value(json_object_get(dk, "id"));

		if (!fixture_ids_has(&doms, id) || !fixture_ids_has(&files, id))
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld (%s) has %s%s", (long long)id,
				      json_string_value(json_object_get(dk, "state")),
				      fixture_ids_has(&doms, id) ? "" : "no domain ", fixture_ids_has(&files, id) ? "" : "no overlay");
	}
	check_int_eq(doms.n, rows);
	check_int_eq(files.n, rows);
}

int64_t fixture_ask(struct fixture *f, struct user *u, const char *pool, int want_status)
{
	char path[128];
	json_t *j = NULL;
	int64_t id;

	snprintf(path, sizeof(path), "/api/v1/pools/%s/desktop", pool);
	check_int_eq(user_req(&f->d, u, "POST", path, NULL, &j), want_status);
	id = json_integer_value(json_object_get(j, "id"));
	check(id > 0);
	json_decref(j);
	return id;
}

void fixture_release(struct fixture *f, struct user *u, int64_t id)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/release", (long long)id);
	check_int_eq(user_req(&f->d, u, "POST", path, NULL, NULL), 202);
}

int64_t fixture_running_desktop(struct fixture *f, struct user *u, int idle_timeout)
{
	int64_t id;

	fixture_add_template(f, "golden", NULL);
	fixture_add_pool(f, f->pool, "golden", "pooled", 1, idle_timeout);
	fixture_login(f, u, 1);
	id = fixture_ask(f, u, f->pool, 202);
	check(wait_desktop_state(&f->d, u, id, "assigned", FIXTURE_BOOT_MS));
	return id;
}
