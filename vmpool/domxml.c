/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "alloc.h"
#include "private.h"
#include "random.h"

/* Template XML is small; anything bigger than this is not a domain definition. */
#define DOMXML_MAX (1024 * 1024)

/* Finds or appends child element name. */
static xmlNode *ensure_child(xmlNode *parent, const char *name)
{
	xmlNode *n = pool_xml_child(parent, name);

	return n ? n : xmlNewChild(parent, NULL, (const xmlChar *)name, NULL);
}

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

static void remove_node(xmlNode *n)
{
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

static void remove_children_named(xmlNode *parent, const char *name)
{
	xmlNode *n = parent ? parent->children : NULL;

	while (n) {
		xmlNode *next = n->next;

		if (pool_xml_is_elem(n, name))
			remove_node(n);
		n = next;
	}
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
static bool is_system_disk(xmlNode *n)
{
	return is_disk_device(n) && !disk_source_is(n, NULL);
}

static int parse_domain(const char *xml, xmlDocPtr *ret_doc, xmlNode **ret_devices, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root;
	size_t len;

	if (!xml)
		return vdi_error_set(err, -EINVAL, "no domain XML");
	len = strlen(xml);
	if (len == 0 || len > DOMXML_MAX)
		return vdi_error_set(err, -EINVAL, "domain XML is empty or larger than %d bytes", DOMXML_MAX);

	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
	if (!doc) {
		const xmlError *e = xmlGetLastError();

		return vdi_error_set(err, -EINVAL, "domain XML is not well-formed: line %d: %s", e ? e->line : 0,
				      e && e->message ? e->message : "parse error");
	}
	root = xmlDocGetRootElement(doc);
	if (!pool_xml_is_elem(root, "domain"))
		return vdi_error_set(err, -EINVAL, "domain XML must have a <domain> root element");

	*ret_devices = ensure_child(root, "devices");
	if (!*ret_devices)
		return -ENOMEM;
	*ret_doc = TAKE_PTR(doc);
	return 0;
}

static int dump(xmlDocPtr doc, char **ret)
{
	xmlChar *mem = NULL;
	int len = 0;

	xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
	if (!mem)
		return -ENOMEM;
	*ret = strdup((const char *)mem);
	xmlFree(mem);
	return *ret ? 0 : -ENOMEM;
}

static int count_system_disks(xmlNode *devices)
{
	int n = 0;

	for (xmlNode *d = devices->children; d; d = d->next)
		if (is_system_disk(d))
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

	r = parse_domain(xml, &doc, &devices, err);
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
		remove_children_named(root, "currentMemory");
		mem = ensure_child(root, "memory");
		if (set_text(mem, num) < 0 || set_prop(mem, "unit", "MiB") < 0)
			return -ENOMEM;
	} else if (!pool_xml_child(root, "memory")) {
		return vdi_error_set(err, -EINVAL, "domain XML has no <memory>");
	}
	if (vcpus > 0) {
		snprintf(num, sizeof(num), "%u", vcpus);
		if (set_text(ensure_child(root, "vcpu"), num) < 0)
			return -ENOMEM;
	}
	if (!pool_xml_child(root, "os"))
		return vdi_error_set(err, -EINVAL, "domain XML has no <os>");

	return dump(doc, ret);
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
	xmlNode *md = ensure_child(root, "metadata"), *n, *desk;
	char id[32];
	xmlNs *ns;

	if (!md)
		return -ENOMEM;
	/* Drop any earlier vdi element (a template made from one of our own domains). */
	n = md->children;
	while (n) {
		xmlNode *next = n->next;

		if (n->type == XML_ELEMENT_NODE && n->ns && xmlStrcmp(n->ns->href, (const xmlChar *)POOL_METADATA_NS) == 0)
			remove_node(n);
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
		if (is_system_disk(d))
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

	driver = ensure_child(disk, "driver");
	if (set_prop(driver, "name", "qemu") < 0 || set_prop(driver, "type", "qcow2") < 0)
		return -ENOMEM;

	/* libvirt reads the backing chain from the overlay's header. */
	remove_children_named(disk, "source");
	remove_children_named(disk, "backingStore");
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
		if (is_system_disk(d))
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
	r = parse_domain(xml, &doc, &devices, err);
	if (r < 0)
		return r;
	for (xmlNode *d = devices->children; d; d = d->next)
		if (pool_xml_is_elem(d, "disk") && disk_source_is(d, path))
			return dump(doc, ret);
	r = add_data_disk(devices, path, err);
	return r < 0 ? r : dump(doc, ret);
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
		if (set_prop(ensure_child(n, "mac"), "address", mac) < 0)
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
			remove_node(n);
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

	r = parse_domain(xml, &doc, &devices, err);
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
	if (iface && set_prop(ensure_child(iface, "mac"), "address", mac) < 0)
		r = -ENOMEM;
	return r < 0 ? r : dump(doc, ret);
}

static int set_spice(xmlNode *devices, const char *socket, const char *address, const char *password)
{
	xmlNode *g, *listen;

	/* Exactly one display, SPICE on our socket (or the remote host's address, on a port libvirt
	 * picks), never without a ticket: VNC or others go. */
	remove_children_named(devices, "graphics");
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

/* Whether devices has a <channel> whose target is called name. */
static bool has_channel(xmlNode *devices, const char *name)
{
	for (xmlNode *n = devices->children; n; n = n->next)
		if (pool_xml_is_elem(n, "channel") && pool_xml_prop_is(pool_xml_child(n, "target"), "name", name))
			return true;
	return false;
}

/* A <channel type='type'><target type='virtio' name='name'/></channel> unless devices has one called name. */
static int ensure_channel(xmlNode *devices, const char *type, const char *name)
{
	xmlNode *ch, *target;

	if (has_channel(devices, name))
		return 0;
	ch = pool_xml_add(devices, "channel");
	target = pool_xml_add(ch, "target");
	return pool_xml_set(ch, "type", type) && pool_xml_set(target, "type", "virtio") &&
	       pool_xml_set(target, "name", name) ? 0 : -ENOMEM;
}

/* The SPICE agent and qemu-guest-agent channels, sound and SPICE audio: each unless the template has one. */
static int set_spice_devices(xmlNode *devices)
{
	int r;

	r = ensure_channel(devices, "spicevmc", "com.redhat.spice.0");
	if (r >= 0)
		r = ensure_channel(devices, "unix", "org.qemu.guest_agent.0");
	if (r >= 0 && !pool_xml_child(devices, "sound") && !pool_xml_set(pool_xml_add(devices, "sound"), "model", "ich9"))
		r = -ENOMEM;
	if (r >= 0 && !pool_xml_child(devices, "audio")) {
		xmlNode *audio = pool_xml_add(devices, "audio");

		if (!pool_xml_set(audio, "id", "1") || !pool_xml_set(audio, "type", "spice"))
			r = -ENOMEM;
	}
	return r;
}

/* devices' first <controller type='usb'>, or NULL. */
static xmlNode *usb_controller(xmlNode *devices)
{
	for (xmlNode *c = devices->children; c; c = c->next)
		if (pool_xml_is_elem(c, "controller") && pool_xml_prop_is(c, "type", "usb"))
			return c;
	return NULL;
}

/*
 * n USB redirection channels in place of the template's (n POOL_USB_REDIRECT_TEMPLATE: the template's stay).  A
 * domain whose USB controller is model 'none' (its template says: no USB) gets none: libvirt would refuse them.
 */
static int set_usb_redirect(xmlNode *devices, int n, struct vdi_error *err)
{
	xmlNode *usb;

	if (n == POOL_USB_REDIRECT_TEMPLATE)
		return 0;
	if (n < 0 || n > POOL_USB_REDIRECT_MAX)
		return vdi_error_set(err, -EINVAL, "usb_redirect %d is outside 0-%d", n, POOL_USB_REDIRECT_MAX);
	remove_children_named(devices, "redirdev");
	usb = usb_controller(devices);
	if (usb && pool_xml_prop_is(usb, "model", "none"))
		return 0;
	if (n > 0 && !usb) {
		/* libvirt on a real host adds a USB controller by itself; its test driver and a template that names
		 * none need one for the channels. */
		xmlNode *c = pool_xml_add(devices, "controller");

		if (!pool_xml_set(c, "type", "usb") || !pool_xml_set(c, "model", "qemu-xhci"))
			return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		xmlNode *rd = pool_xml_add(devices, "redirdev");

		if (!pool_xml_set(rd, "bus", "usb") || !pool_xml_set(rd, "type", "spicevmc"))
			return -ENOMEM;
	}
	return 0;
}

int pool_domxml_set_usb_redirect(const char *xml, int n, char **ret, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices;
	int r;

	r = parse_domain(xml, &doc, &devices, err);
	if (r < 0)
		return r;
	r = set_usb_redirect(devices, n, err);
	return r < 0 ? r : dump(doc, ret);
}

/* The <nvram> of os keeps its template only: no path (libvirt makes one per domain), no other source. */
static int set_nvram(xmlNode *root)
{
	xmlNode *nv = pool_xml_child(pool_xml_child(root, "os"), "nvram");
	_cleanup_free_ char *tmpl = pool_xml_prop(nv, "template");

	if (!nv)
		return 0;
	while (nv->children)
		remove_node(nv->children);
	while (nv->properties)
		xmlRemoveProp(nv->properties);
	if (!tmpl) {
		remove_node(nv);
		return 0;
	}
	return set_prop(nv, "template", tmpl);
}

/* QEMU refuses Hyper-V enlightenments without KVM ("kernel doesn't allow setting HyperV VP_INDEX"). */
static void drop_hyperv(xmlNode *root)
{
	xmlNode *clock = pool_xml_child(root, "clock"), *n;

	remove_children_named(pool_xml_child(root, "features"), "hyperv");
	n = clock ? clock->children : NULL;
	while (n) {
		xmlNode *next = n->next;

		if (pool_xml_is_elem(n, "timer") && pool_xml_prop_is(n, "name", "hypervclock"))
			remove_node(n);
		n = next;
	}
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

	r = parse_domain(template_xml, &doc, &devices, err);
	if (r < 0)
		return r;
	if (count_system_disks(devices) > 1)
		return vdi_error_set(err, -EINVAL, "template XML has more than one system disk");
	root = xmlDocGetRootElement(doc);

	if (set_prop(root, "type", p->virt_type) < 0)
		return -ENOMEM;
	/* libvirt rejects an id on a definition. */
	xmlUnsetProp(root, (const xmlChar *)"id");
	if (set_text(ensure_child(root, "name"), p->name) < 0 || set_text(ensure_child(root, "uuid"), p->uuid) < 0)
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
	r = set_usb_redirect(devices, p->usb_redirect, err);
	if (r < 0)
		return r;
	r = set_spice_devices(devices);
	if (r >= 0)
		r = set_nvram(root);
	if (r < 0)
		return r;
	if (streq(p->virt_type, "qemu"))
		drop_hyperv(root);

	return dump(doc, ret);
}

int pool_domxml_spice_ticket(const char *live_xml, const char *password, const char *valid_to, char **ret,
			     struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices, *g = NULL;
	xmlBufferPtr buf;
	int r;

	r = parse_domain(live_xml, &doc, &devices, err);
	if (r < 0)
		return r;
	for (xmlNode *n = devices->children; n && !g; n = n->next) {
		_cleanup_free_ char *type = pool_xml_is_elem(n, "graphics") ? pool_xml_prop(n, "type") : NULL;

		if (type && streq(type, "spice"))
			g = n;
	}
	if (!g)
		return vdi_error_set(err, -ENOENT, "the desktop has no SPICE display");

	if (set_prop(g, "passwd", password) < 0)
		return -ENOMEM;
	if (valid_to) {
		if (set_prop(g, "passwdValidTo", valid_to) < 0)
			return -ENOMEM;
	} else {
		xmlUnsetProp(g, (const xmlChar *)"passwdValidTo");
	}

	buf = xmlBufferCreate();
	if (!buf)
		return -ENOMEM;
	if (xmlNodeDump(buf, doc, g, 0, 0) < 0) {
		xmlBufferFree(buf);
		return -ENOMEM;
	}
	*ret = strdup((const char *)xmlBufferContent(buf));
	xmlBufferFree(buf);
	return *ret ? 0 : -ENOMEM;
}

int pool_domxml_read_desktop(const char *xml, struct pool_desktop_info *info)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root, *devices, *md, *desk = NULL;
	_cleanup_free_ char *id = NULL;
	char *end;
	int r;

	r = parse_domain(xml, &doc, &devices, NULL);
	if (r < 0)
		return r;
	root = xmlDocGetRootElement(doc);

	md = pool_xml_child(root, "metadata");
	for (xmlNode *n = md ? md->children : NULL; n && !desk; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns && xmlStrcmp(n->ns->href, (const xmlChar *)POOL_METADATA_NS) == 0 &&
		    xmlStrcmp(n->name, (const xmlChar *)"desktop") == 0)
			desk = n;
	if (!desk)
		return -ENOENT;

	id = pool_xml_prop(desk, "id");
	info->pool = pool_xml_prop(desk, "pool");
	info->template_name = pool_xml_prop(desk, "template");
	if (!id || !info->pool)
		return -EINVAL;
	errno = 0;
	info->desktop_id = strtoll(id, &end, 10);
	if (errno || *end || end == id || info->desktop_id < 0)
		return -EINVAL;

	for (xmlNode *d = devices->children; d; d = d->next) {
		if (is_system_disk(d)) {
			xmlNode *src = pool_xml_child(d, "source");

			info->overlay_path = src ? pool_xml_prop(src, "file") : NULL;
			break;
		}
	}
	return 0;
}

int pool_domxml_spice_port(const char *live_xml, unsigned *ret)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices;
	int r;

	r = parse_domain(live_xml, &doc, &devices, NULL);
	if (r < 0)
		return r;
	for (xmlNode *n = devices->children; n; n = n->next) {
		_cleanup_free_ char *type = pool_xml_is_elem(n, "graphics") ? pool_xml_prop(n, "type") : NULL;
		_cleanup_free_ char *port = NULL;
		char *end;
		unsigned long v;

		if (!type || !streq(type, "spice"))
			continue;
		port = pool_xml_prop(n, "port");
		if (!port)
			return -ENOENT;
		errno = 0;
		v = strtoul(port, &end, 10);
		if (errno || *end || v == 0 || v > 65535)
			return -ENOENT; /* "-1": not listening on TCP (yet) */
		*ret = (unsigned)v;
		return 0;
	}
	return -ENOENT;
}

static void xmlXPathFreeContextp(xmlXPathContextPtr *p)
{
	if (*p)
		xmlXPathFreeContext(*p);
}

static void xmlXPathFreeObjectp(xmlXPathObjectPtr *p)
{
	if (*p)
		xmlXPathFreeObject(*p);
}

/* Like pool_strv_free() (listing.c, which calls this file: no circle). */
static void strv_free(char **strv)
{
	for (char **s = strv; s && *s; s++)
		free(*s);
	free(strv);
}

/*
 * The string values of the nodes expr selects in doc (borrowed): *ret a new NULL-terminated array of
 * new strings, empty when expr selects nothing; -EINVAL when expr is not a node set, -ENOMEM.
 */
static int xpath_strings(xmlDocPtr doc, const char *expr, char ***ret)
{
	_cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = NULL;
	_cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr obj = NULL;
	char **strv;
	int n;

	ctx = xmlXPathNewContext(doc);
	if (!ctx)
		return -ENOMEM;
	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	if (!obj || obj->type != XPATH_NODESET)
		return -EINVAL;
	n = obj->nodesetval ? obj->nodesetval->nodeNr : 0;
	strv = vdi_calloc((size_t)n + 1, sizeof(*strv));
	if (!strv)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		xmlChar *v = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);

		strv[i] = v ? strdup((const char *)v) : NULL;
		xmlFree(v);
		if (!strv[i]) {
			strv_free(strv);
			return -ENOMEM;
		}
	}
	*ret = strv;
	return 0;
}

/* What expr selects in the domain XML xml, as strings (*ret: new). */
static int domain_strings(const char *xml, const char *expr, char ***ret)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices;
	int r;

	r = parse_domain(xml, &doc, &devices, NULL);
	if (r < 0)
		return r;
	return xpath_strings(doc, expr, ret);
}

int pool_domxml_disk_paths(const char *xml, char ***ret)
{
	/* A disk's own <source> and those of its backing chain (<backingStore>, nested). */
	return domain_strings(xml, "/domain/devices/disk/source/@file | /domain/devices/disk/source/@dev | "
				   "/domain/devices/disk//backingStore/source/@file | "
				   "/domain/devices/disk//backingStore/source/@dev", ret);
}

int pool_domxml_interface_macs(const char *xml, char ***ret)
{
	return domain_strings(xml, "/domain/devices/interface/mac/@address", ret);
}

/* The string value of the first node expr selects in xml, whose root must be root; a new string. */
static int xml_first_string(const char *xml, const char *root, const char *expr, char **ret)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	char **strv = NULL;
	int r;

	if (!xml || !*xml || strlen(xml) > DOMXML_MAX)
		return -EINVAL;
	doc = xmlReadMemory(xml, (int)strlen(xml), "libvirt.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc || !pool_xml_is_elem(xmlDocGetRootElement(doc), root))
		return -EINVAL;
	r = xpath_strings(doc, expr, &strv);
	if (r < 0)
		return r;
	if (!strv[0] || !strv[0][0]) {
		strv_free(strv);
		return -ENOENT;
	}
	*ret = strdup(strv[0]);
	strv_free(strv);
	return *ret ? 0 : -ENOMEM;
}

int pool_volxml_backing_path(const char *xml, char **ret)
{
	return xml_first_string(xml, "volume", "/volume/backingStore/path", ret);
}

int pool_poolxml_target_path(const char *xml, char **ret)
{
	return xml_first_string(xml, "pool", "/pool/target/path", ret);
}
