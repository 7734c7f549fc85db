/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's HTTP side on libwebsockets: one event loop thread, requests
 * to /api/v1/... and /healthz routed to handlers, JSON replies.  A handler
 * answers at once with broker_req_reply*(), or hands blocking work to the
 * worker pool and answers from the job's completion (on the loop thread).
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "http-request.h"

struct broker_http;
struct vdi_workers;

struct broker_route {
	const char *method; /* "GET", "POST", "PATCH", "DELETE" */
	/* The path; a "*" segment matches one non-empty segment, read with broker_req_param(). */
	const char *path;
	void (*handler)(struct broker_req *req, void *userdata);
};

struct broker_http_options {
	const char *listen;          /* host:port */
	const char *admin_socket;    /* path of a unix socket serving the same routes (mode 0660), or NULL */
	const char *web_root;        /* GET of an unrouted path outside /api/ serves a file from here, or NULL */
	const char *spice_html5;     /* GET /spice-html5/... serves the system's spice-html5 from here, or NULL */
	/* [broker] tls_cert, tls_key: PEM paths, both or neither (NULL: plain HTTP).  Both: HTTPS on
	 * listen (the admin socket stays plain).  Borrowed for h's life (broker_http_reload_tls reads them). */
	const char *tls_cert, *tls_key;
	/* Called on the loop thread after broker_http_wake() (from any thread) and on each tick. */
	void (*on_wake)(void *userdata);
	void (*on_tick)(void *userdata);
	unsigned tick_ms;            /* 0: no tick */
	const struct broker_route *routes;
	size_t n_routes;
	void *userdata;              /* passed to handlers */
	/*
	 * Borrowed: the pool broker_req_defer() submits to and whose completions the loop drains.  Its
	 * notify calls broker_http_notify(); it is freed before broker_http_free().
	 */
	struct vdi_workers *workers;
};

int broker_http_new(const struct broker_http_options *opts, struct broker_http **ret, struct vdi_error *err);
struct broker_http *broker_http_free(struct broker_http *h);

/* The port actually listened on (useful with port 0). */
int broker_http_port(struct broker_http *h);
/* The address it listens on, for logs: "127.0.0.1", "::1" or "every address". */
const char *broker_http_address(struct broker_http *h);

/* Makes the loop call on_wake soon; thread-safe. */
void broker_http_wake(struct broker_http *h);

/* The workers' notify: makes the loop run the finished jobs' completions soon; thread-safe. */
void broker_http_notify(struct broker_http *h);

/*
 * Makes the loop read tls_cert and tls_key again soon (SIGHUP: a renewal); thread- and signal-safe.
 * Open connections keep the certificate they were made with; a bad new pair is logged and the old
 * one stays.
 */
void broker_http_reload(struct broker_http *h);
/* The same at once, on the loop's thread: 0 (also without TLS) or -errno with the reason in err. */
int broker_http_reload_tls(struct broker_http *h, struct vdi_error *err);

/* Runs the loop until broker_http_stop() (thread- and signal-safe). */
int broker_http_run(struct broker_http *h);
void broker_http_stop(struct broker_http *h);
