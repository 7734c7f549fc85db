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
 * Where a target leads, beyond gw_target_allowed()'s look at its name: a
 * unix target's path with its symbolic links followed must be a socket
 * that allowed admits (an entry's own links followed too).  Returns 0 (a
 * TCP target always), -EACCES when it leads outside allowed, -EMLINK for a
 * socket with more than one name (a hard link: its path says nothing), -ENOTSOCK,
 * or -errno when it cannot be looked at (a missing socket: -ENOENT);
 * real (size bytes) gets the resolved path, or the target as it is.
 */
int gw_target_resolve(const char *target, char *const *allowed, char *real, size_t size);

/*
 * Starts a non-blocking connection to target.  Returns the socket (the
 * connection may still be under way for TCP: wait for it to become
 * writable and read SO_ERROR) or -errno: -EINVAL for a malformed target,
 * including a host name (only numeric addresses are taken); for a unix
 * target, gw_target_resolve()'s errors, judged on the very socket file
 * that is connected (opened with O_PATH first, connected through
 * /proc/self/fd), so a link swapped in after the check does not count.
 */
int gw_target_connect(const char *target, char *const *allowed);
