/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spares.h"

#include <errno.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "lifecycle.h"
#include "now.h"
#include "pool-net.h"
#include "store-desktops.h"

/* Spares the keeper makes or boots at once, over all pools. */
#define KEEPER_PARALLEL 2

static int keeper_submit(struct broker_desks *d, enum broker_job_op op, int64_t id, json_t *row)
{
	int r = broker_job_submit(d, op, id, row, op == BROKER_JOB_CREATE, true, "prestart", broker_lifecycle_job_done);

	if (r >= 0)
		d->keeper_inflight++;
	return r;
}

/* A stopped spare boots faster than a new one is made (on a host that can run it, with the pool's libvirt
 * network, borrowed, NULL: none, and the hardware its template, borrowed, asks): true when one is on its way.
 * With current_only, only one on the template's current version. */
static bool boot_stopped(struct broker_desks *d, int64_t pool_id, const char *template, const char *network,
			 bool current_only)
{
	_cleanup_json_ json_t *stopped = NULL;
	struct pool_hw_features needs;
	size_t k;
	json_t *s;

	if (broker_hosts_template_needs(d, template, &needs) < 0 ||
	    broker_store_desktops_stopped_spares(d->store, pool_id, &stopped) < 0)
		return false;
	json_array_foreach(stopped, k, s) {
		int64_t id = broker_jint(s, "id");

		if (broker_desks_busy(d, id) ||
		    !broker_hosts_can_run_on(broker_hosts_slot(d, broker_jstr(s, "host")), network, &needs) ||
		    (current_only && !broker_jint(s, "current")))
			continue;
		if (broker_store_desktop_spare_starting(d->store, id, broker_now()) > 0 &&
		    keeper_submit(d, BROKER_JOB_START, id, NULL) >= 0)
			return true;
	}
	return false;
}

/* Makes a new spare of pool pool_id on host (placement's pick): < 0 to stop the keeper. */
static int make_spare(struct broker_desks *d, int64_t pool_id, const char *host)
{
	_cleanup_json_ json_t *row = NULL;
	int64_t id;

	if (broker_store_desktop_add_spare(d->store, pool_id, host, broker_now(), &id) <= 0)
		return -EIO;
	row = broker_desktop_row(d, id);
	if (row)
		broker_hosts_note_placed(d, row);
	if (!row || keeper_submit(d, BROKER_JOB_CREATE, id, row) < 0) {
		(void)broker_store_desktop_delete(d->store, id);
		return -EIO;
	}
	return 0;
}

/* Fills pool p's spares; < 0 to stop the keeper. */
static int keep_pool(struct broker_desks *d, json_t *p)
{
	int64_t need = broker_jint(p, "prestart") - broker_jint(p, "ready"), total = broker_jint(p, "total");
	const char *network = broker_network_libvirt_name(broker_jstr(p, "network"));

	for (; need > 0 && d->keeper_inflight < KEEPER_PARALLEL; need--) {
		const char *host;

		if (boot_stopped(d, broker_jint(p, "id"), broker_jstr(p, "template"), network, false))
			continue;
		/* Nothing is made while no host can take it; a host's return wakes the keeper. */
		host = total < broker_jint(p, "size") ? broker_hosts_place(d, broker_jstr(p, "template"), network) : NULL;
		if (!host)
			break;
		if (make_spare(d, broker_jint(p, "id"), host) < 0)
			return -EIO;
		total++;
	}
	return 0;
}

void broker_spares_keep(struct broker_desks *d)
{
	_cleanup_json_ json_t *pools = NULL;
	size_t i;
	json_t *p;

	if (d->keeper_inflight >= KEEPER_PARALLEL || vdi_clock_steady() < d->keeper_pause_until)
		return;
	if (broker_store_pools_to_keep(d->store, &pools) < 0)
		return;
	json_array_foreach(pools, i, p)
		if (keep_pool(d, p) < 0)
			return;
}

int broker_spares_add_one(struct broker_desks *d, int64_t pool_id, const char *template, const char *network,
			  int64_t total, int64_t size)
{
	const char *host;

	if (d->keeper_inflight >= KEEPER_PARALLEL || vdi_clock_steady() < d->keeper_pause_until)
		return -EBUSY;
	network = broker_network_libvirt_name(network);
	if (boot_stopped(d, pool_id, template, network, true))
		return 0;
	host = total < size ? broker_hosts_place(d, template, network) : NULL;
	if (!host)
		return -ENOSPC;
	return make_spare(d, pool_id, host);
}

void broker_spares_job_finished(struct broker_desks *d, struct broker_job *j)
{
	if (!j->keeper)
		return;
	d->keeper_inflight--;
	if (j->result < 0 || (j->start && j->start_result < 0)) {
		unsigned shift = d->keeper_failures < 6 ? d->keeper_failures : 6;

		d->keeper_failures++;
		d->keeper_pause_until = vdi_clock_steady() + (5 << shift); /* 5 s, doubling to 5 min 20 s */
	} else {
		d->keeper_failures = 0;
	}
}

void broker_spares_forget_failures(struct broker_desks *d)
{
	d->keeper_failures = 0;
	d->keeper_pause_until = 0;
}

void broker_spares_reclaim_idle(struct broker_desks *d, int64_t now)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;

	/* Disconnected past idle_timeout, or assigned and never connected for as long. */
	if (broker_store_desktops_idle(d->store, now, &rows) <= 0)
		return;
	json_array_foreach(rows, i, row) {
		int64_t id = broker_jint(row, "id");

		if (!broker_desks_busy(d, id))
			(void)broker_desks_release(d, id, "broker", "idle");
	}
}
