/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "private.h"

/* A stopped desktop's definition made to follow its pool's settings: its NIC and its USB redirection channels. */

/* Rewrites the inactive definition of stopped desktop domain with rewrite(xml, arg, &new, err) and defines the
 * result; what: the change, for messages. */
static int rewrite_definition(struct pool_host *host, const char *domain, const char *what,
			      int (*rewrite)(const char *xml, const void *arg, char **ret, struct vdi_error *err),
			      const void *arg, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL, redefined = NULL;
	_cleanup_free_ char *xml = NULL, *nxml = NULL;
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	if (virDomainIsActive(dom) != 0)
		return vdi_error_set(err, -EBUSY, "desktop %s must be stopped to change its %s", domain, what);
	/* Secure: the redefinition keeps the SPICE ticket. */
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml)
		return pool_libvirt_error(err, "cannot read desktop %s", domain);
	r = rewrite(xml, arg, &nxml, err);
	if (r >= 0) {
		redefined = virDomainDefineXML(conn, nxml);
		r = redefined ? 0 : pool_libvirt_error(err, "cannot change the %s of desktop %s", what, domain);
	}
	explicit_bzero(xml, strlen(xml));
	if (nxml)
		explicit_bzero(nxml, strlen(nxml));
	return r;
}

static int rewrite_nic(const char *xml, const void *arg, char **ret, struct vdi_error *err)
{
	return pool_domxml_set_nic(xml, arg, ret, err);
}

int pool_desktop_set_nic(struct pool_host *host, const char *domain, const struct pool_nic *nic, struct vdi_error *err)
{
	if (!nic || nic->kind == POOL_NIC_TEMPLATE)
		return 0;
	return rewrite_definition(host, domain, "network", rewrite_nic, nic, err);
}

static int rewrite_usb(const char *xml, const void *arg, char **ret, struct vdi_error *err)
{
	return pool_domxml_set_usb_redirect(xml, *(const int *)arg, ret, err);
}

int pool_desktop_set_usb_redirect(struct pool_host *host, const char *domain, int n, struct vdi_error *err)
{
	if (n == POOL_USB_REDIRECT_TEMPLATE)
		return 0;
	if (n < 0 || n > POOL_USB_REDIRECT_MAX)
		return vdi_error_set(err, -EINVAL, "usb_redirect %d is outside 0-%d", n, POOL_USB_REDIRECT_MAX);
	return rewrite_definition(host, domain, "USB redirection channels", rewrite_usb, &n, err);
}
