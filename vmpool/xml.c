/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The few libxml2 steps the XML files of vmpool (domxml.c, hardware.c, network.c) share, and its one-time set-up. */
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
