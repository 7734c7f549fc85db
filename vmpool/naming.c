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
 * A template's base volume is "vdi-template-<template>-v<version>.qcow2":
 * its stem ends in "-v<digits>", which no domain name does, so a base is
 * never taken for an overlay nor an overlay for a base.
 */

#define DOMAIN_PREFIX "vdi-"
#define OVERLAY_SUFFIX ".qcow2"
#define BASE_PREFIX "vdi-template-"
#define TEMPLATE_NAME_MAX 64

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

/* Copies volume's name without ".qcow2" into buf; false when it has no such suffix or does not fit. */
static bool volume_stem(const char *volume, char *buf, size_t len)
{
	size_t n = volume ? strlen(volume) : 0;

	if (n <= strlen(OVERLAY_SUFFIX) || !streq(volume + n - strlen(OVERLAY_SUFFIX), OVERLAY_SUFFIX))
		return false;
	n -= strlen(OVERLAY_SUFFIX);
	if (n >= len)
		return false;
	memcpy(buf, volume, n);
	buf[n] = '\0';
	return true;
}

bool pool_overlay_name_is_ours(const char *volume)
{
	char stem[256];

	return volume_stem(volume, stem, sizeof(stem)) && pool_domain_name_is_ours(stem);
}

bool pool_template_name_is_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > TEMPLATE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return name[0] != '.';
}

int pool_base_name(const char *template_name, int64_t version, char *buf, size_t len)
{
	int n;

	if (!pool_template_name_is_valid(template_name) || version < 1)
		return -EINVAL;
	n = snprintf(buf, len, BASE_PREFIX "%s-v%" PRId64 OVERLAY_SUFFIX, template_name, version);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Parses "<digits>" without leading zeros, >= 1. */
static int parse_version(const char *s, int64_t *ret)
{
	int64_t v = 0;

	if (!*s || *s == '0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	*ret = v;
	return 0;
}

int pool_base_name_parse(const char *volume, char *ret_template, size_t len, int64_t *ret_version)
{
	char stem[sizeof(BASE_PREFIX) + TEMPLATE_NAME_MAX + 24];
	const char *rest;
	char *dash;
	int64_t version;

	if (!volume_stem(volume, stem, sizeof(stem)) || !(rest = startswith(stem, BASE_PREFIX)))
		return -EINVAL;
	dash = strrchr(rest, '-');
	if (!dash || dash[1] != 'v' || parse_version(dash + 2, &version) < 0)
		return -EINVAL;
	*dash = '\0';
	if (!pool_template_name_is_valid(rest) || strlen(rest) >= len)
		return -EINVAL;
	memcpy(ret_template, rest, strlen(rest) + 1);
	*ret_version = version;
	return 0;
}
