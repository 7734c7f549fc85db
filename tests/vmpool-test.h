/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Helpers shared by the vmpool tests. */

#include <pthread.h>
#include <stdbool.h>

#include "vmpool.h"

/* True when libvirt at uri has a domain of that name. */
bool test_domain_exists(const char *uri, const char *name);

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
