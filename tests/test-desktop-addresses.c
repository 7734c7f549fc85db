/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Each desktop's IP addresses (issue 16) with a real libvirtd and dnsmasq: a libvirt network of
 * the test's own ("vdit<pid>a", isolated, on a free private /24), a template whose one NIC is on
 * it, one desktop of the test guest, which gets a lease at boot and says which on its serial
 * console.  The address it says is the one GET /api/v1/admin/desktops, `vdictl desktop list`
 * and the admin page (tests/browser/web-addresses.mjs in Debian's chromium) show; once the
 * desktop is stopped, none is shown.  The network goes in the sweeper, also when the test fails.
 *
 * Environment (set by meson): VDI_BROKER_BIN, VDICTL_BIN, VDI_NODE_BIN, VDI_TEST_GUEST_DIR,
 * VDI_SOURCE_ROOT, VDI_SCREENSHOT_DIR (optional).
 */
#include <arpa/inet.h>
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
#include "cleanup.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "screen.h"
#include "vmpool-test.h"
#include "vmpool.h"

#define LEASE_MS 150000 /* the guest's DHCP under TCG on a busy machine: 25-40 s, at times more */
#define SHOWN_MS 30000  /* the broker reads the addresses at least every 10 s */

static char net_name[32]; /* "vdit<pid>a", the pid of the main test process */

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

/* Whether the IPv4 network a/prefix overlaps 10.250.x.0/24 (both in host order). */
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
 * Makes net_name on a free private /24 (10.250.N.0/24; none of this host's routes, and, as
 * pool_network_add() checks, none of its libvirt networks): isolated, DHCP on the rest.  Its
 * subnet's first three octets into prefix ("10.250.N.").
 */
static void make_network(struct fixture *f, char *prefix, size_t len)
{
	char storage_path[600], runtime[600];
	struct pool_host_options o = {
		.uri = FIXTURE_URI,
		.storage_pool = f->storage_pool,
		.storage_path = storage_path,
		.runtime_dir = runtime,
	};
	struct pool_host *host = NULL;
	struct vdi_error err = { 0 };

	snprintf(storage_path, sizeof(storage_path), "%s", f->images);
	snprintf(runtime, sizeof(runtime), "%s/run", vdi_test_tmpdir());
	check_ok(pool_host_new(&o, &host, &err));
	for (unsigned i = 0; i < 256; i++) {
		unsigned n = ((unsigned)getpid() + i) % 250 + 2;
		uint32_t cand = (10u << 24) | (250u << 16) | (n << 8);
		char subnet[32];
		int r;

		if (routed(cand))
			continue;
		snprintf(subnet, sizeof(subnet), "10.250.%u.0/24", n);
		memset(&err, 0, sizeof(err));
		r = pool_network_add(host, net_name, "isolated", subnet, &err);
		if (r == -EINVAL && strstr(err.message, "overlap"))
			continue;
		if (r < 0)
			vdi_test_fail(__FILE__, __LINE__, "cannot make libvirt network %s on %s: %s", net_name, subnet,
				      err.message);
		snprintf(prefix, len, "10.250.%u.", n);
		vdi_test_log("libvirt network %s on %s", net_name, subnet);
		pool_host_free(host);
		return;
	}
	vdi_test_fail(__FILE__, __LINE__, "no free /24 in 10.250.0.0/16 for the test's network");
}

/* A template whose one NIC is a virtio one on net_name. */
static void add_template(struct fixture *f, const char *name)
{
	static const char user_nic[] = "<interface type='user'><model type='virtio'/></interface>";
	_cleanup_free_ char *guest = test_guest_xml(NULL), *disk = test_guest_path("template.qcow2"), *xml = NULL,
			    *text = NULL;
	char *at = strstr(guest, user_nic);
	json_t *body;

	if (!at)
		vdi_test_fail(__FILE__, __LINE__, "the test guest's XML has no %s", user_nic);
	*at = '\0';
	check(asprintf(&xml, "%s<interface type='network'><source network='%s'/><model type='virtio'/></interface>%s",
		       guest, net_name, at + strlen(user_nic)) > 0);
	body = json_pack("{s:s, s:s, s:s}", "name", name, "disk", disk, "xml", xml);
	text = json_dumps(body, 0);
	json_decref(body);
	json_decref(admin_json(&f->d, "POST", "/api/v1/admin/templates", text, 201));
}

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
				vdi_test_log("the guest says: vdi-net: eth0 %s/%s", a, rest);
				check(startswith(a, prefix));
				check_str_eq(rest, "24");
				snprintf(addr, len, "%s", a);
				return;
			}
		}
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "the guest got no lease within %u s; its console: %s",
				      LEASE_MS / 1000, out);
		usleep(1000 * 1000);
	}
}

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
	_cleanup_free_ char *cmd = NULL;
	char line[2048];
	size_t column = 0;
	bool header = true, found = false;
	FILE *p;

	check(asprintf(&cmd, "'%s' --socket '%s' desktop list --pool '%s'", test_env_or_fail("VDICTL_BIN"),
		       f->d.admin_socket, f->pool) > 0);
	check(p = popen(cmd, "re"));
	while (fgets(line, sizeof(line), p)) {
		long long rid;

		line[strcspn(line, "\n")] = '\0';
		vdi_test_log("vdictl: %s", line);
		if (header) {
			const char *at = strstr(line, "ADDRESSES");

			check(at && streq(at, "ADDRESSES"));
			column = (size_t)(at - line);
			header = false;
		} else if (sscanf(line, "%lld", &rid) == 1 && rid == id) {
			check(strlen(line) > column);
			snprintf(cell, len, "%s", line + column);
			found = true;
		}
	}
	check_int_eq(WEXITSTATUS(pclose(p)), 0);
	check(found);
}

/* tests/browser/web-addresses.mjs: the admin page shows want in desktop id's row. */
static void browser_shows(struct fixture *f, int64_t id, const char *want)
{
	char dir[600], log[700], script[600], base[64], idtext[32], line[1024];
	int status;
	pid_t node;
	FILE *out;

	snprintf(dir, sizeof(dir), "%s/browser", vdi_test_tmpdir());
	check(mkdir(dir, 0755) == 0);
	snprintf(log, sizeof(log), "%s/web-addresses.log", dir);
	snprintf(script, sizeof(script), "%s/tests/browser/web-addresses.mjs", test_env_or_fail("VDI_SOURCE_ROOT"));
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", f->d.port);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	if (!*test_env_or_fail("VDI_NODE_BIN"))
		vdi_test_fail(__FILE__, __LINE__, "node (Debian nodejs) was not found at configure time");
	node = screen_spawn(log, (char *[]){ (char *)test_env_or_fail("VDI_NODE_BIN"), script, base, dir, idtext,
					     (char *)want, NULL },
			    NULL);
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

/* One desktop on the test's network: its lease everywhere an admin looks, and none once it is stopped. */
static void test_addresses_shown(void)
{
	struct fixture f;
	struct user u = { 0 };
	char conf[700], prefix[32], addr[64], domain[128], cell[512], path[128], tmpl[32];
	int64_t id;

	snprintf(conf, sizeof(conf), "web_root = %s/web\n", test_env_or_fail("VDI_SOURCE_ROOT"));
	fixture_setup(&f, false, conf);
	make_network(&f, prefix, sizeof(prefix));
	snprintf(tmpl, sizeof(tmpl), "net%d", (int)getpid());
	add_template(&f, tmpl);
	fixture_add_pool(&f, f.pool, tmpl, "pooled", 1, 0);
	fixture_login(&f, &u, 1);
	id = fixture_ask(&f, &u, f.pool, 202);
	check(wait_desktop_state(&f.d, &u, id, "assigned", FIXTURE_BOOT_MS));
	fixture_domain(f.pool, id, domain, sizeof(domain));

	guest_address(domain, prefix, addr, sizeof(addr));
	wait_api_addresses(&f, id, addr);
	vdi_test_log("GET /admin/desktops: desktop %lld has addresses [\"%s\"]", (long long)id, addr);
	vdictl_addresses(&f, id, cell, sizeof(cell));
	check_str_eq(cell, addr);
	browser_shows(&f, id, addr);

	/* Stopped: it has none (and vdictl says "-"). */
	snprintf(path, sizeof(path), "/api/v1/admin/desktops/%lld/stop", (long long)id);
	json_decref(admin_json(&f.d, "POST", path, NULL, 202));
	check(wait_admin_state(&f.d, id, "stopped", "u01", FIXTURE_BOOT_MS));
	wait_api_addresses(&f, id, "");
	vdictl_addresses(&f, id, cell, sizeof(cell));
	check_str_eq(cell, "-");
	vdi_test_log("stopped, desktop %lld shows no address", (long long)id);
	fixture_teardown(&f);
}

static const struct vdi_test tests[] = {
	{ "addresses_shown", test_addresses_shown, 480 },
};

int main(int argc, char **argv)
{
	snprintf(net_name, sizeof(net_name), "vdit%da", (int)getpid());
	vdi_test_set_sweeper(sweep_network);
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
