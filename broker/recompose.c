/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "recompose.h"

#include <stdio.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "jobs.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "now.h"
#include "store-desktops.h"
#include "store-recompose.h"
#include "store.h"

/* Desktops shut down and recomposed at once, over all pools (a pool's users lose their desktops for
 * a while: never a whole pool at once). */
#define RECOMPOSE_PARALLEL 2

/* Starts the recompose of marked desktop row (borrowed); 1 when it started. */
static int start_one(struct broker_desks *d, json_t *row)
{
	int64_t id = broker_jint(row, "id");
	int r;

	if (broker_desks_busy(d, id) || broker_store_recompose_take(d->store, id, broker_now()) <= 0)
		return 0;
	r = broker_job_submit(d, BROKER_JOB_RECOMPOSE, id, NULL, false, false, "broker", broker_lifecycle_job_done);
	if (r < 0) {
		/* Marked still: a later step tries again. */
		(void)broker_store_desktop_force_state(d->store, id, broker_jstr(row, "state"));
		return r;
	}
	broker_desks_audit(d, "broker", "desktop-recompose", id, "pool recompose");
	return 1;
}

void broker_recompose_step(struct broker_desks *d)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;

	if (broker_store_recompose_next(d->store, RECOMPOSE_PARALLEL, &rows) <= 0)
		return;
	json_array_foreach(rows, i, row)
		(void)start_one(d, row);
}

int broker_desks_recompose_pool(struct broker_desks *d, const char *pool, const char *actor, struct vdi_error *err)
{
	char detail[128];
	int64_t version = 0;
	int n = broker_store_pool_recompose(d->store, pool, &version, err);

	if (n < 0)
		return n;
	snprintf(detail, sizeof(detail), "%d desktop%s onto version %lld, %d at a time", n, n == 1 ? "" : "s",
		 (long long)version, RECOMPOSE_PARALLEL);
	(void)broker_store_audit(d->store, vdi_clock_wall(), actor, "desktop-recompose", pool, detail);
	vdi_info("desktop-recompose: pool %s by %s: %s", pool, actor ? actor : "broker", detail);
	broker_recompose_step(d);
	return n;
}
