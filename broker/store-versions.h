/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store (store.h): a template's versions.  Version 1 is the disk the admin gave to
 * `template add` (not vdi's: never deleted); each publish makes the next one, a base volume
 * vdi owns.  A version is "scheduled" (publish_at says when), "making" (its base is being
 * copied), "ready", or "deleted" (its base is gone).  templates.version and templates.disk_path
 * are the current version's.  At most one version of a template is scheduled or making.
 * Names are borrowed; listings return a new JSON array and their number of rows.
 */

#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct broker_store;

/*
 * The versions of template name (NULL: of every template), by template name and newest first:
 * template, version, note, created, desktops (how many desktops of the template's pools run
 * that version), current (1/0), state, owned (1: a base vdi made), at (a scheduled one's
 * time, else null), disk (null once deleted), source, host, from_maintenance (1: published
 * from a maintenance desktop's overlay, 0: from a disk the admin gave).
 */
int broker_store_template_versions(struct broker_store *s, const char *name, json_t **ret);

/* What a version is published from (all borrowed). */
struct broker_version_source {
	const char *path;         /* the disk: an absolute path, or a maintenance desktop's overlay */
	int64_t maintenance_id;   /* > 0: path is the overlay of this maintenance desktop (store-maintenance.h) */
	const char *note;         /* NULL: none */
	int64_t at;               /* > 0: scheduled for then (wall-clock seconds); 0: made now */
};

/*
 * Reserves template name's next version, "making" (src->at = 0) or "scheduled" for src->at,
 * published from src: 0 and its number in *ret_version; -ENOENT (no such template), -EBUSY (a
 * version is making or scheduled already), -errno; err says why.
 */
int broker_store_version_reserve(struct broker_store *s, const char *name, const struct broker_version_source *src,
				 int64_t now, int64_t *ret_version, struct vdi_error *err);

/* A scheduled version whose time came is making now: 1, or 0 when it was not scheduled (cancelled). */
int broker_store_version_begin(struct broker_store *s, const char *name, int64_t version);

/*
 * The base of a making version is made, at disk_path on host: it is ready and current, in one
 * transaction (0, or -ENOENT when the reservation is gone, -errno).
 */
int broker_store_version_made(struct broker_store *s, const char *name, int64_t version, const char *disk_path,
			      const char *host, int64_t now);

/*
 * The same for a version published from maintenance desktop maintenance_id ("publishing"), which
 * goes "deleting" in the same transaction (its work is that version now): 0, or -ENOENT when the
 * reservation or the maintenance desktop's state is gone, -errno.
 */
int broker_store_version_made_from_maintenance(struct broker_store *s, const char *name, int64_t version,
					       const char *disk_path, const char *host, int64_t maintenance_id,
					       int64_t now);

/* A making version goes back to scheduled, due at (its publish could not start): rows changed, or -errno. */
int broker_store_version_postpone(struct broker_store *s, const char *name, int64_t version, int64_t at);

/* Takes a making or scheduled version back (it failed, or was cancelled): rows changed, or -errno. */
int broker_store_version_drop(struct broker_store *s, const char *name, int64_t version);

/*
 * The scheduled version of template name: 1 and its number (and in *ret_maintenance_id, NULL
 * allowed, the maintenance desktop it is published from, or 0), 0 when none, -errno.
 */
int broker_store_version_scheduled(struct broker_store *s, const char *name, int64_t *ret_version,
				   int64_t *ret_maintenance_id);

/* Scheduled versions due at now: template, version, source, note, maintenance_id (0: from a disk). */
int broker_store_versions_due(struct broker_store *s, int64_t now, json_t **ret);

/* Versions left "making" (by a broker that stopped meanwhile): template, version. */
int broker_store_versions_making(struct broker_store *s, json_t **ret);

/*
 * Makes version to (0: the newest ready one below the current) of template name current:
 * 0 and the version in *ret_version; -ENOENT (no such template), -ESRCH (no such version, or
 * none below), -ENODATA (deleted), -EALREADY (current already), -EBUSY (a publish is making);
 * err says which.
 */
int broker_store_version_rollback(struct broker_store *s, const char *name, int64_t to, int64_t *ret_version,
				  struct vdi_error *err);

/*
 * vdi's bases nothing needs any more: ready, owned, not current, not among the keep newest
 * ready versions of their template (the current one counts), no desktop of the template's
 * pools on that version, and no maintenance desktop on it (store-maintenance.h).  Rows: template, version, disk, host.
 */
int broker_store_versions_unused(struct broker_store *s, int64_t keep, json_t **ret);

/* The base of a version is gone: state deleted, disk null (rows changed, or -errno). */
int broker_store_version_deleted(struct broker_store *s, const char *name, int64_t version);

/* Every version whose base is or will be on disk (making or ready): template, version, disk. */
int broker_store_versions_live(struct broker_store *s, json_t **ret);

/* The bases vdi made for template name (before it is removed): disk, host. */
int broker_store_template_bases(struct broker_store *s, const char *name, json_t **ret);
