/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Desktop lifecycle: the broker's side of vmpool.  Runs every libvirt call
 * on the worker pool and applies its outcome to the store on the loop
 * thread; keeps spare desktops booted (prestart), reclaims idle ones,
 * follows libvirt's events and reconciles libvirt with the store at start
 * and every minute.  All functions run on the loop thread.
 *
 * Desktop states (ARCHITECTURE.md): provisioning -> stopped -> starting ->
 * free -> assigned -> connected -> disconnected -> resetting -> stopped |
 * free, plus error and deleting.  A desktop with a libvirt operation under
 * way is "busy": nothing else starts on it until that operation is done.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "assign.h"
#include "error.h"
#include "hosts.h"
#include "jobs.h"
#include "lifecycle.h"


struct broker_desks;
struct broker_store;
struct broker_template_cache;
struct pool_host;
struct vdi_config;
struct vdi_workers;

struct broker_desks_options {
	const struct vdi_config *cfg;  /* [libvirt]; borrowed, outlives the module */
	struct broker_store *store;    /* the loop thread's connection; borrowed */
	struct vdi_workers *workers;   /* where libvirt's calls run; borrowed, stopped before the module goes */
	/* Called from libvirt's event thread: the loop is to call broker_desks_wake() soon. */
	void (*wake)(void *data);
	void *wake_data;
};

/* Connects to every configured host (module map: desktops-private.h). */
int broker_desks_new(const struct broker_desks_options *o, struct broker_desks **ret, struct vdi_error *err);
struct broker_desks *broker_desks_free(struct broker_desks *d);

/* Stops libvirt's events (before the loop goes away); accepts NULL. */
void broker_desks_stop_events(struct broker_desks *d);

/* Loop-thread hooks: wake drains libvirt's events; tick runs timers (once a second). */
void broker_desks_wake(struct broker_desks *d);
void broker_desks_tick(struct broker_desks *d);

/* A template's current version changed (a rollback): placement looks at the hosts again and the
 * rollout begins. */
void broker_desks_versions_changed(struct broker_desks *d);

/* The vmpool templates the jobs use (template-cache.h); borrowed, lives as long as the module. */
struct broker_template_cache *broker_desks_templates(struct broker_desks *d);

/* libvirt events the loop keeps because the database refused their writes (tried again each tick). */
size_t broker_desks_events_waiting(struct broker_desks *d);

/* The wall clock jumped by delta seconds (broker_now() follows it): the times the waiting events
 * recorded move with it. */
void broker_desks_shift_times(struct broker_desks *d, int64_t delta);

/* Starts a reconcile now (also done at start and every minute). */
void broker_desks_reconcile(struct broker_desks *d);

/* The host of a desktop row's host URI (NULL: the first host). Borrowed. */
struct pool_host *broker_desks_host(struct broker_desks *d, const char *uri);
