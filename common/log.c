/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

static void log_va(int prio, const char *file, int line, const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
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

/* Decodes one UTF-8 sequence at s: its length, or 0 when it is not well-formed (overlong, surrogate, cut). */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret)
{
	size_t n;
	uint32_t cp, min;

	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret = cp;
	return n;
}

/* Code points that would let text pose as log structure or read differently than it is. */
static bool unsafe_code_point(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||  /* C0, DEL, C1 controls */
	       cp == 0x061c || cp == 0x200e || cp == 0x200f || /* bidi marks */
	       (cp >= 0x2028 && cp <= 0x202e) ||              /* line/paragraph separators, bidi embeddings */
	       (cp >= 0x2066 && cp <= 0x2069);                /* bidi isolates */
}

const char *vdi_log_safe(const char *in, char *out, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (len == 0)
		return "";
	while (s && *s) {
		uint32_t cp;
		size_t n = utf8_decode(s, &cp);

		if (n == 0 || unsafe_code_point(cp)) {
			if (o + 1 >= len)
				break;
			out[o++] = '?';
			s += n ? n : 1;
			continue;
		}
		if (o + n >= len) /* never half a character */
			break;
		memcpy(out + o, s, n);
		o += n;
		s += n;
	}
	out[o] = '\0';
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
