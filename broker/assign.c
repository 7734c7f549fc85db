/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "assign.h"

#include <errno.h>
#include <stdio.h>

#include "access.h"
#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "json.h"
#include "now.h"
#include "store.h"

static const char *place(void *data, const char *template)
{
	return broker_hosts_place(data, template);
}

/* The pool's groups (a new reference to its row), or -ENOENT. */
static int pool_groups(struct broker_desks *d, const char *pool, json_t **ret)
{
	int r = broker_store_query(d->store, ret, "SELECT groups FROM pools WHERE name = ?1 AND draining = 0", "s", pool);

	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* The store's words are for users where they say why there is no desktop; else these. */
static int assign_failed(int r, char *err, size_t errlen)
{
	if (r == -ENOENT)
		snprintf(err, errlen, "no such pool");
	else if (r == -EBUSY)
		snprintf(err, errlen, "the broker is busy; try again");
	else if (r != -ENOSPC && r != -EHOSTUNREACH && r != -EHOSTDOWN && r != -EDQUOT)
		snprintf(err, errlen, "cannot assign a desktop");
	return r;
}

int broker_desks_assign(struct broker_desks *d, const struct broker_assign_request *rq, struct broker_assign_result *ret,
			char *err, size_t errlen)
{
	_cleanup_json_ json_t *rows = NULL, *after = NULL;
	struct broker_place where = { place, d };
	struct broker_assignment a;
	int r;

	r = pool_groups(d, rq->pool, &rows);
	if (r < 0) {
		snprintf(err, errlen, r == -ENOENT ? "no such pool" : "cannot read the pool");
		return r;
	}
	if (!broker_entitled(broker_jstr(json_array_get(rows, 0), "groups"), rq->groups)) {
		snprintf(err, errlen, "you are not entitled to pool \"%s\"", rq->pool);
		return -EACCES;
	}
	r = broker_store_assign_placed(d->store, rq->pool, rq->user, rq->want_new, &where, broker_now(), &a, err, errlen);
	if (r < 0)
		return assign_failed(r, err, errlen);
	if (a.action != BROKER_ASSIGN_EXISTING) {
		char object[32];

		snprintf(object, sizeof(object), "desktop:%lld", (long long)a.desktop_id);
		(void)broker_store_audit(d->store, vdi_clock_wall(), rq->user, "assign", object, rq->pool);
	}
	r = broker_desks_assigned(d, a.desktop_id, a.action, a.state);
	if (r < 0) {
		snprintf(err, errlen, "cannot start desktop %lld", (long long)a.desktop_id);
		return -EIO;
	}
	ret->id = a.desktop_id;
	ret->running = r > 0;
	if (broker_store_query(d->store, &after, "SELECT state FROM desktops WHERE id = ?1", "i", a.desktop_id) <= 0) {
		snprintf(err, errlen, "desktop %lld vanished", (long long)a.desktop_id);
		return -EIO;
	}
	snprintf(ret->state, sizeof(ret->state), "%s", broker_jstr(json_array_get(after, 0), "state"));
	return 0;
}
