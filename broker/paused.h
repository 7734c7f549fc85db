/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Paused desktops.  A desktop the hypervisor paused (a disk error: QEMU's werror=enospc on a
 * full storage pool), or someone paused through libvirt, is out of service: state "error" with
 * the reason in its message for admins, and "paused_from" keeps the state it goes back to
 * (free, assigned, connected, disconnected) when it runs again.  Assignment never hands out an
 * "error" desktop.  The broker resumes those paused on a disk error (every 10 s, two at a
 * time), and takes back any that runs again, whoever resumed it.  libvirt's own short pauses
 * (start-up, migration, save, snapshot) and a guest asleep (suspended to RAM) are left alone:
 * the desktop counts as running.  Loop thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "vmpool.h"

struct broker_desks;
struct broker_job;

/* Whether a row's desktop (borrowed) is paused out of service: "error" with the state to go back to. */
bool broker_paused_row_is_paused(json_t *row);

/* Takes a paused desktop out of service (row: its row, borrowed).  > 0 when it changed, < 0 when the write failed. */
int broker_paused_mark(struct broker_desks *d, json_t *row, enum pool_pause_reason why);

/* A paused desktop runs again: back to the state it had, its idle clock started afresh.  > 0 when it changed. */
int broker_paused_unmark(struct broker_desks *d, int64_t id);

/* The tick's pass: resumes what a disk error paused, takes back what runs again (a worker each, a few at once). */
void broker_paused_resume_all(struct broker_desks *d);

/*
 * Desktop id was paused or resumed while a job had it (the event was not applied): once the
 * job j is done, a resume job reads its state and marks it.  -ENOMEM.
 */
int broker_paused_recheck_later(struct broker_desks *d, int64_t id);
void broker_paused_recheck(struct broker_desks *d, struct broker_job *j);
