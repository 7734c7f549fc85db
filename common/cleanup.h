/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * Scope-based cleanup, after systemd's macros.  A destructor used with
 * _cleanup_() takes a pointer to the variable and must accept NULL.
 */
#define _cleanup_(f) __attribute__((cleanup(f)))

/* Returns the pointer and sets the variable to NULL: ownership moves out. */
#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tfd = (fd); (fd) = -1; _tfd; })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                   \
	static inline void func##p(type *p)                       \
	{                                                         \
		if (*p)                                           \
			func(*p);                                 \
	}

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
