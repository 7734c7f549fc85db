/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A pooled pool on a libvirt network of the admin's, end to end (issue 16), with a real libvirtd
 * and dnsmasq, observed where an admin and the desktops' users see it:
 *   - `vdictl network add vdit<pid>a --mode nat --subnet CIDR` (a free private /24) makes it, and
 *     `vdictl network list` shows it;
 *   - a template of the test guest (`vdictl template add`), a pooled pool on it (`vdictl pool create
 *     --network network:vdit<pid>a`), isolated by default (`vdictl pool list`, GET /admin/pools);
 *   - two users' desktops (booted side by side) get leases, which their serial consoles say and
 *     GET /admin/desktops, `vdictl desktop list` and the admin page (tests/browser/web-addresses.mjs
 *     in Debian's chromium) show, with what their guest agents tell (host name, user: issue 18);
 *   - isolated, desktop A reaches neither B's TCP listener nor B by ping, while both reach a TCP
 *     listener of the test's on the network's gateway address (and ping it); after `vdictl pool
 *     update --isolate-desktops no` and both desktops released and given again (their reset takes
 *     the pool's NIC as it is now), A reaches B;
 *   - `vdictl network remove` is refused while the pool uses the network (naming the pool), and
 *     done once the pool is gone.
 * The network goes in the sweeper too, also when the test fails.
 *
 * Environment (set by meson): VDI_BROKER_BIN, VDICTL_BIN, VDI_NODE_BIN, VDI_TEST_GUEST_DIR,
 * VDI_SOURCE_ROOT, VDI_SCREENSHOT_DIR (optional).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>

#include "alloc.h"
#include "cleanup.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "screen.h"
#include "vmpool-test.h"

#define LEASE_MS 150000 /* the guest's DHCP under TCG on a busy machine: 25-40 s, at times more */
#define SHOWN_MS 30000  /* the broker reads the addresses at least every 10 s */
#define GUEST_PORT 7301 /* desktop B's vdi-listen */

static char net_name[32]; /* "vdit<pid>a", the pid of the main test process */
static uint64_t t0;       /* the test's start, for the timings */

/* The sweeper (in the main process, after each test): the test's libvirt network goes. */
static void sweep_network(void)
{
	virConnectPtr c = virConnectOpen(FIXTURE_URI);
	virNetworkPtr n;

	if (!c)
		return;
	n = virNetworkLookupByName(c, net_name);
	if (n) {
		if (virNetworkIsActive(n) == 1)
			(void)virNetworkDestroy(n);
		(void)virNetworkUndefine(n);
		virNetworkFree(n);
	}
	virConnectClose(c);
}

static void step(const char *what)
{
	vdi_test_log("[%5.1f s] %s", (double)(vdi_test_now_ms() - t0) / 1000.0, what);
}

/* ---- vdictl ------------------------------------------------------------------------------------- */

struct run {
	int status;       /* vdictl's exit status */
	char out[16384];  /* its stdout and stderr */
};

/* `vdictl --socket S ARGS` (ARGS from fmt: words without quotes), into r. */
static void __attribute__((format(printf, 3, 4))) vdictl(struct fixture *f, struct run *r, const char *fmt, ...)
{
	_cleanup_free_ char *args = NULL, *cmd = NULL;
	size_t pos = 0, n;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	check(vasprintf(&args, fmt, ap) > 0);
	va_end(ap);
	check(asprintf(&cmd, "'%s' --socket '%s' %s 2>&1", test_env_or_fail("VDICTL_BIN"), f->d.admin_socket,
		       args) > 0);
	check(p = popen(cmd, "re"));
	while (pos + 1 < sizeof(r->out) && (n = fread(r->out + pos, 1, sizeof(r->out) - 1 - pos, p)) > 0)
		pos += n;
	r->out[pos] = '\0';
	status = pclose(p);
	check(WIFEXITED(status));
	r->status = WEXITSTATUS(status);
	vdi_test_log("$ vdictl %s  (exit %d)\n%s", args, r->status, r->out);
}

/* The same, which must succeed. */
#define vdictl_ok(f, r, ...)                                    \
	do {                                                    \
		vdictl(f, r, __VA_ARGS__);                      \
		check_int_eq((r)->status, 0);                   \
	} while (0)

/*
 * The cell of line (borrowed) under the header word at column: from there (back to the cell's start,
 * for a right-aligned column wider than its header; spaces skipped) up to two spaces or the line's end.
 */
static void cell_at(const char *line, size_t column, char *cell, size_t len)
{
	const char *start, *end;

	if (strlen(line) <= column) {
		snprintf(cell, len, "%s", "");
		return;
	}
	start = line + column;
	while (start > line && start[-1] != ' ')
		start--;
	start += strspn(start, " ");
	end = strstr(start, "  ");
	snprintf(cell, len, "%.*s", (int)(end ? end - start : (ptrdiff_t)strlen(start)), start);
}

/*
 * In vdictl's table (borrowed), the cell of column col in the row whose column key_col is key, into cell.
 * Both columns left-aligned.  False when no row has it.
 */
static bool table_cell(const char *table, const char *key_col, const char *key, const char *col, char *cell,
		       size_t len)
{
	_cleanup_free_ char *copy = strdup(table);
	char *save = NULL, *line, *hk, *hc;
	size_t kc, cc;

	check(copy);
	line = strtok_r(copy, "\n", &save);
	check(line && (hk = strstr(line, key_col)) && (hc = strstr(line, col)));
	kc = (size_t)(hk - line);
	cc = (size_t)(hc - line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char k[256];

		cell_at(line, kc, k, sizeof(k));
		if (streq(k, key)) {
			cell_at(line, cc, cell, len);
			return true;
		}
	}
	return false;
}

/*
 * Waits for the broker's first look at its host (GET /admin/hosts: networks not null): before it, no
 * host is known to have any libvirt network, and a pool on one is refused (400).
 */
static void wait_hosts_looked(struct fixture *f)
{
	uint64_t end = vdi_test_now_ms() + 30000;

	for (;; usleep(100 * 1000)) {
		json_t *j = admin_json(&f->d, "GET", "/api/v1/admin/hosts", NULL, 200), *h;
		bool looked = json_array_size(json_object_get(j, "hosts")) > 0;
		size_t i;

		json_array_foreach(json_object_get(j, "hosts"), i, h)
			looked = looked && json_is_array(json_object_get(h, "networks"));
		json_decref(j);
		if (looked)
			return;
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "the broker did not look at its host's networks within 30 s");
	}
}

/* ---- the network -------------------------------------------------------------------------------- */

/* Whether the IPv4 network a/prefix overlaps cand/24 (both in host order). */
static bool overlaps(uint32_t a, unsigned prefix, uint32_t cand)
{
	unsigned p = prefix < 24 ? prefix : 24;
	uint32_t mask = p ? ~0u << (32 - p) : 0;

	return (a & mask) == (cand & mask);
}

/* Whether a route of this host (`ip -4 route`) reaches into cand/24 or covers it (but the default). */
static bool routed(uint32_t cand)
{
	FILE *p = popen("ip -4 route show table all 2>/dev/null", "re");
	char line[512];
	bool hit = false;

	check(p);
	while (fgets(line, sizeof(line), p)) {
		char dst[64];
		unsigned prefix = 32;
		struct in_addr a;
		char *slash;

		if (sscanf(line, "%63s", dst) != 1 || streq(dst, "default") || streq(dst, "broadcast") ||
		    streq(dst, "local") || streq(dst, "unreachable"))
			continue;
		slash = strchr(dst, '/');
		if (slash) {
			*slash = '\0';
			prefix = (unsigned)atoi(slash + 1);
		}
		if (inet_pton(AF_INET, dst, &a) == 1 && prefix > 0 && overlaps(ntohl(a.s_addr), prefix, cand))
			hit = true;
	}
	pclose(p);
	return hit;
}

/*
 * `vdictl network add net_name --mode nat --subnet 10.251.N.0/24` on a free /24 (none of this host's
 * routes; the broker refuses one that overlaps a libvirt network, and the next is tried).  Its
 * subnet's first three octets into prefix ("10.251.N."), the subnet into subnet.
 */
static void add_network(struct fixture *f, char *prefix, size_t len, char *subnet, size_t slen)
{
	struct run r;

	for (unsigned i = 0; i < 256; i++) {
		unsigned n = ((unsigned)getpid() + i) % 250 + 2;
		uint32_t cand = (10u << 24) | (251u << 16) | (n << 8);

		if (routed(cand))
			continue;
		snprintf(subnet, slen, "10.251.%u.0/24", n);
		vdictl(f, &r, "network add %s --mode nat --subnet %s", net_name, subnet);
		if (r.status != 0 && strstr(r.out, "overlaps"))
			continue;
		if (r.status != 0)
			vdi_test_fail(__FILE__, __LINE__, "vdictl network add: %s", r.out);
		check_str_contains(r.out, "added on " FIXTURE_URI);
		snprintf(prefix, len, "10.251.%u.", n);
		return;
	}
	vdi_test_fail(__FILE__, __LINE__, "no free /24 in 10.251.0.0/16 for the test's network");
}

/* ---- a TCP listener on the gateway's address ------------------------------------------------------ */

struct listener {
	int fd;
	int port;
	atomic_int accepted;
	pthread_t thread;
};

static void *accept_loop(void *data)
{
	struct listener *l = data;

	for (;;) {
		int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			return NULL;
		atomic_fetch_add(&l->accepted, 1);
		close(c);
	}
}

/* Listens on addr (dotted quad, borrowed), any port, accepting in a thread. */
static void listener_open(struct listener *l, const char *addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	check(inet_pton(AF_INET, addr, &a.sin_addr) == 1);
	check((l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	check(bind(l->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	check(getsockname(l->fd, (struct sockaddr *)&a, &len) == 0);
	l->port = ntohs(a.sin_port);
	atomic_init(&l->accepted, 0);
	check(listen(l->fd, 8) == 0);
	check(pthread_create(&l->thread, NULL, accept_loop, l) == 0);
}

/* ---- the guests ----------------------------------------------------------------------------------- */

/* The address the guest of domain says its eth0 has ("vdi-net: eth0 ADDR/PREFIX"), into addr. */
static void guest_address(const char *domain, const char *prefix, char *addr, size_t len)
{
	uint64_t end = vdi_test_now_ms() + LEASE_MS;
	char out[16384];

	for (;;) {
		const char *at;

		if (test_console_command(FIXTURE_URI, domain, "vdi-net", "vdi-net: eth0 ", 5000, out, sizeof(out)) &&
		    (at = strstr(out, "vdi-net: eth0 "))) {
			char a[64], rest[16];

			/* The line whole (its prefix and the line's end), or ask again. */
			if (sscanf(at + strlen("vdi-net: eth0 "), "%63[0-9.]/%15[0-9]", a, rest) == 2 &&
			    strpbrk(at, "\r\n")) {
				vdi_test_log("%s says: vdi-net: eth0 %s/%s", domain, a, rest);
				check(startswith(a, prefix));
				check_str_eq(rest, "24");
				snprintf(addr, len, "%s", a);
				return;
			}
		}
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "%s got no lease within %u s; its console: %s", domain,
				      LEASE_MS / 1000, out);
		usleep(1000 * 1000);
	}
}

/* Types line on domain's console and waits for needle; fails the test with what it showed otherwise. */
static void expect_answer(const char *domain, const char *line, const char *needle)
{
	static char out[16384];

	if (!test_console_command(FIXTURE_URI, domain, line, needle, 30000, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: \"%s\" got no \"%s\"; the console showed:\n%s", domain, line,
			      needle, out);
	vdi_test_log("%s: %s -> %s", domain, line, needle);
}

/* domain's vdi-connect to host:port and vdi-ping of host answer ok (or failed when !ok). */
static void expect_reach(const char *domain, const char *host, int port, bool ok)
{
	char line[96], needle[96];

	snprintf(line, sizeof(line), "vdi-connect %s %d", host, port);
	snprintf(needle, sizeof(needle), "vdi-connect: %s:%d %s", host, port, ok ? "ok" : "failed");
	expect_answer(domain, line, needle);
	snprintf(line, sizeof(line), "vdi-ping %s", host);
	snprintf(needle, sizeof(needle), "vdi-ping: %s %s", host, ok ? "ok" : "failed");
	expect_answer(domain, line, needle);
}

/* The host reaches domain's listener at addr:port (it answers "vdi-guest ADDR"): it is up. */
static void expect_listener(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[128] = "";
	ssize_t n;
	int fd;

	check(inet_pton(AF_INET, addr, &a.sin_addr) == 1);
	check((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	check(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	check(n > 0);
	buf[n] = '\0';
	check_str_contains(buf, "vdi-guest ");
}

/* domain's libvirt definition: one NIC, on net_name, isolated (port isolated + clean-traffic) or not; its MAC
 * into mac. */
static void check_nic(const char *domain, bool isolated, char *mac, size_t len)
{
	virConnectPtr c = virConnectOpen(FIXTURE_URI);
	virDomainPtr dom;
	_cleanup_free_ char *xml = NULL;
	char source[96];
	const char *at;
	int nics = 0;

	check(c);
	check(dom = virDomainLookupByName(c, domain));
	check(xml = virDomainGetXMLDesc(dom, 0));
	virDomainFree(dom);
	virConnectClose(c);
	for (at = xml; (at = strstr(at, "<interface ")); at++)
		nics++;
	check_int_eq(nics, 1);
	snprintf(source, sizeof(source), "<source network='%s'", net_name);
	check_str_contains(xml, source);
	check((strstr(xml, "<port isolated='yes'/>") != NULL) == isolated);
	check((strstr(xml, "clean-traffic") != NULL) == isolated);
	check(at = strstr(xml, "<mac address='"));
	at += strlen("<mac address='");
	snprintf(mac, len, "%.*s", (int)strcspn(at, "'"), at);
	vdi_test_log("%s: one NIC on %s, MAC %s, %s", domain, net_name, mac, isolated ? "isolated" : "not isolated");
}

/* ---- where the admin looks ------------------------------------------------------------------------ */

/* The addresses of desktop id in GET /admin/desktops, comma-joined ("" none). */
static void api_addresses(struct fixture *f, int64_t id, char *buf, size_t len)
{
	json_t *j = fixture_desktops(f, f->pool), *d, *a;
	size_t i, k;

	buf[0] = '\0';
	json_array_foreach(json_object_get(j, "desktops"), i, d) {
		if (json_integer_value(json_object_get(d, "id")) != id)
			continue;
		check(json_is_array(json_object_get(d, "addresses")));
		json_array_foreach(json_object_get(d, "addresses"), k, a) {
			check(json_is_string(a));
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", k ? "," : "", json_string_value(a));
		}
	}
	json_decref(j);
}

static void wait_api_addresses(struct fixture *f, int64_t id, const char *want)
{
	uint64_t end = vdi_test_now_ms() + SHOWN_MS;
	char got[512];

	for (;; usleep(250 * 1000)) {
		api_addresses(f, id, got, sizeof(got));
		if (streq(got, want))
			return;
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "GET /admin/desktops: desktop %lld has addresses \"%s\", not \"%s\"",
				      (long long)id, got, want);
	}
}

/* The ADDRESSES cell of desktop id in `vdictl desktop list --pool POOL`, into cell. */
static void vdictl_addresses(struct fixture *f, int64_t id, char *cell, size_t len)
{
	struct run r;
	char key[32];

	vdictl_ok(f, &r, "desktop list --pool %s", f->pool);
	snprintf(key, sizeof(key), "%lld", (long long)id);
	check(table_cell(r.out, "ID", key, "ADDRESSES", cell, len));
}

/* GET /admin/pools: pool's row. */
static json_t *api_pool(struct fixture *f, const char *pool)
{
	json_t *j = admin_json(&f->d, "GET", "/api/v1/admin/pools", NULL, 200), *p, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "pools"), i, p) {
		if (streq(json_string_value(json_object_get(p, "name")), pool))
			found = json_incref(p);
	}
	json_decref(j);
	return found;
}

/* The pool is on network:net_name, isolated or not, in GET /admin/pools and `vdictl pool list`. */
static void check_pool_shows(struct fixture *f, bool isolated)
{
	json_t *p = api_pool(f, f->pool);
	char want[64], cell[128];
	struct run r;

	check(p);
	snprintf(want, sizeof(want), "network:%s", net_name);
	check_str_eq(json_string_value(json_object_get(p, "network")), want);
	check(json_is_false(json_object_get(p, "network_inherited")));
	check(json_is_boolean(json_object_get(p, "isolate_desktops")));
	check(json_is_true(json_object_get(p, "isolate_desktops")) == isolated);
	json_decref(p);
	vdictl_ok(f, &r, "pool list");
	check(table_cell(r.out, "NAME", f->pool, "NETWORK", cell, sizeof(cell)));
	check_str_eq(cell, want);
	check(table_cell(r.out, "NAME", f->pool, "ISOLATED", cell, sizeof(cell)));
	check_str_eq(cell, isolated ? "yes" : "no");
}

/* tests/browser/web-addresses.mjs: the admin page shows each desktop's address in its row. */
static void browser_shows(struct fixture *f, const int64_t *ids, char (*addrs)[64], size_t n)
{
	char dir[600], log[700], script[600], base[64], idtext[2][32], line[1024];
	char *argv[16];
	size_t k = 0;
	int status;
	pid_t node;
	FILE *out;

	check(n <= 2);
	snprintf(dir, sizeof(dir), "%s/browser", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	snprintf(log, sizeof(log), "%s/web-addresses.log", dir);
	snprintf(script, sizeof(script), "%s/tests/browser/web-addresses.mjs", test_env_or_fail("VDI_SOURCE_ROOT"));
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", f->d.port);
	if (!*test_env_or_fail("VDI_NODE_BIN"))
		vdi_test_fail(__FILE__, __LINE__, "node (Debian nodejs) was not found at configure time");
	argv[k++] = (char *)test_env_or_fail("VDI_NODE_BIN");
	argv[k++] = script;
	argv[k++] = base;
	argv[k++] = dir;
	for (size_t i = 0; i < n; i++) {
		snprintf(idtext[i], sizeof(idtext[i]), "%lld", (long long)ids[i]);
		argv[k++] = idtext[i];
		argv[k++] = addrs[i];
	}
	argv[k] = NULL;
	node = screen_spawn(log, argv, NULL);
	check(waitpid(node, &status, 0) == node);
	check(out = fopen(log, "re"));
	while (fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = '\0';
		vdi_test_log("browser: %s", line);
	}
	fclose(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		vdi_test_fail(__FILE__, __LINE__, "the browser's steps failed (above)");
	if (getenv("VDI_SCREENSHOT_DIR")) {
		char from[700], to[700];
		_cleanup_free_ char *cmd = NULL;

		snprintf(from, sizeof(from), "%s/admin-addresses.png", dir);
		snprintf(to, sizeof(to), "%s/admin-addresses.png", getenv("VDI_SCREENSHOT_DIR"));
		(void)mkdir(getenv("VDI_SCREENSHOT_DIR"), 0755);
		check(asprintf(&cmd, "cp '%s' '%s'", from, to) > 0);
		(void)!system(cmd);
	}
}

/* ---- the scenario ----------------------------------------------------------------------------------- */

struct desk {
	struct user u;
	int64_t id;
	char domain[128];
	char addr[64];
	char mac[32];
};

/* Both users ask (the desktops are made and boot side by side); both assigned, their leases read. */
static void give_desktops(struct fixture *f, struct desk *dk, const char *prefix)
{
	for (int i = 0; i < 2; i++)
		dk[i].id = fixture_ask(f, &dk[i].u, f->pool, 202);
	for (int i = 0; i < 2; i++) {
		check(wait_desktop_state(&f->d, &dk[i].u, dk[i].id, "assigned", FIXTURE_BOOT_MS));
		fixture_domain(f->pool, dk[i].id, dk[i].domain, sizeof(dk[i].domain));
	}
	step("both desktops assigned");
	for (int i = 0; i < 2; i++)
		guest_address(dk[i].domain, prefix, dk[i].addr, sizeof(dk[i].addr));
	check(!streq(dk[0].addr, dk[1].addr));
	step("both guests have their leases");
}

/* `vdictl network list` has net_name (with subnet) or not. */
static void check_network_listed(struct fixture *f, const char *subnet, bool listed)
{
	struct run r;
	char cell[64];

	vdictl_ok(f, &r, "network list");
	check(table_cell(r.out, "NAME", net_name, "SUBNET", cell, sizeof(cell)) == listed);
	if (listed) {
		check_str_eq(cell, subnet);
		check(table_cell(r.out, "NAME", net_name, "MODE", cell, sizeof(cell)));
		check_str_eq(cell, "nat");
		check(table_cell(r.out, "NAME", net_name, "ACTIVE", cell, sizeof(cell)));
		check_str_eq(cell, "yes");
	}
}

static void test_pool_networks(void)
{
	struct fixture f;
	struct desk dk[2] = { 0 }, before[2];
	struct listener gw = { 0 };
	struct run r;
	char conf[700], prefix[32], subnet[32], gateway[40], tmpl[32], cell[512], want[256], listen_cmd[32],
		listening[32];
	_cleanup_free_ char *disk = test_guest_path("template.qcow2"), *xml = test_guest_xml(NULL), *xml_path = NULL;
	int64_t ids[2];
	char addrs[2][64];
	FILE *x;

	t0 = vdi_test_now_ms();
	snprintf(conf, sizeof(conf), "web_root = %s/web\n", test_env_or_fail("VDI_SOURCE_ROOT"));
	fixture_setup(&f, false, conf);
	wait_hosts_looked(&f);
	step("broker up, its host looked at");

	/* 1. The admin's network. */
	add_network(&f, prefix, sizeof(prefix), subnet, sizeof(subnet));
	snprintf(gateway, sizeof(gateway), "%s1", prefix);
	check_network_listed(&f, subnet, true);
	step("vdictl network add/list");

	/* 2. A template of the test guest (its XML's own NIC: the pool's network replaces it), a pooled pool. */
	check(asprintf(&xml_path, "%s/guest.xml", vdi_test_tmpdir()) > 0);
	check(x = fopen(xml_path, "we"));
	check(fputs(xml, x) >= 0);
	check(fclose(x) == 0);
	snprintf(tmpl, sizeof(tmpl), "net%d", (int)getpid());
	vdictl_ok(&f, &r, "template add %s --disk %s --xml %s", tmpl, disk, xml_path);
	vdictl_ok(&f, &r, "pool create %s --template %s --type pooled --size 2 --groups lab --network network:%s",
		  f.pool, tmpl, net_name);
	check_pool_shows(&f, true);
	step("template and pool made: the pool is isolated");

	/* 3. Two users' desktops, their addresses where the admin looks. */
	fixture_login(&f, &dk[0].u, 1);
	fixture_login(&f, &dk[1].u, 2);
	give_desktops(&f, dk, prefix);
	for (int i = 0; i < 2; i++) {
		check_nic(dk[i].domain, true, dk[i].mac, sizeof(dk[i].mac));
		wait_api_addresses(&f, dk[i].id, dk[i].addr);
		vdictl_addresses(&f, dk[i].id, cell, sizeof(cell));
		check_str_eq(cell, dk[i].addr);
		ids[i] = dk[i].id;
		snprintf(addrs[i], sizeof(addrs[i]), "%s", dk[i].addr);
	}
	step("both addresses in GET /admin/desktops and vdictl desktop list");
	browser_shows(&f, ids, addrs, 2);
	step("both addresses on the admin page, and what their guest agents tell");
	/* The page waited for the guest agents' answers (issue 18): vdictl shows them too. */
	for (int i = 0; i < 2; i++) {
		struct run gr;
		char key[32];

		vdictl_ok(&f, &gr, "desktop list --pool %s", f.pool);
		snprintf(key, sizeof(key), "%lld", (long long)dk[i].id);
		check(table_cell(gr.out, "ID", key, "GUEST", cell, sizeof(cell)));
		check_str_eq(cell, "vdi-guest (vdiuser)");
	}
	step("both guests' host name and user in vdictl desktop list");

	/* 4. Isolated: A reaches the gateway, not B; B reaches the gateway. */
	listener_open(&gw, gateway);
	snprintf(listen_cmd, sizeof(listen_cmd), "vdi-listen %d", GUEST_PORT);
	snprintf(listening, sizeof(listening), "vdi-listen: %d", GUEST_PORT);
	expect_answer(dk[1].domain, listen_cmd, listening);
	expect_listener(dk[1].addr, GUEST_PORT);
	expect_reach(dk[0].domain, gateway, gw.port, true);
	expect_reach(dk[1].domain, gateway, gw.port, true);
	check(atomic_load(&gw.accepted) >= 2);
	expect_reach(dk[0].domain, dk[1].addr, GUEST_PORT, false);
	step("isolated: A and B reach the gateway, A does not reach B");

	/* Isolation off; it applies at the desktops' next reset: both users release theirs and ask again. */
	vdictl_ok(&f, &r, "pool update %s --isolate-desktops no", f.pool);
	check_pool_shows(&f, false);
	for (int i = 0; i < 2; i++)
		fixture_release(&f, &dk[i].u, dk[i].id);
	for (int i = 0; i < 2; i++) {
		if (!wait_admin_state(&f.d, dk[i].id, "stopped", NULL, FIXTURE_BOOT_MS)) {
			json_t *j = fixture_desktops(&f, f.pool);
			_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(1));

			json_decref(j);
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld was not reset: %s", (long long)dk[i].id, text);
		}
	}
	step("both released and reset (stopped, no owner)");
	memcpy(before, dk, sizeof(before));
	give_desktops(&f, dk, prefix);
	for (int i = 0; i < 2; i++) {
		/* Each user may get the other's desktop of before: its MAC is what it was. */
		const struct desk *was = before[0].id == dk[i].id ? &before[0] : &before[1];

		check_int_eq(was->id, dk[i].id);
		check_nic(dk[i].domain, false, dk[i].mac, sizeof(dk[i].mac));
		check_str_eq(dk[i].mac, was->mac);
	}
	expect_answer(dk[1].domain, listen_cmd, listening);
	expect_listener(dk[1].addr, GUEST_PORT);
	expect_reach(dk[0].domain, dk[1].addr, GUEST_PORT, true);
	expect_reach(dk[0].domain, gateway, gw.port, true);
	step("not isolated: A reaches B and the gateway");

	/* 5. The network cannot go while the pool uses it; it can once the pool is gone. */
	vdictl(&f, &r, "network remove %s", net_name);
	check_int_eq(r.status, 1);
	snprintf(want, sizeof(want), "libvirt network \"%s\" is used by pool \"%s\"", net_name, f.pool);
	check_str_contains(r.out, want);
	check_network_listed(&f, subnet, true);
	/* Nor while running desktops are attached to it: the pool on another network now, its two desktops keep
	 * theirs until their next reset. */
	vdictl_ok(&f, &r, "pool update %s --network user", f.pool);
	vdictl(&f, &r, "network remove %s", net_name);
	check_int_eq(r.status, 1);
	check_str_contains(r.out, "2 running desktop NICs on libvirt host " FIXTURE_URI " are attached to network");
	check_network_listed(&f, subnet, true);
	step("not removed while the pool or its running desktops use it");
	vdictl_ok(&f, &r, "pool delete %s", f.pool);
	for (int i = 0; i < 2; i++)
		fixture_release(&f, &dk[i].u, dk[i].id);
	for (uint64_t end = vdi_test_now_ms() + FIXTURE_BOOT_MS;; usleep(250 * 1000)) {
		json_t *p = api_pool(&f, f.pool);

		if (!p)
			break;
		json_decref(p);
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "pool %s was not deleted", f.pool);
	}
	step("pool deleted");
	vdictl_ok(&f, &r, "network remove %s", net_name);
	check_str_contains(r.out, "removed from " FIXTURE_URI);
	check_network_listed(&f, subnet, false);
	step("vdictl network remove");
	check(shutdown(gw.fd, SHUT_RDWR) == 0);
	check(pthread_join(gw.thread, NULL) == 0);
	close(gw.fd);
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	{ "pool_networks", test_pool_networks, 480 },
};

int main(int argc, char **argv)
{
	snprintf(net_name, sizeof(net_name), "vdit%da", (int)getpid());
	vdi_test_set_sweeper(sweep_network);
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
