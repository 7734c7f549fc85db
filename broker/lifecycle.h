/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What users' and admins' requests and each job's outcome do to a desktop's state (the public
 * half is in desktops.h: release, reset, stop, delete, drain).  Loop thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct broker_desks;
struct broker_job;

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
