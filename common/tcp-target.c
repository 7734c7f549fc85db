/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tcp-target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"

/* Reads a decimal number lo..hi spanning exactly [s, e). */
static bool number(const char *s, const char *e, unsigned lo, unsigned hi, unsigned *ret)
{
	unsigned long v = 0;

	if (s == e || e - s > 5)
		return false;
	for (const char *p = s; p < e; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < lo || v > hi)
		return false;
	*ret = (unsigned)v;
	return true;
}

static int parse(const char *text, bool exact, struct vdi_tcp_pattern *ret, struct vdi_error *err)
{
	const char *rest, *addr_end, *ports, *dash, *slash;
	char addr[INET6_ADDRSTRLEN];
	size_t n;

	*ret = (struct vdi_tcp_pattern){ 0 };
	if (!startswith(text, "tcp:"))
		return vdi_error_set(err, -EINVAL, "expected \"tcp:\" at the start of \"%s\"", text);
	rest = text + strlen("tcp:");
	if (rest[0] == '[') {
		addr_end = strchr(rest, ']');
		if (!addr_end || addr_end[1] == '\0')
			return vdi_error_set(err, -EINVAL, "expected [IPV6-ADDRESS]:PORT in \"%s\"", text);
		rest++;
		ports = addr_end + 1;
		slash = NULL;
		if (*ports == '/') {
			slash = ports;
			ports = strchr(slash, ':');
			if (!ports)
				return vdi_error_set(err, -EINVAL, "expected a port after the prefix in \"%s\"", text);
		}
		if (*ports != ':')
			return vdi_error_set(err, -EINVAL, "expected ':' and a port after the address in \"%s\"", text);
	} else {
		ports = strrchr(rest, ':');
		if (!ports)
			return vdi_error_set(err, -EINVAL, "expected ADDRESS:PORT in \"%s\"", text);
		addr_end = ports;
		slash = memchr(rest, '/', (size_t)(addr_end - rest));
		if (slash)
			addr_end = slash;
	}
	n = (size_t)(addr_end - rest);
	if (n == 0 || n >= sizeof(addr))
		return vdi_error_set(err, -EINVAL, "expected a numeric address in \"%s\"", text);
	memcpy(addr, rest, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, ret->addr) == 1 && text[strlen("tcp:")] != '[') {
		ret->family = AF_INET;
		ret->prefix = 32;
	} else if (inet_pton(AF_INET6, addr, ret->addr) == 1 && text[strlen("tcp:")] == '[') {
		ret->family = AF_INET6;
		ret->prefix = 128;
	} else {
		return vdi_error_set(err, -EINVAL,
				     "\"%s\" is not a numeric IPv4 address or a bracketed IPv6 address (in \"%s\")",
				     addr, text);
	}
	if (slash) {
		unsigned max = ret->prefix;

		if (exact || !number(slash + 1, ports, 0, max, &ret->prefix))
			return vdi_error_set(err, -EINVAL, "expected a prefix length 0..%u after '/' in \"%s\"", max,
					     text);
		for (unsigned bit = ret->prefix; bit < max; bit++)
			if (ret->addr[bit / 8] & (0x80 >> (bit % 8)))
				return vdi_error_set(err, -EINVAL,
						     "the address in \"%s\" has bits set beyond its /%u prefix", text,
						     ret->prefix);
	}
	ports++;
	dash = exact ? NULL : strchr(ports, '-');
	if (!number(ports, dash ? dash : ports + strlen(ports), 1, 65535, &ret->port_lo) ||
	    !number(dash ? dash + 1 : ports, ports + strlen(ports), 1, 65535, &ret->port_hi) ||
	    ret->port_hi < ret->port_lo) {
		return vdi_error_set(err, -EINVAL, "expected a port 1..65535%s at the end of \"%s\"",
				     exact ? "" : " or a range LOW-HIGH", text);
	}
	return 0;
}

int vdi_tcp_pattern_parse(const char *text, struct vdi_tcp_pattern *ret, struct vdi_error *err)
{
	return parse(text, false, ret, err);
}

int vdi_tcp_target_parse(const char *text, struct vdi_tcp_pattern *ret)
{
	return parse(text, true, ret, NULL);
}

bool vdi_tcp_pattern_match(const struct vdi_tcp_pattern *p, const struct vdi_tcp_pattern *t)
{
	if (p->family != t->family || t->port_lo < p->port_lo || t->port_hi > p->port_hi)
		return false;
	for (unsigned bit = 0; bit < p->prefix; bit++) {
		unsigned char m = (unsigned char)(0x80 >> (bit % 8));

		if ((p->addr[bit / 8] & m) != (t->addr[bit / 8] & m))
			return false;
	}
	return true;
}
