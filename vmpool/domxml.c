/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "alloc.h"
#include "private.h"
#include "random.h"

/* Replaces the content of n with text (escaped on output, never parsed). */
static int set_text(xmlNode *n, const char *text)
{
	xmlNode *t;

	if (!n)
		return -ENOMEM;
	while (n->children) {
		xmlNode *c = n->children;

		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	t = xmlNewText((const xmlChar *)text);
	if (!t)
		return -ENOMEM;
	xmlAddChild(n, t);
	return 0;
}

static int set_prop(xmlNode *n, const char *name, const char *value)
{
	return n && xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)value) ? 0 : -ENOMEM;
}

/* A <disk device='disk'> or a <disk> without device (libvirt's default). */
static bool is_disk_device(xmlNode *n)
{
	_cleanup_free_ char *device = NULL;

	if (!pool_xml_is_elem(n, "disk"))
		return false;
	device = pool_xml_prop(n, "device");
	return !device || streq(device, "disk");
}

/* Whether disk n's source file is path, or (path NULL) has a data disk's name. */
static bool disk_source_is(xmlNode *n, const char *path)
{
	xmlNode *src = pool_xml_child(n, "source");
	_cleanup_free_ char *file = src ? pool_xml_prop(src, "file") : NULL;
	const char *slash;

	if (!file)
		return false;
	if (path)
		return streq(file, path);
	slash = strrchr(file, '/');
	return pool_data_disk_name_is_ours(slash ? slash + 1 : file);
}

/* A system disk: a disk device that is not a user data disk (one whose source has a data disk's name). */
bool pool_domxml_is_system_disk(xmlNode *n)
{
	return is_disk_device(n) && !disk_source_is(n, NULL);
}

static int count_system_disks(xmlNode *devices)
{
	int n = 0;

	for (xmlNode *d = devices->children; d; d = d->next)
		if (pool_domxml_is_system_disk(d))
			n++;
	return n;
}

/* At most one TPM, an emulated one: each clone gets its own swtpm state, a host's TPM would be shared. */
static int check_tpm(xmlNode *devices, struct vdi_error *err)
{
	int n = 0;

	for (xmlNode *d = devices->children; d; d = d->next) {
		xmlNode *backend = pool_xml_child(d, "backend");
		_cleanup_free_ char *type = NULL;

		if (!pool_xml_is_elem(d, "tpm"))
			continue;
		if (++n > 1)
			return vdi_error_set(err, -EINVAL, "domain XML has more than one <tpm>; a desktop has one TPM");
		type = pool_xml_prop(backend, "type");
		if (!type || !streq(type, "emulator"))
			return vdi_error_set(err, -EINVAL,
					      "domain XML has a TPM with backend '%s': a passthrough TPM would be shared by "
					      "every desktop; use <backend type='emulator' version='2.0'/>",
					      type ? type : "(none)");
	}
	return 0;
}

/* A firmware image of its own for every desktop: a pflash <loader> must be read-only (its variables then live in
 * the per-desktop NVRAM libvirt makes from <nvram template=...>); a writable one would be every clone's NVRAM. */
static int check_loader(xmlNode *root, struct vdi_error *err)
{
	xmlNode *loader = pool_xml_child(pool_xml_child(root, "os"), "loader");

	if (!loader || !pool_xml_prop_is(loader, "type", "pflash") || pool_xml_prop_is(loader, "readonly", "yes"))
		return 0;
	return vdi_error_set(err, -EINVAL,
			      "domain XML has a writable pflash <loader>: every desktop would share its EFI variables; "
			      "use readonly='yes' with an OVMF_CODE image and <nvram template='...'/> (or <os firmware='efi'>)");
}

int pool_domxml_check_template(const char *xml, unsigned memory_mib, unsigned vcpus, char **ret,
			       struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root, *devices;
	char num[32];
	int r, disks;

	r = pool_xml_parse_domain(xml, &doc, &devices, err);
	if (r < 0)
		return r;
	root = xmlDocGetRootElement(doc);

	disks = count_system_disks(devices);
	if (disks > 1)
		return vdi_error_set(err, -EINVAL,
				      "domain XML has %d disks; a template has one system disk (its clones' overlay)", disks);
	r = check_tpm(devices, err);
	if (r >= 0)
		r = check_loader(root, err);
	if (r < 0)
		return r;

	if (memory_mib > 0) {
		xmlNode *mem;

		snprintf(num, sizeof(num), "%u", memory_mib);
		pool_xml_remove_children(root, "currentMemory");
		mem = pool_xml_ensure_child(root, "memory");
		if (set_text(mem, num) < 0 || set_prop(mem, "unit", "MiB") < 0)
			return -ENOMEM;
	} else if (!pool_xml_child(root, "memory")) {
		return vdi_error_set(err, -EINVAL, "domain XML has no <memory>");
	}
	if (vcpus > 0) {
		snprintf(num, sizeof(num), "%u", vcpus);
		if (set_text(pool_xml_ensure_child(root, "vcpu"), num) < 0)
			return -ENOMEM;
	}
	if (!pool_xml_child(root, "os"))
		return vdi_error_set(err, -EINVAL, "domain XML has no <os>");

	return pool_xml_dump(doc, ret);
}

int pool_domxml_default(unsigned memory_mib, unsigned vcpus, char **ret, struct vdi_error *err)
{
	static const char default_xml[] =
		"<domain type='kvm'>"
		"<name>template</name>"
		"<memory unit='MiB'>2048</memory>"
		"<vcpu>2</vcpu>"
		"<os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>"
		"<features><acpi/><apic/></features>"
		"<cpu mode='host-model'/>"
		"<clock offset='utc'/>"
		"<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>"
		"<devices>"
		"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/dev/null'/>"
		"<target dev='vda' bus='virtio'/></disk>"
		"<input type='tablet' bus='usb'/>"
		"<video><model type='qxl'/></video>"
		"<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>"
		"<memballoon model='virtio'/>"
		"</devices>"
		"</domain>";

	return pool_domxml_check_template(default_xml, memory_mib ? memory_mib : 2048, vcpus ? vcpus : 2, ret, err);
}

static int set_metadata(xmlNode *root, const struct pool_domxml_params *p)
{
	xmlNode *md = pool_xml_ensure_child(root, "metadata"), *n, *desk;
	char id[32];
	xmlNs *ns;

	if (!md)
		return -ENOMEM;
	/* Drop any earlier vdi element (a template made from one of our own domains). */
	n = md->children;
	while (n) {
		xmlNode *next = n->next;

		if (n->type == XML_ELEMENT_NODE && n->ns && xmlStrcmp(n->ns->href, (const xmlChar *)POOL_METADATA_NS) == 0)
			pool_xml_remove(n);
		n = next;
	}

	desk = xmlNewChild(md, NULL, (const xmlChar *)"desktop", NULL);
	if (!desk)
		return -ENOMEM;
	ns = xmlNewNs(desk, (const xmlChar *)POOL_METADATA_NS, (const xmlChar *)POOL_METADATA_PREFIX);
	if (!ns)
		return -ENOMEM;
	xmlSetNs(desk, ns);
	snprintf(id, sizeof(id), "%" PRId64, p->desktop_id);
	if (set_prop(desk, "pool", p->pool) < 0 || set_prop(desk, "id", id) < 0 ||
	    set_prop(desk, "template", p->template_name) < 0)
		return -ENOMEM;
	return 0;
}

static int set_system_disk(xmlNode *devices, const char *path)
{
	xmlNode *disk = NULL, *driver, *source;

	for (xmlNode *d = devices->children; d && !disk; d = d->next)
		if (pool_domxml_is_system_disk(d))
			disk = d;

	if (!disk) {
		xmlNode *target;

		disk = xmlNewChild(devices, NULL, (const xmlChar *)"disk", NULL);
		target = disk ? xmlNewChild(disk, NULL, (const xmlChar *)"target", NULL) : NULL;
		if (!target || set_prop(disk, "device", "disk") < 0 || set_prop(target, "dev", "vda") < 0 ||
		    set_prop(target, "bus", "virtio") < 0)
			return -ENOMEM;
	}
	if (set_prop(disk, "type", "file") < 0)
		return -ENOMEM;

	driver = pool_xml_ensure_child(disk, "driver");
	if (set_prop(driver, "name", "qemu") < 0 || set_prop(driver, "type", "qcow2") < 0)
		return -ENOMEM;

	/* libvirt reads the backing chain from the overlay's header. */
	pool_xml_remove_children(disk, "source");
	pool_xml_remove_children(disk, "backingStore");
	source = xmlNewChild(disk, NULL, (const xmlChar *)"source", NULL);
	if (set_prop(source, "file", path) < 0)
		return -ENOMEM;
	/* <source> comes before <target> by convention; libvirt accepts any order. */
	xmlUnlinkNode(source);
	if (driver->next)
		xmlAddNextSibling(driver, source);
	else
		xmlAddChild(disk, source);
	return 0;
}

/* The first of vdb..vdz no disk of devices has as its target, into buf (4 bytes); -ENOSPC when none is free. */
static int free_target(xmlNode *devices, char buf[4])
{
	for (char c = 'b'; c <= 'z'; c++) {
		bool used = false;

		snprintf(buf, 4, "vd%c", c);
		for (xmlNode *d = devices->children; d && !used; d = d->next) {
			xmlNode *target = pool_xml_is_elem(d, "disk") ? pool_xml_child(d, "target") : NULL;
			_cleanup_free_ char *dev = target ? pool_xml_prop(target, "dev") : NULL;

			used = dev && streq(dev, buf);
		}
		if (!used)
			return 0;
	}
	return -ENOSPC;
}

/* A user data disk on path after the system disk (or last): QCOW2, virtio, on a free target. */
static int add_data_disk(xmlNode *devices, const char *path, struct vdi_error *err)
{
	xmlNode *disk, *sys = NULL, *driver, *target;
	char dev[4];

	if (free_target(devices, dev) < 0)
		return vdi_error_set(err, -EINVAL, "the domain has no free disk target vdb..vdz for a data disk");
	for (xmlNode *d = devices->children; d && !sys; d = d->next)
		if (pool_domxml_is_system_disk(d))
			sys = d;
	disk = xmlNewNode(NULL, (const xmlChar *)"disk");
	if (!disk)
		return -ENOMEM;
	if (!(sys ? xmlAddNextSibling(sys, disk) : xmlAddChild(devices, disk))) {
		xmlFreeNode(disk);
		return -ENOMEM;
	}
	driver = xmlNewChild(disk, NULL, (const xmlChar *)"driver", NULL);
	if (set_prop(disk, "type", "file") < 0 || set_prop(disk, "device", "disk") < 0 ||
	    set_prop(driver, "name", "qemu") < 0 || set_prop(driver, "type", "qcow2") < 0 ||
	    set_prop(xmlNewChild(disk, NULL, (const xmlChar *)"source", NULL), "file", path) < 0)
		return -ENOMEM;
	target = xmlNewChild(disk, NULL, (const xmlChar *)"target", NULL);
	if (set_prop(target, "dev", dev) < 0 || set_prop(target, "bus", "virtio") < 0)
		return -ENOMEM;
	return 0;
}

int pool_domxml_add_data_disk(const char *xml, const char *path, char **ret, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices;
	int r;

	if (!path)
		return vdi_error_set(err, -EINVAL, "no data disk path");
	r = pool_xml_parse_domain(xml, &doc, &devices, err);
	if (r < 0)
		return r;
	for (xmlNode *d = devices->children; d; d = d->next)
		if (pool_xml_is_elem(d, "disk") && disk_source_is(d, path))
			return pool_xml_dump(doc, ret);
	r = add_data_disk(devices, path, err);
	return r < 0 ? r : pool_xml_dump(doc, ret);
}

static int set_macs(xmlNode *devices)
{
	for (xmlNode *n = devices->children; n; n = n->next) {
		char mac[18];
		int r;

		if (!pool_xml_is_elem(n, "interface"))
			continue;
		r = vdi_random_mac(mac);
		if (r < 0)
			return r;
		if (set_prop(pool_xml_ensure_child(n, "mac"), "address", mac) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The NIC model the domain's vdihw:hardware names (see POOL_HARDWARE_NS): a new string, or NULL (none). */
static char *nic_model(xmlNode *devices)
{
	xmlNode *md = pool_xml_child(devices->parent, "metadata");

	return pool_xml_prop(pool_xml_ns_child(md, POOL_HARDWARE_NS, "hardware"), "nic-model");
}

/* Replaces every <interface> of devices by the one nic (borrowed) makes, where the first one was. */
static int set_nic(xmlNode *devices, const struct pool_nic *nic, struct vdi_error *err)
{
	_cleanup_free_ char *model = nic_model(devices);
	xmlNode *iface, *first = NULL, *n;
	int r;

	r = pool_nic_interface_xml(nic, model, &iface, err);
	if (r < 0)
		return r;
	for (n = devices->children; n && !first; n = n->next)
		if (pool_xml_is_elem(n, "interface"))
			first = n;
	if (!(first ? xmlAddPrevSibling(first, iface) : xmlAddChild(devices, iface))) {
		xmlFreeNode(iface);
		return -ENOMEM;
	}
	n = devices->children;
	while (n) {
		xmlNode *next = n->next;

		if (n != iface && pool_xml_is_elem(n, "interface"))
			pool_xml_remove(n);
		n = next;
	}
	return 0;
}

/* The MAC address of the first <interface> of devices: a new string, or NULL (none, or out of memory). */
static char *first_mac(xmlNode *devices)
{
	for (xmlNode *n = devices->children; n; n = n->next)
		if (pool_xml_is_elem(n, "interface"))
			return pool_xml_prop(pool_xml_child(n, "mac"), "address");
	return NULL;
}

int pool_domxml_set_nic(const char *xml, const struct pool_nic *nic, char **ret, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	_cleanup_free_ char *mac = NULL;
	xmlNode *devices, *iface = NULL;
	int r;

	r = pool_xml_parse_domain(xml, &doc, &devices, err);
	if (r < 0)
		return r;
	mac = first_mac(devices);
	r = set_nic(devices, nic, err);
	if (r < 0)
		return r;
	if (!mac)
		r = set_macs(devices);
	for (xmlNode *n = devices->children; mac && n && !iface; n = n->next)
		if (pool_xml_is_elem(n, "interface"))
			iface = n;
	if (iface && set_prop(pool_xml_ensure_child(iface, "mac"), "address", mac) < 0)
		r = -ENOMEM;
	return r < 0 ? r : pool_xml_dump(doc, ret);
}

static int set_spice(xmlNode *devices, const char *socket, const char *address, const char *password)
{
	xmlNode *g, *listen;

	/* Exactly one display, SPICE on our socket (or the remote host's address, on a port libvirt
	 * picks), never without a ticket: VNC or others go. */
	pool_xml_remove_children(devices, "graphics");
	g = xmlNewChild(devices, NULL, (const xmlChar *)"graphics", NULL);
	if (set_prop(g, "type", "spice") < 0 || set_prop(g, "autoport", address ? "yes" : "no") < 0 ||
	    set_prop(g, "passwd", password) < 0)
		return -ENOMEM;
	listen = xmlNewChild(g, NULL, (const xmlChar *)"listen", NULL);
	if (address) {
		if (set_prop(listen, "type", "address") < 0 || set_prop(listen, "address", address) < 0)
			return -ENOMEM;
	} else if (set_prop(listen, "type", "socket") < 0 || set_prop(listen, "socket", socket) < 0) {
		return -ENOMEM;
	}

	if (!pool_xml_child(devices, "video")) {
		xmlNode *video = xmlNewChild(devices, NULL, (const xmlChar *)"video", NULL);
		xmlNode *model = video ? xmlNewChild(video, NULL, (const xmlChar *)"model", NULL) : NULL;

		if (set_prop(model, "type", "qxl") < 0)
			return -ENOMEM;
	}
	return 0;
}

int pool_domxml_for_clone(const char *template_xml, const struct pool_domxml_params *p, char **ret,
			  struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root, *devices;
	int r;

	if (!p->name || !p->uuid || !p->virt_type || !p->disk_path || (!p->spice_socket && !p->spice_address) ||
	    !p->spice_password ||
	    !p->pool || !p->template_name)
		return vdi_error_set(err, -EINVAL, "incomplete clone parameters");

	r = pool_xml_parse_domain(template_xml, &doc, &devices, err);
	if (r < 0)
		return r;
	if (count_system_disks(devices) > 1)
		return vdi_error_set(err, -EINVAL, "template XML has more than one system disk");
	root = xmlDocGetRootElement(doc);

	if (set_prop(root, "type", p->virt_type) < 0)
		return -ENOMEM;
	/* libvirt rejects an id on a definition. */
	xmlUnsetProp(root, (const xmlChar *)"id");
	if (set_text(pool_xml_ensure_child(root, "name"), p->name) < 0 ||
	    set_text(pool_xml_ensure_child(root, "uuid"), p->uuid) < 0)
		return -ENOMEM;
	r = set_metadata(root, p);
	if (r < 0)
		return r;
	r = set_system_disk(devices, p->disk_path);
	if (r < 0)
		return r;
	if (p->data_disk_path) {
		r = add_data_disk(devices, p->data_disk_path, err);
		if (r < 0)
			return r;
	}
	if (p->nic && p->nic->kind != POOL_NIC_TEMPLATE) {
		r = set_nic(devices, p->nic, err);
		if (r < 0)
			return r;
	} else if (p->nic && (r = pool_nic_check(p->nic, err)) < 0) {
		return r;
	}
	r = set_macs(devices);
	if (r < 0)
		return r;
	r = set_spice(devices, p->spice_address ? NULL : p->spice_socket, p->spice_address, p->spice_password);
	if (r < 0)
		return r;
	r = pool_clone_devices(root, devices, p, err);
	return r < 0 ? r : pool_xml_dump(doc, ret);
}
