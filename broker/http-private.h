/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Inside the HTTP side (http.h): what its files share.  Only broker/http*.c
 * include this.  Who calls whom:
 *
 *   http.c          the lws context and its vhosts, the loop, the protocol callback and the routes
 *   http-request.c  one request: what it sent, its reply and how that is written, deferred work
 *   http-static.c   the files served for GETs no route takes
 *
 * http.c calls the functions below and http-static.h; http-request.c calls
 * neither http.c nor http-static.c: a reply asks lws itself for a writable
 * callback, which lws delivers to http.c's callback, which calls
 * broker_req_write().  Everything here runs on the loop thread.
 */

#include <stdbool.h>
#include <stddef.h>

struct broker_deferred;
struct lws;

/* Largest request body read; larger ones get 413. */
#define BROKER_HTTP_MAX_BODY (64 * 1024)

/* Most "*" segments in a route's path. */
#define BROKER_HTTP_MAX_PARAMS 4

struct vdi_workers;

/* Room for each header broker_req_header() reads. */
#define BROKER_REQ_HEADER_MAX 4096

enum broker_req_phase {
	BROKER_REQ_HANDLING,  /* no reply yet */
	BROKER_REQ_HEADERS,   /* a reply waits for its headers to be written */
	BROKER_REQ_BODY,      /* ... and then its body */
	BROKER_REQ_WRITTEN,   /* the reply went out */
	BROKER_REQ_FILE,      /* lws serves a file as the reply */
};

/* One request on a connection, from its headers to its reply. */
struct broker_req {
	struct lws *wsi;             /* NULL once the connection closed */
	struct vdi_workers *workers; /* borrowed: where broker_req_defer() submits */
	char method[8];
	char path[256];
	char peer[64];
	bool admin_socket;
	char params[BROKER_HTTP_MAX_PARAMS][128]; /* the matched route's "*" segments (http.c fills them) */
	unsigned n_params;
	char *body;
	size_t body_len;
	size_t body_expected;
	char hdr_buf[4][BROKER_REQ_HEADER_MAX];
	char cookie_val[512];

	/* the reply */
	unsigned status;
	char *reply;
	size_t reply_len;
	char *set_cookie;
	const char *content_type; /* static string */
	char *extra_header;       /* "name: value" or NULL */
	enum broker_req_phase phase;
	bool close_after;
	bool dispatched;                 /* the handler ran: once per request (http.c sets it) */
	struct broker_deferred *pending; /* the deferred work not yet completed, or NULL */
};

/*
 * Starts the request lws reports on wsi (borrowed) for uri (borrowed, NULL
 * for "/"), deferring to workers (borrowed); admin_socket says whether it
 * came over the admin socket.  *ret is new (free with broker_req_free()).
 * 1: ready for its handler; 0: it waits for its body, or is answered already
 * (an unknown method, a body too large); -ENOMEM.
 */
int broker_req_begin(struct lws *wsi, struct vdi_workers *workers, bool admin_socket, const char *uri,
		     struct broker_req **ret);

/* Appends len bytes at in (borrowed) to req's body, or answers 413 when it grows too large: 0, or -ENOMEM. */
int broker_req_add_body(struct broker_req *req, const void *in, size_t len);

/* Writes the next part of req's reply when lws says wsi is writable: 0, or -1 to close the connection. */
int broker_req_write(struct broker_req *req);

/* Frees req (taken; NULL is fine); a deferred job still running completes with req = NULL. */
void broker_req_free(struct broker_req *req);
