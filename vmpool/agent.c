/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "alloc.h"
#include "log.h"
#include "private.h"

/*
 * A desktop's guest agent (qemu-guest-agent on the virtio port org.qemu.guest_agent.0): whether one answers,
 * a shutdown through it, and what it tells of the guest (host name, logged-in users, addresses).  Calls
 * lookup.c, xml.c, desktop-net.c (which addresses are shown), error.c.
 */

int pool_domxml_agent_state(const char *xml)
{
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	xmlNode *devices;
	int r;

	r = pool_xml_parse_domain(xml, &doc, &devices, NULL);
	if (r < 0)
		return r;
	for (xmlNode *c = devices->children; c; c = c->next) {
		xmlNode *target = pool_xml_child(c, "target");

		if (!pool_xml_is_elem(c, "channel") || !pool_xml_prop_is(target, "type", "virtio") ||
		    !pool_xml_prop_is(target, "name", POOL_AGENT_CHANNEL))
			continue;
		return pool_xml_prop_is(target, "state", "connected") ? POOL_AGENT_CONNECTED : POOL_AGENT_DISCONNECTED;
	}
	return POOL_AGENT_NONE;
}

int pool_agent_state(virDomainPtr dom)
{
	_cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0);

	if (!xml)
		return -EIO;
	return pool_domxml_agent_state(xml);
}

/*
 * libvirt waits for an agent's answer without end by default (after its own 5 s guest-sync): an agent that
 * hangs in a loaded guest would hold a worker for good.  vdi's domains are vdi's, so their agent commands get
 * this many seconds (libvirtd keeps it per domain while it runs).
 */
#define AGENT_TIMEOUT_S 10

static void agent_timeout(virDomainPtr dom, const char *domain)
{
	if (virDomainAgentSetResponseTimeout(dom, AGENT_TIMEOUT_S, 0) < 0) {
		vdi_debug("cannot limit the guest agent answers of %s to %d s: %s", domain, AGENT_TIMEOUT_S,
			  virGetLastErrorMessage());
		virResetLastError();
	}
}

/* ---- what the agent tells ------------------------------------------------------------------ */

/* Appends a copy of s (borrowed) to *strv (a NULL-terminated array of *n strings) unless it is there. */
static int strv_add_once(char ***strv, size_t *n, const char *s)
{
	char **grown;

	for (size_t i = 0; i < *n; i++)
		if (streq((*strv)[i], s))
			return 0;
	grown = realloc(*strv, (*n + 2) * sizeof(**strv));
	if (!grown)
		return -ENOMEM;
	*strv = grown;
	grown[*n] = strdup(s);
	if (!grown[*n])
		return -ENOMEM;
	grown[++*n] = NULL;
	return 0;
}

/* The string parameter name (printf-made) of params, or NULL. */
static const char *param_str(virTypedParameterPtr params, int n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static const char *param_str(virTypedParameterPtr params, int n, const char *fmt, ...)
{
	const char *v = NULL;
	char name[VIR_TYPED_PARAM_FIELD_LENGTH];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return virTypedParamsGetString(params, n, name, &v) == 1 ? v : NULL;
}

/* The unsigned parameter name (printf-made) of params, 0 when it has none. */
static unsigned param_count(virTypedParameterPtr params, int n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static unsigned param_count(virTypedParameterPtr params, int n, const char *fmt, ...)
{
	char name[VIR_TYPED_PARAM_FIELD_LENGTH];
	unsigned v = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return virTypedParamsGetUInt(params, n, name, &v) == 1 ? v : 0;
}

static int users_from(virTypedParameterPtr params, int n, char ***ret)
{
	unsigned count = param_count(params, n, "user.count");
	size_t k = 0;
	int r = 0;

	for (unsigned i = 0; i < count && r >= 0; i++) {
		const char *name = param_str(params, n, "user.%u.name", i);

		if (name && name[0])
			r = strv_add_once(ret, &k, name);
	}
	return r;
}

static int addresses_from(virTypedParameterPtr params, int n, char ***ret)
{
	unsigned count = param_count(params, n, "if.count");
	size_t k = 0;
	int r = 0;

	for (unsigned i = 0; i < count && r >= 0; i++) {
		unsigned naddrs = param_count(params, n, "if.%u.addr.count", i);

		for (unsigned j = 0; j < naddrs && r >= 0; j++) {
			const char *type = param_str(params, n, "if.%u.addr.%u.type", i, j);
			const char *addr = param_str(params, n, "if.%u.addr.%u.addr", i, j);
			int t = streq_ptr(type, "ipv4") ? VIR_IP_ADDR_TYPE_IPV4 : VIR_IP_ADDR_TYPE_IPV6;

			if (type && addr && pool_address_is_shown(t, addr))
				r = strv_add_once(ret, &k, addr);
		}
	}
	return r;
}

int pool_guest_info_from_params(virTypedParameterPtr params, int n, struct pool_guest_info *ret)
{
	const char *hostname = param_str(params, n, "hostname");
	int r;

	*ret = (struct pool_guest_info){ .agent = true };
	ret->users = vdi_calloc(1, sizeof(char *));
	ret->addresses = vdi_calloc(1, sizeof(char *));
	if (!ret->users || !ret->addresses || (hostname && hostname[0] && !(ret->hostname = strdup(hostname)))) {
		r = -ENOMEM;
		goto fail;
	}
	r = users_from(params, n, &ret->users);
	if (r >= 0)
		r = addresses_from(params, n, &ret->addresses);
	if (r >= 0)
		return 0;
fail:
	pool_guest_info_finish(ret);
	return r;
}

void pool_guest_info_finish(struct pool_guest_info *info)
{
	free(info->hostname);
	pool_strv_free(info->users);
	pool_strv_free(info->addresses);
	*info = (struct pool_guest_info){ 0 };
}

#define GUEST_INFO_TYPES (VIR_DOMAIN_GUEST_INFO_USERS | VIR_DOMAIN_GUEST_INFO_HOSTNAME | VIR_DOMAIN_GUEST_INFO_INTERFACES)

/* What the agent tells of types into *ret (as pool_guest_info_from_params); < 0 when it does not answer them. */
static int guest_info_of(virDomainPtr dom, unsigned types, struct pool_guest_info *ret)
{
	virTypedParameterPtr params = NULL;
	int n = 0, r;

	if (virDomainGetGuestInfo(dom, types, &params, &n, 0) < 0)
		return -EIO;
	r = pool_guest_info_from_params(params, n, ret);
	virTypedParamsFree(params, n);
	return r;
}

/*
 * libvirt fails the whole call when the agent lacks one of the commands asked for (an older qemu-ga, or one
 * with guest-get-users or guest-network-get-interfaces blocked): then each on its own, and what answers is kept.
 */
static int guest_info_each(virDomainPtr dom, struct pool_guest_info *ret)
{
	struct pool_guest_info name = { 0 }, users = { 0 }, addrs = { 0 };
	int answered = (guest_info_of(dom, VIR_DOMAIN_GUEST_INFO_HOSTNAME, &name) >= 0) +
		       (guest_info_of(dom, VIR_DOMAIN_GUEST_INFO_USERS, &users) >= 0) +
		       (guest_info_of(dom, VIR_DOMAIN_GUEST_INFO_INTERFACES, &addrs) >= 0);

	/* Each answer holds its own type only (the others empty); a type that failed is empty. */
	*ret = (struct pool_guest_info){ .agent = true, .hostname = name.hostname, .users = users.users,
					 .addresses = addrs.addresses };
	name.hostname = NULL;
	users.users = addrs.addresses = NULL;
	pool_guest_info_finish(&name);
	pool_guest_info_finish(&users);
	pool_guest_info_finish(&addrs);
	if (!ret->users)
		ret->users = vdi_calloc(1, sizeof(char *));
	if (!ret->addresses)
		ret->addresses = vdi_calloc(1, sizeof(char *));
	if (!answered || !ret->users || !ret->addresses) {
		pool_guest_info_finish(ret);
		return answered ? -ENOMEM : -EIO;
	}
	return 0;
}

int pool_desktop_guest_info(struct pool_host *host, const char *domain, struct pool_guest_info *ret,
			    struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	int r;

	*ret = (struct pool_guest_info){ 0 };
	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	r = virDomainIsActive(dom);
	if (r < 0)
		return pool_libvirt_error(err, "cannot tell whether desktop %s runs", domain);
	if (r == 0)
		return 0;
	r = pool_agent_state(dom);
	if (r == -EIO)
		return pool_libvirt_error(err, "cannot read desktop %s", domain);
	if (r < 0)
		return vdi_error_set(err, r, "the definition of desktop %s is not XML vdi can read", domain);
	if (r != POOL_AGENT_CONNECTED)
		return 0;
	agent_timeout(dom, domain);
	r = guest_info_of(dom, GUEST_INFO_TYPES, ret);
	if (r == -EIO) {
		_cleanup_free_ char *why = strdup(virGetLastErrorMessage());

		virResetLastError();
		r = guest_info_each(dom, ret);
		if (r == -EIO)
			return vdi_error_set(err, -EIO, "the guest agent of desktop %s does not answer: %s", domain,
					     why ? why : "out of memory");
	}
	return r;
}

/* ---- shutdown ------------------------------------------------------------------------------ */

bool pool_agent_shutdown(virDomainPtr dom, const char *domain)
{
	if (pool_agent_state(dom) != POOL_AGENT_CONNECTED)
		return false;
	agent_timeout(dom, domain);
	if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) < 0) {
		vdi_debug("the guest agent of %s did not take the shutdown: %s", domain, virGetLastErrorMessage());
		virResetLastError();
		return false;
	}
	return true;
}
