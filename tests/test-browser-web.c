/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The web pages (web/) end to end in Debian's chromium, with real desktops: vdi-broker serving
 * web/ and vdi-gateway, the test guest as template, a pooled pool with a desktop started ahead.
 * tests/browser/web-e2e.mjs plays the users (log in, Connect, the guest's banner on screen,
 * resize, Ctrl-Alt-Del, a dropped connection, .vv, Release, logout; another user who sees none of
 * it, and whose Connect on a pool with nothing started shows progress until the console opens;
 * a non-admin on the admin page; an admin who creates a pool, watches it provision, resets a
 * desktop and deletes the pool, starts the template's maintenance desktop, opens its console,
 * publishes from it once shut down and watches the rollout, publishes from a disk, schedules and
 * cancels a publish, rolls back).  Here the store and libvirt are checked afterwards, and the
 * screenshots are kept in VDI_SCREENSHOT_DIR (build/tests/screenshots).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>

#include "alloc.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "screen.h"
#include "vmpool-test.h"

#define BOOT_MS 180000

/* Desktops of a pool (admin view), optionally only those in state. */
static json_t *pool_desktops(struct fixture *f, const char *pool, const char *state)
{
	char path[160];

	snprintf(path, sizeof(path), "/api/v1/admin/desktops?pool=%s%s%s", pool, state ? "&state=" : "",
		 state ? state : "");
	return admin_json(&f->d, "GET", path, NULL, 200);
}

static size_t audit_count(struct fixture *f, const char *query)
{
	char path[200];
	json_t *j;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/admin/audit?%s", query);
	j = admin_json(&f->d, "GET", path, NULL, 200);
	n = json_array_size(json_object_get(j, "audit"));
	json_decref(j);
	return n;
}

static bool pool_exists(struct fixture *f, const char *pool)
{
	json_t *j = admin_json(&f->d, "GET", "/api/v1/admin/pools", NULL, 200), *p;
	bool found = false;
	size_t i;

	json_array_foreach(json_object_get(j, "pools"), i, p)
		found |= streq_ptr(json_string_value(json_object_get(p, "name")), pool);
	json_decref(j);
	return found;
}

/* libvirt domains of the broker pool (none must outlive its deletion). */
static int domains_of(const char *pool)
{
	virConnectPtr c = virConnectOpen(FIXTURE_URI);
	virDomainPtr *doms = NULL;
	int n, count = 0;

	check(c);
	n = virConnectListAllDomains(c, &doms, 0);
	check(n >= 0);
	for (int i = 0; i < n; i++) {
		char p[40];
		int64_t id;

		if (fixture_ours(virDomainGetName(doms[i]), p, sizeof(p), &id) && streq(p, pool))
			count++;
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(c);
	return count;
}

static void keep_screenshots(const char *dir)
{
	const char *keep = getenv("VDI_SCREENSHOT_DIR");
	char cmd[1400];

	if (!keep || !*keep)
		return;
	(void)mkdir(keep, 0755);
	snprintf(cmd, sizeof(cmd), "cp '%s'/*.png '%s'/", dir, keep);
	check_int_eq(system(cmd), 0);
	vdi_test_log("screenshots in %s", keep);
}

static void test_web_end_to_end(void)
{
	struct fixture f;
	char conf[700], pool[32], cold_pool[32], new_pool[32], tmpl[32], body[300], dir[600], log[700], script[700], base[64], line[1024];
	json_t *j;
	pid_t node;
	int status;
	FILE *out;
	uint64_t end;

	snprintf(conf, sizeof(conf), "web_root = %s/web\n", test_env_or_fail("VDI_SOURCE_ROOT"));
	fixture_setup(&f, true, conf);
	/* Named by this run: another broker sharing libvirtd deletes maintenance domains of a template it has that
	 * it does not know (as orphans), and "golden" is every test's. */
	snprintf(tmpl, sizeof(tmpl), "golden%d", (int)getpid());
	fixture_add_template(&f, tmpl, NULL);
	snprintf(pool, sizeof(pool), "w%d", (int)getpid());
	snprintf(new_pool, sizeof(new_pool), "x%d", (int)getpid());
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"template\":\"%s\",\"type\":\"pooled\",\"size\":2,\"prestart\":1,"
		 "\"groups\":[\"lab\"]}", pool, tmpl);
	json_decref(admin_json(&f.d, "POST", "/api/v1/admin/pools", body, 201));
	snprintf(cold_pool, sizeof(cold_pool), "v%d", (int)getpid());
	fixture_add_pool(&f, cold_pool, tmpl, "pooled", 1, 0);

	/* Connect is timed against a desktop started ahead, as users of a prestarted pool get it. */
	for (end = vdi_test_now_ms() + BOOT_MS;; usleep(200 * 1000)) {
		bool free_one;

		j = pool_desktops(&f, pool, "free");
		free_one = json_array_size(json_object_get(j, "desktops")) > 0;
		json_decref(j);
		if (free_one)
			break;
		check(vdi_test_now_ms() < end);
	}

	snprintf(dir, sizeof(dir), "%s/browser", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	snprintf(log, sizeof(log), "%s/web-e2e.log", dir);
	snprintf(script, sizeof(script), "%s/tests/browser/web-e2e.mjs", test_env_or_fail("VDI_SOURCE_ROOT"));
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", f.d.port);
	node = screen_spawn(log, (char *[]){ (char *)test_env_or_fail("VDI_NODE_BIN"), script, base, dir, pool,
					     cold_pool, new_pool, tmpl, NULL },
			    NULL);
	check(waitpid(node, &status, 0) == node);
	check(out = fopen(log, "re"));
	while (fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = '\0';
		vdi_test_log("browser: %s", line);
	}
	fclose(out);
	keep_screenshots(dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		vdi_test_fail(__FILE__, __LINE__, "the browser's steps failed (above); gateway log: %s", f.gateway_log);

	/* What the store says of it. */
	j = pool_desktops(&f, pool, NULL);
	for (size_t i = 0; i < json_array_size(json_object_get(j, "desktops")); i++)
		check(!json_string_value(json_object_get(json_array_get(json_object_get(j, "desktops"), i), "owner")));
	json_decref(j);
	vdi_test_log("u01's desktop went back to its pool");
	check(audit_count(&f, "user=u01&action=console") >= 2);
	vdi_test_log("the reconnection asked for a fresh console token");
	check(audit_count(&f, "user=u01&action=release") == 1);
	/* u02 opened the console of their own desktop (of the cold pool), and of no other. */
	j = admin_json(&f.d, "GET", "/api/v1/admin/audit?user=u02&action=assign", NULL, 200);
	check_int_eq(json_array_size(json_object_get(j, "audit")), 1);
	snprintf(line, sizeof(line), "user=u02&action=console&object=%s",
		 json_string_value(json_object_get(json_array_get(json_object_get(j, "audit"), 0), "object")));
	json_decref(j);
	check(audit_count(&f, line) >= 1);
	check_int_eq(audit_count(&f, line), audit_count(&f, "user=u02&action=console"));
	check(audit_count(&f, "user=adm&action=pool-create") == 1);
	check(audit_count(&f, "user=adm&action=reset") == 1);
	check(audit_count(&f, "user=adm&action=pool-delete") == 1);
	/* The maintenance desktop, the publishes (from it, from a disk, one scheduled and cancelled), the rollback. */
	snprintf(line, sizeof(line), "user=adm&action=template-edit&object=%s", tmpl);
	check(audit_count(&f, line) >= 1);
	snprintf(line, sizeof(line), "user=adm&action=template-publish&object=%s", tmpl);
	check(audit_count(&f, line) >= 3);
	snprintf(line, sizeof(line), "user=adm&action=template-rollback&object=%s", tmpl);
	check_int_eq(audit_count(&f, line), 1);
	/* Rolled back onto version 2, the one published from the maintenance desktop, which is gone. */
	snprintf(line, sizeof(line), "/api/v1/admin/templates/%s", tmpl);
	j = admin_json(&f.d, "GET", line, NULL, 200);
	check_int_eq(json_integer_value(json_object_get(j, "version")), 2);
	check(json_is_null(json_object_get(j, "maintenance")));
	for (size_t i = 0; i < json_array_size(json_object_get(j, "versions")); i++) {
		json_t *v = json_array_get(json_object_get(j, "versions"), i);

		if (json_integer_value(json_object_get(v, "version")) == 2)
			check(streq_ptr(json_string_value(json_object_get(v, "note")), "web-e2e: from the maintenance desktop"));
	}
	json_decref(j);
	vdi_test_log("%s is back on version 2, published from its maintenance desktop", tmpl);
	/* The deleted pool is gone, and so are its domains. */
	for (end = vdi_test_now_ms() + 120000; pool_exists(&f, new_pool) || domains_of(new_pool) > 0;
	     usleep(200 * 1000))
		check(vdi_test_now_ms() < end);
	vdi_test_log("pool %s and its domains are gone", new_pool);
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_web_end_to_end, 900),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
