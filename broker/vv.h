/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The remote-viewer file (.vv) of a desktop, reached through vdi-gateway as an HTTP proxy. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_vv {
	int64_t desktop;         /* > 0: "host=desktop-<id>" */
	const char *password;    /* the SPICE ticket */
	const char *token;       /* the console token: the proxy's password */
	const char *public_url;  /* [gateway] public_url: its host[:port] names the proxy */
	const char *title;       /* shown by remote-viewer */
	bool usb_redirect;       /* the desktop has USB redirection channels: enable-usbredir=1 (and
				  * enable-usb-autoshare=0: the user picks the devices to redirect) */
	/* SPICE over TLS, ended by the gateway ([gateway] tls_cert set): tls-port=5901 and
	 * secure-channels=all instead of port=5900, proxy=https:// (the gateway's listener speaks TLS). */
	const char *host_subject; /* NULL: plain SPICE; else the gateway certificate's subject */
	const char *ca;           /* with host_subject, may be NULL: the PEM of [gateway] tls_ca, inline */
};

/*
 * Writes the file into *ret (NUL-terminated, *ret_len bytes; free() it).
 * -EINVAL when a value could make the file say something else: a control
 * character anywhere (but the newlines of ca, written as "\n"), white space or
 * URL delimiters in the password or the token, a URL without a host or with user
 * information.
 */
int broker_vv_write(const struct broker_vv *vv, char **ret, size_t *ret_len);
