/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Each running desktop's IP addresses, read on a worker, kept for the admin listing (addresses.h). */
#include "addresses.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "store-desktops.h"
#include "vmpool.h"
#include "workers.h"

#define SCAN_S 2     /* the store's running desktops, every SCAN_S seconds */
#define REFRESH_S 10 /* their addresses read again */
#define NEW_S 120    /* a desktop seen running this recently and without an address yet: read at each scan */

struct entry {
	int64_t id;
	char **addrs;       /* NULL: not read yet */
	json_t *guest;      /* what its guest agent told ({hostname, users}); NULL: no agent answered */
	int64_t first_seen; /* vdi_clock_steady() */
};

struct broker_addresses {
	struct broker_store *store;
	struct vdi_workers *workers;
	struct broker_desks *desks;
	struct entry *entries; /* by id */
	size_t n;
	bool reading;
	int64_t last_scan, last_read; /* vdi_clock_steady() */
};

/* One desktop of a read. */
struct item {
	int64_t id;
	struct pool_host *host; /* borrowed from the desktops module */
	char domain[128];
	char **addrs;
	struct pool_guest_info info;
	int r;
};

struct read_job {
	struct broker_addresses *a;
	struct item *items;
	size_t n;
};

int broker_addresses_new(const struct broker_addresses_options *o, struct broker_addresses **ret)
{
	struct broker_addresses *a = vdi_new0(struct broker_addresses);

	if (!a)
		return -ENOMEM;
	a->store = o->store;
	a->workers = o->workers;
	a->desks = o->desks;
	*ret = a;
	return 0;
}

static void entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pool_strv_free(e[i].addrs);
		json_decref(e[i].guest);
	}
	free(e);
}

struct broker_addresses *broker_addresses_free(struct broker_addresses *a)
{
	if (!a)
		return NULL;
	entries_free(a->entries, a->n);
	free(a);
	return NULL;
}

static int entry_cmp(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key, other = ((const struct entry *)elem)->id;

	return id < other ? -1 : id > other;
}

static struct entry *entry_find(struct broker_addresses *a, int64_t id)
{
	return a->entries ? bsearch(&id, a->entries, a->n, sizeof(*a->entries), entry_cmp) : NULL;
}

json_t *broker_addresses_json(struct broker_addresses *a, int64_t id)
{
	struct entry *e = a ? entry_find(a, id) : NULL;
	json_t *arr = json_array();

	for (char **s = e && e->addrs ? e->addrs : NULL; s && *s; s++)
		json_array_append_new(arr, json_string(*s));
	return arr;
}

json_t *broker_addresses_guest_json(struct broker_addresses *a, int64_t id)
{
	struct entry *e = a ? entry_find(a, id) : NULL;

	return e && e->guest ? json_incref(e->guest) : json_null();
}

/* ---- the read, on a worker ----------------------------------------------------------------- */

/* One desktop: what its guest agent tells, and its addresses (the agent's when it told some, else
 * pool_desktop_addresses()'s: DHCP leases first). */
static void read_item(struct item *it)
{
	struct vdi_error err = { 0 };
	int r;

	r = pool_desktop_guest_info(it->host, it->domain, &it->info, &err);
	if (r < 0) {
		vdi_debug("cannot ask the guest agent of %s: %s", it->domain, err.message);
		pool_guest_info_finish(&it->info);
	}
	if (it->info.agent && it->info.addresses[0]) {
		it->addrs = TAKE_PTR(it->info.addresses);
		it->r = 0;
		return;
	}
	err = (struct vdi_error){ 0 };
	it->r = pool_desktop_addresses(it->host, it->domain, &it->addrs, &err);
	if (it->r < 0 && it->r != -ENOENT)
		vdi_debug("cannot read the addresses of %s: %s", it->domain, err.message);
}

static void read_work(void *data)
{
	struct read_job *job = data;

	for (size_t i = 0; i < job->n; i++)
		read_item(&job->items[i]);
}

static void read_job_free(struct read_job *job)
{
	for (size_t i = 0; i < job->n; i++) {
		pool_strv_free(job->items[i].addrs);
		pool_guest_info_finish(&job->items[i].info);
	}
	free(job->items);
	free(job);
}

static json_t *strv_json(char **strv)
{
	json_t *arr = json_array();

	for (char **s = strv; arr && s && *s; s++)
		json_array_append_new(arr, json_string(*s));
	return arr;
}

/* {hostname, users} of what an agent told (borrowed), or NULL when none answered. */
static json_t *guest_json(const struct pool_guest_info *info)
{
	if (!info->agent)
		return NULL;
	return json_pack("{s:s?, s:o}", "hostname", info->hostname, "users", strv_json(info->users));
}

/* On the loop: the desktops still running take what was read (a failed read keeps the last). */
static void read_done(void *data, int cancelled)
{
	struct read_job *job = data;

	if (!cancelled) {
		struct broker_addresses *a = job->a;

		for (size_t i = 0; i < job->n; i++) {
			struct item *it = &job->items[i];
			struct entry *e = entry_find(a, it->id);

			if (!e)
				continue;
			json_decref(e->guest);
			e->guest = guest_json(&it->info);
			if (it->r < 0 && it->r != -ENOENT)
				continue;
			pool_strv_free(e->addrs);
			e->addrs = TAKE_PTR(it->addrs);
			if (!e->addrs)
				e->addrs = vdi_calloc(1, sizeof(char *));
		}
		a->reading = false;
	}
	read_job_free(job);
}

/* ---- on the loop --------------------------------------------------------------------------- */

/* The running desktops' entries (rows, by id), keeping what is known of each; the others go. */
static int rebuild(struct broker_addresses *a, json_t *rows, int64_t now)
{
	size_t n = json_array_size(rows), i;
	struct entry *fresh = vdi_calloc(n ? n : 1, sizeof(*fresh));
	json_t *row;

	if (!fresh)
		return -ENOMEM;
	json_array_foreach(rows, i, row) {
		struct entry *old = entry_find(a, json_integer_value(json_object_get(row, "id")));

		fresh[i].id = json_integer_value(json_object_get(row, "id"));
		fresh[i].first_seen = old ? old->first_seen : now;
		fresh[i].addrs = old ? TAKE_PTR(old->addrs) : NULL;
		fresh[i].guest = old ? TAKE_PTR(old->guest) : NULL;
	}
	entries_free(a->entries, a->n);
	a->entries = fresh;
	a->n = n;
	return 0;
}

/* Whether desktop e started lately and has no address yet (its guest may be asking for a lease). */
static bool eager(const struct entry *e, int64_t now)
{
	return (!e->addrs || !e->addrs[0]) && now - e->first_seen < NEW_S;
}

/* Which read is due: 2 every REFRESH_S (all), 1 now while a desktop that started lately has no address
 * (those only), 0 none. */
static int read_due(struct broker_addresses *a, int64_t now)
{
	if (a->n == 0)
		return 0;
	if (now - a->last_read >= REFRESH_S)
		return 2;
	for (size_t i = 0; i < a->n; i++)
		if (eager(&a->entries[i], now))
			return 1;
	return 0;
}

/* Reads the addresses of the desktops of rows (all, or only the eager ones) on a worker. */
static int submit_read(struct broker_addresses *a, json_t *rows, bool all, int64_t now)
{
	struct read_job *job = vdi_new0(struct read_job);
	json_t *row;
	size_t i;
	int r;

	if (!job)
		return -ENOMEM;
	job->a = a;
	job->items = vdi_calloc(json_array_size(rows) + 1, sizeof(*job->items));
	if (!job->items) {
		free(job);
		return -ENOMEM;
	}
	json_array_foreach(rows, i, row) {
		struct item *it = &job->items[job->n];

		it->id = json_integer_value(json_object_get(row, "id"));
		if (!all && !eager(entry_find(a, it->id), now))
			continue;
		it->host = broker_desks_host(a->desks, json_string_value(json_object_get(row, "host")));
		if (!it->host ||
		    pool_domain_name(json_string_value(json_object_get(row, "pool")), it->id, it->domain,
				     sizeof(it->domain)) < 0)
			continue;
		job->n++;
	}
	r = vdi_workers_submit(a->workers, read_work, read_done, job);
	if (r < 0) {
		read_job_free(job);
		return r;
	}
	a->reading = true;
	return 0;
}

void broker_addresses_tick(struct broker_addresses *a)
{
	_cleanup_json_ json_t *rows = NULL;
	int64_t now = vdi_clock_steady();
	int due;

	if (now - a->last_scan < SCAN_S)
		return;
	a->last_scan = now;
	if (broker_store_desktops_running(a->store, &rows) < 0 || rebuild(a, rows, now) < 0)
		return;
	due = a->reading ? 0 : read_due(a, now);
	if (due && submit_read(a, rows, due == 2, now) >= 0 && due == 2)
		a->last_read = now;
}
