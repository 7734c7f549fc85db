/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The thin client (issue 18): remote-viewer, as a user runs it with the .vv file the broker gives, on a
 * virtual X server with two monitors (Xorg's dummy driver, two outputs of 1024x768), against the graphical
 * test desktop (tests/guest/build-guest: Xorg on QXL, spice-vdagent, xclip; its serial console answers
 * vdi-xrandr, vdi-clip-get and vdi-clip-set) through vdi-gateway.  One boot, these checks:
 *
 *  - the template's heads=2 reaches the desktop's definition in libvirt (qxl heads='2');
 *  - remote-viewer opens the desktop's two USB redirection channels (the pool's default) and its playback
 *    channel (the clone's ich9 sound with SPICE audio), as its --spice-debug log says;
 *  - text copied in the client's X session (xclip) is in the guest's clipboard, and text the guest copies
 *    is in the client's;
 *  - in full screen, with the client's settings mapping guest displays 1 and 2 to its monitors 1 and 2
 *    (remote-viewer fills one monitor without), the guest's xrandr reports two outputs of 1024x768.
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

/* The template "gfx" of the graphical guest with two monitors. */
static void add_graphical_template(struct fixture *f)
{
	/* The graphical variant's disk is the text guest's (build-guest). */
	_cleanup_free_ char *xml = test_guest_graphical_xml(), *disk = test_guest_path("template.qcow2");
	_cleanup_free_ char *text = NULL;
	json_t *body, *reply;

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

/*
 * The client's X server: Xorg with the dummy video driver (xserver-xorg-video-dummy), no input devices, its
 * display number on -displayfd.  Xvfb would do for everything but the monitors: its RandR has one output, and
 * GTK counts only RandR monitors that have an output, so remote-viewer would see one monitor however the
 * screen is cut up.  The dummy driver has outputs DUMMY0..; DUMMY0 and DUMMY1 are turned on side by side,
 * 1024x768 each.
 */
static void client_x_start(struct screen *scr, const char *log)
{
	char conf[600], fdtext[16], out[1024];
	int dfd[2];
	ssize_t n;
	FILE *f;

	if (access("/usr/lib/xorg/modules/drivers/dummy_drv.so", R_OK) != 0 || access("/usr/bin/Xorg", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "Xorg and its dummy driver are needed: tools/install-deps installs them");
	memset(scr, 0, sizeof(*scr));
	snprintf(conf, sizeof(conf), "%s/xorg.conf", vdi_test_tmpdir());
	check(f = fopen(conf, "we"));
	fputs("Section \"ServerFlags\"\n Option \"AutoAddDevices\" \"false\"\n Option \"AutoEnableDevices\" \"false\"\n"
	      " Option \"DontVTSwitch\" \"true\"\nEndSection\n"
	      "Section \"Device\"\n Identifier \"dummy\"\n Driver \"dummy\"\n VideoRam 65536\nEndSection\n"
	      "Section \"Monitor\"\n Identifier \"monitor\"\n HorizSync 5.0 - 1000.0\n VertRefresh 5.0 - 200.0\n"
	      "EndSection\n"
	      "Section \"Screen\"\n Identifier \"screen\"\n Device \"dummy\"\n Monitor \"monitor\"\n DefaultDepth 24\n"
	      " SubSection \"Display\"\n  Depth 24\n  Virtual 2048 768\n EndSubSection\nEndSection\n", f);
	fclose(f);
	check(pipe(dfd) == 0);
	snprintf(fdtext, sizeof(fdtext), "%d", dfd[1]);
	snprintf(out, sizeof(out), "%s/Xorg.log", vdi_test_tmpdir());
	scr->xvfb = screen_spawn(log, (char *[]){ "/usr/bin/Xorg", "-displayfd", fdtext, "-config", conf, "-logfile", out,
						  "-noreset", "-nolisten", "tcp", "-keeptty", "-novtswitch", "-sharevts",
						  NULL },
				 NULL);
	close(dfd[1]);
	n = read(dfd[0], scr->display + 1, sizeof(scr->display) - 2);
	close(dfd[0]);
	if (n <= 0)
		vdi_test_fail(__FILE__, __LINE__, "Xorg did not start: see %s", out);
	scr->display[0] = ':';
	scr->display[strcspn(scr->display, "\n")] = '\0';

	check_int_eq(client_run(scr->display, "xrandr --output DUMMY0 --mode 1024x768", out, sizeof(out)), 0);
	check_int_eq(client_run(scr->display, "xrandr --addmode DUMMY1 1024x768", out, sizeof(out)), 0);
	check_int_eq(client_run(scr->display, "xrandr --output DUMMY1 --mode 1024x768 --right-of DUMMY0", out,
				sizeof(out)), 0);
	check_int_eq(client_run(scr->display, "xrandr --listmonitors", out, sizeof(out)), 0);
	check_str_contains(out, "Monitors: 2");
}

/*
 * The client's remote-viewer settings (XDG_CONFIG_HOME, which remote-viewer inherits): in full screen, guest
 * displays 1 and 2 on client monitors 1 and 2.  Without a monitor-mapping remote-viewer fills one monitor
 * only, whatever the client has; a .vv file cannot say it (docs/desktops.md).
 */
static void client_settings(void)
{
	char dir[600], path[700];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/config", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/virt-viewer", dir);
	check(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/virt-viewer/settings", dir);
	check(f = fopen(path, "we"));
	fputs("[fallback]\nmonitor-mapping=1:1;2:2\n", f);
	fclose(f);
	check(setenv("XDG_CONFIG_HOME", dir, 1) == 0);
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

/* Whether the file path has needle, waiting up to ms for it. */
static bool log_has(const char *path, const char *needle, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	do {
		_cleanup_free_ char *cmd = NULL;

		check(asprintf(&cmd, "grep -q -F -e '%s' '%s'", needle, path) > 0);
		if (system(cmd) == 0)
			return true;
		usleep(500 * 1000);
	} while (vdi_test_now_ms() < end);
	return false;
}

/* ---- the test ----------------------------------------------------------------------------------------- */

/* What the test shares between its steps. */
struct thin {
	struct fixture f;
	struct user u1;
	struct screen scr;
	int64_t id;
	char domain[128];
	char log[600]; /* remote-viewer's (and the client's X clients') output */
	pid_t viewer, clip;
};

/* Fails the test with remote-viewer's warnings, what its debug log says of the agent and the monitors, and the
 * gateway's last lines. */
#define thin_fail(t, ...)                        \
	do {                                     \
		dump_logs(t);                    \
		vdi_test_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

static void dump_logs(struct thin *t)
{
	char cmd[2400];

	snprintf(cmd, sizeof(cmd),
		 "grep -v -e 'GSpice-DEBUG' -e '^$' '%s' | tail -30 >&2; grep -i -e agent -e monitor -e fullscreen '%s' |"
		 " tail -40 >&2; tail -20 '%s' >&2", t->log, t->log, t->f.gateway_log);
	(void)system(cmd);
}

/* The desktop of the pool of the template gfx (heads 2), booted to X; its definition has the two monitors. */
static void thin_desktop(struct thin *t)
{
	_cleanup_free_ char *def = NULL;
	char out[8192];

	fixture_setup(&t->f, true, NULL);
	add_graphical_template(&t->f);
	fixture_add_pool(&t->f, t->f.pool, "gfx", "pooled", 1, 0);
	fixture_login(&t->f, &t->u1, 1);
	t->id = fixture_ask(&t->f, &t->u1, t->f.pool, 202);
	check(wait_desktop_state(&t->f.d, &t->u1, t->id, "assigned", FIXTURE_BOOT_MS));
	fixture_domain(t->f.pool, t->id, t->domain, sizeof(t->domain));
	/* The template's two monitors are the desktop's video's, with the memory for them. */
	def = test_domain_definition(URI, t->domain, 0);
	XP_EQ(def, "/domain/devices/video/model/@type", "qxl");
	XP_EQ(def, "/domain/devices/video/model/@heads", "2");
	XP_EQ(def, "/domain/devices/video/model/@vgamem", "32768");
	XP_ONE(def, "/domain/devices/audio[@type='spice']");
	if (!test_console_wait(URI, t->domain, X_READY, FIXTURE_BOOT_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "the graphical desktop's X did not come up; console:\n%s", out);
}

/* The user's .vv, opened full screen on the client's two monitors, connected, the guest's agent answering. */
static void thin_connect(struct thin *t)
{
	_cleanup_free_ char *vv = NULL;
	char path[128], file[600];
	FILE *o;

	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console.vv", (long long)t->id);
	vv = req_text(&t->f.d, "GET", path, t->u1.hdr, NULL, 200);
	check_str_contains(vv, "\nenable-usbredir=1\n");
	snprintf(file, sizeof(file), "%s/desktop.vv", vdi_test_tmpdir());
	check(o = fopen(file, "we"));
	fputs(vv, o);
	fclose(o);
	snprintf(t->log, sizeof(t->log), "%s/remote-viewer.log", vdi_test_tmpdir());
	client_x_start(&t->scr, t->log);
	client_settings();
	t->viewer = screen_spawn(t->log, (char *[]){ "/usr/bin/remote-viewer", "--spice-debug", "--full-screen", file,
						     NULL },
				 t->scr.display);
	if (!wait_admin_state(&t->f.d, t->id, "connected", "u01", 60000))
		thin_fail(t, "remote-viewer did not get to the desktop");
	/* The guest's SPICE agent answers remote-viewer (the clipboard and the monitors go through it): text
	 * copied before would not be offered to the guest. */
	if (!log_has(t->log, "agent connected: yes", 90000))
		thin_fail(t, "the guest's SPICE agent did not connect to remote-viewer");
}

/* Copied in the client's session: in the guest's clipboard; copied in the guest: in the client's (xclip there
 * gives it up to remote-viewer). */
static void thin_clipboard(struct thin *t)
{
	char text[64], want[128], line[128], out[8192], got[256] = "";
	uint64_t end;

	snprintf(text, sizeof(text), "vdi-thin-%d", (int)getpid());
	snprintf(want, sizeof(want), "vdi-clip: %s", text);
	/* Copied again (a new owner) when the guest has not got it: remote-viewer offers the guest a selection
	 * when it changes, and the guest's session agent may have come up after the agent connected. */
	end = vdi_test_now_ms() + 60000;
	do {
		if (t->clip > 0) {
			kill(t->clip, SIGTERM);
			waitpid(t->clip, NULL, 0);
		}
		t->clip = client_copy(&t->scr, text, t->log);
	} while (!console_until(t->domain, "vdi-clip-get", want, 10000, out, sizeof(out)) && vdi_test_now_ms() < end);
	if (!strstr(out, want))
		thin_fail(t, "the client's clipboard did not reach the guest; console:\n%s", out);
	vdi_test_log("text copied on the client is in the guest's clipboard");

	snprintf(text, sizeof(text), "vdi-back-%d", (int)getpid());
	snprintf(line, sizeof(line), "vdi-clip-set %s", text);
	snprintf(want, sizeof(want), "vdi-clip-set: %s", text);
	check(test_console_command(URI, t->domain, line, want, 30000, out, sizeof(out)));
	end = vdi_test_now_ms() + 60000;
	while (vdi_test_now_ms() < end &&
	       !(client_run(t->scr.display, "xclip -o -selection clipboard", got, sizeof(got)) == 0 && streq(got, text)))
		usleep(1000 * 1000);
	if (!streq(got, text))
		thin_fail(t, "the client's clipboard has \"%s\", not the guest's \"%s\"", got, text);
	vdi_test_log("text copied in the guest is in the client's clipboard");
}

static void test_remote_viewer_on_graphical_desktop(void)
{
	struct thin t = { 0 };
	char out[8192];

	if (access("/usr/bin/remote-viewer", X_OK) != 0 || access("/usr/bin/xclip", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer and xclip are needed: tools/install-deps installs them");
	thin_desktop(&t);
	thin_connect(&t);

	/* USB redirection and audio playback: their channels came up through the gateway. */
	check_int_eq(channels_up(t.log, "usbredir-9", 2, 30000), 2);
	check_int_eq(channels_up(t.log, "playback-5", 1, 30000), 1);
	vdi_test_log("remote-viewer has the desktop's two USB redirection channels and its playback channel up");

	thin_clipboard(&t);

	/* Full screen on two monitors: the guest turned its second output on, each at the client's size. */
	if (!console_until(t.domain, "vdi-xrandr", "vdi-xrandr: 1024x768 1024x768", 90000, out, sizeof(out)))
		thin_fail(&t, "the guest has not two monitors of 1024x768; console:\n%s", out);
	vdi_test_log("the guest shows two monitors of 1024x768");

	kill(t.clip, SIGTERM);
	waitpid(t.clip, NULL, 0);
	kill(t.viewer, SIGTERM);
	waitpid(t.viewer, NULL, 0);
	screen_stop(&t.scr);
	check(wait_admin_state(&t.f.d, t.id, "disconnected", "u01", 30000));
	fixture_teardown(&t.f);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_remote_viewer_on_graphical_desktop, 600),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
