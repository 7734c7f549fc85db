/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "proxy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "alloc.h"

/* Standard base64 (RFC 4648 section 4, padded) of an HTTP Basic credential; false when malformed. */
static bool base64_decode(const char *in, size_t inlen, char *out, size_t outlen)
{
	unsigned char buf[GW_PROXY_HEAD_MAX];
	int n, pad = 0;

	if (inlen == 0 || inlen % 4 || inlen / 4 * 3 > sizeof(buf))
		return false;
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];

		if (c == '=') {
			if (i < inlen - 2)
				return false;
			pad++;
		} else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				    c == '+' || c == '/')) {
			return false;
		}
	}
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)inlen);
	if (n < pad)
		return false;
	n -= pad;
	if ((size_t)n >= outlen || memchr(buf, '\0', (size_t)n))
		return false;
	memcpy(out, buf, (size_t)n);
	out[n] = '\0';
	return true;
}

/* "desktop-<id>:<port>" */
static int parse_authority(const char *a, size_t len, struct gw_proxy_request *ret)
{
	char text[64], *end;
	const char *colon;
	unsigned long long id;
	unsigned long port;

	if (len >= sizeof(text))
		return -ENOENT;
	memcpy(text, a, len);
	text[len] = '\0';
	if (!startswith(text, "desktop-") || !(colon = strrchr(text, ':')))
		return -ENOENT;
	errno = 0;
	id = strtoull(text + strlen("desktop-"), &end, 10);
	if (errno || end != colon || end == text + strlen("desktop-") || id == 0 || id > INT64_MAX ||
	    text[strlen("desktop-")] == '0')
		return -ENOENT;
	port = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port == 0 || port > 65535)
		return -ENOENT;
	ret->desktop = (int64_t)id;
	ret->port = (unsigned)port;
	return 0;
}

int gw_proxy_parse(const char *buf, size_t len, struct gw_proxy_request *ret)
{
	const char *end = NULL, *line, *eol, *sp1, *sp2;
	size_t head;
	int r;

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i + 1 < len && i < GW_PROXY_HEAD_MAX; i++)
		if (buf[i] == '\n' && (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))) {
			end = buf + i + (buf[i + 1] == '\n' ? 2 : 3);
			break;
		}
	if (!end)
		return len >= GW_PROXY_HEAD_MAX ? -EBADMSG : 0;
	head = (size_t)(end - buf);
	if (memchr(buf, '\0', head))
		return -EBADMSG;

	/* Request line: CONNECT authority HTTP/1.x */
	eol = memchr(buf, '\n', head);
	if (!startswith(buf, "CONNECT "))
		return -EBADMSG;
	sp1 = buf + strlen("CONNECT");
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return -EBADMSG;
	r = parse_authority(sp1 + 1, (size_t)(sp2 - sp1 - 1), ret);
	if (r < 0)
		return r;

	/* Headers: only Proxy-Authorization matters. */
	for (line = eol + 1; line < end; line = eol + 1) {
		static const char name[] = "proxy-authorization:";
		const char *v, *ve;
		char cred[sizeof(ret->token) + 16];

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		if ((size_t)(eol - line) < strlen(name) || strncasecmp(line, name, strlen(name)) != 0)
			continue;
		for (v = line + strlen(name); v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if ((size_t)(ve - v) < 6 || strncasecmp(v, "Basic ", 6) != 0)
			continue;
		for (v += 6; v < ve && *v == ' '; v++)
			;
		if (base64_decode(v, (size_t)(ve - v), cred, sizeof(cred)) && startswith(cred, "token:") &&
		    strlen(cred + 6) < sizeof(ret->token))
			snprintf(ret->token, sizeof(ret->token), "%s", cred + 6);
	}
	return (int)head;
}
