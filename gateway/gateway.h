/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdi-gateway: relays SPICE between browsers (WebSocket, GET /spice?token=T,
 * subprotocol "binary") or thin clients (HTTP CONNECT desktop-<id>:5900,
 * the token as proxy password) and the desktop's SPICE server named by the
 * token.  With [gateway] tls_cert and tls_key both kinds come over TLS (WSS, and CONNECT
 * inside TLS).  One libwebsockets event loop; nothing blocks it.
 */

#include <stddef.h>

#include "error.h"

struct vdi_config;
struct gw;

/* Reads the token key and listens on [gateway] listen.  cfg is borrowed for the gateway's life. */
int gw_new(const struct vdi_config *cfg, struct gw **ret, struct vdi_error *err);
struct gw *gw_free(struct gw *gw);

/*
 * SIGHUP: reads [gateway] tls_cert and tls_key again (a renewal) into the listener's TLS context.
 * Open connections keep the certificate they were made with; new ones get the new one.  A bad new
 * pair leaves the old one in use: -errno with the reason (naming the file) in err.  0 without TLS.
 * On the event loop's thread (gw_run calls it after gw_reload()).
 */
int gw_reload_tls(struct gw *gw, struct vdi_error *err);
/* From any thread or a signal handler: gw_run() calls gw_reload_tls() and logs what it did. */
void gw_reload(struct gw *gw);

/* The TCP port listened on (useful with port 0). */
int gw_port(struct gw *gw);
/* Where it listens, for logs: "127.0.0.1", "::1" or "every address". */
const char *gw_address(struct gw *gw);

/* Runs the event loop until gw_stop(); 0 or -errno. */
int gw_run(struct gw *gw);

/* From any thread or a signal handler. */
void gw_stop(struct gw *gw);
