/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

/* IPv4 subnets: parsing, formatting and overlap.  Pure. */

static uint32_t mask_of(unsigned prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static int parse_ipv4(const char *s, uint32_t *ret)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

/* A decimal 0..32, digits only. */
static int parse_prefix(const char *s, unsigned *ret)
{
	unsigned v = 0;
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len > 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 32)
		return -EINVAL;
	*ret = v;
	return 0;
}

int pool_subnet_parse(const char *cidr, struct pool_subnet *ret, struct vdi_error *err)
{
	char addr[32], want[20];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct pool_subnet s;
	uint32_t a;

	if (!cidr || !*cidr)
		return vdi_error_set(err, -EINVAL, "empty subnet: an IPv4 CIDR such as 10.0.0.0/24");
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return vdi_error_set(err, -EINVAL, "subnet '%s' is not an IPv4 CIDR such as 10.0.0.0/24", cidr);
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (parse_ipv4(addr, &a) < 0)
		return vdi_error_set(err, -EINVAL, "subnet '%s': '%s' is not an IPv4 address", cidr, addr);
	if (parse_prefix(slash + 1, &s.prefix) < 0)
		return vdi_error_set(err, -EINVAL, "subnet '%s': the prefix length must be 0-32", cidr);
	s.network = a & mask_of(s.prefix);
	if (s.network != a) {
		pool_subnet_format(&s, want, sizeof(want));
		return vdi_error_set(err, -EINVAL, "subnet '%s' has host bits set: its network is %s", cidr, want);
	}
	*ret = s;
	return 0;
}

/* The prefix length of a contiguous netmask. */
static int prefix_of_mask(uint32_t mask, unsigned *ret)
{
	unsigned n = 0;

	while (n < 32 && (mask & (0x80000000u >> n)))
		n++;
	if (mask != mask_of(n))
		return -EINVAL;
	*ret = n;
	return 0;
}

int pool_subnet_from_ip(const char *address, const char *netmask, const char *prefix, struct pool_subnet *ret)
{
	uint32_t a, m;
	unsigned p;

	if (parse_ipv4(address, &a) < 0)
		return -EINVAL;
	if (prefix) {
		if (parse_prefix(prefix, &p) < 0)
			return -EINVAL;
	} else if (netmask) {
		if (parse_ipv4(netmask, &m) < 0 || prefix_of_mask(m, &p) < 0)
			return -EINVAL;
	} else if (a >> 31 == 0) { /* libvirt's default: the address's class */
		p = 8;
	} else if (a >> 30 == 2) {
		p = 16;
	} else if (a >> 29 == 6) {
		p = 24;
	} else {
		return -EINVAL;
	}
	ret->prefix = p;
	ret->network = a & mask_of(p);
	return 0;
}

void pool_subnet_address(const struct pool_subnet *s, uint32_t i, char buf[16])
{
	uint32_t a = s->network + i;

	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

int pool_subnet_format(const struct pool_subnet *s, char *buf, size_t len)
{
	char a[16];
	int n;

	pool_subnet_address(s, 0, a);
	n = snprintf(buf, len, "%s/%u", a, s->prefix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool pool_subnet_overlaps(const struct pool_subnet *a, const struct pool_subnet *b)
{
	/* Two CIDR blocks overlap when one contains the other: compare under the shorter prefix. */
	uint32_t m = mask_of(a->prefix < b->prefix ? a->prefix : b->prefix);

	return (a->network & m) == (b->network & m);
}
