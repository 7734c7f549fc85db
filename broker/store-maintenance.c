/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-maintenance.h"

#include <errno.h>
#include <string.h>

#include "json.h"
#include "store-private.h"
#include "store.h"

#define COLUMNS                                                                                                 \
	"m.id, t.name AS template, m.version, m.host, m.state, m.disk_path AS disk, m.started_by, m.created,"  \
	" m.updated, m.message, m.version = t.version AS current"

static int add_locked(struct broker_store *s, const char *name, int64_t id, const char *host, const char *actor,
		      int64_t now, json_t **ret, struct vdi_error *err)
{
	_cleanup_json_ json_t *tmpl = NULL, *busy = NULL;
	json_t *t;
	int r;

	r = broker_store_query(s, &tmpl, "SELECT id, version, disk_path, xml FROM templates WHERE name = ?1", "s", name);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the template");
	if (r == 0)
		return vdi_error_set(err, -ENOENT, "no such template \"%s\"", name);
	r = broker_store_query(s, &busy,
			       "SELECT m.state FROM maintenance m JOIN templates t ON t.id = m.template_id WHERE t.name = ?1",
			       "s", name);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the template's maintenance desktop");
	if (r > 0)
		return vdi_error_set(err, -EEXIST, "template \"%s\" has a maintenance desktop already (%s)", name,
				     json_string_value(json_object_get(json_array_get(busy, 0), "state")));
	t = json_array_get(tmpl, 0);
	r = broker_store_exec(s,
			      "INSERT INTO maintenance (id, template_id, version, host, state, started_by, created, updated)"
			      " VALUES (?1, ?2, ?3, ?4, 'provisioning', ?5, ?6, ?6)",
			      "iiissi", id, json_integer_value(json_object_get(t, "id")),
			      json_integer_value(json_object_get(t, "version")), host, actor, now);
	if (r == -EEXIST)
		return vdi_error_set(err, -EADDRINUSE, "maintenance desktop id %lld is taken", (long long)id);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot add the maintenance desktop");
	*ret = json_pack("{s:I, s:s, s:O, s:s?, s:O, s:O}", "id", (json_int_t)id, "template", name, "version",
			 json_object_get(t, "version"), "host", host, "disk_path", json_object_get(t, "disk_path"), "xml",
			 json_object_get(t, "xml"));
	return *ret ? 0 : -ENOMEM;
}

int broker_store_maintenance_add(struct broker_store *s, const char *name, int64_t id, const char *host,
				 const char *actor, int64_t now, json_t **ret, struct vdi_error *err)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot add the maintenance desktop");
	r = add_locked(s, name, id, host, actor, now, ret, err);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	r = broker_store_commit(s);
	if (r < 0) {
		json_decref(*ret);
		*ret = NULL;
		return broker_store_fail_errno(s, r, err, "cannot add the maintenance desktop");
	}
	return 0;
}

int broker_store_maintenance_list(struct broker_store *s, const char *name, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT " COLUMNS " FROM maintenance m JOIN templates t ON t.id = m.template_id"
				  " WHERE ?1 IS NULL OR t.name = ?1 ORDER BY t.name",
				  "s", name);
}

int broker_store_maintenance_get(struct broker_store *s, int64_t id, json_t **ret)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows,
				   "SELECT " COLUMNS " FROM maintenance m JOIN templates t ON t.id = m.template_id WHERE m.id = ?1",
				   "i", id);

	if (r > 0)
		*ret = json_incref(json_array_get(rows, 0));
	return r < 0 ? r : r > 0;
}

int broker_store_maintenance_set_state(struct broker_store *s, int64_t id, const char *from, const char *to,
				       const char *disk, const char *message, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE maintenance SET state = ?3, disk_path = coalesce(?4, disk_path), message = ?5,"
				 " updated = ?6 WHERE id = ?1 AND (?2 IS NULL OR state = ?2)",
				 "issssi", id, from, to, disk, message, now);
}

int broker_store_maintenance_remove(struct broker_store *s, int64_t id)
{
	return broker_store_exec(s, "DELETE FROM maintenance WHERE id = ?1", "i", id);
}

int broker_store_maintenance_recover(struct broker_store *s, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE maintenance SET state = 'stopped', updated = ?1,"
				 " message = 'the broker stopped while it was being published' WHERE state = 'publishing'",
				 "i", now);
}
