/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "random.h"

#include <errno.h>
#include <stdio.h>

#include <openssl/rand.h>

int vdi_random_bytes(void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		return -EINVAL;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int vdi_random_id(char *buf, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t i = 0;

	while (i < len) {
		uint8_t chunk[64];
		int r = vdi_random_bytes(chunk, sizeof(chunk));

		if (r < 0)
			return r;
		/* Rejection sampling: 248 = 4 * 62, so no modulo bias. */
		for (size_t j = 0; j < sizeof(chunk) && i < len; j++) {
			if (chunk[j] < 248)
				buf[i++] = alphabet[chunk[j] % 62];
		}
	}
	buf[len] = '\0';
	return 0;
}

int vdi_random_uuid(char buf[static 37])
{
	uint8_t u[16];
	int r = vdi_random_bytes(u, sizeof(u));

	if (r < 0)
		return r;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
		 u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

int vdi_random_mac(char buf[static 18])
{
	uint8_t m[3];
	int r = vdi_random_bytes(m, sizeof(m));

	if (r < 0)
		return r;
	snprintf(buf, 18, "52:54:00:%02x:%02x:%02x", m[0], m[1], m[2]);
	return 0;
}
