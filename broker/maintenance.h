/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Maintenance desktops (docs/templates.md): an admin's copy of a template to change it in.  Each
 * is an overlay on the template's current version and a domain, outside every pool, one per
 * template at a time, that only admins open (api/templates.c's console).  Publishing from it
 * (publish.h) flattens its overlay into the next version, and then it goes.
 *
 * Its domain is a desktop of the reserved broker pool BROKER_MAINTENANCE_POOL
 * (store-maintenance.h), "vdi-_maintenance-<id>": vmpool makes, starts and deletes it as any
 * desktop, libvirt's events and reconcile's listings come as a desktop's, and this file takes
 * them before the pools' code does (events.c, reconcile.c).  Its row is in table maintenance
 * (store-maintenance.h), not among the desktops: no pool, spare, rollout, idle reclaim or
 * assignment ever sees it.  Its libvirt work runs on the workers, one job at a time per
 * maintenance desktop.  Loop thread, but broker_maintenance_work() (a worker's).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_desks;
struct broker_job;
struct broker_maintenance_job;
struct broker_queued_event;
struct pool_host;

/*
 * Makes template's (borrowed) maintenance desktop for actor (borrowed): its row, "provisioning",
 * and *ret, the job that makes and boots it: broker_maintenance_work() on a worker, then
 * broker_maintenance_finish() on the loop.  -ENOENT (no template), -EEXIST (it has one),
 * -EHOSTUNREACH (no host can take it), -errno; err says why.
 */
int broker_maintenance_new(struct broker_desks *d, const char *template, const char *actor,
			   struct broker_maintenance_job **ret, struct vdi_error *err);

/* Boots template's stopped maintenance desktop again ("starting"): *ret as above.  -ENOENT (none),
 * -EBUSY (not stopped, or a job has it). */
int broker_maintenance_start(struct broker_desks *d, const char *template, const char *actor,
			     struct broker_maintenance_job **ret, struct vdi_error *err);

/* Throws template's maintenance desktop away ("deleting"): *ret as above.  -ENOENT (none), -EBUSY
 * (a job or a publish has it). */
int broker_maintenance_discard(struct broker_desks *d, const char *template, const char *actor,
			       struct broker_maintenance_job **ret, struct vdi_error *err);

/* On a worker: the job's libvirt work. */
void broker_maintenance_work(void *data);

/*
 * On the loop, after the work (or instead of it: the work never ran, and what it would have done
 * is left to the next start's reconcile): applies its outcome to the store, audits it, and frees
 * j.  Returns the work's result; err (may be NULL) gets its message.
 */
int broker_maintenance_finish(struct broker_maintenance_job *j, struct vdi_error *err);

/* The maintenance desktop a job is about (for the reply). */
int64_t broker_maintenance_job_id(const struct broker_maintenance_job *j);

/* Removes maintenance desktop id (its row "deleting" already) in the background; why goes to the audit. */
void broker_maintenance_remove(struct broker_desks *d, int64_t id, const char *actor, const char *why);

/* Whether maintenance desktop id has a job under way. */
bool broker_maintenance_busy(struct broker_desks *d, int64_t id);

/* "vdi-_maintenance-<id>" into buf. */
int broker_maintenance_domain(int64_t id, char *buf, size_t len);

/* Whether a libvirt event's pool (borrowed) is maintenance desktops'. */
bool broker_maintenance_is_pool(const char *pool);

/* A libvirt event of a maintenance desktop (events.c): its state follows. */
void broker_maintenance_event(struct broker_desks *d, const struct broker_queued_event *ev);

/* A reconcile's listing (reconcile.c; applied: false when it says nothing reliable): the rows
 * against libvirt, and maintenance domains no row owns. */
void broker_maintenance_reconcile(struct broker_desks *d, struct broker_job *listing, bool apply);

/* At start: what a stopped broker left (a maintenance desktop it was publishing is stopped again). */
void broker_maintenance_recover(struct broker_desks *d);

/* Frees the module's state in d. */
void broker_maintenance_free(struct broker_desks *d);
