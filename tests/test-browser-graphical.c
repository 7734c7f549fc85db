/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The console page with the graphical test desktop (tests/guest: Xorg on QXL, spice-vdagent,
 * qemu-guest-agent) in Debian's chromium: vdi-broker serving web/ and vdi-gateway, a pooled pool
 * of the graphical guest and one of the text guest, each with a desktop started ahead.
 * tests/browser/graphical.mjs times Connect → first frame on both, resizes the console (1280x800,
 * 1024x700), opens the desktop in a second window (the first is taken over) and goes full screen
 * there; for each size the page asked of the guest's agent, this test asks the guest itself on its
 * serial console ("vdi-xrandr": the mode of its X screen) and tells the script what it said.
 * Then the console closes with the graphical pool's lock_on_disconnect on (the template's
 * lock_command /bin/vdi-lock: i3lock paints the guest's whole screen #3366cc): the broker audits
 * desktop-lock, the guest says it is locked, and the console opened again shows the lock colour.
 * All of it over TLS: the broker serves HTTPS and the gateway WSS, with certificates of a CA of the
 * test's own (tests/tls/make-certs), which chromium trusts through its NSS database, not by ignoring
 * certificate errors; one that does not trust it is refused the page.
 * One boot of each guest.  Screenshots go to VDI_SCREENSHOT_DIR as in test-browser-web.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "screen.h"
#include "vmpool-test.h"

#define BOOT_MS 300000 /* the graphical guest under TCG, with others on the machine */
#define STEPS 3 /* the modes the guest is asked for; then the two lock steps */
#define LOCK_MS 60000 /* the lock runs through the guest agent on a worker; guest-exec under TCG */

/* The graphical guest's domain XML (build-guest's guest-graphical.xml) with its kernel and initrd. */
static char *graphical_xml(void)
{
	_cleanup_free_ char *path = test_guest_path("guest-graphical.xml"), *kernel = test_guest_path("vmlinuz"),
			    *initrd = test_guest_path("initrd-graphical.img");
	char *xml = NULL;
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (!f)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s (tests/guest builds it)", path, strerror(errno));
	check(getdelim(&xml, &n, '\0', f) > 0);
	fclose(f);
	for (const char *const *kv = (const char *const[]){ "@KERNEL@", kernel, "@INITRD@", initrd, NULL }; *kv; kv += 2) {
		char *at;

		while ((at = strstr(xml, kv[0]))) {
			char *with;

			check(asprintf(&with, "%.*s%s%s", (int)(at - xml), xml, kv[1], at + strlen(kv[0])) > 0);
			free(xml);
			xml = with;
		}
	}
	return xml;
}

static void add_graphical_template(struct fixture *f, const char *name)
{
	_cleanup_free_ char *xml = graphical_xml(), *disk = test_guest_path("template.qcow2"), *text = NULL;
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "disk", disk, "xml", xml, "lock_command",
				 "/bin/vdi-lock");

	text = json_dumps(body, 0);
	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/templates", text, 201));
	json_decref(body);
}

/* A pooled pool of tmpl with one desktop started ahead; waits until it is free and returns its id. */
static int64_t prestarted_pool(struct fixture *f, const char *pool, const char *tmpl)
{
	char body[300], path[160];
	int64_t id = 0;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"template\":\"%s\",\"type\":\"pooled\",\"size\":1,\"prestart\":1,\"groups\":[\"lab\"]}",
		 pool, tmpl);
	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/pools", body, 201));
	snprintf(path, sizeof(path), "/api/v1/admin/desktops?pool=%s&state=free", pool);
	for (uint64_t end = vdi_test_now_ms() + BOOT_MS; !id; usleep(500 * 1000)) {
		json_t *j = admin_json(&f->d, "GET", path, NULL, 200);
		json_t *d = json_array_get(json_object_get(j, "desktops"), 0);

		id = d ? json_integer_value(json_object_get(d, "id")) : 0;
		json_decref(j);
		check(vdi_test_now_ms() < end);
	}
	return id;
}

/* Asks the guest for its X screen's mode until it says want ("WxH"); writes DIR/mode-K.ok or .fail. */
static void answer_step(const char *domain, const char *dir, int k)
{
	char path[700], want[64], needle[96], out[8192] = "";
	json_error_t jerr;
	json_t *j;
	bool said = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mode-%d.json", dir, k);
	j = json_load_file(path, 0, &jerr);
	if (!j)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", path, jerr.text);
	snprintf(want, sizeof(want), "%lldx%lld", (long long)json_integer_value(json_object_get(j, "w")),
		 (long long)json_integer_value(json_object_get(j, "h")));
	vdi_test_log("step %d (%s): the page asked the guest for %s", k, json_string_value(json_object_get(j, "what")), want);
	json_decref(j);
	/* The line whole: "vdi-xrandr: 1024x696" must not pass for "vdi-xrandr: 1024x6". */
	snprintf(needle, sizeof(needle), "vdi-xrandr: %s\r\n", want);
	for (int tries = 0; tries < 4 && !said; tries++)
		said = test_console_command(FIXTURE_URI, domain, "vdi-xrandr", needle, 10000, out, sizeof(out));
	snprintf(path, sizeof(path), "%s/mode-%d.%s", dir, k, said ? "ok" : "fail");
	check(f = fopen(path, "we"));
	fprintf(f, "%s\n", said ? needle : out);
	fclose(f);
	vdi_test_log("step %d: the guest %s %s%s%s", k, said ? "says" : "does not say", want, said ? "" : "; its console:\n",
		     said ? "" : out);
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

/* What the script runs against and asks about. */
struct run {
	struct fixture *f;
	const char *dir, *pool, *domain;
	int64_t id;
};

/* Answers the script's step DIR/NAME.json with DIR/NAME.ok (or .fail) holding text. */
static void answer(const struct run *r, const char *name, bool ok, const char *text)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", r->dir, name, ok ? "ok" : "fail");
	check(f = fopen(path, "we"));
	fprintf(f, "%s\n", text);
	fclose(f);
}

/* lock-ready: the console is open on the desktop and shows no lock; the guest says so too, then the
 * pool's lock_on_disconnect goes on (not before: the Connect timings left the console many times). */
static void lock_ready(const struct run *r)
{
	char path[700], out[8192] = "";
	json_error_t jerr;
	json_t *j;
	int64_t id;

	snprintf(path, sizeof(path), "%s/lock-ready.json", r->dir);
	j = json_load_file(path, 0, &jerr);
	if (!j)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", path, jerr.text);
	id = json_integer_value(json_object_get(j, "id"));
	vdi_test_log("before the lock the console of desktop %lld shows %.1f%% of the lock colour", (long long)id,
		     100 * json_number_value(json_object_get(j, "share")));
	json_decref(j);
	if (id != r->id) {
		answer(r, "lock-ready", false, "the console is not on the pool's desktop");
		return;
	}
	if (!test_console_command(FIXTURE_URI, r->domain, "vdi-locked?", "vdi-lock: off", 30000, out, sizeof(out))) {
		vdi_test_log("the guest does not say its screen is unlocked; its console:\n%s", out);
		answer(r, "lock-ready", false, "the guest does not say its screen is unlocked (vdi-lock: off)");
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/admin/pools/%s", r->pool);
	j = admin_json(&r->f->d, "PATCH", path, "{\"lock_on_disconnect\":true}", 200);
	check(json_is_true(json_object_get(j, "lock_on_disconnect")));
	json_decref(j);
	answer(r, "lock-ready", true, "lock_on_disconnect on");
}

/* The desktop's desktop-lock audit rows, waited for up to LOCK_MS; the first one's detail in detail. */
static size_t lock_audits(const struct run *r, char *detail, size_t len)
{
	char path[160];
	uint64_t end = vdi_test_now_ms() + LOCK_MS;
	json_t *a = NULL, *rows;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/admin/audit?action=desktop-lock&object=desktop:%lld", (long long)r->id);
	do {
		json_decref(a);
		usleep(500 * 1000);
		a = admin_json(&r->f->d, "GET", path, NULL, 200);
		rows = json_object_get(a, "audit");
	} while (json_array_size(rows) == 0 && vdi_test_now_ms() < end);
	snprintf(detail, len, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "detail")) ?: "");
	n = json_array_size(rows);
	json_decref(a);
	return n;
}

/* lock-closed: the console page closed (its last SPICE client left): the broker locked the guest's
 * screen through its agent (audited) and the guest says it is locked. */
static void lock_closed(const struct run *r)
{
	char detail[256], out[8192] = "", why[400];

	if (lock_audits(r, detail, sizeof(detail)) == 0) {
		snprintf(why, sizeof(why), "no desktop-lock audit within %d s of the console closing", LOCK_MS / 1000);
	} else if (strcmp(detail, "/bin/vdi-lock: exit 0") != 0) {
		snprintf(why, sizeof(why), "the lock's audit says \"%s\", not \"/bin/vdi-lock: exit 0\"", detail);
	} else if (!test_console_command(FIXTURE_URI, r->domain, "vdi-locked?", "vdi-lock: on", 30000, out,
					 sizeof(out))) {
		vdi_test_log("the guest's console:\n%s", out);
		snprintf(why, sizeof(why), "audited (%s), but the guest does not say vdi-lock: on", detail);
	} else {
		vdi_test_log("the console closed: audited desktop-lock (%s), the guest says vdi-lock: on", detail);
		answer(r, "lock-closed", true, "audited desktop-lock, and the guest says vdi-lock: on");
		return;
	}
	vdi_test_log("lock: %s", why);
	answer(r, "lock-closed", false, why);
}

/* Runs graphical.mjs, answering its steps (mode-1..STEPS, lock-ready, lock-closed) until it exits;
 * returns its exit status. */
static int run_browser(const struct run *r, const char *text_pool)
{
	char log[700], script[700], base[64], path[700], line[1024], ca[700];
	int status = 0, answered = 0;
	pid_t node;
	FILE *out;

	snprintf(log, sizeof(log), "%s/graphical.log", r->dir);
	snprintf(script, sizeof(script), "%s/tests/browser/graphical.mjs", test_env_or_fail("VDI_SOURCE_ROOT"));
	snprintf(base, sizeof(base), "https://127.0.0.1:%d", r->f->d.port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", r->f->tls_dir);
	node = screen_spawn(log, (char *[]){ (char *)test_env_or_fail("VDI_NODE_BIN"), script, base, (char *)r->dir,
					     (char *)r->pool, (char *)text_pool, ca, NULL },
			    NULL);
	for (;;) {
		pid_t w = waitpid(node, &status, WNOHANG);

		check(w >= 0);
		if (w == node)
			break;
		if (answered < STEPS)
			snprintf(path, sizeof(path), "%s/mode-%d.json", r->dir, answered + 1);
		else
			snprintf(path, sizeof(path), "%s/%s.json", r->dir, answered == STEPS ? "lock-ready" : "lock-closed");
		if (answered < STEPS + 2 && access(path, F_OK) == 0) {
			if (++answered <= STEPS)
				answer_step(r->domain, r->dir, answered);
			else if (answered == STEPS + 1)
				lock_ready(r);
			else
				lock_closed(r);
		} else {
			usleep(200 * 1000);
		}
	}
	check(out = fopen(log, "re"));
	while (fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = '\0';
		vdi_test_log("browser: %s", line);
	}
	fclose(out);
	check_int_eq(answered, STEPS + 2);
	return status;
}

static void test_graphical_console(void)
{
	struct fixture f;
	char conf[700], gfx[32], text[32], gfx_tmpl[32], text_tmpl[32], dir[600], domain[128], out[8192];
	int64_t id;
	int status;

	snprintf(conf, sizeof(conf), "web_root = %s/web\n", test_env_or_fail("VDI_SOURCE_ROOT"));
	fixture_setup_with(&f, true, conf, &(struct fixture_options){ .tls = true });
	snprintf(gfx_tmpl, sizeof(gfx_tmpl), "graphical%d", (int)getpid());
	snprintf(text_tmpl, sizeof(text_tmpl), "text%d", (int)getpid());
	add_graphical_template(&f, gfx_tmpl);
	fixture_add_template(&f, text_tmpl, NULL);
	snprintf(gfx, sizeof(gfx), "g%d", (int)getpid());
	snprintf(text, sizeof(text), "t%d", (int)getpid());
	id = prestarted_pool(&f, gfx, gfx_tmpl);
	(void)prestarted_pool(&f, text, text_tmpl);

	/* Started ahead means its desktop is up: X, the window manager and the agent, after which the
	 * guest's banner comes (every 2 s, so a console opened late still sees it). */
	fixture_domain(gfx, id, domain, sizeof(domain));
	if (!test_console_wait(FIXTURE_URI, domain, "VDI-TEST-GUEST READY", BOOT_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: no banner; its console:\n%s", domain, out);
	vdi_test_log("%s: X is ready", domain);

	snprintf(dir, sizeof(dir), "%s/browser", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	status = run_browser(&(struct run){ .f = &f, .dir = dir, .pool = gfx, .domain = domain, .id = id }, text);
	keep_screenshots(dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		vdi_test_fail(__FILE__, __LINE__, "the browser's steps failed (above); gateway log: %s", f.gateway_log);
	check(fixture_gateway_log_has(&f, "taken over by another viewer"));
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_graphical_console, 900),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
