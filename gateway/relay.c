/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The relays: one per client connection, a WebSocket (GET /spice) or a raw
 * socket that came as HTTP CONNECT, paired with a raw socket to the
 * desktop's SPICE server that the gateway connects itself and hands to
 * libwebsockets (adoption), so all of it runs on the one event loop.
 *
 * Bytes wait in two bounded queues (client -> desktop "up", desktop ->
 * client "down").  A queue above QUEUE_HIGH stops reading from its producer
 * (lws_rx_flow_control) until it drains below QUEUE_LOW, so a slow reader
 * on either side holds the gateway's memory per connection to about
 * QUEUE_HIGH + one read each way.  Chunks are 16-64 KiB and each goes out
 * as one WebSocket frame: spice-html5 reassembles small frames slowly.
 *
 * Takeover: every admitted relay is in the registry of its desktop (registry.h).  A relay of
 * another viewer (console token) of the same desktop, once its own desktop socket is connected,
 * closes the older viewer's relays: a WebSocket with close code 4000 and the reason "taken over
 * by another viewer" (web/console.js then offers to take it back instead of reconnecting), a
 * CONNECT tunnel by closing it.  A relay of a viewer taken over is refused the same way.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "log.h"
#include "private.h"
#include "proxy.h"
#include "target.h"
#include "tunnel-tls.h"

#define CHUNK_MIN (16 * 1024)
#define FRAME_MAX (64 * 1024)
#define QUEUE_HIGH (256 * 1024)
#define QUEUE_LOW (64 * 1024)

/* A TLS tunnel's client has this long for its handshake (whatever idle_timeout says). */
#define TLS_HANDSHAKE_SECS 10

#define GW_CLOSE_TAKEN_OVER 4000
#define GW_TAKEN_OVER_REASON "taken over by another viewer"

struct chunk {
	struct chunk *next;
	size_t len, cap;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then cap bytes */
};

struct queue {
	struct chunk *head, *tail;
	size_t bytes;
};

struct relay {
	struct gw *gw;
	struct lws *client, *target;
	bool ws;              /* the client is a WebSocket; else a raw CONNECT socket */
	bool admitted;        /* a target was connected (CONNECT: after its request) */
	bool connecting;      /* TCP connect under way */
	bool client_paused, target_paused;
	bool target_gone;     /* flush "down", then close the client */
	bool close_after_flush;
	bool taken_over;      /* another viewer has the desktop: close the client (4000), relay nothing */
	struct gw_member member; /* in the registry once its desktop socket is connected */
	struct vdi_token_claims claims; /* a TCP target's, until its connect completes and it joins */
	struct queue up, down;
	struct gw_tunnel_tls *tls; /* CONNECT desktop-N:5901: the client speaks TLS, the desktop plaintext */
	bool tls_waiting;     /* the desktop is not read until the client's TLS handshake is done */
	bool join_due;        /* claims kept: it joins the registry once connected (and its TLS handshake done) */
	char head[GW_PROXY_HEAD_MAX]; /* CONNECT: the request as it arrives */
	size_t head_len;
	char desc[96];        /* "desktop 12 of ann", for the log */
};

/* ---- queues ------------------------------------------------------------------------------------ */

/*
 * Full chunks (FRAME_MAX) that were sent wait here for the next read: a stream takes one per read
 * and gives it back once it is written, and malloc handed each back to the kernel (brk), then
 * faulted its pages in again for the next.  At most SPARE_MAX (4 MiB) for all relays: they all run
 * on the gateway's one event loop, so no lock.
 */
#define SPARE_MAX 64

static struct chunk *spare;
static unsigned spare_count;

/* A chunk for the first len bytes of a push: CHUNK_MIN for a small one, else a full one. */
static struct chunk *chunk_new(size_t len)
{
	size_t cap = len <= CHUNK_MIN ? CHUNK_MIN : FRAME_MAX;
	struct chunk *c;

	if (cap == FRAME_MAX && spare) {
		c = spare;
		spare = c->next;
		spare_count--;
	} else {
		c = malloc(sizeof(*c) + LWS_PRE + cap);
		if (!c)
			return NULL;
		c->cap = cap;
	}
	c->next = NULL;
	c->len = 0;
	return c;
}

static void chunk_free(struct chunk *c)
{
	if (c->cap == FRAME_MAX && spare_count < SPARE_MAX) {
		c->next = spare;
		spare = c;
		spare_count++;
		return;
	}
	free(c);
}

void gw_relay_cleanup(void)
{
	while (spare) {
		struct chunk *c = spare;

		spare = c->next;
		free(c);
	}
	spare_count = 0;
}

static int queue_push(struct queue *q, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		struct chunk *t = q->tail;
		size_t n;

		if (!t || t->len == t->cap) {
			t = chunk_new(len);
			if (!t)
				return -ENOMEM;
			if (q->tail)
				q->tail->next = t;
			else
				q->head = t;
			q->tail = t;
		}
		n = t->cap - t->len < len ? t->cap - t->len : len;
		memcpy(t->buf + LWS_PRE + t->len, p, n);
		t->len += n;
		q->bytes += n;
		p += n;
		len -= n;
	}
	return 0;
}

static void queue_pop(struct queue *q)
{
	struct chunk *c = q->head;

	if (!c)
		return;
	q->head = c->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= c->len;
	chunk_free(c);
}

/* What comes next goes in a chunk (a write, a TLS record) of its own: the tail's cap shrinks to its length
 * (never above what it was allocated with). */
static void queue_seal(struct queue *q)
{
	if (q->tail)
		q->tail->cap = q->tail->len;
}

/* Whether q holds fewer than n chunks (it looks at n at most). */
static bool queue_shorter(const struct queue *q, unsigned n)
{
	const struct chunk *c = q->head;

	for (; c && n; c = c->next)
		n--;
	return n > 0;
}

static void queue_clear(struct queue *q)
{
	while (q->head)
		queue_pop(q);
}

/* ---- relays ------------------------------------------------------------------------------------ */

static void kill_wsi(struct lws *wsi)
{
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void relay_maybe_free(struct relay *r)
{
	gw_registry_leave(&r->gw->registry, &r->member);
	if (r->client || r->target)
		return;
	if (r->admitted)
		r->gw->metrics.open--;
	queue_clear(&r->up);
	queue_clear(&r->down);
	gw_tunnel_tls_free(r->tls);
	free(r);
}

/* Traffic: the idle clock starts again (idle_timeout 0: no clock, also not the request's). */
static void touch(struct relay *r)
{
	uint64_t idle = r->gw->cfg->gateway.idle_timeout;

	if (!r->client)
		return;
	if (r->tls && !gw_tunnel_tls_ready(r->tls))
		return; /* the handshake's deadline (relay_connect) stays: a slow one is not given more time */
	if (idle)
		lws_set_timeout(r->client, PENDING_TIMEOUT_USER_OK, (int)(idle > 86400 * 7 ? 86400 * 7 : idle));
	else
		lws_set_timeout(r->client, NO_PENDING_TIMEOUT, 0);
}

/* The client goes: a WebSocket taken over is told why (client_writeable), any other just closes. */
static void end_client(struct relay *r)
{
	if (r->ws && r->taken_over)
		lws_callback_on_writable(r->client);
	else
		kill_wsi(r->client);
}

/* Another viewer opened r's desktop (gw_registry_join's callback). */
static void taken_over(struct gw_member *m, void *data)
{
	struct relay *r = m->owner;
	const struct relay *by = data;

	vdi_info("relay for %s taken over by another viewer (%s)", r->desc, by->desc);
	r->gw->metrics.taken_over++;
	r->taken_over = true;
	queue_clear(&r->up);
	queue_clear(&r->down);
	kill_wsi(r->target);
	if (r->client)
		end_client(r);
}

/* Connects the token's target and adopts the socket; -errno when it cannot be reached. */
static int relay_connect(struct relay *r, const struct vdi_token_claims *c)
{
	lws_adopt_desc_t desc = { 0 };
	int fd = gw_target_connect(c->tgt, r->gw->cfg->gateway.allowed_targets);

	if (fd < 0)
		return fd;
	desc.vh = r->gw->vhost;
	desc.type = LWS_ADOPT_SOCKET; /* without LWS_ADOPT_HTTP: a raw socket */
	desc.fd.sockfd = fd;
	desc.vh_prot_name = "vdi-target";
	desc.opaque = r;
	r->connecting = startswith(c->tgt, "tcp:");
	r->target = lws_adopt_descriptor_vhost_via_info(&desc); /* closes fd on failure */
	if (!r->target)
		return -ENOMEM;
	r->admitted = true;
	r->gw->metrics.open++;
	r->gw->metrics.opened_total++;
	{
		char user[41];

		snprintf(r->desc, sizeof(r->desc), "desktop %lld of %s", (long long)c->dsk,
			 vdi_log_safe(c->sub, user, sizeof(user)));
	}
	if (r->tls)
		lws_set_timeout(r->client, PENDING_TIMEOUT_USER_OK, TLS_HANDSHAKE_SECS);
	else
		touch(r);
	r->member.owner = r;
	if (r->connecting || r->tls) {
		/* The desktop's other viewers keep it until this one has reached it, and a TLS tunnel's
		 * client has done its handshake (relay_try_join). */
		r->claims = *c;
		r->join_due = true;
		if (r->connecting)
			lws_callback_on_writable(r->target);
		return 0;
	}
	/* Reached (a unix socket connects at once): the desktop's other viewers lose it (none is
	 * refused here: gw_registry_superseded came first, on the same loop). */
	(void)gw_registry_join(&r->gw->registry, &r->member, c, taken_over, r);
	return 0;
}

/* A TCP target is reached: r joins its desktop, whose other viewers lose it; -1 when r's own viewer was
 * taken over while it connected (it is closed as taken over). */
static int relay_join(struct relay *r)
{
	int e = gw_registry_join(&r->gw->registry, &r->member, &r->claims, taken_over, r);

	explicit_bzero(&r->claims, sizeof(r->claims));
	if (e != -ESTALE)
		return 0;
	vdi_info("relay for %s: its viewer was taken over while it connected", r->desc);
	r->gw->metrics.refused[GW_REFUSED_SUPERSEDED]++;
	r->taken_over = true;
	if (r->client)
		end_client(r);
	return -1;
}

/* relay_join once r's desktop is reached and its TLS handshake (if any) is done; else 0, later. */
static int relay_try_join(struct relay *r)
{
	if (!r->join_due || r->connecting || (r->tls && !gw_tunnel_tls_ready(r->tls)))
		return 0;
	r->join_due = false;
	return relay_join(r);
}

/*
 * The one predicate for reading the client (libwebsockets has one rx-flow bit per connection): not
 * while "up" is above QUEUE_HIGH, nor, for a TLS tunnel, while "down" is: OpenSSL answers some of
 * the client's records from reading alone (a TLS 1.3 KeyUpdate asks for one back), so a client that
 * sends them and never reads would fill "down" without the desktop saying a word.  Read again once
 * both are below QUEUE_LOW.
 */
static void client_flow(struct relay *r)
{
	bool down = r->tls != NULL;

	if (!r->client)
		return;
	if (!r->client_paused && (r->up.bytes >= QUEUE_HIGH || (down && r->down.bytes >= QUEUE_HIGH))) {
		r->client_paused = true;
		lws_rx_flow_control(r->client, 0);
	} else if (r->client_paused && r->up.bytes < QUEUE_LOW && (!down || r->down.bytes < QUEUE_LOW)) {
		r->client_paused = false;
		lws_rx_flow_control(r->client, 1);
	}
}

/* Bytes from the client: on to the desktop (none once taken over: it is being closed). */
static int from_client(struct relay *r, const void *data, size_t len)
{
	if (r->taken_over)
		return 0;
	if (!r->target || queue_push(&r->up, data, len) < 0)
		return -1;
	r->gw->metrics.bytes_to_target += len;
	if (!r->connecting)
		lws_callback_on_writable(r->target);
	client_flow(r);
	touch(r);
	return 0;
}

/* Bytes from the desktop: on to the client. */
static int from_target(struct relay *r, const void *data, size_t len)
{
	if (r->taken_over)
		return 0;
	if (!r->client || queue_push(&r->down, data, len) < 0)
		return -1;
	r->gw->metrics.bytes_to_client += len;
	lws_callback_on_writable(r->client);
	if (r->down.bytes >= QUEUE_HIGH && !r->target_paused) {
		r->target_paused = true;
		lws_rx_flow_control(r->target, 0);
	}
	touch(r);
	return 0;
}

/* ---- SPICE over TLS in a CONNECT tunnel (tunnel-tls.h): the same pumps, through OpenSSL ---------- */

static int sink_target(void *data, const void *buf, size_t len)
{
	return from_client(data, buf, len);
}

/*
 * Each piece of ciphertext (a SPICE message, a part of the link) is written apart while fewer than
 * TLS_PIECES_APART chunks wait: record boundaries matter to spice-gtk (tunnel-tls.c), and a chunk is
 * at least CHUNK_MIN however small its piece.  A client that lags gets them joined, as before.
 */
#define TLS_PIECES_APART 16

static int sink_client(void *data, const void *buf, size_t len)
{
	struct relay *r = data;
	int e = from_target(r, buf, len);

	client_flow(r); /* a KeyUpdate's answer, a handshake's: waits for the client to read */
	if (queue_shorter(&r->down, TLS_PIECES_APART))
		queue_seal(&r->down);
	return e;
}

/* The client's bytes: < 0 closes it (one that fails TLS first gets its alert). */
static int client_in(struct relay *r, const void *data, size_t len)
{
	int e;

	if (!r->tls)
		return from_client(r, data, len);
	e = gw_tunnel_tls_from_client(r->tls, data, len, sink_target, sink_client, r, r->desc);
	if (e >= 0 && r->tls_waiting && gw_tunnel_tls_ready(r->tls)) {
		r->tls_waiting = false;
		touch(r); /* the handshake's deadline gives way to idle_timeout */
		if (relay_try_join(r) < 0)
			return 0; /* its viewer was taken over: closed */
		if (r->target && !r->target_paused)
			lws_rx_flow_control(r->target, 1);
	}
	if (e == -EPROTO && r->client) {
		r->close_after_flush = true;
		lws_callback_on_writable(r->client);
		return 0;
	}
	return e;
}

static int target_in(struct relay *r, const void *data, size_t len)
{
	if (!r->tls || r->taken_over)
		return from_target(r, data, len);
	return gw_tunnel_tls_to_client(r->tls, data, len, sink_client, r);
}

/* The client may take more: one chunk (one frame for a WebSocket). Returns -1 to close it. */
static int client_writeable(struct relay *r)
{
	struct chunk *c = r->down.head;

	if (r->taken_over) {
		if (r->ws)
			lws_close_reason(r->client, GW_CLOSE_TAKEN_OVER, (unsigned char *)GW_TAKEN_OVER_REASON,
					 strlen(GW_TAKEN_OVER_REASON));
		return -1;
	}

	if (c) {
		if (lws_write(r->client, c->buf + LWS_PRE, c->len, r->ws ? LWS_WRITE_BINARY : LWS_WRITE_RAW) <
		    (int)c->len)
			return -1;
		queue_pop(&r->down);
		if (r->target_paused && r->down.bytes < QUEUE_LOW && r->target && !r->tls_waiting) {
			r->target_paused = false;
			lws_rx_flow_control(r->target, 1);
		}
		if (r->tls)
			client_flow(r);
	}
	if (r->down.head)
		lws_callback_on_writable(r->client);
	else if (r->target_gone || r->close_after_flush)
		return -1;
	return 0;
}

/* r's TCP connect failed (err: its SO_ERROR, 0 if unknown): logged and counted once, whichever callback saw it. */
static void target_unreachable(struct relay *r, int err)
{
	vdi_info("relay for %s: cannot reach the desktop: %s", r->desc, err ? strerror(err) : "connection failed");
	r->gw->metrics.refused[GW_REFUSED_UNREACHABLE]++;
	r->connecting = false;
}

static int target_writeable(struct relay *r)
{
	struct chunk *c;

	if (r->connecting) {
		int err = 0;
		socklen_t elen = sizeof(err);

		if (getsockopt(lws_get_socket_fd(r->target), SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
			target_unreachable(r, err ? err : errno);
			return -1;
		}
		r->connecting = false;
		if (relay_try_join(r) < 0)
			return -1;
	}
	c = r->up.head;
	if (c) {
		if (lws_write(r->target, c->buf + LWS_PRE, c->len, LWS_WRITE_RAW) < (int)c->len)
			return -1;
		queue_pop(&r->up);
		client_flow(r);
	}
	if (r->up.head)
		lws_callback_on_writable(r->target);
	return 0;
}

static void client_closed(struct relay *r)
{
	r->client = NULL;
	/* A TCP connect the client did not wait for is given up, not failed: not counted as unreachable. */
	r->connecting = false;
	gw_registry_leave(&r->gw->registry, &r->member);
	kill_wsi(r->target);
	relay_maybe_free(r);
}

/* ---- WebSocket clients ("binary") ------------------------------------------------------------- */

int gw_relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));
	struct relay *r = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED: {
		struct vdi_token_claims claims;
		char token[VDI_TOKEN_MAX + 1] = "", peer[64] = "";
		const char *t = lws_get_urlarg_by_name(wsi, "token=", token, sizeof(token));
		int e;

		lws_get_peer_simple(wsi, peer, sizeof(peer));
		/* Checked at the upgrade (with a status for the client), the time included: here only its
		 * claims are needed.  Judging its time again could close a WebSocket the client was just
		 * told is open, at the token's last second or when the wall clock jumps. */
		e = gw_admit(gw, t, 0, "WebSocket", peer, &claims, NULL);
		explicit_bzero(token, sizeof(token));
		if (e < 0)
			return -1;
		r = vdi_new0(struct relay);
		if (!r)
			return -1;
		r->gw = gw;
		r->ws = true;
		r->client = wsi;
		lws_set_opaque_user_data(wsi, r);
		if (gw_registry_superseded(&gw->registry, &claims)) {
			/* Open already: it is closed with the code that says why. */
			gw_refuse(gw, GW_REFUSED_SUPERSEDED, "WebSocket", peer, "its viewer was taken over");
			r->taken_over = true;
			lws_callback_on_writable(wsi);
			return 0;
		}
		e = relay_connect(r, &claims);
		if (e < 0) {
			gw_refuse(gw, GW_REFUSED_UNREACHABLE, "WebSocket", peer, strerror(-e));
			return -1; /* CLOSED frees r */
		}
		vdi_info("WebSocket relay from %s to %s", peer, r->desc);
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		return r ? (from_client(r, in, len) < 0 ? -1 : 0) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return r ? client_writeable(r) : 0;
	case LWS_CALLBACK_CLOSED:
		if (r) {
			lws_set_opaque_user_data(wsi, NULL);
			client_closed(r);
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- thin clients (HTTP CONNECT, then raw) ---------------------------------------------------- */

/* Answers status with body (a line of text, may be NULL) and closes once it is sent. */
static void connect_reply_body_close(struct relay *r, const char *status, const char *body)
{
	char reply[512];

	snprintf(reply, sizeof(reply),
		 "HTTP/1.1 %s\r\n%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s%s", status,
		 streq(status, "407 Proxy Authentication Required") ? "Proxy-Authenticate: Basic realm=\"vdi\"\r\n" : "",
		 body ? "Content-Type: text/plain\r\n" : "", body ? strlen(body) + 1 : 0, body ? body : "",
		 body ? "\n" : "");
	(void)queue_push(&r->down, reply, strlen(reply));
	r->close_after_flush = true;
	lws_callback_on_writable(r->client);
}

static void connect_reply_close(struct relay *r, const char *status)
{
	connect_reply_body_close(r, status, NULL);
}

static void connect_refuse(struct relay *r, enum gw_refusal why, const char *peer, const char *status,
			   const char *detail)
{
	gw_refuse(r->gw, why, "CONNECT", peer, detail);
	connect_reply_close(r, status);
}

/* CONNECT desktop-N:5901: SPICE over TLS, which the gateway ends with its certificate; -1 when refused. */
static int connect_tls(struct relay *r, const char *peer)
{
	r->tls = gw_tunnel_tls_new(r->gw);
	if (r->tls)
		return 0;
	connect_refuse(r, GW_REFUSED_TARGET, peer, "403 Forbidden",
		       r->gw->tunnel_tls ? "out of memory" : "SPICE over TLS (port 5901) needs [gateway] tls_cert");
	return -1;
}

#define CONNECT_PLAIN_REFUSED "this gateway speaks TLS: CONNECT inside TLS (proxy=https://)"

/* A plain CONNECT to a gateway with tls_cert (its token, and on 5900 all of SPICE, in the clear):
 * refused, true; else false. */
static bool connect_plain_refused(struct relay *r, struct gw_proxy_request *req, const char *peer)
{
	if (!gw_plain_on_tls(r->gw, r->client))
		return false;
	explicit_bzero(r->head, sizeof(r->head));
	explicit_bzero(req->token, sizeof(req->token));
	gw_refuse(r->gw, GW_REFUSED_BAD_REQUEST, "CONNECT", peer, "plain CONNECT on the TLS port");
	connect_reply_body_close(r, "403 Forbidden", CONNECT_PLAIN_REFUSED);
	return true;
}

/*
 * The request arrives (libwebsockets saw "CONNECT" and turned the socket raw, request included).
 * With tls_cert a CONNECT must come inside TLS: a plain one, once its head is whole (or
 * malformed), is refused 403 with the reason as its body.
 */
static int connect_head(struct relay *r, const void *in, size_t len)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct gw_proxy_request req;
	struct vdi_token_claims claims;
	char peer[64] = "";
	int n, e;

	lws_get_peer_simple(r->client, peer, sizeof(peer));
	if (len > sizeof(r->head) - r->head_len) {
		connect_refuse(r, GW_REFUSED_BAD_REQUEST, peer, "400 Bad Request", "request head too long");
		return 0;
	}
	memcpy(r->head + r->head_len, in, len);
	r->head_len += len;
	n = gw_proxy_parse(r->head, r->head_len, &req);
	if (n == 0)
		return 0; /* more to come */
	if (connect_plain_refused(r, &req, peer))
		return 0;
	if (n < 0) {
		connect_refuse(r, GW_REFUSED_BAD_REQUEST, peer, n == -ENOENT ? "404 Not Found" : "400 Bad Request",
			       n == -ENOENT ? "not a desktop-<id>:<port> authority" : "malformed CONNECT request");
		return 0;
	}
	if (!req.token[0]) {
		connect_refuse(r, GW_REFUSED_NO_TOKEN, peer, "407 Proxy Authentication Required", NULL);
		return 0;
	}
	e = gw_admit(r->gw, req.token, (int64_t)time(NULL), "CONNECT", peer, &claims, NULL);
	explicit_bzero(req.token, sizeof(req.token));
	if (e < 0) {
		connect_reply_close(r, "403 Forbidden"); /* gw_admit counted and logged it */
		return 0;
	}
	if (claims.dsk != req.desktop || (req.port != 5900 && req.port != 5901)) {
		connect_refuse(r, GW_REFUSED_TARGET, peer, "403 Forbidden", "the token is for another desktop");
		return 0;
	}
	if (req.port == 5901 && connect_tls(r, peer) < 0)
		return 0;
	if (gw_registry_superseded(&r->gw->registry, &claims)) {
		connect_refuse(r, GW_REFUSED_SUPERSEDED, peer, "409 Conflict", "its viewer was taken over");
		return 0;
	}
	e = relay_connect(r, &claims);
	if (e < 0) {
		connect_refuse(r, GW_REFUSED_UNREACHABLE, peer, "502 Bad Gateway", strerror(-e));
		return 0;
	}
	vdi_info("CONNECT relay from %s to %s%s", peer, r->desc, r->tls ? " (SPICE over TLS)" : "");
	if (r->tls) { /* the desktop waits for the client's handshake */
		r->tls_waiting = true;
		lws_rx_flow_control(r->target, 0);
	}
	if (queue_push(&r->down, ok, strlen(ok)) < 0)
		return -1;
	lws_callback_on_writable(r->client);
	/* Whatever came after the request is the client's first SPICE bytes. */
	if (r->head_len > (size_t)n && client_in(r, r->head + n, r->head_len - (size_t)n) < 0)
		return -1;
	explicit_bzero(r->head, sizeof(r->head));
	return 0;
}

int gw_relay_connect_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));
	struct relay *r = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		r = vdi_new0(struct relay);
		if (!r)
			return -1;
		r->gw = gw;
		r->client = wsi;
		lws_set_opaque_user_data(wsi, r);
		/* The request must come whole, and soon. */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 10);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (!r)
			return -1;
		if (r->close_after_flush)
			return 0; /* refused: ignore the rest */
		if (!r->admitted)
			return connect_head(r, in, len);
		return client_in(r, in, len) < 0 ? -1 : 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return r ? client_writeable(r) : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (r) {
			lws_set_opaque_user_data(wsi, NULL);
			client_closed(r);
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- the desktop side ----------------------------------------------------------------------- */

int gw_relay_target_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct relay *r = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX:
		return r ? (target_in(r, in, len) < 0 ? -1 : 0) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return r ? target_writeable(r) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		/* A TCP connect that failed while under way: libwebsockets may close the socket on its
		 * error without a writeable callback (target_writeable) to see it. */
		if (r && r->connecting) {
			int err = 0;
			socklen_t elen = sizeof(err);

			(void)getsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_ERROR, &err, &elen);
			target_unreachable(r, err);
		}
		if (r) {
			/* A desktop that said its last words and hung up while we were not reading from it
			 * (flow control): those words are still in the socket; take them before it goes. */
			if (r->client && r->target_paused) {
				uint8_t buf[16384];
				ssize_t n;

				while ((n = recv(lws_get_socket_fd(wsi), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
					if (target_in(r, buf, (size_t)n) < 0)
						break;
			}
			/* A TLS tunnel's client learns that the session ended (not a cut), after those words. */
			if (r->client && r->tls && !r->taken_over)
				(void)gw_tunnel_tls_shutdown(r->tls, sink_client, r);
			lws_set_opaque_user_data(wsi, NULL);
			r->target = NULL;
			r->target_gone = true;
			gw_registry_leave(&r->gw->registry, &r->member);
			/* What the desktop said last still reaches the client, then it is closed. */
			if (r->client && !r->down.head)
				end_client(r);
			else if (r->client)
				lws_callback_on_writable(r->client);
			relay_maybe_free(r);
		}
		return 0;
	default:
		return 0;
	}
}
