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
};

/*
 * Writes the file into *ret (NUL-terminated, *ret_len bytes; free() it).
 * -EINVAL when a value could make the file say something else: a control
 * character anywhere, white space or URL delimiters in the password or the
 * token, a URL without a host or with user information.
 */
int broker_vv_write(const struct broker_vv *vv, char **ret, size_t *ret_len);
