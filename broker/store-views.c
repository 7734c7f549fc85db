/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-views.h"

#include "store-private.h"
#include "store.h"

/* SQL for the state of desktop row d as users and admins see it (store-views.h). */
#define BROKER_SQL_SHOWN_STATE "(CASE WHEN d.host IN (SELECT uri FROM hosts WHERE up = 0) THEN 'unavailable' ELSE d.state END)"

int broker_store_user_desktops(struct broker_store *s, const char *user, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, p.name AS pool, " BROKER_SQL_SHOWN_STATE " AS state,"
				  " CASE p.persistent WHEN 1 THEN 'persistent' ELSE 'pooled' END AS type, d.assigned_at"
				  " FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE d.owner = ?1 ORDER BY d.id",
				  "s", user);
}

int broker_store_user_desktop(struct broker_store *s, int64_t id, const char *user, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, " BROKER_SQL_SHOWN_STATE " AS state, d.host, p.name AS pool, p.persistent,"
				  " p.usb_redirect, p.second_viewer FROM desktops d"
				  " JOIN pools p ON p.id = d.pool_id WHERE d.id = ?1 AND d.owner = ?2",
				  "is", id, user);
}

int broker_store_desktop_lock(struct broker_store *s, int64_t id, const char *pool, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.host, coalesce(p.lock_on_disconnect, p.persistent) AS lock_on_disconnect,"
				  " t.lock_command FROM desktops d JOIN pools p ON p.id = d.pool_id"
				  " JOIN templates t ON t.id = p.template_id WHERE d.id = ?1 AND p.name = ?2",
				  "is", id, pool);
}

int broker_store_desktop_state(struct broker_store *s, int64_t id, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT state FROM desktops WHERE id = ?1", "i", id);
}

int broker_store_admin_desktops(struct broker_store *s, const char *pool, const char *user, const char *state,
				json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, p.name AS pool, d.host, " BROKER_SQL_SHOWN_STATE " AS state, d.owner,"
				  " 'vdi-' || p.name || '-' || d.id AS domain, d.assigned_at, d.last_disconnect,"
				  " d.updated, d.message, d.template_version, d.recompose"
				  " FROM desktops d JOIN pools p ON p.id = d.pool_id"
				  " WHERE (?1 IS NULL OR p.name = ?1) AND (?2 IS NULL OR d.owner = ?2)"
				  " AND (?3 IS NULL OR " BROKER_SQL_SHOWN_STATE " = ?3) ORDER BY d.id",
				  "sss", pool, user, state);
}

int broker_store_admin_sessions(struct broker_store *s, int64_t now, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT lower(hex(substr(id_hash, 1, 8))) AS id, user, admin, client, created, expires"
				  " FROM sessions WHERE expires > ?1 ORDER BY created",
				  "i", now);
}

int broker_store_admin_audit(struct broker_store *s, const struct broker_audit_filter *f, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT id, time, actor, action, object, detail FROM audit"
				  " WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)"
				  " AND (?3 IS NULL OR object = ?3) AND time >= ?4 AND time <= ?5"
				  " ORDER BY id DESC LIMIT ?6",
				  "sssiii", f->actor, f->action, f->object, f->since, f->until, f->limit);
}

int broker_store_desktop_counts(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT p.name AS pool, d.state, count(*) AS n FROM desktops d JOIN pools p ON p.id = d.pool_id"
				  " GROUP BY p.name, d.state ORDER BY p.name, d.state",
				  NULL);
}
