/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpool/hardware.c and the clone-time devices (vmpool/clone-devices.c): the domain XML a template gets from an OS
 * profile (hand-built here as osinfo-db 0.20221130 describes win11, win10 and debian11), what a domain XML
 * needs of a host, and what every clone gets.  Pure, but for one schema check on libvirt's test driver.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "harness.h"
#include "private.h"
#include "vmpool-test.h"
#include "vmpool.h"

static const struct pool_os_profile win11 = {
	.id = "win11", .name = "Microsoft Windows 11", .windows = true, .uefi_required = true,
	.uefi_supported = true, .disk_bus = "virtio", .nic_model = "virtio", .video = "qxl", .sound = "ich9",
	.min_memory_mib = 4096, .min_vcpus = 2,
};

static const struct pool_os_profile win10 = {
	.id = "win10", .name = "Microsoft Windows 10", .windows = true, .disk_bus = "virtio",
	.nic_model = "virtio", .video = "qxl", .sound = "ich9", .min_memory_mib = 2048, .min_vcpus = 1,
};

static const struct pool_os_profile debian11 = {
	.id = "debian11", .name = "Debian 11", .uefi_supported = true, .disk_bus = "virtio", .nic_model = "virtio",
	.video = "virtio", .sound = "ich9", .min_memory_mib = 1024, .min_vcpus = 1, .rec_memory_mib = 1024,
};

/* An old OS without virtio: SATA, e1000e, VGA, AC'97. */
static const struct pool_os_profile oldos = {
	.id = "oldos", .name = "Old OS", .disk_bus = "sata", .nic_model = "e1000e", .video = "vga", .sound = "ac97",
};

static char *for_hw(const struct pool_os_profile *os, enum pool_firmware fw, int sb, int tpm, unsigned mem,
		    unsigned cpus)
{
	struct pool_hardware hw = { .os = os, .firmware = fw, .secure_boot = sb, .tpm = tpm, .memory_mib = mem,
				    .vcpus = cpus };
	struct vdi_error err = { { 0 } };
	char *xml = NULL;

	if (pool_domxml_for_hardware(&hw, &xml, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_domxml_for_hardware: %s", err.message);
	check(xml);
	return xml;
}

static struct pool_domxml_params clone_params(void)
{
	return (struct pool_domxml_params){
		.name = "vdi-hw-1",
		.uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
		.virt_type = "kvm",
		.disk_path = "/images/vdi-hw-1.qcow2",
		.spice_socket = "/run/vdi/spice/vdi-hw-1.sock",
		.spice_password = "s3cret",
		.pool = "hw",
		.desktop_id = 1,
		.template_name = "golden",
		.usb_redirect = POOL_USB_REDIRECT_TEMPLATE,
	};
}

static char *clone_of(const char *template_xml, const struct pool_domxml_params *p)
{
	struct vdi_error err = { { 0 } };
	char *xml = NULL;

	if (pool_domxml_for_clone(template_xml, p, &xml, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_domxml_for_clone: %s", err.message);
	return xml;
}

/* What every generated template has, whatever the OS. */
static void check_common(const char *xml)
{
	XP_EQ(xml, "/domain/os/type/@machine", "q35");
	XP_EQ(xml, "/domain/os/type/@arch", "x86_64");
	XP_EQ(xml, "/domain/cpu/@mode", "host-model");
	XP_EQ(xml, "/domain/clock/timer[@name='rtc']/@tickpolicy", "catchup");
	XP_EQ(xml, "/domain/clock/timer[@name='pit']/@tickpolicy", "delay");
	XP_EQ(xml, "/domain/clock/timer[@name='hpet']/@present", "no");
	XP_ONE(xml, "/domain/devices/disk[@device='disk']");
	XP_NONE(xml, "/domain/devices/interface");
	XP_EQ(xml, "/domain/devices/serial/@type", "pty");
	XP_EQ(xml, "/domain/devices/console/@type", "pty");
	XP_EQ(xml, "/domain/devices/console/target/@type", "serial");
	XP_ONE(xml, "/domain/devices/input[@type='tablet' and @bus='usb']");
	XP_ONE(xml, "/domain/devices/channel[@type='spicevmc']/target[@type='virtio' and @name='com.redhat.spice.0']");
	XP_ONE(xml, "/domain/devices/channel[@type='unix']/target[@type='virtio' and @name='org.qemu.guest_agent.0']");
	XP_ONE(xml, "/domain/devices/audio[@id='1' and @type='spice']");
	XP_ONE(xml, "/domain/devices/sound");
	XP_ONE(xml, "/domain/devices/video");
	XP_EQ(xml, "/domain/devices/memballoon/@model", "virtio");
	XP_ONE(xml, "/domain/metadata/vdihw:hardware");
	XP_ONE(xml, "/domain/devices/graphics[@type='spice']");
	XP_EQ(xml, "/domain/devices/graphics/listen/@address", "127.0.0.1");
	{
		_cleanup_free_ char *checked = NULL;

		check_ok(pool_domxml_check_template(xml, 0, 0, &checked, NULL));
	}
}

static void check_uefi_sb_tpm(const char *xml)
{
	XP_EQ(xml, "/domain/os/@firmware", "efi");
	XP_EQ(xml, "/domain/os/firmware/feature[@name='secure-boot']/@enabled", "yes");
	XP_EQ(xml, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled", "yes");
	XP_EQ(xml, "/domain/features/smm/@state", "on");
	XP_NONE(xml, "/domain/os/loader");
	XP_NONE(xml, "/domain/os/nvram");
	XP_ONE(xml, "/domain/devices/tpm");
	XP_EQ(xml, "/domain/devices/tpm/@model", "tpm-crb");
	XP_EQ(xml, "/domain/devices/tpm/backend/@type", "emulator");
	XP_EQ(xml, "/domain/devices/tpm/backend/@version", "2.0");
}

static void check_hyperv(const char *xml, bool windows)
{
	static const char *const features[] = { "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic",
						"stimer", "reset", "frequencies", "tlbflush", "ipi" };

	if (!windows) {
		XP_NONE(xml, "/domain/features/hyperv");
		XP_NONE(xml, "/domain/clock/timer[@name='hypervclock']");
		XP_EQ(xml, "/domain/clock/@offset", "utc");
		return;
	}
	XP_EQ(xml, "/domain/features/hyperv/@mode", "custom");
	for (size_t i = 0; i < ELEMENTSOF(features); i++) {
		_cleanup_free_ char *expr = NULL;

		check(asprintf(&expr, "/domain/features/hyperv/%s/@state", features[i]) > 0);
		XP_EQ(xml, expr, "on");
	}
	XP_EQ(xml, "/domain/features/hyperv/spinlocks/@retries", "8191");
	XP_EQ(xml, "/domain/clock/@offset", "localtime");
	XP_EQ(xml, "/domain/clock/timer[@name='hypervclock']/@present", "yes");
}

static void check_virtio_disk(const char *xml)
{
	XP_EQ(xml, "/domain/devices/disk/target/@bus", "virtio");
	XP_EQ(xml, "/domain/devices/disk/target/@dev", "vda");
	XP_EQ(xml, "/domain/metadata/vdihw:hardware/@nic-model", "virtio");
}

static void test_win11(void)
{
	_cleanup_free_ char *xml = for_hw(&win11, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);

	check_common(xml);
	check_uefi_sb_tpm(xml);
	check_hyperv(xml, true);
	check_virtio_disk(xml);
	XP_EQ(xml, "/domain/devices/video/model/@type", "qxl");
	XP_EQ(xml, "/domain/devices/sound/@model", "ich9");
	XP_EQ(xml, "/domain/memory", "4096");
	XP_EQ(xml, "/domain/memory/@unit", "MiB");
	XP_EQ(xml, "/domain/vcpu", "2");
	XP_EQ(xml, "/domain/metadata/vdihw:hardware/@os", "win11");

	/* More than the minimum is fine. */
	free(xml);
	xml = for_hw(&win11, POOL_FIRMWARE_UEFI, 1, 1, 8192, 4);
	XP_EQ(xml, "/domain/memory", "8192");
	XP_EQ(xml, "/domain/vcpu", "4");
}

static void test_win10(void)
{
	_cleanup_free_ char *xml = for_hw(&win10, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);

	/* BIOS by default: SeaBIOS, no firmware attribute, no TPM. */
	check_common(xml);
	check_hyperv(xml, true);
	check_virtio_disk(xml);
	XP_NONE(xml, "/domain/os/@firmware");
	XP_NONE(xml, "/domain/os/firmware");
	XP_NONE(xml, "/domain/features/smm");
	XP_NONE(xml, "/domain/devices/tpm");
	XP_EQ(xml, "/domain/memory", "2048");
	XP_EQ(xml, "/domain/vcpu", "1");
	XP_EQ(xml, "/domain/devices/video/model/@type", "qxl");

	/* UEFI with Secure Boot and a TPM when asked. */
	free(xml);
	xml = for_hw(&win10, POOL_FIRMWARE_UEFI, 1, 1, 4096, 2);
	check_common(xml);
	check_uefi_sb_tpm(xml);
	check_hyperv(xml, true);
}

static void test_debian11(void)
{
	_cleanup_free_ char *xml = for_hw(&debian11, POOL_FIRMWARE_UEFI, 1, 1, 0, 0);

	check_common(xml);
	check_uefi_sb_tpm(xml);
	check_hyperv(xml, false);
	check_virtio_disk(xml);
	XP_EQ(xml, "/domain/devices/video/model/@type", "virtio");
	XP_EQ(xml, "/domain/memory", "1024");
	XP_EQ(xml, "/domain/vcpu", "1");

	/* UEFI without Secure Boot: both features off, no SMM; no TPM unless asked. */
	free(xml);
	xml = for_hw(&debian11, POOL_FIRMWARE_UEFI, 0, -1, 2048, 2);
	check_common(xml);
	XP_EQ(xml, "/domain/os/@firmware", "efi");
	XP_EQ(xml, "/domain/os/firmware/feature[@name='secure-boot']/@enabled", "no");
	XP_EQ(xml, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled", "no");
	XP_NONE(xml, "/domain/features/smm");
	XP_NONE(xml, "/domain/devices/tpm");

	/* BIOS by default. */
	free(xml);
	xml = for_hw(&debian11, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);
	XP_NONE(xml, "/domain/os/@firmware");
	XP_NONE(xml, "/domain/devices/tpm");
}

static void test_generic_and_old_os(void)
{
	_cleanup_free_ char *xml = for_hw(NULL, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);
	_cleanup_free_ char *old = NULL;

	/* vdi's generic desktop: virtio, qxl, ich9, 2048 MiB, 2 vCPUs, SeaBIOS. */
	check_common(xml);
	check_hyperv(xml, false);
	check_virtio_disk(xml);
	XP_EQ(xml, "/domain/devices/video/model/@type", "qxl");
	XP_EQ(xml, "/domain/devices/sound/@model", "ich9");
	XP_EQ(xml, "/domain/memory", "2048");
	XP_EQ(xml, "/domain/vcpu", "2");
	XP_NONE(xml, "/domain/os/@firmware");
	XP_NONE(xml, "/domain/metadata/vdihw:hardware/@os");

	old = for_hw(&oldos, POOL_FIRMWARE_BIOS, 0, 0, 512, 1);
	check_common(old);
	XP_EQ(old, "/domain/devices/disk/target/@bus", "sata");
	XP_EQ(old, "/domain/devices/disk/target/@dev", "sda");
	XP_EQ(old, "/domain/devices/video/model/@type", "vga");
	XP_EQ(old, "/domain/devices/sound/@model", "ac97");
	XP_EQ(old, "/domain/metadata/vdihw:hardware/@nic-model", "e1000e");
}

/* A clone's NIC is of the model the template's hardware element names, at creation and when it changes. */
static void test_nic_model(void)
{
	_cleanup_free_ char *tmpl = for_hw(&oldos, POOL_FIRMWARE_BIOS, 0, 0, 512, 1);
	_cleanup_free_ char *xml = NULL, *xml2 = NULL, *plain = NULL;
	struct pool_nic nic = { .kind = POOL_NIC_NETWORK };
	struct pool_domxml_params p = clone_params();
	struct vdi_error err = { { 0 } };

	snprintf(nic.name, sizeof(nic.name), "default");
	p.nic = &nic;
	xml = clone_of(tmpl, &p);
	XP_ONE(xml, "/domain/devices/interface");
	XP_EQ(xml, "/domain/devices/interface/model/@type", "e1000e");
	XP_EQ(xml, "/domain/devices/interface/source/@network", "default");
	XP_EQ(xml, "/domain/metadata/vdihw:hardware/@nic-model", "e1000e");
	XP_ONE(xml, "/domain/metadata/vdi:desktop");

	nic.kind = POOL_NIC_USER;
	nic.name[0] = '\0';
	check_ok(pool_domxml_set_nic(xml, &nic, &xml2, NULL));
	XP_EQ(xml2, "/domain/devices/interface/@type", "user");
	XP_EQ(xml2, "/domain/devices/interface/model/@type", "e1000e");

	/* No hardware element: virtio, as always. */
	plain = clone_of("<domain><memory>1</memory><os/></domain>", &p);
	XP_EQ(plain, "/domain/devices/interface/model/@type", "virtio");

	/* A model vdi does not know is refused. */
	free(xml);
	xml = NULL;
	check_err(pool_domxml_for_clone("<domain><metadata><h:hardware xmlns:h='" POOL_HARDWARE_NS "' "
					"nic-model='x\"y'/></metadata><memory>1</memory><os/></domain>",
					&p, &xml, &err),
		  EINVAL);
	check_str_contains(err.message, "NIC model");
}

static void check_resolve_error(const struct pool_hardware *hw, const char *prefix)
{
	struct pool_hardware out;
	struct vdi_error err = { { 0 } };
	char *xml = NULL;

	check_err(pool_hardware_resolve(hw, &out, &err), EINVAL);
	if (strncmp(err.message, prefix, strlen(prefix)) != 0)
		vdi_test_fail(__FILE__, __LINE__, "message \"%s\" does not start with \"%s\"", err.message, prefix);
	err = (struct vdi_error){ { 0 } };
	check_err(pool_domxml_for_hardware(hw, &xml, &err), EINVAL);
	check(strncmp(err.message, prefix, strlen(prefix)) == 0);
	check(!xml);
}

static void test_resolve(void)
{
	struct pool_hardware in = { .os = &win11, .secure_boot = -1, .tpm = -1 }, out;

	check_ok(pool_hardware_resolve(&in, &out, NULL));
	check_int_eq(out.firmware, POOL_FIRMWARE_UEFI);
	check_int_eq(out.secure_boot, 1);
	check_int_eq(out.tpm, 1);
	check_int_eq(out.memory_mib, 4096);
	check_int_eq(out.vcpus, 2);
	check(out.os == &win11);

	in = (struct pool_hardware){ .os = &debian11, .secure_boot = -1, .tpm = -1 };
	check_ok(pool_hardware_resolve(&in, &out, NULL));
	check_int_eq(out.firmware, POOL_FIRMWARE_BIOS);
	check_int_eq(out.secure_boot, 0);
	check_int_eq(out.tpm, 0);
	check_int_eq(out.memory_mib, 1024); /* recommended */
	check_int_eq(out.vcpus, 1);         /* minimum */

	/* A TPM goes with any firmware. */
	in.tpm = 1;
	check_ok(pool_hardware_resolve(&in, &out, NULL));
	check_int_eq(out.tpm, 1);
	check_int_eq(out.firmware, POOL_FIRMWARE_BIOS);

	check_resolve_error(&(struct pool_hardware){ .os = &debian11, .firmware = POOL_FIRMWARE_BIOS, .secure_boot = 1 },
			    "secure_boot: ");
	check_resolve_error(&(struct pool_hardware){ .os = NULL, .secure_boot = 1 }, "secure_boot: ");
	check_resolve_error(&(struct pool_hardware){ .os = &win11, .firmware = POOL_FIRMWARE_BIOS, .secure_boot = -1,
						     .tpm = -1 },
			    "firmware: ");
	check_resolve_error(&(struct pool_hardware){ .os = &win11, .secure_boot = -1, .tpm = -1, .memory_mib = 2048 },
			    "memory_mib: ");
	check_resolve_error(&(struct pool_hardware){ .os = &win11, .secure_boot = -1, .tpm = -1, .vcpus = 1 },
			    "vcpus: ");
	check_resolve_error(&(struct pool_hardware){ .os = &win11, .secure_boot = 2, .tpm = -1 }, "secure_boot: ");
	check_resolve_error(&(struct pool_hardware){ .os = &win11, .secure_boot = -1, .tpm = 7 }, "tpm: ");
	{
		struct vdi_error err = { { 0 } };

		check_err(pool_hardware_resolve(&(struct pool_hardware){ .os = &win11, .secure_boot = -1, .tpm = -1,
									  .memory_mib = 2048 },
						&out, &err),
			  EINVAL);
		check_str_contains(err.message, "4096");
	}
}

static void test_firmware_names(void)
{
	enum pool_firmware f;

	check_str_eq(pool_firmware_name(POOL_FIRMWARE_AUTO), "auto");
	check_str_eq(pool_firmware_name(POOL_FIRMWARE_BIOS), "bios");
	check_str_eq(pool_firmware_name(POOL_FIRMWARE_UEFI), "uefi");
	check_ok(pool_firmware_parse("uefi", &f));
	check_int_eq(f, POOL_FIRMWARE_UEFI);
	check_ok(pool_firmware_parse("bios", &f));
	check_int_eq(f, POOL_FIRMWARE_BIOS);
	check_err(pool_firmware_parse("auto", &f), EINVAL);
	check_err(pool_firmware_parse("UEFI", &f), EINVAL);
	check_err(pool_firmware_parse(NULL, &f), EINVAL);
}

static void check_needs(const char *xml, bool uefi, bool sb, bool tpm)
{
	struct pool_hw_features n;

	check_ok(pool_domxml_needs(xml, &n));
	check_int_eq(n.uefi, uefi);
	check_int_eq(n.secure_boot, sb);
	check_int_eq(n.tpm, tpm);
}

static void test_needs(void)
{
	struct pool_hw_features n;
	char *xml;

	xml = for_hw(&win11, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);
	check_needs(xml, true, true, true);
	free(xml);
	xml = for_hw(&debian11, POOL_FIRMWARE_UEFI, 0, 0, 0, 0);
	check_needs(xml, true, false, false);
	free(xml);
	xml = for_hw(&debian11, POOL_FIRMWARE_BIOS, 0, 1, 0, 0);
	check_needs(xml, false, false, true);
	free(xml);
	xml = for_hw(NULL, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);
	check_needs(xml, false, false, false);
	free(xml);

	/* Hand-written: a chosen OVMF loader, its NVRAM. */
	check_needs("<domain><os><type>hvm</type><loader readonly='yes' type='pflash' secure='yes'>"
		    "/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'/>"
		    "</os><devices><tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm></devices></domain>",
		    true, true, true);
	check_needs("<domain><os><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"
		    "</os></domain>",
		    true, false, false);
	check_needs("<domain><os firmware='efi'><firmware><feature enabled='no' name='secure-boot'/></firmware></os>"
		    "</domain>",
		    true, false, false);
	check_needs("<domain><os><type>hvm</type></os><devices/></domain>", false, false, false);
	/* secure='yes' on a BIOS is no UEFI. */
	check_needs("<domain><os><loader type='rom' secure='yes'/></os></domain>", false, false, false);

	check_err(pool_domxml_needs("<pool/>", &n), EINVAL);
	check_err(pool_domxml_needs("<domain", &n), EINVAL);
	check_err(pool_domxml_needs("", &n), EINVAL);
	check_err(pool_domxml_needs(NULL, &n), EINVAL);
}

static const char usb_template[] =
	"<domain type='kvm'><name>t</name><memory unit='MiB'>512</memory><os><type>hvm</type></os><devices>"
	"<redirdev bus='usb' type='spicevmc'/><redirdev bus='usb' type='spicevmc'/><redirdev bus='usb' type='spicevmc'/>"
	"</devices></domain>";

static void test_clone_usb_redirect(void)
{
	struct pool_domxml_params p = clone_params();
	struct vdi_error err = { { 0 } };
	char *xml;

	xml = clone_of(usb_template, &p);
	XP_EQ(xml, "count(/domain/devices/redirdev)", "3");
	free(xml);
	p.usb_redirect = 2;
	xml = clone_of(usb_template, &p);
	XP_EQ(xml, "count(/domain/devices/redirdev[@bus='usb' and @type='spicevmc'])", "2");
	XP_EQ(xml, "count(/domain/devices/redirdev)", "2");
	/* A domain without a USB controller gets one for its channels (libvirt's test driver adds none). */
	XP_EQ(xml, "count(/domain/devices/controller[@type='usb' and @model='qemu-xhci'])", "1");
	free(xml);
	xml = clone_of("<domain><memory>1</memory><os/><devices><controller type='usb' model='ich9-ehci1'/>"
		       "</devices></domain>", &p);
	XP_EQ(xml, "count(/domain/devices/controller[@type='usb'])", "1");
	XP_EQ(xml, "count(/domain/devices/controller[@model='ich9-ehci1'])", "1");
	free(xml);
	p.usb_redirect = 0;
	xml = clone_of(usb_template, &p);
	XP_NONE(xml, "/domain/devices/redirdev");
	XP_NONE(xml, "/domain/devices/controller");
	free(xml);
	p.usb_redirect = POOL_USB_REDIRECT_MAX;
	xml = clone_of("<domain><memory>1</memory><os/></domain>", &p);
	XP_EQ(xml, "count(/domain/devices/redirdev)", "8");
	free(xml);

	xml = NULL;
	p.usb_redirect = POOL_USB_REDIRECT_MAX + 1;
	check_err(pool_domxml_for_clone(usb_template, &p, &xml, &err), EINVAL);
	check_str_contains(err.message, "usb_redirect");
	p.usb_redirect = -2;
	check_err(pool_domxml_for_clone(usb_template, &p, &xml, NULL), EINVAL);
	check(!xml);
}

/* A template's heads: its clones' qxl video gets that many monitors and the memory for them (never less than
 * the template gives), a virtio one the monitors; 1 leaves the video as the template has it; other models
 * and out-of-range counts are refused, by the check the broker runs when a template is added too. */
static void test_clone_heads(void)
{
	static const char qxl[] =
		"<domain><memory>1</memory><os/><devices><video><model type='qxl' heads='1'/></video></devices></domain>";
	static const char big[] =
		"<domain><memory>1</memory><os/><devices><video><model type='qxl' ram='524288' vgamem='131072'/>"
		"</video></devices></domain>";
	static const char virtio[] =
		"<domain><memory>1</memory><os/><devices><video><model type='virtio'/></video></devices></domain>";
	static const char vga[] =
		"<domain><memory>1</memory><os/><devices><video><model type='vga'/></video></devices></domain>";
	struct pool_domxml_params p = clone_params();
	struct vdi_error err = { { 0 } };
	char *xml;

	xml = clone_of(qxl, &p);
	XP_EQ(xml, "/domain/devices/video/model/@heads", "1");
	XP_NONE(xml, "/domain/devices/video/model/@vgamem");
	free(xml);
	p.heads = 2;
	xml = clone_of(qxl, &p);
	XP_EQ(xml, "/domain/devices/video/model/@heads", "2");
	XP_EQ(xml, "/domain/devices/video/model/@vgamem", "32768");
	XP_EQ(xml, "/domain/devices/video/model/@ram", "131072");
	XP_EQ(xml, "/domain/devices/video/model/@vram", "65536");
	free(xml);
	p.heads = 3;
	xml = clone_of(qxl, &p);
	XP_EQ(xml, "/domain/devices/video/model/@vgamem", "65536");
	XP_EQ(xml, "/domain/devices/video/model/@ram", "262144");
	free(xml);
	/* The template's own larger memory stays. */
	p.heads = POOL_HEADS_MAX;
	xml = clone_of(big, &p);
	XP_EQ(xml, "/domain/devices/video/model/@heads", "4");
	XP_EQ(xml, "/domain/devices/video/model/@vgamem", "131072");
	XP_EQ(xml, "/domain/devices/video/model/@ram", "524288");
	free(xml);
	/* A template without video gets qxl with its SPICE display, and the monitors. */
	p.heads = 2;
	xml = clone_of("<domain><memory>1</memory><os/></domain>", &p);
	XP_EQ(xml, "/domain/devices/video/model/@type", "qxl");
	XP_EQ(xml, "/domain/devices/video/model/@heads", "2");
	free(xml);
	xml = clone_of(virtio, &p);
	XP_EQ(xml, "/domain/devices/video/model/@heads", "2");
	XP_NONE(xml, "/domain/devices/video/model/@vgamem");
	free(xml);
	xml = NULL;
	check_err(pool_domxml_for_clone(vga, &p, &xml, &err), EINVAL);
	check_str_contains(err.message, "heads");
	p.heads = POOL_HEADS_MAX + 1;
	check_err(pool_domxml_for_clone(qxl, &p, &xml, NULL), EINVAL);
	check(!xml);

	/* The check at template add. */
	check_ok(pool_domxml_heads_check(qxl, 2, NULL));
	check_ok(pool_domxml_heads_check(virtio, POOL_HEADS_MAX, NULL));
	check_ok(pool_domxml_heads_check("<domain><memory>1</memory><os/></domain>", 2, NULL));
	check_ok(pool_domxml_heads_check(vga, 1, NULL));
	check_err(pool_domxml_heads_check(vga, 2, &err), EINVAL);
	check_str_contains(err.message, "heads: the template's video is \"vga\"");
	check_err(pool_domxml_heads_check(qxl, 0, &err), EINVAL);
	check_str_contains(err.message, "heads: 0 is outside 1-4");
	check_err(pool_domxml_heads_check(qxl, POOL_HEADS_MAX + 1, NULL), EINVAL);
	check_err(pool_domxml_heads_check("<nodomain/>", 2, NULL), EINVAL);
}

/* A template without SPICE devices gets them; one with its own keeps them, not doubled. */
static void test_clone_spice_devices(void)
{
	static const char own[] =
		"<domain type='kvm'><name>t</name><memory unit='MiB'>512</memory><os><type>hvm</type></os><devices>"
		"<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>"
		"<channel type='unix'><source mode='bind' path='/x/ga.sock'/>"
		"<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
		"<channel type='pty'><target type='virtio' name='org.example.other'/></channel>"
		"<sound model='ac97'/><audio id='1' type='none'/><video><model type='virtio'/></video>"
		"</devices></domain>";
	struct pool_domxml_params p = clone_params();
	_cleanup_free_ char *bare = clone_of("<domain><memory>1</memory><os/></domain>", &p);
	_cleanup_free_ char *kept = clone_of(own, &p);
	_cleanup_free_ char *tmpl = for_hw(&win11, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);
	_cleanup_free_ char *gen = clone_of(tmpl, &p);
	_cleanup_free_ char *again = clone_of(gen, &p);
	const char *const all[] = { bare, gen, again };

	for (size_t i = 0; i < ELEMENTSOF(all); i++) {
		XP_ONE(all[i], "/domain/devices/channel[@type='spicevmc']/target[@type='virtio' and "
			       "@name='com.redhat.spice.0']");
		XP_ONE(all[i], "/domain/devices/channel[@type='unix']/target[@type='virtio' and "
			       "@name='org.qemu.guest_agent.0']");
		XP_ONE(all[i], "/domain/devices/sound[@model='ich9']");
		XP_ONE(all[i], "/domain/devices/audio[@id='1' and @type='spice']");
		XP_ONE(all[i], "/domain/devices/graphics[@type='spice']");
		XP_ONE(all[i], "/domain/devices/video");
	}
	XP_EQ(kept, "count(/domain/devices/channel)", "3");
	XP_EQ(kept, "/domain/devices/channel[target/@name='org.qemu.guest_agent.0']/source/@path", "/x/ga.sock");
	XP_ONE(kept, "/domain/devices/sound");
	XP_EQ(kept, "/domain/devices/sound/@model", "ac97");
	XP_ONE(kept, "/domain/devices/audio");
	XP_EQ(kept, "/domain/devices/audio/@type", "none");
	XP_EQ(kept, "/domain/devices/video/model/@type", "virtio");

	/* The generated template's devices come through as they are. */
	check_uefi_sb_tpm(gen);
	check_hyperv(gen, true);
	XP_EQ(gen, "/domain/devices/disk/source/@file", "/images/vdi-hw-1.qcow2");
	XP_ONE(gen, "/domain/metadata/vdihw:hardware");
	XP_ONE(gen, "/domain/metadata/vdi:desktop");
	XP_ONE(again, "/domain/metadata/vdihw:hardware");
}

/* Under TCG (domain type qemu) QEMU refuses the Hyper-V enlightenments: they go, the rest stays. */
static void test_clone_hyperv_on_tcg(void)
{
	_cleanup_free_ char *tmpl = for_hw(&win11, POOL_FIRMWARE_AUTO, -1, -1, 0, 0);
	struct pool_domxml_params p = clone_params();
	_cleanup_free_ char *kvm = clone_of(tmpl, &p), *tcg = NULL;

	check_hyperv(kvm, true);
	p.virt_type = "qemu";
	tcg = clone_of(tmpl, &p);
	XP_EQ(tcg, "/domain/@type", "qemu");
	XP_NONE(tcg, "/domain/features/hyperv");
	XP_NONE(tcg, "/domain/clock/timer[@name='hypervclock']");
	XP_EQ(tcg, "/domain/clock/@offset", "localtime");
	XP_EQ(tcg, "count(/domain/clock/timer)", "3");
	XP_ONE(tcg, "/domain/features/smm");
	XP_ONE(tcg, "/domain/features/acpi");
}

static void test_clone_nvram(void)
{
	static const char with_path[] =
		"<domain><memory>1</memory><os><type>hvm</type>"
		"<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>"
		"<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd' format='raw'>/var/lib/libvirt/qemu/nvram/"
		"golden_VARS.fd</nvram></os></domain>";
	static const char no_template[] =
		"<domain><memory>1</memory><os><type>hvm</type>"
		"<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"
		"<nvram>/var/lib/libvirt/qemu/nvram/golden_VARS.fd</nvram></os></domain>";
	struct pool_domxml_params p = clone_params();
	_cleanup_free_ char *a = clone_of(with_path, &p), *b = clone_of(no_template, &p);

	XP_ONE(a, "/domain/os/nvram");
	XP_EQ(a, "/domain/os/nvram/@template", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
	XP_EQ(a, "string(/domain/os/nvram)", "");
	XP_EQ(a, "count(/domain/os/nvram/@*)", "1");
	XP_EQ(a, "/domain/os/loader", "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
	XP_NONE(b, "/domain/os/nvram");
	XP_ONE(b, "/domain/os/loader");
}

static void test_check_template_tpm(void)
{
	struct vdi_error err = { { 0 } };
	char *xml = NULL;

	check_err(pool_domxml_check_template("<domain><memory>1</memory><os/><devices><tpm model='tpm-tis'>"
					     "<backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>"
					     "</devices></domain>",
					     0, 0, &xml, &err),
		  EINVAL);
	check_str_contains(err.message, "shared by every desktop");
	check(!xml);
	err = (struct vdi_error){ { 0 } };
	check_err(pool_domxml_check_template("<domain><memory>1</memory><os/><devices>"
					     "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
					     "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
					     "</devices></domain>",
					     0, 0, &xml, &err),
		  EINVAL);
	check_str_contains(err.message, "more than one");
	check_err(pool_domxml_check_template("<domain><memory>1</memory><os/><devices><tpm model='tpm-crb'/>"
					     "</devices></domain>",
					     0, 0, &xml, NULL),
		  EINVAL);
	check_ok(pool_domxml_check_template("<domain><memory>1</memory><os/><devices><tpm model='tpm-crb'>"
					    "<backend type='emulator' version='2.0'/></tpm></devices></domain>",
					    0, 0, &xml, NULL));
	free(xml);
}

static void ignore_libvirt_error(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

/* libvirt's schema (checked in this process by the test driver) takes a clone of each generated template. */
static void test_schema(void)
{
	const struct pool_os_profile *const oses[] = { &win11, &win10, &debian11, &oldos, NULL };
	virConnectPtr conn;

	virSetErrorFunc(NULL, ignore_libvirt_error);
	conn = virConnectOpen("test:///default");
	if (!conn)
		vdi_test_skip("no libvirt test driver");
	for (size_t i = 0; i < ELEMENTSOF(oses); i++) {
		bool old = oses[i] == &oldos;
		_cleanup_free_ char *tmpl = for_hw(oses[i], old ? POOL_FIRMWARE_BIOS : POOL_FIRMWARE_UEFI,
						   old ? 0 : 1, 1, 0, 0);
		struct pool_nic nic = { .kind = POOL_NIC_USER };
		struct pool_domxml_params p = clone_params();
		_cleanup_free_ char *xml = NULL;
		virDomainPtr dom;

		p.nic = &nic;
		p.usb_redirect = 2;
		/* The test driver adds no default USB controller to q35 (QEMU's adds qemu-xhci): the clone's own
		 * makes its redirdevs valid. */
		xml = clone_of(tmpl, &p);
		dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
		if (!dom)
			vdi_test_fail(__FILE__, __LINE__, "%s: %s", oses[i] ? oses[i]->id : "generic",
				      virGetLastErrorMessage());
		check_ok(virDomainUndefine(dom)); /* the test driver keeps no NVRAM or TPM state */
		virDomainFree(dom);
	}
	virConnectClose(conn);
}

/* A stopped desktop's channels follow its pool's count (pool_desktop_set_usb_redirect's XML), with the clone's rules. */
static void test_set_usb_redirect(void)
{
	struct vdi_error err = { { 0 } };
	char *xml = NULL;

	check_ok(pool_domxml_set_usb_redirect(usb_template, 1, &xml, NULL));
	XP_EQ(xml, "count(/domain/devices/redirdev[@bus='usb' and @type='spicevmc'])", "1");
	XP_EQ(xml, "count(/domain/devices/controller[@type='usb'])", "1");
	free(xml);
	check_ok(pool_domxml_set_usb_redirect(usb_template, 0, &xml, NULL));
	XP_NONE(xml, "/domain/devices/redirdev");
	free(xml);
	/* A template that says "no USB" (controller model none) gets no channels, which libvirt would refuse. */
	check_ok(pool_domxml_set_usb_redirect("<domain><memory>1</memory><os/><devices><controller type='usb' "
					      "model='none'/><redirdev bus='usb' type='spicevmc'/></devices></domain>",
					      2, &xml, NULL));
	XP_NONE(xml, "/domain/devices/redirdev");
	XP_EQ(xml, "/domain/devices/controller/@model", "none");
	free(xml);
	xml = NULL;
	check_err(pool_domxml_set_usb_redirect(usb_template, POOL_USB_REDIRECT_MAX + 1, &xml, &err), EINVAL);
	check_str_contains(err.message, "usb_redirect");
	check(!xml);
}

/* A writable pflash loader would hold every clone's EFI variables: refused; a read-only one with an NVRAM
 * template, and firmware autoselection, are fine. */
static void test_check_template_loader(void)
{
	struct vdi_error err = { { 0 } };
	char *xml = NULL;

	check_err(pool_domxml_check_template("<domain><memory>1</memory><os><loader type='pflash'>/usr/share/ovmf/"
					     "OVMF.fd</loader></os></domain>", 0, 0, &xml, &err), EINVAL);
	check_str_contains(err.message, "writable pflash <loader>");
	check(!xml);
	check_err(pool_domxml_check_template("<domain><memory>1</memory><os><loader type='pflash' readonly='no'>"
					     "/x.fd</loader></os></domain>", 0, 0, &xml, NULL), EINVAL);
	check_ok(pool_domxml_check_template("<domain><memory>1</memory><os><loader type='pflash' readonly='yes'>"
					    "/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader><nvram template='/usr/share/OVMF/"
					    "OVMF_VARS_4M.ms.fd'/></os></domain>", 0, 0, &xml, NULL));
	free(xml);
	check_ok(pool_domxml_check_template("<domain><memory>1</memory><os firmware='efi'/></domain>", 0, 0, &xml,
					    NULL));
	free(xml);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_firmware_names),
	VDI_TEST(test_resolve),
	VDI_TEST(test_win11),
	VDI_TEST(test_win10),
	VDI_TEST(test_debian11),
	VDI_TEST(test_generic_and_old_os),
	VDI_TEST(test_nic_model),
	VDI_TEST(test_needs),
	VDI_TEST(test_clone_usb_redirect),
	VDI_TEST(test_clone_heads),
	VDI_TEST(test_clone_spice_devices),
	VDI_TEST(test_clone_hyperv_on_tcg),
	VDI_TEST(test_clone_nvram),
	VDI_TEST(test_check_template_tpm),
	VDI_TEST(test_schema),
	VDI_TEST(test_set_usb_redirect),
	VDI_TEST(test_check_template_loader),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
