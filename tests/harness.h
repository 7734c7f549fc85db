/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A small test harness: explicit registration, one fork() per test, TAP
 * output for meson.  A test passes when its function returns; a failed
 * check() prints file:line and the values, and ends that test's process.
 *
 *	static void test_foo(void) { check_int_eq(foo(), 3); }
 *	static const struct vdi_test tests[] = { VDI_TEST(test_foo), };
 *	int main(int argc, char **argv) { return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests)); }
 *
 * Environment: VDI_TEST_FILTER=substring runs only matching tests;
 * VDI_TEST_NOFORK=1 runs in-process (for gdb).  A test calls
 * vdi_test_skip() to skip (its process exits 77); the skip is reported in
 * the TAP stream, and the binary exits 0 unless a test failed.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"

struct vdi_test {
	const char *name;
	void (*fn)(void);
	unsigned timeout_s; /* 0: 120 s */
};

#define VDI_TEST(f) { .name = #f, .fn = f }
#define VDI_TEST_TIMEOUT(f, t) { .name = #f, .fn = f, .timeout_s = (t) }

int vdi_test_main(int argc, char **argv, const struct vdi_test *tests, size_t n);

/*
 * fn runs in the main process after each test's process has ended, however it ended (passed, failed,
 * skipped, timed out, crashed): it removes what a test may have left outside its process (namespaces,
 * bridges, libvirt networks, firewall rules), found by a name the test binary gives them.  Call before
 * vdi_test_main(); NULL: none.  Not with VDI_TEST_NOFORK (the test's own exit is the end then).
 */
void vdi_test_set_sweeper(void (*fn)(void));

_Noreturn void vdi_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void vdi_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a diagnostic line ("# ...") that meson shows with the TAP output. */
void vdi_test_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh directory under $TMPDIR (mode 0755 so that QEMU's user can reach files in it), removed at exit. */
const char *vdi_test_tmpdir(void);
/* Whether a line of the file at path (absent: none) holds needle; lines of up to 1023 bytes. */
bool vdi_test_file_has(const char *path, const char *needle);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t vdi_test_now_ms(void);

#define check(cond)                                                              \
	do {                                                                     \
		if (!(cond))                                                     \
			vdi_test_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
	} while (0)

#define check_int_eq(a, b)                                                         \
	do {                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                \
		if (_a != _b)                                                      \
			vdi_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
				      #a, #b, _a, _b);                             \
	} while (0)

#define check_str_eq(a, b)                                                            \
	do {                                                                          \
		const char *_a = (a), *_b = (b);                                      \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                \
			vdi_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", \
				      #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");  \
	} while (0)

#define check_str_contains(hay, needle)                                                  \
	do {                                                                             \
		const char *_h = (hay), *_n = (needle);                                  \
		if (!_h || !strstr(_h, _n))                                              \
			vdi_test_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", \
				      #hay, _n, _h ? _h : "(null)");                     \
	} while (0)

/* r >= 0 */
#define check_ok(r)                                                                          \
	do {                                                                                 \
		long long _r = (long long)(r);                                               \
		if (_r < 0)                                                                  \
			vdi_test_fail(__FILE__, __LINE__, "%s: %lld (%s)", #r, _r, strerror((int)-_r)); \
	} while (0)

/* r == -err (err given as a positive errno) */
#define check_err(r, err)                                                                    \
	do {                                                                                 \
		long long _r = (long long)(r);                                               \
		if (_r != -(long long)(err))                                                 \
			vdi_test_fail(__FILE__, __LINE__, "%s: expected -%s, got %lld (%s)", #r, #err, \
				      _r, _r < 0 ? strerror((int)-_r) : "success");        \
	} while (0)
