/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-catalog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "json.h"
#include "store-private.h"
#include "store.h"
#include "vmpool.h"

/* ---- templates ------------------------------------------------------------------ */

/* The INSERT of broker_store_add_template(), inside its transaction. */
static int insert_template(struct broker_store *s, const char *name, const char *disk_path, const char *xml,
			   int64_t now, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = broker_store_prepare(s, "INSERT INTO templates (name, disk_path, xml, created) VALUES (?1, ?2, ?3, ?4)", &st);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot add template");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, disk_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, xml, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vdi_error_set(err, -EEXIST, "template \"%s\" exists already", name);
	return broker_store_fail(s, rc, err, "cannot add template");
}

int broker_store_add_template(struct broker_store *s, const char *name, const char *disk_path, const char *xml,
			      int64_t now, struct vdi_error *err)
{
	int r;

	/* Only the length, on purpose: which names a template may have is vmpool's rule
	 * (pool_template_new(), stricter), which the API applies before this. */
	if (!name || !*name || strlen(name) > 64 || !disk_path || disk_path[0] != '/' || !xml)
		return vdi_error_set(err, -EINVAL,
				     "a template needs a name (1-64 characters), an absolute disk path and XML");
	r = broker_store_begin(s);
	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot add template");
	r = insert_template(s, name, disk_path, xml, now, err);
	/* Its first version, on the same disk: the template and version 1 come together or not at all. */
	if (r >= 0) {
		r = broker_store_exec(s,
				      "INSERT INTO template_versions (template_id, version, disk_path, created)"
				      " SELECT id, version, disk_path, created FROM templates WHERE id = ?1",
				      "i", broker_store_last_id(s));
		if (r < 0)
			r = broker_store_fail_errno(s, r, err, "cannot add the template's first version");
	}
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	r = broker_store_commit(s);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot add template") : 0;
}

int broker_store_set_template_size(struct broker_store *s, const char *name, int64_t memory_mib, int64_t vcpus)
{
	return broker_store_exec(s, "UPDATE templates SET memory_mib = ?2, vcpus = ?3 WHERE name = ?1", "sii", name,
				 memory_mib, vcpus);
}

int broker_store_set_template_heads(struct broker_store *s, const char *name, int64_t heads)
{
	return broker_store_exec(s, "UPDATE templates SET heads = ?2 WHERE name = ?1", "si", name, heads);
}

int broker_store_set_template_network(struct broker_store *s, const char *name, const char *network)
{
	return broker_store_exec(s, "UPDATE templates SET network = ?2 WHERE name = ?1", "ss", name,
				 network && *network ? network : NULL);
}

int broker_store_set_template_lock_command(struct broker_store *s, const char *name, const char *lock_command)
{
	return broker_store_exec(s, "UPDATE templates SET lock_command = ?2 WHERE name = ?1", "ss", name,
				 lock_command && *lock_command ? lock_command : NULL);
}

int broker_store_set_template_hardware(struct broker_store *s, const char *name, const char *os, const char *firmware,
				       bool secure_boot, bool tpm)
{
	return broker_store_exec(s, "UPDATE templates SET os = ?2, firmware = ?3, secure_boot = ?4, tpm = ?5 WHERE name = ?1",
				 "sssii", name, os && *os ? os : NULL, firmware, (int64_t)secure_boot, (int64_t)tpm);
}

int broker_store_template_network(struct broker_store *s, const char *name, char *buf, size_t len)
{
	_cleanup_json_ json_t *rows = NULL;
	const char *v;
	int r = broker_store_query(s, &rows, "SELECT network FROM templates WHERE name = ?1", "s", name);

	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	v = json_string_value(json_object_get(json_array_get(rows, 0), "network"));
	snprintf(buf, len, "%s", v ? v : "");
	return v && *v;
}

int broker_store_templates(struct broker_store *s, const char *name, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT t.name, t.disk_path AS disk, t.memory_mib, t.vcpus, t.version, t.created, t.network,"
				  " t.os, t.firmware, t.secure_boot, t.tpm, t.heads, t.lock_command,"
				  " (SELECT count(*) FROM pools WHERE template_id = t.id) AS pools FROM templates t"
				  " WHERE ?1 IS NULL OR t.name = ?1 ORDER BY t.name",
				  "s", name);
}

int broker_store_templates_own_xml(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT name, xml, firmware, secure_boot, tpm FROM templates WHERE os IS NULL ORDER BY name",
				  NULL);
}

int broker_store_template_exists(struct broker_store *s, const char *name)
{
	_cleanup_json_ json_t *rows = NULL;

	return broker_store_query(s, &rows, "SELECT 1 FROM templates WHERE name = ?1", "s", name);
}

int broker_store_template_pools(struct broker_store *s, const char *name)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = broker_store_prepare(s, "SELECT (SELECT count(*) FROM pools WHERE template_id = t.id) FROM templates t"
				    " WHERE t.name = ?1", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return sqlite3_column_int(st, 0);
	return rc == SQLITE_DONE ? -ENOENT : broker_store_errno(rc);
}

int broker_store_remove_template(struct broker_store *s, const char *name)
{
	return broker_store_exec(s, "DELETE FROM templates WHERE name = ?1", "s", name);
}

/* ---- pools --------------------------------------------------------------------------- */

/* Whether a pool (persistent or not) may have data disks of mib MiB while its desktops' are cur MiB. */
static int data_disk_ok(bool persistent, int64_t mib, int64_t cur, struct vdi_error *err)
{
	if (mib < 0 || mib > BROKER_DATA_DISK_MIB_MAX)
		return vdi_error_set(err, -EINVAL, "a data disk is 0 (none) to %lld MiB", (long long)BROKER_DATA_DISK_MIB_MAX);
	if (mib > 0 && !persistent)
		return vdi_error_set(err, -EINVAL, "a data disk needs a persistent pool");
	if (mib < cur)
		return vdi_error_set(err, -EINVAL, "data disks cannot shrink or go: this pool's are %lld MiB",
				     (long long)cur);
	return 0;
}

int broker_store_pool_check_data_disk(struct broker_store *s, const char *name, int64_t mib, struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	int r = broker_store_query(s, &rows, "SELECT persistent, data_disk_mib FROM pools WHERE name = ?1", "s", name);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the pool");
	if (r == 0)
		return vdi_error_set(err, -ENOENT, "no such pool");
	row = json_array_get(rows, 0);
	return data_disk_ok(json_integer_value(json_object_get(row, "persistent")), mib,
			    json_integer_value(json_object_get(row, "data_disk_mib")), err);
}

/* The network settings of a pool of template (NULL: none) go together with the template's network; a template
 * that is not there is the INSERT's to say. */
static int pool_net_ok(struct broker_store *s, const char *template, const char *network, enum broker_isolate isolate,
		       int64_t bandwidth_kbps, struct vdi_error *err)
{
	char tnet[BROKER_NETWORK_VALUE_MAX] = "";
	int r = template ? broker_store_template_network(s, template, tnet, sizeof(tnet)) : -ENOENT;

	if (r < 0 && r != -ENOENT)
		return broker_store_fail_errno(s, r, err, "cannot read the template");
	return broker_pool_net_check(network && *network ? network : tnet, isolate, bandwidth_kbps, err);
}

int broker_store_add_pool(struct broker_store *s, const struct broker_pool_def *d, int64_t now, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	/* vmpool's rule: the name is part of the desktops' domain names. */
	if (!pool_name_is_valid(d->name))
		return vdi_error_set(err, -EINVAL, "pool name must be 1-32 characters of [A-Za-z0-9_]");
	/* "vdi-_maintenance-<id>" names a maintenance desktop (store-maintenance.h): no pool may look like it. */
	if (d->name[0] == '_')
		return vdi_error_set(err, -EINVAL, "pool names beginning with '_' are reserved for vdi's own desktops");
	if (d->size < 0 || d->prestart < 0 || d->prestart > d->size || d->max_per_user < 1 || d->idle_timeout < 0 ||
	    d->usb_redirect < 0 || d->usb_redirect > POOL_USB_REDIRECT_MAX || d->lock_on_disconnect < BROKER_LOCK_DEFAULT ||
	    d->lock_on_disconnect > 1)
		return vdi_error_set(err, -EINVAL,
				     "pool \"%s\": size >= 0, 0 <= prestart <= size, max_per_user >= 1, idle_timeout >= 0,"
				     " 0 <= usb_redirect <= %d, lock_on_disconnect default, 0 or 1", d->name,
				     POOL_USB_REDIRECT_MAX);
	r = data_disk_ok(d->persistent, d->data_disk_mib, 0, err);
	if (r < 0)
		return r;
	r = pool_net_ok(s, d->template_name, d->network, d->isolate, d->bandwidth_kbps, err);
	if (r < 0)
		return r;
	r = broker_store_prepare(s,
				 "INSERT INTO pools (name, template_id, persistent, size, prestart, max_per_user,"
				 " idle_timeout, groups, created, data_disk_mib, network, isolate_desktops, bandwidth_kbps, usb_redirect,"
				 " lock_on_disconnect, second_viewer)"
				 " SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16 FROM templates"
				 " WHERE name = ?2",
				 &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->template_name ? d->template_name : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, d->persistent);
	sqlite3_bind_int64(st, 4, d->size);
	sqlite3_bind_int64(st, 5, d->prestart);
	sqlite3_bind_int64(st, 6, d->max_per_user);
	sqlite3_bind_int64(st, 7, d->idle_timeout);
	sqlite3_bind_text(st, 8, d->groups ? d->groups : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, now);
	sqlite3_bind_int64(st, 10, d->data_disk_mib);
	if (d->network && *d->network)
		sqlite3_bind_text(st, 11, d->network, -1, SQLITE_STATIC);
	if (d->isolate != BROKER_ISOLATE_DEFAULT)
		sqlite3_bind_int(st, 12, d->isolate == BROKER_ISOLATE_YES);
	sqlite3_bind_int64(st, 13, d->bandwidth_kbps);
	sqlite3_bind_int64(st, 14, d->usb_redirect);
	if (d->lock_on_disconnect != BROKER_LOCK_DEFAULT)
		sqlite3_bind_int(st, 15, d->lock_on_disconnect);
	sqlite3_bind_text(st, 16, d->refuse_second_viewer ? "refuse" : "takeover", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vdi_error_set(err, -EEXIST, "pool \"%s\" exists already", d->name);
	if (rc != SQLITE_DONE)
		return broker_store_fail(s, rc, err, "cannot add pool");
	if (sqlite3_changes(s->db) == 0)
		return vdi_error_set(err, -ENOENT, "no template \"%s\"", d->template_name ? d->template_name : "");
	return 0;
}

int broker_store_pool_limits(struct broker_store *s, const char *name, struct broker_pool_limits *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = broker_store_prepare(s, "SELECT p.size, p.prestart, p.max_per_user, p.idle_timeout, p.data_disk_mib,"
				    " p.network, p.isolate_desktops, p.bandwidth_kbps, p.persistent, t.network, p.usb_redirect,"
				    " p.lock_on_disconnect, p.second_viewer FROM pools p JOIN templates t ON t.id = p.template_id WHERE p.name = ?1", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : broker_store_errno(rc);
	*ret = (struct broker_pool_limits){
		.size = sqlite3_column_int64(st, 0),
		.prestart = sqlite3_column_int64(st, 1),
		.max_per_user = sqlite3_column_int64(st, 2),
		.idle_timeout = sqlite3_column_int64(st, 3),
		.data_disk_mib = sqlite3_column_int64(st, 4),
		.isolate = sqlite3_column_type(st, 6) == SQLITE_NULL ? BROKER_ISOLATE_DEFAULT
			   : sqlite3_column_int(st, 6)		     ? BROKER_ISOLATE_YES
								     : BROKER_ISOLATE_NO,
		.bandwidth_kbps = sqlite3_column_int64(st, 7),
		.persistent = sqlite3_column_int(st, 8) != 0,
		.usb_redirect = sqlite3_column_int64(st, 10),
		.lock_on_disconnect = sqlite3_column_type(st, 11) == SQLITE_NULL ? BROKER_LOCK_DEFAULT
										: sqlite3_column_int(st, 11) != 0,
		.refuse_second_viewer = streq((const char *)sqlite3_column_text(st, 12) ?: "", "refuse"),
	};
	snprintf(ret->network, sizeof(ret->network), "%s", (const char *)sqlite3_column_text(st, 5) ?: "");
	snprintf(ret->template_network, sizeof(ret->template_network), "%s",
		 (const char *)sqlite3_column_text(st, 9) ?: "");
	return 0;
}

int broker_store_update_pool(struct broker_store *s, const char *name, const struct broker_pool_limits *l,
			     const char *groups)
{
	return broker_store_exec(s,
				 "UPDATE pools SET size = ?2, prestart = ?3, max_per_user = ?4, idle_timeout = ?5,"
				 " groups = coalesce(?6, groups), data_disk_mib = ?7, network = nullif(?8, ''),"
				 " isolate_desktops = CASE ?9 WHEN 1 THEN 0 WHEN 2 THEN 1 ELSE NULL END, bandwidth_kbps = ?10,"
				 " usb_redirect = ?11, lock_on_disconnect = CASE ?12 WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE NULL END,"
				 " second_viewer = ?13 WHERE name = ?1",
				 "siiiisisiiiis", name, l->size, l->prestart, l->max_per_user, l->idle_timeout, groups,
				 l->data_disk_mib, l->network, (int64_t)l->isolate, l->bandwidth_kbps, l->usb_redirect,
				 (int64_t)l->lock_on_disconnect, l->refuse_second_viewer ? "refuse" : "takeover");
}

int broker_store_pool_exists(struct broker_store *s, const char *name)
{
	_cleanup_json_ json_t *rows = NULL;

	return broker_store_query(s, &rows, "SELECT id FROM pools WHERE name = ?1", "s", name);
}

int broker_store_pools(struct broker_store *s, const char *name, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT p.id, p.name, t.name AS template,"
				  " CASE p.persistent WHEN 1 THEN 'persistent' ELSE 'pooled' END AS type, p.size, p.prestart,"
				  " p.max_per_user, p.idle_timeout, p.groups, p.draining, p.created, p.data_disk_mib,"
				  " coalesce(p.network, t.network) AS network, p.network IS NULL AS network_inherited,"
				  " p.isolate_desktops, p.persistent, p.bandwidth_kbps, p.usb_redirect,"
				  " coalesce(p.lock_on_disconnect, p.persistent) AS lock_on_disconnect, p.second_viewer"
				  " FROM pools p JOIN templates t ON t.id = p.template_id"
				  " WHERE ?1 IS NULL OR p.name = ?1 ORDER BY p.name",
				  "s", name);
}

int broker_store_pool_desktop_counts(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT pool_id, state, count(*) AS n FROM desktops GROUP BY pool_id, state",
				  NULL);
}

int broker_store_user_pools(struct broker_store *s, const char *user, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT p.name, CASE p.persistent WHEN 1 THEN 'persistent' ELSE 'pooled' END AS type,"
				  " p.size, p.groups,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner IS NULL"
				  "  AND state IN ('free', 'stopped', 'starting', 'provisioning')) AS spare,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND state != 'deleting') AS total,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner = ?1"
				  "  AND state NOT IN ('deleting', 'error')) AS mine"
				  " FROM pools p WHERE p.draining = 0 ORDER BY p.name",
				  "s", user);
}
