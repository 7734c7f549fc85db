/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "tcp-target.h"

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

bool gw_target_allowed(const char *target, char *const *allowed)
{
	struct vdi_tcp_pattern tcp, pattern;
	bool is_unix;

	if (!target)
		return false;
	is_unix = unix_path(target) != NULL;
	if (!is_unix && vdi_tcp_target_parse(target, &tcp) < 0)
		return false;
	for (char *const *a = allowed; a && *a; a++) {
		size_t len = strlen(*a);

		if (is_unix) {
			if (streq(*a, target))
				return true;
			/* A directory: sockets directly in it, not in its subdirectories. */
			if (len > 0 && (*a)[len - 1] == '/' && strncmp(*a, target, len) == 0 &&
			    !strchr(target + len, '/'))
				return true;
		} else if (vdi_tcp_pattern_parse(*a, &pattern, NULL) == 0 &&
			   vdi_tcp_pattern_match(&pattern, &tcp)) {
			return true;
		}
	}
	return false;
}

/* Whether real (a path with no links) is a socket an entry of allowed admits, the entry's own links resolved. */
static bool real_path_allowed(const char *real, char *const *allowed)
{
	for (char *const *a = allowed; a && *a; a++) {
		char entry[PATH_MAX];
		size_t len;

		if (!startswith(*a, "unix:") || !realpath(*a + strlen("unix:"), entry))
			continue;
		len = strlen(entry);
		if ((*a)[strlen(*a) - 1] != '/') {
			if (streq(real, entry))
				return true;
		} else if (len > 1 && strncmp(real, entry, len) == 0 && real[len] == '/' && real[len + 1] &&
			   !strchr(real + len + 1, '/')) {
			return true;
		}
	}
	return false;
}

/*
 * Opens (O_PATH, links followed) what a unix target's path leads to and reads its real path from
 * the descriptor, so that what is judged is what gets connected.  Returns the descriptor, -EACCES
 * when the socket is outside allowed, -ENOTSOCK when it is not a socket, -errno.
 */
static int open_unix_target(const char *path, char *const *allowed, char *real, size_t size)
{
	char proc[32];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, real, size - 1);
	if (n < 0 || (size_t)n >= size - 1 || fstat(fd, &st) < 0) {
		int r = n < 0 ? -errno : -ENAMETOOLONG;

		close(fd);
		return r;
	}
	real[n] = '\0';
	/* A hard link has no "real" path: its name is inside, the socket may be anybody's (libvirt's). */
	if (S_ISSOCK(st.st_mode) && st.st_nlink != 1) {
		close(fd);
		return -EMLINK;
	}
	if (!S_ISSOCK(st.st_mode) || !real_path_allowed(real, allowed)) {
		close(fd);
		return S_ISSOCK(st.st_mode) ? -EACCES : -ENOTSOCK;
	}
	return fd;
}

int gw_target_resolve(const char *target, char *const *allowed, char *real, size_t size)
{
	const char *path = unix_path(target);
	int fd;

	if (size < 2)
		return -EINVAL;
	snprintf(real, size, "%s", path ? path : target ? target : "");
	if (!path)
		return 0;
	fd = open_unix_target(path, allowed, real, size);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Connects the socket a unix target leads to, through its O_PATH descriptor: no link is swapped in between. */
static int connect_unix(const char *path, char *const *allowed)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char real[PATH_MAX];
	int pfd, fd, r;

	pfd = open_unix_target(path, allowed, real, sizeof(real));
	if (pfd < 0)
		return pfd;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		close(pfd);
		return r;
	}
	close(pfd);
	return fd;
}

int gw_target_connect(const char *target, char *const *allowed)
{
	const char *path = unix_path(target);
	int fd, r;

	if (path) {
		return connect_unix(path, allowed);
	} else {
		struct sockaddr_storage ss = { 0 };
		struct vdi_tcp_pattern t;
		socklen_t sslen;

		if (vdi_tcp_target_parse(target, &t) < 0)
			return -EINVAL;
		if (t.family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)t.port_lo);
			memcpy(&sin->sin_addr, t.addr, 4);
			sslen = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)t.port_lo);
			memcpy(&sin6->sin6_addr, t.addr, 16);
			sslen = sizeof(*sin6);
		}
		fd = socket(t.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS) {
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
