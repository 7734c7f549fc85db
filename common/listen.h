/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The daemons' listen addresses ([broker] listen, [gateway] listen):
 *
 *   127.0.0.1:8080     one IPv4 address
 *   [::1]:8080         one IPv6 address (brackets required)
 *   localhost:8080     a host name, resolved once at start (its first IPv4 address, else IPv6)
 *   0.0.0.0:8080       every IPv4 address;  [::]:8080  every IPv6 address (IPv6 only)
 *   *:8080             every address, IPv4 and IPv6
 *
 * Port 0 asks for any free port (the daemon logs the one it got).  Nothing here does I/O but
 * vdi_listen_resolve()'s name look-up; neither function keeps state.
 */

#include <netinet/in.h>
#include <stddef.h>

#include "error.h"

struct vdi_listen {
	int family;                     /* AF_INET, AF_INET6, or AF_UNSPEC for "*" (every address) */
	char address[INET6_ADDRSTRLEN]; /* numeric, without brackets; "" for "*" */
	unsigned port;
};

/*
 * Splits text into its host (brackets removed; "*" kept) and port without resolving anything.
 * Returns 0, or -EINVAL with a message in msg that says what is wrong.
 */
int vdi_listen_split(const char *text, char *host, size_t hostlen, unsigned *ret_port, struct vdi_error *err);

/*
 * Parses text and resolves a host name (getaddrinfo, once) into *ret, and checks that the
 * address is one of this machine's.  Returns 0; -EINVAL for bad syntax, -EADDRNOTAVAIL for a
 * name that does not resolve or an address this machine does not have (or another -errno of
 * that check); msg says which.
 */
int vdi_listen_resolve(const char *text, struct vdi_listen *ret, struct vdi_error *err);

/* "127.0.0.1", "::1" or "every address": for logs. */
const char *vdi_listen_describe(const struct vdi_listen *l);
