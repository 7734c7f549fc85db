/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Helpers shared by the vmpool tests. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "alloc.h"
#include "harness.h"
#include "vmpool.h"

/* True when libvirt at uri has a domain of that name. */
bool test_domain_exists(const char *uri, const char *name);

/* The XML of domain name at uri (virDomainGetXMLDesc flags); a new string.  Fails the test when there is none. */
char *test_domain_definition(const char *uri, const char *name, unsigned flags);

/* The string value of XPath expr in xml (borrowed both; prefixes vdi and vdihw bound): a new string, or NULL when
 * it selects nothing.  Fails the test when xml does not parse or expr does not evaluate. */
char *test_xpath(const char *xml, const char *expr);

/* The string value of expr in xml is want; expr selects nothing; expr selects exactly one node. */
#define XP_EQ(xml, expr, want)                                   \
	do {                                                     \
		_cleanup_free_ char *_v = test_xpath(xml, expr); \
		check_str_eq(_v, want);                          \
	} while (0)
#define XP_NONE(xml, expr) XP_EQ(xml, "count(" expr ")", "0")
#define XP_ONE(xml, expr) XP_EQ(xml, "count(" expr ")", "1")

/* Events as text, one "type:domain:pool:id" line each ("-" for what a host event lacks). */
struct test_event_log {
	pthread_mutex_t lock;
	char text[16384];
};

#define TEST_EVENT_LOG_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

/* An event handler for pool_host_set_event_handler(); userdata is a struct test_event_log. */
void test_event_record(struct pool_host *host, const struct pool_event *ev, void *userdata);

/* Waits up to ms for needle to appear in the log; logs what came when it does not. */
bool test_event_wait(struct test_event_log *log, const char *needle, unsigned ms);

/* A new QCOW2 file <tmpdir>/name of virtual size size ("1G") made by qemu-img; its path, a new string.
 * Skips the test when qemu-img is missing. */
char *test_make_qcow2(const char *name, const char *size);

/* The value of an environment variable meson sets; fails the test when it is missing. */
const char *test_env_or_fail(const char *name);

/* A file of the test guest (VDI_TEST_GUEST_DIR); a new string. */
char *test_guest_path(const char *file);

/* The test guest's domain XML (VDI_TEST_GUEST_DIR) with extra kernel arguments; a new string. */
char *test_guest_xml(const char *extra_cmdline);

/* The graphical test guest's domain XML (guest-graphical.xml, initrd-graphical.img); a new string. */
char *test_guest_graphical_xml(void);

/*
 * Reads the desktop's serial console until needle appears, with the rest of its line (true), or the
 * timeout passes (false).  The guest prints its banner every 2 s, so a
 * console opened late still sees it.  The text read goes to out.
 */
bool test_console_wait(const char *uri, const char *domain, const char *needle, unsigned timeout_ms, char *out,
		       size_t outlen);

/* The same after writing line (and a newline) to the console: a command for the guest (build-guest). */
bool test_console_command(const char *uri, const char *domain, const char *line, const char *needle,
			  unsigned timeout_ms, char *out, size_t outlen);

/* The same while fn(arg) runs on a thread of its own, started once the console is open (so that nothing the
 * guest prints meanwhile is missed: a shutdown's last lines, say) and joined before it returns. */
bool test_console_during(const char *uri, const char *domain, void (*fn)(void *arg), void *arg, const char *needle,
			 unsigned timeout_ms, char *out, size_t outlen);

/*
 * Test storage pools are named vdi-test-<run>-<test>, <run> being the pid of
 * the test binary's main process.  Pools of runs whose process is gone
 * (killed by a timeout, say) are removed with the domains whose disks are in
 * them; those of live runs are left alone.
 */
void test_cleanup_stale_runs(const char *uri);

/* A new host on uri (borrowed, as storage_pool is) of virt type $VDI_TEST_VIRT_TYPE, its storage pool storage_pool
 * in <tmpdir>/images, its runtime directory <tmpdir>/run.  Fails the test when pool_host_new() does. */
struct pool_host *test_host_in_tmpdir(const char *uri, const char *storage_pool);

/* Returns when a libvirtd answers on uri; else skips (VDI_SKIP_INTEGRATION=1) or fails the test. */
void test_require_libvirt(const char *uri);
