/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpool-test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "harness.h"

bool test_domain_exists(const char *uri, const char *name)
{
	virConnectPtr c = virConnectOpen(uri);
	virDomainPtr d;

	check(c);
	d = virDomainLookupByName(c, name);
	if (d)
		virDomainFree(d);
	virConnectClose(c);
	return d != NULL;
}

void test_event_record(struct pool_host *host, const struct pool_event *ev, void *userdata)
{
	struct test_event_log *log = userdata;
	char line[160];

	(void)host;
	snprintf(line, sizeof(line), "%s:%s:%s:%lld\n", pool_event_type_name(ev->type), ev->domain ? ev->domain : "-",
		 ev->pool ? ev->pool : "-", (long long)ev->desktop_id);
	pthread_mutex_lock(&log->lock);
	if (strlen(log->text) + strlen(line) < sizeof(log->text))
		strcat(log->text, line);
	pthread_mutex_unlock(&log->lock);
}

bool test_event_wait(struct test_event_log *log, const char *needle, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	do {
		bool found;

		pthread_mutex_lock(&log->lock);
		found = strstr(log->text, needle) != NULL;
		pthread_mutex_unlock(&log->lock);
		if (found)
			return true;
		usleep(10 * 1000);
	} while (vdi_test_now_ms() < end);
	pthread_mutex_lock(&log->lock);
	vdi_test_log("no event \"%s\" within %u ms; events so far:\n%s", needle, ms, log->text);
	pthread_mutex_unlock(&log->lock);
	return false;
}
