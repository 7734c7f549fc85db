/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Error messages meant for people, the one convention of every library: a
 * function that can fail for a reason worth telling takes a struct vdi_error
 * *err (borrowed, owned by the caller, may be NULL) as its last parameter.  It
 * still returns -errno; on failure err's message is one line that names the
 * object and the reason, never a secret.  On success the message means
 * nothing.  A caller starts from an empty message ({ 0 }) and, when it is
 * still empty after a failure (out of memory, say), tells strerror(-r).
 */

#define VDI_ERROR_MAX 512

struct vdi_error {
	char message[VDI_ERROR_MAX];
};

/*
 * Sets err's message (when err is non-NULL) from fmt, and returns r, so that
 * `return vdi_error_set(err, -EINVAL, "...")` fails with a message.
 */
int vdi_error_set(struct vdi_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
