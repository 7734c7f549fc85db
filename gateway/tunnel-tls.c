/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel-tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/err.h>

#include "alloc.h"
#include "config.h"
#include "log.h"
#include "private.h"
#include "tls.h"

/*
 * TLS records as spice-server's own TLS makes them, none holding the end of one SPICE message and
 * the start of the next: spice-gtk reads a message, then waits for its socket to be readable before
 * it reads on, so bytes that OpenSSL already holds (the rest of a record) would wait for whatever
 * the desktop sends next, maybe never.  The desktop's socket joins what it writes (one read), so
 * the tunnel follows the stream: the link reply (a 16-byte header "REDQ", versions, then the size
 * of the rest), the 4-byte link result, then messages (a 6-byte mini header: type, then size;
 * spice-server and spice-gtk always agree on it).  Each also goes to the relay on its own (a
 * flush), which writes it apart when it can (relay.c): the client's proxy TLS (GLib) would hold
 * what followed in the same record of its own, unseen by spice-gtk too.  Were the stream not what
 * it says, only records would be cut elsewhere: every byte still goes out.
 */
enum stage { LINK_HEADER, LINK_REPLY, LINK_RESULT, MSG_HEADER, MSG_BODY };

#define LINK_HEADER_LEN 16
#define LINK_RESULT_LEN 4
#define MSG_HEADER_LEN 6

struct gw_tunnel_tls {
	SSL *ssl;
	BIO *in, *out; /* memory: the client's ciphertext in, ours out (owned by ssl) */
	bool failed;
	enum stage stage;
	unsigned char header[LINK_HEADER_LEN]; /* the link's or a message's, as far as it came */
	size_t left;   /* bytes until the stage's end */
};

/* The first OpenSSL error on this thread as text (the queue is emptied). */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (!e)
		snprintf(buf, len, "no detail");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static SSL_CTX *ctx_load(const char *cert, const char *key, struct vdi_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		vdi_error_set(err, -ENOMEM, "cannot make a TLS context: %s", ssl_reason(why, sizeof(why)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (vdi_tls_load_pair(ctx, "gateway", cert, key, err) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Nobody resumes a SPICE channel's session: no tickets, no cache; idle tunnels hold no buffers. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

int gw_tunnel_tls_prepare(struct gw *gw, SSL_CTX **ret, struct vdi_error *err)
{
	const char *cert = gw->cfg->gateway.tls_cert, *key = gw->cfg->gateway.tls_key;

	*ret = NULL;
	if (!cert)
		return 0;
	if (!key)
		return vdi_error_set(err, -EINVAL, "[gateway] tls_cert: set tls_key too");
	*ret = ctx_load(cert, key, err);
	return *ret ? 0 : -EINVAL;
}

void gw_tunnel_tls_install(struct gw *gw, SSL_CTX *ctx)
{
	SSL_CTX_free(gw->tunnel_tls);
	gw->tunnel_tls = ctx;
}

int gw_tunnel_tls_load(struct gw *gw, struct vdi_error *err)
{
	SSL_CTX *ctx;
	int r = gw_tunnel_tls_prepare(gw, &ctx, err);

	if (r >= 0)
		gw_tunnel_tls_install(gw, ctx);
	return r;
}

void gw_tunnel_tls_unload(struct gw *gw)
{
	SSL_CTX_free(gw->tunnel_tls);
	gw->tunnel_tls = NULL;
}

struct gw_tunnel_tls *gw_tunnel_tls_new(struct gw *gw)
{
	struct gw_tunnel_tls *t;

	if (!gw->tunnel_tls)
		return NULL;
	t = vdi_new0(struct gw_tunnel_tls);
	if (!t)
		return NULL;
	t->ssl = SSL_new(gw->tunnel_tls); /* holds its own reference to the context */
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->in || !t->out) {
		SSL_free(t->ssl);
		BIO_free(t->in);
		BIO_free(t->out);
		free(t);
		return NULL;
	}
	BIO_set_mem_eof_return(t->in, -1); /* empty: "want more", not the end */
	SSL_set_bio(t->ssl, t->in, t->out);
	SSL_set_accept_state(t->ssl);
	t->left = LINK_HEADER_LEN;
	return t;
}

void gw_tunnel_tls_free(struct gw_tunnel_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl); /* and its BIOs */
	free(t);
}

/*
 * A memory BIO's buffer only grows, and emptying it (BIO_reset) clears all of it: one that a full
 * screen grew would be cleared again for every small message after, and kept by the tunnel while
 * idle.  One grown past BIO_KEEP is dropped once empty (its clearing costs what growing it did); a
 * new one grows again if need be.
 */
#define BIO_KEEP 4096

static size_t bio_size(BIO *b)
{
	BUF_MEM *m = NULL;

	return BIO_get_mem_ptr(b, &m) > 0 && m ? m->max : 0;
}

/* t->out, emptied. */
static void out_empty(struct gw_tunnel_tls *t)
{
	BIO *b = bio_size(t->out) > BIO_KEEP ? BIO_new(BIO_s_mem()) : NULL;

	if (!b) {
		(void)BIO_reset(t->out);
		return;
	}
	SSL_set0_wbio(t->ssl, b); /* frees the old */
	t->out = b;
}

/* t->in, once OpenSSL has read all of it. */
static void in_shrink(struct gw_tunnel_tls *t)
{
	BIO *b;

	if (BIO_ctrl_pending(t->in) || bio_size(t->in) <= BIO_KEEP || !(b = BIO_new(BIO_s_mem())))
		return;
	BIO_set_mem_eof_return(b, -1);
	SSL_set0_rbio(t->ssl, b);
	t->in = b;
}

/* What OpenSSL has for the client, to cipher. */
static int flush_out(struct gw_tunnel_tls *t, gw_tunnel_tls_sink cipher, void *data)
{
	char *p;
	long n = BIO_get_mem_data(t->out, &p);
	int r;

	if (n <= 0)
		return 0;
	r = cipher(data, p, (size_t)n);
	out_empty(t);
	return r;
}

/* The end of our side of the session (a close_notify alert) into t->out; after a fatal error there is
 * none to end. */
static void close_notify(struct gw_tunnel_tls *t)
{
	if (t->failed || !SSL_is_init_finished(t->ssl))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
}

int gw_tunnel_tls_shutdown(struct gw_tunnel_tls *t, gw_tunnel_tls_sink cipher, void *data)
{
	close_notify(t);
	t->failed = true; /* nothing goes through after it */
	return flush_out(t, cipher, data);
}

int gw_tunnel_tls_from_client(struct gw_tunnel_tls *t, const void *in, size_t len, gw_tunnel_tls_sink plain,
			      gw_tunnel_tls_sink cipher, void *data, const char *desc)
{
	unsigned char buf[16 * 1024];
	char why[256];
	int r = 0, n;

	if (t->failed)
		return -EPROTO;
	if (len > INT32_MAX || BIO_write(t->in, in, (int)len) != (int)len)
		return -ENOMEM;
	ERR_clear_error(); /* SSL_get_error looks at this thread's queue: nothing of another's */
	while ((n = SSL_read(t->ssl, buf, sizeof(buf))) > 0) {
		r = plain(data, buf, (size_t)n);
		if (r < 0)
			break;
	}
	if (r >= 0 && n <= 0) {
		int e = SSL_get_error(t->ssl, n);

		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			/* A bad handshake gets its alert out first (flush_out below). */
			vdi_info("TLS tunnel for %s: %s", desc,
				 e == SSL_ERROR_ZERO_RETURN ? "the client closed TLS" : ssl_reason(why, sizeof(why)));
			if (e == SSL_ERROR_ZERO_RETURN)
				close_notify(t); /* our own back, flushed below */
			t->failed = true;
			r = -EPROTO;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	in_shrink(t);
	n = flush_out(t, cipher, data);
	return r < 0 ? r : n;
}

bool gw_tunnel_tls_ready(const struct gw_tunnel_tls *t)
{
	return SSL_is_init_finished(t->ssl);
}

/* How many of the desktop's next len bytes belong to the current stage (a header's kept). */
static size_t stage_bytes(struct gw_tunnel_tls *t, const unsigned char *in, size_t len)
{
	size_t n = len < t->left ? len : t->left;

	if (t->stage == LINK_HEADER)
		memcpy(t->header + LINK_HEADER_LEN - t->left, in, n);
	else if (t->stage == MSG_HEADER)
		memcpy(t->header + MSG_HEADER_LEN - t->left, in, n);
	return n;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A message's end (or its header's, with no body): the next begins. */
static void next_message(struct gw_tunnel_tls *t)
{
	t->stage = MSG_HEADER;
	t->left = MSG_HEADER_LEN;
}

/* The stage is over: the next; whether a piece (a link part, a message) ends here. */
static bool stage_next(struct gw_tunnel_tls *t)
{
	uint32_t size;

	switch (t->stage) {
	case LINK_HEADER:
		size = le32(t->header + 12);
		t->stage = size ? LINK_REPLY : LINK_RESULT;
		t->left = size ? size : LINK_RESULT_LEN;
		return !size;
	case LINK_REPLY:
		t->stage = LINK_RESULT;
		t->left = LINK_RESULT_LEN;
		return true;
	case MSG_HEADER:
		size = le32(t->header + 2);
		if (size) {
			t->stage = MSG_BODY;
			t->left = size;
			return false;
		}
		next_message(t);
		return true;
	default: /* the link result, a message's body */
		next_message(t);
		return true;
	}
}

static int encrypt(struct gw_tunnel_tls *t, const void *in, size_t len)
{
	/* The desktop answers only what came through a finished handshake: writing cannot want to read. */
	ERR_clear_error();
	if (len > INT32_MAX || (len && SSL_write(t->ssl, in, (int)len) != (int)len)) {
		ERR_clear_error();
		t->failed = true;
		return -EPROTO;
	}
	return 0;
}

int gw_tunnel_tls_to_client(struct gw_tunnel_tls *t, const void *in, size_t len, gw_tunnel_tls_sink cipher,
			    void *data)
{
	const unsigned char *p = in, *start = in;
	int r;

	if (t->failed)
		return -EPROTO;
	while (len) {
		size_t n = stage_bytes(t, p, len);

		p += n;
		len -= n;
		t->left -= n;
		if (t->left || !stage_next(t))
			continue;
		/* One record (SSL_write) up to here, handed over on its own. */
		if (encrypt(t, start, (size_t)(p - start)) < 0)
			return -EPROTO;
		start = p;
		if ((r = flush_out(t, cipher, data)) < 0)
			return r;
	}
	if (encrypt(t, start, (size_t)(p - start)) < 0)
		return -EPROTO;
	return flush_out(t, cipher, data);
}
