/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "lifecycle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "now.h"
#include "store-assign.h"
#include "store-desktops.h"
#include "store-recompose.h"
#include "store.h"

void broker_desks_audit(struct broker_desks *d, const char *actor, const char *action, int64_t id, const char *detail)
{
	char object[32];

	snprintf(object, sizeof(object), "desktop:%lld", (long long)id);
	(void)broker_store_audit(d->store, vdi_clock_wall(), actor, action, object, detail);
	vdi_info("%s: desktop %lld by %s%s%s", action, (long long)id, actor ? actor : "broker", detail ? ": " : "",
		 detail ? detail : "");
}

void broker_desks_audit_template(struct broker_desks *d, const char *action, const char *actor, const char *template,
				 const char *fmt, ...)
{
	char detail[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	(void)broker_store_audit(d->store, vdi_clock_wall(), actor, action, template, detail);
	vdi_info("%s: %s by %s: %s", action, template, actor ? actor : "broker", detail);
}

void broker_lifecycle_mark_running(struct broker_desks *d, int64_t id)
{
	int64_t now = broker_now();

	(void)broker_store_desktop_mark_running(d->store, id, now);
}

static void mark_error(struct broker_desks *d, struct broker_job *j, int r)
{
	char detail[600];

	snprintf(detail, sizeof(detail), "%s failed: %s", broker_job_op_name(j->op),
		 j->err.message[0] ? j->err.message : strerror(-r));
	(void)broker_store_desktop_mark_error(d->store, j->id, detail, broker_now());
	broker_desks_audit(d, j->actor, "error", j->id, detail);
}

/* Deletes the pool when it is draining and empty. */
static void drain_finish(struct broker_desks *d, const char *pool)
{
	int r = broker_store_pool_delete_drained(d->store, pool);

	if (r > 0) {
		(void)broker_store_audit(d->store, vdi_clock_wall(), "broker", "pool-delete", pool, "drained");
		vdi_info("pool \"%s\" drained and deleted", pool);
	}
}

static int submit(struct broker_desks *d, enum broker_job_op op, int64_t id, json_t *row, bool start,
		  const char *actor)
{
	return broker_job_submit(d, op, id, row, start, false, actor, broker_lifecycle_job_done);
}

bool broker_lifecycle_drain_desktop(struct broker_desks *d, int64_t id)
{
	_cleanup_json_ json_t *row = broker_desktop_row(d, id);

	if (!row || !broker_jint(row, "draining") || broker_jstr(row, "owner") || broker_desks_busy(d, id))
		return false;
	(void)broker_store_desktop_deleting(d->store, id, broker_now());
	return submit(d, BROKER_JOB_DELETE, id, row, false, "broker") >= 0;
}

void broker_lifecycle_resume_start(struct broker_desks *d, int64_t id)
{
	_cleanup_json_ json_t *row = NULL;

	if (broker_desks_busy(d, id))
		return;
	row = broker_desktop_row(d, id);
	if (row && streq(broker_jstr(row, "state"), "starting"))
		(void)submit(d, BROKER_JOB_START, id, row, false, NULL);
}

/* ---- what each job's outcome means -------------------------------------------------------- */

/* A clone made (or not), and started when asked. */
static void create_done(struct broker_desks *d, struct broker_job *j)
{
	if (j->result < 0 && j->op == BROKER_JOB_REBUILD) {
		/* A desktop promised to a user stays promised: the next reconcile tries again. */
		(void)broker_store_desktop_set_message(d->store, j->id, j->err.message, broker_now());
		broker_desks_audit(d, j->actor, "error", j->id, j->err.message);
	} else if (j->result < 0) {
		/* vmpool left nothing behind: neither does the store. */
		(void)broker_store_desktop_delete(d->store, j->id);
		broker_desks_audit(d, j->actor, "error", j->id, j->err.message);
	} else if (j->start && j->start_result < 0) {
		mark_error(d, j, j->start_result);
	} else {
		(void)broker_store_desktop_made_fresh(d->store, j->id, j->tpl_version, broker_now());
		if (j->start)
			broker_lifecycle_mark_running(d, j->id);
	}
}

static void reset_done(struct broker_desks *d, struct broker_job *j)
{
	if (j->result < 0 || j->start_result < 0) {
		mark_error(d, j, j->result < 0 ? j->result : j->start_result);
		/* A failed recompose is not tried again by itself: the admin sees the error and decides. */
		if (j->op == BROKER_JOB_RECOMPOSE)
			(void)broker_store_recompose_clear(d->store, j->id);
		return;
	}
	(void)broker_store_desktop_made_fresh(d->store, j->id, j->tpl_version, broker_now());
	if (j->start)
		broker_lifecycle_mark_running(d, j->id);
}

void broker_lifecycle_job_done(struct broker_job *j, bool cancelled)
{
	struct broker_desks *d = j->d;

	if (cancelled)
		return;
	switch (j->op) {
	case BROKER_JOB_CREATE:
	case BROKER_JOB_REBUILD:
		create_done(d, j);
		break;
	case BROKER_JOB_START:
		if (j->result < 0)
			mark_error(d, j, j->result);
		else
			broker_lifecycle_mark_running(d, j->id);
		break;
	case BROKER_JOB_RESET:
	case BROKER_JOB_RECOMPOSE:
		reset_done(d, j);
		break;
	case BROKER_JOB_SHUTDOWN:
		if (j->result < 0)
			mark_error(d, j, j->result);
		else
			(void)broker_store_desktop_shut_down(d->store, j->id, broker_now());
		break;
	case BROKER_JOB_DELETE:
		if (j->result < 0) {
			mark_error(d, j, j->result);
		} else {
			(void)broker_store_desktop_delete(d->store, j->id);
			drain_finish(d, j->pool);
		}
		break;
	case BROKER_JOB_CHECK:
		if (j->result == -ENOENT ||
		    (j->result >= 0 && j->state != POOL_DESKTOP_RUNNING && j->state != POOL_DESKTOP_PAUSED))
			(void)broker_lifecycle_stopped(d, j->id);
		break;
	default:
		break;
	}
}

/* ---- requests --------------------------------------------------------------------------- */

/* A persistent desktop its owner (or the idle timer) shut down: boot it again (when the desktop
 * is busy, broker_lifecycle_resume_start() does once that job is done). */
static int start_existing(struct broker_desks *d, int64_t id, const char *state)
{
	int r;

	if (!streq(state, "stopped"))
		return 0;
	r = broker_store_desktop_starting(d->store, id, broker_now());
	return r > 0 ? submit(d, BROKER_JOB_START, id, NULL, false, NULL) : r;
}

int broker_desks_assigned(struct broker_desks *d, int64_t id, int action, const char *state)
{
	_cleanup_json_ json_t *row = NULL;
	int r = 0;

	switch (action) {
	case BROKER_ASSIGN_CLONE:
		/* The store put it on the host placement chose. */
		row = broker_desktop_row(d, id);
		if (row)
			broker_hosts_note_placed(d, row);
		r = submit(d, BROKER_JOB_CREATE, id, row, true, NULL);
		break;
	case BROKER_ASSIGN_START:
		r = submit(d, BROKER_JOB_START, id, NULL, false, NULL);
		break;
	case BROKER_ASSIGN_RESET:
		/* Its overlay is on an older version: the user gets the current one (reset_done makes it theirs). */
		r = submit(d, BROKER_JOB_RESET, id, NULL, true, NULL);
		break;
	case BROKER_ASSIGN_SPARE:
		/* The keeper's job under way brings it up; its end sees the owner and makes it "assigned". */
		break;
	case BROKER_ASSIGN_EXISTING:
		r = start_existing(d, id, state);
		break;
	default:
		break;
	}
	if (r < 0 && r != -EBUSY) {
		char detail[128];

		snprintf(detail, sizeof(detail), "cannot start the work on it: %s", strerror(-r));
		(void)broker_store_desktop_mark_broken(d->store, id, detail);
		return r;
	}
	d->kick(d);
	return streq(state, "assigned") || streq(state, "connected") || streq(state, "disconnected") ? 1 : 0;
}

/* Pooled: back to the pool through a fresh overlay; persistent: shut down, kept by its owner. */
static int give_back(struct broker_desks *d, json_t *row, const char *actor, const char *action, const char *why)
{
	int64_t id = broker_jint(row, "id");
	int r;

	if (broker_desks_busy(d, id))
		return -EBUSY;
	if (!broker_jint(row, "persistent")) {
		bool drain = broker_jint(row, "draining");

		r = broker_store_desktop_give_back(d->store, id, drain ? "deleting" : "resetting", broker_now());
		if (r >= 0)
			r = submit(d, drain ? BROKER_JOB_DELETE : BROKER_JOB_RESET, id, row, false, actor);
	} else {
		r = submit(d, BROKER_JOB_SHUTDOWN, id, row, false, actor);
	}
	if (r >= 0)
		broker_desks_audit(d, actor, action, id, why);
	return r;
}

int broker_desks_release(struct broker_desks *d, int64_t id, const char *actor, const char *why)
{
	_cleanup_json_ json_t *row = broker_desktop_row(d, id);

	if (!row)
		return -ENOENT;
	return give_back(d, row, actor, streq(why ? why : "", "idle") ? "idle-reclaim" : "release", why);
}

/* An admin's reset, stop, delete or recompose: the state it goes through, the job, the audit record. */
static int admin_job(struct broker_desks *d, int64_t id, const char *actor, enum broker_job_op op, const char *action,
		     struct vdi_error *err)
{
	_cleanup_json_ json_t *row = broker_desktop_row(d, id);
	char detail[96] = "";
	int r = 0;

	if (!row)
		return -ENOENT;
	if (broker_desks_busy(d, id))
		return -EBUSY;
	/* A pooled desktop reset leaves its user; a persistent one stays its owner's, with a fresh disk. */
	if (op == BROKER_JOB_RESET)
		r = broker_store_desktop_reset(d->store, id, broker_jint(row, "persistent"), broker_now());
	else if (op == BROKER_JOB_DELETE)
		r = broker_store_desktop_deleting(d->store, id, broker_now());
	else if (op == BROKER_JOB_RECOMPOSE)
		r = broker_store_desktop_recompose(d->store, id, broker_now(), err);
	if (op == BROKER_JOB_RECOMPOSE)
		snprintf(detail, sizeof(detail), "from version %lld onto version %lld",
			 (long long)broker_jint(row, "template_version"), (long long)broker_jint(row, "version"));
	if (r >= 0)
		r = submit(d, op, id, row, false, actor);
	if (r >= 0)
		broker_desks_audit(d, actor, action, id, detail[0] ? detail : NULL);
	return r;
}

int broker_desks_reset(struct broker_desks *d, int64_t id, const char *actor)
{
	return admin_job(d, id, actor, BROKER_JOB_RESET, "reset", NULL);
}

int broker_desks_stop(struct broker_desks *d, int64_t id, const char *actor)
{
	return admin_job(d, id, actor, BROKER_JOB_SHUTDOWN, "stop", NULL);
}

int broker_desks_delete(struct broker_desks *d, int64_t id, const char *actor)
{
	return admin_job(d, id, actor, BROKER_JOB_DELETE, "delete", NULL);
}

int broker_desks_recompose(struct broker_desks *d, int64_t id, const char *actor, struct vdi_error *err)
{
	return admin_job(d, id, actor, BROKER_JOB_RECOMPOSE, "desktop-recompose", err);
}

int broker_desks_drain_pool(struct broker_desks *d, const char *pool, const char *actor)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;
	int r;

	(void)actor;
	r = broker_store_pool_drain(d->store, pool);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = broker_store_desktops_of_pool(d->store, pool, &rows);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row)
		(void)broker_lifecycle_drain_desktop(d, broker_jint(row, "id"));
	drain_finish(d, pool);
	return (int)json_array_size(rows);
}

int broker_desks_drain_host(struct broker_desks *d, const char *uri, bool drain, const char *actor)
{
	_cleanup_json_ json_t *rows = NULL;
	int64_t first = broker_hosts_slot(d, uri) == d->hosts;
	size_t i;
	json_t *row;
	int r;

	r = broker_hosts_set_draining(d, uri, drain);
	if (r < 0)
		return r;
	(void)broker_store_audit(d->store, vdi_clock_wall(), actor, drain ? "host-drain" : "host-resume", uri, NULL);
	vdi_info("%s: host %s by %s", drain ? "drain" : "resume", uri, actor ? actor : "broker");
	if (!drain) {
		d->kick(d);
		return 0;
	}
	/* Free desktops go now; the others when their users release them (persistent ones stay). */
	r = broker_store_desktops_of_host(d->store, uri, first, &rows);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row)
		(void)broker_lifecycle_drain_desktop(d, broker_jint(row, "id"));
	d->kick(d);
	return broker_store_desktops_count_live_on_host(d->store, uri, first);
}

int broker_lifecycle_stopped(struct broker_desks *d, int64_t id)
{
	_cleanup_json_ json_t *row = broker_desktop_row(d, id);

	if (!row || broker_desks_busy(d, id) || !broker_state_is_running(broker_jstr(row, "state")))
		return 0;
	/* A pooled desktop its user shut down is done with: it goes back to the pool. */
	if (broker_jstr(row, "owner") && !broker_jint(row, "persistent"))
		return give_back(d, row, "broker", "release", "the guest stopped");
	return broker_store_desktop_stopped(d->store, id, broker_now());
}
