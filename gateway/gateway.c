/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdi-gateway's server: one libwebsockets vhost on [gateway] listen with
 * four protocols:
 *   "http"        GET /healthz, GET /metrics (loopback only), and the check
 *                 of every WebSocket upgrade (path, subprotocol, token) so a
 *                 refusal gets a real 400/401/403;
 *   "binary"      the WebSocket relays (relay.c); spice-html5 asks for it;
 *   "vdi-connect" sockets that came as HTTP CONNECT: libwebsockets 4.1 turns
 *                 them raw and hands over the request bytes (relay.c);
 *   "vdi-target"  the sockets to the desktops, adopted (relay.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "private.h"
#include "target.h"
#include "tls.h"
#include "tunnel-tls.h"

/* What a client sends is small (input, acks): 16 KiB a read, allocated per connection. */
#define WS_RX_BUFFER (16 * 1024)
/* What it is sent is not: a whole frame (relay.c: up to 64 KiB) in one send().  Left 0, libwebsockets
 * would send at most WS_RX_BUFFER at a time and copy the rest of each frame aside until the socket
 * is writable again: four sends, a copy and a wake-up of the loop more per frame. */
#define WS_TX_PACKET (64 * 1024)

/* ---- admission ------------------------------------------------------------------------------- */

void gw_refuse(struct gw *gw, enum gw_refusal why, const char *what, const char *peer, const char *detail)
{
	gw->metrics.refused[why]++;
	vdi_info("refused %s from %s: %s%s%s", what, peer && *peer ? peer : "?", gw_refusal_name(why),
		 detail ? ": " : "", detail ? detail : "");
}

/* Counts and logs the refusal, tells it through why (may be NULL): -EACCES. */
static int refuse_admission(struct gw *gw, enum gw_refusal refusal, const char *what, const char *peer,
			    const char *detail, enum gw_refusal *why)
{
	gw_refuse(gw, refusal, what, peer, detail);
	if (why)
		*why = refusal;
	return -EACCES;
}

int gw_admit(struct gw *gw, const char *token, int64_t now, const char *what, const char *peer,
	     struct vdi_token_claims *claims, enum gw_refusal *why)
{
	const char *reason = NULL;
	char safe[128], real[PATH_MAX];
	int r;

	if (!token || !*token)
		return refuse_admission(gw, GW_REFUSED_NO_TOKEN, what, peer, NULL, why);
	/* Judged by time: not expired, and not living longer than the broker makes tokens live. */
	r = now ? vdi_token_verify_ttl(&gw->key, token, now, (int64_t)gw->cfg->tokens.ttl, claims, &reason)
		: vdi_token_verify(&gw->key, token, now, claims, &reason);
	if (r == -EKEYEXPIRED)
		return refuse_admission(gw, GW_REFUSED_EXPIRED, what, peer, reason, why);
	if (r == -ERANGE)
		return refuse_admission(gw, GW_REFUSED_LIFETIME, what, peer, reason, why);
	if (r == -EPERM)
		return refuse_admission(gw, GW_REFUSED_SIGNATURE, what, peer, reason, why);
	if (r < 0)
		return refuse_admission(gw, GW_REFUSED_MALFORMED, what, peer, reason, why);
	if (!gw_target_allowed(claims->tgt, gw->cfg->gateway.allowed_targets)) {
		char detail[256];

		snprintf(detail, sizeof(detail), "target %s is not in allowed_targets",
			 vdi_log_safe(claims->tgt, safe, sizeof(safe)));
		return refuse_admission(gw, GW_REFUSED_TARGET, what, peer, detail, why);
	}
	/* A link in an allowed directory must not lead out of it (relay.c connects the same way). */
	r = gw_target_resolve(claims->tgt, gw->cfg->gateway.allowed_targets, real, sizeof(real));
	if (r == -EACCES || r == -EMLINK) {
		char detail[512], safe_real[256];

		if (r == -EMLINK)
			snprintf(detail, sizeof(detail), "target %s is a socket with another name (a hard link)",
				 vdi_log_safe(claims->tgt, safe, sizeof(safe)));
		else
			snprintf(detail, sizeof(detail), "target %s leads to %s, outside allowed_targets",
				 vdi_log_safe(claims->tgt, safe, sizeof(safe)),
				 vdi_log_safe(real, safe_real, sizeof(safe_real)));
		return refuse_admission(gw, GW_REFUSED_TARGET, what, peer, detail, why);
	}
	return 0;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

/* A whole small reply, written at once (lws buffers what the socket does not take). */
static int reply(struct lws *wsi, unsigned status, const char *type, const char *body)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	size_t len = strlen(body);
	_cleanup_free_ unsigned char *out = malloc(LWS_PRE + len + 1);

	if (!out || lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-store",
					8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	memcpy(out + LWS_PRE, body, len);
	if (lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int reply_error(struct lws *wsi, unsigned status, const char *msg)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	return reply(wsi, status, "application/json", body);
}

static bool is_loopback(struct lws *wsi)
{
	char peer[64] = "";

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	return streq(peer, "127.0.0.1") || streq(peer, "::1") || streq(peer, "::ffff:127.0.0.1");
}

/* Whether the comma-separated Sec-WebSocket-Protocol list names "binary". */
static bool asks_binary(struct lws *wsi)
{
	char list[256];

	if (lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL) <= 0)
		return false;
	for (char *save = NULL, *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (streq(t, "binary"))
			return true;
	return false;
}

/*
 * With tls_cert the port still accepts plain connections, only to refuse them with a reason a
 * person can read: plain HTTP and plain WebSockets here, a plain CONNECT in relay.c's connect_head,
 * so that no client sends a token (or SPICE) in the clear.
 */
#define PLAIN_REFUSED "this gateway speaks TLS: use https:// or wss://"

bool gw_plain_on_tls(struct gw *gw, struct lws *wsi)
{
	return gw->ssl_ctx && !lws_is_ssl(wsi);
}

/* Before a WebSocket is accepted: 0 goes on, 1 after a refusal was written, -1 hangs up. */
static int confirm_upgrade(struct gw *gw, struct lws *wsi, const char *upgrade)
{
	static const unsigned status[GW_REFUSED_N] = {
		[GW_REFUSED_NO_TOKEN] = 401, [GW_REFUSED_MALFORMED] = 401, [GW_REFUSED_SIGNATURE] = 401,
		[GW_REFUSED_EXPIRED] = 401,  [GW_REFUSED_TARGET] = 403,    [GW_REFUSED_BAD_REQUEST] = 400,
		[GW_REFUSED_ORIGIN] = 403,   [GW_REFUSED_LIFETIME] = 401,
	};
	struct vdi_token_claims claims;
	char uri[64] = "", token[VDI_TOKEN_MAX + 1] = "", peer[64] = "", origin[256] = "";
	enum gw_refusal e;
	const char *t;
	int r;

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (gw_plain_on_tls(gw, wsi)) {
		gw_refuse(gw, GW_REFUSED_BAD_REQUEST, "WebSocket", peer, "plain ws:// on the TLS port");
		return reply_error(wsi, 403, PLAIN_REFUSED) < 0 ? -1 : 1;
	}
	if (!upgrade || strcasecmp(upgrade, "websocket") != 0 ||
	    lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || !streq(uri, "/spice")) {
		gw_refuse(gw, GW_REFUSED_BAD_REQUEST, "upgrade", peer, "only GET /spice takes a WebSocket");
		return reply_error(wsi, 404, "no such resource") < 0 ? -1 : 1;
	}
	if (!asks_binary(wsi)) {
		gw_refuse(gw, GW_REFUSED_BAD_REQUEST, "WebSocket", peer, "no subprotocol \"binary\"");
		return reply_error(wsi, 400, "the WebSocket subprotocol must be \"binary\"") < 0 ? -1 : 1;
	}
	/* A browser names the page's origin; other clients send none. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
	    (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0 ||
	     !gw_origin_allowed(origin, gw->cfg->gateway.allowed_origins))) {
		char safe[300];

		gw_refuse(gw, GW_REFUSED_ORIGIN, "WebSocket", peer, vdi_log_safe(origin, safe, sizeof(safe)));
		return reply_error(wsi, 403, "origin not allowed") < 0 ? -1 : 1;
	}
	t = lws_get_urlarg_by_name(wsi, "token=", token, sizeof(token));
	r = gw_admit(gw, t, (int64_t)time(NULL), "WebSocket", peer, &claims, &e);
	explicit_bzero(token, sizeof(token));
	if (r >= 0)
		return 0;
	return reply_error(wsi, status[e] ? status[e] : 403, e == GW_REFUSED_TARGET ? "target not allowed"
							   : e == GW_REFUSED_NO_TOKEN ? "a console token is required"
										     : "invalid or expired console token") < 0
		       ? -1
		       : 1;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		const char *path = in;
		char peer[64] = "";

		lws_get_peer_simple(wsi, peer, sizeof(peer));
		if (gw_plain_on_tls(gw, wsi)) {
			gw_refuse(gw, GW_REFUSED_BAD_REQUEST, "HTTP", peer, "plain HTTP on the TLS port");
			return reply_error(wsi, 403, PLAIN_REFUSED);
		}
		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
			return reply_error(wsi, 405, "method not allowed");
		if (streq(path, "/healthz"))
			return reply(wsi, 200, "application/json", "{\"status\":\"ok\"}");
		if (streq(path, "/metrics")) {
			_cleanup_free_ char *text = NULL;

			if (!is_loopback(wsi))
				return reply_error(wsi, 403, "metrics are served to loopback only");
			text = gw_metrics_text(&gw->metrics);
			return text ? reply(wsi, 200, "text/plain; version=0.0.4", text) : -1;
		}
		if (streq(path, "/spice")) {
			gw_refuse(gw, GW_REFUSED_BAD_REQUEST, "GET /spice", peer, "not a WebSocket upgrade");
			return reply_error(wsi, 400, "GET /spice must be a WebSocket upgrade");
		}
		return reply_error(wsi, 404, "no such resource");
	}
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(gw, wsi, in);
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* While the vhost is made: its TLS context, kept for gw_reload_tls(). */
		gw->ssl_ctx = user;
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* ---- life -------------------------------------------------------------------------------------- */

static void log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "<4>[lws] %s", line);
}

/* Every relay is two sockets: take as many descriptors as we may. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int gw_new(const struct vdi_config *cfg, struct gw **ret, struct vdi_error *err)
{
	/* A WebSocket quiet for 30 s is pinged; one that does not answer within 60 s more is closed. */
	static const lws_retry_bo_t keepalive = { .secs_since_valid_ping = 30, .secs_since_valid_hangup = 90 };
	struct lws_context_creation_info info;
	struct vdi_listen where;
	struct gw *gw;
	int r;

	r = vdi_listen_resolve(cfg->gateway.listen ? cfg->gateway.listen : "", &where, err);
	if (r < 0)
		return r;

	r = vdi_tls_check_pair("gateway", cfg->gateway.tls_cert, cfg->gateway.tls_key, err);
	if (r < 0)
		return r;

	gw = vdi_new0(struct gw);
	if (!gw)
		return -ENOMEM;
	gw->cfg = cfg;
	gw->where = where;
	r = vdi_token_key_load(cfg->tokens.key_file, &gw->key, err);
	if (r < 0) {
		free(gw);
		return r;
	}
	r = gw_tunnel_tls_load(gw, err);
	if (r < 0) {
		gw_free(gw);
		return r;
	}
	raise_fd_limit();

	gw->protocols[0] = (struct lws_protocols){ .name = "http", .callback = http_callback };
	gw->protocols[1] = (struct lws_protocols){
		.name = "binary", .callback = gw_relay_ws_callback, .rx_buffer_size = WS_RX_BUFFER,
		.tx_packet_size = WS_TX_PACKET,
	};
	gw->protocols[2] = (struct lws_protocols){ .name = "vdi-connect", .callback = gw_relay_connect_callback };
	gw->protocols[3] = (struct lws_protocols){ .name = "vdi-target", .callback = gw_relay_target_callback };

	lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
	memset(&info, 0, sizeof(info));
	info.protocols = gw->protocols;
	info.user = gw;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	vdi_listen_to_lws(&gw->where, &info);
	info.vhost_name = "gateway";
	/* A request must be complete within this (slowloris); WebSockets are pinged. */
	info.timeout_secs = 10;
	info.retry_and_idle_policy = &keepalive;
	/* Raw reads of up to 64 KiB: big frames for spice-html5. */
	info.pt_serv_buf_size = 64 * 1024;
	/* CONNECT requests go raw, to "vdi-connect". */
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = "vdi-connect";
	/* TLS on the one port: WSS, and CONNECT inside TLS (lws turns it raw after the handshake);
	 * plain connections are let in only to be refused with a reason (gw_plain_on_tls). */
	if (cfg->gateway.tls_cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
				LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER;
		info.ssl_cert_filepath = cfg->gateway.tls_cert;
		info.ssl_private_key_filepath = cfg->gateway.tls_key;
		/* HTTP/1.1 only, as the broker: WebSockets over HTTP/2 (RFC 8441) are not what clients here speak. */
		info.alpn = "http/1.1";
	}
	gw->ctx = lws_create_context(&info);
	if (!gw->ctx) {
		vdi_error_set(err, -EIO, "cannot start the event loop");
		gw_free(gw);
		return -EIO;
	}
	gw->vhost = lws_create_vhost(gw->ctx, &info);
	if (!gw->vhost) {
		vdi_error_set(err, -EADDRINUSE, "cannot listen on %s", cfg->gateway.listen);
		gw_free(gw);
		return -EADDRINUSE;
	}
	if (cfg->gateway.tls_cert && !gw->ssl_ctx) {
		vdi_error_set(err, -EIO, "[gateway] tls_cert: the listener has no TLS context");
		gw_free(gw);
		return -EIO;
	}
	*ret = gw;
	return 0;
}

struct gw *gw_free(struct gw *gw)
{
	if (!gw)
		return NULL;
	if (gw->ctx)
		lws_context_destroy(gw->ctx);
	gw_relay_cleanup();
	gw_registry_clear(&gw->registry);
	gw_tunnel_tls_unload(gw);
	explicit_bzero(&gw->key, sizeof(gw->key));
	free(gw);
	return NULL;
}

int gw_port(struct gw *gw)
{
	return lws_get_vhost_listen_port(gw->vhost);
}

const char *gw_address(struct gw *gw)
{
	return vdi_listen_describe(&gw->where);
}

/*
 * The pair is read once, into the new context of SPICE tunnels (CONNECT desktop-N:5901), and WSS's
 * (libwebsockets') context takes it from there: both change, or neither (a renewal replaced between
 * two reads, a key of another type) and the old pair stays in use for all.
 */
int gw_reload_tls(struct gw *gw, struct vdi_error *err)
{
	SSL_CTX *tunnels;
	int r;

	if (!gw->ssl_ctx)
		return 0;
	r = gw_tunnel_tls_prepare(gw, &tunnels, err);
	if (r < 0)
		return r;
	if (!tunnels)
		return vdi_error_set(err, -EINVAL, "[gateway] tls_cert: unset");
	r = vdi_tls_use_pair_of(gw->ssl_ctx, tunnels, "gateway", gw->cfg->gateway.tls_key, err);
	if (r < 0) {
		SSL_CTX_free(tunnels);
		return r;
	}
	gw_tunnel_tls_install(gw, tunnels);
	return 0;
}

void gw_reload(struct gw *gw)
{
	atomic_store(&gw->reload, true);
	lws_cancel_service(gw->ctx);
}

static void reload_now(struct gw *gw)
{
	struct vdi_error err = { 0 };

	if (!gw->ssl_ctx) {
		vdi_info("SIGHUP: no [gateway] tls_cert, nothing to reload");
		return;
	}
	if (gw_reload_tls(gw, &err) < 0)
		vdi_error("SIGHUP: %s; the certificate loaded before stays in use", err.message);
	else
		vdi_info("SIGHUP: reloaded the certificate %s and key %s", gw->cfg->gateway.tls_cert,
			 gw->cfg->gateway.tls_key);
}

int gw_run(struct gw *gw)
{
	while (!atomic_load(&gw->stop)) {
		if (atomic_exchange(&gw->reload, false))
			reload_now(gw);
		if (lws_service(gw->ctx, 0) < 0)
			return -EIO;
	}
	return 0;
}

void gw_stop(struct gw *gw)
{
	atomic_store(&gw->stop, true);
	lws_cancel_service(gw->ctx);
}
