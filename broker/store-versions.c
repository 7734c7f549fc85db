/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-versions.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "store-private.h"
#include "store.h"

static int64_t row_int(json_t *row, const char *key)
{
	return json_integer_value(json_object_get(row, key));
}

static const char *row_str(json_t *row, const char *key)
{
	const char *v = json_string_value(json_object_get(row, key));

	return v ? v : "";
}

/* SQL: how many desktops of template t's pools run version v. */
#define DESKTOPS_ON(t, v)                                                                                   \
	"(SELECT count(*) FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.template_id = " t           \
	" AND d.template_version = " v ")"

int broker_store_template_versions(struct broker_store *s, const char *name, json_t **ret)
{
	/* A desktop not made yet (template_version NULL) runs no version; one being deleted still uses its base. */
	return broker_store_query(s, ret,
				  "SELECT t.name AS template, v.version, v.note, v.created,"
				  " " DESKTOPS_ON("t.id", "v.version") " AS desktops,"
				  " v.version = t.version AS current, v.state, v.owned, v.publish_at AS at,"
				  " v.disk_path AS disk, v.source, v.host, v.maintenance_id IS NOT NULL AS from_maintenance"
				  " FROM template_versions v JOIN templates t ON t.id = v.template_id"
				  " WHERE ?1 IS NULL OR t.name = ?1 ORDER BY t.name, v.version DESC",
				  "s", name);
}

/* Inside the transaction: template name's id (> 0), or -ENOENT / -errno. */
static int64_t template_id(struct broker_store *s, const char *name)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows, "SELECT id FROM templates WHERE name = ?1", "s", name);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	return row_int(json_array_get(rows, 0), "id");
}

static int reserve_locked(struct broker_store *s, const char *name, const struct broker_version_source *src,
			  int64_t now, int64_t *ret_version, struct vdi_error *err)
{
	_cleanup_json_ json_t *busy = NULL, *next = NULL;
	int64_t id = template_id(s, name);
	int r;

	if (id < 0)
		return id == -ENOENT ? vdi_error_set(err, -ENOENT, "no such template \"%s\"", name)
				     : broker_store_fail_errno(s, (int)id, err, "cannot read the template");
	r = broker_store_query(s, &busy,
			       "SELECT version, state FROM template_versions"
			       " WHERE template_id = ?1 AND state IN ('making', 'scheduled')",
			       "i", id);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the template's versions");
	if (r > 0)
		return vdi_error_set(err, -EBUSY, "version %lld of template \"%s\" is %s already",
				     (long long)row_int(json_array_get(busy, 0), "version"), name,
				     row_str(json_array_get(busy, 0), "state"));
	/* Numbers are never used twice: a deleted version keeps its row. */
	r = broker_store_query(s, &next, "SELECT IFNULL(max(version), 0) + 1 AS v FROM template_versions"
					 " WHERE template_id = ?1", "i", id);
	if (r <= 0)
		return broker_store_fail_errno(s, r < 0 ? r : -EIO, err, "cannot read the template's versions");
	*ret_version = row_int(json_array_get(next, 0), "v");
	r = broker_store_exec(s,
			      "INSERT INTO template_versions (template_id, version, note, created, state, owned, source,"
			      " publish_at, maintenance_id) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, CASE WHEN ?7 > 0 THEN ?7 END,"
			      " CASE WHEN ?8 > 0 THEN ?8 END)",
			      "iisissii", id, *ret_version, src->note, now, src->at > 0 ? "scheduled" : "making", src->path,
			      src->at, src->maintenance_id);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot reserve the next version") : 0;
}

int broker_store_version_reserve(struct broker_store *s, const char *name, const struct broker_version_source *src,
				 int64_t now, int64_t *ret_version, struct vdi_error *err)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot reserve the next version");
	r = reserve_locked(s, name, src, now, ret_version, err);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	r = broker_store_commit(s);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot reserve the next version") : 0;
}

int broker_store_version_begin(struct broker_store *s, const char *name, int64_t version)
{
	return broker_store_exec(s,
				 "UPDATE template_versions SET state = 'making', publish_at = NULL WHERE version = ?2"
				 " AND state = 'scheduled' AND template_id = (SELECT id FROM templates WHERE name = ?1)",
				 "si", name, version);
}

/* Inside the transaction: the making version is ready and current (> 0), or -ENOENT / -errno. */
static int made_locked(struct broker_store *s, const char *name, int64_t version, const char *disk_path,
		       const char *host, int64_t now)
{
	int r;

	r = broker_store_exec(s,
			      "UPDATE template_versions SET state = 'ready', disk_path = ?3, host = ?4, created = ?5"
			      " WHERE version = ?2 AND state = 'making'"
			      " AND template_id = (SELECT id FROM templates WHERE name = ?1)",
			      "sissi", name, version, disk_path, host, now);
	if (r == 0)
		r = -ENOENT;
	if (r > 0)
		r = broker_store_exec(s, "UPDATE templates SET version = ?2, disk_path = ?3 WHERE name = ?1", "sis", name,
				      version, disk_path);
	return r;
}

int broker_store_version_made(struct broker_store *s, const char *name, int64_t version, const char *disk_path,
			      const char *host, int64_t now)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return r;
	r = made_locked(s, name, version, disk_path, host, now);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	return broker_store_commit(s);
}

int broker_store_version_made_from_maintenance(struct broker_store *s, const char *name, int64_t version,
					       const char *disk_path, const char *host, int64_t maintenance_id,
					       int64_t now)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return r;
	r = made_locked(s, name, version, disk_path, host, now);
	if (r >= 0)
		r = broker_store_exec(s,
				      "UPDATE maintenance SET state = 'deleting', message = NULL, updated = ?2"
				      " WHERE id = ?1 AND state = 'publishing'",
				      "ii", maintenance_id, now);
	if (r == 0)
		r = -ENOENT;
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	return broker_store_commit(s);
}

int broker_store_version_postpone(struct broker_store *s, const char *name, int64_t version, int64_t at)
{
	return broker_store_exec(s,
				 "UPDATE template_versions SET state = 'scheduled', publish_at = ?3 WHERE version = ?2"
				 " AND state = 'making' AND template_id = (SELECT id FROM templates WHERE name = ?1)",
				 "sii", name, version, at);
}

int broker_store_version_drop(struct broker_store *s, const char *name, int64_t version)
{
	return broker_store_exec(s,
				 "DELETE FROM template_versions WHERE version = ?2 AND state IN ('making', 'scheduled')"
				 " AND template_id = (SELECT id FROM templates WHERE name = ?1)",
				 "si", name, version);
}

int broker_store_version_scheduled(struct broker_store *s, const char *name, int64_t *ret_version,
				   int64_t *ret_maintenance_id)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows,
				   "SELECT v.version, IFNULL(v.maintenance_id, 0) AS maintenance_id FROM template_versions v"
				   " JOIN templates t ON t.id = v.template_id WHERE t.name = ?1 AND v.state = 'scheduled'",
				   "s", name);

	if (r > 0) {
		*ret_version = row_int(json_array_get(rows, 0), "version");
		if (ret_maintenance_id)
			*ret_maintenance_id = row_int(json_array_get(rows, 0), "maintenance_id");
	}
	return r < 0 ? r : r > 0;
}

int broker_store_versions_due(struct broker_store *s, int64_t now, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT t.name AS template, v.version, v.source, v.note,"
				  " IFNULL(v.maintenance_id, 0) AS maintenance_id FROM template_versions v"
				  " JOIN templates t ON t.id = v.template_id WHERE v.state = 'scheduled' AND v.publish_at <= ?1"
				  " ORDER BY v.publish_at",
				  "i", now);
}

int broker_store_versions_making(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT t.name AS template, v.version FROM template_versions v"
				  " JOIN templates t ON t.id = v.template_id WHERE v.state = 'making'",
				  NULL);
}

/* Inside the transaction: which version rollback makes current, or why none. */
static int rollback_target(struct broker_store *s, int64_t id, const char *name, int64_t to, int64_t *ret,
			   struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	int r;

	r = broker_store_query(s, &rows,
			       "SELECT v.version, v.state, v.version = t.version AS current,"
			       " EXISTS (SELECT 1 FROM template_versions WHERE template_id = ?1 AND state = 'making') AS making"
			       " FROM template_versions v JOIN templates t ON t.id = v.template_id WHERE v.template_id = ?1"
			       " AND (CASE WHEN ?2 > 0 THEN v.version = ?2 ELSE v.state = 'ready' AND v.version < t.version END)"
			       " ORDER BY v.version DESC LIMIT 1",
			       "ii", id, to);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the template's versions");
	if (r == 0)
		return to > 0 ? vdi_error_set(err, -ESRCH, "template \"%s\" has no version %lld", name, (long long)to)
			      : vdi_error_set(err, -ESRCH, "template \"%s\" has no earlier version to roll back to", name);
	row = json_array_get(rows, 0);
	if (row_int(row, "making"))
		return vdi_error_set(err, -EBUSY, "a version of template \"%s\" is being published; wait for it", name);
	if (row_int(row, "current"))
		return vdi_error_set(err, -EALREADY, "version %lld is the current version of template \"%s\" already",
				     (long long)row_int(row, "version"), name);
	if (!streq(row_str(row, "state"), "ready"))
		return vdi_error_set(err, streq(row_str(row, "state"), "deleted") ? -ENODATA : -ESRCH,
				     "version %lld of template \"%s\" is %s", (long long)row_int(row, "version"), name,
				     row_str(row, "state"));
	*ret = row_int(row, "version");
	return 0;
}

static int rollback_locked(struct broker_store *s, const char *name, int64_t to, int64_t *ret_version,
			   struct vdi_error *err)
{
	int64_t id = template_id(s, name);
	int r;

	if (id < 0)
		return id == -ENOENT ? vdi_error_set(err, -ENOENT, "no such template \"%s\"", name)
				     : broker_store_fail_errno(s, (int)id, err, "cannot read the template");
	r = rollback_target(s, id, name, to, ret_version, err);
	if (r < 0)
		return r;
	r = broker_store_exec(s,
			      "UPDATE templates SET version = ?2, disk_path = (SELECT disk_path FROM template_versions"
			      " WHERE template_id = ?1 AND version = ?2) WHERE id = ?1",
			      "ii", id, *ret_version);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot roll back") : 0;
}

int broker_store_version_rollback(struct broker_store *s, const char *name, int64_t to, int64_t *ret_version,
				  struct vdi_error *err)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot roll back");
	r = rollback_locked(s, name, to, ret_version, err);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	r = broker_store_commit(s);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot roll back") : 0;
}

int broker_store_versions_unused(struct broker_store *s, int64_t keep, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT t.name AS template, v.version, v.disk_path AS disk, v.host"
				  " FROM template_versions v JOIN templates t ON t.id = v.template_id"
				  " WHERE v.state = 'ready' AND v.owned = 1 AND v.version != t.version"
				  " AND " DESKTOPS_ON("t.id", "v.version") " = 0"
				  " AND NOT EXISTS (SELECT 1 FROM maintenance m WHERE m.template_id = t.id AND m.version = v.version)"
				  " AND v.version NOT IN (SELECT k.version FROM template_versions k WHERE k.template_id = t.id"
				  "  AND k.state = 'ready' AND k.version != t.version ORDER BY k.version DESC LIMIT max(?1 - 1, 0))"
				  " ORDER BY t.name, v.version",
				  "i", keep);
}

int broker_store_version_deleted(struct broker_store *s, const char *name, int64_t version)
{
	return broker_store_exec(s,
				 "UPDATE template_versions SET state = 'deleted', disk_path = NULL WHERE version = ?2"
				 " AND template_id = (SELECT id FROM templates WHERE name = ?1)",
				 "si", name, version);
}

int broker_store_versions_live(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT t.name AS template, v.version, v.disk_path AS disk FROM template_versions v"
				  " JOIN templates t ON t.id = v.template_id WHERE v.state IN ('making', 'ready')",
				  NULL);
}

int broker_store_template_bases(struct broker_store *s, const char *name, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT v.disk_path AS disk, v.host FROM template_versions v"
				  " JOIN templates t ON t.id = v.template_id"
				  " WHERE t.name = ?1 AND v.owned = 1 AND v.state = 'ready'",
				  "s", name);
}
