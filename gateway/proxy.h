/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The thin-client relay's request: "CONNECT desktop-<id>:5900 HTTP/1.1" with
 * the console token as the password of "Proxy-Authorization: Basic"
 * (user "token"), as remote-viewer sends it for a .vv file's
 * "proxy=http://token:<T>@<gateway>".
 */

#include <stddef.h>
#include <stdint.h>

#define GW_PROXY_HEAD_MAX 8192

struct gw_proxy_request {
	int64_t desktop;   /* from "desktop-<id>" */
	unsigned port;
	char token[2048];  /* "" when the request carries no credentials */
};

/*
 * Parses the head of a CONNECT request in buf (len bytes, not
 * NUL-terminated).  Returns the length of the head (through the empty
 * line) when it is complete, 0 when more bytes are needed, -EBADMSG when
 * it is malformed, longer than GW_PROXY_HEAD_MAX or not a CONNECT, and
 * -ENOENT when its authority is not "desktop-<id>:<port>".  Credentials
 * for any user but "token", or not Basic, leave token empty.
 */
int gw_proxy_parse(const char *buf, size_t len, struct gw_proxy_request *ret);
