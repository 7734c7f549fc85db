/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A template's hardware: what an OS profile and an admin's choices (firmware, Secure Boot, TPM, memory, vCPUs)
 * decide, the domain XML a template gets from them, and what a domain XML asks of its host.  Pure: no I/O,
 * no libvirt calls.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "alloc.h"
#include "private.h"

#define DEFAULT_MEMORY_MIB 2048
#define DEFAULT_VCPUS 2
#define HWXML_MAX (1024 * 1024)

const char *pool_firmware_name(enum pool_firmware f)
{
	return f == POOL_FIRMWARE_BIOS ? "bios" : f == POOL_FIRMWARE_UEFI ? "uefi" : "auto";
}

int pool_firmware_parse(const char *s, enum pool_firmware *ret)
{
	if (s && streq(s, "bios"))
		*ret = POOL_FIRMWARE_BIOS;
	else if (s && streq(s, "uefi"))
		*ret = POOL_FIRMWARE_UEFI;
	else
		return -EINVAL;
	return 0;
}

/* ---- resolving ------------------------------------------------------------------ */

static const char *os_name(const struct pool_os_profile *os)
{
	return os->name[0] ? os->name : os->id;
}

/* -1: def; 0, 1 as they are; anything else -EINVAL naming field. */
static int resolve_flag(int v, bool def, const char *field, int *ret, struct vdi_error *err)
{
	if (v < -1 || v > 1)
		return vdi_error_set(err, -EINVAL, "%s: %d is not -1 (the OS's default), 0 or 1", field, v);
	*ret = v == -1 ? def : v;
	return 0;
}

static int resolve_firmware(const struct pool_hardware *in, struct pool_hardware *out, struct vdi_error *err)
{
	bool required = in->os && in->os->uefi_required;
	int r;

	switch (in->firmware) {
	case POOL_FIRMWARE_AUTO:
		out->firmware = required ? POOL_FIRMWARE_UEFI : POOL_FIRMWARE_BIOS;
		break;
	case POOL_FIRMWARE_BIOS:
		if (required)
			return vdi_error_set(err, -EINVAL, "firmware: %s needs UEFI (osinfo-db: BIOS not supported)",
					      os_name(in->os));
		break;
	case POOL_FIRMWARE_UEFI:
		break;
	default:
		return vdi_error_set(err, -EINVAL, "firmware: unknown firmware %d", (int)in->firmware);
	}
	r = resolve_flag(in->secure_boot, required, "secure_boot", &out->secure_boot, err);
	if (r < 0)
		return r;
	if (out->secure_boot && out->firmware != POOL_FIRMWARE_UEFI)
		return vdi_error_set(err, -EINVAL, "secure_boot: Secure Boot needs UEFI firmware (firmware is bios)");
	return resolve_flag(in->tpm, required, "tpm", &out->tpm, err);
}

/* *v 0: rec, else min, else def; below min: -EINVAL naming field. */
static int resolve_amount(unsigned *v, unsigned min, unsigned rec, unsigned def, const char *field,
			  const struct pool_os_profile *os, const char *unit, struct vdi_error *err)
{
	if (*v == 0)
		*v = rec ? rec : min ? min : def;
	if (*v < min)
		return vdi_error_set(err, -EINVAL, "%s: %s needs at least %u%s (osinfo-db's minimum), not %u", field,
				      os_name(os), min, unit, *v);
	return 0;
}

int pool_hardware_resolve(const struct pool_hardware *in, struct pool_hardware *out, struct vdi_error *err)
{
	const struct pool_os_profile *os = in->os;
	struct pool_hardware hw = *in;
	int r;

	r = resolve_firmware(in, &hw, err);
	if (r < 0)
		return r;
	if (os) {
		r = resolve_amount(&hw.memory_mib, os->min_memory_mib, os->rec_memory_mib, DEFAULT_MEMORY_MIB,
				   "memory_mib", os, " MiB", err);
		if (r >= 0)
			r = resolve_amount(&hw.vcpus, os->min_vcpus, os->rec_vcpus, DEFAULT_VCPUS, "vcpus", os,
					   " vCPUs", err);
		if (r < 0)
			return r;
	} else {
		hw.memory_mib = hw.memory_mib ? hw.memory_mib : DEFAULT_MEMORY_MIB;
		hw.vcpus = hw.vcpus ? hw.vcpus : DEFAULT_VCPUS;
	}
	*out = hw;
	return 0;
}

/* ---- the template's XML ----------------------------------------------------------- */

/* What the XML is made of: the resolved hardware and the models it picks (static strings). */
struct hwxml {
	const struct pool_hardware *hw;
	bool windows;
	const char *disk_bus, *nic_model, *video, *sound;
	bool ok; /* false once an allocation failed */
};

/* A new child name of parent with text (NULL: none) and the attribute pairs of attrs (NULL-terminated). */
static xmlNode *el(struct hwxml *x, xmlNode *parent, const char *name, const char *text, const char *const *attrs)
{
	xmlNode *n = parent ? xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text) : NULL;

	for (size_t i = 0; n && attrs && attrs[i]; i += 2)
		if (!pool_xml_set(n, attrs[i], attrs[i + 1]))
			n = NULL;
	if (!n)
		x->ok = false;
	return n;
}

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void add_metadata(struct hwxml *x, xmlNode *root)
{
	xmlNode *md = el(x, root, "metadata", NULL, NULL);
	xmlNode *h = el(x, md, "hardware", NULL, A("nic-model", x->nic_model));
	xmlNs *ns = h ? xmlNewNs(h, (const xmlChar *)POOL_HARDWARE_NS, (const xmlChar *)POOL_HARDWARE_PREFIX) : NULL;

	if (!ns || (x->hw->os && !pool_xml_set(h, "os", x->hw->os->id))) {
		x->ok = false;
		return;
	}
	xmlSetNs(h, ns);
}

static void add_os(struct hwxml *x, xmlNode *root)
{
	bool uefi = x->hw->firmware == POOL_FIRMWARE_UEFI;
	const char *sb = x->hw->secure_boot ? "yes" : "no";
	xmlNode *os = el(x, root, "os", NULL, uefi ? A("firmware", "efi") : NULL), *fw;

	el(x, os, "type", "hvm", A("arch", "x86_64", "machine", "q35"));
	if (uefi) {
		/* libvirt's firmware autoselection: OVMF (with Microsoft's keys enrolled for Secure Boot). */
		fw = el(x, os, "firmware", NULL, NULL);
		el(x, fw, "feature", NULL, A("enabled", sb, "name", "secure-boot"));
		el(x, fw, "feature", NULL, A("enabled", sb, "name", "enrolled-keys"));
	}
	el(x, os, "boot", NULL, A("dev", "hd"));
}

static void add_hyperv(struct hwxml *x, xmlNode *features)
{
	static const char *const on[] = { "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic",
					  "stimer", "reset", "frequencies", "tlbflush", "ipi" };
	xmlNode *hv = el(x, features, "hyperv", NULL, A("mode", "custom"));

	for (size_t i = 0; i < ELEMENTSOF(on); i++)
		el(x, hv, on[i], NULL,
		   streq(on[i], "spinlocks") ? A("state", "on", "retries", "8191") : A("state", "on"));
}

static void add_features_and_clock(struct hwxml *x, xmlNode *root)
{
	xmlNode *features = el(x, root, "features", NULL, NULL), *clock;

	el(x, features, "acpi", NULL, NULL);
	el(x, features, "apic", NULL, NULL);
	if (x->windows)
		add_hyperv(x, features);
	if (x->hw->secure_boot)
		el(x, features, "smm", NULL, A("state", "on"));
	el(x, root, "cpu", NULL, A("mode", "host-model"));

	clock = el(x, root, "clock", NULL, A("offset", x->windows ? "localtime" : "utc"));
	el(x, clock, "timer", NULL, A("name", "rtc", "tickpolicy", "catchup"));
	el(x, clock, "timer", NULL, A("name", "pit", "tickpolicy", "delay"));
	el(x, clock, "timer", NULL, A("name", "hpet", "present", "no"));
	if (x->windows)
		el(x, clock, "timer", NULL, A("name", "hypervclock", "present", "yes"));

	el(x, root, "on_poweroff", "destroy", NULL);
	el(x, root, "on_reboot", "restart", NULL);
	el(x, root, "on_crash", "destroy", NULL);
}

static void add_channel(struct hwxml *x, xmlNode *devices, const char *type, const char *name)
{
	el(x, el(x, devices, "channel", NULL, A("type", type)), "target", NULL, A("type", "virtio", "name", name));
}

static void add_devices(struct hwxml *x, xmlNode *root)
{
	xmlNode *devices = el(x, root, "devices", NULL, NULL), *disk, *tpm, *g;
	bool virtio = streq(x->disk_bus, "virtio");

	/* The system disk's source is the clone's overlay (pool_domxml_for_clone() sets it). */
	disk = el(x, devices, "disk", NULL, A("type", "file", "device", "disk"));
	el(x, disk, "driver", NULL, A("name", "qemu", "type", "qcow2"));
	el(x, disk, "source", NULL, A("file", "/dev/null"));
	el(x, disk, "target", NULL, A("dev", virtio ? "vda" : "sda", "bus", x->disk_bus));

	el(x, el(x, devices, "serial", NULL, A("type", "pty")), "target", NULL, A("port", "0"));
	el(x, el(x, devices, "console", NULL, A("type", "pty")), "target", NULL, A("type", "serial", "port", "0"));
	add_channel(x, devices, "spicevmc", "com.redhat.spice.0");
	add_channel(x, devices, "unix", "org.qemu.guest_agent.0");
	el(x, devices, "input", NULL, A("type", "tablet", "bus", "usb"));
	if (x->hw->tpm) {
		tpm = el(x, devices, "tpm", NULL, A("model", "tpm-crb"));
		el(x, tpm, "backend", NULL, A("type", "emulator", "version", "2.0"));
	}
	/* Clones get their own SPICE display; this one makes the template definable as it is (to install its
	 * OS), on this machine only. */
	g = el(x, devices, "graphics", NULL, A("type", "spice", "autoport", "yes"));
	el(x, g, "listen", NULL, A("type", "address", "address", "127.0.0.1"));
	el(x, devices, "sound", NULL, A("model", x->sound));
	el(x, devices, "audio", NULL, A("id", "1", "type", "spice"));
	el(x, el(x, devices, "video", NULL, NULL), "model", NULL, A("type", x->video));
	el(x, devices, "memballoon", NULL, A("model", "virtio"));
}

static int build(struct hwxml *x, xmlDocPtr doc)
{
	xmlNode *root = xmlNewDocNode(doc, NULL, (const xmlChar *)"domain", NULL);
	char mem[16], cpus[16];

	if (!root)
		return -ENOMEM;
	xmlDocSetRootElement(doc, root);
	snprintf(mem, sizeof(mem), "%u", x->hw->memory_mib);
	snprintf(cpus, sizeof(cpus), "%u", x->hw->vcpus);
	x->ok = pool_xml_set(root, "type", "kvm");
	el(x, root, "name", "template", NULL);
	add_metadata(x, root);
	el(x, root, "memory", mem, A("unit", "MiB"));
	el(x, root, "vcpu", cpus, NULL);
	add_os(x, root);
	add_features_and_clock(x, root);
	add_devices(x, root);
	return x->ok ? 0 : -ENOMEM;
}

int pool_domxml_for_hardware(const struct pool_hardware *hw, char **ret, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	const struct pool_os_profile *os = hw->os;
	struct pool_hardware r_hw;
	struct hwxml x = { .hw = &r_hw };
	xmlChar *mem = NULL;
	int len = 0, r;

	r = pool_hardware_resolve(hw, &r_hw, err);
	if (r < 0)
		return r;
	x.windows = os && os->windows;
	x.disk_bus = os && os->disk_bus ? os->disk_bus : "virtio";
	x.nic_model = os && os->nic_model ? os->nic_model : "virtio";
	x.video = os && os->video ? os->video : "qxl";
	x.sound = os && os->sound ? os->sound : "ich9";
	doc = xmlNewDoc((const xmlChar *)"1.0");
	if (!doc || build(&x, doc) < 0)
		return vdi_error_set(err, -ENOMEM, "out of memory");
	xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
	if (!mem)
		return vdi_error_set(err, -ENOMEM, "out of memory");
	/* The same checks (and the same form) as an admin's XML. */
	r = pool_domxml_check_template((const char *)mem, 0, 0, ret, err);
	xmlFree(mem);
	return r;
}

/* ---- what a domain asks of its host --------------------------------------------------- */

/* Whether os's <firmware> has feature name enabled. */
static bool firmware_feature(xmlNode *os, const char *name)
{
	xmlNode *fw = pool_xml_child(os, "firmware");

	for (xmlNode *f = fw ? fw->children : NULL; f; f = f->next)
		if (pool_xml_is_elem(f, "feature") && pool_xml_prop_is(f, "name", name) &&
		    pool_xml_prop_is(f, "enabled", "yes"))
			return true;
	return false;
}

int pool_domxml_needs(const char *xml, struct pool_hw_features *ret)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root, *os, *loader;
	size_t len = xml ? strlen(xml) : 0;

	*ret = (struct pool_hw_features){ 0 };
	if (len == 0 || len > HWXML_MAX)
		return -EINVAL;
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!pool_xml_is_elem(root, "domain"))
		return -EINVAL;
	os = pool_xml_child(root, "os");
	loader = pool_xml_child(os, "loader");
	/* Autoselected (firmware='efi'), or a hand-picked pflash loader / NVRAM: OVMF either way. */
	ret->uefi = pool_xml_prop_is(os, "firmware", "efi") || pool_xml_prop_is(loader, "type", "pflash") ||
		    pool_xml_child(os, "nvram");
	ret->secure_boot = ret->uefi && (firmware_feature(os, "secure-boot") || pool_xml_prop_is(loader, "secure", "yes"));
	ret->tpm = pool_xml_child(pool_xml_child(root, "devices"), "tpm") != NULL;
	return 0;
}
