/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Relay targets: the "tgt" claim of a console token, "unix:/path" or
 * "tcp:ADDRESS:PORT" (ADDRESS numeric, IPv6 in brackets), checked against
 * [gateway] allowed_targets and connected without blocking.
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether target is one of allowed (a NULL-terminated list).  An entry
 * ending in '/' ("unix:/run/vdi/spice/") admits the unix sockets directly
 * in that directory; "tcp:ADDRESS[/PREFIX]:PORT[-PORT]" admits the TCP
 * targets in that network and port range (tcp-target.h); any other entry
 * admits exactly itself.  Targets with "..", "//", control characters or a
 * malformed form are never allowed.
 */
bool gw_target_allowed(const char *target, char *const *allowed);

/*
 * Whether a browser's Origin ("https://host[:port]") may open a WebSocket:
 * allowed ([gateway] allowed_origins, NULL-terminated) holds "*" (any) or
 * the origin itself (compared without regard to ASCII case).
 */
bool gw_origin_allowed(const char *origin, char *const *allowed);

/*
 * Starts a non-blocking connection to target.  Returns the socket (the
 * connection may still be under way for TCP: wait for it to become
 * writable and read SO_ERROR) or -errno: -EINVAL for a malformed target,
 * including a host name (only numeric addresses are taken).
 */
int gw_target_connect(const char *target);
