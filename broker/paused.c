/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "paused.h"

#include <errno.h>

#include "alloc.h"
#include "cleanup.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "now.h"
#include "store-desktops.h"

/* How many resume jobs at once. */
#define RESUME_PARALLEL 2

static const char *pause_message(enum pool_pause_reason why)
{
	switch (why) {
	case POOL_PAUSE_NOSPACE:
		return "paused by the hypervisor: no space left for its disk (storage pool full); resumed when there is room";
	case POOL_PAUSE_IOERROR:
		return "paused by the hypervisor: I/O error on its disk (storage full?); resumed when the error is gone";
	case POOL_PAUSE_USER:
		return "paused through libvirt (virsh suspend?): back in service when resumed";
	default:
		return "paused by the hypervisor (watchdog, guest panic or a failed operation): resume it with virsh, or reset it";
	}
}

bool broker_paused_row_is_paused(json_t *row)
{
	return streq(broker_jstr(row, "state"), "error") && broker_jstr(row, "paused_from");
}

int broker_paused_mark(struct broker_desks *d, json_t *row, enum pool_pause_reason why)
{
	const char *state = broker_jstr(row, "state"), *msg = pause_message(why);
	int64_t id = broker_jint(row, "id");
	int r;

	if (broker_paused_row_is_paused(row)) {
		if (streq(broker_jstr(row, "message") ?: "", msg))
			return 0;
		return broker_store_desktop_pause_message(d->store, id, msg);
	}
	/* A failed job's error is an admin's matter; a desktop on its way to a reset or delete is left to it. */
	if (streq(state, "error") || streq(state, "resetting") || streq(state, "deleting"))
		return 0;
	r = broker_store_desktop_pause(d->store, id, state, msg, broker_now());
	if (r > 0)
		broker_desks_audit(d, "broker", "error", id, msg);
	return r;
}

int broker_paused_unmark(struct broker_desks *d, int64_t id)
{
	int64_t now = broker_now();
	int r = broker_store_desktop_unpause(d->store, id, now);

	if (r > 0)
		broker_desks_audit(d, "broker", "resume", id, "running again");
	return r;
}

/* What a resume job found, once its work is done. */
static void resume_outcome(struct broker_desks *d, struct broker_job *j)
{
	_cleanup_json_ json_t *row = NULL;

	if (j->result >= 0 && j->state == POOL_DESKTOP_PAUSED && !broker_pause_is_halt(j->pause_reason)) {
		/* Asleep, or in an operation of libvirt's: in service (the guest is not at fault). */
		(void)broker_paused_unmark(d, j->id);
	} else if (j->result == -EAGAIN || (j->result >= 0 && j->state == POOL_DESKTOP_PAUSED)) {
		/* Still paused (the disk is still full, say): the reason may be known better now. */
		row = broker_desktop_row(d, j->id);
		if (row && broker_pause_is_halt(j->pause_reason))
			(void)broker_paused_mark(d, row, j->pause_reason);
		vdi_debug("desktop %lld stays paused: %s", (long long)j->id,
			  j->result < 0 ? j->err.message : pool_pause_reason_name(j->pause_reason));
	} else if (j->result >= 0 && j->state == POOL_DESKTOP_RUNNING) {
		(void)broker_paused_unmark(d, j->id);
	} else if (j->result == -ENOENT) {
		/* Its domain is gone: out of service for good (an admin resets or deletes it). */
		if (broker_store_desktop_paused_to_error(d->store, j->id, "its domain is gone", broker_now()) > 0)
			broker_desks_audit(d, "broker", "error", j->id, "its domain is gone");
	} else if (j->result == -ESRCH || (j->result >= 0 && j->state == POOL_DESKTOP_STOPPED)) {
		/* It stopped meanwhile: what a stopped desktop of its former state becomes. */
		if (broker_paused_unmark(d, j->id) > 0)
			(void)broker_lifecycle_stopped(d, j->id);
	} else if (j->result < 0) {
		vdi_debug("desktop %lld: cannot resume: %s", (long long)j->id, j->err.message);
	}
}

static void resume_done(struct broker_job *j, bool cancelled)
{
	j->d->resume_inflight--;
	if (!cancelled)
		resume_outcome(j->d, j);
}

static int resume_submit(struct broker_desks *d, int64_t id, json_t *row)
{
	int r = broker_job_submit(d, BROKER_JOB_RESUME, id, row, false, false, "broker", resume_done);

	if (r >= 0)
		d->resume_inflight++;
	return r;
}

/*
 * Each pass goes on after the desktop the last one tried last, so that many paused desktops
 * all get their turn.
 */
void broker_paused_resume_all(struct broker_desks *d)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;

	if (d->resume_inflight >= RESUME_PARALLEL ||
	    broker_store_desktops_paused(d->store, d->resume_last, &rows) <= 0)
		return;
	json_array_foreach(rows, i, row) {
		_cleanup_json_ json_t *full = broker_desktop_row(d, broker_jint(row, "id"));
		struct broker_host_slot *slot = full ? broker_hosts_slot(d, broker_jstr(full, "host")) : NULL;
		int64_t id = broker_jint(full, "id");

		if (d->resume_inflight >= RESUME_PARALLEL)
			break;
		if (slot && pool_host_is_alive(slot->host) && !broker_desks_busy(d, id) &&
		    resume_submit(d, id, full) >= 0)
			d->resume_last = id;
	}
}

int broker_paused_recheck_later(struct broker_desks *d, int64_t id)
{
	return broker_id_set_has(&d->recheck, id) ? 0 : broker_id_set_add(&d->recheck, id);
}

void broker_paused_recheck(struct broker_desks *d, struct broker_job *j)
{
	int64_t id = j->id;

	/* A resume job read the state after the events it caused (its own resume, a pause again). */
	if (j->op == BROKER_JOB_RESUME)
		broker_id_set_remove(&d->recheck, id);
	if (!broker_id_set_has(&d->recheck, id) || broker_desks_busy(d, id))
		return;
	broker_id_set_remove(&d->recheck, id);
	(void)resume_submit(d, id, NULL);
}
