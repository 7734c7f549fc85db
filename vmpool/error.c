/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "private.h"

static int errno_from_virerror(const virError *e)
{
	if (!e)
		return -EIO;

	switch (e->code) {
	case VIR_ERR_NO_DOMAIN:
	case VIR_ERR_NO_STORAGE_VOL:
	case VIR_ERR_NO_STORAGE_POOL:
	case VIR_ERR_NO_NETWORK:
		return -ENOENT;
	case VIR_ERR_DOM_EXIST:
	case VIR_ERR_STORAGE_VOL_EXIST:
	case VIR_ERR_STORAGE_POOL_BUILT:
	case VIR_ERR_NETWORK_EXIST:
		return -EEXIST;
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_INVALID_CONN:
	case VIR_ERR_RPC:
		return -ENOTCONN;
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_XML_DETAIL:
	case VIR_ERR_CONFIG_UNSUPPORTED:
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_OPERATION_INVALID:
		return -EINVAL;
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_AUTH_CANCELLED:
	case VIR_ERR_ACCESS_DENIED:
		return -EACCES;
	case VIR_ERR_OPERATION_TIMEOUT:
		return -ETIMEDOUT;
	case VIR_ERR_NO_SUPPORT:
		return -EOPNOTSUPP;
	case VIR_ERR_SYSTEM_ERROR:
		/* libvirt keeps the errno of system errors in int1. */
		if (e->int1 > 0 && e->int1 < 4096)
			return -e->int1;
		return -EIO;
	default:
		break;
	}

	/* qemu-img's failures arrive as internal errors: recognise the common ones. */
	if (e->message) {
		if (strstr(e->message, "No space left"))
			return -ENOSPC;
		if (strstr(e->message, "Read-only file system"))
			return -EROFS;
		if (strstr(e->message, "Permission denied"))
			return -EACCES;
	}
	return -EIO;
}

int pool_libvirt_error(struct vdi_error *err, const char *fmt, ...)
{
	const virError *e = virGetLastError();
	char what[256];
	va_list ap;
	int r = errno_from_virerror(e);

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(err->message, sizeof(err->message), "%s: %s", what,
			 e && e->message ? e->message : "unknown libvirt error");
	return r;
}
