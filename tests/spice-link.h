/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A minimal SPICE client for tests: the link handshake of the main channel
 * and, optionally, ticket (password) authentication.  Enough to prove that
 * a socket speaks SPICE and that a ticket is accepted, refused or expired.
 */

#include <stdbool.h>
#include <stdint.h>

/* SpiceLinkErr values the tests look at. */
#define SPICE_LINK_OK 0
#define SPICE_LINK_PERMISSION_DENIED 7

struct spice_link_result {
	char magic[5];          /* "REDQ" from the server's reply */
	uint32_t major, minor;  /* the server's protocol version */
	uint32_t reply_error;   /* SpiceLinkReply.error */
	bool auth_done;         /* a ticket was sent and a link result read */
	uint32_t auth_result;   /* SPICE_LINK_OK or an error such as SPICE_LINK_PERMISSION_DENIED */
};

/*
 * Connects to target ("unix:/path" or "tcp:host:port"), sends a SpiceLinkMess
 * for the main channel and reads the SpiceLinkReply.  When password is not
 * NULL it sends the ticket (password + NUL, RSA-OAEP encrypted with the
 * server's key) and reads the link result.  timeout_ms bounds each read and
 * write.  Returns 0 with *ret filled when the exchange completed, whatever
 * the server answered; -errno on connection or protocol failure.
 */
int spice_link_probe(const char *target, const char *password, int timeout_ms, struct spice_link_result *ret);

/* The same on a connection already open (through a proxy, say); fd is taken and closed. */
int spice_link_probe_fd(int fd, const char *password, int timeout_ms, struct spice_link_result *ret);

/*
 * remote-viewer's way to a desktop: HTTP CONNECT desktop-<desktop>:5900 through the gateway on
 * 127.0.0.1:gateway_port with token as the proxy password, then the link (and password) over the
 * tunnel.  *http_status gets the gateway's answer; only when it is 200 is *ret filled.  Returns 0
 * when the exchange completed, whatever either answered; -errno on connection or protocol failure.
 */
int spice_link_via_gateway(int gateway_port, int64_t desktop, const char *token, const char *password, int timeout_ms,
			   int *http_status, struct spice_link_result *ret);
