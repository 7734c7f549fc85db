/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "private.h"

/*
 * A desktop's network attachment (the pool setting `network`): its value's
 * syntax and the one <interface> element a clone gets from it.  Pure: no
 * I/O, no libvirt calls.
 */

#define VLAN_MAX 4094

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

static bool name_is_valid(const char *name, size_t max)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > max || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(name[i]))
			return false;
	return true;
}

bool pool_network_name_is_valid(const char *name)
{
	return name_is_valid(name, POOL_NETWORK_NAME_MAX);
}

bool pool_iface_name_is_valid(const char *name)
{
	return name_is_valid(name, POOL_IFACE_NAME_MAX);
}

bool pool_nic_can_isolate(enum pool_nic_kind kind)
{
	return kind == POOL_NIC_NETWORK || kind == POOL_NIC_BRIDGE;
}

uint64_t pool_bandwidth_kib(uint32_t kbps)
{
	/* kbps * 1000 / 8 bytes/s = kbps * 125; / 1024 rounded up. */
	return kbps == 0 ? 0 : ((uint64_t)kbps * 125 + 1023) / 1024;
}

static const char *kind_prefix(enum pool_nic_kind kind)
{
	switch (kind) {
	case POOL_NIC_NETWORK:
		return "network";
	case POOL_NIC_BRIDGE:
		return "bridge";
	case POOL_NIC_OVS:
		return "ovs";
	case POOL_NIC_USER:
		return "user";
	default:
		return NULL;
	}
}

/* Checks name (borrowed, the part after the kind's "PREFIX:") for kind and copies it into ret->name. */
static int parse_name(enum pool_nic_kind kind, const char *name, size_t len, struct pool_nic *ret,
		      struct vdi_error *err)
{
	char buf[POOL_NETWORK_NAME_MAX + 2];
	bool net = kind == POOL_NIC_NETWORK;
	size_t max = net ? POOL_NETWORK_NAME_MAX : POOL_IFACE_NAME_MAX;

	if (len == 0)
		return vdi_error_set(err, -EINVAL, "network value '%s:' has an empty %s name", kind_prefix(kind),
				      net ? "network" : "bridge");
	if (len > max)
		return vdi_error_set(err, -EINVAL, "%s name '%.*s' is longer than %zu characters",
				      net ? "network" : "bridge", (int)len, name, max);
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (!name_is_valid(buf, max))
		return vdi_error_set(err, -EINVAL, "%s name '%s' must be characters of [A-Za-z0-9_.-], not starting with '.'",
				      net ? "network" : "bridge", buf);
	memcpy(ret->name, buf, len + 1);
	return 0;
}

/* A VLAN tag: decimal digits only, 1..4094. */
static int parse_vlan(const char *s, unsigned *ret, struct vdi_error *err)
{
	unsigned long v = 0;
	size_t len = strlen(s);

	if (len == 0)
		return vdi_error_set(err, -EINVAL, "network value has an empty VLAN after ':'");
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || len > 4)
			return vdi_error_set(err, -EINVAL, "VLAN '%s' is not an integer in 1-%d", s, VLAN_MAX);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > VLAN_MAX)
		return vdi_error_set(err, -EINVAL, "VLAN %lu is outside 1-%d", v, VLAN_MAX);
	*ret = (unsigned)v;
	return 0;
}

static const char *after(const char *value, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(value, prefix, n) == 0 ? value + n : NULL;
}

int pool_nic_parse(const char *value, struct pool_nic *ret, struct vdi_error *err)
{
	struct pool_nic nic = { 0 };
	const char *rest, *colon;
	int r;

	if (!value || !*value)
		return vdi_error_set(err, -EINVAL, "empty network value: network:NAME, bridge:IFACE, "
						   "ovs:BRIDGE[:VLAN] or user");
	if (strcmp(value, "user") == 0) {
		nic.kind = POOL_NIC_USER;
	} else if ((rest = after(value, "network:")) || (rest = after(value, "bridge:"))) {
		nic.kind = value[0] == 'n' ? POOL_NIC_NETWORK : POOL_NIC_BRIDGE;
		if (strchr(rest, ':'))
			return vdi_error_set(err, -EINVAL, "network value '%s': a VLAN tag is only for ovs:BRIDGE:VLAN",
					      value);
		r = parse_name(nic.kind, rest, strlen(rest), &nic, err);
		if (r < 0)
			return r;
	} else if ((rest = after(value, "ovs:"))) {
		nic.kind = POOL_NIC_OVS;
		colon = strchr(rest, ':');
		r = parse_name(nic.kind, rest, colon ? (size_t)(colon - rest) : strlen(rest), &nic, err);
		if (r < 0)
			return r;
		if (colon && (r = parse_vlan(colon + 1, &nic.vlan, err)) < 0)
			return r;
	} else if (after(value, "user:")) {
		return vdi_error_set(err, -EINVAL, "network value '%s': user takes no name or VLAN", value);
	} else {
		colon = strchr(value, ':');
		return vdi_error_set(err, -EINVAL, "unknown network kind '%.*s': network:NAME, bridge:IFACE, "
						   "ovs:BRIDGE[:VLAN] or user",
				      colon ? (int)(colon - value) : (int)strlen(value), value);
	}
	*ret = nic;
	return 0;
}

int pool_nic_check(const struct pool_nic *nic, struct vdi_error *err)
{
	bool named;

	if (!nic || !(nic->kind == POOL_NIC_TEMPLATE || kind_prefix(nic->kind)))
		return vdi_error_set(err, -EINVAL, "no network attachment");
	named = nic->kind == POOL_NIC_NETWORK || nic->kind == POOL_NIC_BRIDGE || nic->kind == POOL_NIC_OVS;
	if (nic->kind == POOL_NIC_TEMPLATE && (nic->isolated || nic->bandwidth_kbps))
		return vdi_error_set(err, -EINVAL, "isolation and bandwidth limits need a network attachment "
						   "(network:, bridge: or ovs:), not the template's own NICs");
	if (named && !(nic->kind == POOL_NIC_NETWORK ? pool_network_name_is_valid(nic->name)
						     : pool_iface_name_is_valid(nic->name)))
		return vdi_error_set(err, -EINVAL, "%s: invalid %s name '%s'", kind_prefix(nic->kind),
				      nic->kind == POOL_NIC_NETWORK ? "network" : "bridge", nic->name);
	if (!named && nic->name[0])
		return vdi_error_set(err, -EINVAL, "a %s attachment takes no name",
				      nic->kind == POOL_NIC_USER ? "user" : "template");
	if (nic->vlan && nic->kind != POOL_NIC_OVS)
		return vdi_error_set(err, -EINVAL, "a VLAN tag is only for ovs:BRIDGE:VLAN");
	if (nic->vlan > VLAN_MAX)
		return vdi_error_set(err, -EINVAL, "VLAN %u is outside 1-%d", nic->vlan, VLAN_MAX);
	if (nic->isolated && nic->kind != POOL_NIC_TEMPLATE && !pool_nic_can_isolate(nic->kind))
		return vdi_error_set(err, -EINVAL, "desktops on %s cannot be isolated from each other: libvirt has "
						   "port isolation on network: and bridge: only",
				      kind_prefix(nic->kind));
	if (nic->bandwidth_kbps && nic->kind == POOL_NIC_USER)
		return vdi_error_set(err, -EINVAL, "bandwidth limits need network:, bridge: or ovs: "
						   "(libvirt ignores them in user mode)");
	return 0;
}

int pool_nic_format(const struct pool_nic *nic, char *buf, size_t len)
{
	int n;

	if (pool_nic_check(nic, NULL) < 0)
		return -EINVAL;
	if (nic->kind == POOL_NIC_TEMPLATE || nic->kind == POOL_NIC_USER)
		n = snprintf(buf, len, "%s", nic->kind == POOL_NIC_USER ? "user" : "");
	else if (nic->vlan)
		n = snprintf(buf, len, "%s:%s:%u", kind_prefix(nic->kind), nic->name, nic->vlan);
	else
		n = snprintf(buf, len, "%s:%s", kind_prefix(nic->kind), nic->name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the <interface> element ---------------------------------------------------- */

static xmlNode *add(xmlNode *parent, const char *name)
{
	return parent ? xmlNewChild(parent, NULL, (const xmlChar *)name, NULL) : NULL;
}

static bool prop(xmlNode *n, const char *name, const char *value)
{
	return n && xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

/* The source, virtual port and VLAN of iface for nic. */
static bool add_source(xmlNode *iface, const struct pool_nic *nic)
{
	char tag[16];

	switch (nic->kind) {
	case POOL_NIC_NETWORK:
		return prop(iface, "type", "network") && prop(add(iface, "source"), "network", nic->name);
	case POOL_NIC_BRIDGE:
		return prop(iface, "type", "bridge") && prop(add(iface, "source"), "bridge", nic->name);
	case POOL_NIC_OVS:
		if (!prop(iface, "type", "bridge") || !prop(add(iface, "source"), "bridge", nic->name) ||
		    !prop(add(iface, "virtualport"), "type", "openvswitch"))
			return false;
		snprintf(tag, sizeof(tag), "%u", nic->vlan);
		return !nic->vlan || prop(add(add(iface, "vlan"), "tag"), "id", tag);
	default:
		return prop(iface, "type", "user");
	}
}

/* <port isolated='yes'/> and clean-traffic with the IP learned from DHCP. */
static bool add_isolation(xmlNode *iface)
{
	xmlNode *param;

	if (!prop(add(iface, "port"), "isolated", "yes"))
		return false;
	param = add(add(iface, "filterref"), "parameter");
	if (!param || !prop(param->parent, "filter", "clean-traffic"))
		return false;
	return prop(param, "name", "CTRL_IP_LEARNING") && prop(param, "value", "dhcp");
}

/* The limit both ways; inbound with peak = average too: on Open vSwitch libvirt makes the average
 * the queue's min-rate (a guarantee, no limit) and only the peak its max-rate (on a Linux bridge
 * the peak is htb's ceil, the same limit). */
static bool add_bandwidth(xmlNode *iface, uint32_t kbps)
{
	xmlNode *bw = add(iface, "bandwidth"), *in;
	char avg[32];

	snprintf(avg, sizeof(avg), "%llu", (unsigned long long)pool_bandwidth_kib(kbps));
	in = add(bw, "inbound");
	return prop(in, "average", avg) && prop(in, "peak", avg) && prop(add(bw, "outbound"), "average", avg);
}

static bool model_is_valid(const char *model)
{
	static const char *const models[] = { "virtio", "e1000e", "e1000", "rtl8139" };

	for (size_t i = 0; i < ELEMENTSOF(models); i++)
		if (strcmp(model, models[i]) == 0)
			return true;
	return false;
}

int pool_nic_interface_xml(const struct pool_nic *nic, const char *model, xmlNode **ret, struct vdi_error *err)
{
	xmlNode *iface;
	int r;

	r = pool_nic_check(nic, err);
	if (r < 0)
		return r;
	if (!model)
		model = "virtio";
	else if (!model_is_valid(model))
		return vdi_error_set(err, -EINVAL, "unknown NIC model '%s': virtio, e1000e, e1000 or rtl8139", model);
	if (nic->kind == POOL_NIC_TEMPLATE)
		return vdi_error_set(err, -EINVAL, "the template's own NICs make no new interface");
	iface = xmlNewNode(NULL, (const xmlChar *)"interface");
	if (!iface)
		return -ENOMEM;
	if (!add_source(iface, nic) || !prop(add(iface, "model"), "type", model) ||
	    (nic->isolated && !add_isolation(iface)) || (nic->bandwidth_kbps && !add_bandwidth(iface, nic->bandwidth_kbps))) {
		xmlFreeNode(iface);
		return -ENOMEM;
	}
	*ret = iface;
	return 0;
}
