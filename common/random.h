/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Cryptographically strong random bytes (OpenSSL RAND_bytes).  Returns 0 or -EIO. */
int vdi_random_bytes(void *buf, size_t len);

/*
 * Writes a random id of len characters from the URL- and shell-safe
 * alphabet [A-Za-z0-9] into buf (len + 1 bytes, NUL-terminated).
 * Each character carries log2(62) ~ 5.95 bits.  Returns 0 or -errno.
 */
int vdi_random_id(char *buf, size_t len);

/* Writes a random RFC 4122 version 4 UUID, 36 characters + NUL, into buf. */
int vdi_random_uuid(char buf[static 37]);

/* Writes a random locally administered MAC in QEMU's 52:54:00 range, 17 characters + NUL. */
int vdi_random_mac(char buf[static 18]);
