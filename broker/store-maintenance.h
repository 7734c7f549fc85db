/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store (store.h): maintenance desktops (maintenance.h), table maintenance.  At most one per
 * template; each is an overlay on the version that was current when it was made (its "version",
 * whose base stays while it exists: broker_store_versions_unused()).  States:
 *
 *   provisioning  being made and booted          starting    being booted again
 *   running       runs                           stopped     shut off (what publish takes)
 *   publishing    its overlay is being copied into the next version
 *   deleting      being thrown away (discarded, published, or its domain is gone)
 *
 * Names are borrowed; listings return a new JSON array and their number of rows.  Times are
 * wall-clock seconds (UTC).
 */

#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_store;

/*
 * The broker pool name of maintenance desktops' domains: "vdi-_maintenance-<id>" is a desktop
 * name of vmpool's form (vmpool/naming.c), so vmpool's calls, libvirt's events and reconcile's
 * listings take maintenance desktops as they take any desktop, and a pool of the admin's never
 * has it: pool names beginning with '_' are vdi's own (broker_store_add_pool() refuses them).
 */
#define BROKER_MAINTENANCE_POOL "_maintenance"

/*
 * Adds template name's maintenance desktop, id (> 0, chosen by the caller), "provisioning" on
 * host on the template's current version, started by actor.  0 and *ret, a row with id,
 * template, version, host, and the template's current disk_path and xml (what the desktop is
 * made from); -ENOENT (no such template), -EEXIST (the template has one: err says in what
 * state), -EADDRINUSE (id is taken: choose another), -errno.
 */
int broker_store_maintenance_add(struct broker_store *s, const char *name, int64_t id, const char *host,
				 const char *actor, int64_t now, json_t **ret, struct vdi_error *err);

/*
 * The maintenance desktops (of template name; NULL: all), by template name: id, template,
 * version, host, state, disk (its overlay, once made), started_by, created, updated, message
 * (why the last operation on it failed, or null), current (1 when its version is the
 * template's current one).
 */
int broker_store_maintenance_list(struct broker_store *s, const char *name, json_t **ret);

/* The same columns for maintenance desktop id: 1 and *ret (a new object), 0 when none, -errno. */
int broker_store_maintenance_get(struct broker_store *s, int64_t id, json_t **ret);

/*
 * Moves maintenance desktop id from state from (NULL: any) to state to, with message (NULL
 * clears it); disk (NULL: unchanged) records its overlay.  Rows changed, or -errno.
 */
int broker_store_maintenance_set_state(struct broker_store *s, int64_t id, const char *from, const char *to,
				       const char *disk, const char *message, int64_t now);

/* Removes maintenance desktop id's row (what libvirt held of it is gone): rows changed, or -errno. */
int broker_store_maintenance_remove(struct broker_store *s, int64_t id);

/* At start: the publishes under way when the broker stopped are undone (publish.h): the
 * maintenance desktops they read are "stopped" again.  Rows changed, or -errno. */
int broker_store_maintenance_recover(struct broker_store *s, int64_t now);
