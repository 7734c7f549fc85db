/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Inside the desktop module (desktops.h): the state its files share.  Only
 * broker/{desktops,jobs,lifecycle,paused,spares,hosts,events,reconcile,assign,maintenance,recompose}.c
 * include this.  Who calls whom (docs/architecture.md has the picture):
 *
 *   desktops.c  builds and frees the module, runs its tick and the chores after each job
 *   assign.c    a user's request for a desktop: entitlement, placement when a clone is needed
 *   events.c    libvirt's events, queued from its thread, applied on the loop
 *   reconcile.c the store against what libvirt holds (reconcile-table.c decides)
 *   maintenance.c  admins' maintenance desktops (outside the pools): their jobs, events, reconcile
 *   recompose.c a persistent pool's desktops onto the current version, a few at a time
 *   spares.c    prestarted spares and idle reclaim
 *   paused.c    desktops the hypervisor paused, out of service, and their resume
 *   lifecycle.c what users' and admins' requests and each job's outcome do to a desktop
 *   jobs.c      the libvirt work of one desktop on a worker, one at a time per desktop
 *   hosts.c     the libvirt hosts: slots, looks at their memory and templates, the hosts JSON
 *   placement.c where a new desktop goes (a pure function)
 *
 * Each file calls only those below it in this list; the few calls back up (a job is done, a
 * look at the hosts is done) go through the hooks in struct broker_desks.  Everything here
 * runs on the loop thread, except what jobs.c and hosts.c run on workers and the event queue's
 * producer (libvirt's event thread).  None of them writes SQL: their statements are named
 * functions in store-desktops.h (desktops, pools) and store-hosts.h (hosts, templates).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vmpool.h"

struct broker_store;
struct broker_template_cache;
struct vdi_config;
struct vdi_workers;

/* What placement reckons a new desktop takes when its template does not say. */
#define BROKER_DEFAULT_DESKTOP_MIB 1024
/* Events waiting for the loop, and events the loop keeps while the database refuses their writes;
 * more are dropped (the next reconcile repairs what it can of what they would have done). */
#define BROKER_EVENT_QUEUE_MAX 4096

/* A small set of desktop ids. */
struct broker_id_set {
	int64_t *ids;
	size_t n, cap;
};

bool broker_id_set_has(const struct broker_id_set *set, int64_t id);
int broker_id_set_add(struct broker_id_set *set, int64_t id);
void broker_id_set_remove(struct broker_id_set *set, int64_t id);

struct broker_host_slot {
	struct broker_desks *owner;
	size_t index;
	struct pool_host *host;
	bool draining;         /* an admin is emptying it: nothing new goes there (table hosts) */
	/* From the last look (every few seconds, on a worker): */
	bool looked;
	int64_t looked_at;     /* unix seconds, on the wall clock (shown only) */
	uint64_t free_memory;  /* bytes */
	char **templates;      /* names of the templates whose disk it reads; NULL-terminated */
	char **missing;        /* ... and of those it cannot read (new templates are in neither) */
	char *networks;        /* ",a,b,": the libvirt networks it had active ("," none; NULL: not known yet) */
	bool networks_stored;  /* the store's hosts.networks says the same */
	char *hardware;        /* ",uefi,secure-boot,tpm,": what it offers ("," none; NULL: not known yet); a look
				* that cannot ask keeps what the one before found */
	bool hardware_stored;  /* the store's hosts.hardware says the same */
	bool hardware_warned;  /* the look could not ask, and said so (once until one can) */
	uint64_t placed_bytes; /* what the desktops placed here since that look will take */
};

/* A base volume no template version names (bases.c), as the last listing found it. */
struct broker_stray {
	char *path;
	struct pool_host *host; /* borrowed from its slot */
	int64_t first_seen;     /* vdi_clock_steady() */
};

/* A libvirt event as the loop keeps it. */
struct broker_queued_event {
	enum pool_event_type type;
	char pool[40];
	int64_t id;
	size_t host;
	enum pool_pause_reason pause_reason; /* POOL_EVENT_SUSPENDED */
	int64_t at; /* when the loop first tried it (0: not yet): a retry records that time */
};

struct broker_job;

struct broker_desks {
	const struct vdi_config *cfg;  /* borrowed */
	struct broker_store *store;    /* the loop thread's connection, borrowed */
	struct vdi_workers *workers;   /* borrowed */
	void (*wake)(void *data);      /* from libvirt's event thread: the loop drains the queue */
	void *wake_data;

	/* Hooks back up (desktops.c sets them): after a job is done, and when spares may be made. */
	void (*job_finished)(struct broker_desks *d, struct broker_job *j);
	void (*kick)(struct broker_desks *d);

	struct broker_host_slot *hosts;
	size_t n_hosts;
	bool looking;      /* a look at the hosts is under way */
	int64_t last_look; /* vdi_clock_steady() */

	struct broker_template_cache *templates; /* the jobs' vmpool templates */

	/* jobs.c */
	struct broker_id_set busy;    /* desktops with a job under way */
	unsigned template_jobs;       /* creates, resets and rebuilds under way (bases.c deletes no base meanwhile) */
	struct broker_id_set touched; /* desktops whose job finished, or that had an event, while a reconcile was listing */
	bool touched_lost;            /* touched is incomplete: judge nothing on this listing */

	/* paused.c */
	struct broker_id_set recheck; /* desktops paused or resumed while a job had them: looked at when it is done */
	unsigned resume_inflight;     /* resume jobs under way */
	int64_t resume_last;          /* the desktop the last resume pass tried last: the next starts after it */

	/* spares.c: after the keeper's jobs fail (a host that cannot make or start desktops), it
	 * waits before the next try, longer each time: no stream of desktops made only to fail. */
	unsigned keeper_inflight;
	unsigned keeper_failures;
	int64_t keeper_pause_until; /* vdi_clock_steady() */

	/* publish.c */
	bool publishes_recovered;         /* what a stopped broker left making is undone (or being undone) */
	bool recovering;                  /* that is under way */
	json_t *left_making;              /* the versions making when this broker started, not undone yet */
	int64_t recover_after;            /* vdi_clock_steady(): a partial base libvirtd still wrote; try again then */

	/* bases.c */
	bool bases_busy;                  /* the tick's pass is under way */
	int64_t last_bases, last_strays;  /* vdi_clock_steady() */
	struct broker_stray *strays;
	size_t n_strays;

	/* rollout.c */
	unsigned rollout_inflight;  /* its resets under way */

	/* maintenance.c */
	struct broker_id_set maint_busy;    /* maintenance desktops with a job under way */
	struct broker_id_set maint_touched; /* ... whose job ended, or that had an event, while a reconcile was listing */
	bool maint_touched_lost;            /* maint_touched is incomplete */

	/* reconcile.c */
	bool reconciling;
	int64_t last_reconcile, last_sweep, last_resume; /* vdi_clock_steady() */

	/* viewers.c: the SPICE connections of each desktop */
	struct broker_viewers *viewers;

	/* events.c */
	pthread_mutex_t lock; /* guards the event queue: libvirt's event thread fills it */
	struct broker_queued_event *events;
	size_t n_events;
	unsigned long events_dropped;
	/* The loop's own: events taken from the queue, in order, the first of which the database
	 * refused (busy); they are tried again on the next wake or tick, before newer ones. */
	struct broker_queued_event *kept;
	size_t n_kept;
	bool events_waited; /* kept events were refused at the last try */
};

/* Small readers of the store's JSON rows. */
static inline int64_t broker_jint(json_t *row, const char *key)
{
	return json_integer_value(json_object_get(row, key));
}

static inline const char *broker_jstr(json_t *row, const char *key)
{
	return json_string_value(json_object_get(row, key));
}

/* An audit record about desktop id (and an info line in the log). */
void broker_desks_audit(struct broker_desks *d, const char *actor, const char *action, int64_t id, const char *detail);
/* An audit record of action on template by actor (NULL: the broker), its detail formatted, and a log line. */
void broker_desks_audit_template(struct broker_desks *d, const char *action, const char *actor, const char *template,
				 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A pause the broker undoes by itself once its cause is gone: a disk error (a full storage pool). */
static inline bool broker_pause_is_resumable(enum pool_pause_reason why)
{
	return why == POOL_PAUSE_NOSPACE || why == POOL_PAUSE_IOERROR;
}

/* A pause that takes the desktop out of service: all but libvirt's own, short ones, and a guest's
 * sleep (suspend to RAM: the guest chose it, and its user's input or console wakes it). */
static inline bool broker_pause_is_halt(enum pool_pause_reason why)
{
	return why != POOL_PAUSE_NONE && why != POOL_PAUSE_LIBVIRT && why != POOL_PAUSE_ASLEEP;
}

/* The states of a desktop that runs in service (the store's words). */
bool broker_state_is_running(const char *state);

/* The desktop's row with its pool's and template's settings (a new reference); NULL when there is none. */
json_t *broker_desktop_row(struct broker_desks *d, int64_t id);
