/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rollout.h"

#include "alloc.h"
#include "cleanup.h"
#include "desktops-private.h"
#include "jobs.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "now.h"
#include "spares.h"
#include "store-desktops.h"

/* Outdated desktops reset at once, over all pools. */
#define ROLLOUT_PARALLEL 2

static void rollout_job_done(struct broker_job *j, bool cancelled)
{
	j->d->rollout_inflight--;
	broker_lifecycle_job_done(j, cancelled);
}

/* Resets desktop row (a candidate) onto the current version; it stays stopped (the keeper boots spares). */
static int replace(struct broker_desks *d, json_t *row)
{
	int64_t id = broker_jint(row, "id");
	int r = broker_store_desktop_rollout_take(d->store, id, broker_now());

	if (r <= 0)
		return r < 0 ? r : 0;
	r = broker_job_submit(d, BROKER_JOB_RESET, id, NULL, false, false, "rollout", rollout_job_done);
	if (r < 0) {
		(void)broker_store_desktop_force_state(d->store, id, broker_jstr(row, "state"));
		return r;
	}
	d->rollout_inflight++;
	vdi_debug("rollout: desktop %lld onto the current version of template %s", (long long)id,
		  broker_jstr(row, "template"));
	return 1;
}

/* A free running candidate may go only while its pool keeps prestart free ones without it. */
static bool spares_allow(struct broker_desks *d, json_t *row)
{
	int64_t n_free = broker_jint(row, "free"), prestart = broker_jint(row, "prestart");

	if (n_free - 1 >= prestart)
		return true;
	/* One spare on its way at a time: it makes this one surplus once it runs. */
	if (broker_jint(row, "coming") == 0)
		(void)broker_spares_add_one(d, broker_jint(row, "pool_id"), broker_jstr(row, "template"),
					    broker_jstr(row, "network"), broker_jint(row, "total"), broker_jint(row, "size"));
	return false;
}

void broker_rollout_step(struct broker_desks *d)
{
	_cleanup_json_ json_t *rows = NULL;
	int64_t pools_done[ROLLOUT_PARALLEL * 4];
	size_t n_done = 0, i;
	json_t *row;

	if (d->rollout_inflight >= ROLLOUT_PARALLEL || broker_store_desktops_outdated(d->store, &rows) <= 0)
		return;
	json_array_foreach(rows, i, row) {
		int64_t pool = broker_jint(row, "pool_id");
		bool seen = false;

		if (d->rollout_inflight >= ROLLOUT_PARALLEL)
			break;
		/* The counts in a row are as the query found them: one desktop per pool and pass. */
		for (size_t k = 0; k < n_done; k++)
			seen |= pools_done[k] == pool;
		if (seen || broker_desks_busy(d, broker_jint(row, "id")))
			continue;
		/* A pool that got a spare on the way, or gave a desktop, waits for the next pass's counts. */
		if ((!streq(broker_jstr(row, "state"), "free") || spares_allow(d, row)) && replace(d, row) <= 0)
			continue;
		if (n_done < ROLLOUT_PARALLEL * 4)
			pools_done[n_done++] = pool;
	}
}
