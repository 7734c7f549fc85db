/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-desktops.h"

#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "json.h"
#include "store-private.h"
#include "store.h"

/* ---- one desktop ------------------------------------------------------------------------ */

/* The first row of rows (a new reference to it) into *ret; r is the query's result. */
/* SQL: the network settings of desktop row d's pool p (template t), as broker_pool_nic_from_row() reads them. */
#define POOL_NET_COLUMNS "coalesce(p.network, t.network) AS network, p.isolate_desktops, p.bandwidth_kbps"

static int first_row(int r, json_t *rows, json_t **ret)
{
	*ret = r > 0 ? json_incref(json_array_get(rows, 0)) : NULL;
	return r < 0 ? r : r > 0;
}

int broker_store_desktop_get(struct broker_store *s, int64_t id, json_t **ret)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows,
				   "SELECT d.id, d.state, d.owner, d.host, d.paused_from, d.message, p.name AS pool, p.persistent,"
				   " (p.draining OR IFNULL(h.draining, 0)) AS draining,"
				   " t.name AS template, t.disk_path, t.xml, t.version, t.memory_mib, t.heads, p.data_disk_mib, p.usb_redirect,"
				   " d.template_version, d.recompose, " POOL_NET_COLUMNS
				   " FROM desktops d JOIN pools p ON p.id = d.pool_id JOIN templates t ON t.id = p.template_id"
				   " LEFT JOIN hosts h ON h.uri = d.host WHERE d.id = ?1",
				   "i", id);

	return first_row(r, rows, ret);
}

int broker_store_desktop_get_state(struct broker_store *s, int64_t id, char *buf, size_t n)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows, "SELECT state FROM desktops WHERE id = ?1", "i", id);

	if (r <= 0)
		return r;
	snprintf(buf, n, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "state")));
	return 1;
}

int broker_store_desktop_add_spare(struct broker_store *s, int64_t pool_id, const char *host, int64_t now,
				   int64_t *ret_id)
{
	int r = broker_store_exec(s, "INSERT INTO desktops (pool_id, host, state, updated) VALUES (?1, ?2, 'provisioning', ?3)",
				  "isi", pool_id, host, now);

	if (r > 0)
		*ret_id = broker_store_last_id(s);
	return r;
}

int broker_store_desktop_delete(struct broker_store *s, int64_t id)
{
	return broker_store_exec(s, "DELETE FROM desktops WHERE id = ?1", "i", id);
}

/* ---- its state changes ---------------------------------------------------------------------- */

int broker_store_desktop_mark_running(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = CASE WHEN owner IS NULL THEN 'free' ELSE 'assigned' END,"
				 " assigned_at = CASE WHEN owner IS NULL THEN NULL ELSE ?2 END, last_disconnect = NULL,"
				 " message = NULL, paused_from = NULL, updated = ?2 WHERE id = ?1",
				 "ii", id, now);
}

int broker_store_desktop_mark_error(struct broker_store *s, int64_t id, const char *msg, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL, updated = ?3 WHERE id = ?1",
				 "isi", id, msg, now);
}

int broker_store_desktop_mark_broken(struct broker_store *s, int64_t id, const char *msg)
{
	return broker_store_exec(s, "UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL WHERE id = ?1",
				 "is", id, msg);
}

int broker_store_desktop_set_message(struct broker_store *s, int64_t id, const char *msg, int64_t now)
{
	return broker_store_exec(s, "UPDATE desktops SET message = ?2, updated = ?3 WHERE id = ?1", "isi", id, msg, now);
}

int broker_store_desktop_force_state(struct broker_store *s, int64_t id, const char *state)
{
	return broker_store_exec(s, "UPDATE desktops SET state = ?2 WHERE id = ?1", "is", id, state);
}

int broker_store_desktop_made_fresh(struct broker_store *s, int64_t id, int64_t version, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'stopped', last_disconnect = NULL, message = NULL,"
				 " template_version = ?3, recompose = 0, updated = ?2 WHERE id = ?1",
				 "iii", id, now, version);
}

int broker_store_desktop_set_version(struct broker_store *s, int64_t id, int64_t version)
{
	return broker_store_exec(s, "UPDATE desktops SET template_version = ?2 WHERE id = ?1", "ii", id, version);
}

int broker_store_desktop_shut_down(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'stopped', last_disconnect = NULL, updated = ?2"
				 " WHERE id = ?1",
				 "ii", id, now);
}

int broker_store_desktop_stopped(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s, "UPDATE desktops SET state = 'stopped', updated = ?2 WHERE id = ?1", "ii", id, now);
}

int broker_store_desktop_deleting(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s, "UPDATE desktops SET state = 'deleting', updated = ?2 WHERE id = ?1", "ii", id, now);
}

int broker_store_desktop_starting(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s, "UPDATE desktops SET state = 'starting', updated = ?2 WHERE id = ?1 AND state = 'stopped'",
				 "ii", id, now);
}

int broker_store_desktop_spare_starting(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'starting', updated = ?2 WHERE id = ?1"
				 " AND state = 'stopped' AND owner IS NULL",
				 "ii", id, now);
}

int broker_store_desktop_give_back(struct broker_store *s, int64_t id, const char *state, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = ?2, owner = NULL, assigned_at = NULL, last_disconnect = NULL,"
				 " updated = ?3 WHERE id = ?1",
				 "isi", id, state, now);
}

int broker_store_desktop_reset(struct broker_store *s, int64_t id, bool keep_owner, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'resetting', owner = CASE WHEN ?2 THEN owner ELSE NULL END,"
				 " assigned_at = CASE WHEN ?2 THEN assigned_at ELSE NULL END, updated = ?3 WHERE id = ?1",
				 "iii", id, (int64_t)keep_owner, now);
}

int broker_store_desktop_spice(struct broker_store *s, int64_t id, const char *pool, bool connected, int64_t now)
{
	if (connected)
		return broker_store_exec(s,
					 "UPDATE desktops SET state = CASE state WHEN 'error' THEN 'error' ELSE 'connected' END,"
					 " paused_from = CASE state WHEN 'error' THEN 'connected' ELSE paused_from END, updated = ?2"
					 " WHERE id = ?1 AND (state IN ('assigned', 'disconnected') OR (state = 'error' AND"
					 " paused_from IN ('assigned', 'disconnected'))) AND pool_id = (SELECT id FROM pools WHERE name = ?3)",
					 "iis", id, now, pool);
	return broker_store_exec(s,
				 "UPDATE desktops SET state = CASE state WHEN 'error' THEN 'error' ELSE 'disconnected' END,"
				 " paused_from = CASE state WHEN 'error' THEN 'disconnected' ELSE paused_from END,"
				 " last_disconnect = ?2, updated = ?2 WHERE id = ?1 AND (state = 'connected' OR"
				 " (state = 'error' AND paused_from = 'connected')) AND pool_id = (SELECT id FROM pools WHERE name = ?3)",
				 "iis", id, now, pool);
}

/* ---- paused by the hypervisor ---------------------------------------------------------------- */

int broker_store_desktop_pause(struct broker_store *s, int64_t id, const char *state, const char *msg, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET paused_from = CASE WHEN state IN ('free', 'assigned', 'connected', 'disconnected')"
				 " THEN state WHEN owner IS NULL THEN 'free' ELSE 'assigned' END,"
				 " state = 'error', message = ?3, updated = ?4 WHERE id = ?1 AND state = ?2",
				 "issi", id, state, msg, now);
}

int broker_store_desktop_pause_message(struct broker_store *s, int64_t id, const char *msg)
{
	return broker_store_exec(s, "UPDATE desktops SET message = ?2 WHERE id = ?1 AND state = 'error'", "is", id, msg);
}

int broker_store_desktop_unpause(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = paused_from, paused_from = NULL, message = NULL, updated = ?2,"
				 " assigned_at = CASE WHEN paused_from = 'assigned' THEN ?2 ELSE assigned_at END,"
				 " last_disconnect = CASE WHEN paused_from = 'disconnected' THEN ?2 ELSE last_disconnect END"
				 " WHERE id = ?1 AND state = 'error' AND paused_from IS NOT NULL",
				 "ii", id, now);
}

int broker_store_desktop_paused_to_error(struct broker_store *s, int64_t id, const char *msg, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'error', message = ?2, paused_from = NULL, updated = ?3"
				 " WHERE id = ?1 AND state = 'error' AND paused_from IS NOT NULL",
				 "isi", id, msg, now);
}

/* ---- listings ------------------------------------------------------------------------------ */

int broker_store_desktops_count_by_host(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT host, count(*) AS n FROM desktops WHERE state != 'deleting' GROUP BY host",
				  NULL);
}

/* The n of the one row of a count query whose result is r. */
static int count_of(int r, json_t *rows)
{
	return r < 0 ? r : (int)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
}

int broker_store_desktops_count_on_host(struct broker_store *s, const char *uri, bool first)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows, "SELECT count(*) AS n FROM desktops WHERE host = ?1 OR (host IS NULL AND ?2)",
				   "si", uri, (int64_t)first);

	return count_of(r, rows);
}

int broker_store_desktops_count_live_on_host(struct broker_store *s, const char *uri, bool first)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows,
				   "SELECT count(*) AS n FROM desktops WHERE (host = ?1 OR (host IS NULL AND ?2)) AND state != 'deleting'",
				   "si", uri, (int64_t)first);

	return count_of(r, rows);
}

int broker_store_desktops_of_host(struct broker_store *s, const char *uri, bool first, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT id FROM desktops WHERE host = ?1 OR (host IS NULL AND ?2)", "si", uri,
				  (int64_t)first);
}

int broker_store_desktops_of_pool(struct broker_store *s, const char *pool, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT d.id FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.name = ?1",
				  "s", pool);
}

int broker_store_pool_desktops_defined(struct broker_store *s, const char *pool, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, d.host FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.name = ?1"
				  " AND d.state NOT IN ('provisioning', 'deleting') ORDER BY d.id",
				  "s", pool);
}

int broker_store_desktops_running(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, p.name AS pool, d.host FROM desktops d JOIN pools p ON p.id = d.pool_id"
				  " WHERE d.state IN ('free', 'assigned', 'connected', 'disconnected') ORDER BY d.id",
				  NULL);
}

int broker_store_desktops_stopped_spares(struct broker_store *s, int64_t pool_id, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT id, host, (template_version IS NULL OR template_version = (SELECT t.version"
				  " FROM pools p JOIN templates t ON t.id = p.template_id WHERE p.id = ?1)) AS current FROM desktops"
				  " WHERE pool_id = ?1 AND owner IS NULL AND state = 'stopped' ORDER BY current DESC, id",
				  "i", pool_id);
}

int broker_store_desktops_outdated(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, d.state, p.id AS pool_id, p.prestart, p.size, t.name AS template,"
				  " coalesce(p.network, t.network) AS network,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner IS NULL AND state = 'free') AS free,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner IS NULL"
				  "  AND state IN ('starting', 'provisioning')) AS coming,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND state != 'deleting') AS total"
				  " FROM desktops d JOIN pools p ON p.id = d.pool_id JOIN templates t ON t.id = p.template_id"
				  " WHERE p.persistent = 0 AND p.draining = 0 AND d.owner IS NULL AND d.state IN ('free', 'stopped')"
				  " AND d.template_version IS NOT NULL AND d.template_version != t.version"
				  " AND (d.host IS NULL OR d.host NOT IN (SELECT uri FROM hosts WHERE up = 0 OR draining = 1))"
				  " ORDER BY d.state = 'stopped' DESC, p.id, d.id",
				  NULL);
}

int broker_store_desktop_rollout_take(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'resetting', updated = ?2 WHERE id = ?1 AND owner IS NULL"
				 " AND state IN ('free', 'stopped')",
				 "ii", id, now);
}

int broker_store_desktops_idle(struct broker_store *s, int64_t now, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.idle_timeout > 0 AND"
				  " ((d.state = 'disconnected' AND d.last_disconnect + p.idle_timeout <= ?1) OR"
				  "  (d.state = 'assigned' AND d.assigned_at + p.idle_timeout <= ?1))",
				  "i", now);
}

int broker_store_desktops_paused(struct broker_store *s, int64_t after, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT id FROM desktops WHERE state = 'error' AND paused_from IS NOT NULL ORDER BY id <= ?1, id",
				  "i", after);
}

int broker_store_desktops_for_reconcile(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT d.id, d.state, d.owner, d.host, d.paused_from, d.message, p.name AS pool, p.persistent,"
				  " p.draining, t.name AS template, t.disk_path, t.xml, t.version, t.heads, p.data_disk_mib, p.usb_redirect, "
				  POOL_NET_COLUMNS " FROM desktops d JOIN pools p ON p.id = d.pool_id JOIN templates t ON t.id = p.template_id",
				  NULL);
}

int broker_store_desktop_is_orphan(struct broker_store *s, int64_t id, const char *pool)
{
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	int r = broker_store_query(s, &rows,
				   "SELECT (SELECT count(*) FROM pools WHERE name = ?2) AS known,"
				   " (SELECT count(*) FROM desktops d JOIN pools p ON p.id = d.pool_id"
				   "  WHERE d.id = ?1 AND p.name = ?2) AS owned",
				   "is", id, pool);

	if (r != 1)
		return r < 0 ? r : -EIO;
	row = json_array_get(rows, 0);
	return json_integer_value(json_object_get(row, "known")) > 0 && json_integer_value(json_object_get(row, "owned")) == 0;
}

/* ---- pools --------------------------------------------------------------------------------- */

int broker_store_pools_to_keep(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT p.id, p.name, p.size, p.prestart, t.name AS template,"
				  " coalesce(p.network, t.network) AS network,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND owner IS NULL"
				  "  AND state IN ('free', 'starting', 'provisioning')) AS ready,"
				  " (SELECT count(*) FROM desktops WHERE pool_id = p.id AND state != 'deleting') AS total"
				  " FROM pools p JOIN templates t ON t.id = p.template_id WHERE p.draining = 0 AND p.prestart > 0",
				  NULL);
}

int broker_store_pool_groups(struct broker_store *s, const char *pool, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT groups FROM pools WHERE name = ?1 AND draining = 0", "s", pool);
}

int broker_store_pool_drain(struct broker_store *s, const char *pool)
{
	return broker_store_exec(s, "UPDATE pools SET draining = 1 WHERE name = ?1", "s", pool);
}

int broker_store_pool_delete_drained(struct broker_store *s, const char *pool)
{
	return broker_store_exec(s,
				 "DELETE FROM pools WHERE name = ?1 AND draining = 1"
				 " AND NOT EXISTS (SELECT 1 FROM desktops WHERE pool_id = pools.id)",
				 "s", pool);
}
