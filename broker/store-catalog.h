/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store (store.h): templates, their versions, and pools.  The listings return a new JSON
 * array with an object per row, as the admin API shows them, and their number.
 * Names are borrowed.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_store;

/* ---- templates ------------------------------------------------------------------ */

/*
 * A template row and its version 1 on disk_path, in one transaction; the name is checked only
 * for its length here (1-64): what a template may be named is vmpool's rule
 * (pool_template_new()), which the API applies before this.
 */
int broker_store_add_template(struct broker_store *s, const char *name, const char *disk_path, const char *xml,
			      int64_t now, struct vdi_error *err);

/* Records what template name was made with (rows changed, or -errno). */
int broker_store_set_template_size(struct broker_store *s, const char *name, int64_t memory_mib, int64_t vcpus);

/* The templates (name NULL: all, by name) with name, disk, memory_mib, vcpus, version, created, pools. */
int broker_store_templates(struct broker_store *s, const char *name, json_t **ret);

/* > 0 when template name exists, 0 when not, or -errno. */
int broker_store_template_exists(struct broker_store *s, const char *name);

/* How many pools use template name; -ENOENT when there is no such template. */
int broker_store_template_pools(struct broker_store *s, const char *name);

/* Deletes template name (rows changed, or -errno). */
int broker_store_remove_template(struct broker_store *s, const char *name);

/* ---- pools --------------------------------------------------------------------------- */

struct broker_pool_def {
	const char *name;       /* [A-Za-z0-9_]{1,32}: part of domain names (pool_name_is_valid()) */
	const char *template_name;
	bool persistent;        /* false: pooled (reset on release) */
	int64_t size;           /* most desktops, >= 0 */
	int64_t prestart;       /* free desktops kept running, 0..size */
	int64_t max_per_user;   /* >= 1 */
	int64_t idle_timeout;   /* seconds, 0 = never */
	const char *groups;     /* comma-separated; "" = everyone */
};

int broker_store_add_pool(struct broker_store *s, const struct broker_pool_def *def, int64_t now, struct vdi_error *err);

/* What an admin may change in a pool besides its groups. */
struct broker_pool_limits {
	int64_t size, prestart, max_per_user, idle_timeout;
};

/* The limits of pool name: 0, or -ENOENT (no such pool), -errno. */
int broker_store_pool_limits(struct broker_store *s, const char *name, struct broker_pool_limits *ret);

/* Sets the limits of pool name, and its groups unless groups is NULL (rows changed, or -errno). */
int broker_store_update_pool(struct broker_store *s, const char *name, const struct broker_pool_limits *l,
			     const char *groups);

/* > 0 when pool name exists (draining or not), 0 when not, or -errno. */
int broker_store_pool_exists(struct broker_store *s, const char *name);

/*
 * The pools (name NULL: all, by name) with id, name, template, type ("persistent" or "pooled"),
 * size, prestart, max_per_user, idle_timeout, groups (comma-separated), draining (0/1), created.
 */
int broker_store_pools(struct broker_store *s, const char *name, json_t **ret);

/* The desktops of every pool by state: rows of pool_id, state, n. */
int broker_store_pool_desktop_counts(struct broker_store *s, json_t **ret);

/*
 * The pools that are not draining, by name, as user sees them: name, type, size, groups,
 * spare (nobody's, free or on the way up), total (not being deleted), mine (user's, in service).
 */
int broker_store_user_pools(struct broker_store *s, const char *user, json_t **ret);
