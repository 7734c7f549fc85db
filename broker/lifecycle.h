/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What users' and admins' requests and each job's outcome do to a desktop's state (the public
 * half is in desktops.h: release, reset, stop, delete, drain).  Loop thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct broker_desks;
struct broker_job;
struct vdi_error;

/* The done function of the jobs this file and its callers start: applies a job's outcome. */
void broker_lifecycle_job_done(struct broker_job *j, bool cancelled);

/* A desktop that came up: free when nobody owns it, else assigned (from now: the idle clock starts). */
void broker_lifecycle_mark_running(struct broker_desks *d, int64_t id);

/* A desktop found not running although the store says it runs (0 also when it needs nothing). */
int broker_lifecycle_stopped(struct broker_desks *d, int64_t id);

/* A desktop nobody owns in a draining pool, or on a draining host, goes: true when a delete took it. */
bool broker_lifecycle_drain_desktop(struct broker_desks *d, int64_t id);

/*
 * A desktop assigned while another job had it (a check after libvirt's "stopped" event, say) is
 * left "starting" with nothing under way: starts it when nothing has it any more.
 */
void broker_lifecycle_resume_start(struct broker_desks *d, int64_t id);

/*
 * After broker_store_assign(): starts, or clones and starts, the desktop as
 * its action needs, and refills the pool's spares.  Returns 1 when the
 * desktop is running now, 0 when it is on its way.
 */
int broker_desks_assigned(struct broker_desks *d, int64_t id, int action, const char *state);

/*
 * The user (or the idle timer) is done with desktop id: pooled desktops
 * are reset and go back to the pool, persistent ones shut down.  actor and
 * why go to the audit log.  -ENOENT, -EBUSY.
 */
int broker_desks_release(struct broker_desks *d, int64_t id, const char *actor, const char *why);

/* Admin operations: -ENOENT, -EBUSY. */
int broker_desks_reset(struct broker_desks *d, int64_t id, const char *actor);
int broker_desks_stop(struct broker_desks *d, int64_t id, const char *actor);
int broker_desks_delete(struct broker_desks *d, int64_t id, const char *actor);

/*
 * A persistent desktop onto its template's current version (recompose): shut down (ACPI, then
 * power off after [libvirt] shutdown_timeout), a fresh system overlay, its user data disk kept;
 * it comes back stopped, still its owner's.  Audit "desktop-recompose".  -ENOENT, -EBUSY (a job
 * has it, or it is being made, reset or deleted), -EPERM (a pooled desktop); err says why.
 */
int broker_desks_recompose(struct broker_desks *d, int64_t id, const char *actor, struct vdi_error *err);

/* Stops new assignments in pool and deletes its desktops as they become free; returns how many remain. */
int broker_desks_drain_pool(struct broker_desks *d, const char *pool, const char *actor);

/*
 * drain: nothing new goes to host uri, its free desktops are deleted now and
 * pooled ones when their users release them (persistent desktops stay, with
 * their owners).  Returns how many desktops remain on it.  !drain: the host
 * takes desktops again; returns 0.  -ENOENT: no such host.
 */
int broker_desks_drain_host(struct broker_desks *d, const char *uri, bool drain, const char *actor);
