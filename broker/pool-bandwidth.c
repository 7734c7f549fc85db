/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pool-bandwidth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "desktops-private.h"
#include "hosts.h"
#include "json.h"
#include "log.h"
#include "clock.h"
#include "store-catalog.h"
#include "store-desktops.h"
#include "store.h"
#include "vmpool.h"
#include "workers.h"

struct bandwidth_target {
	int64_t id;
	struct pool_host *host; /* borrowed from the desktop module's hosts */
	char domain[128];
	int result;
	struct vdi_error err;
};

struct bandwidth_job {
	struct broker_desks *d;
	char pool[40];
	char actor[128];
	uint32_t kbps;
	size_t n;
	struct bandwidth_target targets[];
};

/* On a worker: one desktop after the other (each blocks on libvirt). */
static void bandwidth_work(void *data)
{
	struct bandwidth_job *j = data;

	for (size_t i = 0; i < j->n; i++) {
		struct bandwidth_target *t = &j->targets[i];

		t->result = pool_desktop_set_bandwidth(t->host, t->domain, j->kbps, &t->err);
	}
}

/* On the loop: the failures into the log and the audit, and how many desktops have the limit now. */
static void bandwidth_done(void *data, int cancelled)
{
	struct bandwidth_job *j = data;
	size_t failed = 0;
	char summary[128];

	for (size_t i = 0; !cancelled && i < j->n; i++) {
		struct bandwidth_target *t = &j->targets[i];
		char detail[400], object[32];

		if (t->result >= 0)
			continue;
		failed++;
		snprintf(detail, sizeof(detail), "bandwidth_kbps %u not applied: %s", (unsigned)j->kbps,
			 t->err.message[0] ? t->err.message : strerror(-t->result));
		vdi_warn("pool %s: desktop %lld: %s", j->pool, (long long)t->id, detail);
		snprintf(object, sizeof(object), "desktop:%lld", (long long)t->id);
		(void)broker_store_audit(j->d->store, vdi_clock_wall(), j->actor, "pool-bandwidth", object, detail);
	}
	if (!cancelled) {
		snprintf(summary, sizeof(summary), "%u kbit/s on %zu of %zu desktops", j->kbps, j->n - failed, j->n);
		(void)broker_store_audit(j->d->store, vdi_clock_wall(), j->actor, "pool-bandwidth", j->pool, summary);
	}
	free(j);
}

/* The job for rows (id, host) of pool: a new one, or NULL. */
static struct bandwidth_job *job_new(struct broker_desks *d, const char *pool, uint32_t kbps, const char *actor,
				     json_t *rows)
{
	struct bandwidth_job *j = calloc(1, sizeof(*j) + json_array_size(rows) * sizeof(j->targets[0]));
	json_t *row;
	size_t i;

	if (!j)
		return NULL;
	j->d = d;
	j->kbps = kbps;
	snprintf(j->pool, sizeof(j->pool), "%s", pool);
	snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "broker");
	json_array_foreach(rows, i, row) {
		struct bandwidth_target *t = &j->targets[j->n];

		t->id = broker_jint(row, "id");
		t->host = broker_hosts_find(d, broker_jstr(row, "host"));
		/* A desktop on a host no longer configured has nothing to change. */
		if (t->host && pool_domain_name(pool, t->id, t->domain, sizeof(t->domain)) >= 0)
			j->n++;
	}
	return j;
}

/* Submits kbps onto rows (id, host) of pool: how many desktops it goes to, or -errno. */
static int job_submit(struct broker_desks *d, const char *pool, uint32_t kbps, const char *actor, json_t *rows)
{
	struct bandwidth_job *j;
	size_t n;
	int r;

	j = job_new(d, pool, kbps, actor, rows);
	if (!j)
		return -ENOMEM;
	n = j->n;
	if (n == 0) {
		free(j);
		return 0;
	}
	r = vdi_workers_submit(d->workers, bandwidth_work, bandwidth_done, j);
	if (r < 0) {
		free(j);
		return r;
	}
	return (int)n;
}

int broker_pool_bandwidth_apply(struct broker_desks *d, const char *pool, uint32_t kbps, const char *actor)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_pool_desktops_defined(d->store, pool, &rows);

	return r <= 0 ? r : job_submit(d, pool, kbps, actor, rows);
}

void broker_pool_bandwidth_catch_up(struct broker_desks *d, const char *pool, int64_t id, const char *host,
				    uint32_t made_with)
{
	_cleanup_json_ json_t *rows = NULL;
	struct broker_pool_limits now;

	if (broker_store_pool_limits(d->store, pool, &now) < 0 || now.bandwidth_kbps == (int64_t)made_with || !host)
		return;
	rows = json_pack("[{s:I, s:s}]", "id", (json_int_t)id, "host", host);
	if (rows && job_submit(d, pool, (uint32_t)now.bandwidth_kbps, "broker", rows) < 0)
		vdi_warn("pool %s: desktop %lld: cannot give it the pool's bandwidth limit", pool, (long long)id);
}
