/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "alloc.h"
#include "log.h"
#include "private.h"

/*
 * libvirt networks through libvirt's network API: what a host has, and the
 * NAT, routed and isolated networks vdi makes for an admin.  The XML parts
 * (pool_netxml_*) are pure.
 */

#define NETXML_MAX (256 * 1024)
#define PREFIX_MIN 8
#define PREFIX_MAX 30

static void network_info_finish(struct pool_network_info *info)
{
	free(info->name);
	free(info->mode);
	free(info->bridge);
	free(info->subnet);
	*info = (struct pool_network_info){ 0 };
}

/* The IPv4 subnet of an <ip> element: 1, 0 when it is not IPv4 (or says nothing usable). */
static int ip_subnet(xmlNode *ip, struct pool_subnet *ret)
{
	_cleanup_free_ char *family = pool_xml_prop(ip, "family"), *address = pool_xml_prop(ip, "address"),
			    *netmask = pool_xml_prop(ip, "netmask"), *prefix = pool_xml_prop(ip, "prefix");

	if (family && !streq(family, "ipv4"))
		return 0;
	return pool_subnet_from_ip(address, netmask, prefix, ret) < 0 ? 0 : 1;
}

int pool_netxml_read(const char *xml, struct pool_network_info *info, struct pool_subnet *subnets, size_t max,
		     size_t *ret_n)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root, *fwd, *br;
	struct pool_subnet s;
	size_t n = 0;
	char buf[20];

	*info = (struct pool_network_info){ 0 };
	if (!xml || !*xml || strlen(xml) > NETXML_MAX)
		return -EINVAL;
	doc = xmlReadMemory(xml, (int)strlen(xml), "network.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!pool_xml_is_elem(root, "network"))
		return -EINVAL;
	fwd = pool_xml_child(root, "forward");
	br = pool_xml_child(root, "bridge");
	info->mode = fwd ? pool_xml_prop(fwd, "mode") : strdup("isolated");
	if (fwd && !info->mode)
		info->mode = strdup("nat"); /* libvirt's default forward mode */
	info->bridge = br ? pool_xml_prop(br, "name") : NULL;
	for (xmlNode *ip = root->children; ip; ip = ip->next) {
		if (!pool_xml_is_elem(ip, "ip") || ip_subnet(ip, &s) <= 0)
			continue;
		if (!info->subnet && pool_subnet_format(&s, buf, sizeof(buf)) >= 0)
			info->subnet = strdup(buf);
		if (n < max)
			subnets[n] = s;
		n++;
	}
	if (!info->mode || (n > 0 && !info->subnet)) {
		network_info_finish(info);
		return -ENOMEM;
	}
	if (ret_n)
		*ret_n = n < max ? n : max;
	return 0;
}

static const char *forward_of(const char *mode)
{
	if (!mode)
		return NULL;
	if (streq(mode, "nat"))
		return "<forward mode='nat'/>";
	if (streq(mode, "routed"))
		return "<forward mode='route'/>";
	if (streq(mode, "isolated"))
		return "";
	return NULL;
}

int pool_netxml_new(const char *name, const char *mode, const struct pool_subnet *s, char **ret,
		    struct vdi_error *err)
{
	const char *fwd = forward_of(mode);
	char gw[16], first[16], last[16];
	uint32_t size;

	if (!pool_network_name_is_valid(name))
		return vdi_error_set(err, -EINVAL, "network name '%s' must be 1-%d characters of [A-Za-z0-9_.-], "
						   "not starting with '.'", name ? name : "", POOL_NETWORK_NAME_MAX);
	if (!fwd)
		return vdi_error_set(err, -EINVAL, "network mode '%s' is none of nat, isolated, routed",
				      mode ? mode : "");
	if (s->prefix < PREFIX_MIN || s->prefix > PREFIX_MAX)
		return vdi_error_set(err, -EINVAL, "subnet prefix /%u is outside /%d-/%d", s->prefix, PREFIX_MIN,
				      PREFIX_MAX);
	size = 1u << (32 - s->prefix);
	pool_subnet_address(s, 1, gw);
	pool_subnet_address(s, 2, first);
	pool_subnet_address(s, size - 2, last);
	/* Names are [A-Za-z0-9_.-] and the rest is numbers: nothing to escape. */
	if (asprintf(ret,
		     "<network><name>%s</name>%s"
		     "<ip address='%s' prefix='%u'><dhcp><range start='%s' end='%s'/></dhcp></ip>"
		     "</network>",
		     name, fwd, gw, s->prefix, first, last) < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void virNetworkFreep(virNetworkPtr *n)
{
	if (*n)
		virNetworkFree(*n);
}
#define _cleanup_net_ _cleanup_(virNetworkFreep)

static int read_network(virNetworkPtr net, struct pool_network_info *info, struct vdi_error *err)
{
	_cleanup_free_ char *xml = virNetworkGetXMLDesc(net, 0);
	const char *name = virNetworkGetName(net);
	int autostart = 0, r;

	if (!xml)
		return pool_libvirt_error(err, "cannot read network %s", name);
	r = pool_netxml_read(xml, info, NULL, 0, NULL);
	if (r < 0)
		return r == -ENOMEM ? r : vdi_error_set(err, r, "network %s has XML vdi cannot read", name);
	info->name = strdup(name);
	info->active = virNetworkIsActive(net) == 1;
	info->autostart = virNetworkGetAutostart(net, &autostart) == 0 && autostart;
	if (!info->name) {
		network_info_finish(info);
		return -ENOMEM;
	}
	return 0;
}

void pool_network_list_free(struct pool_network_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		network_info_finish(&list[i]);
	free(list);
}

int pool_network_list(struct pool_host *host, struct pool_network_info **ret, size_t *ret_n,
		      struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	struct pool_network_info *list = NULL;
	virNetworkPtr *nets = NULL;
	size_t n = 0;
	int count, r;

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	count = virConnectListAllNetworks(conn, &nets, 0);
	if (count < 0)
		return pool_libvirt_error(err, "cannot list networks");
	list = vdi_calloc((size_t)count + 1, sizeof(*list));
	if (!list)
		r = -ENOMEM;
	for (int i = 0; i < count; i++) {
		if (r >= 0) {
			int q = read_network(nets[i], &list[n], err);

			if (q >= 0)
				n++;
			else if (virNetworkIsActive(nets[i]) >= 0)
				r = q; /* a network that vanished meanwhile is not an error */
		}
		virNetworkFree(nets[i]);
	}
	free(nets);
	if (r < 0) {
		pool_network_list_free(list, n);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

/* -EINVAL when s overlaps a subnet of one of conn's networks (the message names it). */
static int check_overlap(virConnectPtr conn, const struct pool_subnet *s, const char *cidr, struct vdi_error *err)
{
	virNetworkPtr *nets = NULL;
	int count, r = 0;

	count = virConnectListAllNetworks(conn, &nets, 0);
	if (count < 0)
		return pool_libvirt_error(err, "cannot list networks");
	for (int i = 0; i < count; i++) {
		_cleanup_free_ char *xml = r < 0 ? NULL : virNetworkGetXMLDesc(nets[i], 0);
		struct pool_network_info info;
		struct pool_subnet subnets[8];
		size_t k = 0;

		if (xml && pool_netxml_read(xml, &info, subnets, ELEMENTSOF(subnets), &k) >= 0) {
			for (size_t j = 0; j < k && r >= 0; j++) {
				char other[20];

				if (!pool_subnet_overlaps(s, &subnets[j]))
					continue;
				pool_subnet_format(&subnets[j], other, sizeof(other));
				r = vdi_error_set(err, -EINVAL, "subnet %s overlaps %s of network %s", cidr, other,
						  virNetworkGetName(nets[i]));
			}
			network_info_finish(&info);
		}
		virNetworkFree(nets[i]);
	}
	free(nets);
	return r;
}

/* Defines xml (borrowed) as network name on conn, starts it and sets autostart; undefines it on failure. */
static int define_and_start(virConnectPtr conn, const char *name, const char *xml, struct vdi_error *err)
{
	_cleanup_net_ virNetworkPtr net = virNetworkDefineXML(conn, xml);
	int r;

	if (!net)
		return pool_libvirt_error(err, "cannot define network %s", name);
	if (virNetworkCreate(net) < 0) {
		r = pool_libvirt_error(err, "cannot start network %s", name);
		goto undefine;
	}
	if (virNetworkSetAutostart(net, 1) < 0) {
		r = pool_libvirt_error(err, "cannot autostart network %s", name);
		if (virNetworkDestroy(net) < 0)
			vdi_debug("cannot stop network %s after a failed add: %s", name, virGetLastErrorMessage());
		goto undefine;
	}
	return 0;

undefine:
	if (virNetworkUndefine(net) < 0)
		vdi_debug("cannot undefine network %s after a failed add: %s", name, virGetLastErrorMessage());
	return r;
}

int pool_network_add(struct pool_host *host, const char *name, const char *mode, const char *subnet,
		     struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_net_ virNetworkPtr existing = NULL;
	_cleanup_free_ char *xml = NULL;
	struct pool_subnet s;
	int r;

	r = pool_subnet_parse(subnet, &s, err);
	if (r < 0)
		return r;
	r = pool_netxml_new(name, mode, &s, &xml, err);
	if (r < 0)
		return r;
	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	existing = virNetworkLookupByName(conn, name);
	if (existing)
		return vdi_error_set(err, -EEXIST, "network %s exists already", name);
	if (!virGetLastError() || virGetLastError()->code != VIR_ERR_NO_NETWORK)
		return pool_libvirt_error(err, "cannot look up network %s", name);
	virResetLastError();
	r = check_overlap(conn, &s, subnet, err);
	if (r < 0)
		return r;
	return define_and_start(conn, name, xml, err);
}

/* Libvirt network name (checked: -EINVAL) on host: *ret_conn (even on failure: the caller frees it) and
 * *ret_net, new references; -ENOENT when there is none. */
static int open_network(struct pool_host *host, const char *name, virConnectPtr *ret_conn, virNetworkPtr *ret_net,
			struct vdi_error *err)
{
	int r;

	if (!pool_network_name_is_valid(name))
		return vdi_error_set(err, -EINVAL, "invalid network name '%s'", name ? name : "");
	r = pool_host_conn(host, ret_conn, err);
	if (r < 0)
		return r;
	*ret_net = virNetworkLookupByName(*ret_conn, name);
	return *ret_net ? 0 : pool_libvirt_error(err, "network %s", name);
}

int pool_network_remove(struct pool_host *host, const char *name, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_net_ virNetworkPtr net = NULL;
	int r = open_network(host, name, &conn, &net, err);

	if (r < 0)
		return r;
	if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0)
		return pool_libvirt_error(err, "cannot stop network %s", name);
	/* A transient network is gone once stopped. */
	if (virNetworkIsPersistent(net) == 1 && virNetworkUndefine(net) < 0)
		return pool_libvirt_error(err, "cannot undefine network %s", name);
	return 0;
}

int pool_host_has_network(struct pool_host *host, const char *name, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_net_ virNetworkPtr net = NULL;
	int r;

	if (!pool_network_name_is_valid(name))
		return 0;
	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	net = virNetworkLookupByName(conn, name);
	if (!net) {
		if (virGetLastError() && virGetLastError()->code == VIR_ERR_NO_NETWORK) {
			virResetLastError();
			return 0;
		}
		return pool_libvirt_error(err, "cannot look up network %s", name);
	}
	r = virNetworkIsActive(net);
	return r < 0 ? pool_libvirt_error(err, "cannot query network %s", name) : r == 1;
}

int pool_network_ports(struct pool_host *host, const char *name, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_net_ virNetworkPtr net = NULL;
	virNetworkPortPtr *ports = NULL;
	int n = open_network(host, name, &conn, &net, err);

	if (n < 0)
		return n;
	if (virNetworkIsActive(net) != 1)
		return 0; /* a stopped network has no ports */
	n = virNetworkListAllPorts(net, &ports, 0);
	if (n < 0) {
		/* A driver without ports (the test driver) cannot tell: none as far as anyone knows. */
		if (virGetLastError() && virGetLastError()->code == VIR_ERR_NO_SUPPORT) {
			virResetLastError();
			return 0;
		}
		return pool_libvirt_error(err, "cannot list the ports of network %s", name);
	}
	for (int i = 0; i < n; i++)
		virNetworkPortFree(ports[i]);
	free(ports);
	return n;
}
