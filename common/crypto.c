/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "crypto.h"

#include <errno.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int vdi_sha256(const void *data, size_t len, uint8_t out[static VDI_SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != VDI_SHA256_LEN)
		return -EIO;
	return 0;
}

void vdi_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

bool vdi_const_eq(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
