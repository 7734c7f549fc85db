/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Firmware and TPM without QEMU (issue 17): what a host's domain capabilities offer (pool_domcaps_read on
 * tests/domcaps/: q35-qemu.xml captured on a Debian 12 host with ovmf and swtpm, `virsh -c qemu:///system
 * domcapabilities --machine q35 --virttype qemu`, libvirt 9.0; q35-qemu-no-ovmf-no-swtpm.xml the same
 * capture edited as libvirt shows a host without either), which domain XML has firmware state of its own,
 * and what a reset does with a domain's definition on test:///default (its events tell the undefine).
 *
 * Environment (set by meson): VDI_DOMCAPS_DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "private.h"
#include "vmpool-test.h"
#include "vmpool.h"

#define TEST_URI "test:///default"

static char *read_capture(const char *name)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0;

	check(asprintf(&path, "%s/%s", test_env_or_fail("VDI_DOMCAPS_DIR"), name) > 0);
	f = fopen(path, "re");
	if (!f)
		vdi_test_fail(__FILE__, __LINE__, "cannot read %s", path);
	check(getdelim(&buf, &len, '\0', f) > 0);
	return buf;
}

/* s with the first occurrence of from replaced by to (which must be there): a new string, s freed. */
static char *edit(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from), *n;

	if (!at)
		vdi_test_fail(__FILE__, __LINE__, "the capture has no \"%s\"", from);
	check(asprintf(&n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from)) > 0);
	free(s);
	return n;
}

static void check_features(const char *xml, bool uefi, bool secure_boot, bool tpm)
{
	struct pool_hw_features f = { .uefi = !uefi, .secure_boot = !secure_boot, .tpm = !tpm };

	check_ok(pool_domcaps_read(xml, &f));
	check_int_eq(f.uefi, uefi);
	check_int_eq(f.secure_boot, secure_boot);
	check_int_eq(f.tpm, tpm);
}

static void test_domcaps_captured(void)
{
	_cleanup_free_ char *full = read_capture("q35-qemu.xml");
	_cleanup_free_ char *none = read_capture("q35-qemu-no-ovmf-no-swtpm.xml");

	check_features(full, true, true, true);
	check_features(none, false, false, false);
}

static void test_domcaps_edited(void)
{
	char *xml;

	/* OVMF without its Secure Boot build: UEFI only. */
	xml = edit(read_capture("q35-qemu.xml"), "<value>yes</value>\n        <value>no</value>\n      </enum>\n    "
						 "</loader>",
		   "<value>no</value>\n      </enum>\n    </loader>");
	check_features(xml, true, false, true);
	free(xml);

	/* Loaders listed, but no EFI autoselection: a template can name an OVMF by path, not ask for
	 * enrolled keys through libvirt. */
	xml = edit(read_capture("q35-qemu.xml"), "<value>efi</value>", "");
	check_features(xml, true, false, true);
	free(xml);

	/* Autoselection and secure "yes" but no loader listed: nothing to boot. */
	xml = edit(read_capture("q35-qemu.xml"), "<value>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</value>", "");
	xml = edit(xml, "<value>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</value>", "");
	xml = edit(xml, "<value>/usr/share/OVMF/OVMF_CODE_4M.fd</value>", "");
	check_features(xml, true, false, true);
	free(xml);

	/* Each alone: the other two stay as they are. */
	xml = edit(read_capture("q35-qemu-no-ovmf-no-swtpm.xml"), "<value>passthrough</value>",
		   "<value>passthrough</value><value>emulator</value>");
	check_features(xml, false, false, true);
	free(xml);

	xml = edit(read_capture("q35-qemu.xml"), "<tpm supported='yes'>", "<tpm supported='no'>");
	check_features(xml, true, true, false);
	free(xml);

	/* The emulator in TPM 1.2 only: no TPM 2.0. */
	xml = edit(read_capture("q35-qemu.xml"), "<value>2.0</value>", "");
	check_features(xml, true, true, false);
	free(xml);

	/* A libvirt that lists no backend versions. */
	xml = edit(read_capture("q35-qemu.xml"), "<enum name='backendVersion'>", "<enum name='unlisted'>");
	check_features(xml, true, true, true);
	free(xml);

	xml = edit(read_capture("q35-qemu.xml"), "<os supported='yes'>", "<os supported='no'>");
	check_features(xml, false, false, true);
	free(xml);
}

static void test_domcaps_bad(void)
{
	struct pool_hw_features f = { true, true, true };

	check_err(pool_domcaps_read(NULL, &f), EINVAL);
	check(!f.uefi && !f.secure_boot && !f.tpm);
	check_err(pool_domcaps_read("", &f), EINVAL);
	check_err(pool_domcaps_read("<domainCapabilities>", &f), EINVAL);
	check_err(pool_domcaps_read("<capabilities/>", &f), EINVAL);
	check_ok(pool_domcaps_read("<domainCapabilities/>", &f));
	check(!f.uefi && !f.secure_boot && !f.tpm);
}

/* A domain of os_and_devices: "<os ...>...</os><devices>...</devices>". */
static int state_of(const char *os_and_devices)
{
	_cleanup_free_ char *xml = NULL;

	check(asprintf(&xml, "<domain type='qemu'><name>x</name><memory>1</memory>%s</domain>", os_and_devices) > 0);
	return pool_domxml_firmware_state(xml);
}

static void test_firmware_state(void)
{
	check_int_eq(state_of("<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><disk/></devices>"), 0);
	check_int_eq(state_of("<os firmware='efi'><type>hvm</type></os>"), 1);
	check_int_eq(state_of("<os firmware='bios'><type>hvm</type></os>"), 0);
	check_int_eq(state_of("<os><type>hvm</type><loader readonly='yes' type='pflash'>/c.fd</loader></os>"), 1);
	check_int_eq(state_of("<os><type>hvm</type><loader type='rom'>/bios.bin</loader></os>"), 0);
	check_int_eq(state_of("<os><type>hvm</type><nvram template='/v.fd'/></os>"), 1);
	check_int_eq(state_of("<os><type>hvm</type></os><devices><tpm model='tpm-crb'>"
			      "<backend type='emulator' version='2.0'/></tpm></devices>"),
		     1);
	check_err(pool_domxml_firmware_state("<network/>"), EINVAL);
	check_err(pool_domxml_firmware_state(""), EINVAL);
	check_err(pool_domxml_firmware_state(NULL), EINVAL);
}

static const char efi_xml[] =
	"<domain type='kvm'><name>golden</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>"
	"<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>"
	"<firmware><feature enabled='yes' name='secure-boot'/><feature enabled='yes' name='enrolled-keys'/></firmware>"
	"</os><features><smm state='on'/></features>"
	"<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/golden.img'/>"
	"<target dev='vda' bus='virtio'/></disk>"
	"<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>"
	"<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm></devices></domain>";

static const char bios_xml[] =
	"<domain type='kvm'><name>golden</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>"
	"<os><type arch='x86_64' machine='q35'>hvm</type></os>"
	"<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/golden.img'/>"
	"<target dev='vda' bus='virtio'/></disk>"
	"<interface type='user'><model type='virtio'/></interface></devices></domain>";

static struct pool_template *template_of(const char *name, const char *xml)
{
	_cleanup_free_ char *disk = test_make_qcow2(name, "1G");
	struct pool_template_options o = { .name = "golden", .disk_path = disk, .xml = xml };
	struct vdi_error err = { { 0 } };
	struct pool_template *t = NULL;

	if (pool_template_new(&o, &t, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_template_new: %s", err.message);
	return t;
}

/* The definition of domain as the test driver keeps it (inactive), a new string. */
static char *definition(const char *domain)
{
	return test_domain_definition(TEST_URI, domain, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE);
}

/*
 * The test driver keeps one in-memory hypervisor per process: the host's connection and definition()'s see
 * the same domains.  Events come in order, so once a later desktop's undefine was seen, an earlier
 * desktop's undefine would have been seen before it.
 */
static void test_reset_redefines(void)
{
	struct pool_host_options o = {
		.uri = TEST_URI, .storage_pool = "vdi", .storage_path = "/vdi-images", .runtime_dir = vdi_test_tmpdir(),
	};
	struct test_event_log log = TEST_EVENT_LOG_INIT;
	struct pool_template *efi = template_of("efi.qcow2", efi_xml), *bios = template_of("bios.qcow2", bios_xml);
	struct vdi_error err = { { 0 } };
	struct pool_host *host = NULL;
	_cleanup_free_ char *before = NULL, *after = NULL, *kept = NULL;
	struct pool_desktop_info info;

	if (pool_host_new(&o, &host, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_new: %s", err.message);
	/* The test driver has no domain capabilities: a host that cannot say, not one that has nothing. */
	{
		struct pool_hw_features hw = { true, true, true };

		check_err(pool_host_hardware(host, &hw, &err), EOPNOTSUPP);
		check_str_contains(err.message, "domain capabilities");
		check(!hw.uefi && !hw.secure_boot && !hw.tpm);
	}
	pool_host_set_event_handler(host, test_event_record, &log);
	check_ok(pool_desktop_create(host, efi, "fw", 1, &err));
	check_ok(pool_desktop_create(host, efi, "fw", 2, &err));
	check_ok(pool_desktop_create(host, bios, "fw", 3, &err));
	check(test_event_wait(&log, "defined:vdi-fw-3:", 5000));

	/* No NVRAM nor TPM: the definition stays; a recompose keeps the firmware's. */
	check_ok(pool_desktop_reset(host, bios, "vdi-fw-3", &err));
	kept = definition("vdi-fw-1");
	check_ok(pool_desktop_reset_flags(host, efi, "vdi-fw-1", POOL_RESET_KEEP_FIRMWARE, &err));

	/* A pooled reset of an EFI + TPM desktop: undefined and defined again, all of it kept. */
	before = definition("vdi-fw-2");
	check_ok(pool_desktop_reset(host, efi, "vdi-fw-2", &err));
	check(test_event_wait(&log, "undefined:vdi-fw-2:fw:2\ndefined:vdi-fw-2:fw:2\n", 5000));
	check(!strstr(log.text, "undefined:vdi-fw-3:"));
	check(!strstr(log.text, "undefined:vdi-fw-1:"));
	after = definition("vdi-fw-2");
	check_str_eq(after, before);
	check_str_contains(after, "<uuid>");
	check_str_contains(after, "passwd=");
	after = (free(after), definition("vdi-fw-1"));
	check_str_eq(after, kept);
	check_ok(pool_desktop_get_info(host, "vdi-fw-2", &info, &err));
	check_int_eq(info.state, POOL_DESKTOP_STOPPED);
	check_str_eq(info.pool, "fw");
	check_int_eq(info.desktop_id, 2);
	pool_desktop_info_finish(&info);

	check_err(pool_desktop_reset_flags(host, efi, "vdi-fw-2", 1u << 7, &err), EINVAL);
	check_err(pool_desktop_reset(host, efi, "vdi-fw-9", &err), ENOENT);

	for (int i = 1; i <= 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "vdi-fw-%d", i);
		check_ok(pool_desktop_delete(host, name, &err));
		check(!test_domain_exists(TEST_URI, name));
	}
	pool_host_set_event_handler(host, NULL, NULL);
	pool_template_free(efi);
	pool_template_free(bios);
	pool_host_free(host);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_domcaps_captured), VDI_TEST(test_domcaps_edited), VDI_TEST(test_domcaps_bad),
	VDI_TEST(test_firmware_state),   VDI_TEST(test_reset_redefines),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
