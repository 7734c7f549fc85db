/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Reconcile: the store against what libvirt holds, at start, every minute and when a host
 * comes back.  A listing of every host runs on a worker; on the loop each desktop row is
 * judged by reconcile-table.h (rows a job had while the listing was taken are left for the
 * next time), and domains and overlays that no row of this broker's pools owns are deleted.
 */

struct broker_desks;

/* Starts a reconcile now, unless one is under way. */
void broker_reconcile_start(struct broker_desks *d);
