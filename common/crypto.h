/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small wrappers over OpenSSL's libcrypto. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VDI_SHA256_LEN 32

/* SHA-256 of data into out. Returns 0 or -EIO. */
int vdi_sha256(const void *data, size_t len, uint8_t out[static VDI_SHA256_LEN]);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes, NUL-terminated). */
void vdi_hex(const uint8_t *in, size_t len, char *out);

/* Compares len bytes in time that does not depend on where they differ. */
bool vdi_const_eq(const void *a, const void *b, size_t len);
