/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test guest's network (tests/guest/build-guest): one desktop on its default
 * <interface type='user'> NIC (QEMU's slirp: DHCP gives 10.0.2.15/24, and 10.0.2.2 is the
 * host's loopback).  It gets its lease at boot, connects where its kernel command line says,
 * and answers the serial commands vdi-net and vdi-connect.  The only traffic is to listeners
 * this test opens on 127.0.0.1.
 *
 * Environment (set by meson): VDI_TEST_GUEST_DIR, VDI_SOURCE_ROOT.
 * VDI_SKIP_INTEGRATION=1 skips when no libvirtd answers; otherwise that fails.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "harness.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define URI "qemu:///system"
#define BOOT_MS 120000
#define NET_LINE "vdi-net: eth0 10.0.2.15/24"

/* A TCP listener on 127.0.0.1 that accepts and closes each connection, counting them. */
struct listener {
	int fd;
	int port;
	atomic_int accepted;
	pthread_t thread;
};

/* The listener's thread; userdata is the struct listener (borrowed). */
static void *accept_loop(void *userdata)
{
	struct listener *l = userdata;
	int c;

	while ((c = accept(l->fd, NULL, NULL)) >= 0) {
		atomic_fetch_add(&l->accepted, 1);
		close(c);
	}
	return NULL;
}

/* l (borrowed) gets a socket on 127.0.0.1 and a free port: listening (with a thread accepting) or only bound. */
static void listener_open(struct listener *l, bool listening)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(l->fd >= 0);
	check(bind(l->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	check(getsockname(l->fd, (struct sockaddr *)&a, &len) == 0);
	l->port = ntohs(a.sin_port);
	atomic_init(&l->accepted, 0);
	if (listening) {
		check(listen(l->fd, 8) == 0);
		check(pthread_create(&l->thread, NULL, accept_loop, l) == 0);
	}
}

/* Waits up to ms for the listener l (borrowed) to have accepted n connections. */
static bool listener_wait(struct listener *l, int n, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	while (atomic_load(&l->accepted) < n && vdi_test_now_ms() < end)
		usleep(20 * 1000);
	return atomic_load(&l->accepted) >= n;
}

/* Types line (borrowed; NULL: nothing) on the console and waits for needle (borrowed); fails the test
 * with what it showed otherwise. */
static void expect_answer(const char *domain, const char *line, const char *needle)
{
	static char out[16384];

	if (!test_console_command(URI, domain, line, needle, 30000, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: \"%s\" got no \"%s\"; the console showed:\n%s", domain,
			      line ? line : "", needle, out);
}

static void test_dhcp_and_connections(void)
{
	_cleanup_free_ char *disk = test_guest_path("template.qcow2"), *xml = NULL, *images = NULL;
	char pool_name[64], cmdline[64], domain[128], line[96], needle[96];
	static char out[16384];
	struct pool_host_options ho = { .uri = URI, .virt_type = getenv("VDI_TEST_VIRT_TYPE") };
	struct pool_template_options to = { .name = "guest", .disk_path = disk };
	struct pool_host *host = NULL;
	struct pool_template *tmpl = NULL;
	struct vdi_error err = { { 0 } };
	struct listener open = { 0 }, closed = { 0 };
	_cleanup_free_ char *run = NULL;
	uint64_t t0;
	virConnectPtr c;
	virStoragePoolPtr sp;

	test_require_libvirt(URI);
	test_cleanup_stale_runs(URI);
	listener_open(&open, true);
	listener_open(&closed, false);

	/* One desktop whose kernel command line asks for a connection to the open listener. */
	snprintf(pool_name, sizeof(pool_name), "vdi-test-%d-%d", (int)getppid(), (int)getpid());
	check(asprintf(&images, "%s/images", vdi_test_tmpdir()) > 0);
	check(asprintf(&run, "%s/run", vdi_test_tmpdir()) > 0);
	ho.storage_pool = pool_name;
	ho.storage_path = images;
	ho.runtime_dir = run;
	if (pool_host_new(&ho, &host, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_new: %s", err.message);
	snprintf(cmdline, sizeof(cmdline), " vdi.connect=10.0.2.2:%d", open.port);
	xml = test_guest_xml(cmdline);
	to.xml = xml;
	if (pool_template_new(&to, &tmpl, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "template: %s", err.message);
	check(pool_domain_name("net", 1, domain, sizeof(domain)) >= 0);
	if (pool_desktop_create(host, tmpl, "net", 1, &err) < 0 || pool_desktop_start(host, domain, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", domain, err.message);
	t0 = vdi_test_now_ms();

	/* At boot: the lease, then the connection vdi.connect= asked for, which the listener saw. */
	snprintf(needle, sizeof(needle), "vdi-connect: 10.0.2.2:%d ", open.port);
	if (!test_console_wait(URI, domain, needle, BOOT_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: no \"%s\" at boot; the console showed:\n%s", domain, needle, out);
	vdi_test_log("lease and vdi.connect after %" PRIu64 " ms from the start", vdi_test_now_ms() - t0);
	check_str_contains(out, NET_LINE "\r\n");
	snprintf(needle, sizeof(needle), "vdi-connect: 10.0.2.2:%d ok", open.port);
	check_str_contains(out, needle);
	check(listener_wait(&open, 1, 5000));

	/* A late console asks for the state; the banner is unchanged. */
	expect_answer(domain, "vdi-net", NET_LINE "\r\n");
	expect_answer(domain, NULL, "VDI-TEST-GUEST READY marker=none version=none");

	/* A connection on request: to the listener (which accepts it), and to a port nobody listens on. */
	snprintf(line, sizeof(line), "vdi-connect 10.0.2.2 %d", open.port);
	snprintf(needle, sizeof(needle), "vdi-connect: 10.0.2.2:%d ok", open.port);
	expect_answer(domain, line, needle);
	check(listener_wait(&open, 2, 5000));
	snprintf(line, sizeof(line), "vdi-connect 10.0.2.2 %d", closed.port);
	snprintf(needle, sizeof(needle), "vdi-connect: 10.0.2.2:%d failed", closed.port);
	expect_answer(domain, line, needle);
	check_int_eq(atomic_load(&closed.accepted), 0);

	/* Bad arguments. */
	expect_answer(domain, "vdi-connect 10.0.2.2 70000", "vdi-guest: bad vdi-connect arguments");
	check_int_eq(atomic_load(&open.accepted), 2);

	check(pool_desktop_delete(host, domain, &err) >= 0);
	pool_template_free(tmpl);
	pool_host_free(host);
	c = virConnectOpen(URI);
	check(c);
	sp = virStoragePoolLookupByName(c, pool_name);
	if (sp) {
		(void)virStoragePoolDestroy(sp);
		(void)virStoragePoolUndefine(sp);
		virStoragePoolFree(sp);
	}
	virConnectClose(c);
	shutdown(open.fd, SHUT_RDWR);
	close(open.fd);
	pthread_join(open.thread, NULL);
	close(closed.fd);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_dhcp_and_connections, 300),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
