/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A decimal port 0..65535 and nothing else. */
static bool parse_port(const char *s, unsigned *ret)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 65535)
		return false;
	*ret = (unsigned)v;
	return true;
}

int vdi_listen_split(const char *text, char *host, size_t hostlen, unsigned *ret_port, struct vdi_error *err)
{
	const char *host_start = text, *host_end, *colon;
	size_t n;

	if (text[0] == '[') {
		host_start = text + 1;
		host_end = strchr(text, ']');
		colon = host_end && host_end[1] == ':' ? host_end + 1 : NULL;
	} else {
		colon = strrchr(text, ':');
		host_end = colon;
		if (colon && memchr(text, ':', (size_t)(colon - text)))
			return vdi_error_set(err, -EINVAL,
					     "expected host:port with an IPv6 address in brackets ([::1]:8080), got \"%s\"",
					     text);
	}
	if (!colon || host_end == host_start)
		return vdi_error_set(err, -EINVAL, "expected host:port, got \"%s\"", text);
	if (!parse_port(colon + 1, ret_port))
		return vdi_error_set(err, -EINVAL, "expected a port 0..65535 in \"%s\"", text);
	n = (size_t)(host_end - host_start);
	if (n >= hostlen)
		return vdi_error_set(err, -EINVAL, "the host in \"%s\" is too long", text);
	memcpy(host, host_start, n);
	host[n] = '\0';
	if (text[0] == '[') {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, host, &a6) != 1)
			return vdi_error_set(err, -EINVAL, "\"%s\" in \"%s\" is not an IPv6 address", host, text);
	}
	return 0;
}

/* Whether this machine has the address: a bind to it on port 0 (lws would wait for it silently). */
static int probe(const struct vdi_listen *l, const char *text, struct vdi_error *err)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa = { 0 };
	socklen_t salen;
	int fd, r = 0;

	if (l->family == AF_INET) {
		sa.v4.sin_family = AF_INET;
		(void)inet_pton(AF_INET, l->address, &sa.v4.sin_addr);
		salen = sizeof(sa.v4);
	} else {
		sa.v6.sin6_family = AF_INET6;
		(void)inet_pton(AF_INET6, l->address, &sa.v6.sin6_addr);
		salen = sizeof(sa.v6);
	}
	fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		vdi_error_set(err, r, "cannot listen on \"%s\": %s is not an address of this machine (%s)", text,
			      l->address, strerror(-r));
	}
	if (fd >= 0)
		close(fd);
	return r;
}

int vdi_listen_resolve(const char *text, struct vdi_listen *ret, struct vdi_error *err)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char host[256];
	struct addrinfo *ai = NULL;
	const struct addrinfo *pick;
	int r;

	*ret = (struct vdi_listen){ .family = AF_UNSPEC };
	r = vdi_listen_split(text, host, sizeof(host), &ret->port, err);
	if (r < 0)
		return r;
	if (strcmp(host, "*") == 0)
		return 0;
	r = getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0 || !ai) {
		vdi_error_set(err, -EADDRNOTAVAIL, "cannot resolve \"%s\" in \"%s\": %s", host, text,
			      r != 0 ? gai_strerror(r) : "no address");
		if (ai)
			freeaddrinfo(ai);
		return -EADDRNOTAVAIL;
	}
	/* A name's first IPv4 address, else its first IPv6 one: "localhost" is 127.0.0.1, where
	 * proxies look for it, even where the resolver lists ::1 first. */
	pick = ai;
	for (const struct addrinfo *p = ai; p; p = p->ai_next)
		if (p->ai_family == AF_INET) {
			pick = p;
			break;
		}
	ret->family = pick->ai_family;
	if (pick->ai_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)pick->ai_addr)->sin_addr, ret->address,
			  sizeof(ret->address));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, ret->address,
			  sizeof(ret->address));
	freeaddrinfo(ai);
	return probe(ret, text, err);
}

const char *vdi_listen_describe(const struct vdi_listen *l)
{
	return l->family == AF_UNSPEC ? "every address" : l->address;
}
