/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Publishing a template's next version: its base volume, a flattened read-only copy of a disk
 * made through libvirt's storage API (vmpool's pool_base_create()) in the storage pool of the
 * first host that can run desktops, becomes the current version; the rollout (rollout.h) then
 * moves the pools onto it.  A publish is reserved in the store first ("making", or "scheduled"
 * for later), so two never run at once for a template and a broker killed meanwhile finds it:
 * broker_publish_recover() (publish-recover.h) removes what such a publish left (row and partial
 * base) at start.
 * Loop thread, but broker_publish_work() (a worker's).
 */

#include <stdint.h>

#include "error.h"

struct broker_desks;
struct broker_publish;

/*
 * Reserves template's next version, from source (an absolute path) with note (NULL: none) by
 * actor (all borrowed).  at > now: scheduled, returns 1 and no *ret (a tick publishes it then).
 * Else returns 0 and *ret, a publish to run: broker_publish_work() on a worker, then
 * broker_publish_finish() on the loop.  -ENOENT (no template), -EBUSY (a version is making or
 * scheduled), -EHOSTUNREACH (no host can take it), -errno; err says why.
 */
int broker_publish_new(struct broker_desks *d, const char *template, const char *source, const char *note,
		       int64_t at, const char *actor, struct broker_publish **ret, struct vdi_error *err);

/*
 * The same, from template's maintenance desktop (maintenance.h): its overlay becomes the next
 * version, made on its host, and once that is made the maintenance desktop goes.  Now (at <= now)
 * it must be shut off and on the current version: returns 0 and *ret.  Later (at > now, returns 1,
 * no *ret) it may still run, but it must be on the current version; the checks of a publish now
 * are made when it is due, and a failing one takes the version back (audit template-publish).
 * -ENOENT (no template), -ESRCH (no maintenance desktop), -EBUSY ("shut down the maintenance
 * desktop first", a publish or a job has it, or a version is making or scheduled), -ESTALE (its
 * version is no longer current), -EHOSTUNREACH, -errno; err says why.  Nothing changes on failure.
 */
int broker_publish_new_maintenance(struct broker_desks *d, const char *template, const char *note, int64_t at,
				   const char *actor, struct broker_publish **ret, struct vdi_error *err);

/* On a worker: checks the source (an image no domain uses; a maintenance desktop's: shut off) and makes the base. */
void broker_publish_work(void *data);

/*
 * On the loop, after the work: the version is current (audit template-publish), or the
 * reservation is taken back (and the audit says why).  Returns the work's outcome: 0, or -EINVAL
 * (not an image), -EBUSY (a domain uses it), -EEXIST, -errno; err (may be NULL) gets its message.
 */
int broker_publish_finish(struct broker_publish *p, struct vdi_error *err);

/* The work could not run: broker_publish_finish() takes the reservation back, saying why. */
void broker_publish_failed(struct broker_publish *p, int r, const char *why);

/* The version a publish makes. */
int64_t broker_publish_version(const struct broker_publish *p);

/* Frees p; accepts NULL. */
void broker_publish_free(struct broker_publish *p);

/* Cancels template's scheduled publish: 0 and its version in *ret_version, -ENOENT (none), -errno. */
int broker_publish_cancel(struct broker_desks *d, const char *template, const char *actor, int64_t *ret_version);

/* Starts the scheduled publishes whose time came (the tick's). */
void broker_publish_due(struct broker_desks *d);
