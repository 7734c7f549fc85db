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
#include "lifecycle.h"
#include "json.h"
#include "now.h"
#include "store-assign.h"
#include "store-hosts.h"
#include "store-desktops.h"
#include "store.h"

static const char *place(void *data, const char *template, const char *network)
{
	return broker_hosts_place(data, template, network);
}

/* The pool's groups (a new reference to its row), or -ENOENT. */
static int pool_groups(struct broker_desks *d, const char *pool, json_t **ret)
{
	int r = broker_store_pool_groups(d->store, pool, ret);

	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* No host could take a new desktop of pool (borrowed): when the reason is hardware its template needs that no
 * host that answers offers, err says so (else it keeps the store's words). */
static void unplaced_why(struct broker_desks *d, const char *pool, struct vdi_error *err)
{
	struct pool_hw_features needs;
	const char *missing;

	if (broker_store_pool_needs(d->store, pool, &needs) <= 0)
		return;
	missing = broker_hosts_missing_hardware(d, &needs);
	if (missing)
		vdi_error_set(err, -EHOSTUNREACH, "no host can take a new desktop of pool \"%s\" now: its template needs"
			      " %s (%s), which no host that answers offers (vdictl host list: HARDWARE)", pool, missing,
			      streq(missing, "tpm") ? "a TPM 2.0: swtpm" : streq(missing, "firmware") ? "UEFI: OVMF" :
			      "UEFI Secure Boot: OVMF with enrolled keys");
}

/* The store's words are for users where they say why there is no desktop; else these. */
static int assign_failed(int r, struct vdi_error *err)
{
	if (r == -ENOENT)
		return vdi_error_set(err, r, "no such pool");
	if (r == -EBUSY)
		return vdi_error_set(err, r, "the broker is busy; try again");
	if (r != -ENOSPC && r != -EHOSTUNREACH && r != -EHOSTDOWN && r != -EDQUOT)
		return vdi_error_set(err, r, "cannot assign a desktop");
	return r;
}

int broker_desks_assign(struct broker_desks *d, const struct broker_assign_request *rq, struct broker_assign_result *ret,
			struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	struct broker_place where = { place, d };
	struct broker_assignment a;
	int r;

	r = pool_groups(d, rq->pool, &rows);
	if (r < 0)
		return vdi_error_set(err, r, r == -ENOENT ? "no such pool" : "cannot read the pool");
	if (!broker_entitled(broker_jstr(json_array_get(rows, 0), "groups"), rq->groups))
		return vdi_error_set(err, -EACCES, "you are not entitled to pool \"%s\"", rq->pool);
	r = broker_store_assign_placed(d->store, rq->pool, rq->user, rq->want_new, &where, broker_now(), &a, err);
	if (r == -EHOSTUNREACH)
		unplaced_why(d, rq->pool, err);
	if (r < 0)
		return assign_failed(r, err);
	if (a.action != BROKER_ASSIGN_EXISTING) {
		char object[32];

		snprintf(object, sizeof(object), "desktop:%lld", (long long)a.desktop_id);
		(void)broker_store_audit(d->store, vdi_clock_wall(), rq->user, "assign", object, rq->pool);
	}
	r = broker_desks_assigned(d, a.desktop_id, a.action, a.state);
	if (r < 0)
		return vdi_error_set(err, -EIO, "cannot start desktop %lld", (long long)a.desktop_id);
	ret->id = a.desktop_id;
	ret->running = r > 0;
	if (broker_store_desktop_get_state(d->store, a.desktop_id, ret->state, sizeof(ret->state)) <= 0)
		return vdi_error_set(err, -EIO, "desktop %lld vanished", (long long)a.desktop_id);
	return 0;
}
