/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "alloc.h"
#include "log.h"
#include "private.h"

/* A running desktop's network: its NICs' bandwidth limit, changed live, and its addresses. */

/* Sets the average limits (KiB/s; 0: none) of the NICs with MAC addresses macs (borrowed) on dom; the
 * inbound peak the same (nic.c says why). */
static int set_limits(virDomainPtr dom, const char *domain, char **macs, unsigned kib, unsigned flags,
		      struct vdi_error *err)
{
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0, r = 0;

	if (virTypedParamsAddUInt(&params, &n, &max, VIR_DOMAIN_BANDWIDTH_IN_AVERAGE, kib) < 0 ||
	    virTypedParamsAddUInt(&params, &n, &max, VIR_DOMAIN_BANDWIDTH_IN_PEAK, kib) < 0 ||
	    virTypedParamsAddUInt(&params, &n, &max, VIR_DOMAIN_BANDWIDTH_OUT_AVERAGE, kib) < 0) {
		virTypedParamsFree(params, n);
		return -ENOMEM;
	}
	for (char **m = macs; *m && r >= 0; m++)
		if (virDomainSetInterfaceParameters(dom, *m, params, n, flags) < 0)
			r = pool_libvirt_error(err, "cannot set the bandwidth of NIC %s of %sdesktop %s", *m,
					       flags & VIR_DOMAIN_AFFECT_LIVE ? "running " : "", domain);
	virTypedParamsFree(params, n);
	return r;
}

/* The MACs of dom's NICs, from its live (or inactive) XML: a new strv; -ENOENT when it has none. */
static int nic_macs(virDomainPtr dom, const char *domain, bool live, char ***ret, struct vdi_error *err)
{
	_cleanup_free_ char *xml = virDomainGetXMLDesc(dom, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
	int r;

	if (!xml)
		return pool_libvirt_error(err, "cannot read desktop %s", domain);
	r = pool_domxml_interface_macs(xml, ret);
	if (r < 0)
		return vdi_error_set(err, r, "cannot read the NICs of desktop %s", domain);
	if (!(*ret)[0]) {
		*ret = pool_strv_free(*ret);
		return vdi_error_set(err, -ENOENT, "desktop %s has no NIC", domain);
	}
	return 0;
}

int pool_desktop_set_bandwidth(struct pool_host *host, const char *domain, uint32_t kbps, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	char **macs = NULL;
	unsigned kib = (unsigned)pool_bandwidth_kib(kbps);
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	/* The test driver refuses LIVE|CONFIG in one call (qemu takes it): one call each. */
	r = nic_macs(dom, domain, false, &macs, err);
	if (r >= 0)
		r = set_limits(dom, domain, macs, kib, VIR_DOMAIN_AFFECT_CONFIG, err);
	macs = pool_strv_free(macs);
	if (r < 0 || virDomainIsActive(dom) != 1)
		return r;
	r = nic_macs(dom, domain, true, &macs, err);
	if (r >= 0)
		r = set_limits(dom, domain, macs, kib, VIR_DOMAIN_AFFECT_LIVE, err);
	pool_strv_free(macs);
	/* Stopped meanwhile: its definition has the limit, which is all it needs. */
	return r < 0 && virDomainIsActive(dom) == 0 ? 0 : r;
}

bool pool_address_is_shown(int type, const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (type == VIR_IP_ADDR_TYPE_IPV4)
		return inet_pton(AF_INET, addr, &a4) == 1 && (ntohl(a4.s_addr) >> 24) != 127;
	if (type == VIR_IP_ADDR_TYPE_IPV6)
		return inet_pton(AF_INET6, addr, &a6) == 1 && !IN6_IS_ADDR_LOOPBACK(&a6) && !IN6_IS_ADDR_LINKLOCAL(&a6);
	return false;
}

static bool strv_has(char **strv, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (streq(strv[i], s))
			return true;
	return false;
}

int pool_addresses_collect(virDomainInterfacePtr *ifaces, size_t n, char ***ret)
{
	size_t total = 0, k = 0;
	char **strv;

	for (size_t i = 0; i < n; i++)
		total += ifaces[i]->naddrs;
	strv = vdi_calloc(total + 1, sizeof(*strv));
	if (!strv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		for (unsigned j = 0; j < ifaces[i]->naddrs; j++) {
			const virDomainIPAddress *a = &ifaces[i]->addrs[j];

			if (!a->addr || !pool_address_is_shown(a->type, a->addr) || strv_has(strv, k, a->addr))
				continue;
			strv[k] = strdup(a->addr);
			if (!strv[k]) {
				pool_strv_free(strv);
				return -ENOMEM;
			}
			k++;
		}
	}
	*ret = strv;
	return 0;
}

/* The addresses source (VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*) tells of dom: a new strv; -errno from libvirt. */
static int addresses_from(virDomainPtr dom, unsigned source, char ***ret)
{
	virDomainInterfacePtr *ifaces = NULL;
	int n = virDomainInterfaceAddresses(dom, &ifaces, source, 0), r;

	if (n < 0)
		return -EIO;
	r = pool_addresses_collect(ifaces, (size_t)n, ret);
	for (int i = 0; i < n; i++)
		virDomainInterfaceFree(ifaces[i]);
	free(ifaces);
	return r;
}

int pool_desktop_addresses(struct pool_host *host, const char *domain, char ***ret, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	char **strv = NULL;
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	r = virDomainIsActive(dom) == 1 ? addresses_from(dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, &strv) : 0;
	if (r == -EIO) {
		r = pool_libvirt_error(err, "cannot read the DHCP leases of desktop %s", domain);
		/* Stopped meanwhile: it has no addresses. */
		if (virDomainIsActive(dom) != 0)
			return r;
		r = 0;
	}
	if (r < 0)
		return r;
	if (strv && !strv[0]) {
		/* No lease (a bridge, or no DHCP on the network): ask the guest agent, if there is one. */
		char **agent = NULL;

		if (addresses_from(dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, &agent) >= 0) {
			pool_strv_free(strv);
			strv = agent;
		} else {
			vdi_debug("no guest agent addresses for %s: %s", domain, virGetLastErrorMessage());
			virResetLastError();
		}
	}
	if (!strv)
		strv = vdi_calloc(1, sizeof(*strv));
	if (!strv)
		return -ENOMEM;
	*ret = strv;
	return 0;
}
