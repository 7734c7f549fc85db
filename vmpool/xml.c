/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The few libxml2 steps the XML files of vmpool (domxml.c, domxml-read.c, clone-devices.c, hardware.c, network.c)
 * share, and its one-time set-up. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "private.h"

static void xml_init(void)
{
	xmlInitParser();
	/* libxml2 2.9 registers its Relax-NG type libraries on first use, unlocked: two workers that
	 * define their first clones at once through a driver that runs in this process (test:///default
	 * validates the schema here, not in libvirtd) would race, one table leaking. */
	xmlRelaxNGInitTypes();
}

void pool_xml_init_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, xml_init);
}

bool pool_xml_is_elem(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !n->ns && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

xmlNode *pool_xml_child(xmlNode *parent, const char *name)
{
	for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (pool_xml_is_elem(n, name))
			return n;
	return NULL;
}

char *pool_xml_prop(const xmlNode *n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
	char *s = v ? strdup((const char *)v) : NULL;

	xmlFree(v);
	return s;
}

xmlNode *pool_xml_add(xmlNode *parent, const char *name)
{
	return parent ? xmlNewChild(parent, NULL, (const xmlChar *)name, NULL) : NULL;
}

bool pool_xml_set(xmlNode *n, const char *name, const char *value)
{
	return n && xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

xmlNode *pool_xml_ns_child(xmlNode *parent, const char *href, const char *name)
{
	for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
		    xmlStrcmp(n->ns->href, (const xmlChar *)href) == 0 && xmlStrcmp(n->name, (const xmlChar *)name) == 0)
			return n;
	return NULL;
}

bool pool_xml_prop_is(const xmlNode *n, const char *name, const char *value)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
	bool is = v && xmlStrcmp(v, (const xmlChar *)value) == 0;

	xmlFree(v);
	return is;
}

xmlNode *pool_xml_ensure_child(xmlNode *parent, const char *name)
{
	xmlNode *n = pool_xml_child(parent, name);

	return n ? n : xmlNewChild(parent, NULL, (const xmlChar *)name, NULL);
}

void pool_xml_remove(xmlNode *n)
{
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

void pool_xml_remove_children(xmlNode *parent, const char *name)
{
	xmlNode *n = parent ? parent->children : NULL;

	while (n) {
		xmlNode *next = n->next;

		if (pool_xml_is_elem(n, name))
			pool_xml_remove(n);
		n = next;
	}
}

int pool_xml_parse_domain(const char *xml, xmlDocPtr *ret_doc, xmlNode **ret_devices, struct vdi_error *err)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root;
	size_t len;

	if (!xml)
		return vdi_error_set(err, -EINVAL, "no domain XML");
	len = strlen(xml);
	if (len == 0 || len > POOL_XML_MAX)
		return vdi_error_set(err, -EINVAL, "domain XML is empty or larger than %d bytes", POOL_XML_MAX);

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

	*ret_devices = pool_xml_ensure_child(root, "devices");
	if (!*ret_devices)
		return -ENOMEM;
	*ret_doc = TAKE_PTR(doc);
	return 0;
}

int pool_xml_dump(xmlDocPtr doc, char **ret)
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
