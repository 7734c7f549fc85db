/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-assign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "pool-net.h"
#include "store-private.h"
#include "store.h"

/* SQL: the effective network of pool ?1 (the pool's, else its template's; NULL none). */
#define POOL_NETWORK                                                                                        \
	"(SELECT coalesce(p.network, t.network) FROM pools p JOIN templates t ON t.id = p.template_id"       \
	" WHERE p.id = ?1)"

/* SQL, in the hosts table: the host lacks what pool ?1's template asks of a host (UEFI, Secure Boot, a TPM) at
 * its last look (a host not looked at yet, hardware NULL, lacks nothing). */
#define HOST_LACKS_HARDWARE                                                                                 \
	"(hardware IS NOT NULL AND EXISTS (SELECT 1 FROM pools p JOIN templates t ON t.id = p.template_id"   \
	" WHERE p.id = ?1 AND ((t.firmware = 'uefi' AND instr(hardware, ',uefi,') = 0)"                    \
	" OR (t.secure_boot = 1 AND instr(hardware, ',secure-boot,') = 0)"                                  \
	" OR (t.tpm = 1 AND instr(hardware, ',tpm,') = 0))))"

/* SQL: the desktop row's host may hand out desktops of pool ?1: it answers, is not being emptied, had the
 * pool's libvirt network ("network:NAME") active at its last look and offered the hardware its template asks
 * (a host not looked at yet counts as having both). */
#define HOST_USABLE                                                                                         \
	"(host IS NULL OR host NOT IN (SELECT uri FROM hosts WHERE up = 0 OR draining = 1 OR"                 \
	" (networks IS NOT NULL AND substr(" POOL_NETWORK ", 1, 8) = 'network:'"                           \
	" AND instr(networks, ',' || substr(" POOL_NETWORK ", 9) || ',') = 0) OR " HOST_LACKS_HARDWARE "))"

/* The pool an assignment is in. */
struct assign_pool {
	const char *name;       /* borrowed */
	int64_t id, size, max_per_user;
	bool persistent;
	char *template;
	char *network;          /* the effective network value, or NULL */
};

static int prepare_step(struct broker_store *s, const char *sql, sqlite3_stmt **ret, struct vdi_error *err)
{
	int r = broker_store_prepare(s, sql, ret);

	return r < 0 ? broker_store_fail_errno(s, r, err, "cannot prepare the assignment") : 0;
}

static void assigned(struct broker_assignment *ret, int64_t id, enum broker_assign_action action, const char *state)
{
	ret->desktop_id = id;
	ret->action = action;
	snprintf(ret->state, sizeof(ret->state), "%s", state);
}

/* The pool, unless it is draining: 0, or -ENOENT. */
static int read_pool(struct broker_store *s, const char *pool, struct assign_pool *ret, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *q = NULL;
	int r;

	r = prepare_step(s, "SELECT p.id, p.size, p.max_per_user, p.persistent, t.name,"
			    " coalesce(p.network, t.network) FROM pools p"
			    " JOIN templates t ON t.id = p.template_id WHERE p.name = ?1 AND p.draining = 0", &q, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(q, 1, pool, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r != SQLITE_ROW) {
		if (r != SQLITE_DONE)
			return broker_store_fail(s, r, err, "cannot read pool");
		return vdi_error_set(err, -ENOENT, "no pool \"%s\"", pool);
	}
	ret->name = pool;
	ret->id = sqlite3_column_int64(q, 0);
	ret->size = sqlite3_column_int64(q, 1);
	ret->max_per_user = sqlite3_column_int64(q, 2);
	ret->persistent = sqlite3_column_int64(q, 3) != 0;
	ret->template = strdup((const char *)sqlite3_column_text(q, 4));
	ret->network = broker_store_column_strdup(q, 5);
	if (!ret->template || (!ret->network && sqlite3_column_type(q, 5) != SQLITE_NULL))
		return -ENOMEM;
	return 0;
}

/* One more desktop for this user: only below max_per_user (else -EDQUOT). */
static int check_quota(struct broker_store *s, const struct assign_pool *p, const char *user, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *q = NULL;
	int64_t owned = 0;
	int r;

	r = prepare_step(s, "SELECT count(*) FROM desktops WHERE pool_id = ?1 AND owner = ?2"
			    " AND state NOT IN ('deleting', 'error')", &q, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 1, p->id);
	sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
	r = broker_store_step_id(q, &owned);
	if (r <= 0)
		return broker_store_fail_errno(s, r < 0 ? r : -EIO, err, "cannot count desktops");
	if (owned >= p->max_per_user)
		return vdi_error_set(err, -EDQUOT, "you have %lld desktops in pool \"%s\" already, the most it allows",
				     (long long)owned, p->name);
	return 0;
}

/* 1. The user's own desktop in this pool: 1 and *ret, or 0. */
static int find_mine(struct broker_store *s, const struct assign_pool *p, const char *user,
		     struct broker_assignment *ret, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *q = NULL;
	int r;

	r = prepare_step(s, "SELECT id, state FROM desktops WHERE pool_id = ?1 AND owner = ?2"
			    " AND state NOT IN ('deleting', 'error') ORDER BY id LIMIT 1", &q, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 1, p->id);
	sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		assigned(ret, sqlite3_column_int64(q, 0), BROKER_ASSIGN_EXISTING, (const char *)sqlite3_column_text(q, 1));
		return 1;
	}
	return r == SQLITE_DONE ? 0 : broker_store_fail(s, r, err, "cannot read desktops");
}

/*
 * A desktop out of service stays the user's when it is persistent (no second one with another
 * disk) or paused (it comes back as it was): no second desktop meanwhile (-EHOSTDOWN).  Only a
 * pause says why: other messages are the hypervisor's, with paths, for admins.
 */
static int check_broken(struct broker_store *s, const struct assign_pool *p, const char *user, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *q = NULL;
	int r;

	r = prepare_step(s, "SELECT id, message, paused_from IS NOT NULL AS paused FROM desktops WHERE pool_id = ?1"
			    " AND owner = ?2 AND state = 'error' AND (?3 OR paused_from IS NOT NULL)"
			    " ORDER BY id LIMIT 1", &q, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 1, p->id);
	sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, p->persistent);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		const char *why = (const char *)sqlite3_column_text(q, 1);
		bool paused = sqlite3_column_int(q, 2) != 0;

		return vdi_error_set(err, -EHOSTDOWN, "your desktop %lld in pool \"%s\" is out of service%s%s%s; %s",
				     (long long)sqlite3_column_int64(q, 0), p->name, paused && why ? " (" : "",
				     paused && why ? why : "", paused && why ? ")" : "",
				     paused ? "it comes back as it was once the cause is gone"
					    : "an administrator can repair or reset it");
	}
	return r == SQLITE_DONE ? 0 : broker_store_fail(s, r, err, "cannot read desktops");
}

/* SQL: desktop row d's overlay is on its pool's current template version (or on one nobody recorded). */
#define ON_CURRENT                                                                                          \
	"(template_version IS NULL OR template_version = (SELECT t.version FROM pools p JOIN templates t"     \
	" ON t.id = p.template_id WHERE p.id = desktops.pool_id))"

/*
 * 2. A free running desktop, 3. a free stopped one, both on the current template version; with
 * outdated, 5. a free one on an older version (reset onto the current one first): 1 and *ret, or 0.
 */
static int take_free(struct broker_store *s, const struct assign_pool *p, const char *user, bool outdated,
		     int64_t now, struct broker_assignment *ret, struct vdi_error *err)
{
	static const struct {
		const char *sql, *state;
		enum broker_assign_action action;
	} passes[] = {
		{ "UPDATE desktops SET owner = ?2, state = 'assigned', assigned_at = ?3, updated = ?3"
		  " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL AND state = 'free'"
		  " AND " HOST_USABLE " AND " ON_CURRENT " ORDER BY id LIMIT 1) RETURNING id",
		  "assigned", BROKER_ASSIGN_RUNNING },
		{ "UPDATE desktops SET owner = ?2, state = 'starting', assigned_at = ?3, updated = ?3"
		  " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL AND state = 'stopped'"
		  " AND " HOST_USABLE " AND " ON_CURRENT " ORDER BY id LIMIT 1) RETURNING id",
		  "starting", BROKER_ASSIGN_START },
		{ "UPDATE desktops SET owner = ?2, state = 'resetting', assigned_at = ?3, updated = ?3"
		  " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL"
		  " AND state IN ('free', 'stopped') AND " HOST_USABLE " ORDER BY state = 'free' DESC, id LIMIT 1)"
		  " RETURNING id",
		  "resetting", BROKER_ASSIGN_RESET },
	};

	for (size_t pass = outdated ? 2 : 0; pass < (outdated ? 3 : 2); pass++) {
		_cleanup_stmt_ sqlite3_stmt *q = NULL;
		int64_t id = -1;
		int r = prepare_step(s, passes[pass].sql, &q, err);

		if (r < 0)
			return r;
		sqlite3_bind_int64(q, 1, p->id);
		sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, now);
		r = broker_store_step_id(q, &id);
		if (r < 0)
			return broker_store_fail_errno(s, r, err, "cannot assign a desktop");
		if (r > 0) {
			assigned(ret, id, passes[pass].action, passes[pass].state);
			return 1;
		}
	}
	return 0;
}

/* 4. A spare on its way up (prestart), the user's once it runs: 1 and *ret, or 0. */
static int take_spare(struct broker_store *s, const struct assign_pool *p, const char *user, int64_t now,
		      struct broker_assignment *ret, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *q = NULL;
	int r;

	r = prepare_step(s, "UPDATE desktops SET owner = ?2, assigned_at = ?3, updated = ?3"
			    " WHERE id = (SELECT id FROM desktops WHERE pool_id = ?1 AND owner IS NULL"
			    " AND state IN ('provisioning', 'starting') AND " HOST_USABLE " ORDER BY id LIMIT 1)"
			    " RETURNING id, state", &q, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 1, p->id);
	sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		assigned(ret, sqlite3_column_int64(q, 0), BROKER_ASSIGN_SPARE, (const char *)sqlite3_column_text(q, 1));
		return 1;
	}
	return r == SQLITE_DONE ? 0 : broker_store_fail(s, r, err, "cannot assign a desktop");
}

/* 6. A new desktop while the pool has room (-ENOSPC), where place says (-EHOSTUNREACH). */
static int add_new(struct broker_store *s, const struct assign_pool *p, const char *user,
		   const struct broker_place *place, int64_t now, struct broker_assignment *ret, struct vdi_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *q_count = NULL, *q_new = NULL;
	int64_t count = 0, id = -1;
	const char *new_host;
	int r;

	if ((r = prepare_step(s, "SELECT count(*) FROM desktops WHERE pool_id = ?1 AND state != 'deleting'", &q_count,
			      err)) < 0 ||
	    (r = prepare_step(s, "INSERT INTO desktops (pool_id, state, owner, assigned_at, updated, host)"
				 " VALUES (?1, 'provisioning', ?2, ?3, ?3, ?4) RETURNING id", &q_new, err)) < 0)
		return r;
	sqlite3_bind_int64(q_count, 1, p->id);
	r = broker_store_step_id(q_count, &count);
	if (r <= 0)
		return broker_store_fail_errno(s, r < 0 ? r : -EIO, err, "cannot count desktops");
	if (count >= p->size)
		return vdi_error_set(err, -ENOSPC, "pool exhausted: all %lld desktops of pool \"%s\" are in use",
				     (long long)p->size, p->name);
	/* Where it goes is asked only now that a clone is needed. */
	new_host = place->place(place->data, p->template, broker_network_libvirt_name(p->network));
	if (!new_host)
		return vdi_error_set(err, -EHOSTUNREACH, "no host can take a new desktop of pool \"%s\" now (hosts down,"
				     " draining or without its template)", p->name);
	sqlite3_bind_int64(q_new, 1, p->id);
	sqlite3_bind_text(q_new, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q_new, 3, now);
	sqlite3_bind_text(q_new, 4, new_host, -1, SQLITE_STATIC);
	r = broker_store_step_id(q_new, &id);
	if (r <= 0)
		return broker_store_fail_errno(s, r < 0 ? r : -EIO, err, "cannot add a desktop");
	assigned(ret, id, BROKER_ASSIGN_CLONE, "provisioning");
	return 0;
}

static int assign_locked(struct broker_store *s, const char *pool, const char *user, bool want_new,
			 const struct broker_place *place, int64_t now, struct broker_assignment *ret, struct vdi_error *err)
{
	struct assign_pool p = { 0 };
	int r;

	r = read_pool(s, pool, &p, err);
	if (r >= 0 && want_new)
		r = check_quota(s, &p, user, err);
	if (r >= 0 && !want_new) {
		r = find_mine(s, &p, user, ret, err);
		if (r == 0)
			r = check_broken(s, &p, user, err);
	}
	if (r == 0)
		r = take_free(s, &p, user, false, now, ret, err);
	if (r == 0)
		r = take_spare(s, &p, user, now, ret, err);
	if (r == 0)
		r = take_free(s, &p, user, true, now, ret, err);
	if (r == 0)
		r = add_new(s, &p, user, place, now, ret, err);
	free(p.template);
	free(p.network);
	return r < 0 ? r : 0;
}

static const char *place_on(void *data, const char *template, const char *network)
{
	(void)template;
	(void)network;
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
	r = broker_store_run(s, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	r = assign_locked(s, pool, user, want_new, place, now, ret, err);
	if (r < 0) {
		broker_store_rollback(s);
		return r;
	}
	return broker_store_run(s, "COMMIT", err);
}
