/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "lifecycle.h"
#include "maintenance.h"
#include "log.h"
#include "now.h"
#include "paused.h"
#include "reconcile.h"
#include "spares.h"
#include "store-desktops.h"
#include "store-hosts.h"
#include "viewers.h"

int broker_events_new(struct broker_desks *d)
{
	pthread_mutex_init(&d->lock, NULL);
	d->events = vdi_calloc(BROKER_EVENT_QUEUE_MAX, sizeof(struct broker_queued_event));
	d->kept = vdi_calloc(BROKER_EVENT_QUEUE_MAX, sizeof(struct broker_queued_event));
	return d->events && d->kept ? 0 : -ENOMEM;
}

void broker_events_free(struct broker_desks *d)
{
	free(d->events);
	free(d->kept);
	pthread_mutex_destroy(&d->lock);
}

static bool event_matters(enum pool_event_type type)
{
	switch (type) {
	case POOL_EVENT_GRAPHICS_CONNECT:
	case POOL_EVENT_GRAPHICS_INITIALIZE:
	case POOL_EVENT_GRAPHICS_DISCONNECT:
	case POOL_EVENT_STOPPED:
	case POOL_EVENT_CRASHED:
	case POOL_EVENT_SUSPENDED:
	case POOL_EVENT_RESUMED:
	case POOL_EVENT_HOST_LOST:
	case POOL_EVENT_HOST_BACK:
		return true;
	default:
		return false;
	}
}

void broker_events_on_pool_event(struct pool_host *host, const struct pool_event *ev, void *userdata)
{
	struct broker_host_slot *slot = userdata;
	struct broker_desks *d = slot->owner;

	(void)host;
	if (!event_matters(ev->type))
		return;
	pthread_mutex_lock(&d->lock);
	if (d->n_events < BROKER_EVENT_QUEUE_MAX) {
		struct broker_queued_event *q = &d->events[d->n_events++];

		q->type = ev->type;
		snprintf(q->pool, sizeof(q->pool), "%s", ev->pool ? ev->pool : "");
		q->id = ev->desktop_id;
		q->host = slot->index;
		q->pause_reason = ev->pause_reason;
		q->at = 0;
	} else {
		d->events_dropped++;
	}
	pthread_mutex_unlock(&d->lock);
	/* A full queue too: the loop empties it. */
	d->wake(d->wake_data);
}

/* A store write that may go through later: the database is locked by another process, or short of memory or disk. */
static bool store_may_retry(int r)
{
	return r == -EBUSY || r == -ENOMEM || r == -ENOSPC;
}

/* A SPICE client came (or went: its last connection closed, viewers.h): the state, or the state a paused
 * desktop goes back to, follows it. */
static int graphics_event(struct broker_desks *d, struct broker_queued_event *ev)
{
	int r;

	if (ev->type == POOL_EVENT_GRAPHICS_CONNECT ||
	    (ev->type == POOL_EVENT_GRAPHICS_DISCONNECT && broker_viewers_channels(d, ev->id, ev->pool) > 0))
		return 0;
	r = broker_store_desktop_spice(d->store, ev->id, ev->pool, ev->type == POOL_EVENT_GRAPHICS_INITIALIZE, ev->at);
	if (r > 0)
		vdi_debug("desktop %lld: %s", (long long)ev->id,
			  ev->type == POOL_EVENT_GRAPHICS_INITIALIZE ? "a SPICE client connected" : "the SPICE client went away");
	return r;
}

/* Our own operations stop desktops too: ask libvirt once more, after they are done, and only
 * about a desktop the store believes running (a reset one is 'stopped' already). */
static void stopped_event(struct broker_desks *d, struct broker_queued_event *ev)
{
	_cleanup_json_ json_t *row = broker_desks_busy(d, ev->id) ? NULL : broker_desktop_row(d, ev->id);

	/* Events name the domain vdi-<pool>-<id>: another broker's desktop may share the id. */
	if (row && streq(broker_jstr(row, "pool"), ev->pool) && broker_state_is_running(broker_jstr(row, "state")))
		(void)broker_job_submit(d, BROKER_JOB_CHECK, ev->id, row, false, false, "broker",
					broker_lifecycle_job_done);
}

/* A desktop with a job under way is looked at again when the job is done (paused.h). */
static int pause_event(struct broker_desks *d, struct broker_queued_event *ev)
{
	_cleanup_json_ json_t *row = broker_desktop_row(d, ev->id);

	if (!row || !streq(broker_jstr(row, "pool"), ev->pool))
		return 0;
	if (broker_desks_busy(d, ev->id)) {
		/* Not the short pauses of every start; a paused one that runs, though. */
		bool matters = ev->type == POOL_EVENT_RESUMED ? broker_paused_row_is_paused(row)
							       : broker_pause_is_halt(ev->pause_reason);

		return matters ? broker_paused_recheck_later(d, ev->id) : 0;
	}
	if (ev->type == POOL_EVENT_RESUMED)
		return broker_paused_unmark(d, ev->id);
	return broker_pause_is_halt(ev->pause_reason) ? broker_paused_mark(d, row, ev->pause_reason) : 0;
}

static int host_event(struct broker_desks *d, struct broker_queued_event *ev, bool first)
{
	const char *uri = pool_host_uri(d->hosts[ev->host].host);
	bool back = ev->type == POOL_EVENT_HOST_BACK;
	int r;

	if (first && back)
		vdi_info("libvirt host %s is back", uri);
	else if (first)
		vdi_warn("libvirt host %s went away; reconnecting", uri);
	/* A lost host's desktops are unavailable; new assignments go to the other hosts. */
	r = broker_store_host_set_up(d->store, uri, back);
	if (r < 0 || !back)
		return r;
	broker_spares_forget_failures(d);
	broker_reconcile_start(d);
	broker_hosts_look(d);
	return r;
}

/*
 * Applies one event to the store.  Returns < 0 when a write it needs failed in a way worth
 * another try (the event is then kept, see broker_events_apply()); other failures are logged
 * and the event is done with.
 */
static int handle_event(struct broker_desks *d, struct broker_queued_event *ev)
{
	bool first = !ev->at;
	int r = 0;

	if (first)
		ev->at = broker_now();
	/* A maintenance desktop's (maintenance.h): not a pool's. */
	if (ev->id > 0 && broker_maintenance_is_pool(ev->pool)) {
		broker_maintenance_event(d, ev);
		return 0;
	}
	/* Counted once, however often the store refuses what follows. */
	if (first)
		broker_viewers_event(d, ev);
	switch (ev->type) {
	case POOL_EVENT_GRAPHICS_CONNECT:
	case POOL_EVENT_GRAPHICS_INITIALIZE:
	case POOL_EVENT_GRAPHICS_DISCONNECT:
		r = graphics_event(d, ev);
		break;
	case POOL_EVENT_STOPPED:
	case POOL_EVENT_CRASHED:
		stopped_event(d, ev);
		break;
	case POOL_EVENT_SUSPENDED:
	case POOL_EVENT_RESUMED:
		r = pause_event(d, ev);
		break;
	case POOL_EVENT_HOST_LOST:
	case POOL_EVENT_HOST_BACK:
		r = host_event(d, ev, first);
		break;
	default:
		break;
	}
	/* What libvirt held when a listing under way was taken may be older than this event. */
	if (r >= 0 && ev->id > 0 && d->reconciling && broker_id_set_add(&d->touched, ev->id) < 0)
		d->touched_lost = true;
	if (r < 0 && !store_may_retry(r)) {
		vdi_warn("libvirt event %s of desktop %lld not applied: %s", pool_event_type_name(ev->type),
			 (long long)ev->id, strerror(-r));
		r = 0;
	}
	return r < 0 ? r : 0;
}

void broker_events_take(struct broker_desks *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->n_events < BROKER_EVENT_QUEUE_MAX - d->n_kept ? d->n_events : BROKER_EVENT_QUEUE_MAX - d->n_kept;
	memcpy(d->kept + d->n_kept, d->events, n * sizeof(*d->events));
	memmove(d->events, d->events + n, (d->n_events - n) * sizeof(*d->events));
	d->n_events -= n;
	d->n_kept += n;
	pthread_mutex_unlock(&d->lock);
}

/*
 * The first event the database refuses, and all after it, stay for the next wake or tick: a
 * desktop's events are never applied out of order, and one busy database costs one busy
 * timeout per try, not one per event.
 */
void broker_events_apply(struct broker_desks *d)
{
	size_t done = 0;
	bool waited = d->events_waited;
	int r = 0;

	while (done < d->n_kept && (r = handle_event(d, &d->kept[done])) >= 0)
		done++;
	memmove(d->kept, d->kept + done, (d->n_kept - done) * sizeof(*d->kept));
	d->n_kept -= done;
	d->events_waited = d->n_kept > 0;
	if (d->n_kept && !waited)
		vdi_warn("the database refuses writes (%s): %zu libvirt events wait, and are tried again each second",
			 strerror(-r), d->n_kept);
	else if (!d->n_kept && waited)
		vdi_info("the libvirt events that waited for the database are applied");
}
