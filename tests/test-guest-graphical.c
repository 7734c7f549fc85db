/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The graphical test guest (tests/guest/build-guest: initrd-graphical.img, guest-graphical.xml), one
 * boot: X, twm and the SPICE agent come up ("vdi-x: ready", then the banner), xrandr answers with
 * the mode X starts in without a client, the guest agent answers libvirt (host name, logged-in
 * user), the X clipboard holds what the console puts there, and vdi-lock locks the X screen.
 *
 * Environment (set by meson): VDI_TEST_GUEST_DIR, VDI_SOURCE_ROOT.
 * VDI_SKIP_INTEGRATION=1 skips when no libvirtd answers; otherwise that fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "harness.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define URI "qemu:///system"
#define BOOT_MS 600000
#define AGENT_MS 60000

/* Types line (borrowed; NULL: nothing) on the console and waits for needle (borrowed); fails the test
 * with what it showed otherwise. */
static void expect_answer(const char *domain, const char *line, const char *needle)
{
	static char out[16384];

	if (!test_console_command(URI, domain, line, needle, 30000, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: \"%s\" got no \"%s\"; the console showed:\n%s", domain,
			      line ? line : "", needle, out);
}

/* The guest's host name as its agent reports it (a new string), retried for up to AGENT_MS while the
 * agent does not answer yet; NULL (and the last error logged) when it never does. */
static char *agent_host_name(virDomainPtr dom)
{
	uint64_t end = vdi_test_now_ms() + AGENT_MS;
	char *name;

	while (!(name = virDomainGetHostname(dom, VIR_DOMAIN_GET_HOSTNAME_AGENT)) && vdi_test_now_ms() < end)
		sleep(1);
	if (!name)
		vdi_test_log("guest agent: %s", virGetLastErrorMessage());
	return name;
}

/* The first logged-in user the guest agent reports (a new string), or NULL. */
static char *agent_first_user(virDomainPtr dom)
{
	virTypedParameterPtr params = NULL;
	int nparams = 0;
	const char *user = NULL;
	char *ret = NULL;

	if (virDomainGetGuestInfo(dom, VIR_DOMAIN_GUEST_INFO_USERS, &params, &nparams, 0) < 0) {
		vdi_test_log("guest info: %s", virGetLastErrorMessage());
		return NULL;
	}
	if (virTypedParamsGetString(params, nparams, "user.0.name", &user) == 1 && user)
		ret = strdup(user);
	virTypedParamsFree(params, nparams);
	return ret;
}

/* The agent's answers: host name "vdi-guest", the console's user "vdiuser". */
static void check_agent(const char *domain)
{
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr dom = c ? virDomainLookupByName(c, domain) : NULL;
	_cleanup_free_ char *name = NULL, *user = NULL;

	check(dom);
	name = agent_host_name(dom);
	check_str_eq(name, "vdi-guest");
	user = agent_first_user(dom);
	check_str_eq(user, "vdiuser");
	virDomainFree(dom);
	virConnectClose(c);
}

static void test_graphical_guest(void)
{
	_cleanup_free_ char *disk = test_guest_path("template.qcow2"), *xml = test_guest_graphical_xml(),
			    *images = NULL, *run = NULL;
	char pool_name[64], domain[128];
	static char out[65536];
	struct pool_host_options ho = { .uri = URI, .virt_type = getenv("VDI_TEST_VIRT_TYPE") };
	struct pool_template_options to = { .name = "graphical", .disk_path = disk, .xml = xml };
	struct pool_host *host = NULL;
	struct pool_template *tmpl = NULL;
	struct vdi_error err = { { 0 } };
	uint64_t t0;
	virConnectPtr c;
	virStoragePoolPtr sp;

	test_require_libvirt(URI);
	test_cleanup_stale_runs(URI);
	snprintf(pool_name, sizeof(pool_name), "vdi-test-%d-%d", (int)getppid(), (int)getpid());
	check(asprintf(&images, "%s/images", vdi_test_tmpdir()) > 0);
	check(asprintf(&run, "%s/run", vdi_test_tmpdir()) > 0);
	ho.storage_pool = pool_name;
	ho.storage_path = images;
	ho.runtime_dir = run;
	if (pool_host_new(&ho, &host, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_new: %s", err.message);
	if (pool_template_new(&to, &tmpl, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "template: %s", err.message);
	check(pool_domain_name("gfx", 1, domain, sizeof(domain)) >= 0);
	if (pool_desktop_create(host, tmpl, "gfx", 1, &err) < 0 || pool_desktop_start(host, domain, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", domain, err.message);
	t0 = vdi_test_now_ms();

	/* X, the window manager and the SPICE agent, then the banner. */
	if (!test_console_wait(URI, domain, "VDI-TEST-GUEST READY", BOOT_MS, out, sizeof(out)))
		vdi_test_fail(__FILE__, __LINE__, "%s: no banner; the console showed:\n%s", domain, out);
	vdi_test_log("banner %" PRIu64 " ms after the start", vdi_test_now_ms() - t0);
	check_str_contains(out, "vdi-agent: running");
	check_str_contains(out, "vdi-x: ready\r\n");
	check(!strstr(out, "vdi-x: failed"));

	/* No client has asked for a size: X runs in the QXL's first mode, on one output. */
	expect_answer(domain, "vdi-xrandr", "vdi-xrandr: 1024x768\r\n");

	check_agent(domain);

	/* The X clipboard, set and read back inside the guest (xclip serves it). */
	expect_answer(domain, "vdi-clip-get", "vdi-clip: none");
	expect_answer(domain, "vdi-clip-set copied in the guest", "vdi-clip-set: copied in the guest");
	expect_answer(domain, "vdi-clip-get", "vdi-clip: copied in the guest");

	/* The lock: i3lock holds the X screen (it exits when it cannot grab it). */
	expect_answer(domain, "vdi-locked?", "vdi-lock: off");
	expect_answer(domain, "vdi-lock", "vdi-locked\r\n");
	expect_answer(domain, "vdi-locked?", "vdi-lock: on");

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
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_graphical_guest, 900),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
