/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alloc.h"
#include "cleanup.h"
#include "log.h"

/* The store is used on the event loop: a database another process keeps locked may stall it
 * this long per statement, no longer (the request then fails with -EBUSY).  Opening, migrating
 * and closing are not on a serving loop and wait longer. */
#define BUSY_TIMEOUT_MS 200
#define BUSY_TIMEOUT_SLOW_MS 5000
/* Audit records waiting for a busy database, in order; beyond this many, new ones are refused. */
#define AUDIT_PENDING_MAX 100000

struct pending_audit {
	int64_t time;
	char *actor, *action, *object, *detail;
};

struct broker_store {
	sqlite3 *db;
	struct pending_audit *pending;  /* audit records the database was too busy to take */
	size_t n_pending, cap_pending;
};

/* Schema migrations: entry i brings user_version i to i + 1. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE templates ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  disk_path TEXT NOT NULL,"
	"  xml TEXT NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE pools ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  template_id INTEGER NOT NULL REFERENCES templates(id),"
	"  persistent INTEGER NOT NULL CHECK (persistent IN (0, 1)),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  prestart INTEGER NOT NULL CHECK (prestart >= 0 AND prestart <= size),"
	"  max_per_user INTEGER NOT NULL CHECK (max_per_user >= 1),"
	"  idle_timeout INTEGER NOT NULL CHECK (idle_timeout >= 0),"
	"  groups TEXT NOT NULL DEFAULT '',"
	"  draining INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE desktops ("
	"  id INTEGER PRIMARY KEY,"
	"  pool_id INTEGER NOT NULL REFERENCES pools(id),"
	"  host TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('provisioning', 'stopped', 'starting', 'free', 'assigned',"
	"    'connected', 'disconnected', 'resetting', 'error', 'deleting')),"
	"  owner TEXT,"
	"  template_version INTEGER,"
	"  assigned_at INTEGER,"
	"  last_disconnect INTEGER,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX desktops_pool_state ON desktops(pool_id, state);"
	"CREATE INDEX desktops_owner ON desktops(owner);"
	"CREATE TABLE sessions ("
	"  id_hash BLOB PRIMARY KEY,"
	"  user TEXT NOT NULL,"
	"  groups TEXT NOT NULL DEFAULT '',"
	"  admin INTEGER NOT NULL DEFAULT 0,"
	"  csrf_hash BLOB NOT NULL,"
	"  client TEXT,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX sessions_expires ON sessions(expires);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT,"
	"  action TEXT NOT NULL,"
	"  object TEXT,"
	"  detail TEXT);"
	"CREATE INDEX audit_time ON audit(time);",
	/* 1 -> 2: what a template was made with; why a desktop is in "error". */
	"ALTER TABLE templates ADD COLUMN memory_mib INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE templates ADD COLUMN vcpus INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE desktops ADD COLUMN message TEXT;"
	"CREATE INDEX audit_actor ON audit(actor, time);",
	/* 2 -> 3: desktop ids are never used twice (they name domains, overlays and audit entries). */
	"CREATE TABLE desktops_new ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  pool_id INTEGER NOT NULL REFERENCES pools(id),"
	"  host TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('provisioning', 'stopped', 'starting', 'free', 'assigned',"
	"    'connected', 'disconnected', 'resetting', 'error', 'deleting')),"
	"  owner TEXT,"
	"  template_version INTEGER,"
	"  assigned_at INTEGER,"
	"  last_disconnect INTEGER,"
	"  updated INTEGER NOT NULL,"
	"  message TEXT);"
	"INSERT INTO desktops_new (id, pool_id, host, state, owner, template_version, assigned_at, last_disconnect,"
	"  updated, message)"
	" SELECT id, pool_id, host, state, owner, template_version, assigned_at, last_disconnect, updated, message"
	" FROM desktops;"
	"DROP TABLE desktops;"
	"ALTER TABLE desktops_new RENAME TO desktops;"
	"CREATE INDEX desktops_pool_state ON desktops(pool_id, state);"
	"CREATE INDEX desktops_owner ON desktops(owner);",
	/* 3 -> 4: libvirt hosts: whether they answer and whether an admin is emptying them. */
	"CREATE TABLE hosts ("
	"  uri TEXT PRIMARY KEY,"
	"  up INTEGER NOT NULL DEFAULT 1 CHECK (up IN (0, 1)),"
	"  draining INTEGER NOT NULL DEFAULT 0 CHECK (draining IN (0, 1)));"
	"CREATE INDEX desktops_host ON desktops(host);",
	/* 4 -> 5: a desktop the hypervisor paused is in "error" while paused; the state it goes back to. */
	"ALTER TABLE desktops ADD COLUMN paused_from TEXT;",
};

_Static_assert(ELEMENTSOF(migrations) == BROKER_STORE_SCHEMA_VERSION, "one migration per schema version");

static void finalizep(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int errno_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

static int db_fail(struct broker_store *s, int rc, struct vdi_error *err, const char *what)
{
	return vdi_error_set(err, errno_from_sqlite(rc), "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Like db_fail() for an -errno already mapped from SQLite's result. */
static int db_fail_errno(struct broker_store *s, int r, struct vdi_error *err, const char *what)
{
	return vdi_error_set(err, r, "%s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(struct broker_store *s, const char *sql, struct vdi_error *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(s, rc, err, "database");
}

static int prepare(struct broker_store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : errno_from_sqlite(rc);
}

static void rollback(struct broker_store *s)
{
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int broker_store_schema_version(struct broker_store *s)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "PRAGMA user_version", &st);

	if (r < 0)
		return r;
	return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
}

static int migrate(struct broker_store *s, struct vdi_error *err)
{
	int version, r;

	/* Concurrent openers: the first to take the write lock migrates, the others see its result. */
	r = exec(s, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	version = broker_store_schema_version(s);
	if (version < 0) {
		rollback(s);
		return vdi_error_set(err, version, "cannot read the schema version");
	}
	if (version > BROKER_STORE_SCHEMA_VERSION) {
		rollback(s);
		return vdi_error_set(err, -EPROTO,
				     "the database has schema version %d; this vdi knows up to %d (a newer vdi wrote it)",
				     version, BROKER_STORE_SCHEMA_VERSION);
	}
	for (; version < BROKER_STORE_SCHEMA_VERSION; version++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		r = exec(s, migrations[version], err);
		if (r >= 0)
			r = exec(s, pragma, err);
		if (r < 0) {
			rollback(s);
			return r;
		}
	}
	return exec(s, "COMMIT", err);
}

int broker_store_open(const char *path, struct broker_store **ret, struct vdi_error *err)
{
	struct broker_store *s;
	int rc, r;

	s = vdi_new0(struct broker_store);
	if (!s)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		vdi_error_set(err, 0, "cannot open database %s: %s", path,
			      s->db ? sqlite3_errmsg(s->db) : "out of memory");
		broker_store_close(s);
		return errno_from_sqlite(rc);
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_SLOW_MS);
	sqlite3_extended_result_codes(s->db, 1);

	r = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", err);
	if (r >= 0)
		r = migrate(s, err);
	if (r < 0) {
		char what[VDI_ERROR_MAX];

		snprintf(what, sizeof(what), "%s", err ? err->message : "");
		vdi_error_set(err, r, "database %s: %s", path, what);
		broker_store_close(s);
		return r;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	*ret = s;
	return 0;
}

static void pending_audit_free(struct pending_audit *p)
{
	free(p->actor);
	free(p->action);
	free(p->object);
	free(p->detail);
}

struct broker_store *broker_store_close(struct broker_store *s)
{
	if (!s)
		return NULL;
	if (s->db && s->n_pending) {
		sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_SLOW_MS);
		if (broker_store_audit_flush(s) < 0)
			vdi_warn("%zu audit records lost: the database stayed busy", s->n_pending);
	}
	for (size_t i = 0; i < s->n_pending; i++)
		pending_audit_free(&s->pending[i]);
	free(s->pending);
	sqlite3_close_v2(s->db);
	free(s);
	return NULL;
}

/* ---- templates and pools ------------------------------------------------------------ */

static bool is_valid_name(const char *name, size_t max)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int broker_store_add_template(struct broker_store *s, const char *name, const char *disk_path, const char *xml,
			      int64_t now, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	if (!name || !*name || strlen(name) > 64 || !disk_path || disk_path[0] != '/' || !xml)
		return vdi_error_set(err, -EINVAL,
				     "a template needs a name (1-64 characters), an absolute disk path and XML");
	r = prepare(s, "INSERT INTO templates (name, disk_path, xml, created) VALUES (?1, ?2, ?3, ?4)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, disk_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, xml, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vdi_error_set(err, -EEXIST, "template \"%s\" exists already", name);
	return db_fail(s, rc, err, "cannot add template");
}

int broker_store_add_pool(struct broker_store *s, const struct broker_pool_def *d, int64_t now, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	if (!is_valid_name(d->name, 32))
		return vdi_error_set(err, -EINVAL, "pool name must be 1-32 characters of [A-Za-z0-9_]");
	if (d->size < 0 || d->prestart < 0 || d->prestart > d->size || d->max_per_user < 1 || d->idle_timeout < 0)
		return vdi_error_set(err, -EINVAL,
				     "pool \"%s\": size >= 0, 0 <= prestart <= size, max_per_user >= 1, idle_timeout >= 0",
				     d->name);
	r = prepare(s,
		    "INSERT INTO pools (name, template_id, persistent, size, prestart, max_per_user, idle_timeout, groups,"
		    " created) SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM templates WHERE name = ?2",
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
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vdi_error_set(err, -EEXIST, "pool \"%s\" exists already", d->name);
	if (rc != SQLITE_DONE)
		return db_fail(s, rc, err, "cannot add pool");
	if (sqlite3_changes(s->db) == 0)
		return vdi_error_set(err, -ENOENT, "no template \"%s\"", d->template_name ? d->template_name : "");
	return 0;
}

/* ---- desktops -------------------------------------------------------------------------- */

bool broker_desktop_state_is_valid(const char *state)
{
	static const char *const states[] = { BROKER_DESKTOP_STATES };

	for (size_t i = 0; state && i < ELEMENTSOF(states); i++)
		if (streq(states[i], state))
			return true;
	return false;
}

/* Runs a statement whose first result column is an id; 1 and *ret when a row came, 0 when none. */
static int step_id(sqlite3_stmt *st, int64_t *ret)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		return 1;
	}
	return rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

/* SQL: the desktop row d's host may hand out desktops (it answers and is not being emptied). */
#define HOST_USABLE "(host IS NULL OR host NOT IN (SELECT uri FROM hosts WHERE up = 0 OR draining = 1))"

static int assign_locked(struct broker_store *s, const char *pool, const char *user, bool want_new,
			 const struct broker_place *place, int64_t now, struct broker_assignment *ret, struct vdi_error *err)
{
	_cleanup_free_ char *template = NULL;
	const char *new_host;
	_cleanup_stmt_ sqlite3_stmt *q_pool = NULL, *q_mine = NULL, *q_running = NULL, *q_stopped = NULL,
				    *q_count = NULL, *q_new = NULL, *q_owned = NULL, *q_broken = NULL, *q_spare = NULL;
	int64_t pool_id, size, max_per_user, count = 0, owned = 0, id = -1;
	bool persistent;
	int r;

	if ((r = prepare(s, "SELECT p.id, p.size, p.max_per_user, p.persistent, t.name FROM pools p"
			    " JOIN templates t ON t.id = p.template_id WHERE p.name = ?1 AND p.draining = 0",
			 &q_pool)) < 0 ||
	    (r = prepare(s, "SELECT id, message, paused_from IS NOT NULL AS paused FROM desktops WHERE pool_id = ?1"
			    " AND owner = ?2 AND state = 'error' AND (?3 OR paused_from IS NOT NULL)"
			    " ORDER BY id LIMIT 1", &q_broken)) < 0 ||
	    (r = prepare(s, "SELECT count(*) FROM desktops WHERE pool_id = ?1 AND owner = ?2"
			    " AND state NOT IN ('deleting', 'error')", &q_owned)) < 0 ||
	    (r = prepare(s, "SELECT id, state FROM desktops WHERE pool_id = ?1 AND owner = ?2"
			    " AND state NOT IN ('deleting', 'error') ORDER BY id LIMIT 1", &q_mine)) < 0 ||
	    (r = prepare(s, "UPDATE desktops SET owner = ?2, state = 'assigned', assigned_at = ?3, updated = ?3"
			    " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL AND state = 'free'"
			    " AND " HOST_USABLE " ORDER BY id LIMIT 1) RETURNING id", &q_running)) < 0 ||
	    (r = prepare(s, "UPDATE desktops SET owner = ?2, state = 'starting', assigned_at = ?3, updated = ?3"
			    " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL AND state = 'stopped'"
			    " AND " HOST_USABLE " ORDER BY id LIMIT 1) RETURNING id", &q_stopped)) < 0 ||
	    (r = prepare(s, "UPDATE desktops SET owner = ?2, assigned_at = ?3, updated = ?3"
			    " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL"
			    " AND state IN ('provisioning', 'starting') AND " HOST_USABLE " ORDER BY id LIMIT 1)"
			    " RETURNING id, state", &q_spare)) < 0 ||
	    (r = prepare(s, "SELECT count(*) FROM desktops WHERE pool_id = ?1 AND state != 'deleting'", &q_count)) < 0 ||
	    (r = prepare(s, "INSERT INTO desktops (pool_id, state, owner, assigned_at, updated, host)"
			    " VALUES (?1, 'provisioning', ?2, ?3, ?3, ?4) RETURNING id", &q_new)) < 0)
		return db_fail_errno(s, r, err, "cannot prepare the assignment");

	sqlite3_bind_text(q_pool, 1, pool, -1, SQLITE_STATIC);
	r = sqlite3_step(q_pool);
	if (r != SQLITE_ROW) {
		if (r != SQLITE_DONE)
			return db_fail(s, r, err, "cannot read pool");
		return vdi_error_set(err, -ENOENT, "no pool \"%s\"", pool);
	}
	pool_id = sqlite3_column_int64(q_pool, 0);
	size = sqlite3_column_int64(q_pool, 1);
	max_per_user = sqlite3_column_int64(q_pool, 2);
	persistent = sqlite3_column_int64(q_pool, 3) != 0;
	template = strdup((const char *)sqlite3_column_text(q_pool, 4));
	if (!template)
		return -ENOMEM;

	/* One more desktop for this user: only below max_per_user. */
	if (want_new) {
		sqlite3_bind_int64(q_owned, 1, pool_id);
		sqlite3_bind_text(q_owned, 2, user, -1, SQLITE_STATIC);
		r = step_id(q_owned, &owned);
		if (r <= 0)
			return db_fail_errno(s, r < 0 ? r : -EIO, err, "cannot count desktops");
		if (owned >= max_per_user)
			return vdi_error_set(err, -EDQUOT,
					     "you have %lld desktops in pool \"%s\" already, the most it allows",
					     (long long)owned, pool);
	}

	/* 1. The user's own desktop in this pool. */
	sqlite3_bind_int64(q_mine, 1, pool_id);
	sqlite3_bind_text(q_mine, 2, user, -1, SQLITE_STATIC);
	r = want_new ? SQLITE_DONE : sqlite3_step(q_mine);
	if (r == SQLITE_ROW) {
		ret->desktop_id = sqlite3_column_int64(q_mine, 0);
		ret->action = BROKER_ASSIGN_EXISTING;
		snprintf(ret->state, sizeof(ret->state), "%s", (const char *)sqlite3_column_text(q_mine, 1));
		return 0;
	}
	if (r != SQLITE_DONE)
		return db_fail(s, r, err, "cannot read desktops");
	/* A desktop out of service stays the user's when it is persistent (no second one with another
	 * disk) or paused (it comes back as it was): no second desktop meanwhile.  Only a pause says
	 * why: other messages are the hypervisor's, with paths, for admins. */
	if (!want_new) {
		sqlite3_bind_int64(q_broken, 1, pool_id);
		sqlite3_bind_text(q_broken, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_int(q_broken, 3, persistent);
		r = sqlite3_step(q_broken);
		if (r == SQLITE_ROW) {
			const char *why = (const char *)sqlite3_column_text(q_broken, 1);
			bool paused = sqlite3_column_int(q_broken, 2) != 0;

			return vdi_error_set(err, -EHOSTDOWN,
					     "your desktop %lld in pool \"%s\" is out of service%s%s%s; %s",
					     (long long)sqlite3_column_int64(q_broken, 0), pool,
					     paused && why ? " (" : "", paused && why ? why : "",
					     paused && why ? ")" : "",
					     paused ? "it comes back as it was once the cause is gone"
						    : "an administrator can repair or reset it");
		}
		if (r != SQLITE_DONE)
			return db_fail(s, r, err, "cannot read desktops");
	}

	/* 2. A free running desktop, 3. a free stopped one. */
	for (int pass = 0; pass < 2; pass++) {
		sqlite3_stmt *q = pass == 0 ? q_running : q_stopped;

		sqlite3_bind_int64(q, 1, pool_id);
		sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, now);
		r = step_id(q, &id);
		if (r < 0)
			return db_fail_errno(s, r, err, "cannot assign a desktop");
		if (r > 0) {
			ret->desktop_id = id;
			ret->action = pass == 0 ? BROKER_ASSIGN_RUNNING : BROKER_ASSIGN_START;
			snprintf(ret->state, sizeof(ret->state), "%s", pass == 0 ? "assigned" : "starting");
			return 0;
		}
	}

	/* 4. A spare on its way up (prestart): the user's once it runs. */
	sqlite3_bind_int64(q_spare, 1, pool_id);
	sqlite3_bind_text(q_spare, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q_spare, 3, now);
	r = sqlite3_step(q_spare);
	if (r == SQLITE_ROW) {
		ret->desktop_id = sqlite3_column_int64(q_spare, 0);
		ret->action = BROKER_ASSIGN_SPARE;
		snprintf(ret->state, sizeof(ret->state), "%s", (const char *)sqlite3_column_text(q_spare, 1));
		return 0;
	}
	if (r != SQLITE_DONE)
		return db_fail(s, r, err, "cannot assign a desktop");

	/* 5. A new desktop while the pool has room. */
	sqlite3_bind_int64(q_count, 1, pool_id);
	r = step_id(q_count, &count);
	if (r <= 0)
		return db_fail_errno(s, r < 0 ? r : -EIO, err, "cannot count desktops");
	if (count >= size) {
		return vdi_error_set(err, -ENOSPC, "pool exhausted: all %lld desktops of pool \"%s\" are in use", (long long)size, pool);
	}
	/* Where it goes is asked only now that a clone is needed. */
	new_host = place->place(place->data, template);
	if (!new_host) {
		return vdi_error_set(err, -EHOSTUNREACH, "no host can take a new desktop of pool \"%s\" now (hosts down, draining or"
			" without its template)", pool);
	}
	sqlite3_bind_int64(q_new, 1, pool_id);
	sqlite3_bind_text(q_new, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q_new, 3, now);
	sqlite3_bind_text(q_new, 4, new_host, -1, SQLITE_STATIC);
	r = step_id(q_new, &id);
	if (r <= 0)
		return db_fail_errno(s, r < 0 ? r : -EIO, err, "cannot add a desktop");
	ret->desktop_id = id;
	ret->action = BROKER_ASSIGN_CLONE;
	snprintf(ret->state, sizeof(ret->state), "provisioning");
	return 0;
}

static const char *place_on(void *data, const char *template)
{
	(void)template;
	return data;
}

int broker_store_assign(struct broker_store *s, const char *pool, const char *user, bool want_new,
			const char *new_host, int64_t now, struct broker_assignment *ret, struct vdi_error *err)
{
	struct broker_place place = { place_on, (void *)new_host };

	return broker_store_assign_placed(s, pool, user, want_new, &place, now, ret, err);
}

int broker_store_assign_placed(struct broker_store *s, const char *pool, const char *user, bool want_new,
			       const struct broker_place *place, int64_t now, struct broker_assignment *ret, struct vdi_error *err)
{
	int r;

	if (!pool || !user || !*user)
		return vdi_error_set(err, -EINVAL, "a pool and a user are needed");
	/* The write lock first: no two assignments interleave between their reads and writes. */
	r = exec(s, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	r = assign_locked(s, pool, user, want_new, place, now, ret, err);
	if (r < 0) {
		rollback(s);
		return r;
	}
	return exec(s, "COMMIT", err);
}

int broker_store_set_desktop_state(struct broker_store *s, int64_t id, const char *from, const char *to,
				   int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	if (!broker_desktop_state_is_valid(from) || !broker_desktop_state_is_valid(to))
		return -EINVAL;
	r = prepare(s, "UPDATE desktops SET state = ?3, updated = ?4 WHERE id = ?1 AND state = ?2", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return errno_from_sqlite(rc);
	return sqlite3_changes(s->db) == 1 ? 0 : -ESTALE;
}

static int audit_insert(struct broker_store *s, int64_t now, const char *actor, const char *action,
			const char *object, const char *detail)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = prepare(s, "INSERT INTO audit (time, actor, action, object, detail) VALUES (?1, ?2, ?3, ?4, ?5)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

int broker_store_audit_flush(struct broker_store *s)
{
	size_t done = 0;
	int r = 0;

	if (s->n_pending == 0)
		return 0;
	while (done < s->n_pending) {
		struct pending_audit *p = &s->pending[done];

		r = audit_insert(s, p->time, p->actor, p->action, p->object, p->detail);
		if (r == -EBUSY)
			break;
		if (r < 0)
			vdi_warn("an audit record (%s) that waited for the database is lost: %s", p->action, strerror(-r));
		pending_audit_free(p);
		done++;
	}
	memmove(s->pending, s->pending + done, (s->n_pending - done) * sizeof(*s->pending));
	s->n_pending -= done;
	return r == -EBUSY ? r : 0;
}

static char *strdup_null(const char *v, bool *fail)
{
	char *c = v ? strdup(v) : NULL;

	if (v && !c)
		*fail = true;
	return c;
}

int broker_store_audit(struct broker_store *s, int64_t now, const char *actor, const char *action,
		       const char *object, const char *detail)
{
	struct pending_audit *p;
	bool fail = false;
	int r;

	if (!action || !*action)
		return -EINVAL;
	/* Records that waited go first, so the log keeps its order. */
	if (s->n_pending == 0 || broker_store_audit_flush(s) >= 0) {
		r = audit_insert(s, now, actor, action, object, detail);
		if (r != -EBUSY)
			return r;
	}
	/* The database is busy (another process holds it): keep the record until it is free. */
	if (s->n_pending >= AUDIT_PENDING_MAX)
		return -ENOBUFS;
	if (vdi_grow((void **)&s->pending, &s->cap_pending, s->n_pending + 1, sizeof(*s->pending)) < 0)
		return -ENOMEM;
	p = &s->pending[s->n_pending];
	*p = (struct pending_audit){ .time = now, .actor = strdup_null(actor, &fail), .action = strdup_null(action, &fail),
				     .object = strdup_null(object, &fail), .detail = strdup_null(detail, &fail) };
	if (fail) {
		pending_audit_free(p);
		return -ENOMEM;
	}
	s->n_pending++;
	return 0;
}

/* ---- sessions ---------------------------------------------------------------------------- */

void broker_session_finish(struct broker_session *row)
{
	if (!row)
		return;
	free(row->user);
	free(row->groups);
	free(row->client);
	memset(row, 0, sizeof(*row));
}

int broker_store_session_put(struct broker_store *s, const uint8_t id_hash[32], const struct broker_session *row)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	if (!row->user || !*row->user || row->expires <= row->created)
		return -EINVAL;
	r = prepare(s,
		    "INSERT INTO sessions (id_hash, user, groups, admin, csrf_hash, client, created, expires)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		    &st);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, id_hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->groups ? row->groups : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, row->admin);
	sqlite3_bind_blob(st, 5, row->csrf_hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, row->created);
	sqlite3_bind_int64(st, 8, row->expires);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

static char *column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? strdup((const char *)t) : NULL;
}

int broker_store_session_get(struct broker_store *s, const uint8_t id_hash[32], int64_t now,
			     struct broker_session *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct broker_session row = { 0 };
	int r, rc;

	r = prepare(s,
		    "SELECT user, groups, admin, csrf_hash, client, created, expires FROM sessions"
		    " WHERE id_hash = ?1 AND expires > ?2",
		    &st);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, id_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return errno_from_sqlite(rc);
	if (sqlite3_column_bytes(st, 3) != 32)
		return -EBADMSG;
	row.user = column_strdup(st, 0);
	row.groups = column_strdup(st, 1);
	row.admin = sqlite3_column_int(st, 2) != 0;
	memcpy(row.csrf_hash, sqlite3_column_blob(st, 3), 32);
	row.client = column_strdup(st, 4);
	row.created = sqlite3_column_int64(st, 5);
	row.expires = sqlite3_column_int64(st, 6);
	if (!row.user || !row.groups) {
		broker_session_finish(&row);
		return -ENOMEM;
	}
	*ret = row;
	return 0;
}

int broker_store_session_delete(struct broker_store *s, const uint8_t id_hash[32])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "DELETE FROM sessions WHERE id_hash = ?1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, id_hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

int broker_store_session_expire(struct broker_store *s, int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "DELETE FROM sessions WHERE expires <= ?1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : errno_from_sqlite(rc);
}

int broker_store_shift_times(struct broker_store *s, int64_t delta)
{
	int r = broker_store_begin(s);

	if (r < 0)
		return r;
	r = broker_store_exec(s, "UPDATE sessions SET created = created + ?1, expires = expires + ?1", "i", delta);
	if (r >= 0)
		r = broker_store_exec(s,
				      "UPDATE desktops SET assigned_at = assigned_at + ?1,"
				      " last_disconnect = last_disconnect + ?1, updated = updated + ?1",
				      "i", delta);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	return broker_store_commit(s);
}

/* ---- generic queries ---------------------------------------------------------------------- */

/* Binds the arguments described by types: 'i' int64_t, 's' const char * (NULL binds NULL). */
static int bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types && types[i]; i++) {
		int rc;

		if (types[i] == 'i') {
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else if (types[i] == 's') {
			const char *v = va_arg(ap, const char *);

			rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
		} else {
			return -EINVAL;
		}
		if (rc != SQLITE_OK)
			return errno_from_sqlite(rc);
	}
	return 0;
}

int broker_store_exec(struct broker_store *s, const char *sql, const char *types, ...)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	va_list ap;
	int r, rc;

	r = prepare(s, sql, &st);
	if (r < 0)
		return r;
	va_start(ap, types);
	r = bind_args(st, types, ap);
	va_end(ap);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		return errno_from_sqlite(rc);
	return sqlite3_changes(s->db);
}

static json_t *column_json(sqlite3_stmt *st, int col)
{
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, col));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, col));
	case SQLITE_TEXT:
		return json_stringn((const char *)sqlite3_column_text(st, col), (size_t)sqlite3_column_bytes(st, col));
	default:
		return json_null();
	}
}

int broker_store_query(struct broker_store *s, json_t **ret, const char *sql, const char *types, ...)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	json_t *rows;
	va_list ap;
	int r, rc;

	r = prepare(s, sql, &st);
	if (r < 0)
		return r;
	va_start(ap, types);
	r = bind_args(st, types, ap);
	va_end(ap);
	if (r < 0)
		return r;
	rows = json_array();
	if (!rows)
		return -ENOMEM;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();

		if (!row || json_array_append_new(rows, row) < 0) {
			json_decref(rows);
			return -ENOMEM;
		}
		for (int c = 0; c < sqlite3_column_count(st); c++)
			if (json_object_set_new(row, sqlite3_column_name(st, c), column_json(st, c)) < 0) {
				json_decref(rows);
				return -ENOMEM;
			}
	}
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return errno_from_sqlite(rc);
	}
	*ret = rows;
	return (int)json_array_size(rows);
}

int broker_store_begin(struct broker_store *s)
{
	return exec(s, "BEGIN IMMEDIATE", NULL);
}

int broker_store_commit(struct broker_store *s)
{
	int r = exec(s, "COMMIT", NULL);

	if (r < 0)
		rollback(s);
	return r;
}

void broker_store_rollback(struct broker_store *s)
{
	rollback(s);
}

int64_t broker_store_last_id(struct broker_store *s)
{
	return sqlite3_last_insert_rowid(s->db);
}
