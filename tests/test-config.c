/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "paths.h"

static char *write_conf(const char *name, const char *text)
{
	char *path;
	FILE *f;

	check(asprintf(&path, "%s/%s", vdi_test_tmpdir(), name) > 0);
	f = fopen(path, "we");
	check(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Applies text on top of the defaults; returns the result and leaves the message in err. */
static int apply(struct vdi_config *cfg, const char *text, struct vdi_error *err)
{
	check_ok(vdi_config_init(cfg));
	err->message[0] = '\0';
	return vdi_config_apply_string(cfg, text, "t.conf", err);
}

static void test_defaults(void)
{
	struct vdi_config c;

	check_ok(vdi_config_init(&c));
	check_str_eq(c.broker.listen, "127.0.0.1:8080");
	check_str_eq(c.broker.admin_socket, VDI_RUNDIR "/vdi/admin.sock");
	check_int_eq(c.broker.session_ttl, 28800);
	check_int_eq(c.broker.login_max_failures, 5);
	check_int_eq(c.broker.login_lockout, 300);
	check_str_eq(c.broker.web_root, VDI_DATADIR "/vdi/web");
	check_str_eq(c.broker.spice_html5, "/usr/share/spice-html5"); /* Debian's, not under our prefix */
	check_str_eq(c.database.path, VDI_LOCALSTATEDIR "/lib/vdi/vdi.db");
	check_str_eq(c.pam.service, "vdi");
	check_str_eq(c.pam.admin_group, "vdiadmin");
	check_str_eq(c.libvirt.hosts[0], "qemu:///system");
	check(c.libvirt.hosts[1] == NULL);
	check_str_eq(c.libvirt.storage_pool, "vdi");
	check_str_eq(c.libvirt.storage_path, VDI_LOCALSTATEDIR "/lib/vdi/images");
	check_str_eq(c.libvirt.runtime_dir, VDI_RUNDIR "/vdi");
	check_str_eq(c.libvirt.virt_type, "auto");
	check_str_eq(c.gateway.listen, "127.0.0.1:8081");
	check_str_eq(c.gateway.public_url, "ws://127.0.0.1:8081");
	check_str_eq(c.gateway.allowed_targets[0], "unix:" VDI_RUNDIR "/vdi/spice/");
	check_str_eq(c.tokens.key_file, VDI_SYSCONFDIR "/vdi/token.key");
	check_int_eq(c.tokens.ttl, 60);
	vdi_config_finish(&c);
	vdi_config_finish(&c); /* twice is fine */
}

static void test_every_key(void)
{
	static const char text[] =
		"; a comment\n"
		"# another\n"
		"[broker]\n"
		"listen = [::1]:9000\n"
		"admin_socket = /tmp/a.sock\n"
		"session_ttl = 3600\n"
		"login_max_failures = 3\n"
		"login_lockout = 0\n"
		"web_root = /srv/web\n"
		"[database]\n"
		"path = /tmp/vdi.db\n"
		"[pam]\n"
		"service = vdi-test\n"
		"admin_group = wheel\n"
		"[libvirt]\n"
		"hosts = qemu:///system, qemu+ssh://root@h2/system  qemu+tls://h3/system\n"
		"storage_pool = desktops\n"
		"storage_path = /srv/images\n"
		"runtime_dir = /tmp/run\n"
		"virt_type = qemu\n"
		"[gateway]\n"
		"listen = localhost:443\n"
		"public_url = wss://vdi.example.org/\n"
		"allowed_targets = unix:/run/vdi/spice/,tcp:10.0.0.0/8:5900-5999\n"
		"[tokens]\n"
		"key_file = /etc/vdi/k\n"
		"ttl = 30\n";
	struct vdi_config c;
	struct vdi_error err = { 0 };

	check_ok(apply(&c, text, &err));
	check_str_eq(c.broker.listen, "[::1]:9000");
	check_int_eq(c.broker.session_ttl, 3600);
	check_int_eq(c.broker.login_max_failures, 3);
	check_int_eq(c.broker.login_lockout, 0);
	check_str_eq(c.broker.web_root, "/srv/web");
	check_str_eq(c.database.path, "/tmp/vdi.db");
	check_str_eq(c.pam.service, "vdi-test");
	check_str_eq(c.pam.admin_group, "wheel");
	check_str_eq(c.libvirt.hosts[0], "qemu:///system");
	check_str_eq(c.libvirt.hosts[1], "qemu+ssh://root@h2/system");
	check_str_eq(c.libvirt.hosts[2], "qemu+tls://h3/system");
	check(c.libvirt.hosts[3] == NULL);
	check_str_eq(c.libvirt.storage_pool, "desktops");
	check_str_eq(c.libvirt.virt_type, "qemu");
	check_str_eq(c.gateway.listen, "localhost:443");
	check_str_eq(c.gateway.public_url, "wss://vdi.example.org/");
	check_str_eq(c.gateway.allowed_targets[1], "tcp:10.0.0.0/8:5900-5999");
	check_str_eq(c.tokens.key_file, "/etc/vdi/k");
	check_int_eq(c.tokens.ttl, 30);
	vdi_config_finish(&c);
}

static void expect_error(const char *text, const char *want)
{
	struct vdi_config c;
	struct vdi_error err = { 0 };
	int r = apply(&c, text, &err);

	if (r != -EINVAL)
		vdi_test_fail(__FILE__, __LINE__, "expected -EINVAL for %s, got %d", want, r);
	if (!strstr(err.message, want))
		vdi_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", err.message, want);
	vdi_config_finish(&c);
}

static void test_errors_name_file_line_key(void)
{
	expect_error("[broker]\nlisten = 8080\n", "t.conf:2: [broker] listen: expected host:port, got \"8080\"");
	expect_error("[broker]\nlisten = host:65536\n", "t.conf:2: [broker] listen: expected a port 0..65535");
	expect_error("[broker]\nlisten = host:http\n", "t.conf:2: [broker] listen: expected a port 0..65535");
	expect_error("[broker]\nlisten = :80\n", "t.conf:2: [broker] listen: expected host:port");
	expect_error("[broker]\nlisten = ::1:80\n", "expected host:port");
	expect_error("\n[broker]\n\nsession_ttl = soon\n", "t.conf:4: [broker] session_ttl: expected a whole number, got \"soon\"");
	expect_error("[broker]\nsession_ttl = -5\n", "t.conf:2: [broker] session_ttl: expected a whole number");
	expect_error("[broker]\nsession_ttl = 10\n", "t.conf:2: [broker] session_ttl: 10 is out of range 60..604800");
	expect_error("[broker]\nlogin_max_failures = 99999999999999999999999\n", "login_max_failures: expected a whole number");
	expect_error("[broker]\nweb_root = relative/dir\n", "t.conf:2: [broker] web_root: expected an absolute path");
	expect_error("[broker]\nlisten_addr = 1.2.3.4:5\n", "t.conf:2: [broker] listen_addr: unknown key");
	expect_error("[brokr]\nlisten = 1.2.3.4:5\n", "t.conf:2: [brokr]: unknown section");
	/* A key in the wrong section stops us, as in guacd. */
	expect_error("[gateway]\nsession_ttl = 60\n", "t.conf:2: [gateway] session_ttl: unknown key");
	expect_error("listen = 1.2.3.4:5\n", "t.conf:1: listen: key outside any section");
	expect_error("[pam]\nservice = a\nservice = b\n", "t.conf:3: [pam] service: given twice in this file");
	expect_error("[pam]\nservice =\n", "t.conf:2: [pam] service: must not be empty");
	expect_error("[libvirt]\nvirt_type = xen\n", "t.conf:2: [libvirt] virt_type: expected one of auto, kvm, qemu, got \"xen\"");
	expect_error("[libvirt]\nhosts = , ,\n", "t.conf:2: [libvirt] hosts: expected at least one item");
	expect_error("[gateway]\npublic_url = http://x\n", "t.conf:2: [gateway] public_url: expected a ws:// or wss:// URL");
	expect_error("[gateway]\nallowed_targets = /run/vdi/spice/\n",
		     "t.conf:2: [gateway] allowed_targets: expected unix:/PATH or tcp:ADDRESS[/PREFIX]:PORT[-PORT], got \"/run/vdi/spice/\"");
	expect_error("[gateway]\nallowed_targets = unix:/x/, tcp:host2.example:5900\n",
		     "t.conf:2: [gateway] allowed_targets: \"host2.example\" is not a numeric IPv4 address");
	expect_error("[gateway]\nallowed_targets = tcp:10.0.0.5:5999-5900\n",
		     "t.conf:2: [gateway] allowed_targets: expected a port 1..65535 or a range LOW-HIGH at the end of \"tcp:10.0.0.5:5999-5900\"");
	expect_error("[gateway]\nallowed_targets = tcp:10.0.0.5/24:5900\n", "has bits set beyond its /24 prefix");
	expect_error("[gateway]\nallowed_targets = tcp:10.0.0.0/33:5900\n", "expected a prefix length 0..32");
	expect_error("[gateway]\nallowed_targets = tcp:::1:5900\n", "or a bracketed IPv6 address");
	expect_error("[tokens]\nttl = 1\n", "t.conf:2: [tokens] ttl: 1 is out of range 5..3600");
	expect_error("[pam]\nservice = vdi\njust words\n", "t.conf:3: expected \"key = value\"");
	expect_error("[pam\nservice = vdi\n", "t.conf:1: section header without ']'");
	/* inih would take this as a continuation of service: refused instead. */
	expect_error("[pam]\nservice = vdi\n  admin_group = x\n", "t.conf:3: indented line after a key");
}

static void test_long_lines_utf8_crlf_bom(void)
{
	struct vdi_config c;
	struct vdi_error err = { 0 };
	char text[600];

	/* Debian's inih cuts lines near 200 characters without a word: refused here. */
	snprintf(text, sizeof(text), "[pam]\nservice = %0*d\n", 300, 7);
	check_err(apply(&c, text, &err), EINVAL);
	check_str_contains(err.message, "t.conf:2: line longer than");
	vdi_config_finish(&c);

	/* Just under the limit is fine and kept whole. */
	snprintf(text, sizeof(text), "[pam]\nservice = %0*d\n", VDI_CONFIG_MAX_LINE - 10, 7);
	check_ok(apply(&c, text, &err));
	check_int_eq(strlen(c.pam.service), VDI_CONFIG_MAX_LINE - 10);
	vdi_config_finish(&c);

	check_ok(apply(&c, "\xEF\xBB\xBF[pam]\r\nservice = vdi\r\nadmin_group = \xC3\xA9quipe-\xE7\xA0\x94\xE7\xA9\xB6\r\n", &err));
	check_str_eq(c.pam.service, "vdi");
	check_str_eq(c.pam.admin_group, "\xC3\xA9quipe-\xE7\xA0\x94\xE7\xA9\xB6");
	vdi_config_finish(&c);

	/* A file whose last line is a lone CR (no LF) ends (found by fuzz-config: it looped). */
	check_ok(apply(&c, "[pam]\nservice = vdi\n\r", &err));
	check_str_eq(c.pam.service, "vdi");
	vdi_config_finish(&c);
	check_ok(apply(&c, "[pam]\nservice = vdi\r", &err));
	vdi_config_finish(&c);

	/* Indentation before a section's first key is fine; so are inline comments. */
	check_ok(apply(&c, "[pam]\n  service = vdi ; the PAM service\n", &err));
	check_str_eq(c.pam.service, "vdi");
	vdi_config_finish(&c);
}

static void test_load_with_dropins(void)
{
	_cleanup_free_ char *main_path = write_conf("vdi.conf", "[pam]\nservice = main\nadmin_group = g0\n[tokens]\nttl = 10\n");
	struct vdi_error err = { 0 };
	char dir[512];
	struct vdi_config c;

	/* No drop-in directory: fine. */
	check_ok(vdi_config_load(main_path, &c, &err));
	check_str_eq(c.pam.service, "main");
	check(c.files && c.files[0] && !c.files[1]);
	check_str_eq(c.files[0], main_path);
	vdi_config_finish(&c);

	snprintf(dir, sizeof(dir), "%s.d", main_path);
	check(mkdir(dir, 0755) == 0);
	free(write_conf("vdi.conf.d/20-b.conf", "[pam]\nservice = twenty\n"));
	free(write_conf("vdi.conf.d/10-a.conf", "[pam]\nservice = ten\nadmin_group = g10\n"));
	free(write_conf("vdi.conf.d/30-c.conf.disabled", "[pam]\nservice = ignored\n"));
	free(write_conf("vdi.conf.d/.hidden.conf", "[pam]\nservice = hidden\n"));
	check_ok(vdi_config_load(main_path, &c, &err));
	check_str_eq(c.pam.service, "twenty");  /* 20-b after 10-a */
	check_str_eq(c.pam.admin_group, "g10");
	check_int_eq(c.tokens.ttl, 10);          /* from the main file */
	/* Every file read, in the order read: what --check-config prints. */
	check(c.files && c.files[0] && c.files[1] && c.files[2] && !c.files[3]);
	check_str_eq(c.files[0], main_path);
	check_str_contains(c.files[1], "/vdi.conf.d/10-a.conf");
	check_str_contains(c.files[2], "/vdi.conf.d/20-b.conf");
	vdi_config_finish(&c);

	/* The same key in two files is fine (later wins); an error in a drop-in names that file. */
	free(write_conf("vdi.conf.d/40-bad.conf", "[tokens]\n\nttl = many\n"));
	check_err(vdi_config_load(main_path, &c, &err), EINVAL);
	check_str_contains(err.message, "vdi.conf.d/40-bad.conf:3: [tokens] ttl: expected a whole number");
	check(c.pam.service == NULL && c.files == NULL); /* nothing left allocated on failure */
}

static void test_missing_and_odd_files(void)
{
	struct vdi_config c;
	struct vdi_error err = { 0 };
	_cleanup_free_ char *path = NULL;

	check_err(vdi_config_load("/nonexistent/vdi.conf", &c, &err), ENOENT);
	check_str_contains(err.message, "/nonexistent/vdi.conf: cannot open");
	check_err(vdi_config_load(vdi_test_tmpdir(), &c, &err), EINVAL);
	check_str_contains(err.message, "not a regular file");

	check(asprintf(&path, "%s/nul.conf", vdi_test_tmpdir()) > 0);
	{
		FILE *f = fopen(path, "we");

		check(f);
		fwrite("[pam]\nservice = a\0b\n", 1, 20, f);
		fclose(f);
	}
	check_err(vdi_config_load(path, &c, &err), EINVAL);
	check_str_contains(err.message, "NUL byte");
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_defaults),
	VDI_TEST(test_every_key),
	VDI_TEST(test_errors_name_file_line_key),
	VDI_TEST(test_long_lines_utf8_crlf_bom),
	VDI_TEST(test_load_with_dropins),
	VDI_TEST(test_missing_and_odd_files),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
