/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Spare desktops: the prestart keeper keeps `prestart` desktops of every pool free and
 * running (a few at a time, waiting longer after each failure), and idle reclaim gives back
 * desktops left disconnected, or never connected, past their pool's idle_timeout.  Loop thread.
 */

#include <stdint.h>

struct broker_desks;
struct broker_job;

/* Makes or boots the spares that are missing, as far as the keeper may now. */
void broker_spares_keep(struct broker_desks *d);

/*
 * One spare of pool pool_id beyond what prestart asks, so that the rollout can replace an outdated
 * one without leaving the pool short: a stopped one on the current version is booted, or else a
 * new one is made while the pool holds fewer than size (total now).  0 when one is on its way;
 * -EBUSY (the keeper is at its limit or waiting after failures), -ENOSPC (no room or no host), -EIO.
 * template and network (the pool's effective network value, NULL none) are borrowed.
 */
int broker_spares_add_one(struct broker_desks *d, int64_t pool_id, const char *template, const char *network,
			  int64_t total, int64_t size);

/* A job is done: a keeper's job counts toward its backoff. */
void broker_spares_job_finished(struct broker_desks *d, struct broker_job *j);

/* The keeper may try again at once (a host came back). */
void broker_spares_forget_failures(struct broker_desks *d);

/* Releases the desktops idle past their pool's idle_timeout at now (broker_now()). */
void broker_spares_reclaim_idle(struct broker_desks *d, int64_t now);
