/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The few libxml2 steps the XML files of vmpool (domxml.c, network.c) share. */
#include <stdlib.h>
#include <string.h>

#include "private.h"

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
