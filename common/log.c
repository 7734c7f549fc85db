/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int max_priority = LOG_INFO;

void vdi_log_set_max_priority(int prio)
{
	atomic_store(&max_priority, prio);
}

int vdi_log_get_max_priority(void)
{
	return atomic_load(&max_priority);
}

static void log_va(int prio, const char *file, int line, const char *fmt, va_list ap)
{
	char msg[2048];
	const char *base;

	if (prio > atomic_load(&max_priority))
		return;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	/* One fprintf call per line keeps lines from threads whole. */
	fprintf(stderr, "<%d>[%s:%d] %s\n", prio, base, line, msg);
}

const char *vdi_log_safe(const char *in, char *out, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return "";
	for (; in && in[i] && i + 1 < len; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ? '?' : in[i];
	out[i] = '\0';
	return out;
}

void vdi_log_internal(int prio, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_va(prio, file, line, fmt, ap);
	va_end(ap);
	errno = saved;
}

int vdi_log_errno_internal(int prio, int r, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	errno = r < 0 ? -r : r;
	va_start(ap, fmt);
	log_va(prio, file, line, fmt, ap);
	va_end(ap);
	errno = saved;
	return r;
}
