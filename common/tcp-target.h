/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * TCP target patterns of [gateway] allowed_targets: "tcp:ADDRESS[/PREFIX]:PORT[-PORT]",
 * ADDRESS numeric (IPv6 in brackets), e.g. "tcp:10.0.0.5:5900-6099" (one host's SPICE
 * ports) or "tcp:10.0.0.0/24:5900-6099" (a rack of hosts).  The config parser checks
 * them; the gateway matches console tokens' targets against them.
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct vdi_tcp_pattern {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network byte order */
	unsigned prefix;         /* leading bits that must match: 32 or 128 for one address */
	unsigned port_lo, port_hi;
};

/*
 * Parses text (with its "tcp:") into *ret.  Returns 0, or -EINVAL with a message in msg
 * that says what is wrong.  Bits beyond the prefix must be zero ("10.0.0.1/24" is refused:
 * it is probably a typo for a host).
 */
int vdi_tcp_pattern_parse(const char *text, struct vdi_tcp_pattern *ret, struct vdi_error *err);

/* Parses an exact "tcp:ADDRESS:PORT" (a token's target) into a pattern matching only it. */
int vdi_tcp_target_parse(const char *text, struct vdi_tcp_pattern *ret);

/* Whether the exact target t (from vdi_tcp_target_parse) falls inside pattern p. */
bool vdi_tcp_pattern_match(const struct vdi_tcp_pattern *p, const struct vdi_tcp_pattern *t);
