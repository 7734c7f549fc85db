/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Desktop networks with real libvirtd, dnsmasq and bridges (issue 16): desktops made with vmpool
 * (pool_desktop_create_with and a struct pool_nic) from the test guest (tests/guest/build-guest),
 * which reports every connection, ping and transfer on its serial console.  Traffic goes only to
 * addresses of this run: 10.X.0.0/16 (net_octet()) on libvirt networks, bridges and namespaces it
 * makes (tests/net-fixture.h names them, and its sweeper removes them after each test).
 *
 *   10.X.1.0/24   "lan": a namespace standing for the site's LAN, a veth to the host
 *   10.X.11.0/24  libvirt NAT network nat1       10.X.12.0/24  NAT network nat2
 *   10.X.13.0/24  isolated libvirt network iso   10.X.14.0/24  NAT network pair (isolated desktops)
 *   10.X.21.0/24  a Linux bridge with namespace "br" on it
 *   10.X.31.0/24  an Open vSwitch bridge (private daemons, userspace datapath): namespaces on VLAN 10 and 20
 *
 * Bandwidth: on a Linux bridge libvirt shapes the tap with tc htb and sfq under it: a kernel without
 * sfq (this machine's) cannot start such a desktop nor take a live change (the definition changes
 * all the same), and the test asserts exactly that; with sfq both must work.  On Open vSwitch the
 * inbound limit is the port's QoS (linux-htb, max-rate from the peak vmpool sets), measured here;
 * the outbound one is ingress policing in the kernel's tc (cls_basic, act_police): measured when
 * ovs-vswitchd could add it, else only reported.
 *
 * Environment (set by meson): VDI_TEST_GUEST_DIR, VDI_SOURCE_ROOT.
 * VDI_SKIP_INTEGRATION=1 skips when no libvirtd answers; otherwise that fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "harness.h"
#include "net-fixture.h"
#include "vmpool-test.h"
#include "vmpool.h"

#define BOOT_MS 240000
#define ANSWER_MS 20000
#define GUEST_PORT 7000

struct env {
	struct pool_host *host;
	struct pool_template *tmpl;
	char pool[32];
};

static void env_open(struct env *e)
{
	_cleanup_free_ char *disk = test_guest_path("template.qcow2"), *xml = test_guest_xml(NULL);
	struct pool_template_options to = { .name = "guest", .disk_path = disk, .xml = xml };
	struct vdi_error err = { { 0 } };
	char sp[64];

	test_require_libvirt(NET_URI);
	test_cleanup_stale_runs(NET_URI);
	snprintf(sp, sizeof(sp), "vdi-test-%d-net", net_run());
	snprintf(e->pool, sizeof(e->pool), "vn%d", net_run());
	e->host = test_host_in_tmpdir(NET_URI, sp);
	if (pool_template_new(&to, &e->tmpl, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "template: %s", err.message);
}

/* The run's address 10.X.third.last (a new string in a static ring of buffers). */
static const char *addr(unsigned third, unsigned last)
{
	static char ring[16][24];
	static unsigned next;
	char *b = ring[next++ % 16];

	snprintf(b, sizeof(ring[0]), "10.%u.%u.%u", net_octet(), third, last);
	return b;
}

static const char *cidr(unsigned third, unsigned last, unsigned prefix)
{
	static char ring[8][24];
	static unsigned next;
	char *b = ring[next++ % 8];

	snprintf(b, sizeof(ring[0]), "%s/%u", addr(third, last), prefix);
	return b;
}

/* Libvirt network vdinet-<run>-what on 10.X.third.0/24. */
static void network_add(struct env *e, const char *what, const char *mode, unsigned third)
{
	struct vdi_error err = { { 0 } };
	char name[64];

	net_name(name, sizeof(name), what);
	if (pool_network_add(e->host, name, mode, cidr(third, 0, 24), &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_network_add %s: %s", name, err.message);
}

/* Desktop id of the run's pool attached as value says (the libvirt network's "what" for network:);
 * its domain name into dom (64 bytes).  Defined, not started. */
static void desktop_new(struct env *e, int64_t id, const char *value, bool isolated, uint32_t kbps, char *dom)
{
	struct vdi_error err = { { 0 } };
	struct pool_nic nic;

	if (pool_nic_parse(value, &nic, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", value, err.message);
	nic.isolated = isolated;
	nic.bandwidth_kbps = kbps;
	check(pool_domain_name(e->pool, id, dom, 64) >= 0);
	if (pool_desktop_create_with(e->host, e->tmpl, e->pool, id, &(struct pool_desktop_options){ .nic = &nic },
				     &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s on %s: %s", dom, value, err.message);
}

static void desktop_start(struct env *e, const char *dom)
{
	struct vdi_error err = { { 0 } };

	if (pool_desktop_start(e->host, dom, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "start %s: %s", dom, err.message);
}

/* "network:vdinet-<run>-what" into buf (96 bytes). */
static const char *on_network(const char *what, char *buf)
{
	char name[64];

	net_name(name, sizeof(name), what);
	snprintf(buf, 96, "network:%s", name);
	return buf;
}

/* Types line on dom's console and waits for needle; fails with what the console showed otherwise. */
static void expect(const char *dom, const char *line, const char *needle)
{
	static char out[16384];

	if (!test_console_command(NET_URI, dom, line, needle, ANSWER_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: \"%s\" got no \"%s\"; the console showed:\n%s", dom,
			      line ? line : "", needle, out);
}

/* Asks again (line) every few seconds until needle comes, up to ms. */
static void expect_within(const char *dom, const char *line, const char *needle, unsigned ms)
{
	static char out[16384];
	uint64_t end = vdi_test_now_ms() + ms;

	while (!test_console_command(NET_URI, dom, line, needle, 4000, out, sizeof(out)))
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "%s: \"%s\" got no \"%s\" within %u ms; the console showed:\n%s",
				      dom, line, needle, ms, out);
}

static void connect_is(const char *dom, const char *host, int port, bool ok)
{
	char line[96], needle[96];

	snprintf(line, sizeof(line), "vdi-connect %s %d", host, port);
	snprintf(needle, sizeof(needle), "vdi-connect: %s:%d %s", host, port, ok ? "ok" : "failed");
	expect(dom, line, needle);
}

static void ping_is(const char *dom, const char *host, bool ok)
{
	char line[96], needle[96];

	snprintf(line, sizeof(line), "vdi-ping %s", host);
	snprintf(needle, sizeof(needle), "vdi-ping: %s %s", host, ok ? "ok" : "failed");
	expect(dom, line, needle);
}

static void listen_on(const char *dom, int port)
{
	char line[64], needle[64];

	snprintf(line, sizeof(line), "vdi-listen %d", port);
	snprintf(needle, sizeof(needle), "vdi-listen: %d\r\n", port);
	expect(dom, line, needle);
}

/* Waits for dom's DHCP lease in 10.X.third.0/24; its address (from the network's leases, as
 * pool_desktop_addresses() tells it) into ret (16 bytes). */
static void lease_of(struct env *e, const char *dom, unsigned third, char *ret)
{
	char needle[64], prefix[24];
	uint64_t end;

	snprintf(prefix, sizeof(prefix), "10.%u.%u.", net_octet(), third);
	snprintf(needle, sizeof(needle), "vdi-net: eth0 %s", prefix);
	expect_within(dom, "vdi-net", needle, BOOT_MS);
	end = vdi_test_now_ms() + 20000;
	for (;;) {
		struct vdi_error err = { { 0 } };
		char **a = NULL;

		if (pool_desktop_addresses(e->host, dom, &a, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "addresses of %s: %s", dom, err.message);
		for (char **p = a; *p; p++)
			if (strncmp(*p, prefix, strlen(prefix)) == 0 && strlen(*p) < 16) {
				strcpy(ret, *p);
				pool_strv_free(a);
				vdi_test_log("%s: %s", dom, ret);
				return;
			}
		pool_strv_free(a);
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "%s has a lease in %s* but pool_desktop_addresses() tells none",
				      dom, prefix);
		usleep(500 * 1000);
	}
}

/* Gives dom a static address (no DHCP on a plain bridge), once its console reads commands. */
static void static_ip(const char *dom, const char *cidr_)
{
	char line[64], needle[64];

	snprintf(line, sizeof(line), "vdi-ip %s", cidr_);
	snprintf(needle, sizeof(needle), "vdi-ip: %s", cidr_);
	expect_within(dom, line, needle, BOOT_MS);
}

/* The definition carries kib (KiB/s) both ways. */
static void check_bandwidth_xml(const char *dom, uint64_t kib)
{
	_cleanup_free_ char *xml = test_domain_definition(NET_URI, dom, VIR_DOMAIN_XML_INACTIVE);
	char in[64], out[64];

	snprintf(in, sizeof(in), "<inbound average='%" PRIu64 "'", kib);
	snprintf(out, sizeof(out), "<outbound average='%" PRIu64 "'", kib);
	check_str_contains(xml, in);
	check_str_contains(xml, out);
}

/* Whether dom runs. */
static bool test_domain_running(const char *dom)
{
	virConnectPtr c = virConnectOpen(NET_URI);
	virDomainPtr d;
	int active;

	check(c);
	d = virDomainLookupByName(c, dom);
	check(d);
	active = virDomainIsActive(d);
	virDomainFree(d);
	virConnectClose(c);
	return active == 1;
}

/* The server s accepted more than *seen connections since the last look. */
static void check_accepted(struct net_server *s, int *seen)
{
	uint64_t end = vdi_test_now_ms() + 5000;

	while (net_server_accepted(s) <= *seen && vdi_test_now_ms() < end)
		usleep(20 * 1000);
	check(net_server_accepted(s) > *seen);
	*seen = net_server_accepted(s);
}

/* ---- libvirt networks: NAT, isolated, isolated desktops, clean-traffic, bandwidth on a Linux bridge ---- */

enum { A1, A2, B, C, D1, D2, H, NDESK };

static void test_libvirt_networks(void)
{
	static const char *what[NDESK] = { "nat1", "nat1", "iso", "nat2", "pair", "pair", "nat1" };
	static const unsigned third[NDESK] = { 11, 11, 13, 12, 14, 14, 11 };
	struct env e = { 0 };
	char dom[NDESK][64], ip[NDESK][16], value[96];
	struct net_server lan, gw_iso, gw_pair1, gw_pair2;
	struct vdi_error err = { { 0 } };
	int seen_lan = 0, seen_pair = 0, r;
	uint64_t t0 = vdi_test_now_ms();
	bool sfq;

	env_open(&e);
	network_add(&e, "nat1", "nat", 11);
	network_add(&e, "nat2", "nat", 12);
	network_add(&e, "iso", "isolated", 13);
	network_add(&e, "pair", "nat", 14);
	net_ns_make("lan", cidr(1, 2, 24), cidr(1, 1, 24), NULL);
	net_server_start("lan", addr(1, 2), &lan);
	sfq = net_sh("ip netns exec vdinet-%d-lan tc qdisc add dev eth0 root sfq 2>/dev/null", net_run()) == 0;
	net_server_start(NULL, addr(13, 1), &gw_iso);
	net_server_start(NULL, addr(14, 1), &gw_pair1);
	net_server_start(NULL, addr(14, 1), &gw_pair2);

	for (int i = 0; i < NDESK; i++)
		desktop_new(&e, i + 1, on_network(what[i], value), i == D1 || i == D2, i == H ? 8000 : 0, dom[i]);
	for (int i = 0; i < NDESK; i++)
		if (i != H)
			desktop_start(&e, dom[i]);

	/* A <bandwidth> on a libvirt network's Linux bridge: libvirt shapes the tap with tc (htb, and sfq
	 * under it); the definition carries the KiB/s either way. */
	check_bandwidth_xml(dom[H], pool_bandwidth_kib(8000));
	r = pool_desktop_start(e.host, dom[H], &err);
	vdi_test_log("start of %s with <bandwidth> on a Linux bridge (kernel %s sfq): %d %s", dom[H],
		     sfq ? "with" : "without", r, r < 0 ? err.message : "");
	if (sfq) {
		check_ok(r);
	} else {
		check_err(r, EIO);
		check_str_contains(err.message, "sfq");
		check(!test_domain_running(dom[H]));
	}

	for (int i = 0; i < NDESK; i++)
		if (i != H)
			lease_of(&e, dom[i], third[i], ip[i]);
	vdi_test_log("%d desktops have their leases after %" PRIu64 " ms", NDESK - 1, vdi_test_now_ms() - t0);

	/* 1. The site's LAN from a NAT network (nat1, nat2): reached; from an isolated network: not,
	 * though the desktop there reaches its own gateway. */
	connect_is(dom[A1], addr(1, 2), lan.port, true);
	check_accepted(&lan, &seen_lan);
	connect_is(dom[C], addr(1, 2), lan.port, true);
	check_accepted(&lan, &seen_lan);
	connect_is(dom[B], addr(1, 2), lan.port, false);
	ping_is(dom[B], addr(1, 2), false);
	connect_is(dom[B], addr(13, 1), gw_iso.port, true);
	check_int_eq(net_server_accepted(&lan), seen_lan);

	/* Two NAT networks do not reach each other, either way. */
	listen_on(dom[A1], GUEST_PORT);
	listen_on(dom[C], GUEST_PORT);
	connect_is(dom[A1], ip[C], GUEST_PORT, false);
	connect_is(dom[C], ip[A1], GUEST_PORT, false);
	vdi_test_log("case 1 (LAN, isolated network, two NAT networks) done after %" PRIu64 " ms",
		     vdi_test_now_ms() - t0);

	/* 2. Without isolation, two desktops of one network reach each other. */
	connect_is(dom[A2], ip[A1], GUEST_PORT, true);
	ping_is(dom[A2], ip[A1], true);

	/* With isolation (port isolated, clean-traffic): not each other, TCP nor ping; both the gateway. */
	listen_on(dom[D1], GUEST_PORT);
	listen_on(dom[D2], GUEST_PORT);
	check(net_ns_send_ms(NULL, ip[D1], GUEST_PORT, 0) >= 0); /* the listener is there: the host reaches it */
	connect_is(dom[D2], ip[D1], GUEST_PORT, false);
	connect_is(dom[D1], ip[D2], GUEST_PORT, false);
	ping_is(dom[D2], ip[D1], false);
	connect_is(dom[D1], addr(14, 1), gw_pair1.port, true);
	check_accepted(&gw_pair1, &seen_pair);
	connect_is(dom[D2], addr(14, 1), gw_pair1.port, true);
	check_accepted(&gw_pair1, &seen_pair);
	ping_is(dom[D2], addr(14, 1), true);

	/* A desktop that takes another address loses its traffic (clean-traffic binds the leased one). */
	{
		char line[64], needle[64];

		snprintf(line, sizeof(line), "vdi-ip %s", cidr(14, 250, 24));
		snprintf(needle, sizeof(needle), "vdi-ip: %s", cidr(14, 250, 24));
		expect(dom[D2], line, needle);
	}
	connect_is(dom[D2], addr(14, 1), gw_pair2.port, false);
	ping_is(dom[D2], addr(14, 1), false);
	check_int_eq(net_server_accepted(&gw_pair2), 0);
	connect_is(dom[D1], addr(14, 1), gw_pair2.port, true); /* the other one still does */
	vdi_test_log("case 2 (isolation, clean-traffic) done after %" PRIu64 " ms", vdi_test_now_ms() - t0);

	/* 5. A live bandwidth change on a running desktop of a Linux bridge: the definition changes. */
	err = (struct vdi_error){ { 0 } };
	r = pool_desktop_set_bandwidth(e.host, dom[A2], 8000, &err);
	vdi_test_log("pool_desktop_set_bandwidth on running %s (Linux bridge): %d %s", dom[A2], r,
		     r < 0 ? err.message : "");
	check_bandwidth_xml(dom[A2], pool_bandwidth_kib(8000));
	if (sfq) {
		check_ok(r);
	} else {
		/* The live part fails (libvirt's tc wants sfq under htb), the definition stands. */
		check_err(r, EIO);
		check_str_contains(err.message, "of running desktop");
		check_str_contains(err.message, "sfq");
	}
	connect_is(dom[A2], ip[A1], GUEST_PORT + 1, false); /* it still runs: nobody listens there */

	net_server_stop(&lan);
	net_server_stop(&gw_iso);
	net_server_stop(&gw_pair1);
	net_server_stop(&gw_pair2);
	for (int i = 0; i < NDESK; i++)
		check_ok(pool_desktop_delete(e.host, dom[i], NULL));
	pool_template_free(e.tmpl);
	pool_host_free(e.host);
	vdi_test_log("test_libvirt_networks: %" PRIu64 " ms", vdi_test_now_ms() - t0);
}

/* ---- bridge:IFACE on a Linux bridge the test makes ----------------------------------------------- */

static void test_linux_bridge(void)
{
	struct env e = { 0 };
	char br[32], ns_if[32], dom[64], value[96];
	struct net_server srv;
	int seen = 0;
	uint64_t t0 = vdi_test_now_ms();

	env_open(&e);
	net_ifname(br, sizeof(br), "lbr");
	net_ifname(ns_if, sizeof(ns_if), "brv");
	net_sh_ok("ip link add %s type bridge && ip link set %s up", br, br);
	net_ns_make("brv", cidr(21, 2, 24), NULL, NULL);
	net_sh_ok("ip link set %s master %s", ns_if, br);
	net_server_start("brv", addr(21, 2), &srv);

	snprintf(value, 96, "bridge:%s", br);
	desktop_new(&e, 1, value, false, 0, dom);
	desktop_start(&e, dom);
	static_ip(dom, cidr(21, 10, 24));
	vdi_test_log("%s has its static address after %" PRIu64 " ms", dom, vdi_test_now_ms() - t0);
	connect_is(dom, addr(21, 2), srv.port, true);
	check_accepted(&srv, &seen);
	ping_is(dom, addr(21, 2), true);

	net_server_stop(&srv);
	check_ok(pool_desktop_delete(e.host, dom, NULL));
	pool_template_free(e.tmpl);
	pool_host_free(e.host);
	vdi_test_log("test_linux_bridge: %" PRIu64 " ms", vdi_test_now_ms() - t0);
}

/* ---- ovs:BRIDGE:VLAN with private Open vSwitch daemons (userspace datapath) ----------------------- */

/* Whether something answers on the unix socket path (borrowed). */
static bool unix_answers(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	check(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/*
 * Starts ovsdb-server and ovs-vswitchd of this run, their files in /run/vdinet-<run>-ovs, serving
 * /run/openvswitch/db.sock (where libvirt's ovs-vsctl looks).  Skips when the programs are missing
 * or another Open vSwitch serves that socket.
 */
static void ovs_start(void)
{
	const char *db = "unix:/run/openvswitch/db.sock";
	char dir[128];

	if (net_sh("{ command -v ovsdb-server && command -v ovs-vswitchd && command -v ovs-vsctl && "
		   "command -v ovsdb-tool; } >/dev/null") != 0)
		vdi_test_skip("Open vSwitch (Debian openvswitch-switch) is not installed");
	if (unix_answers("/run/openvswitch/db.sock") || net_sh("pidof ovsdb-server ovs-vswitchd >/dev/null") == 0)
		vdi_test_skip("another Open vSwitch runs on this machine (/run/openvswitch/db.sock): not ours to use");
	snprintf(dir, sizeof(dir), "/run/vdinet-%d-ovs", net_run());
	check(mkdir(dir, 0700) == 0);
	if (access("/run/openvswitch", F_OK) < 0) {
		check(mkdir("/run/openvswitch", 0755) == 0);
		net_sh_ok("touch %s/made-rundir", dir);
	}
	if (net_sh("ip link show ovs-netdev >/dev/null 2>&1") != 0)
		net_sh_ok("touch %s/made-netdev", dir);
	net_sh_ok("ovsdb-tool create %s/conf.db /usr/share/openvswitch/vswitch.ovsschema", dir);
	net_sh_ok("ovsdb-server %s/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=%s/ovsdb-server.pid "
		  "--unixctl=%s/ovsdb-server.ctl --log-file=%s/ovsdb-server.log --detach --no-chdir",
		  dir, dir, dir, dir);
	/* The userspace datapath passes the kernel's TSO packets of the taps on only with this, read at
	 * ovs-vswitchd's start. */
	net_sh_ok("ovs-vsctl --db=%s --no-wait init && ovs-vsctl --db=%s --no-wait set Open_vSwitch . "
		  "other_config:userspace-tso-enable=true", db, db);
	net_sh_ok("ovs-vswitchd %s --pidfile=%s/ovs-vswitchd.pid --unixctl=%s/ovs-vswitchd.ctl "
		  "--log-file=%s/ovs-vswitchd.log --detach --no-chdir", db, dir, dir, dir);
}

static void test_ovs_vlan(void)
{
	const char *db = "unix:/run/openvswitch/db.sock";
	struct env e = { 0 };
	char br[32], p10[32], p20[32], dom[64], value[96];
	struct vdi_error err = { { 0 } };
	struct net_server s10, s20, sink;
	int seen = 0, r;
	long t1, t2, t3;
	uint64_t t0 = vdi_test_now_ms();

	env_open(&e);
	ovs_start();
	net_ifname(br, sizeof(br), "ovs");
	net_ifname(p10, sizeof(p10), "v10");
	net_ifname(p20, sizeof(p20), "v20");
	net_sh_ok("ovs-vsctl --db=%s add-br %s -- set bridge %s datapath_type=netdev", db, br, br);
	net_ns_make("v10", cidr(31, 2, 24), NULL, NULL);
	net_ns_make("v20", cidr(31, 3, 24), NULL, NULL);
	net_sh_ok("ovs-vsctl --db=%s add-port %s %s tag=10 -- add-port %s %s tag=20", db, br, p10, br, p20);
	net_server_start("v10", addr(31, 2), &s10);
	net_server_start("v20", addr(31, 3), &s20);
	net_sink_start("v10", addr(31, 2), &sink);

	/* A desktop on VLAN 10, limited to 8000 kbit/s (977 KiB/s) both ways. */
	snprintf(value, 96, "ovs:%s:10", br);
	desktop_new(&e, 1, value, false, 8000, dom);
	check_bandwidth_xml(dom, pool_bandwidth_kib(8000));
	if (pool_desktop_start(e.host, dom, &err) < 0)
		vdi_test_skip("a desktop on Open vSwitch's userspace datapath does not start here: %s", err.message);
	static_ip(dom, cidr(31, 10, 24));
	vdi_test_log("%s on %s has its address after %" PRIu64 " ms", dom, value, vdi_test_now_ms() - t0);
	{
		char line[96], needle[96];
		static char out[16384];

		snprintf(line, sizeof(line), "vdi-connect %s %d", addr(31, 2), s10.port);
		snprintf(needle, sizeof(needle), "vdi-connect: %s:%d ok", addr(31, 2), s10.port);
		if (!test_console_command(NET_URI, dom, line, needle, ANSWER_MS, out, sizeof(out)))
			vdi_test_skip("Open vSwitch's userspace datapath does not carry the desktop's traffic here "
				      "(no connection to the VLAN 10 port); the console showed: %s", out);
	}
	check_accepted(&s10, &seen);
	/* The same subnet on VLAN 20: not reached. */
	connect_is(dom, addr(31, 3), s20.port, false);
	check_int_eq(net_server_accepted(&s20), 0);

	/* Inbound limit: 1024 KiB into the desktop take at least 1024/977 s; after a live change to
	 * 2000 kbit/s (245 KiB/s), at least 1024/245 s; with none, less than with the first. */
	expect(dom, "vdi-recv 7101", "vdi-recv: 7101 listening");
	t1 = net_ns_send_ms("v10", addr(31, 10), 7101, 1024);
	vdi_test_log("1024 KiB in at 8000 kbit/s: %ld ms", t1);
	check(t1 >= 1024L * 1000 * 9 / 10 / (long)pool_bandwidth_kib(8000));

	r = pool_desktop_set_bandwidth(e.host, dom, 2000, &err);
	if (r < 0)
		vdi_test_fail(__FILE__, __LINE__, "live bandwidth change on Open vSwitch: %s", err.message);
	check_bandwidth_xml(dom, pool_bandwidth_kib(2000));
	expect(dom, "vdi-recv 7102", "vdi-recv: 7102 listening");
	t2 = net_ns_send_ms("v10", addr(31, 10), 7102, 1024);
	vdi_test_log("1024 KiB in at 2000 kbit/s (changed live): %ld ms", t2);
	check(t2 >= 1024L * 1000 * 9 / 10 / (long)pool_bandwidth_kib(2000));

	/* Outbound: libvirt gives Open vSwitch the limit as the port's ingress policing, which
	 * ovs-vswitchd puts in the kernel's tc (cls_basic, act_police) even on the userspace datapath. */
	{
		long bytes = 0, ms = 0, limit_ms = 1024L * 1000 * 9 / 10 / (long)pool_bandwidth_kib(2000);
		char line[96], needle[96];
		bool policed;

		snprintf(line, sizeof(line), "vdi-send %s %d 1024", addr(31, 2), sink.port);
		snprintf(needle, sizeof(needle), "vdi-send: %s:%d 1024 done", addr(31, 2), sink.port);
		expect(dom, line, needle);
		check_ok(net_sink_wait(&sink, 60000, &bytes, &ms));
		check_int_eq(bytes, 1024 * 1024);
		policed = net_sh("grep -q 'policing action failed' /run/vdinet-%d-ovs/ovs-vswitchd.log", net_run()) != 0;
		vdi_test_log("1024 KiB out at 2000 kbit/s: %ld ms (%s)", ms,
			     policed ? "policed" : "not limited: ovs-vswitchd could not add its tc policing "
						   "action (the kernel has no cls_basic/act_police)");
		if (policed)
			check(ms >= limit_ms);
	}

	check_ok(pool_desktop_set_bandwidth(e.host, dom, 0, &err));
	expect(dom, "vdi-recv 7103", "vdi-recv: 7103 listening");
	t3 = net_ns_send_ms("v10", addr(31, 10), 7103, 1024);
	vdi_test_log("1024 KiB in without a limit (removed live): %ld ms", t3);
	check(t3 >= 0 && t3 < t1);

	net_server_stop(&s10);
	net_server_stop(&s20);
	net_server_stop(&sink);
	check_ok(pool_desktop_delete(e.host, dom, NULL));
	pool_template_free(e.tmpl);
	pool_host_free(e.host);
	vdi_test_log("test_ovs_vlan: %" PRIu64 " ms", vdi_test_now_ms() - t0);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_libvirt_networks, 420),
	VDI_TEST_TIMEOUT(test_linux_bridge, 300),
	VDI_TEST_TIMEOUT(test_ovs_vlan, 300),
};

int main(int argc, char **argv)
{
	net_fixture_init();
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
