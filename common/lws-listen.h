/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A resolved listen address (listen.h) as libwebsockets takes it, for both daemons' vhosts.
 * Header only: common/ does not link libwebsockets; the daemons that include this do.
 */

#include <sys/socket.h>

#include <libwebsockets.h>

#include "listen.h"

/* Sets info's port, iface and address family options from where (borrowed: it must outlive info's use). */
static inline void vdi_listen_to_lws(const struct vdi_listen *where, struct lws_context_creation_info *info)
{
	info->port = (int)where->port;
	info->iface = where->family == AF_UNSPEC ? NULL : where->address;
	/* lws puts an IPv4 address into an IPv6 socket's flow label (and so listens on every address):
	 * an IPv4 address gets an IPv4 socket.  An IPv6 address takes IPv6 alone ([::] is every IPv6
	 * address); "*" takes both, whatever net.ipv6.bindv6only says. */
	if (where->family == AF_INET)
		info->options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	else if (where->family == AF_INET6)
		info->options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE;
	else
		info->options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY;
}
