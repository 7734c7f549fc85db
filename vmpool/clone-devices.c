/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The devices every clone gets at clone time (pool_clone_devices(), for pool_domxml_for_clone()), the USB
 * redirection channels of a stopped desktop (pool_domxml_set_usb_redirect()) and its monitors (heads). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libxml/tree.h>

#include "alloc.h"
#include "private.h"

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
	pool_xml_remove_children(devices, "redirdev");
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

	r = pool_xml_parse_domain(xml, &doc, &devices, err);
	if (r < 0)
		return r;
	r = set_usb_redirect(devices, n, err);
	return r < 0 ? r : pool_xml_dump(doc, ret);
}

/* The <model> of devices' first <video> (NULL: none), and whether N monitors can be shown on it. */
static xmlNode *video_model(xmlNode *devices)
{
	return pool_xml_child(pool_xml_child(devices, "video"), "model");
}

static bool model_has_heads(xmlNode *model)
{
	return pool_xml_prop_is(model, "type", "qxl") || pool_xml_prop_is(model, "type", "virtio");
}

int pool_domxml_heads_check(const char *xml, int heads, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	_cleanup_free_ char *type = NULL;
	xmlNode *devices, *model;
	int r;

	if (heads < 1 || heads > POOL_HEADS_MAX)
		return vdi_error_set(err, -EINVAL, "heads: %d is outside 1-%d", heads, POOL_HEADS_MAX);
	r = pool_xml_parse_domain(xml, &doc, &devices, err);
	if (r < 0 || heads == 1)
		return r;
	/* A domain without <video> gets qxl with its SPICE display (pool_domxml_for_clone()). */
	model = video_model(devices);
	if (!pool_xml_child(devices, "video") || model_has_heads(model))
		return 0;
	type = pool_xml_prop(model, "type");
	return vdi_error_set(err, -EINVAL, "heads: the template's video is \"%s\": more than one monitor needs "
			     "a qxl or virtio video model", type ? type : "(none)");
}

/* The KiB attribute name of model at least min (raised to it when smaller or unset; never lowered). */
static int raise_kib(xmlNode *model, const char *name, unsigned long min)
{
	_cleanup_free_ char *cur = pool_xml_prop(model, name);
	char buf[24];

	if (cur && strtoul(cur, NULL, 10) >= min)
		return 0;
	snprintf(buf, sizeof(buf), "%lu", min);
	return pool_xml_set(model, name, buf) ? 0 : -ENOMEM;
}

/* The smallest power of two >= n. */
static unsigned long pow2_at_least(unsigned long n)
{
	unsigned long p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * heads monitors (2..POOL_HEADS_MAX; 0 and 1: the template's video as it is) on the first <video>, a qxl or
 * virtio one.  qxl also gets its memory for them, in KiB: vgamem 16 MiB per monitor (a 1920x1080x32 frame
 * buffer is 7.9 MiB; the guest's primary surface spans all of them), ram 64 MiB per monitor (QEMU wants at
 * least twice vgamem), vram 64 MiB; each a power of two, never less than the template gives.
 */
static int set_heads(xmlNode *devices, int heads, struct vdi_error *err)
{
	xmlNode *model = video_model(devices);
	char buf[8];

	if (heads == 0 || heads == 1)
		return 0;
	if (heads < 0 || heads > POOL_HEADS_MAX)
		return vdi_error_set(err, -EINVAL, "heads: %d is outside 1-%d", heads, POOL_HEADS_MAX);
	if (!model_has_heads(model))
		return vdi_error_set(err, -EINVAL, "heads: more than one monitor needs a qxl or virtio video model");
	snprintf(buf, sizeof(buf), "%d", heads);
	if (!pool_xml_set(model, "heads", buf))
		return -ENOMEM;
	if (!pool_xml_prop_is(model, "type", "qxl"))
		return 0;
	if (raise_kib(model, "vgamem", pow2_at_least(16384UL * (unsigned long)heads)) < 0 ||
	    raise_kib(model, "ram", pow2_at_least(65536UL * (unsigned long)heads)) < 0 ||
	    raise_kib(model, "vram", 65536) < 0)
		return -ENOMEM;
	return 0;
}

/* The <nvram> of os keeps its template only: no path (libvirt makes one per domain), no other source. */
static int set_nvram(xmlNode *root)
{
	xmlNode *nv = pool_xml_child(pool_xml_child(root, "os"), "nvram");
	_cleanup_free_ char *tmpl = pool_xml_prop(nv, "template");

	if (!nv)
		return 0;
	while (nv->children)
		pool_xml_remove(nv->children);
	while (nv->properties)
		xmlRemoveProp(nv->properties);
	if (!tmpl) {
		pool_xml_remove(nv);
		return 0;
	}
	return pool_xml_set(nv, "template", tmpl) ? 0 : -ENOMEM;
}

/* QEMU refuses Hyper-V enlightenments without KVM ("kernel doesn't allow setting HyperV VP_INDEX"). */
static void drop_hyperv(xmlNode *root)
{
	xmlNode *clock = pool_xml_child(root, "clock"), *n;

	pool_xml_remove_children(pool_xml_child(root, "features"), "hyperv");
	n = clock ? clock->children : NULL;
	while (n) {
		xmlNode *next = n->next;

		if (pool_xml_is_elem(n, "timer") && pool_xml_prop_is(n, "name", "hypervclock"))
			pool_xml_remove(n);
		n = next;
	}
}

int pool_clone_devices(xmlNode *root, xmlNode *devices, const struct pool_domxml_params *p,
		       struct vdi_error *err)
{
	int r;

	r = set_usb_redirect(devices, p->usb_redirect, err);
	if (r < 0)
		return r;
	r = set_spice_devices(devices);
	if (r >= 0)
		r = set_heads(devices, p->heads, err);
	if (r >= 0)
		r = set_nvram(root);
	if (r < 0)
		return r;
	if (streq(p->virt_type, "qemu"))
		drop_hyperv(root);
	return 0;
}
