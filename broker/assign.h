/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A user's request for a desktop of a pool, from entitlement to the job that brings the
 * desktop up: entitlement, then the store's assignment (which asks placement for a host only
 * when a new desktop is to be cloned), the audit record, and the start or clone.  Loop thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct broker_desks;

struct broker_assign_request {
	const char *pool;
	const char *user;
	const char *groups; /* the user's, comma-separated */
	bool want_new;      /* one more desktop, not the user's own */
};

struct broker_assign_result {
	int64_t id;
	char state[16];     /* the desktop's state now */
	bool running;       /* ready to connect to */
};

/*
 * 0 and *ret; else err says why: -ENOENT (no such pool, or it is draining), -EACCES (not
 * entitled), -ENOSPC (pool exhausted), -EHOSTUNREACH (no host can take a new desktop),
 * -EHOSTDOWN (the user's desktop is out of service), -EDQUOT (max_per_user), -EBUSY (the
 * database stayed locked), or another -errno.
 */
int broker_desks_assign(struct broker_desks *d, const struct broker_assign_request *rq, struct broker_assign_result *ret,
			struct vdi_error *err);
