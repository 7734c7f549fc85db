/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The thin client (issue 18): remote-viewer, as a user runs it with the .vv file the broker gives, on a
 * virtual X server with two monitors (Xvfb 2048x768, two RandR monitors of 1024x768), against the graphical
 * test desktop (tests/guest/build-guest: Xorg on QXL, spice-vdagent, xclip; its serial console answers
 * vdi-xrandr, vdi-clip-get and vdi-clip-set) through vdi-gateway.  One boot, these checks:
 *
 *  - the template's heads=2 reaches the desktop's definition in libvirt (qxl heads='2');
 *  - remote-viewer opens the desktop's two USB redirection channels (the pool's default) and its playback
 *    channel (the clone's ich9 sound with SPICE audio), as its --spice-debug log says;
 *  - in full screen it asks the guest for one monitor per client monitor: the guest's xrandr reports two
 *    outputs of 1024x768;
 *  - text copied in the client's X session (xclip) is in the guest's clipboard, and text the guest copies
 *    is in the client's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "broker-test.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "screen.h"
#include "vmpool-test.h"

#define URI FIXTURE_URI
#define X_READY "vdi-x: ready"

/* ---- the graphical test desktop ------------------------------------------------------------------- */

/* Its domain XML (guest-graphical.xml with the kernel and its initrd in place of the placeholders). */
static char *graphical_xml(void)
{
	_cleanup_free_ char *path = test_guest_path("guest-graphical.xml"), *kernel = test_guest_path("vmlinuz"),
			    *initrd = test_guest_path("initrd-graphical.img");
	_cleanup_free_ char *cmd = NULL;
	char *xml = NULL;
	size_t len = 0;
	FILE *p;

	if (access(path, R_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "no %s: tests/guest/build-guest makes it", path);
	check(asprintf(&cmd, "sed -e 's|@KERNEL@|%s|' -e 's|@INITRD@|%s|' '%s'", kernel, initrd, path) > 0);
	check(p = popen(cmd, "r"));
	check(getdelim(&xml, &len, '\0', p) > 0);
	check(pclose(p) == 0);
	return xml;
}

/* The template "gfx" of the graphical guest with two monitors. */
static void add_graphical_template(struct fixture *f)
{
	_cleanup_free_ char *xml = graphical_xml(), *disk = test_guest_path("graphical.qcow2");
	_cleanup_free_ char *text = NULL;
	json_t *body, *reply;

	if (access(disk, R_OK) != 0) {
		free(disk);
		disk = test_guest_path("template.qcow2");
	}
	body = json_pack("{s:s, s:s, s:s, s:i}", "name", "gfx", "disk", disk, "xml", xml, "heads", 2);
	check(text = json_dumps(body, 0));
	reply = admin_json(&f->d, "POST", "/api/v1/admin/templates", text, 201);
	check_int_eq(json_integer_value(json_object_get(reply, "heads")), 2);
	json_decref(reply);
	json_decref(body);
}

/* Types line on the desktop's console until its answer has want, for up to ms (the guest's X clients take
 * their time under TCG); the last answer into out. */
static bool console_until(const char *domain, const char *line, const char *want, unsigned ms, char *out,
			  size_t outlen)
{
	uint64_t end = vdi_test_now_ms() + ms;

	do {
		out[0] = '\0';
		if (test_console_command(URI, domain, line, want, 10000, out, outlen))
			return true;
		usleep(1000 * 1000);
	} while (vdi_test_now_ms() < end);
	return false;
}

/* ---- the client's side ------------------------------------------------------------------------------ */

/* The lines of remote-viewer's --spice-debug log (path) saying channel type (its name: "usbredir-9",
 * "playback-5") came up: how many of them, each channel id once; waits up to ms for want of them. */
static int channels_up(const char *path, const char *type, int want, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;
	size_t tlen = strlen(type);
	int up = 0;

	do {
		FILE *l = fopen(path, "re");
		unsigned seen = 0;
		char line[1024];

		while (l && fgets(line, sizeof(line), l)) {
			const char *at = strstr(line, type);
			char *idend;
			long id;

			if (!at || at[tlen] != ':' || !strstr(at, ": channel up"))
				continue;
			id = strtol(at + tlen + 1, &idend, 10);
			if (idend != at + tlen + 1 && *idend == ':' && id >= 0 && id < 32)
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

/* Runs a client program on display with output into out (at most outlen - 1 bytes, trimmed); its exit status. */
static int client_run(const char *display, const char *cmdline, char *out, size_t outlen)
{
	_cleanup_free_ char *cmd = NULL;
	size_t n;
	FILE *p;
	int st;

	check(asprintf(&cmd, "env -u LD_PRELOAD DISPLAY=%s timeout 20 %s 2>&1", display, cmdline) > 0);
	check(p = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Two RandR monitors of 1024x768 side by side on the 2048x768 screen, as GTK sees them. */
static void two_monitors(const struct screen *scr)
{
	char out[1024];

	check_int_eq(client_run(scr->display, "xrandr --setmonitor VDI1 1024/270x768/203+0+0 screen", out,
				sizeof(out)), 0);
	check_int_eq(client_run(scr->display, "xrandr --setmonitor VDI2 1024/270x768/203+1024+0 none", out,
				sizeof(out)), 0);
	check_int_eq(client_run(scr->display, "xrandr --listmonitors", out, sizeof(out)), 0);
	check_str_contains(out, "Monitors: 2");
}

/* xclip owns the client's CLIPBOARD with text (it serves it in the foreground until another owner comes). */
static pid_t client_copy(const struct screen *scr, const char *text, const char *log)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/client-clip.txt", vdi_test_tmpdir());
	check(f = fopen(path, "we"));
	fputs(text, f);
	fclose(f);
	return screen_spawn(log, (char *[]){ "/usr/bin/xclip", "-quiet", "-selection", "clipboard", "-i", path, NULL },
			    scr->display);
}

/* ---- the test ----------------------------------------------------------------------------------------- */

static void dump_logs(struct fixture *f, const char *log)
{
	char cmd[1400];

	snprintf(cmd, sizeof(cmd), "grep -v -e 'GSpice-DEBUG' -e '^$' '%s' | tail -40 >&2; tail -20 '%s' >&2", log,
		 f->gateway_log);
	(void)system(cmd);
}

static void test_remote_viewer_on_graphical_desktop(void)
{
	struct fixture f;
	struct user u1;
	struct screen scr;
	_cleanup_free_ char *vv = NULL, *def = NULL;
	char path[128], domain[128], file[600], log[600], fbdir[600], out[8192], want[128], text[64];
	pid_t viewer, clip;
	int64_t id;
	FILE *o;

	if (access("/usr/bin/remote-viewer", X_OK) != 0 || access("/usr/bin/xclip", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer and xclip are needed: tools/install-deps installs them");
	fixture_setup(&f, true, NULL);
	add_graphical_template(&f);
	fixture_add_pool(&f, f.pool, "gfx", "pooled", 1, 0);
	fixture_login(&f, &u1, 1);
	id = fixture_ask(&f, &u1, f.pool, 202);
	check(wait_desktop_state(&f.d, &u1, id, "assigned", FIXTURE_BOOT_MS));
	fixture_domain(f.pool, id, domain, sizeof(domain));

	/* The template's two monitors are the desktop's video's, with the memory for them. */
	def = test_domain_definition(URI, domain, 0);
	XP_EQ(def, "/domain/devices/video/model/@type", "qxl");
	XP_EQ(def, "/domain/devices/video/model/@heads", "2");
	XP_EQ(def, "/domain/devices/video/model/@vgamem", "32768");
	XP_ONE(def, "/domain/devices/audio[@type='spice']");
	if (!test_console_wait(URI, domain, X_READY, FIXTURE_BOOT_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "the graphical desktop's X did not come up; console:\n%s", out);

	/* The user's .vv, opened full screen on two monitors. */
	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)id);
	vv = req_text(&f.d, "GET", path, u1.hdr, NULL, 200);
	check_str_contains(vv, "\nenable-usbredir=1\n");
	snprintf(file, sizeof(file), "%s/desktop.vv", vdi_test_tmpdir());
	check(o = fopen(file, "we"));
	fputs(vv, o);
	fclose(o);
	snprintf(log, sizeof(log), "%s/remote-viewer.log", vdi_test_tmpdir());
	snprintf(fbdir, sizeof(fbdir), "%s/fb", vdi_test_tmpdir());
	screen_start_size(&scr, fbdir, log, "2048x768x24");
	two_monitors(&scr);
	viewer = screen_spawn(log, (char *[]){ "/usr/bin/remote-viewer", "--spice-debug", "--full-screen", file, NULL },
			      scr.display);
	if (!wait_admin_state(&f.d, id, "connected", "u01", 60000)) {
		dump_logs(&f, log);
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer did not get to the desktop");
	}

	/* USB redirection and audio playback: their channels came up through the gateway. */
	check_int_eq(channels_up(log, "usbredir-9", 2, 30000), 2);
	check_int_eq(channels_up(log, "playback-5", 1, 30000), 1);
	vdi_test_log("remote-viewer has the desktop's two USB redirection channels and its playback channel up");

	/* Full screen on two monitors: the guest's agent turned its second output on, each at the client's size. */
	if (!console_until(domain, "vdi-xrandr", "vdi-xrandr: 1024x768 1024x768", 90000, out, sizeof(out))) {
		dump_logs(&f, log);
		vdi_test_fail(__FILE__, __LINE__, "the guest has not two monitors of 1024x768; console:\n%s", out);
	}
	vdi_test_log("the guest shows two monitors of 1024x768");

	/* Copied in the client's session: in the guest's clipboard. */
	snprintf(text, sizeof(text), "vdi-thin-%d", (int)getpid());
	clip = client_copy(&scr, text, log);
	snprintf(want, sizeof(want), "vdi-clip: %s", text);
	if (!console_until(domain, "vdi-clip-get", want, 60000, out, sizeof(out))) {
		dump_logs(&f, log);
		vdi_test_fail(__FILE__, __LINE__, "the client's clipboard did not reach the guest; console:\n%s", out);
	}
	vdi_test_log("text copied on the client is in the guest's clipboard");

	/* Copied in the guest: in the client's clipboard (xclip there gives it up to remote-viewer). */
	snprintf(text, sizeof(text), "vdi-back-%d", (int)getpid());
	snprintf(path, sizeof(path), "vdi-clip-set %s", text);
	snprintf(want, sizeof(want), "vdi-clip-set: %s", text);
	check(test_console_command(URI, domain, path, want, 30000, out, sizeof(out)));
	{
		uint64_t end = vdi_test_now_ms() + 60000;
		char got[256] = "";

		while (vdi_test_now_ms() < end) {
			if (client_run(scr.display, "xclip -o -selection clipboard", got, sizeof(got)) == 0 &&
			    streq(got, text))
				break;
			usleep(1000 * 1000);
		}
		if (!streq(got, text)) {
			dump_logs(&f, log);
			vdi_test_fail(__FILE__, __LINE__, "the client's clipboard has \"%s\", not the guest's \"%s\"", got,
				      text);
		}
	}
	vdi_test_log("text copied in the guest is in the client's clipboard");

	kill(clip, SIGTERM);
	waitpid(clip, NULL, 0);
	kill(viewer, SIGTERM);
	waitpid(viewer, NULL, 0);
	screen_stop(&scr);
	check(wait_admin_state(&f.d, id, "disconnected", "u01", 30000));
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_remote_viewer_on_graphical_desktop, 600),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
