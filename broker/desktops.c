/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "desktops.h"

#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "bases.h"
#include "clock.h"
#include "desktops-private.h"
#include "events.h"
#include "hosts.h"
#include "jobs.h"
#include "lifecycle.h"
#include "maintenance.h"
#include "now.h"
#include "paused.h"
#include "publish-recover.h"
#include "publish.h"
#include "recompose.h"
#include "reconcile.h"
#include "rollout.h"
#include "spares.h"
#include "store-sessions.h"
#include "store.h"
#include "template-cache.h"
#include "viewers.h"

/* Seconds between reconciles, and between sweeps of expired sessions. */
#define RECONCILE_INTERVAL 60
/* Seconds between looks at the hosts' free memory and templates. */
#define HOST_LOOK_INTERVAL 10
/* Seconds between tries to resume the desktops paused on a disk error. */
#define RESUME_INTERVAL 10

/* The hook after every job but a reconcile's listing: what its end may let happen next. */
static void job_finished(struct broker_desks *d, struct broker_job *j)
{
	broker_spares_job_finished(d, j);
	if (j->op != BROKER_JOB_RECONCILE && j->op != BROKER_JOB_DELETE && j->op != BROKER_JOB_CHECK)
		(void)broker_lifecycle_drain_desktop(d, j->id);
	if (j->op != BROKER_JOB_RECONCILE && j->id > 0) {
		broker_lifecycle_resume_start(d, j->id);
		broker_paused_recheck(d, j);
	}
	broker_spares_keep(d);
	broker_rollout_step(d);
	broker_recompose_step(d);
}

int broker_desks_new(const struct broker_desks_options *o, struct broker_desks **ret, struct vdi_error *err)
{
	struct broker_desks *d = vdi_new0(struct broker_desks);
	int r;

	if (!d)
		return -ENOMEM;
	d->cfg = o->cfg;
	d->store = o->store;
	d->workers = o->workers;
	d->wake = o->wake;
	d->wake_data = o->wake_data;
	d->job_finished = job_finished;
	d->kick = broker_spares_keep;
	r = broker_events_new(d);
	if (r >= 0)
		r = broker_template_cache_new(&d->templates);
	if (r < 0) {
		broker_desks_free(d);
		return r;
	}
	r = broker_hosts_new(d, err);
	if (r < 0) {
		broker_desks_free(d);
		return r;
	}
	for (size_t i = 0; i < d->n_hosts; i++)
		pool_host_set_event_handler(d->hosts[i].host, broker_events_on_pool_event, &d->hosts[i]);
	broker_maintenance_recover(d);
	*ret = d;
	return 0;
}

void broker_desks_stop_events(struct broker_desks *d)
{
	for (size_t i = 0; d && i < d->n_hosts; i++)
		pool_host_set_event_handler(d->hosts[i].host, NULL, NULL);
}

struct broker_desks *broker_desks_free(struct broker_desks *d)
{
	if (!d)
		return NULL;
	broker_desks_stop_events(d);
	broker_hosts_free(d);
	broker_bases_free(d);
	json_decref(d->left_making);
	broker_template_cache_free(d->templates);
	broker_events_free(d);
	free(d->busy.ids);
	free(d->touched.ids);
	free(d->recheck.ids);
	broker_maintenance_free(d);
	broker_viewers_free(d);
	free(d);
	return NULL;
}

void broker_desks_wake(struct broker_desks *d)
{
	broker_events_take(d);
	/* While the database refuses them, the tick tries again (once a second), not every wake. */
	if (!d->events_waited)
		broker_events_apply(d);
}

void broker_desks_tick(struct broker_desks *d)
{
	int64_t now = broker_now(), steady = vdi_clock_steady();

	(void)broker_store_audit_flush(d->store);
	/* Those the database refused, then those queued since (a missed wake too): before anything
	 * reads the state they set. */
	broker_events_take(d);
	if (d->n_kept)
		broker_events_apply(d);
	broker_spares_reclaim_idle(d, now);
	broker_viewers_tick(d);
	if (steady - d->last_reconcile >= RECONCILE_INTERVAL)
		broker_reconcile_start(d);
	if (steady - d->last_sweep >= RECONCILE_INTERVAL) {
		(void)broker_store_session_expire(d->store, now);
		d->last_sweep = steady;
	}
	if (steady - d->last_look >= HOST_LOOK_INTERVAL)
		broker_hosts_look(d);
	if (steady - d->last_resume >= RESUME_INTERVAL) {
		broker_paused_resume_all(d);
		d->last_resume = steady;
	}
	/* What a stopped broker left of a publish goes before anything else looks at versions. */
	if (!d->publishes_recovered)
		broker_publish_recover(d);
	broker_publish_due(d);
	broker_bases_tick(d);
	broker_spares_keep(d);
	broker_rollout_step(d);
	broker_recompose_step(d);
}

void broker_desks_reconcile(struct broker_desks *d)
{
	broker_reconcile_start(d);
}

void broker_desks_versions_changed(struct broker_desks *d)
{
	broker_hosts_look(d);
	broker_rollout_step(d);
}

struct broker_template_cache *broker_desks_templates(struct broker_desks *d)
{
	return d->templates;
}

size_t broker_desks_events_waiting(struct broker_desks *d)
{
	return d->n_kept;
}

void broker_desks_shift_times(struct broker_desks *d, int64_t delta)
{
	for (size_t i = 0; i < d->n_kept; i++)
		if (d->kept[i].at)
			d->kept[i].at += delta;
}

struct pool_host *broker_desks_host(struct broker_desks *d, const char *uri)
{
	return broker_hosts_find(d, uri);
}
