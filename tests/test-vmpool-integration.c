/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpool against a real libvirtd (qemu:///system) and QEMU, with the test
 * guest built by tests/guest/build-guest.  Each test makes its own storage
 * pool in its own temp dir and removes what it made; the last test checks
 * that nothing of ours is left in libvirt.
 *
 * Environment (set by meson): VDI_TEST_GUEST_DIR, VDI_SOURCE_ROOT.
 * VDI_TEST_VIRT_TYPE overrides the domain type (default: auto).
 * VDI_SKIP_INTEGRATION=1 skips when no libvirtd answers; otherwise that fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "harness.h"
#include "spice-link.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define URI "qemu:///system"
#define BANNER "VDI-TEST-GUEST READY"
#define BOOT_TIMEOUT_MS 120000

struct it {
	char pool_name[64];   /* libvirt storage pool */
	char images[512];
	char run[512];
	struct pool_host *host;
	struct pool_template *tmpl;
};

/* ---- fixtures ---------------------------------------------------------------- */

static struct pool_template *make_template(const char *name, const char *disk, const char *extra_cmdline)
{
	_cleanup_free_ char *xml = test_guest_xml(extra_cmdline);
	struct pool_template_options o = { .name = name, .disk_path = disk, .xml = xml };
	struct vdi_error err = { { 0 } };
	struct pool_template *t = NULL;

	if (pool_template_new(&o, &t, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "template %s: %s", name, err.message);
	return t;
}

static struct pool_host *open_host(struct it *it, struct vdi_error *err, int *ret)
{
	struct pool_host_options o = {
		.uri = URI,
		.storage_pool = it->pool_name,
		.storage_path = it->images,
		.runtime_dir = it->run,
		.virt_type = getenv("VDI_TEST_VIRT_TYPE"),
	};
	struct pool_host *host = NULL;

	*ret = pool_host_new(&o, &host, err);
	return host;
}

static void it_setup_at(struct it *it, const char *images)
{
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *disk = test_guest_path("template.qcow2");
	int r;

	test_require_libvirt(URI);
	test_cleanup_stale_runs(URI);
	memset(it, 0, sizeof(*it));
	snprintf(it->pool_name, sizeof(it->pool_name), "vdi-test-%d-%d", (int)getppid(), (int)getpid());
	snprintf(it->images, sizeof(it->images), "%s", images);
	snprintf(it->run, sizeof(it->run), "%s/run", vdi_test_tmpdir());
	it->host = open_host(it, &err, &r);
	if (r < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_new: %s", err.message);
	it->tmpl = make_template("guest", disk, NULL);
}

static void it_setup(struct it *it)
{
	char images[512];

	snprintf(images, sizeof(images), "%s/images", vdi_test_tmpdir());
	it_setup_at(it, images);
}

/* Deletes every desktop on the host's storage pool, then the pool itself. */
static void it_teardown(struct it *it)
{
	struct pool_desktop_info *list = NULL;
	size_t n = 0;
	virConnectPtr c;
	virStoragePoolPtr sp;

	if (pool_desktop_list(it->host, &list, &n, NULL) >= 0) {
		for (size_t i = 0; i < n; i++)
			if (list[i].overlay_path && strstr(list[i].overlay_path, it->images))
				(void)pool_desktop_delete(it->host, list[i].domain, NULL);
		pool_desktop_list_free(list, n);
	}
	pool_template_free(it->tmpl);
	pool_host_free(it->host);

	c = virConnectOpen(URI);
	check(c);
	sp = virStoragePoolLookupByName(c, it->pool_name);
	if (sp) {
		(void)virStoragePoolDestroy(sp);
		(void)virStoragePoolUndefine(sp);
		virStoragePoolFree(sp);
	}
	virConnectClose(c);
}

static char *desktop_name(const char *pool, int64_t id)
{
	char *n = malloc(128);

	check(n && pool_domain_name(pool, id, n, 128) >= 0);
	return n;
}

/* ---- console ------------------------------------------------------------------ */

/* ---- libvirt checks -------------------------------------------------------------- */

static bool domain_exists(const char *name)
{
	return test_domain_exists(URI, name);
}

/* Overlay files in the pool's directory, by looking at the disk, not libvirt's idea of it: its regular
 * files (a file removed meanwhile is not counted; a directory that cannot be read fails the test). */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		vdi_test_fail(__FILE__, __LINE__, "cannot open %s: %s", dir, strerror(errno));
	while ((errno = 0, e = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			n += S_ISREG(st.st_mode);
		else if (errno != ENOENT)
			vdi_test_fail(__FILE__, __LINE__, "cannot stat %s/%s: %s", dir, e->d_name, strerror(errno));
	}
	if (errno)
		vdi_test_fail(__FILE__, __LINE__, "cannot read %s: %s", dir, strerror(errno));
	closedir(d);
	return n;
}

static char *read_marker(const char *disk)
{
	_cleanup_free_ char *script = NULL;
	char cmd[2048], line[256] = "";
	FILE *p;
	size_t len;

	check(asprintf(&script, "%s/tests/guest/read-marker", test_env_or_fail("VDI_SOURCE_ROOT")) > 0);
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", script, disk);
	p = popen(cmd, "r");
	check(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	check_int_eq(pclose(p), 0);
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = '\0';
	return strdup(line);
}

static char *overlay_of(struct it *it, const char *domain)
{
	char *p;

	check(asprintf(&p, "%s/%s.qcow2", it->images, domain) > 0);
	return p;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_clone_ten_and_boot(void)
{
	struct it it;
	static char console[8192];
	uint64_t t0, created, booted[10];

	it_setup(&it);
	t0 = vdi_test_now_ms();
	for (int i = 1; i <= 10; i++) {
		struct vdi_error err = { { 0 } };

		if (pool_desktop_create(it.host, it.tmpl, "ten", i, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "create %d: %s", i, err.message);
	}
	created = vdi_test_now_ms() - t0;
	vdi_test_log("10 clones created in %" PRIu64 " ms (type %s)", created, pool_host_virt_type(it.host));
	check_int_eq(count_files(it.images), 10);

	t0 = vdi_test_now_ms();
	for (int i = 1; i <= 10; i++) {
		_cleanup_free_ char *name = desktop_name("ten", i);
		struct vdi_error err = { { 0 } };

		if (pool_desktop_start(it.host, name, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "start %s: %s", name, err.message);
	}
	for (int i = 1; i <= 10; i++) {
		_cleanup_free_ char *name = desktop_name("ten", i);

		if (!test_console_wait(URI, name, BANNER, BOOT_TIMEOUT_MS, console, sizeof(console)))
			vdi_test_fail(__FILE__, __LINE__, "%s showed no banner; console:\n%s", name, console);
		booted[i - 1] = vdi_test_now_ms() - t0;
	}
	vdi_test_log("all 10 showed \"" BANNER "\"; last after %" PRIu64 " ms from the first start", booted[9]);

	for (int i = 1; i <= 10; i++) {
		_cleanup_free_ char *name = desktop_name("ten", i);

		check_ok(pool_desktop_delete(it.host, name, NULL));
		check(!domain_exists(name));
	}
	check_int_eq(count_files(it.images), 0);
	it_teardown(&it);
}

/* Boots a desktop, waits for needle on its console, powers it off. */
static void boot_and_expect(struct it *it, const char *domain, const char *needle)
{
	static char console[8192];
	struct vdi_error err = { { 0 } };

	if (pool_desktop_start(it->host, domain, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "start %s: %s", domain, err.message);
	if (!test_console_wait(URI, domain, needle, BOOT_TIMEOUT_MS, console, sizeof(console)))
		vdi_test_fail(__FILE__, __LINE__, "%s: no \"%s\" on the console:\n%s", domain, needle, console);
	/* The marker line comes before the banner: wait for the banner so the write is done. */
	if (!strstr(console, BANNER))
		check(test_console_wait(URI, domain, BANNER, BOOT_TIMEOUT_MS, console, sizeof(console)));
	check_ok(pool_desktop_destroy(it->host, domain, &err));
}

/* Redefines stopped domain without its guest agent channel (every clone gets one): a desktop whose guest can run
 * no agent. */
static void drop_agent_channel(const char *domain)
{
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr d, again;
	_cleanup_free_ char *xml = NULL;
	char *name, *open, *close;

	check(c);
	d = virDomainLookupByName(c, domain);
	check(d);
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	check(xml);
	check(name = strstr(xml, "name='org.qemu.guest_agent.0'"));
	for (open = name; open > xml && strncmp(open, "<channel", 8) != 0; open--)
		;
	check(close = strstr(name, "</channel>"));
	memmove(open, close + strlen("</channel>"), strlen(close + strlen("</channel>")) + 1);
	check(!strstr(xml, "org.qemu.guest_agent.0"));
	check(again = virDomainDefineXML(c, xml));
	virDomainFree(again);
	virDomainFree(d);
	virConnectClose(c);
}

struct shutdown_call {
	struct it *it;
	const char *domain;
	int result;
	struct vdi_error err;
};

static void shutdown_call(void *data)
{
	struct shutdown_call *s = data;

	s->result = pool_desktop_shutdown(s->it->host, s->domain, 60000, &s->err);
}

static void test_overlay_isolation_and_reset(void)
{
	struct it it;
	_cleanup_free_ char *disk = test_guest_path("template.qcow2");
	struct pool_template *marking;
	_cleanup_free_ char *d1 = desktop_name("iso", 1), *d2 = desktop_name("iso", 2);
	_cleanup_free_ char *o1 = NULL, *o2 = NULL;
	char *m;

	it_setup(&it);
	/* Desktop 1 comes from a template whose kernel command line asks the guest to write a marker. */
	marking = make_template("guest", disk, " vdi.marker=desk1mark");
	check_ok(pool_desktop_create(it.host, marking, "iso", 1, NULL));
	check_ok(pool_desktop_create(it.host, it.tmpl, "iso", 2, NULL));
	o1 = overlay_of(&it, d1);
	o2 = overlay_of(&it, d2);

	boot_and_expect(&it, d1, "vdi-marker-written: desk1mark");
	m = read_marker(o1);
	check_str_eq(m, "desk1mark");
	free(m);
	m = read_marker(o2);
	check_str_eq(m, "none");
	free(m);
	m = read_marker(disk);
	check_str_eq(m, "none");
	free(m);

	/* Desktop 2 boots and finds no marker: the write landed in desktop 1's overlay only.  It has no guest
	 * agent channel, so its shutdown is the ACPI power button's, which its guest tells (build-guest). */
	drop_agent_channel(d2);
	check_ok(pool_desktop_start(it.host, d2, NULL));
	{
		static char console[8192];
		struct shutdown_call sc = { .it = &it, .domain = d2 };

		if (!test_console_wait(URI, d2, BANNER " marker=none", BOOT_TIMEOUT_MS, console, sizeof(console)))
			vdi_test_fail(__FILE__, __LINE__, "%s: no \"" BANNER " marker=none\":\n%s", d2, console);
		if (!test_console_during(URI, d2, shutdown_call, &sc, "vdi-shutdown: acpi", BOOT_TIMEOUT_MS, console,
					 sizeof(console)))
			vdi_test_fail(__FILE__, __LINE__, "%s: no \"vdi-shutdown: acpi\" on the console:\n%s", d2, console);
		if (sc.result != 1)
			vdi_test_fail(__FILE__, __LINE__, "pool_desktop_shutdown(%s) = %d (%s), not 1: the guest did not stop by itself",
				      d2, sc.result, sc.err.message);
		check(!strstr(console, "vdi-shutdown: agent"));
	}

	/* Reset discards the overlay: the marker is gone on disk and the guest sees none. */
	check_ok(pool_desktop_reset(it.host, it.tmpl, d1, NULL));
	m = read_marker(o1);
	check_str_eq(m, "none");
	free(m);
	{
		/* Boot desktop 1 again without the marker request to see what the guest reads. */
		check_ok(pool_desktop_delete(it.host, d2, NULL));
		boot_and_expect(&it, d1, "vdi-marker: none");
	}

	pool_template_free(marking);
	it_teardown(&it);
}

static void make_template_with_data(const char *path, const char *size, unsigned data_mib)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' %s", path, size);
	check_int_eq(system(cmd), 0);
	/* Real data in the template, so that a copy would cost. */
	snprintf(cmd, sizeof(cmd), "qemu-io -f qcow2 -c 'write -P 0xab 0 %uM' '%s' >/dev/null", data_mib, path);
	check_int_eq(system(cmd), 0);
}

static uint64_t file_blocks_bytes(const char *path)
{
	struct stat st;

	check(stat(path, &st) == 0);
	return (uint64_t)st.st_blocks * 512;
}

static void test_clone_cost_independent_of_template_size(void)
{
	struct it it;
	char small[512], big[512];
	struct pool_template *ts, *tb;
	uint64_t ms_small = 0, ms_big = 0, max_overlay = 0;
	const int n = 5;

	it_setup(&it);
	snprintf(small, sizeof(small), "%s/small.qcow2", vdi_test_tmpdir());
	snprintf(big, sizeof(big), "%s/big.qcow2", vdi_test_tmpdir());
	make_template_with_data(small, "1G", 64);
	make_template_with_data(big, "16G", 256);
	ts = make_template("small", small, NULL);
	tb = make_template("big", big, NULL);
	check_int_eq(ts->capacity, 1ULL << 30);
	check_int_eq(tb->capacity, 16ULL << 30);

	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *a = desktop_name("small", i), *b = desktop_name("big", i);
		_cleanup_free_ char *oa = overlay_of(&it, a), *ob = overlay_of(&it, b);
		uint64_t t0 = vdi_test_now_ms();

		check_ok(pool_desktop_create(it.host, ts, "small", i, NULL));
		ms_small += vdi_test_now_ms() - t0;
		t0 = vdi_test_now_ms();
		check_ok(pool_desktop_create(it.host, tb, "big", i, NULL));
		ms_big += vdi_test_now_ms() - t0;

		/* No template data is copied: each overlay holds only its QCOW2 metadata, whatever the template's size. */
		max_overlay = file_blocks_bytes(oa) > max_overlay ? file_blocks_bytes(oa) : max_overlay;
		max_overlay = file_blocks_bytes(ob) > max_overlay ? file_blocks_bytes(ob) : max_overlay;
	}
	check(max_overlay < 1024 * 1024);
	check(file_blocks_bytes(small) >= 64ULL << 20);
	check(file_blocks_bytes(big) >= 256ULL << 20);
	vdi_test_log("mean create: %" PRIu64 " ms (1 GiB template) vs %" PRIu64 " ms (16 GiB); largest overlay %" PRIu64
		     " KiB; bench/clone measures this properly",
		     ms_small / n, ms_big / n, max_overlay / 1024);

	pool_template_free(ts);
	pool_template_free(tb);
	it_teardown(&it);
}

static void test_spice_redq_ticket_and_graphics_events(void)
{
	struct it it;
	struct test_event_log log = TEST_EVENT_LOG_INIT;
	_cleanup_free_ char *d = desktop_name("spice", 1);
	struct spice_link_result res;
	struct vdi_error err = { { 0 } };
	char target[512];

	it_setup(&it);
	pool_host_set_event_handler(it.host, test_event_record, &log);
	check_ok(pool_desktop_create(it.host, it.tmpl, "spice", 1, NULL));
	check_ok(pool_desktop_start(it.host, d, NULL));
	check(test_event_wait(&log, "started:vdi-spice-1", 10000));
	check_ok(pool_desktop_spice_target(it.host, d, target, sizeof(target)));

	/* The socket answers the SPICE link with REDQ. */
	check_ok(spice_link_probe(target, NULL, 5000, &res));
	check_str_eq(res.magic, "REDQ");
	check_int_eq(res.major, 2);

	/* Before any console request the ticket is a random one nobody knows. */
	check_ok(spice_link_probe(target, "", 5000, &res));
	check(res.auth_done);
	check(res.auth_result != 0);

	/* A ticket valid for 3 s: accepted, a wrong one refused, and refused once expired. */
	check_ok(pool_desktop_set_ticket(it.host, d, "Tick3t-One", time(NULL) + 3, &err));
	check_ok(spice_link_probe(target, "Tick3t-One", 5000, &res));
	check(res.auth_done);
	check_int_eq(res.auth_result, 0);
	check(test_event_wait(&log, "graphics-connect:vdi-spice-1", 10000));
	check(test_event_wait(&log, "graphics-initialize:vdi-spice-1", 10000));
	check(test_event_wait(&log, "graphics-disconnect:vdi-spice-1", 10000));
	/* Each names its client: on the unix socket, "unix" (issue 18). */
	check(test_event_wait(&log, "graphics-initialize:vdi-spice-1:spice:1:client=unix\n", 1000));

	check_ok(spice_link_probe(target, "wrong", 5000, &res));
	check(res.auth_result != 0);
	sleep(4);
	check_ok(spice_link_probe(target, "Tick3t-One", 5000, &res));
	check(res.auth_done);
	check(res.auth_result != 0);

	/* A fresh ticket without expiry works again. */
	check_ok(pool_desktop_set_ticket(it.host, d, "Tick3t-Two", 0, &err));
	check_ok(spice_link_probe(target, "Tick3t-Two", 5000, &res));
	check_int_eq(res.auth_result, 0);

	check_ok(pool_desktop_destroy(it.host, d, NULL));
	check(test_event_wait(&log, "stopped:vdi-spice-1", 10000));
	pool_host_set_event_handler(it.host, NULL, NULL);
	it_teardown(&it);
}

static void restart_libvirtd(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s/tools/libvirt-host' restart", test_env_or_fail("VDI_SOURCE_ROOT"));
	check_int_eq(system(cmd), 0);
}

static void stop_libvirtd(void)
{
	/* This machine's libvirtd by its pidfile: not another test host's (tests/second-host). */
	check_int_eq(system("pid=$(cat /run/libvirtd.pid); [ -n \"$pid\" ] || exit 1; kill -TERM $pid;"
			    " for i in $(seq 100); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.1; done;"
			    " kill -KILL $pid 2>/dev/null || ! kill -0 $pid 2>/dev/null"),
		     0);
}

static void test_reconnect_after_libvirtd_restart(void)
{
	struct it it;
	struct test_event_log log = TEST_EVENT_LOG_INIT;
	_cleanup_free_ char *d1 = desktop_name("rc", 1), *d2 = desktop_name("rc", 2);
	struct pool_desktop_info info;
	struct vdi_error err = { { 0 } };
	int r;

	it_setup(&it);
	pool_host_set_event_handler(it.host, test_event_record, &log);
	check_ok(pool_desktop_create(it.host, it.tmpl, "rc", 1, NULL));
	check_ok(pool_desktop_start(it.host, d1, NULL));

	/* libvirtd down: a clear error, and nothing created. */
	stop_libvirtd();
	check(test_event_wait(&log, "host-lost:-", 20000));
	r = pool_desktop_create(it.host, it.tmpl, "rc", 2, &err);
	check_err(r, ENOTCONN);
	check_str_contains(err.message, URI);
	vdi_test_log("with libvirtd down: %s", err.message);

	restart_libvirtd();
	check(test_event_wait(&log, "host-back:-", 20000));
	check(pool_host_is_alive(it.host));
	check(pool_host_reconnects(it.host) >= 1);
	check(!domain_exists(d2));
	check_int_eq(count_files(it.images), 1);

	/* The running desktop survived, and the host works as before, events included. */
	check_ok(pool_desktop_get_info(it.host, d1, &info, NULL));
	check_int_eq(info.state, POOL_DESKTOP_RUNNING);
	pool_desktop_info_finish(&info);
	check_ok(pool_desktop_create(it.host, it.tmpl, "rc", 2, NULL));
	check(test_event_wait(&log, "defined:vdi-rc-2", 10000));
	check_ok(pool_desktop_destroy(it.host, d1, NULL));
	check(test_event_wait(&log, "stopped:vdi-rc-1", 10000));

	pool_host_set_event_handler(it.host, NULL, NULL);
	it_teardown(&it);
}

static void test_bad_template_disks(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	struct pool_template *t = NULL;
	_cleanup_free_ char *xml = test_guest_xml(NULL);
	char path[512], cmd[2048];
	struct pool_template_options o = { .name = "bad", .xml = xml };

	it_setup(&it);

	o.disk_path = "/nonexistent/template.qcow2";
	check_err(pool_template_new(&o, &t, &err), ENOENT);
	check_str_contains(err.message, "/nonexistent/template.qcow2");

	snprintf(path, sizeof(path), "%s/raw.img", vdi_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f raw '%s' 64M", path);
	check_int_eq(system(cmd), 0);
	o.disk_path = path;
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "not a QCOW2 image");

	/* A QCOW2 whose L1 table offset points past the end of the file. */
	snprintf(path, sizeof(path), "%s/corrupt.qcow2", vdi_test_tmpdir());
	snprintf(cmd, sizeof(cmd),
		 "qemu-img create -q -f qcow2 '%s' 1G && printf '\\x00\\x00\\x00\\x7f\\x00\\x00\\x00\\x00' | "
		 "dd of='%s' bs=1 seek=40 conv=notrunc status=none", path, path);
	check_int_eq(system(cmd), 0);
	o.disk_path = path;
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "corrupt");
	check(t == NULL);

	/* Nothing reached libvirt. */
	check_int_eq(count_files(it.images), 0);
	it_teardown(&it);
}

static void test_duplicate_names(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };

	it_setup(&it);
	check_ok(pool_desktop_create(it.host, it.tmpl, "dup", 1, NULL));
	check_err(pool_desktop_create(it.host, it.tmpl, "dup", 1, &err), EEXIST);
	check_str_contains(err.message, "vdi-dup-1");
	check_int_eq(count_files(it.images), 1);

	/* An overlay left behind without its domain (a crash): refused, and the file is not overwritten. */
	check_ok(pool_desktop_create(it.host, it.tmpl, "dup", 2, NULL));
	{
		virConnectPtr c = virConnectOpen(URI);
		virDomainPtr dom = virDomainLookupByName(c, "vdi-dup-2");

		check(dom && virDomainUndefine(dom) == 0);
		virDomainFree(dom);
		virConnectClose(c);
	}
	check_err(pool_desktop_create(it.host, it.tmpl, "dup", 2, &err), EEXIST);
	check_str_contains(err.message, "vdi-dup-2.qcow2");
	check(!domain_exists("vdi-dup-2"));
	check_int_eq(count_files(it.images), 2);
	it_teardown(&it);
}

/*
 * Mounts a tmpfs of the given size at dir.  The integration suite runs as root (qemu:///system,
 * libvirtd's storage): a mount refused there is a failure, not a reason to skip.
 */
static void mount_tmpfs(const char *dir, const char *opts)
{
	test_require_libvirt(URI);
	check(mkdir(dir, 0755) == 0 || errno == EEXIST);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0)
		vdi_test_fail(__FILE__, __LINE__, "cannot mount a tmpfs at %s: %s (the integration suite runs as root)",
			      dir, strerror(errno));
}

/* Writes zeros to path until the file system has no byte left; checks that it has none. */
static void fill_file_system(const char *dir, const char *path)
{
	static const char zeros[65536];
	struct statvfs sv;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	check(fd >= 0);
	/* Ever smaller writes, down to a byte, until not one more fits. */
	for (size_t n = sizeof(zeros); n > 0;) {
		ssize_t w = write(fd, zeros, n);

		if (w < 0) {
			check_int_eq(errno, ENOSPC);
			n /= 2;
		}
	}
	check(write(fd, zeros, 1) < 0 && errno == ENOSPC);
	check(fsync(fd) == 0);
	close(fd);
	check(statvfs(dir, &sv) == 0);
	check_int_eq(sv.f_bavail, 0);
}

static void test_storage_full(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	char images[512], filler[600];
	int r;

	snprintf(images, sizeof(images), "%s/full", vdi_test_tmpdir());
	mount_tmpfs(images, "size=2m,mode=0755");
	it_setup_at(&it, images);

	/* Fill the file system to the last block. */
	snprintf(filler, sizeof(filler), "%s/filler", images);
	fill_file_system(images, filler);

	r = pool_desktop_create(it.host, it.tmpl, "full", 1, &err);
	vdi_test_log("full storage: %d (%s): %s", r, strerror(-r), err.message);
	check_err(r, ENOSPC);
	check_str_contains(err.message, "vdi-full-1");
	check(!domain_exists("vdi-full-1"));
	check_int_eq(count_files(images), 1); /* the filler only */

	it_teardown(&it);
	(void)umount2(images, MNT_DETACH);
}

static void test_storage_read_only(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	char images[512];
	int r;

	snprintf(images, sizeof(images), "%s/ro", vdi_test_tmpdir());
	mount_tmpfs(images, "size=64m,mode=0755");
	it_setup_at(&it, images);
	check(mount(NULL, images, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);

	r = pool_desktop_create(it.host, it.tmpl, "ro", 1, &err);
	vdi_test_log("read-only storage: %d (%s): %s", r, strerror(-r), err.message);
	check(r == -EROFS || r == -EACCES || r == -EPERM);
	check_str_contains(err.message, "vdi-ro-1");
	check(!domain_exists("vdi-ro-1"));
	check_int_eq(count_files(images), 0);

	it_teardown(&it);
	(void)umount2(images, MNT_DETACH);
}

/* ---- base volumes (template versions) -------------------------------------------------- */

/* Runs a shell command; fails the test when it does not exit 0. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	check(r > 0);
	r = system(cmd);
	if (r != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: status %d", cmd, r);
}

/* What a shell command prints, without its last newline (a new string, "" when nothing); fails the test when
 * the command does not exit 0. */
static char *sh_output(const char *cmd)
{
	char *out = NULL, buf[4096];
	size_t size = 0, n;
	FILE *p = popen(cmd, "r"), *m = open_memstream(&out, &size);
	int status;

	check(p && m);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		check(fwrite(buf, 1, n, m) == n);
	check(fclose(m) == 0);
	status = pclose(p);
	if (status != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: status %d", cmd, status);
	if (size && out[size - 1] == '\n')
		out[size - 1] = '\0';
	return out;
}

/* A new directory under the test's temp dir, outside every storage pool. */
static char *src_dir(const char *name)
{
	char *d;

	check(asprintf(&d, "%s/%s", vdi_test_tmpdir(), name) > 0);
	check(mkdir(d, 0755) == 0);
	return d;
}

/*
 * A QCOW2 chain with data in both layers: base.qcow2 (0x11 at 0-1M, 0x33 at 4M-5M) under top.qcow2
 * (0x22 at 2M-3M, 0x44 over 4M-4.5M).  Returns top's path, a new string.
 */
static char *make_chain(const char *dir)
{
	char *top;

	check(asprintf(&top, "%s/top.qcow2", dir) > 0);
	sh("qemu-img create -q -f qcow2 '%s/base.qcow2' 64M && "
	   "qemu-io -f qcow2 -c 'write -P 0x11 0 1M' -c 'write -P 0x33 4M 1M' '%s/base.qcow2' >/dev/null && "
	   "qemu-img create -q -f qcow2 -b '%s/base.qcow2' -F qcow2 '%s' && "
	   "qemu-io -f qcow2 -c 'write -P 0x22 2M 1M' -c 'write -P 0x44 4M 512k' '%s' >/dev/null",
	   dir, dir, dir, top, top);
	return top;
}

/*
 * No storage pool (of any name, transient ones included) is left on dir: virsh's view.  A failing virsh
 * fails the test; only a pool gone between the listing and its pool-dumpxml (another test's transient
 * pool) is skipped.
 */
static void check_no_pool_on(const char *dir)
{
	_cleanup_free_ char *cmd = NULL, *left = NULL;

	check(asprintf(&cmd,
		       "names=$(virsh -q -c " URI " pool-list --all --name) || exit 1; "
		       "for p in $names; do "
		       "if xml=$(virsh -q -c " URI " pool-dumpxml \"$p\" 2>/dev/null); then "
		       "case $xml in *'<path>%s</path>'*) echo \"$p\";; esac; "
		       "else "
		       "now=$(virsh -q -c " URI " pool-list --all --name) || exit 1; "
		       "for q in $now; do [ \"$q\" != \"$p\" ] || { echo \"pool-dumpxml $p failed\" >&2; exit 1; }; done; "
		       "fi; "
		       "done",
		       dir) > 0);
	left = sh_output(cmd);
	if (left[0])
		vdi_test_fail(__FILE__, __LINE__, "storage pool %s on %s was left behind", left, dir);
}

static size_t strv_len(char **strv)
{
	size_t n = 0;

	while (strv && strv[n])
		n++;
	return n;
}

/* Checks the base at path: QCOW2 without a backing file, mode 0444 (qemu-img's view). */
static void check_flat_base(const char *path)
{
	_cleanup_free_ char *cmd = NULL, *info = NULL;
	json_error_t jerr;
	json_t *j;
	struct stat st;

	check(stat(path, &st) == 0);
	check_int_eq(st.st_mode & 07777, 0444);
	check(asprintf(&cmd, "qemu-img info -U --output=json '%s'", path) > 0);
	info = sh_output(cmd);
	j = json_loads(info, 0, &jerr);
	if (!json_is_object(j))
		vdi_test_fail(__FILE__, __LINE__, "%s: not a JSON object: %s", cmd, jerr.text);
	check_str_eq(json_string_value(json_object_get(j, "format")), "qcow2");
	if (json_object_get(j, "backing-filename"))
		vdi_test_fail(__FILE__, __LINE__, "base %s has a backing file: %s", path,
			      json_string_value(json_object_get(j, "backing-filename")));
	json_decref(j);
}

static void test_base_from_qcow2_chain(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *dir = src_dir("chain"), *top = make_chain(dir), *path = NULL, *again = NULL,
			    *want = NULL;
	char **list = NULL;
	struct stat before, after;

	it_setup(&it);
	check_ok(pool_base_create(it.host, "gold", 2, top, &path, &err));
	check(asprintf(&want, "%s/vdi-template-gold-v2.qcow2", it.images) > 0);
	check_str_eq(path, want);
	check_flat_base(path);

	/* Both layers' data, and nothing else: the same content as the chain. */
	sh("out=$(qemu-io -r -f qcow2 -c 'read -P 0x11 0 1M' -c 'read -P 0 1M 1M' -c 'read -P 0x22 2M 1M' "
	   "-c 'read -P 0x44 4M 512k' -c 'read -P 0x33 4608k 512k' -c 'read -P 0 5M 59M' '%s') && "
	   "! printf '%%s\\n' \"$out\" | grep -q 'verification failed' && "
	   "[ \"$(printf '%%s\\n' \"$out\" | grep -c '^read ')\" = 6 ]", path);
	sh("qemu-img compare -q -U '%s' '%s'", top, path);

	/* The source was in no pool: the transient pool on its directory is gone. */
	check_no_pool_on(dir);

	/* Listed as a base, not as an overlay. */
	check_ok(pool_base_list(it.host, &list, &err));
	check_int_eq(strv_len(list), 1);
	check_str_eq(list[0], path);
	pool_strv_free(list);
	check_ok(pool_overlay_list(it.host, &list, &err));
	check_int_eq(strv_len(list), 0);
	pool_strv_free(list);

	/* The same version again: -EEXIST, and the base is left as it was. */
	check(stat(path, &before) == 0);
	check_err(pool_base_create(it.host, "gold", 2, top, &again, &err), EEXIST);
	check_str_contains(err.message, "vdi-template-gold-v2.qcow2");
	check(again == NULL);
	check(stat(path, &after) == 0);
	check_int_eq(after.st_ino, before.st_ino);
	check_int_eq(after.st_mtime, before.st_mtime);
	check_no_pool_on(dir);

	check_ok(pool_base_delete(it.host, path, &err));
	check_int_eq(count_files(it.images), 0);
	it_teardown(&it);
}

static void test_base_from_raw_outside_pools(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *dir = src_dir("raw"), *raw = NULL, *path = NULL;

	it_setup(&it);
	check(asprintf(&raw, "%s/disk.img", dir) > 0);
	sh("qemu-img create -q -f raw '%s' 32M && qemu-io -f raw -c 'write -P 0x5a 0 1M' -c 'write -P 0xa5 31M 1M' "
	   "'%s' >/dev/null", raw, raw);

	check_ok(pool_base_create(it.host, "rawt", 1, raw, &path, &err));
	vdi_test_log("base from raw: %s", path);
	check_flat_base(path);
	sh("qemu-img compare -q -U -f raw -F qcow2 '%s' '%s'", raw, path);
	check_no_pool_on(dir);
	check_int_eq(count_files(it.images), 1);

	/* A source put into the host's own storage pool by hand (libvirt has not seen it yet). */
	{
		_cleanup_free_ char *mine = NULL, *path3 = NULL;

		check(asprintf(&mine, "%s/admin.img", it.images) > 0);
		sh("cp '%s' '%s'", raw, mine);
		check_ok(pool_base_create(it.host, "rawt", 3, mine, &path3, &err));
		sh("qemu-img compare -q -U -f raw -F qcow2 '%s' '%s'", raw, path3);
		check_no_pool_on(dir);
		check_ok(pool_base_delete(it.host, path3, &err));
		check(unlink(mine) == 0);
	}
	check_ok(pool_base_delete(it.host, path, &err));
	check_int_eq(count_files(it.images), 0);
	it_teardown(&it);
}

/* Sources that are no disk image: refused, and nothing is left behind (no volume, no pool). */
static void test_base_bad_sources(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *dir = src_dir("bad"), *odd = NULL, *orphan = NULL, *missing = NULL;
	char *path = NULL, **list = NULL;
	int r;

	it_setup(&it);
	check(asprintf(&odd, "%s/odd.img", dir) > 0);
	sh("head -c 1000 /dev/zero > '%s'", odd);
	check_err(pool_base_create(it.host, "bad", 1, odd, &path, &err), EINVAL);
	check_str_contains(err.message, "odd.img");

	check(asprintf(&missing, "%s/missing.qcow2", dir) > 0);
	check_err(pool_base_create(it.host, "bad", 1, missing, &path, &err), EINVAL);
	check_str_contains(err.message, "missing.qcow2");
	check_err(pool_base_create(it.host, "bad", 1, dir, &path, &err), EINVAL);
	check_str_contains(err.message, "not a regular file");

	/* A sane QCOW2 header whose backing file is gone: only the copy can tell. */
	check(asprintf(&orphan, "%s/orphan.qcow2", dir) > 0);
	sh("qemu-img create -q -f qcow2 '%s/gone.qcow2' 16M && "
	   "qemu-img create -q -f qcow2 -b '%s/gone.qcow2' -F qcow2 '%s' && rm '%s/gone.qcow2'", dir, dir, orphan, dir);
	r = pool_base_create(it.host, "bad", 1, orphan, &path, &err);
	vdi_test_log("orphan overlay as a source: %d (%s): %s", r, strerror(-r), err.message);
	check(r < 0);
	check(r != -EEXIST);
	check(err.message[0]);
	check(path == NULL);

	check_int_eq(count_files(it.images), 0);
	check_ok(pool_base_list(it.host, &list, &err));
	check_int_eq(strv_len(list), 0);
	pool_strv_free(list);
	check_no_pool_on(dir);
	it_teardown(&it);
}

/* A domain of the admin's own (not vdi's), defined and not running, whose disk XML is given. */
static virDomainPtr define_user_domain(const char *name, const char *disk_xml)
{
	_cleanup_free_ char *xml = NULL;
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr d;

	check(c);
	check(asprintf(&xml,
		       "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>"
		       "<os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>", name, disk_xml) > 0);
	d = virDomainDefineXML(c, xml);
	if (!d)
		vdi_test_fail(__FILE__, __LINE__, "cannot define %s: %s", name, virGetLastErrorMessage());
	virConnectClose(c);
	return d;
}

static void undefine(virDomainPtr d)
{
	check_ok(virDomainUndefine(d));
	virDomainFree(d);
}

static void test_base_users_and_delete(void)
{
	struct it it;
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *dir = src_dir("users"), *top = make_chain(dir), *path = NULL, *disk = NULL,
			    *overlay = NULL, *u1 = NULL, *u2 = NULL;
	struct pool_template *t;
	char user[256], **list = NULL;
	virDomainPtr d;

	it_setup(&it);
	check_ok(pool_base_create(it.host, "used", 1, top, &path, &err));
	check_int_eq(pool_host_path_user(it.host, path, user, sizeof(user), &err), 0);
	check(asprintf(&u1, "vdi-basetest-%d-a", (int)getpid()) > 0);
	check(asprintf(&u2, "vdi-basetest-%d-b", (int)getpid()) > 0);

	/* A domain with the base as its disk. */
	check(asprintf(&disk, "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
			      "<source file='%s'/><target dev='vda' bus='virtio'/></disk>", path) > 0);
	d = define_user_domain(u1, disk);
	check_int_eq(pool_host_path_user(it.host, path, user, sizeof(user), &err), 1);
	check_str_eq(user, u1);
	check_err(pool_base_delete(it.host, path, &err), EBUSY);
	check_str_contains(err.message, u1);
	undefine(d);

	/* A domain whose disk (outside every pool) names the base as its backing file. */
	check(asprintf(&overlay, "%s/user-overlay.qcow2", dir) > 0);
	sh("qemu-img create -q -f qcow2 -b '%s' -F qcow2 '%s'", path, overlay);
	free(disk);
	check(asprintf(&disk, "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
			      "<source file='%s'/><backingStore type='file'><format type='qcow2'/>"
			      "<source file='%s'/><backingStore/></backingStore>"
			      "<target dev='vda' bus='virtio'/></disk>", overlay, path) > 0);
	d = define_user_domain(u2, disk);
	check_int_eq(pool_host_path_user(it.host, path, user, sizeof(user), &err), 1);
	check_str_eq(user, u2);
	check_int_eq(pool_host_path_user(it.host, overlay, user, sizeof(user), &err), 1);
	check_err(pool_base_delete(it.host, path, &err), EBUSY);
	check_str_contains(err.message, u2);
	undefine(d);

	/* A (stopped) vdi desktop on the base: its overlay volume names it. */
	{
		struct pool_template_options o = { .name = "used", .disk_path = path, .memory_mib = 64, .vcpus = 1 };

		check_ok(pool_template_new(&o, &t, &err));
		check_ok(pool_desktop_create(it.host, t, "bu", 1, &err));
		check_int_eq(pool_host_path_user(it.host, path, user, sizeof(user), &err), 1);
		check_str_eq(user, "vdi-bu-1");
		check_err(pool_base_delete(it.host, path, &err), EBUSY);
		check_str_contains(err.message, "vdi-bu-1");
		/* Bases only: the desktop's overlay is not one. */
		check_ok(pool_base_list(it.host, &list, &err));
		check_int_eq(strv_len(list), 1);
		check_str_eq(list[0], path);
		pool_strv_free(list);
		check_ok(pool_desktop_delete(it.host, "vdi-bu-1", &err));
		pool_template_free(t);
	}

	/* Unused now: deleted; gone already is not an error. */
	check_int_eq(pool_host_path_user(it.host, path, user, sizeof(user), &err), 0);
	check_ok(pool_base_delete(it.host, path, &err));
	check(access(path, F_OK) < 0 && errno == ENOENT);
	check_ok(pool_base_delete(it.host, path, &err));
	check_ok(pool_base_list(it.host, &list, &err));
	check_int_eq(strv_len(list), 0);
	pool_strv_free(list);

	/* Not a base of this host's pool: refused, and the file stays. */
	check_err(pool_base_delete(it.host, top, &err), EINVAL);
	check(access(top, F_OK) == 0);
	it_teardown(&it);
}

/* Runs last: no domain or storage pool of these tests is left in libvirt. */
static void test_nothing_left_behind(void)
{
	virConnectPtr c;
	virDomainPtr *doms = NULL;
	virStoragePoolPtr *pools = NULL;
	int n;

	test_require_libvirt(URI);
	test_cleanup_stale_runs(URI);
	c = virConnectOpen(URI);
	check(c);
	n = virConnectListAllDomains(c, &doms, 0);
	check(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);
		const char *ours[] = { "vdi-ten-", "vdi-iso-", "vdi-small-", "vdi-big-", "vdi-spice-", "vdi-rc-",
				       "vdi-dup-", "vdi-full-", "vdi-ro-", "vdi-bu-", "vdi-basetest-" };

		for (size_t j = 0; j < ELEMENTSOF(ours); j++)
			if (startswith(name, ours[j]))
				vdi_test_fail(__FILE__, __LINE__, "domain %s was left behind", name);
		virDomainFree(doms[i]);
	}
	free(doms);
	n = virConnectListAllStoragePools(c, &pools, 0);
	check(n >= 0);
	for (int i = 0; i < n; i++) {
		char mine[64];

		snprintf(mine, sizeof(mine), "vdi-test-%d-", (int)getppid());
		if (startswith(virStoragePoolGetName(pools[i]), mine))
			vdi_test_fail(__FILE__, __LINE__, "storage pool %s was left behind", virStoragePoolGetName(pools[i]));
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	virConnectClose(c);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_clone_ten_and_boot, 300),
	VDI_TEST_TIMEOUT(test_overlay_isolation_and_reset, 300),
	VDI_TEST_TIMEOUT(test_clone_cost_independent_of_template_size, 120),
	VDI_TEST_TIMEOUT(test_spice_redq_ticket_and_graphics_events, 120),
	VDI_TEST_TIMEOUT(test_reconnect_after_libvirtd_restart, 180),
	VDI_TEST(test_bad_template_disks),
	VDI_TEST(test_duplicate_names),
	VDI_TEST(test_storage_full),
	VDI_TEST(test_storage_read_only),
	VDI_TEST(test_base_from_qcow2_chain),
	VDI_TEST(test_base_from_raw_outside_pools),
	VDI_TEST(test_base_bad_sources),
	VDI_TEST(test_base_users_and_delete),
	VDI_TEST(test_nothing_left_behind),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
