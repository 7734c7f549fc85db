/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bases.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "config.h"
#include "desktops-private.h"
#include "hosts.h"
#include "json.h"
#include "log.h"
#include "store-versions.h"
#include "store.h"
#include "vmpool.h"
#include "workers.h"

/* Seconds between looks at what can go, and between listings of the hosts' bases. */
#define BASES_INTERVAL 5
#define STRAYS_INTERVAL 60

/* A base to delete: a version's (template set) or a stray (template NULL). */
struct base_item {
	char *template;
	int64_t version;
	char *path;
	struct pool_host *host;
	int result;
	struct vdi_error err;
};

/* One pass: deletions, and maybe a listing of every host's bases. */
struct bases_job {
	struct broker_desks *d;
	struct base_item *items;
	size_t n_items;
	bool tick; /* the tick's pass (one at a time), not a removed template's */
	bool list;
	struct pool_host **hosts;
	char ***listed; /* per host: its bases' paths, NULL when it could not tell */
	size_t n_hosts;
};

static void job_free(struct bases_job *j)
{
	for (size_t i = 0; i < j->n_items; i++) {
		free(j->items[i].template);
		free(j->items[i].path);
	}
	for (size_t i = 0; i < j->n_hosts; i++)
		pool_strv_free(j->listed[i]);
	free(j->items);
	free(j->hosts);
	free(j->listed);
	free(j);
}

static int add_item(struct bases_job *j, const char *template, int64_t version, const char *path,
		    struct pool_host *host)
{
	struct base_item *n = vdi_reallocarray(j->items, j->n_items + 1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	j->items = n;
	n = &j->items[j->n_items];
	*n = (struct base_item){ .version = version, .host = host };
	n->template = vdi_strdup0(template);
	n->path = strdup(path);
	if ((template && !n->template) || !n->path) {
		free(n->template);
		free(n->path);
		return -ENOMEM;
	}
	j->n_items++;
	return 0;
}

static void job_work(void *data)
{
	struct bases_job *j = data;

	for (size_t i = 0; i < j->n_items; i++) {
		struct base_item *it = &j->items[i];

		it->result = it->host ? pool_base_delete(it->host, it->path, &it->err) : -ENODEV;
	}
	for (size_t i = 0; j->list && i < j->n_hosts; i++) {
		struct vdi_error err = { 0 };

		if (pool_base_list(j->hosts[i], &j->listed[i], &err) < 0)
			vdi_debug("cannot list the bases on %s: %s", pool_host_uri(j->hosts[i]), err.message);
	}
}

/* ---- strays ----------------------------------------------------------------------------------- */

static struct broker_stray *stray_find(struct broker_desks *d, const char *path)
{
	for (size_t i = 0; i < d->n_strays; i++)
		if (streq(d->strays[i].path, path))
			return &d->strays[i];
	return NULL;
}

/* Whether a version of the store (making or ready: live, borrowed rows) names the base at path. */
static bool is_named(json_t *live, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t i;
	json_t *row;

	json_array_foreach(live, i, row) {
		char name[200];

		if (streq_ptr(broker_jstr(row, "disk"), path))
			return true;
		if (pool_base_name(broker_jstr(row, "template"), broker_jint(row, "version"), name, sizeof(name)) >= 0 &&
		    streq(slash ? slash + 1 : path, name))
			return true;
	}
	return false;
}

static void strays_note(struct broker_desks *d, struct pool_host *host, const char *path, int64_t now)
{
	struct broker_stray *n;

	if (stray_find(d, path))
		return;
	n = vdi_reallocarray(d->strays, d->n_strays + 1, sizeof(*n));
	if (!n)
		return;
	d->strays = n;
	n = &d->strays[d->n_strays];
	*n = (struct broker_stray){ .host = host, .first_seen = now, .path = strdup(path) };
	if (!n->path)
		return;
	d->n_strays++;
	vdi_warn("base volume %s on %s: no template version names it; it is removed in %llu s unless one does", path,
		 pool_host_uri(host), (unsigned long long)d->cfg->templates.stray_base_grace);
}

/* The strays of this listing (others are gone, or were named meanwhile: forgotten). */
static void strays_update(struct broker_desks *d, struct bases_job *j)
{
	_cleanup_json_ json_t *live = NULL;
	int64_t now = vdi_clock_steady();
	size_t keep = 0;

	if (broker_store_versions_live(d->store, &live) < 0)
		return;
	for (size_t i = 0; i < d->n_strays; i++) {
		bool listed = false;

		for (size_t h = 0; h < j->n_hosts && !listed; h++)
			for (char **p = j->listed[h]; p && *p && !listed; p++)
				listed = streq(*p, d->strays[i].path);
		if (listed && !is_named(live, d->strays[i].path))
			d->strays[keep++] = d->strays[i];
		else
			free(d->strays[i].path);
	}
	d->n_strays = keep;
	for (size_t h = 0; h < j->n_hosts; h++)
		for (char **p = j->listed[h]; p && *p; p++)
			if (!is_named(live, *p))
				strays_note(d, j->hosts[h], *p, now);
}

/* ---- a pass ------------------------------------------------------------------------------------ */

static void job_done(void *data, int cancelled)
{
	struct bases_job *j = data;
	struct broker_desks *d = j->d;

	if (j->tick)
		d->bases_busy = false;
	for (size_t i = 0; !cancelled && i < j->n_items; i++) {
		struct base_item *it = &j->items[i];
		struct broker_stray *st;

		if (it->result < 0) {
			vdi_warn("cannot delete base %s: %s", it->path,
				 it->err.message[0] ? it->err.message : strerror(-it->result));
			continue;
		}
		if (it->template) {
			vdi_info("base %s deleted: nothing uses version %lld of template %s any more", it->path,
				 (long long)it->version, it->template);
			(void)broker_store_version_deleted(d->store, it->template, it->version);
		} else if ((st = stray_find(d, it->path))) {
			vdi_info("base %s deleted: no version named it", it->path);
			free(st->path);
			*st = d->strays[--d->n_strays];
		}
	}
	if (!cancelled && j->list)
		strays_update(d, j);
	job_free(j);
}

/* The versions nothing uses any more, while no job may be cloning from one. */
static void add_unused(struct broker_desks *d, struct bases_job *j)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;

	if (d->template_jobs > 0 ||
	    broker_store_versions_unused(d->store, (int64_t)d->cfg->templates.keep_versions, &rows) <= 0)
		return;
	json_array_foreach(rows, i, row) {
		struct pool_host *h = broker_hosts_find(d, broker_jstr(row, "host"));

		if (broker_jstr(row, "disk"))
			(void)add_item(j, broker_jstr(row, "template"), broker_jint(row, "version"), broker_jstr(row, "disk"), h);
	}
}

/* Strays seen for the grace period go, unless a version names them by now. */
static void add_strays(struct broker_desks *d, struct bases_job *j, int64_t now)
{
	_cleanup_json_ json_t *live = NULL;

	if (d->n_strays == 0 || broker_store_versions_live(d->store, &live) < 0)
		return;
	for (size_t i = 0; i < d->n_strays; i++)
		if (now - d->strays[i].first_seen >= (int64_t)d->cfg->templates.stray_base_grace &&
		    !is_named(live, d->strays[i].path))
			(void)add_item(j, NULL, 0, d->strays[i].path, d->strays[i].host);
}

static int job_new(struct broker_desks *d, bool list, struct bases_job **ret)
{
	struct bases_job *j = vdi_new0(struct bases_job);

	if (!j)
		return -ENOMEM;
	j->d = d;
	j->list = list;
	j->hosts = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(*j->hosts));
	j->listed = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(*j->listed));
	if (!j->hosts || !j->listed) {
		job_free(j);
		return -ENOMEM;
	}
	for (size_t i = 0; list && i < d->n_hosts; i++)
		j->hosts[j->n_hosts++] = d->hosts[i].host;
	*ret = j;
	return 0;
}

static void job_run(struct broker_desks *d, struct bases_job *j)
{
	if ((j->n_items == 0 && !j->list) || vdi_workers_submit(d->workers, job_work, job_done, j) < 0) {
		job_free(j);
		return;
	}
	if (j->tick)
		d->bases_busy = true;
}

void broker_bases_tick(struct broker_desks *d)
{
	int64_t steady = vdi_clock_steady();
	struct bases_job *j;
	bool list;

	if (d->bases_busy || steady - d->last_bases < BASES_INTERVAL)
		return;
	d->last_bases = steady;
	list = steady - d->last_strays >= STRAYS_INTERVAL;
	if (job_new(d, list, &j) < 0)
		return;
	j->tick = true;
	if (list)
		d->last_strays = steady;
	add_unused(d, j);
	add_strays(d, j, steady);
	job_run(d, j);
}

void broker_bases_delete(struct broker_desks *d, json_t *rows)
{
	struct bases_job *j;
	size_t i;
	json_t *row;

	if (json_array_size(rows) == 0 || job_new(d, false, &j) < 0)
		return;
	json_array_foreach(rows, i, row)
		if (broker_jstr(row, "disk"))
			(void)add_item(j, NULL, 0, broker_jstr(row, "disk"), broker_hosts_find(d, broker_jstr(row, "host")));
	job_run(d, j);
}

void broker_bases_free(struct broker_desks *d)
{
	for (size_t i = 0; i < d->n_strays; i++)
		free(d->strays[i].path);
	free(d->strays);
	d->strays = NULL;
	d->n_strays = 0;
}
