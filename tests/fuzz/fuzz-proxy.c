/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdi-gateway's CONNECT request and Proxy-Authorization parser, on any
 * bytes as they arrive from a thin client.  Invariants: a complete head
 * lies within what was read, names a desktop and port in range, and its
 * token is a terminated string; "need more" only below the head limit.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_proxy_request req;
	int r;

	memset(&req, 0xa5, sizeof(req));
	r = gw_proxy_parse((const char *)data, size, &req);
	FUZZ_CHECK(r >= 0 || r == -EBADMSG || r == -ENOENT);
	if (r > 0) {
		FUZZ_CHECK((size_t)r <= size && (size_t)r <= GW_PROXY_HEAD_MAX);
		FUZZ_CHECK(req.desktop > 0 && req.port > 0 && req.port <= 65535);
		FUZZ_CHECK(memchr(req.token, 0, sizeof(req.token)) != NULL);
	} else if (r == 0) {
		FUZZ_CHECK(size <= GW_PROXY_HEAD_MAX);
	}
	return 0;
}
