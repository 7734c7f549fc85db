/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Firmware and TPM: which a host offers (its domain capabilities), and whether a domain has firmware
 * state of its own (an NVRAM, a TPM) that a pooled reset wipes (desktop.c does the wiping).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include "private.h"

/* A domcapabilities document is ~10 KiB; anything near this is not one. */
#define DOMCAPS_MAX (4u << 20)

static bool is_supported(const xmlNode *n)
{
	_cleanup_free_ char *s = pool_xml_prop(n, "supported");

	return s && strcmp(s, "yes") == 0;
}

/* Whether e has a <value> child element whose text is value (NULL: any non-empty text). */
static bool has_value(xmlNode *e, const char *value)
{
	for (xmlNode *v = e ? e->children : NULL; v; v = v->next) {
		xmlChar *text;
		bool match;

		if (!pool_xml_is_elem(v, "value"))
			continue;
		text = xmlNodeGetContent(v);
		match = text && *text && (!value || xmlStrcmp(text, (const xmlChar *)value) == 0);
		xmlFree(text);
		if (match)
			return true;
	}
	return false;
}

/* parent's <enum name='name'>, or NULL. */
static xmlNode *enum_of(xmlNode *parent, const char *name)
{
	for (xmlNode *e = parent ? parent->children : NULL; e; e = e->next) {
		_cleanup_free_ char *n = pool_xml_is_elem(e, "enum") ? pool_xml_prop(e, "name") : NULL;

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

/*
 * From <os>: UEFI when libvirt can autoselect an EFI firmware (<enum name='firmware'> has efi) or lists a
 * loader at all (an OVMF a template names by path).
 *
 * Secure Boot with enrolled keys: libvirt 9.0's domain capabilities do not list the features of the
 * firmware descriptors it found (secure-boot, enrolled-keys), only <loader><enum name='secure'>, whose
 * "yes" says that a descriptor of a Secure Boot build (one that requires SMM) matches q35 on x86_64.
 * So secure_boot is: efi autoselection offered, a loader listed, and secure "yes".  Whether that build's
 * variables template has keys enrolled is not shown: Debian's ovmf ships the Secure Boot code with the
 * Microsoft-keys variables (OVMF_CODE_4M.ms.fd + OVMF_VARS_4M.ms.fd, descriptor "sb-enrolled") in the one
 * package, so there one comes with the other.  On a host where it does not, libvirt refuses the
 * desktop's start (no firmware satisfies enrolled-keys) with its own message: a failed start, not a
 * desktop that boots without Secure Boot.
 */
static void read_os(xmlNode *os, struct pool_hw_features *ret)
{
	xmlNode *loader = pool_xml_child(os, "loader");
	bool autoselect = has_value(enum_of(os, "firmware"), "efi");
	bool loaders = is_supported(loader) && has_value(loader, NULL);

	if (!is_supported(os))
		return;
	ret->uefi = autoselect || loaders;
	ret->secure_boot = autoselect && loaders && has_value(enum_of(loader, "secure"), "yes");
}

/* From <devices><tpm>: swtpm when the emulator backend is offered (libvirt lists it only when it finds
 * swtpm) in version 2.0 (a libvirt that lists no versions offers 2.0 with the emulator). */
static void read_tpm(xmlNode *tpm, struct pool_hw_features *ret)
{
	xmlNode *versions = enum_of(tpm, "backendVersion");

	ret->tpm = is_supported(tpm) && has_value(enum_of(tpm, "backendModel"), "emulator") &&
		   (!versions || has_value(versions, "2.0"));
}

int pool_domcaps_read(const char *xml, struct pool_hw_features *ret)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root;

	*ret = (struct pool_hw_features){ 0 };
	if (!xml || !*xml || strlen(xml) > DOMCAPS_MAX)
		return -EINVAL;
	doc = xmlReadMemory(xml, (int)strlen(xml), "domcapabilities.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!pool_xml_is_elem(root, "domainCapabilities"))
		return -EINVAL;
	read_os(pool_xml_child(root, "os"), ret);
	read_tpm(pool_xml_child(pool_xml_child(root, "devices"), "tpm"), ret);
	return 0;
}

int pool_host_hardware(struct pool_host *host, struct pool_hw_features *ret, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_free_ char *caps = NULL;
	char type[sizeof(host->virt_type)];
	int r;

	*ret = (struct pool_hw_features){ 0 };
	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&host->lock);
	snprintf(type, sizeof(type), "%s", host->virt_type);
	pthread_mutex_unlock(&host->lock);

	caps = virConnectGetDomainCapabilities(conn, NULL, "x86_64", "q35", type, 0);
	if (!caps)
		return pool_libvirt_error(err, "cannot read the domain capabilities (x86_64, q35, %s) of %s", type,
					  host->opts.uri);
	r = pool_domcaps_read(caps, ret);
	if (r < 0)
		return vdi_error_set(err, r, "the domain capabilities of %s are not XML vdi can read", host->opts.uri);
	return 0;
}

/* Whether os (a domain's <os>) asks for a firmware with an NVRAM of its own. */
static bool os_has_nvram(xmlNode *os)
{
	_cleanup_free_ char *firmware = pool_xml_prop(os, "firmware");
	_cleanup_free_ char *loader = pool_xml_prop(pool_xml_child(os, "loader"), "type");

	return (firmware && strcmp(firmware, "efi") == 0) || (loader && strcmp(loader, "pflash") == 0) ||
	       pool_xml_child(os, "nvram");
}

int pool_domxml_firmware_state(const char *xml)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *root;

	if (!xml || !*xml)
		return -EINVAL;
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!pool_xml_is_elem(root, "domain"))
		return -EINVAL;
	return os_has_nvram(pool_xml_child(root, "os")) || pool_xml_child(pool_xml_child(root, "devices"), "tpm");
}
