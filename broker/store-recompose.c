/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-recompose.h"

#include <errno.h>

#include "alloc.h"
#include "json.h"
#include "store-private.h"
#include "store.h"

/* SQL: desktop row d is on its pool's template's current version. */
#define ON_CURRENT(d)                                                                                       \
	"(" d ".template_version = (SELECT t.version FROM pools p JOIN templates t ON t.id = p.template_id"    \
	" WHERE p.id = " d ".pool_id))"

/* States in which a desktop is being made, reset or deleted: no recompose then. */
#define BUSY_STATES "('provisioning', 'resetting', 'deleting')"

static int64_t row_int(json_t *row, const char *key)
{
	return json_integer_value(json_object_get(row, key));
}

static const char *row_str(json_t *row, const char *key)
{
	const char *v = json_string_value(json_object_get(row, key));

	return v ? v : "";
}

/* Inside the transaction: whether desktop id may be recomposed. */
static int check_desktop(struct broker_store *s, int64_t id, struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	int r = broker_store_query(s, &rows,
				   "SELECT d.state, p.name AS pool, p.persistent FROM desktops d"
				   " JOIN pools p ON p.id = d.pool_id WHERE d.id = ?1",
				   "i", id);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the desktop");
	if (r == 0)
		return vdi_error_set(err, -ENOENT, "no such desktop");
	row = json_array_get(rows, 0);
	if (!row_int(row, "persistent"))
		return vdi_error_set(err, -EPERM,
				     "desktop %lld is in pooled pool \"%s\": pooled desktops follow the rollout (a fresh "
				     "overlay on the current version when they are released), there is no recompose",
				     (long long)id, row_str(row, "pool"));
	if (streq(row_str(row, "state"), "provisioning") || streq(row_str(row, "state"), "resetting") ||
	    streq(row_str(row, "state"), "deleting"))
		return vdi_error_set(err, -EBUSY, "desktop %lld is %s; try again once it is done", (long long)id,
				     row_str(row, "state"));
	return 0;
}

static int desktop_recompose_locked(struct broker_store *s, int64_t id, int64_t now, struct vdi_error *err)
{
	int r = check_desktop(s, id, err);

	if (r < 0)
		return r;
	r = broker_store_exec(s, "UPDATE desktops SET state = 'resetting', recompose = 1, updated = ?2 WHERE id = ?1",
			      "ii", id, now);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot mark the desktop") : 0;
}

int broker_store_desktop_recompose(struct broker_store *s, int64_t id, int64_t now, struct vdi_error *err)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot recompose");
	r = desktop_recompose_locked(s, id, now, err);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	r = broker_store_commit(s);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot recompose") : 0;
}

static int pool_recompose_locked(struct broker_store *s, const char *name, int64_t *ret_version, struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	int r = broker_store_query(s, &rows,
				   "SELECT p.id, p.persistent, t.version FROM pools p JOIN templates t ON t.id = p.template_id"
				   " WHERE p.name = ?1",
				   "s", name);

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot read the pool");
	if (r == 0)
		return vdi_error_set(err, -ENOENT, "no such pool");
	row = json_array_get(rows, 0);
	if (!row_int(row, "persistent"))
		return vdi_error_set(err, -EPERM,
				     "pool \"%s\" is pooled: its desktops follow the rollout (a fresh overlay on the current "
				     "version when they are released), there is no recompose", name);
	*ret_version = row_int(row, "version");
	r = broker_store_exec(s,
			      "UPDATE desktops SET recompose = 1 WHERE pool_id = ?1 AND template_version IS NOT NULL"
			      " AND template_version != ?2 AND state NOT IN ('provisioning', 'deleting')",
			      "ii", row_int(row, "id"), *ret_version);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot mark the pool's desktops") : r;
}

int broker_store_pool_recompose(struct broker_store *s, const char *name, int64_t *ret_version,
				struct vdi_error *err)
{
	int r = broker_store_begin(s), n;

	if (r < 0)
		return broker_store_fail_errno(s, r, err, "cannot recompose");
	n = pool_recompose_locked(s, name, ret_version, err);
	if (n < 0) {
		broker_store_rollback(s);
		return n;
	}
	r = broker_store_commit(s);
	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot recompose") : n;
}

int broker_store_recompose_next(struct broker_store *s, int64_t limit, json_t **ret)
{
	int r = broker_store_exec(s,
				  "UPDATE desktops SET recompose = 0 WHERE recompose = 1 AND state NOT IN " BUSY_STATES
				  " AND " ON_CURRENT("desktops"),
				  NULL);

	if (r < 0)
		return r;
	return broker_store_query(s, ret,
				  "SELECT d.id, d.state, p.name AS pool FROM desktops d JOIN pools p ON p.id = d.pool_id"
				  " WHERE d.recompose = 1 AND d.state NOT IN " BUSY_STATES
				  " AND (d.host IS NULL OR d.host NOT IN (SELECT uri FROM hosts WHERE up = 0))"
				  " ORDER BY d.id"
				  " LIMIT max(?1 - (SELECT count(*) FROM desktops WHERE recompose = 1 AND state = 'resetting'), 0)",
				  "i", limit);
}

int broker_store_recompose_take(struct broker_store *s, int64_t id, int64_t now)
{
	return broker_store_exec(s,
				 "UPDATE desktops SET state = 'resetting', updated = ?2 WHERE id = ?1 AND recompose = 1"
				 " AND state NOT IN " BUSY_STATES,
				 "ii", id, now);
}

int broker_store_recompose_clear(struct broker_store *s, int64_t id)
{
	return broker_store_exec(s, "UPDATE desktops SET recompose = 0 WHERE id = ?1", "i", id);
}
