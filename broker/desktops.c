/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "desktops.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "template-cache.h"
#include "vmpool.h"
#include "workers.h"

/* Spares the prestart keeper makes or boots at once, over all pools. */
#define KEEPER_PARALLEL 2
/* Seconds between reconciles, and between sweeps of expired sessions. */
#define RECONCILE_INTERVAL 60
/* Events waiting for the loop, and events the loop keeps while the database refuses their writes;
 * more are dropped (the next reconcile repairs what it can of what they would have done). */
#define EVENT_QUEUE_MAX 4096
/* Seconds between looks at the hosts' free memory and templates. */
#define HOST_LOOK_INTERVAL 10
/* Seconds between tries to resume the desktops paused on a disk error, and how many at once. */
#define RESUME_INTERVAL 10
#define RESUME_PARALLEL 2
/* What placement reckons a new desktop takes when its template does not say. */
#define DEFAULT_DESKTOP_MIB 1024

enum desk_op {
	OP_CREATE,    /* clone (then start when job->start) */
	OP_START,
	OP_RESET,     /* fresh overlay (then start when job->start) */
	OP_SHUTDOWN,  /* ACPI, then power off */
	OP_DELETE,
	OP_CHECK,     /* is it still running? (after a "stopped" event) */
	OP_RECONCILE, /* list what libvirt holds */
	OP_REBUILD,   /* delete what is left of a half-made clone, clone again (then start when job->start) */
	OP_RESUME,    /* resume a desktop the hypervisor paused on a disk error, when that is gone */
};

static const char *const op_names[] = {
	[OP_CREATE] = "create", [OP_START] = "start", [OP_RESET] = "reset", [OP_SHUTDOWN] = "stop",
	[OP_DELETE] = "delete", [OP_CHECK] = "check", [OP_RECONCILE] = "reconcile", [OP_REBUILD] = "rebuild",
	[OP_RESUME] = "resume",
};

struct host_listing {
	struct pool_desktop_info *domains;
	size_t n_domains;
	char **overlays;
	int result;
	struct vdi_error err;
};

struct desk_job {
	struct broker *b;
	enum desk_op op;
	int64_t id;
	char pool[40];
	char domain[128];
	char actor[128];  /* for the audit log */
	struct pool_host *host;
	bool start;
	bool keeper;
	unsigned shutdown_ms;
	/* OP_CREATE, OP_RESET: the template, copied from the store */
	char *tpl_name, *tpl_disk, *tpl_xml;
	/* results */
	int result;
	int start_result;
	enum pool_desktop_state state;
	enum pool_pause_reason pause_reason; /* OP_RESUME: why it is paused (still) */
	struct vdi_error err;
	/* OP_RECONCILE: one listing per host */
	struct host_listing *listings;
	size_t n_listings;
};

struct queued_event {
	enum pool_event_type type;
	char pool[40];
	int64_t id;
	size_t host;
	enum pool_pause_reason pause_reason; /* POOL_EVENT_SUSPENDED */
	int64_t at; /* when the loop first tried it (0: not yet): a retry records that time */
};

struct host_slot {
	struct broker_desks *owner;
	size_t index;
	struct pool_host *host;
	bool draining;         /* an admin is emptying it: nothing new goes there (table hosts) */
	/* From the last look (every HOST_LOOK_INTERVAL s, on a worker): */
	bool looked;
	int64_t looked_at;     /* unix seconds, on the wall clock (shown only) */
	uint64_t free_memory;  /* bytes */
	char **templates;      /* names of the templates whose disk it reads; NULL-terminated */
	char **missing;        /* ... and of those it cannot read (new templates are in neither) */
	uint64_t placed_bytes; /* what the desktops placed here since that look will take */
};

/* A look at every host: free memory, and which templates' disks each one reads. */
struct host_look {
	struct broker *b;
	char **tpl_names, **tpl_disks; /* NULL-terminated, the same length */
	struct {
		int result;
		struct vdi_error err;
		uint64_t free_memory;
		bool *has; /* per template */
	} *hosts;
	size_t n_hosts;
};

/* A small set of desktop ids. */
struct id_set {
	int64_t *ids;
	size_t n, cap;
};

struct broker_desks {
	struct broker *b;
	struct host_slot *hosts;
	size_t n_hosts;
	struct broker_template_cache *templates; /* the jobs' vmpool templates */

	struct id_set busy;    /* desktops with a job under way */
	struct id_set touched; /* desktops whose job finished, or that had an event, while a reconcile was listing */
	struct id_set recheck; /* desktops paused or resumed while a job had them: looked at when it is done */
	unsigned keeper_inflight;
	unsigned resume_inflight;   /* OP_RESUME jobs under way */
	int64_t resume_last;        /* the desktop the last resume pass tried last: the next starts after it */
	/* After the keeper's jobs fail (a host that cannot make or start desktops), it waits before
	 * the next try, longer each time: no stream of desktops made only to fail. */
	unsigned keeper_failures;
	int64_t keeper_pause_until; /* vdi_clock_steady() */
	bool reconciling;
	bool touched_lost; /* touched is incomplete: judge nothing on this listing */
	bool looking;      /* a host_look is under way */
	int64_t last_reconcile, last_sweep, last_look, last_resume; /* vdi_clock_steady() */

	pthread_mutex_t lock; /* guards the event queue: libvirt's event thread fills it */
	struct queued_event *events;
	size_t n_events;
	unsigned long events_dropped;
	/* The loop's own: events taken from the queue, in order, the first of which the database
	 * refused (busy); they are tried again on the next wake or tick, before newer ones. */
	struct queued_event *kept;
	size_t n_kept;
	bool events_waited; /* kept events were refused at the last try */
};

static void keeper_run(struct broker *b);
static void host_look(struct broker *b);
static int handle_stopped(struct broker *b, int64_t id);

/* ---- small helpers ------------------------------------------------------------------------ */

static int64_t jint(json_t *row, const char *key)
{
	return json_integer_value(json_object_get(row, key));
}

static const char *jstr(json_t *row, const char *key)
{
	return json_string_value(json_object_get(row, key));
}

static void audit(struct broker *b, const char *actor, const char *action, int64_t id, const char *detail)
{
	char object[32];

	snprintf(object, sizeof(object), "desktop:%lld", (long long)id);
	(void)broker_store_audit(b->store, vdi_clock_wall(), actor, action, object, detail);
	vdi_info("%s: desktop %lld by %s%s%s", action, (long long)id, actor ? actor : "broker", detail ? ": " : "",
		 detail ? detail : "");
}

static bool id_set_has(const struct id_set *set, int64_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ids[i] == id)
			return true;
	return false;
}

static int id_set_add(struct id_set *set, int64_t id)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		int64_t *n = vdi_reallocarray(set->ids, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		set->ids = n;
		set->cap = cap;
	}
	set->ids[set->n++] = id;
	return 0;
}

static void id_set_remove(struct id_set *set, int64_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ids[i] == id) {
			set->ids[i] = set->ids[--set->n];
			return;
		}
}

bool broker_desks_busy(struct broker *b, int64_t id)
{
	return id_set_has(&b->desks->busy, id);
}

/*
 * The host of a desktop row's host URI.  Rows older than several hosts name none: they are the
 * first host's.  A host no longer configured has none (nothing can be done with its desktops).
 */
static struct host_slot *slot_of(struct broker *b, const char *uri)
{
	if (!uri)
		return b->desks->n_hosts ? &b->desks->hosts[0] : NULL;
	for (size_t i = 0; i < b->desks->n_hosts; i++)
		if (streq(pool_host_uri(b->desks->hosts[i].host), uri))
			return &b->desks->hosts[i];
	return NULL;
}

struct pool_host *broker_desks_host(struct broker *b, const char *uri)
{
	struct host_slot *slot = slot_of(b, uri);

	return slot ? slot->host : NULL;
}

static bool strv_has(char **strv, const char *name)
{
	for (char **t = strv; t && *t; t++)
		if (streq(*t, name))
			return true;
	return false;
}

/* Whether new desktops of template may go to slot now. */
static bool slot_can_take(struct host_slot *slot, const char *template)
{
	if (slot->draining || !pool_host_is_alive(slot->host))
		return false;
	/* A template added since the last look is taken to be there: the clone says otherwise. */
	return !strv_has(slot->missing, template);
}

/* Appends a copy of name to the NULL-terminated *strv (which may be NULL). */
static int strv_push(char ***strv, const char *name)
{
	size_t n = 0;
	char **grown;

	while (*strv && (*strv)[n])
		n++;
	grown = vdi_reallocarray(*strv, n + 2, sizeof(char *));
	if (!grown)
		return -ENOMEM;
	*strv = grown;
	grown[n] = strdup(name);
	grown[n + 1] = NULL;
	return grown[n] ? 0 : -ENOMEM;
}

/* What placement reckons free on slot: its free memory at the last look, less what went there since. */
static int64_t slot_free(const struct host_slot *slot)
{
	return (int64_t)slot->free_memory - (int64_t)slot->placed_bytes;
}

const char *broker_desks_place(struct broker *b, const char *template)
{
	struct broker_desks *d = b->desks;
	_cleanup_json_ json_t *counts = NULL;
	struct host_slot *best = NULL;
	int64_t best_count = INT64_MAX, most;
	size_t ties = 0;

	/* The most free memory... */
	for (size_t i = 0; i < d->n_hosts; i++)
		if (slot_can_take(&d->hosts[i], template) && (!best || slot_free(&d->hosts[i]) > slot_free(best)))
			best = &d->hosts[i];
	for (size_t i = 0; best && i < d->n_hosts; i++)
		if (slot_can_take(&d->hosts[i], template) && slot_free(&d->hosts[i]) == slot_free(best))
			ties++;
	if (ties < 2)
		return best ? pool_host_uri(best->host) : NULL;
	/* ...then, among hosts with as much, the fewest desktops (counted only for a tie). */
	if (broker_store_query(b->store, &counts,
			       "SELECT host, count(*) AS n FROM desktops WHERE state != 'deleting' GROUP BY host", NULL) < 0)
		return pool_host_uri(best->host);
	most = slot_free(best);
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct host_slot *slot = &d->hosts[i];
		int64_t count = 0;
		size_t k;
		json_t *c;

		if (!slot_can_take(slot, template) || slot_free(slot) != most)
			continue;
		json_array_foreach(counts, k, c)
			if (slot_of(b, jstr(c, "host")) == slot)
				count += jint(c, "n");
		if (count < best_count) {
			best = slot;
			best_count = count;
		}
	}
	return pool_host_uri(best->host);
}

/* A new desktop of row's template went to row's host: reckon its memory until the next look. */
static void note_placed(struct broker *b, json_t *row)
{
	struct host_slot *slot = slot_of(b, jstr(row, "host"));
	int64_t mib = jint(row, "memory_mib");

	if (slot)
		slot->placed_bytes += (uint64_t)(mib > 0 ? mib : DEFAULT_DESKTOP_MIB) << 20;
}

size_t broker_desks_n_hosts(struct broker *b)
{
	return b->desks->n_hosts;
}

struct pool_host *broker_desks_host_at(struct broker *b, size_t i)
{
	return i < b->desks->n_hosts ? b->desks->hosts[i].host : NULL;
}

/* The desktop's row with its pool's and template's settings; NULL when there is none. */
static json_t *desktop_row(struct broker *b, int64_t id)
{
	json_t *rows = NULL, *row;

	if (broker_store_query(b->store, &rows,
			       "SELECT d.id, d.state, d.owner, d.host, d.paused_from, d.message, p.name AS pool, p.persistent,"
			       " (p.draining OR IFNULL(h.draining, 0)) AS draining,"
			       " t.name AS template, t.disk_path, t.xml, t.version, t.memory_mib"
			       " FROM desktops d JOIN pools p ON p.id = d.pool_id JOIN templates t ON t.id = p.template_id"
			       " LEFT JOIN hosts h ON h.uri = d.host WHERE d.id = ?1",
			       "i", id) <= 0) {
		json_decref(rows);
		return NULL;
	}
	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return row;
}

/* ---- jobs -------------------------------------------------------------------------------- */

static void job_free(struct desk_job *j)
{
	if (!j)
		return;
	free(j->tpl_name);
	free(j->tpl_disk);
	free(j->tpl_xml);
	for (size_t i = 0; i < j->n_listings; i++) {
		pool_desktop_list_free(j->listings[i].domains, j->listings[i].n_domains);
		pool_strv_free(j->listings[i].overlays);
	}
	free(j->listings);
	free(j);
}

/* On a worker: the job's template, from the cache (a reference in *ret). */
static int job_template(struct desk_job *j, struct broker_template **ret)
{
	return broker_template_cache_get(j->b->desks->templates, j->tpl_name, j->tpl_disk, j->tpl_xml, ret, &j->err);
}

/* A pause the broker undoes by itself once its cause is gone: a disk error (a full storage pool). */
static bool pause_is_resumable(enum pool_pause_reason why)
{
	return why == POOL_PAUSE_NOSPACE || why == POOL_PAUSE_IOERROR;
}

/* A pause that takes the desktop out of service: all but libvirt's own, short ones, and a guest's
 * sleep (suspend to RAM: the guest chose it, and its user's input or console wakes it). */
static bool pause_is_halt(enum pool_pause_reason why)
{
	return why != POOL_PAUSE_NONE && why != POOL_PAUSE_LIBVIRT && why != POOL_PAUSE_ASLEEP;
}

/* On a worker: resumes the desktop when it is paused on a disk error; j->state says what it is after. */
static void job_resume(struct desk_job *j)
{
	struct pool_desktop_info info;

	j->result = pool_desktop_get_info(j->host, j->domain, &info, &j->err);
	if (j->result < 0)
		return;
	j->state = info.state;
	j->pause_reason = info.pause_reason;
	pool_desktop_info_finish(&info);
	if (j->state != POOL_DESKTOP_PAUSED || !pause_is_resumable(j->pause_reason))
		return;
	j->result = pool_desktop_resume(j->host, j->domain, &j->err);
	if (j->result >= 0) {
		j->state = POOL_DESKTOP_RUNNING;
		j->pause_reason = POOL_PAUSE_NONE;
	} else if (j->result == -EAGAIN && pool_desktop_get_info(j->host, j->domain, &info, NULL) >= 0) {
		/* Paused again: libvirt now tells a full disk from another error. */
		j->pause_reason = info.pause_reason;
		pool_desktop_info_finish(&info);
	}
}

/* On a worker thread: the libvirt part. */
static void job_work(void *data)
{
	struct desk_job *j = data;
	struct broker_template *t = NULL;
	struct pool_desktop_info info;

	j->start_result = 0;
	switch (j->op) {
	case OP_CREATE:
		j->result = job_template(j, &t);
		if (j->result >= 0)
			j->result = pool_desktop_create(j->host, broker_template_pool(t), j->pool, j->id, &j->err);
		if (j->result >= 0 && j->start)
			j->start_result = pool_desktop_start(j->host, j->domain, &j->err);
		break;
	case OP_REBUILD:
		/* libvirtd may still be finishing a definition a killed broker asked for: then the
		 * domain appears after the delete; delete it again. */
		j->result = job_template(j, &t);
		for (int attempt = 0; j->result >= 0 && attempt < 3; attempt++) {
			if (attempt)
				usleep(200 * 1000);
			j->result = pool_desktop_delete(j->host, j->domain, &j->err);
			if (j->result >= 0)
				j->result = pool_desktop_create(j->host, broker_template_pool(t), j->pool, j->id, &j->err);
			if (j->result != -EEXIST)
				break;
		}
		if (j->result >= 0 && j->start)
			j->start_result = pool_desktop_start(j->host, j->domain, &j->err);
		break;
	case OP_START:
		j->result = pool_desktop_start(j->host, j->domain, &j->err);
		break;
	case OP_RESET:
		j->result = job_template(j, &t);
		if (j->result >= 0)
			j->result = pool_desktop_reset(j->host, broker_template_pool(t), j->domain, &j->err);
		if (j->result >= 0 && j->start)
			j->start_result = pool_desktop_start(j->host, j->domain, &j->err);
		break;
	case OP_SHUTDOWN:
		j->result = pool_desktop_shutdown(j->host, j->domain, j->shutdown_ms, &j->err);
		break;
	case OP_DELETE:
		j->result = pool_desktop_delete(j->host, j->domain, &j->err);
		break;
	case OP_CHECK:
		j->result = pool_desktop_get_info(j->host, j->domain, &info, &j->err);
		if (j->result >= 0) {
			j->state = info.state;
			pool_desktop_info_finish(&info);
		}
		break;
	case OP_RESUME:
		job_resume(j);
		break;
	case OP_RECONCILE:
		for (size_t i = 0; i < j->n_listings; i++) {
			struct host_listing *l = &j->listings[i];
			struct pool_host *h = broker_desks_host_at(j->b, i);

			l->result = pool_desktop_list(h, &l->domains, &l->n_domains, &l->err);
			if (l->result >= 0)
				l->result = pool_overlay_list(h, &l->overlays, &l->err);
		}
		j->result = 0;
		break;
	}
	broker_template_unref(t);
}

static void job_done(void *data, int cancelled);

/*
 * Starts op on desktop id (whose row is given, or read here).  The desktop
 * is busy until the job is done.  Returns 0, -EBUSY, -ENOENT or -errno.
 */
static int job_submit(struct broker *b, enum desk_op op, int64_t id, json_t *row_in, bool start, bool keeper,
		      const char *actor)
{
	struct broker_desks *d = b->desks;
	_cleanup_json_ json_t *row = row_in ? json_incref(row_in) : desktop_row(b, id);
	struct desk_job *j;
	int r;

	if (!row)
		return -ENOENT;
	if (broker_desks_busy(b, id))
		return -EBUSY;
	j = vdi_new0(struct desk_job);
	if (!j)
		return -ENOMEM;
	j->b = b;
	j->op = op;
	j->id = id;
	j->start = start;
	j->keeper = keeper;
	j->shutdown_ms = (unsigned)b->cfg.libvirt.shutdown_timeout * 1000;
	snprintf(j->pool, sizeof(j->pool), "%s", jstr(row, "pool"));
	snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "broker");
	j->host = broker_desks_host(b, jstr(row, "host"));
	r = pool_domain_name(j->pool, id, j->domain, sizeof(j->domain));
	if (r >= 0 && (op == OP_CREATE || op == OP_RESET || op == OP_REBUILD)) {
		j->tpl_name = strdup(jstr(row, "template"));
		j->tpl_disk = strdup(jstr(row, "disk_path"));
		j->tpl_xml = strdup(jstr(row, "xml"));
		if (!j->tpl_name || !j->tpl_disk || !j->tpl_xml)
			r = -ENOMEM;
	}
	if (r >= 0 && !j->host)
		r = -ENODEV;
	if (r >= 0)
		r = id_set_add(&d->busy, id);
	if (r < 0) {
		job_free(j);
		return r;
	}
	r = vdi_workers_submit(b->workers, job_work, job_done, j);
	if (r < 0) {
		id_set_remove(&d->busy, id);
		job_free(j);
		return r;
	}
	if (keeper)
		d->keeper_inflight++;
	if (op == OP_RESUME)
		d->resume_inflight++;
	return 0;
}

/* A desktop that came up: free when nobody owns it, else assigned (from now: the idle clock starts). */
static void mark_running(struct broker *b, int64_t id)
{
	int64_t now = broker_now();

	(void)broker_store_exec(b->store,
				"UPDATE desktops SET state = CASE WHEN owner IS NULL THEN 'free' ELSE 'assigned' END,"
				" assigned_at = CASE WHEN owner IS NULL THEN NULL ELSE ?2 END, last_disconnect = NULL,"
				" message = NULL, paused_from = NULL, updated = ?2 WHERE id = ?1",
				"ii", id, now);
}

static void mark_error(struct broker *b, struct desk_job *j, int r)
{
	char detail[600];

	snprintf(detail, sizeof(detail), "%s failed: %s", op_names[j->op],
		 j->err.message[0] ? j->err.message : strerror(-r));
	(void)broker_store_exec(b->store,
				"UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL, updated = ?3 WHERE id = ?1",
				"isi", j->id, detail, broker_now());
	audit(b, j->actor, "error", j->id, detail);
}

/* ---- paused desktops ------------------------------------------------------------------------
 *
 * A desktop the hypervisor paused (a disk error: QEMU's werror=enospc on a full storage pool),
 * or someone paused through libvirt, is out of service: state "error" with the reason in its
 * message for admins, and "paused_from" keeps the state it goes back to (free, assigned,
 * connected, disconnected) when it runs again.  Assignment never hands out an "error" desktop.
 * The broker resumes those paused on a disk error (every 10 s, two at a time), and
 * takes back any that runs again, whoever resumed it.  libvirt's own short pauses (start-up,
 * migration, save, snapshot) and a guest asleep (suspended to RAM) are left alone: the desktop
 * counts as running.
 */

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

/* Whether a row's desktop is paused out of service: "error" with the state to go back to. */
static bool row_is_paused(json_t *row)
{
	return streq(jstr(row, "state"), "error") && jstr(row, "paused_from");
}

/* Takes a paused desktop out of service (row: its row, borrowed).  Returns < 0 when the write failed. */
static int mark_paused(struct broker *b, json_t *row, enum pool_pause_reason why)
{
	const char *state = jstr(row, "state"), *msg = pause_message(why);
	int64_t id = jint(row, "id");
	int r;

	if (row_is_paused(row)) {
		if (streq(jstr(row, "message") ?: "", msg))
			return 0;
		return broker_store_exec(b->store, "UPDATE desktops SET message = ?2 WHERE id = ?1 AND state = 'error'", "is",
					 id, msg);
	}
	/* A failed job's error is an admin's matter; a desktop on its way to a reset or delete is left to it. */
	if (streq(state, "error") || streq(state, "resetting") || streq(state, "deleting"))
		return 0;
	r = broker_store_exec(b->store,
			      "UPDATE desktops SET paused_from = CASE WHEN state IN ('free', 'assigned', 'connected', 'disconnected')"
			      " THEN state WHEN owner IS NULL THEN 'free' ELSE 'assigned' END,"
			      " state = 'error', message = ?3, updated = ?4 WHERE id = ?1 AND state = ?2",
			      "issi", id, state, msg, broker_now());
	if (r > 0)
		audit(b, "broker", "error", id, msg);
	return r;
}

/* A paused desktop runs again: back to the state it had, its idle clock started afresh. */
static int mark_unpaused(struct broker *b, int64_t id)
{
	int64_t now = broker_now();
	int r = broker_store_exec(b->store,
				  "UPDATE desktops SET state = paused_from, paused_from = NULL, message = NULL, updated = ?2,"
				  " assigned_at = CASE WHEN paused_from = 'assigned' THEN ?2 ELSE assigned_at END,"
				  " last_disconnect = CASE WHEN paused_from = 'disconnected' THEN ?2 ELSE last_disconnect END"
				  " WHERE id = ?1 AND state = 'error' AND paused_from IS NOT NULL",
				  "ii", id, now);

	if (r > 0)
		audit(b, "broker", "resume", id, "running again");
	return r;
}

/*
 * Resumes what the hypervisor paused on a disk error, and takes back what runs again (a worker
 * each, RESUME_PARALLEL at most; each pass goes on after the desktop the last one tried last, so
 * that many paused desktops all get their turn).
 */
static void resume_paused(struct broker *b)
{
	struct broker_desks *d = b->desks;
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;

	if (d->resume_inflight >= RESUME_PARALLEL ||
	    broker_store_query(b->store, &rows,
			       "SELECT id FROM desktops WHERE state = 'error' AND paused_from IS NOT NULL ORDER BY id <= ?1, id",
			       "i", d->resume_last) <= 0)
		return;
	json_array_foreach(rows, i, row) {
		_cleanup_json_ json_t *full = desktop_row(b, jint(row, "id"));
		struct host_slot *slot = full ? slot_of(b, jstr(full, "host")) : NULL;

		if (d->resume_inflight >= RESUME_PARALLEL)
			break;
		if (slot && pool_host_is_alive(slot->host) && !broker_desks_busy(b, jint(full, "id")) &&
		    job_submit(b, OP_RESUME, jint(full, "id"), full, false, false, "broker") >= 0)
			d->resume_last = jint(full, "id");
	}
}

/* On the loop: what an OP_RESUME found. */
static void resume_done(struct broker *b, struct desk_job *j)
{
	_cleanup_json_ json_t *row = NULL;

	if (j->result >= 0 && j->state == POOL_DESKTOP_PAUSED && !pause_is_halt(j->pause_reason)) {
		/* Asleep, or in an operation of libvirt's: in service (the guest is not at fault). */
		(void)mark_unpaused(b, j->id);
	} else if (j->result == -EAGAIN || (j->result >= 0 && j->state == POOL_DESKTOP_PAUSED)) {
		/* Still paused (the disk is still full, say): the reason may be known better now. */
		row = desktop_row(b, j->id);
		if (row && pause_is_halt(j->pause_reason))
			(void)mark_paused(b, row, j->pause_reason);
		vdi_debug("desktop %lld stays paused: %s", (long long)j->id,
			  j->result < 0 ? j->err.message : pool_pause_reason_name(j->pause_reason));
	} else if (j->result >= 0 && j->state == POOL_DESKTOP_RUNNING) {
		(void)mark_unpaused(b, j->id);
	} else if (j->result == -ENOENT) {
		/* Its domain is gone: out of service for good (an admin resets or deletes it). */
		if (broker_store_exec(b->store,
				      "UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL, updated = ?3"
				      " WHERE id = ?1 AND state = 'error' AND paused_from IS NOT NULL",
				      "isi", j->id, "its domain is gone", broker_now()) > 0)
			audit(b, "broker", "error", j->id, "its domain is gone");
	} else if (j->result == -ESRCH || (j->result >= 0 && j->state == POOL_DESKTOP_STOPPED)) {
		/* It stopped meanwhile: what a stopped desktop of its former state becomes. */
		if (mark_unpaused(b, j->id) > 0)
			(void)handle_stopped(b, j->id);
	} else if (j->result < 0) {
		vdi_debug("desktop %lld: cannot resume: %s", (long long)j->id, j->err.message);
	}
}

/* Deletes the pool when it is draining and empty. */
static void drain_finish(struct broker *b, const char *pool)
{
	int r = broker_store_exec(b->store,
				  "DELETE FROM pools WHERE name = ?1 AND draining = 1"
				  " AND NOT EXISTS (SELECT 1 FROM desktops WHERE pool_id = pools.id)",
				  "s", pool);

	if (r > 0) {
		(void)broker_store_audit(b->store, vdi_clock_wall(), "broker", "pool-delete", pool, "drained");
		vdi_info("pool \"%s\" drained and deleted", pool);
	}
}

/* A desktop nobody owns in a draining pool goes; returns true when it was handed to a delete. */
static bool drain_desktop(struct broker *b, int64_t id)
{
	_cleanup_json_ json_t *row = desktop_row(b, id);

	if (!row || !jint(row, "draining") || jstr(row, "owner") || broker_desks_busy(b, id))
		return false;
	(void)broker_store_exec(b->store, "UPDATE desktops SET state = 'deleting', updated = ?2 WHERE id = ?1", "ii",
				id, broker_now());
	return job_submit(b, OP_DELETE, id, row, false, false, "broker") >= 0;
}

static void reconcile_apply(struct broker *b, struct desk_job *j);

/*
 * A desktop assigned while another job had it (a check after libvirt's
 * "stopped" event, say) is left "starting" with nothing under way: start it
 * now that it is free.
 */
static void resume_start(struct broker *b, int64_t id)
{
	_cleanup_json_ json_t *row = NULL;

	if (broker_desks_busy(b, id))
		return;
	row = desktop_row(b, id);
	if (row && streq(jstr(row, "state"), "starting"))
		(void)job_submit(b, OP_START, id, row, false, false, NULL);
}

/*
 * A desktop paused or resumed while a job had it (the event was not applied): when nothing else
 * has it now, a resume job reads its state and marks it (resume_done()), resuming it when a
 * disk error paused it.
 */
static void pause_recheck(struct broker *b, struct desk_job *j)
{
	int64_t id = j->id;

	/* A resume job read the state after the events it caused (its own resume, a pause again). */
	if (j->op == OP_RESUME)
		id_set_remove(&b->desks->recheck, id);
	if (!id_set_has(&b->desks->recheck, id) || broker_desks_busy(b, id))
		return;
	id_set_remove(&b->desks->recheck, id);
	(void)job_submit(b, OP_RESUME, id, NULL, false, false, "broker");
}

/* On the loop thread: apply the outcome to the store. */
static void job_done(void *data, int cancelled)
{
	struct desk_job *j = data;
	struct broker *b = j->b;
	struct broker_desks *d = b->desks;
	int64_t now = broker_now();

	if (j->op == OP_RESUME)
		d->resume_inflight--;
	if (j->op != OP_RECONCILE) {
		id_set_remove(&d->busy, j->id);
		/* What libvirt held when the listing was taken may be older than this. */
		if (d->reconciling && id_set_add(&d->touched, j->id) < 0)
			d->touched_lost = true;
	}
	if (j->keeper) {
		d->keeper_inflight--;
		if (!cancelled && (j->result < 0 || (j->start && j->start_result < 0))) {
			unsigned shift = d->keeper_failures < 6 ? d->keeper_failures : 6;

			d->keeper_failures++;
			d->keeper_pause_until = vdi_clock_steady() + (5 << shift); /* 5 s, doubling to 5 min 20 s */
		} else if (!cancelled) {
			d->keeper_failures = 0;
		}
	}
	if (cancelled) {
		/* The broker is stopping; the next start's reconcile finishes what this left. */
		job_free(j);
		return;
	}

	switch (j->op) {
	case OP_REBUILD:
		if (j->result < 0) {
			/* A desktop promised to a user stays promised: the next reconcile tries again. */
			(void)broker_store_exec(b->store, "UPDATE desktops SET message = ?2, updated = ?3 WHERE id = ?1",
						"isi", j->id, j->err.message, now);
			audit(b, j->actor, "error", j->id, j->err.message);
			break;
		}
		/* fall through */
	case OP_CREATE:
		if (j->result < 0) {
			/* vmpool left nothing behind: neither does the store. */
			(void)broker_store_exec(b->store, "DELETE FROM desktops WHERE id = ?1", "i", j->id);
			audit(b, j->actor, "error", j->id, j->err.message);
		} else if (j->start && j->start_result < 0) {
			mark_error(b, j, j->start_result);
		} else {
			(void)broker_store_exec(b->store,
						"UPDATE desktops SET template_version = (SELECT t.version FROM pools p JOIN"
						" templates t ON t.id = p.template_id WHERE p.id = desktops.pool_id),"
						" state = 'stopped', updated = ?2 WHERE id = ?1",
						"ii", j->id, now);
			if (j->start)
				mark_running(b, j->id);
		}
		break;
	case OP_START:
		if (j->result < 0)
			mark_error(b, j, j->result);
		else
			mark_running(b, j->id);
		break;
	case OP_RESET:
		if (j->result < 0 || j->start_result < 0) {
			mark_error(b, j, j->result < 0 ? j->result : j->start_result);
		} else {
			(void)broker_store_exec(b->store,
						"UPDATE desktops SET state = 'stopped', last_disconnect = NULL, message = NULL,"
						" template_version = (SELECT t.version FROM pools p JOIN templates t ON"
						" t.id = p.template_id WHERE p.id = desktops.pool_id), updated = ?2 WHERE id = ?1",
						"ii", j->id, now);
			if (j->start)
				mark_running(b, j->id);
		}
		break;
	case OP_SHUTDOWN:
		if (j->result < 0)
			mark_error(b, j, j->result);
		else
			(void)broker_store_exec(b->store,
						"UPDATE desktops SET state = 'stopped', last_disconnect = NULL, updated = ?2"
						" WHERE id = ?1",
						"ii", j->id, now);
		break;
	case OP_DELETE:
		if (j->result < 0) {
			mark_error(b, j, j->result);
		} else {
			(void)broker_store_exec(b->store, "DELETE FROM desktops WHERE id = ?1", "i", j->id);
			drain_finish(b, j->pool);
		}
		break;
	case OP_CHECK:
		if (j->result == -ENOENT || (j->result >= 0 && j->state != POOL_DESKTOP_RUNNING &&
					     j->state != POOL_DESKTOP_PAUSED))
			(void)handle_stopped(b, j->id);
		break;
	case OP_RESUME:
		resume_done(b, j);
		break;
	case OP_RECONCILE:
		d->reconciling = false;
		if (!d->touched_lost)
			reconcile_apply(b, j);
		d->touched.n = 0;
		d->touched_lost = false;
		break;
	}
	if (j->op != OP_RECONCILE && j->op != OP_DELETE && j->op != OP_CHECK)
		(void)drain_desktop(b, j->id);
	if (j->op != OP_RECONCILE && j->id > 0) {
		resume_start(b, j->id);
		pause_recheck(b, j);
	}
	job_free(j);
	keeper_run(b);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

int broker_desks_assigned(struct broker *b, int64_t id, int action, const char *state)
{
	int r = 0;

	switch (action) {
	case BROKER_ASSIGN_CLONE: {
		/* The store put it on the host broker_desks_place() chose. */
		_cleanup_json_ json_t *row = desktop_row(b, id);

		if (row)
			note_placed(b, row);
		r = job_submit(b, OP_CREATE, id, row, true, false, NULL);
		break;
	}
	case BROKER_ASSIGN_START:
		r = job_submit(b, OP_START, id, NULL, false, false, NULL);
		break;
	case BROKER_ASSIGN_SPARE:
		/* The keeper's job under way brings it up; its end sees the owner and makes it "assigned". */
		break;
	case BROKER_ASSIGN_EXISTING:
		/* A persistent desktop its owner (or the idle timer) shut down: boot it again (when the
		 * desktop is busy, resume_start() does once that job is done). */
		if (streq(state, "stopped")) {
			r = broker_store_exec(b->store,
					      "UPDATE desktops SET state = 'starting', updated = ?2 WHERE id = ?1 AND"
					      " state = 'stopped'",
					      "ii", id, broker_now());
			if (r > 0)
				r = job_submit(b, OP_START, id, NULL, false, false, NULL);
		}
		break;
	default:
		break;
	}
	if (r < 0 && r != -EBUSY) {
		char detail[128];

		snprintf(detail, sizeof(detail), "cannot start the work on it: %s", strerror(-r));
		(void)broker_store_exec(b->store,
					"UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL WHERE id = ?1", "is",
					id, detail);
		return r;
	}
	keeper_run(b);
	return streq(state, "assigned") || streq(state, "connected") || streq(state, "disconnected") ? 1 : 0;
}

/* Pooled: back to the pool through a fresh overlay; persistent: shut down, kept by its owner. */
static int give_back(struct broker *b, json_t *row, const char *actor, const char *action, const char *why)
{
	int64_t id = jint(row, "id");
	int r;

	if (broker_desks_busy(b, id))
		return -EBUSY;
	if (!jint(row, "persistent")) {
		bool drain = jint(row, "draining");

		r = broker_store_exec(b->store,
				      "UPDATE desktops SET state = ?2, owner = NULL, assigned_at = NULL, last_disconnect = NULL,"
				      " updated = ?3 WHERE id = ?1",
				      "isi", id, drain ? "deleting" : "resetting", broker_now());
		if (r >= 0)
			r = job_submit(b, drain ? OP_DELETE : OP_RESET, id, row, false, false, actor);
	} else {
		r = job_submit(b, OP_SHUTDOWN, id, row, false, false, actor);
	}
	if (r >= 0)
		audit(b, actor, action, id, why);
	return r;
}

int broker_desks_release(struct broker *b, int64_t id, const char *actor, const char *why)
{
	_cleanup_json_ json_t *row = desktop_row(b, id);

	if (!row)
		return -ENOENT;
	return give_back(b, row, actor, streq(why ? why : "", "idle") ? "idle-reclaim" : "release", why);
}

int broker_desks_reset(struct broker *b, int64_t id, const char *actor)
{
	_cleanup_json_ json_t *row = desktop_row(b, id);
	int r;

	if (!row)
		return -ENOENT;
	if (broker_desks_busy(b, id))
		return -EBUSY;
	/* Pooled desktops leave their user; a persistent one stays its owner's, with a fresh disk. */
	r = broker_store_exec(b->store,
			      "UPDATE desktops SET state = 'resetting', owner = CASE WHEN ?2 THEN owner ELSE NULL END,"
			      " assigned_at = CASE WHEN ?2 THEN assigned_at ELSE NULL END, updated = ?3 WHERE id = ?1",
			      "iii", id, jint(row, "persistent"), broker_now());
	if (r >= 0)
		r = job_submit(b, OP_RESET, id, row, false, false, actor);
	if (r >= 0)
		audit(b, actor, "reset", id, NULL);
	return r;
}

int broker_desks_stop(struct broker *b, int64_t id, const char *actor)
{
	_cleanup_json_ json_t *row = desktop_row(b, id);
	int r;

	if (!row)
		return -ENOENT;
	r = job_submit(b, OP_SHUTDOWN, id, row, false, false, actor);
	if (r >= 0)
		audit(b, actor, "stop", id, NULL);
	return r;
}

int broker_desks_delete(struct broker *b, int64_t id, const char *actor)
{
	_cleanup_json_ json_t *row = desktop_row(b, id);
	int r;

	if (!row)
		return -ENOENT;
	if (broker_desks_busy(b, id))
		return -EBUSY;
	r = broker_store_exec(b->store, "UPDATE desktops SET state = 'deleting', updated = ?2 WHERE id = ?1", "ii", id,
			      broker_now());
	if (r >= 0)
		r = job_submit(b, OP_DELETE, id, row, false, false, actor);
	if (r >= 0)
		audit(b, actor, "delete", id, NULL);
	return r;
}

int broker_desks_drain_pool(struct broker *b, const char *pool, const char *actor)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;
	int r;

	r = broker_store_exec(b->store, "UPDATE pools SET draining = 1 WHERE name = ?1", "s", pool);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = broker_store_query(b->store, &rows,
			       "SELECT d.id FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.name = ?1", "s", pool);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row)
		(void)drain_desktop(b, jint(row, "id"));
	drain_finish(b, pool);
	return (int)json_array_size(rows);
}

/* A desktop found not running although the store says it runs. */
static int handle_stopped(struct broker *b, int64_t id)
{
	_cleanup_json_ json_t *row = desktop_row(b, id);
	const char *state;

	if (!row || broker_desks_busy(b, id))
		return 0;
	state = jstr(row, "state");
	if (!streq(state, "free") && !streq(state, "assigned") && !streq(state, "connected") &&
	    !streq(state, "disconnected"))
		return 0;
	/* A pooled desktop its user shut down is done with: it goes back to the pool. */
	if (jstr(row, "owner") && !jint(row, "persistent"))
		return give_back(b, row, "broker", "release", "the guest stopped");
	return broker_store_exec(b->store, "UPDATE desktops SET state = 'stopped', updated = ?2 WHERE id = ?1", "ii",
				 id, broker_now());
}

/* Keeps `prestart` desktops of every pool free and running, a few at a time. */
static void keeper_run(struct broker *b)
{
	struct broker_desks *d = b->desks;
	_cleanup_json_ json_t *pools = NULL;
	size_t i;
	json_t *p;

	if (d->keeper_inflight >= KEEPER_PARALLEL || vdi_clock_steady() < d->keeper_pause_until)
		return;
	if (broker_store_query(b->store, &pools,
			       "SELECT p.id, p.name, p.size, p.prestart, t.name AS template,"
			       " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner IS NULL"
			       "  AND state IN ('free', 'starting', 'provisioning')) AS ready,"
			       " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND state != 'deleting') AS total"
			       " FROM pools p JOIN templates t ON t.id = p.template_id WHERE p.draining = 0 AND p.prestart > 0",
			       NULL) < 0)
		return;
	json_array_foreach(pools, i, p) {
		int64_t need = jint(p, "prestart") - jint(p, "ready"), total = jint(p, "total");

		while (need > 0 && d->keeper_inflight < KEEPER_PARALLEL) {
			_cleanup_json_ json_t *stopped = NULL;
			int64_t id = 0;
			size_t k;
			json_t *s;
			int r = -1;

			/* A stopped spare boots faster than a new one is made (on a host that can run it). */
			if (broker_store_query(b->store, &stopped,
					       "SELECT id, host FROM desktops WHERE pool_id = ?1 AND owner IS NULL AND state = 'stopped'"
					       " ORDER BY id",
					       "i", jint(p, "id")) < 0)
				return;
			json_array_foreach(stopped, k, s) {
				struct host_slot *slot = slot_of(b, jstr(s, "host"));

				id = jint(s, "id");
				if (broker_desks_busy(b, id) || !slot || slot->draining || !pool_host_is_alive(slot->host))
					continue;
				r = broker_store_exec(b->store,
						      "UPDATE desktops SET state = 'starting', updated = ?2 WHERE id = ?1"
						      " AND state = 'stopped' AND owner IS NULL",
						      "ii", id, broker_now());
				if (r > 0 && job_submit(b, OP_START, id, NULL, false, true, "prestart") >= 0)
					break;
				r = -1;
			}
			if (r <= 0) {
				/* Nothing is made while no host can take it; a host's return wakes the keeper. */
				const char *host = broker_desks_place(b, jstr(p, "template"));
				_cleanup_json_ json_t *row = NULL;

				if (total >= jint(p, "size") || !host)
					break;
				if (broker_store_exec(b->store,
						      "INSERT INTO desktops (pool_id, host, state, updated)"
						      " VALUES (?1, ?2, 'provisioning', ?3)",
						      "isi", jint(p, "id"), host, broker_now()) <= 0)
					return;
				id = broker_store_last_id(b->store);
				row = desktop_row(b, id);
				if (row)
					note_placed(b, row);
				if (!row || job_submit(b, OP_CREATE, id, row, true, true, "prestart") < 0) {
					(void)broker_store_exec(b->store, "DELETE FROM desktops WHERE id = ?1", "i", id);
					return;
				}
				total++;
			}
			need--;
		}
	}
}

/* ---- idle reclaim ---------------------------------------------------------------------- */

static void idle_reclaim(struct broker *b, int64_t now)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;

	/* Disconnected past idle_timeout, or assigned and never connected for as long. */
	if (broker_store_query(b->store, &rows,
			       "SELECT d.id FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.idle_timeout > 0 AND"
			       " ((d.state = 'disconnected' AND d.last_disconnect + p.idle_timeout <= ?1) OR"
			       "  (d.state = 'assigned' AND d.assigned_at + p.idle_timeout <= ?1))",
			       "i", now) <= 0)
		return;
	json_array_foreach(rows, i, row) {
		int64_t id = jint(row, "id");

		if (!broker_desks_busy(b, id))
			(void)broker_desks_release(b, id, "broker", "idle");
	}
}

/* ---- events ---------------------------------------------------------------------------- */

/* On libvirt's event thread: queue, and wake the loop. */
static void on_pool_event(struct pool_host *host, const struct pool_event *ev, void *userdata)
{
	struct host_slot *slot = userdata;
	struct broker_desks *d = slot->owner;

	(void)host;
	switch (ev->type) {
	case POOL_EVENT_GRAPHICS_INITIALIZE:
	case POOL_EVENT_GRAPHICS_DISCONNECT:
	case POOL_EVENT_STOPPED:
	case POOL_EVENT_CRASHED:
	case POOL_EVENT_SUSPENDED:
	case POOL_EVENT_RESUMED:
	case POOL_EVENT_HOST_LOST:
	case POOL_EVENT_HOST_BACK:
		break;
	default:
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (d->n_events < EVENT_QUEUE_MAX) {
		struct queued_event *q = &d->events[d->n_events++];

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
	broker_http_wake(d->b->http);
}

/* A store write that may go through later: the database is locked by another process, or short of memory or disk. */
static bool store_may_retry(int r)
{
	return r == -EBUSY || r == -ENOMEM || r == -ENOSPC;
}

/*
 * Applies one event to the store.  Returns < 0 when a write it needs failed
 * in a way worth another try (the event is then kept, see events_apply());
 * other failures are logged and the event is done with.
 */
static int handle_event(struct broker *b, struct queued_event *ev)
{
	const char *uri = pool_host_uri(b->desks->hosts[ev->host].host);
	bool first = !ev->at;
	int r = 0;

	if (first)
		ev->at = broker_now();
	switch (ev->type) {
	case POOL_EVENT_GRAPHICS_INITIALIZE:
		/* A paused desktop's SPICE clients come and go too: the state it goes back to follows them. */
		r = broker_store_exec(b->store,
				      "UPDATE desktops SET state = CASE state WHEN 'error' THEN 'error' ELSE 'connected' END,"
				      " paused_from = CASE state WHEN 'error' THEN 'connected' ELSE paused_from END, updated = ?2"
				      " WHERE id = ?1 AND (state IN ('assigned', 'disconnected') OR (state = 'error' AND"
				      " paused_from IN ('assigned', 'disconnected'))) AND pool_id = (SELECT id FROM pools WHERE name = ?3)",
				      "iis", ev->id, ev->at, ev->pool);
		if (r > 0)
			vdi_debug("desktop %lld: a SPICE client connected", (long long)ev->id);
		break;
	case POOL_EVENT_GRAPHICS_DISCONNECT:
		r = broker_store_exec(b->store,
				      "UPDATE desktops SET state = CASE state WHEN 'error' THEN 'error' ELSE 'disconnected' END,"
				      " paused_from = CASE state WHEN 'error' THEN 'disconnected' ELSE paused_from END,"
				      " last_disconnect = ?2, updated = ?2 WHERE id = ?1 AND (state = 'connected' OR"
				      " (state = 'error' AND paused_from = 'connected')) AND pool_id = (SELECT id FROM pools WHERE name = ?3)",
				      "iis", ev->id, ev->at, ev->pool);
		if (r > 0)
			vdi_debug("desktop %lld: the SPICE client went away", (long long)ev->id);
		break;
	case POOL_EVENT_STOPPED:
	case POOL_EVENT_CRASHED: {
		/* Our own operations stop desktops too: ask libvirt once more, after they are done, and
		 * only about a desktop the store believes running (a reset one is 'stopped' already). */
		_cleanup_json_ json_t *row = broker_desks_busy(b, ev->id) ? NULL : desktop_row(b, ev->id);
		const char *state = row ? jstr(row, "state") : NULL;

		/* Events name the domain vdi-<pool>-<id>: another broker's desktop may share the id. */
		if (state && streq(jstr(row, "pool"), ev->pool) && (streq(state, "free") || streq(state, "assigned") || streq(state, "connected") ||
			      streq(state, "disconnected")))
			(void)job_submit(b, OP_CHECK, ev->id, row, false, false, "broker");
		break;
	}
	case POOL_EVENT_SUSPENDED:
	case POOL_EVENT_RESUMED: {
		/* A desktop with a job under way is looked at again when the job is done (pause_recheck()). */
		_cleanup_json_ json_t *row = desktop_row(b, ev->id);

		if (!row || !streq(jstr(row, "pool"), ev->pool))
			break;
		if (broker_desks_busy(b, ev->id)) {
			/* Not the short pauses of every start; a paused one that runs, though. */
			bool matters = ev->type == POOL_EVENT_RESUMED ? row_is_paused(row) : pause_is_halt(ev->pause_reason);

			if (matters && !id_set_has(&b->desks->recheck, ev->id))
				r = id_set_add(&b->desks->recheck, ev->id);
		} else if (ev->type == POOL_EVENT_RESUMED)
			r = mark_unpaused(b, ev->id);
		else if (pause_is_halt(ev->pause_reason))
			r = mark_paused(b, row, ev->pause_reason);
		break;
	}
	case POOL_EVENT_HOST_LOST:
		if (first)
			vdi_warn("libvirt host %s went away; reconnecting", uri);
		/* Its desktops are unavailable; new assignments go to the other hosts. */
		r = broker_store_exec(b->store, "UPDATE hosts SET up = 0 WHERE uri = ?1", "s", uri);
		break;
	case POOL_EVENT_HOST_BACK:
		if (first)
			vdi_info("libvirt host %s is back", uri);
		r = broker_store_exec(b->store, "UPDATE hosts SET up = 1 WHERE uri = ?1", "s", uri);
		if (r < 0)
			break;
		b->desks->keeper_failures = 0;
		b->desks->keeper_pause_until = 0;
		broker_desks_reconcile(b);
		host_look(b);
		break;
	default:
		break;
	}
	/* What libvirt held when a listing under way was taken may be older than this event. */
	if (r >= 0 && ev->id > 0 && b->desks->reconciling && id_set_add(&b->desks->touched, ev->id) < 0)
		b->desks->touched_lost = true;
	if (r < 0 && !store_may_retry(r)) {
		vdi_warn("libvirt event %s of desktop %lld not applied: %s", pool_event_type_name(ev->type),
			 (long long)ev->id, strerror(-r));
		r = 0;
	}
	return r < 0 ? r : 0;
}

/* Moves the queued events (as many as fit) behind those the loop kept; under the queue's lock. */
static void events_take(struct broker_desks *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->n_events < EVENT_QUEUE_MAX - d->n_kept ? d->n_events : EVENT_QUEUE_MAX - d->n_kept;
	memcpy(d->kept + d->n_kept, d->events, n * sizeof(*d->events));
	memmove(d->events, d->events + n, (d->n_events - n) * sizeof(*d->events));
	d->n_events -= n;
	d->n_kept += n;
	pthread_mutex_unlock(&d->lock);
}

/*
 * Applies the kept events in order.  The first one the database refuses, and
 * all after it, stay for the next wake or tick: a desktop's events are never
 * applied out of order, and one busy database costs one busy timeout per
 * try, not one per event.
 */
static void events_apply(struct broker *b)
{
	struct broker_desks *d = b->desks;
	size_t done = 0;
	bool waited = d->events_waited;
	int r = 0;

	while (done < d->n_kept && (r = handle_event(b, &d->kept[done])) >= 0)
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

struct broker_template_cache *broker_desks_templates(struct broker *b)
{
	return b->desks->templates;
}

size_t broker_desks_events_waiting(struct broker *b)
{
	return b->desks->n_kept;
}

void broker_desks_shift_times(struct broker *b, int64_t delta)
{
	for (size_t i = 0; i < b->desks->n_kept; i++)
		if (b->desks->kept[i].at)
			b->desks->kept[i].at += delta;
}

void broker_desks_wake(struct broker *b)
{
	events_take(b->desks);
	/* While the database refuses them, the tick tries again (once a second), not every wake. */
	if (!b->desks->events_waited)
		events_apply(b);
}

/* ---- looking at the hosts ------------------------------------------------------------------ */

static struct host_look *host_look_free(struct host_look *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; l->hosts && i < l->n_hosts; i++)
		free(l->hosts[i].has);
	free(l->hosts);
	pool_strv_free(l->tpl_names);
	pool_strv_free(l->tpl_disks);
	free(l);
	return NULL;
}

/* On a worker thread: free memory, and which template disks each host reads. */
static void host_look_work(void *data)
{
	struct host_look *l = data;

	for (size_t i = 0; i < l->n_hosts; i++) {
		struct pool_host *h = broker_desks_host_at(l->b, i);

		if (!pool_host_is_alive(h)) {
			l->hosts[i].result = -ENOTCONN;
			continue;
		}
		l->hosts[i].result = pool_host_free_memory(h, &l->hosts[i].free_memory, &l->hosts[i].err);
		for (size_t t = 0; l->hosts[i].result >= 0 && l->tpl_disks[t]; t++)
			l->hosts[i].has[t] = pool_host_has_file(h, l->tpl_disks[t], NULL) > 0;
	}
}

static void host_look_done(void *data, int cancelled)
{
	struct host_look *l = data;
	struct broker *b = l->b;
	struct broker_desks *d = b->desks;

	d->looking = false;
	for (size_t i = 0; !cancelled && i < l->n_hosts && i < d->n_hosts; i++) {
		struct host_slot *slot = &d->hosts[i];

		if (l->hosts[i].result < 0) {
			if (l->hosts[i].result != -ENOTCONN)
				vdi_warn("cannot look at libvirt host %s: %s", pool_host_uri(slot->host),
					 l->hosts[i].err.message);
			continue;
		}
		slot->free_memory = l->hosts[i].free_memory;
		slot->placed_bytes = 0;
		slot->templates = pool_strv_free(slot->templates);
		slot->missing = pool_strv_free(slot->missing);
		for (size_t t = 0; l->tpl_names[t]; t++)
			(void)strv_push(l->hosts[i].has[t] ? &slot->templates : &slot->missing, l->tpl_names[t]);
		slot->looked = true;
		slot->looked_at = vdi_clock_wall();
	}
	host_look_free(l);
	if (!cancelled)
		keeper_run(b);
}

/* Starts a look at every host (also done every HOST_LOOK_INTERVAL seconds). */
static void host_look(struct broker *b)
{
	struct broker_desks *d = b->desks;
	_cleanup_json_ json_t *tpls = NULL;
	struct host_look *l;
	size_t n, i;
	json_t *t;
	bool fail = false;

	if (d->looking || broker_store_query(b->store, &tpls, "SELECT name, disk_path FROM templates", NULL) < 0)
		return;
	n = json_array_size(tpls);
	l = vdi_new0(struct host_look);
	if (!l)
		return;
	l->b = b;
	l->n_hosts = d->n_hosts;
	l->hosts = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(*l->hosts));
	l->tpl_names = vdi_calloc(n + 1, sizeof(char *));
	l->tpl_disks = vdi_calloc(n + 1, sizeof(char *));
	fail = !l->hosts || !l->tpl_names || !l->tpl_disks;
	for (i = 0; !fail && i < d->n_hosts; i++)
		fail = !(l->hosts[i].has = vdi_calloc(n + 1, sizeof(bool)));
	json_array_foreach(tpls, i, t) {
		if (fail)
			break;
		l->tpl_names[i] = strdup(jstr(t, "name"));
		l->tpl_disks[i] = strdup(jstr(t, "disk_path"));
		fail = !l->tpl_names[i] || !l->tpl_disks[i];
	}
	if (fail || vdi_workers_submit(b->workers, host_look_work, host_look_done, l) < 0) {
		host_look_free(l);
		return;
	}
	d->looking = true;
	d->last_look = vdi_clock_steady();
}

/* ---- reconcile ---------------------------------------------------------------------------- */

void broker_desks_reconcile(struct broker *b)
{
	struct broker_desks *d = b->desks;
	struct desk_job *j;

	if (d->reconciling)
		return;
	j = vdi_new0(struct desk_job);
	if (!j)
		return;
	j->b = b;
	j->op = OP_RECONCILE;
	j->id = -1;
	snprintf(j->actor, sizeof(j->actor), "broker");
	j->listings = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(struct host_listing));
	j->n_listings = d->n_hosts;
	if (!j->listings || vdi_workers_submit(b->workers, job_work, job_done, j) < 0) {
		job_free(j);
		return;
	}
	d->reconciling = true;
	d->last_reconcile = vdi_clock_steady();
}

static const struct pool_desktop_info *find_domain(struct desk_job *j, size_t host, const char *name)
{
	struct host_listing *l = &j->listings[host];

	for (size_t i = 0; i < l->n_domains; i++)
		if (streq(l->domains[i].domain, name))
			return &l->domains[i];
	return NULL;
}

static bool find_overlay(struct desk_job *j, size_t host, const char *domain)
{
	char name[160];

	snprintf(name, sizeof(name), "%s.qcow2", domain);
	for (char **o = j->listings[host].overlays; o && *o; o++)
		if (streq(*o, name))
			return true;
	return false;
}

/* The index of a row's host: 0 for rows without one, SIZE_MAX for a host no longer configured. */
static size_t host_index(struct broker *b, const char *uri)
{
	if (!uri)
		return 0;
	for (size_t i = 0; i < b->desks->n_hosts; i++)
		if (streq(pool_host_uri(b->desks->hosts[i].host), uri))
			return i;
	return SIZE_MAX;
}

/* Deletes a domain and overlay no row owns (left by a crash, or by hand). */
static void delete_orphan(struct broker *b, size_t host, const char *domain, unsigned *count)
{
	/* A job with no row behind it (id 0). */
	struct desk_job *j = vdi_new0(struct desk_job);

	if (!j)
		return;
	j->b = b;
	j->op = OP_DELETE;
	j->id = 0; /* no row */
	j->host = b->desks->hosts[host].host;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	snprintf(j->actor, sizeof(j->actor), "reconcile");
	if (vdi_workers_submit(b->workers, job_work, job_done, j) < 0) {
		job_free(j);
		return;
	}
	vdi_info("reconcile: deleting %s, which no desktop of the store owns", domain);
	(*count)++;
}

/*
 * A domain or overlay named for desktop id of pool that no row holds.  Only
 * pools this broker knows count: the host may hold another broker's pools
 * (a demo beside the tests, say), which are not ours to judge.
 */
static bool is_orphan(struct broker *b, const char *pool, int64_t id)
{
	_cleanup_json_ json_t *r = NULL;

	if (broker_store_query(b->store, &r,
			       "SELECT (SELECT count(*) FROM pools WHERE name = ?2) AS known,"
			       " (SELECT count(*) FROM desktops d JOIN pools p ON p.id = d.pool_id"
			       "  WHERE d.id = ?1 AND p.name = ?2) AS owned",
			       "is", id, pool) != 1)
		return false;
	return jint(json_array_get(r, 0), "known") > 0 && jint(json_array_get(r, 0), "owned") == 0;
}

/* The listing says nothing reliable of desktop id: a job has it, or had it while the listing was taken. */
static bool stale(struct broker *b, int64_t id)
{
	return broker_desks_busy(b, id) || id_set_has(&b->desks->touched, id);
}

static void reconcile_apply(struct broker *b, struct desk_job *j)
{
	_cleanup_json_ json_t *rows = NULL;
	unsigned fixed = 0, orphans = 0;
	size_t i;
	json_t *row;

	/* A host that could not be listed is judged on its return (HOST_BACK starts a reconcile). */
	for (size_t h = 0; h < j->n_listings; h++)
		if (j->listings[h].result < 0)
			vdi_warn("reconcile: cannot list host %s (its desktops are left as they are): %s",
				 pool_host_uri(b->desks->hosts[h].host), j->listings[h].err.message);

	if (broker_store_query(b->store, &rows,
			       "SELECT d.id, d.state, d.owner, d.host, d.paused_from, d.message, p.name AS pool, p.persistent,"
			       " p.draining, t.name AS template, t.disk_path, t.xml"
			       " FROM desktops d JOIN pools p ON p.id = d.pool_id JOIN templates t ON t.id = p.template_id",
			       NULL) < 0)
		return;

	/* 1. Every row against what libvirt holds. */
	json_array_foreach(rows, i, row) {
		int64_t id = jint(row, "id");
		const char *state = jstr(row, "state");
		size_t host = host_index(b, jstr(row, "host"));
		const struct pool_desktop_info *dom;
		bool has_overlay, running, halted, persistent = jint(row, "persistent");
		char name[128];

		if (host >= j->n_listings || j->listings[host].result < 0 || stale(b, id) ||
		    pool_domain_name(jstr(row, "pool"), id, name, sizeof(name)) < 0)
			continue;
		dom = find_domain(j, host, name);
		has_overlay = find_overlay(j, host, name);
		running = dom && (dom->state == POOL_DESKTOP_RUNNING || dom->state == POOL_DESKTOP_PAUSED);
		/* Paused by a disk error, a person or a fault: not in service (libvirt's own pauses are). */
		halted = dom && dom->state == POOL_DESKTOP_PAUSED && pause_is_halt(dom->pause_reason);

		if (streq(state, "deleting")) {
			(void)job_submit(b, OP_DELETE, id, row, false, false, "reconcile");
			fixed++;
		} else if ((!dom || !has_overlay) && streq(state, "provisioning") && jstr(row, "owner")) {
			/* A clone cut short (the broker was killed) that a user was promised: make it again. */
			(void)job_submit(b, OP_REBUILD, id, row, true, false, "reconcile");
			fixed++;
		} else if (!dom || !has_overlay) {
			if (persistent && !streq(state, "provisioning")) {
				/* A user's disk may be in what is left: an admin decides (a paused one too: it
				 * never runs again). */
				if (!streq(state, "error") || jstr(row, "paused_from")) {
					(void)broker_store_exec(b->store,
								"UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL"
								" WHERE id = ?1",
								"is", id, dom ? "its overlay is missing" : "its domain is missing");
					audit(b, "reconcile", "error", id, dom ? "overlay missing" : "domain missing");
					fixed++;
				}
			} else {
				/* A half-made clone, or a pooled desktop that lost its parts: start afresh. */
				(void)broker_store_exec(b->store, "UPDATE desktops SET state = 'deleting' WHERE id = ?1", "i",
							id);
				(void)job_submit(b, OP_DELETE, id, row, false, false, "reconcile");
				fixed++;
			}
		} else if (halted && !streq(state, "error") && !streq(state, "resetting")) {
			if (mark_paused(b, row, dom->pause_reason) > 0)
				fixed++;
		} else if (row_is_paused(row)) {
			/* Paused: the looks at the hosts resume it.  Running or stopped again: take it back. */
			if (!halted && mark_unpaused(b, id) > 0) {
				if (!running)
					(void)handle_stopped(b, id);
				fixed++;
			}
		} else if (streq(state, "provisioning")) {
			/* The clone was made: adopt it, and start it when its user is waiting for it. */
			if (running) {
				mark_running(b, id);
			} else if (jstr(row, "owner")) {
				(void)broker_store_exec(b->store, "UPDATE desktops SET state = 'starting' WHERE id = ?1", "i",
							id);
				(void)job_submit(b, OP_START, id, row, false, false, "reconcile");
			} else {
				(void)broker_store_exec(b->store, "UPDATE desktops SET state = 'stopped' WHERE id = ?1", "i",
							id);
			}
			fixed++;
		} else if (streq(state, "starting")) {
			/* A start cut short: finish it. */
			if (running)
				mark_running(b, id);
			else
				(void)job_submit(b, OP_START, id, row, false, false, "reconcile");
			fixed++;
		} else if (streq(state, "resetting")) {
			(void)job_submit(b, OP_RESET, id, row, false, false, "reconcile");
			fixed++;
		} else if (streq(state, "stopped") && running) {
			mark_running(b, id);
			fixed++;
		} else if (!running && (streq(state, "free") || streq(state, "assigned") || streq(state, "connected") ||
					streq(state, "disconnected"))) {
			(void)handle_stopped(b, id);
			fixed++;
		} else if (streq(state, "error") && !persistent && !jstr(row, "owner")) {
			(void)broker_store_exec(b->store, "UPDATE desktops SET state = 'deleting' WHERE id = ?1", "i", id);
			(void)job_submit(b, OP_DELETE, id, row, false, false, "reconcile");
			fixed++;
		}
	}

	/* 2. What libvirt holds that no row owns. */
	for (size_t h = 0; h < j->n_listings; h++) {
		struct host_listing *l = &j->listings[h];
		char pool[40], name[160];
		int64_t id;

		if (l->result < 0)
			continue;
		for (size_t k = 0; k < l->n_domains; k++) {
			if (pool_domain_name_parse(l->domains[k].domain, pool, sizeof(pool), &id) < 0 || stale(b, id))
				continue;
			if (is_orphan(b, pool, id))
				delete_orphan(b, h, l->domains[k].domain, &orphans);
		}
		for (char **o = l->overlays; o && *o; o++) {
			size_t len = strlen(*o);

			if (len <= 6 || len - 6 >= sizeof(name))
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(len - 6), *o);
			if (pool_domain_name_parse(name, pool, sizeof(pool), &id) < 0 || stale(b, id) ||
			    find_domain(j, h, name))
				continue;
			if (is_orphan(b, pool, id))
				delete_orphan(b, h, name, &orphans);
		}
	}
	if (fixed || orphans) {
		char detail[128];

		snprintf(detail, sizeof(detail), "%u desktops repaired, %u orphans deleted", fixed, orphans);
		(void)broker_store_audit(b->store, vdi_clock_wall(), "broker", "reconcile", NULL, detail);
		vdi_info("reconcile: %s", detail);
	}
}

/* ---- timers -------------------------------------------------------------------------------- */

void broker_desks_tick(struct broker *b)
{
	struct broker_desks *d = b->desks;
	int64_t now = broker_now(), steady = vdi_clock_steady();

	(void)broker_store_audit_flush(b->store);
	/* Those the database refused, then those queued since (a missed wake too): before anything
	 * reads the state they set. */
	events_take(d);
	if (d->n_kept)
		events_apply(b);
	idle_reclaim(b, now);
	if (steady - d->last_reconcile >= RECONCILE_INTERVAL)
		broker_desks_reconcile(b);
	if (steady - d->last_sweep >= RECONCILE_INTERVAL) {
		(void)broker_store_session_expire(b->store, now);
		d->last_sweep = steady;
	}
	if (steady - d->last_look >= HOST_LOOK_INTERVAL)
		host_look(b);
	if (steady - d->last_resume >= RESUME_INTERVAL) {
		resume_paused(b);
		d->last_resume = steady;
	}
	keeper_run(b);
}

/* ---- hosts ---------------------------------------------------------------------------------- */

json_t *broker_desks_hosts_json(struct broker *b)
{
	struct broker_desks *d = b->desks;
	json_t *list = json_array();

	for (size_t i = 0; list && i < d->n_hosts; i++) {
		struct host_slot *slot = &d->hosts[i];
		struct pool_host *h = slot->host;
		_cleanup_json_ json_t *count = NULL;
		json_t *templates = json_array();

		/* Rows without a host (older than several hosts) are the first host's. */
		(void)broker_store_query(b->store, &count,
					 "SELECT count(*) AS n FROM desktops WHERE host = ?1 OR (host IS NULL AND ?2)", "si",
					 pool_host_uri(h), (int64_t)(i == 0));
		for (char **t = slot->templates; templates && t && *t; t++)
			json_array_append_new(templates, json_string(*t));
		json_array_append_new(list, json_pack("{s:s, s:b, s:b, s:s, s:I, s:I, s:o, s:o, s:o}", "uri", pool_host_uri(h),
						      "alive", pool_host_is_alive(h), "draining", slot->draining,
						      "virt_type", pool_host_virt_type(h), "reconnects",
						      (json_int_t)pool_host_reconnects(h), "desktops",
						      (json_int_t)jint(json_array_get(count, 0), "n"), "free_memory",
						      slot->looked ? json_integer((json_int_t)slot->free_memory) : json_null(),
						      "templates", slot->looked && templates ? templates : json_null(),
						      "looked_at", slot->looked ? json_integer(slot->looked_at) : json_null()));
		if (!slot->looked)
			json_decref(templates);
	}
	return json_pack("{s:o}", "hosts", list ? list : json_array());
}

int broker_desks_drain_host(struct broker *b, const char *uri, bool drain, const char *actor)
{
	struct host_slot *slot = slot_of(b, uri);
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;
	int r;

	if (!slot)
		return -ENOENT;
	r = broker_store_exec(b->store, "UPDATE hosts SET draining = ?2 WHERE uri = ?1", "si", uri, (int64_t)drain);
	if (r < 0)
		return r;
	slot->draining = drain;
	(void)broker_store_audit(b->store, vdi_clock_wall(), actor, drain ? "host-drain" : "host-resume", uri, NULL);
	vdi_info("%s: host %s by %s", drain ? "drain" : "resume", uri, actor ? actor : "broker");
	if (!drain) {
		keeper_run(b);
		return 0;
	}
	/* Free desktops go now; the others when their users release them (persistent ones stay). */
	r = broker_store_query(b->store, &rows, "SELECT id FROM desktops WHERE host = ?1 OR (host IS NULL AND ?2)", "si",
			       uri, (int64_t)(slot == b->desks->hosts));
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row)
		(void)drain_desktop(b, jint(row, "id"));
	keeper_run(b);
	json_decref(rows);
	rows = NULL;
	r = broker_store_query(b->store, &rows,
			       "SELECT count(*) AS n FROM desktops WHERE (host = ?1 OR (host IS NULL AND ?2)) AND state != 'deleting'",
			       "si", uri, (int64_t)(slot == b->desks->hosts));
	return r < 0 ? r : (int)jint(json_array_get(rows, 0), "n");
}

int broker_desks_new(struct broker *b, struct broker_desks **ret, struct vdi_error *err)
{
	struct broker_desks *d = vdi_new0(struct broker_desks);
	_cleanup_json_ json_t *row = NULL;
	size_t n = 0;

	if (!d)
		return -ENOMEM;
	d->b = b;
	pthread_mutex_init(&d->lock, NULL);
	d->events = vdi_calloc(EVENT_QUEUE_MAX, sizeof(struct queued_event));
	d->kept = vdi_calloc(EVENT_QUEUE_MAX, sizeof(struct queued_event));
	for (char **u = b->cfg.libvirt.hosts; u && *u; u++)
		n++;
	d->hosts = vdi_calloc(n ? n : 1, sizeof(struct host_slot));
	if (!d->events || !d->kept || !d->hosts || broker_template_cache_new(&d->templates) < 0) {
		broker_desks_free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct pool_host_options o = {
			.uri = b->cfg.libvirt.hosts[i],
			.storage_pool = b->cfg.libvirt.storage_pool,
			.storage_path = b->cfg.libvirt.storage_path,
			.runtime_dir = b->cfg.libvirt.runtime_dir,
			.virt_type = b->cfg.libvirt.virt_type,
			/* One host away must not keep the others from serving. */
			.connect_later = n > 1,
		};
		struct vdi_error perr = { 0 };
		int r = pool_host_new(&o, &d->hosts[i].host, &perr);

		if (r < 0) {
			vdi_error_set(err, 0, "libvirt host %s: %s", o.uri, perr.message);
			broker_desks_free(d);
			return r;
		}
		d->hosts[i].owner = d;
		d->hosts[i].index = i;
		d->n_hosts++;
		pool_host_set_event_handler(d->hosts[i].host, on_pool_event, &d->hosts[i]);
		if (!pool_host_is_alive(d->hosts[i].host))
			vdi_warn("libvirt host %s does not answer: its desktops are unavailable until it does: %s", o.uri,
				 perr.message[0] ? perr.message : "not connected");
		if (broker_store_exec(b->store, "INSERT OR IGNORE INTO hosts (uri) VALUES (?1)", "s", o.uri) < 0 ||
		    broker_store_exec(b->store, "UPDATE hosts SET up = ?2 WHERE uri = ?1", "si", o.uri,
				      (int64_t)pool_host_is_alive(d->hosts[i].host)) < 0 ||
		    broker_store_query(b->store, &row, "SELECT draining FROM hosts WHERE uri = ?1", "s", o.uri) < 0) {
			vdi_error_set(err, 0, "cannot record libvirt host %s in the database", o.uri);
			broker_desks_free(d);
			return -EIO;
		}
		d->hosts[i].draining = jint(json_array_get(row, 0), "draining");
		json_decref(row);
		row = NULL;
	}
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
	for (size_t i = 0; i < d->n_hosts; i++) {
		pool_host_free(d->hosts[i].host);
		pool_strv_free(d->hosts[i].templates);
		pool_strv_free(d->hosts[i].missing);
	}
	free(d->hosts);
	broker_template_cache_free(d->templates);
	free(d->events);
	free(d->kept);
	free(d->busy.ids);
	free(d->touched.ids);
	free(d->recheck.ids);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return NULL;
}
