/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "viewers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bodies.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "store-catalog.h"
#include "store-views.h"
#include "store.h"
#include "vmpool.h"
#include "workers.h"

/* One desktop's SPICE connections (viewers.h). */
struct broker_viewer {
	int64_t id;
	char pool[40];
	size_t host;          /* its slot */
	struct broker_viewer_count count;
	bool agent_told;      /* "no guest agent" was logged for it */
	int64_t lock_due;     /* steady seconds when its lock starts unless a client came back; 0: none due */
	bool locking;         /* its lock runs on a worker */
};

struct broker_viewers {
	struct broker_viewer *v;
	size_t n, cap;
};

struct lock_job {
	struct broker_desks *d;
	int64_t id;
	char pool[40];
	char domain[128];
	struct pool_host *host; /* borrowed from its slot */
	char command[BROKER_LOCK_COMMAND_MAX + 1];
	int result, status;
	struct vdi_error err;
};

void broker_viewers_free(struct broker_desks *d)
{
	if (!d->viewers)
		return;
	free(d->viewers->v);
	free(d->viewers);
	d->viewers = NULL;
}

static struct broker_viewer *find(struct broker_desks *d, int64_t id, const char *pool)
{
	for (size_t i = 0; d->viewers && i < d->viewers->n; i++)
		if (d->viewers->v[i].id == id && streq(d->viewers->v[i].pool, pool))
			return &d->viewers->v[i];
	return NULL;
}

/* Its entry, made when it has none (NULL: out of memory). */
static struct broker_viewer *get(struct broker_desks *d, const struct broker_queued_event *ev)
{
	struct broker_viewer *e = find(d, ev->id, ev->pool);
	struct broker_viewers *vs;

	if (e)
		return e;
	if (!d->viewers && !(d->viewers = vdi_new0(struct broker_viewers)))
		return NULL;
	vs = d->viewers;
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 16;
		struct broker_viewer *nv = reallocarray(vs->v, cap, sizeof(*nv));

		if (!nv)
			return NULL;
		vs->v = nv;
		vs->cap = cap;
	}
	e = &vs->v[vs->n++];
	*e = (struct broker_viewer){ .id = ev->id, .host = ev->host };
	snprintf(e->pool, sizeof(e->pool), "%s", ev->pool);
	return e;
}

/* Forgets entry i (the last takes its place). */
static void forget(struct broker_desks *d, size_t i)
{
	d->viewers->v[i] = d->viewers->v[--d->viewers->n];
}

void broker_viewers_forget(struct broker_desks *d, int64_t id, const char *pool)
{
	for (size_t i = 0; d->viewers && i < d->viewers->n; i++)
		if (d->viewers->v[i].id == id && streq_ptr(d->viewers->v[i].pool, pool)) {
			forget(d, i);
			return;
		}
}

static void forget_host(struct broker_desks *d, size_t host)
{
	for (size_t i = 0; d->viewers && i < d->viewers->n;)
		if (d->viewers->v[i].host == host)
			forget(d, i);
		else
			i++;
}

/* ---- the lock, on a worker ----------------------------------------------------------------------- */

static void lock_work(void *data)
{
	struct lock_job *j = data;
	const char *argv[BROKER_LOCK_ARGS_MAX + 1];
	char buf[sizeof(j->command)];

	if (broker_lock_command_argv(j->command, buf, sizeof(buf), argv) < 0)
		j->result = vdi_error_set(&j->err, -EINVAL, "lock_command \"%s\" is no command", j->command);
	else
		j->result = pool_desktop_agent_exec(j->host, j->domain, argv, BROKER_LOCK_TIMEOUT_MS, &j->status, &j->err);
}

/* On the loop: the audit, or the one line that says the desktop has no agent. */
static void lock_done(void *data, int cancelled)
{
	_cleanup_free_ struct lock_job *j = data;
	struct broker_viewer *e;
	char object[32], detail[sizeof(j->command) + sizeof(j->err.message) + 8];

	if (cancelled)
		return;
	e = find(j->d, j->id, j->pool);
	if (e)
		e->locking = false;
	if (j->result == -EOPNOTSUPP || j->result == -ENOTCONN) {
		if (!e || !e->agent_told)
			vdi_info("desktop %lld: its screen is not locked when its viewer leaves: %s", (long long)j->id,
				 j->err.message);
		if (e)
			e->agent_told = true;
		return;
	}
	/* It stopped meanwhile (its viewers went with it): nothing to lock. */
	if (j->result == -ESRCH || j->result == -ENOENT) {
		vdi_debug("desktop %lld: not locked: %s", (long long)j->id, j->err.message);
		return;
	}
	snprintf(object, sizeof(object), "desktop:%lld", (long long)j->id);
	if (j->result < 0)
		snprintf(detail, sizeof(detail), "%s: %s", j->command,
			 j->err.message[0] ? j->err.message : strerror(-j->result));
	else
		snprintf(detail, sizeof(detail), "%s: exit %d", j->command, j->status);
	if (j->result < 0 || j->status != 0)
		vdi_warn("desktop %lld: the lock after its last viewer left failed: %s", (long long)j->id, detail);
	else
		vdi_info("desktop %lld: its last viewer left; screen locked (%s)", (long long)j->id, detail);
	(void)broker_store_audit(j->d->store, vdi_clock_wall(), "broker", "desktop-lock", object, detail);
}

/* The last client of desktop e left BROKER_LOCK_GRACE_S ago: its lock on a worker when its pool says so. */
static void lock_start(struct broker_desks *d, struct broker_viewer *e)
{
	_cleanup_json_ json_t *rows = NULL;
	struct lock_job *j;
	json_t *row;
	const char *command;
	int r;

	/* A release, stop or reset under way: its viewers go because the desktop does. */
	if (broker_desks_busy(d, e->id))
		return;
	r = broker_store_desktop_lock(d->store, e->id, e->pool, &rows);
	if (r <= 0 || !json_integer_value(json_object_get((row = json_array_get(rows, 0)), "lock_on_disconnect")))
		return;
	command = json_string_value(json_object_get(row, "lock_command"));
	j = vdi_new0(struct lock_job);
	if (!j)
		return;
	j->d = d;
	j->id = e->id;
	j->host = broker_hosts_find(d, json_string_value(json_object_get(row, "host")));
	snprintf(j->pool, sizeof(j->pool), "%s", e->pool);
	snprintf(j->command, sizeof(j->command), "%s", command ? command : BROKER_LOCK_COMMAND_DEFAULT);
	if (!j->host || pool_domain_name(e->pool, e->id, j->domain, sizeof(j->domain)) < 0 ||
	    (r = vdi_workers_submit(d->workers, lock_work, lock_done, j)) < 0) {
		vdi_warn("desktop %lld: its last viewer left, and its screen cannot be locked now", (long long)e->id);
		free(j);
		return;
	}
	e->locking = true;
}

void broker_viewers_tick(struct broker_desks *d)
{
	int64_t now = vdi_clock_steady();

	for (size_t i = 0; d->viewers && i < d->viewers->n; i++) {
		struct broker_viewer *e = &d->viewers->v[i];

		if (!e->lock_due || e->lock_due > now)
			continue;
		e->lock_due = 0;
		/* A client that came back meanwhile (a reconnect, a takeover's new viewer) keeps it unlocked;
		 * a lock still running for it is enough. */
		if (e->count.channels == 0 && !e->locking)
			lock_start(d, e);
	}
}

/* ---- counting ------------------------------------------------------------------------------------ */

bool broker_viewers_count(struct broker_viewer_count *c, enum pool_event_type type)
{
	switch (type) {
	case POOL_EVENT_GRAPHICS_CONNECT:
		c->channels++;
		return false;
	case POOL_EVENT_GRAPHICS_INITIALIZE:
		/* Its connect came before this broker listened. */
		if (c->channels == 0)
			c->channels = 1;
		c->logged_in = true;
		return false;
	case POOL_EVENT_GRAPHICS_DISCONNECT:
		if (c->channels > 0)
			c->channels--;
		if (c->channels > 0 || !c->logged_in)
			return false;
		c->logged_in = false;
		return true;
	default:
		return false;
	}
}

void broker_viewers_event(struct broker_desks *d, const struct broker_queued_event *ev)
{
	struct broker_viewer *e;

	switch (ev->type) {
	case POOL_EVENT_GRAPHICS_CONNECT:
	case POOL_EVENT_GRAPHICS_INITIALIZE:
	case POOL_EVENT_GRAPHICS_DISCONNECT:
		e = get(d, ev);
		if (!e) {
			vdi_warn("desktop %lld: out of memory counting its SPICE clients", (long long)ev->id);
			return;
		}
		if (broker_viewers_count(&e->count, ev->type))
			e->lock_due = vdi_clock_steady() + BROKER_LOCK_GRACE_S;
		return;
	case POOL_EVENT_STOPPED:
	case POOL_EVENT_CRASHED:
		broker_viewers_forget(d, ev->id, ev->pool);
		return;
	case POOL_EVENT_HOST_LOST:
		forget_host(d, ev->host);
		return;
	default:
		return;
	}
}

bool broker_viewers_open(struct broker_desks *d, int64_t id, const char *pool)
{
	struct broker_viewer *e = find(d, id, pool);

	return e && e->count.channels > 0 && e->count.logged_in;
}

unsigned broker_viewers_channels(struct broker_desks *d, int64_t id, const char *pool)
{
	struct broker_viewer *e = find(d, id, pool);

	return e ? e->count.channels : 0;
}
