/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Checked allocation.  These return NULL on failure (including size
 * overflow); callers turn that into -ENOMEM.
 */

static inline void *vdi_calloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size ? size : 1);
}

/* Allocates one zeroed object of the pointed-to type. */
#define vdi_new0(type) ((type *)vdi_calloc(1, sizeof(type)))

static inline void *vdi_reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	return realloc(p, total ? total : 1);
}

/* Grows *array so that it holds at least need elements; doubles capacity. */
static inline int vdi_grow(void **array, size_t *capacity, size_t need, size_t elem_size)
{
	size_t cap = *capacity;
	void *p;

	if (need <= cap)
		return 0;
	if (cap < 8)
		cap = 8;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, (size_t)2, &cap))
			return -1;
	}
	p = vdi_reallocarray(*array, cap, elem_size);
	if (!p)
		return -1;
	*array = p;
	*capacity = cap;
	return 0;
}

/* strdup that accepts NULL and returns NULL for it. */
static inline char *vdi_strdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

static inline int streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline int streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static inline const char *startswith(const char *s, const char *prefix)
{
	size_t l = strlen(prefix);

	return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}
