/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "target.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"

/* The path of a "unix:" target when it is well-formed: absolute, no "." or ".." segment, no "//". */
static const char *unix_path(const char *target)
{
	const char *path;

	if (!startswith(target, "unix:"))
		return NULL;
	path = target + strlen("unix:");
	if (path[0] != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return NULL;
	for (const char *p = path; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
		if (*p == '/' && (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '\0' ||
								   (p[2] == '.' && (p[3] == '/' || p[3] == '\0'))))))
			return NULL;
	}
	if (path[strlen(path) - 1] == '/')
		return NULL;
	return path;
}

/* Splits "tcp:ADDRESS:PORT" into its parts; false when malformed. */
static bool tcp_parts(const char *target, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *rest, *colon;
	size_t n;

	if (!startswith(target, "tcp:"))
		return false;
	rest = target + strlen("tcp:");
	colon = strrchr(rest, ':');
	if (!colon || colon == rest || !colon[1] || strlen(colon + 1) >= portlen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return false;
	n = (size_t)(colon - rest);
	if (rest[0] == '[') {
		if (n < 3 || rest[n - 1] != ']')
			return false;
		rest++;
		n -= 2;
	}
	if (n >= hostlen)
		return false;
	memcpy(host, rest, n);
	host[n] = '\0';
	if (strspn(host, "0123456789abcdefABCDEF.:") != n)
		return false;
	snprintf(port, portlen, "%s", colon + 1);
	return true;
}

bool gw_target_allowed(const char *target, char *const *allowed)
{
	char host[64], port[8];
	bool is_unix;

	if (!target)
		return false;
	is_unix = unix_path(target) != NULL;
	if (!is_unix && !tcp_parts(target, host, sizeof(host), port, sizeof(port)))
		return false;
	for (char *const *a = allowed; a && *a; a++) {
		size_t len = strlen(*a);

		if (streq(*a, target))
			return true;
		/* A directory: sockets directly in it, not in its subdirectories. */
		if (is_unix && len > 0 && (*a)[len - 1] == '/' && strncmp(*a, target, len) == 0 &&
		    !strchr(target + len, '/'))
			return true;
	}
	return false;
}

int gw_target_connect(const char *target)
{
	const char *path = unix_path(target);
	int fd, r;

	if (path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		return fd;
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
		struct addrinfo *ai = NULL;
		char host[64], port[8];

		if (!tcp_parts(target, host, sizeof(host), port, sizeof(port)))
			return -EINVAL;
		if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
			return -EAFNOSUPPORT;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			freeaddrinfo(ai);
			return r;
		}
		r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(ai);
		if (r < 0 && errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			return r;
		}
		return fd;
	}
}

bool gw_origin_allowed(const char *origin, char *const *allowed)
{
	for (; allowed && *allowed; allowed++)
		if (streq(*allowed, "*") || strcasecmp(*allowed, origin) == 0)
			return true;
	return false;
}
