/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdictl's HTTP/1.1 client: one blocking request per connection to the
 * broker's admin unix socket ("Connection: close"), the whole reply read
 * into memory.
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Largest reply accepted, head and body. */
#define CTL_HTTP_MAX_REPLY (4 * 1024 * 1024)

/* Seconds a request may wait for the broker (template add may copy a disk). */
#define CTL_HTTP_TIMEOUT_S 600

struct ctl_http_reply {
	int status;
	char *body;         /* NUL-terminated (a NUL inside ends it early: use body_len) */
	size_t body_len;
};

/* Frees what r owns; accepts a zeroed reply. */
void ctl_http_reply_finish(struct ctl_http_reply *r);

/*
 * Parses the reply in buf (len bytes; eof: the peer closed the connection,
 * nothing more will come).  The body is delimited by Content-Length, by
 * chunked transfer coding, or by the end of the connection; 1xx interim
 * replies are skipped.  Returns 0 and fills *ret (zeroed on failure),
 * -EAGAIN when the reply is not complete yet (only when !eof), -EBADMSG when
 * it is malformed or cut short, -ENOMEM.
 */
int ctl_http_parse_reply(const char *buf, size_t len, bool eof, struct ctl_http_reply *ret);

/*
 * Sends method target (borrowed; "/api/v1/...", already URL-encoded) to the
 * unix socket socket_path with body (borrowed, JSON, may be NULL) and reads
 * the reply into *ret.  Returns 0 or -errno, then err says
 * what failed, naming the socket: "cannot connect to the socket PATH: ...".
 * A reply of any status is a success here.
 */
int ctl_http_request(const char *socket_path, const char *method, const char *target, const char *body,
		     struct ctl_http_reply *ret, struct vdi_error *err);
