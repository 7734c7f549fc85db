/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Readers of libvirt's XML: a live domain's SPICE display and ticket, a domain's vdi metadata, disks and MACs,
 * a storage volume's backing file and a storage pool's directory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "alloc.h"
#include "private.h"

int pool_domxml_spice_ticket(const char *live_xml, const char *password, const char *valid_to, char **ret,
			     struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices, *g = NULL;
	xmlBufferPtr buf;
	int r;

	r = pool_xml_parse_domain(live_xml, &doc, &devices, err);
	if (r < 0)
		return r;
	for (xmlNode *n = devices->children; n && !g; n = n->next) {
		_cleanup_free_ char *type = pool_xml_is_elem(n, "graphics") ? pool_xml_prop(n, "type") : NULL;

		if (type && streq(type, "spice"))
			g = n;
	}
	if (!g)
		return vdi_error_set(err, -ENOENT, "the desktop has no SPICE display");

	if (!pool_xml_set(g, "passwd", password))
		return -ENOMEM;
	if (valid_to) {
		if (!pool_xml_set(g, "passwdValidTo", valid_to))
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

	r = pool_xml_parse_domain(xml, &doc, &devices, NULL);
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
		if (pool_domxml_is_system_disk(d)) {
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

	r = pool_xml_parse_domain(live_xml, &doc, &devices, NULL);
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

	r = pool_xml_parse_domain(xml, &doc, &devices, NULL);
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

	if (!xml || !*xml || strlen(xml) > POOL_XML_MAX)
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
