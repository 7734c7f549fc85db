/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"
#include "store-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
	/* 5 -> 6: a template's versions, each with its base volume (templates.version is the current one). */
	"CREATE TABLE template_versions ("
	"  id INTEGER PRIMARY KEY,"
	"  template_id INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL CHECK (version >= 1),"
	"  disk_path TEXT,"
	"  note TEXT,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (template_id, version));"
	"INSERT INTO template_versions (template_id, version, disk_path, created)"
	" SELECT id, version, disk_path, created FROM templates;",
	/* 6 -> 7: versions vdi makes (publish): their state, the base volume vdi owns, when a scheduled one is due. */
	"ALTER TABLE template_versions ADD COLUMN state TEXT NOT NULL DEFAULT 'ready'"
	"  CHECK (state IN ('scheduled', 'making', 'ready', 'deleted'));"
	"ALTER TABLE template_versions ADD COLUMN owned INTEGER NOT NULL DEFAULT 0 CHECK (owned IN (0, 1));"
	"ALTER TABLE template_versions ADD COLUMN source TEXT;"
	"ALTER TABLE template_versions ADD COLUMN publish_at INTEGER;"
	"ALTER TABLE template_versions ADD COLUMN host TEXT;",
	/* 7 -> 8: maintenance desktops (store-maintenance.h), one per template at most.  The id names the domain
	 * (vdi-_maintenance-<id>) and is drawn at random, so two brokers sharing a host never name the same one. */
	"CREATE TABLE maintenance ("
	"  id INTEGER PRIMARY KEY,"
	"  template_id INTEGER NOT NULL UNIQUE REFERENCES templates(id),"
	"  version INTEGER NOT NULL,"
	"  host TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('provisioning', 'starting', 'running', 'stopped', 'publishing',"
	"    'deleting')),"
	"  disk_path TEXT,"
	"  started_by TEXT,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  message TEXT);",
	/* 8 -> 9: a persistent pool's user data disks; a desktop waiting for (or under) its recompose. */
	("ALTER TABLE pools ADD COLUMN data_disk_mib INTEGER NOT NULL DEFAULT 0 CHECK (data_disk_mib >= 0);"
	 "ALTER TABLE desktops ADD COLUMN recompose INTEGER NOT NULL DEFAULT 0 CHECK (recompose IN (0, 1));"),
	/* 9 -> 10: a version scheduled from a maintenance desktop names it (its checks are made when it is due). */
	"ALTER TABLE template_versions ADD COLUMN maintenance_id INTEGER;",
	/* 10 -> 11: desktop networks.  A pool's and a template's `network` (NULL: the next one down: the
	 * pool's template's, then the template XML's own NICs); whether a pool isolates its desktops
	 * (NULL: the default, on for pooled pools where the network allows it); its per-desktop bandwidth
	 * limit; and the libvirt networks each host had active at the last look (",a,b,"; NULL: not looked). */
	("ALTER TABLE pools ADD COLUMN network TEXT;"
	 "ALTER TABLE pools ADD COLUMN isolate_desktops INTEGER CHECK (isolate_desktops IN (0, 1));"
	 "ALTER TABLE pools ADD COLUMN bandwidth_kbps INTEGER NOT NULL DEFAULT 0 CHECK (bandwidth_kbps >= 0);"
	 "ALTER TABLE templates ADD COLUMN network TEXT;"
	 "ALTER TABLE hosts ADD COLUMN networks TEXT;"),
	/* 11 -> 12: desktop hardware.  A template's OS (an osinfo-db short id; NULL: none given) and what its
	 * XML asks of a host (firmware, Secure Boot, a TPM); a pool's USB redirection channels; and the
	 * hardware each host offered at the last look (",uefi,secure-boot,tpm,"; NULL: not looked). */
	("ALTER TABLE templates ADD COLUMN os TEXT;"
	 "ALTER TABLE templates ADD COLUMN firmware TEXT NOT NULL DEFAULT 'bios' CHECK (firmware IN ('bios', 'uefi'));"
	 "ALTER TABLE templates ADD COLUMN secure_boot INTEGER NOT NULL DEFAULT 0 CHECK (secure_boot IN (0, 1));"
	 "ALTER TABLE templates ADD COLUMN tpm INTEGER NOT NULL DEFAULT 0 CHECK (tpm IN (0, 1));"
	 "ALTER TABLE pools ADD COLUMN usb_redirect INTEGER NOT NULL DEFAULT 2 CHECK (usb_redirect >= 0 AND usb_redirect <= 8);"
	 "ALTER TABLE hosts ADD COLUMN hardware TEXT;"),
	/* 12 -> 13: the desktop a user sees.  A pool's lock_on_disconnect (NULL: the default, on for persistent
	 * pools) and what a second viewer of a desktop gets ('takeover' the first's place, or 'refuse'd); a
	 * template's monitors (heads) and the command its guest agent runs to lock the screen (NULL: the default,
	 * `loginctl lock-sessions`). */
	("ALTER TABLE pools ADD COLUMN lock_on_disconnect INTEGER CHECK (lock_on_disconnect IN (0, 1));"
	 "ALTER TABLE pools ADD COLUMN second_viewer TEXT NOT NULL DEFAULT 'takeover' CHECK (second_viewer IN ('takeover', 'refuse'));"
	 "ALTER TABLE templates ADD COLUMN heads INTEGER NOT NULL DEFAULT 1 CHECK (heads >= 1 AND heads <= 4);"
	 "ALTER TABLE templates ADD COLUMN lock_command TEXT;"),
};

_Static_assert(ELEMENTSOF(migrations) == BROKER_STORE_SCHEMA_VERSION, "one migration per schema version");

void broker_store_finalizep(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}

int broker_store_errno(int rc)
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

int broker_store_fail(struct broker_store *s, int rc, struct vdi_error *err, const char *what)
{
	return vdi_error_set(err, broker_store_errno(rc), "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Like broker_store_fail() for an -errno already mapped from SQLite's result. */
int broker_store_fail_errno(struct broker_store *s, int r, struct vdi_error *err, const char *what)
{
	return vdi_error_set(err, r, "%s: %s", what, sqlite3_errmsg(s->db));
}

int broker_store_run(struct broker_store *s, const char *sql, struct vdi_error *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : broker_store_fail(s, rc, err, "database");
}

int broker_store_prepare(struct broker_store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : broker_store_errno(rc);
}

static void rollback(struct broker_store *s)
{
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a statement whose first result column is an id; 1 and *ret when a row came, 0 when none. */
int broker_store_step_id(sqlite3_stmt *st, int64_t *ret)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		return 1;
	}
	return rc == SQLITE_DONE ? 0 : broker_store_errno(rc);
}

char *broker_store_column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? strdup((const char *)t) : NULL;
}

int broker_store_schema_version(struct broker_store *s)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = broker_store_prepare(s, "PRAGMA user_version", &st);

	if (r < 0)
		return r;
	return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
}

static int migrate(struct broker_store *s, struct vdi_error *err)
{
	int version, r;

	/* Concurrent openers: the first to take the write lock migrates, the others see its result. */
	r = broker_store_run(s, "BEGIN IMMEDIATE", err);
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
		r = broker_store_run(s, migrations[version], err);
		if (r >= 0)
			r = broker_store_run(s, pragma, err);
		if (r < 0) {
			rollback(s);
			return r;
		}
	}
	return broker_store_run(s, "COMMIT", err);
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
		return broker_store_errno(rc);
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_SLOW_MS);
	sqlite3_extended_result_codes(s->db, 1);

	r = broker_store_run(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", err);
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

/* ---- desktops -------------------------------------------------------------------------- */

bool broker_desktop_state_is_valid(const char *state)
{
	static const char *const states[] = { BROKER_DESKTOP_STATES };

	for (size_t i = 0; state && i < ELEMENTSOF(states); i++)
		if (streq(states[i], state))
			return true;
	return false;
}

int broker_store_set_desktop_state(struct broker_store *s, int64_t id, const char *from, const char *to,
				   int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	if (!broker_desktop_state_is_valid(from) || !broker_desktop_state_is_valid(to))
		return -EINVAL;
	r = broker_store_prepare(s, "UPDATE desktops SET state = ?3, updated = ?4 WHERE id = ?1 AND state = ?2", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return broker_store_errno(rc);
	return sqlite3_changes(s->db) == 1 ? 0 : -ESTALE;
}

/* ---- audit ------------------------------------------------------------------------------ */

static int audit_insert(struct broker_store *s, int64_t now, const char *actor, const char *action,
			const char *object, const char *detail)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = broker_store_prepare(s, "INSERT INTO audit (time, actor, action, object, detail) VALUES (?1, ?2, ?3, ?4, ?5)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : broker_store_errno(rc);
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

/* ---- clock ------------------------------------------------------------------------------- */

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
			return broker_store_errno(rc);
	}
	return 0;
}

/* sql prepared, with its arguments bound (*ret: new). */
static int prepare_bound(struct broker_store *s, const char *sql, const char *types, va_list ap, sqlite3_stmt **ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = broker_store_prepare(s, sql, &st);

	if (r >= 0)
		r = bind_args(st, types, ap);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(st);
	return 0;
}

int broker_store_exec(struct broker_store *s, const char *sql, const char *types, ...)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	va_list ap;
	int r, rc;

	va_start(ap, types);
	r = prepare_bound(s, sql, types, ap, &st);
	va_end(ap);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		return broker_store_errno(rc);
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

	va_start(ap, types);
	r = prepare_bound(s, sql, types, ap, &st);
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
		return broker_store_errno(rc);
	}
	*ret = rows;
	return (int)json_array_size(rows);
}

int broker_store_begin(struct broker_store *s)
{
	return broker_store_run(s, "BEGIN IMMEDIATE", NULL);
}

int broker_store_commit(struct broker_store *s)
{
	int r = broker_store_run(s, "COMMIT", NULL);

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
