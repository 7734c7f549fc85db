/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a broker that stopped during a publish left (publish.h): its reservation and partial base. */
#include "publish-recover.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "json.h"
#include "log.h"
#include "store-versions.h"
#include "vmpool.h"
#include "workers.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(char **, pool_strv_free)

/* Seconds between tries to remove a partial base libvirtd is still writing (its copy goes on without us). */
#define RECOVER_RETRY 5

struct recovery {
	struct broker_desks *d;
	json_t *making;           /* rows: template, version; the work adds "cleared" */
	struct pool_host **hosts;
	size_t n_hosts;
	bool sources_left;        /* a storage pool a killed publish made is still there */
};

/* On a worker: removes template/version's base from every host; false when one is still there. */
static bool clear_base(struct recovery *rc, const char *template, int64_t version)
{
	char name[200];
	bool cleared = true;

	if (pool_base_name(template, version, name, sizeof(name)) < 0)
		return true;
	for (size_t h = 0; h < rc->n_hosts; h++) {
		_cleanup_(pool_strv_freep) char **bases = NULL;
		struct vdi_error err = { 0 };

		if (pool_base_list(rc->hosts[h], &bases, &err) < 0) {
			cleared = false;
			continue;
		}
		for (char **b = bases; b && *b; b++) {
			const char *slash = strrchr(*b, '/');

			if (!streq(slash ? slash + 1 : *b, name) || pool_base_delete(rc->hosts[h], *b, &err) >= 0)
				continue;
			vdi_warn("cannot remove partial base %s yet: %s", *b, err.message);
			cleared = false;
		}
	}
	return cleared;
}

static void recover_work(void *data)
{
	struct recovery *rc = data;
	size_t i;
	json_t *row;

	json_array_foreach(rc->making, i, row)
		json_object_set_new(row, "cleared", json_boolean(clear_base(rc, broker_jstr(row, "template"),
									   broker_jint(row, "version"))));
	/* After the bases: libvirtd copies from a volume of such a pool until the copy is gone. */
	for (size_t h = 0; h < rc->n_hosts; h++) {
		struct vdi_error err = { 0 };

		if (pool_base_sources_clean(rc->hosts[h], &err) < 0 && err.message[0]) {
			vdi_warn("%s", err.message);
			rc->sources_left = true;
		}
	}
}

/* The reservations whose partial base is gone are taken back; the others are tried again soon. */
static void recover_done(void *data, int cancelled)
{
	struct recovery *rc = data;
	struct broker_desks *d = rc->d;
	json_t *left = json_array();
	size_t i;
	json_t *row;

	d->recovering = false;
	json_array_foreach(rc->making, i, row) {
		if (cancelled || !left)
			break;
		if (!json_is_true(json_object_get(row, "cleared"))) {
			json_array_append(left, row);
			continue;
		}
		(void)broker_store_version_drop(d->store, broker_jstr(row, "template"), broker_jint(row, "version"));
		broker_desks_audit_template(d, "template-publish", "broker", broker_jstr(row, "template"),
					    "version %lld failed: the broker stopped while it was being made",
					    (long long)broker_jint(row, "version"));
	}
	if (!cancelled && left) {
		json_decref(d->left_making);
		d->left_making = left;
		d->publishes_recovered = json_array_size(left) == 0 && !rc->sources_left;
		d->recover_after = vdi_clock_steady() + RECOVER_RETRY;
	} else {
		json_decref(left);
	}
	json_decref(rc->making);
	free(rc->hosts);
	free(rc);
}

void broker_publish_recover(struct broker_desks *d)
{
	struct recovery *rc;

	if (d->recovering || vdi_clock_steady() < d->recover_after)
		return;
	/* Only what was making when this broker started: its own publishes are not leftovers. */
	if (!d->left_making && broker_store_versions_making(d->store, &d->left_making) < 0)
		return;
	rc = vdi_new0(struct recovery);
	if (!rc)
		return;
	rc->d = d;
	rc->making = json_deep_copy(d->left_making);
	rc->hosts = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(struct pool_host *));
	if (!rc->making || !rc->hosts) {
		json_decref(rc->making);
		free(rc->hosts);
		free(rc);
		return;
	}
	for (size_t i = 0; i < d->n_hosts; i++)
		rc->hosts[rc->n_hosts++] = d->hosts[i].host;
	if (vdi_workers_submit(d->workers, recover_work, recover_done, rc) < 0) {
		recover_done(rc, 1);
		return;
	}
	d->recovering = true;
}
