/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The gateway's insides, shared by gateway.c (server, admission) and relay.c (the byte pumps). */

#include <stdatomic.h>
#include <stdbool.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "gateway.h"
#include "lws-listen.h"
#include "metrics.h"
#include "registry.h"
#include "token.h"

struct vdi_config;

struct gw {
	const struct vdi_config *cfg;
	struct vdi_token_key key;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	SSL_CTX *ssl_ctx; /* the vhost's, with [gateway] tls_cert (NULL: plain); lws owns it */
	struct vdi_listen where; /* [gateway] listen, resolved */
	struct lws_protocols protocols[5];
	struct gw_metrics metrics;
	struct gw_registry registry; /* the relays by desktop, for takeover */
	SSL_CTX *tunnel_tls;       /* CONNECT desktop-N:5901: [gateway] tls_cert (tunnel-tls.h); NULL: none */
	atomic_bool stop;
	atomic_bool reload; /* SIGHUP came: gw_run() reloads the certificate */
};

/*
 * Checks a console token (borrowed, may be NULL) for a new connection: signature, expiry at now
 * (unix seconds; 0 skips it) and an exp no further ahead than [tokens] ttl plus VDI_TOKEN_SKEW,
 * target within allowed_targets (a unix one's links followed: gw_target_resolve).  Returns 0 and fills *claims when
 * admitted, else -EACCES with the refusal in *why (may be NULL), counted and logged with what,
 * from peer (both borrowed).
 */
int gw_admit(struct gw *gw, const char *token, int64_t now, const char *what, const char *peer,
	     struct vdi_token_claims *claims, enum gw_refusal *why);
void gw_refuse(struct gw *gw, enum gw_refusal why, const char *what, const char *peer, const char *detail);
/* Whether wsi came in the clear to a gateway with tls_cert: such a connection is only refused. */
bool gw_plain_on_tls(struct gw *gw, struct lws *wsi);

/* relay.c: the protocols' callbacks. */
int gw_relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int gw_relay_connect_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int gw_relay_target_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
/* gw_free, once the loop's relays are gone: frees the chunks kept for the next reads. */
void gw_relay_cleanup(void);
