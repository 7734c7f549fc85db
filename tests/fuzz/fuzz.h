/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * libFuzzer targets (tests/fuzz/fuzz-*.c).  Built with clang and
 * -fsanitize=fuzzer under -Dfuzz=true (tools/fuzz); in every other build,
 * driver.c runs each target over its corpus (tests/fuzz/corpus/<target>/:
 * seeds and every crash found so far) as a unit test.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: abort (a crash to libFuzzer) when it does not hold. */
#define FUZZ_CHECK(cond)                                                                        \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                \
		}                                                                               \
	} while (0)

/* A NUL-terminated copy of the input (free() it). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}
