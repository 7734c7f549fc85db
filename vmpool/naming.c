/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "private.h"

/*
 * vdi's names on a libvirt host: pure functions, no I/O.  A desktop's
 * domain is "vdi-<pool>-<id>" and its overlay volume "<domain>.qcow2".
 * Pool names have no '-', so a domain name parses back to one pool and id.
 */

#define DOMAIN_PREFIX "vdi-"
#define OVERLAY_SUFFIX ".qcow2"

bool pool_name_is_valid(const char *pool)
{
	size_t len = pool ? strlen(pool) : 0;

	if (len == 0 || len > POOL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = pool[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int pool_domain_name(const char *pool, int64_t desktop_id, char *buf, size_t len)
{
	int n;

	if (!pool_name_is_valid(pool) || desktop_id < 0)
		return -EINVAL;
	n = snprintf(buf, len, DOMAIN_PREFIX "%s-%" PRId64, pool, desktop_id);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int pool_domain_name_parse(const char *name, char *ret_pool, size_t pool_len, int64_t *ret_id)
{
	const char *rest = startswith(name, DOMAIN_PREFIX), *dash;
	int64_t id = 0;
	size_t plen;

	if (!rest || !(dash = strrchr(rest, '-')) || dash == rest || !dash[1])
		return -EINVAL;
	for (const char *p = dash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || id > (INT64_MAX - 9) / 10)
			return -EINVAL;
		id = id * 10 + (*p - '0');
	}
	if (dash[1] == '0' && dash[2])
		return -EINVAL; /* no leading zeros: one name per desktop */
	plen = (size_t)(dash - rest);
	if (plen >= pool_len || plen > POOL_NAME_MAX)
		return -EINVAL;
	memcpy(ret_pool, rest, plen);
	ret_pool[plen] = '\0';
	if (!pool_name_is_valid(ret_pool))
		return -EINVAL;
	*ret_id = id;
	return 0;
}

bool pool_domain_name_is_ours(const char *domain)
{
	char pool[POOL_NAME_MAX + 1];
	int64_t id;

	return domain && pool_domain_name_parse(domain, pool, sizeof(pool), &id) >= 0;
}

void pool_overlay_name(const char *domain, char *buf, size_t len)
{
	snprintf(buf, len, "%s" OVERLAY_SUFFIX, domain);
}

bool pool_overlay_name_is_ours(const char *volume)
{
	size_t len = volume ? strlen(volume) : 0;

	return volume && startswith(volume, DOMAIN_PREFIX) && len > strlen(OVERLAY_SUFFIX) &&
	       streq(volume + len - strlen(OVERLAY_SUFFIX), OVERLAY_SUFFIX);
}
