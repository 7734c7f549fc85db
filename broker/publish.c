/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "json.h"
#include "log.h"
#include "maintenance.h"
#include "now.h"
#include "store-maintenance.h"
#include "store-catalog.h"
#include "store-versions.h"
#include "store.h"
#include "vmpool.h"
#include "workers.h"

struct broker_publish {
	struct broker_desks *d;
	char *template, *source, *note;
	char actor[128];
	int64_t version;
	struct pool_host *host;     /* where the base is made */
	char *host_uri;
	struct pool_host **hosts;   /* every host, asked whether a domain uses the source */
	size_t n_hosts;
	int64_t maintenance_id;     /* > 0: the source is this maintenance desktop's overlay */
	char maintenance_domain[128];
	/* results */
	bool maintenance_runs;      /* its domain was found running */
	char *path;
	int result;
	struct vdi_error err;
};

void broker_publish_free(struct broker_publish *p)
{
	if (!p)
		return;
	free(p->template);
	free(p->source);
	free(p->note);
	free(p->host_uri);
	free(p->hosts);
	free(p->path);
	free(p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct broker_publish *, broker_publish_free)

void broker_publish_failed(struct broker_publish *p, int r, const char *why)
{
	p->result = r;
	vdi_error_set(&p->err, r, "%s", why);
}

int64_t broker_publish_version(const struct broker_publish *p)
{
	return p->version;
}

/* Audit records of this file are "template-publish" records about a template. */
#define audit(d, actor, template, ...) broker_desks_audit_template(d, "template-publish", actor, template, __VA_ARGS__)

/* The host the base goes to: the first that answers and takes desktops (its URI borrowed). */
static struct broker_host_slot *publish_slot(struct broker_desks *d)
{
	for (size_t i = 0; i < d->n_hosts; i++)
		if (broker_hosts_can_run(&d->hosts[i]))
			return &d->hosts[i];
	return NULL;
}

static int publish_alloc(struct broker_desks *d, struct pool_host *host, const char *template,
			 int64_t version, const char *source, const char *note, const char *actor,
			 struct broker_publish **ret)
{
	_cleanup_(broker_publish_freep) struct broker_publish *p = vdi_new0(struct broker_publish);

	if (!p)
		return -ENOMEM;
	p->d = d;
	p->version = version;
	p->host = host;
	snprintf(p->actor, sizeof(p->actor), "%s", actor ? actor : "broker");
	p->template = strdup(template);
	p->source = strdup(source);
	p->note = vdi_strdup0(note);
	p->host_uri = strdup(pool_host_uri(host));
	p->hosts = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(struct pool_host *));
	if (!p->template || !p->source || (note && !p->note) || !p->host_uri || !p->hosts)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_hosts; i++)
		p->hosts[p->n_hosts++] = d->hosts[i].host;
	*ret = TAKE_PTR(p);
	return 0;
}

/* src is scheduled: the version is reserved for src->at (1), or why not. */
static int schedule(struct broker_desks *d, const char *template, const struct broker_version_source *src,
		    const char *actor, struct vdi_error *err)
{
	int64_t version;
	char when[32];
	struct tm tm;
	time_t t = (time_t)src->at;
	int r = broker_store_version_reserve(d->store, template, src, vdi_clock_wall(), &version, err);

	if (r < 0)
		return r;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	audit(d, actor, template, "version %lld scheduled for %s from %s%s%s%s", (long long)version, when,
	      src->maintenance_id > 0 ? "the maintenance desktop's " : "", src->path, src->note ? ": " : "",
	      src->note ? src->note : "");
	return 1;
}

int broker_publish_new(struct broker_desks *d, const char *template, const char *source, const char *note,
		       int64_t at, const char *actor, struct broker_publish **ret, struct vdi_error *err)
{
	struct broker_host_slot *slot = publish_slot(d);
	struct broker_version_source src = { .path = source, .note = note, .at = at };
	int64_t now = vdi_clock_wall(), version;
	int r;

	if (at > now)
		return schedule(d, template, &src, actor, err);
	if (!slot)
		return vdi_error_set(err, -EHOSTUNREACH, "no host answers that could take the new version now");
	src.at = 0;
	r = broker_store_version_reserve(d->store, template, &src, now, &version, err);
	if (r < 0)
		return r;
	r = publish_alloc(d, slot->host, template, version, source, note, actor, ret);
	if (r < 0)
		(void)broker_store_version_drop(d->store, template, version);
	return r;
}

/* Why template's maintenance desktop (row, borrowed) cannot be published at all, or 0. */
static int maintenance_outdated(const char *template, json_t *row, struct vdi_error *err)
{
	if (!broker_jint(row, "current"))
		return vdi_error_set(err, -ESTALE,
				     "the maintenance desktop of template \"%s\" is on version %lld, which is no longer the"
				     " current one: discard it and start another",
				     template, (long long)broker_jint(row, "version"));
	if (!broker_jstr(row, "disk"))
		return vdi_error_set(err, -EIO, "the maintenance desktop of template \"%s\" has no recorded overlay",
				     template);
	return 0;
}

/* Why template's maintenance desktop (row, borrowed) cannot be published now, or 0. */
static int maintenance_refuses(struct broker_desks *d, const char *template, json_t *row, struct vdi_error *err)
{
	const char *state = broker_jstr(row, "state");

	if (broker_maintenance_busy(d, broker_jint(row, "id")) || !streq(state, "stopped"))
		return vdi_error_set(err, -EBUSY,
				     streq(state, "running") || streq(state, "starting")
					     ? "shut down the maintenance desktop first (template \"%s\": it is %s)"
					     : "the maintenance desktop of template \"%s\" is %s",
				     template, broker_maintenance_busy(d, broker_jint(row, "id")) ? "busy" : state);
	return maintenance_outdated(template, row, err);
}

/* Why it cannot be published later: one that runs may be (it is to be shut down by then), or 0. */
static int maintenance_refuses_later(const char *template, json_t *row, struct vdi_error *err)
{
	const char *state = broker_jstr(row, "state");

	if (!streq(state, "running") && !streq(state, "starting") && !streq(state, "stopped"))
		return vdi_error_set(err, -EBUSY, "the maintenance desktop of template \"%s\" is %s", template, state);
	return maintenance_outdated(template, row, err);
}

/* Template's maintenance desktop: 0 and *ret (a new row), or why there is none. */
static int maintenance_row(struct broker_desks *d, const char *template, json_t **ret, struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	int r;

	if (broker_store_template_exists(d->store, template) <= 0)
		return vdi_error_set(err, -ENOENT, "no such template \"%s\"", template);
	r = broker_store_maintenance_list(d->store, template, &rows);
	if (r <= 0)
		return r < 0 ? vdi_error_set(err, r, "cannot read the maintenance desktops")
			     : vdi_error_set(err, -ESRCH, "template \"%s\" has no maintenance desktop (template edit makes one)",
					     template);
	*ret = json_incref(json_array_get(rows, 0));
	return 0;
}

/* Maintenance desktop row (borrowed) goes "publishing": 0 and its host's slot in *ret, or why it cannot. */
static int claim(struct broker_desks *d, const char *template, json_t *row, struct broker_host_slot **ret,
		 struct vdi_error *err)
{
	/* Its overlay is in the storage pool of its host: the base is made there. */
	struct broker_host_slot *slot = broker_hosts_slot(d, broker_jstr(row, "host"));

	if (!slot || !pool_host_is_alive(slot->host))
		return vdi_error_set(err, -EHOSTUNREACH, "the host of the maintenance desktop does not answer now");
	if (broker_store_maintenance_set_state(d->store, broker_jint(row, "id"), "stopped", "publishing", NULL, NULL,
					       vdi_clock_wall()) <= 0)
		return vdi_error_set(err, -EBUSY, "the maintenance desktop of template \"%s\" changed; try again",
				     template);
	*ret = slot;
	return 0;
}

/* A claim is given back: the maintenance desktop is "stopped" again. */
static void unclaim(struct broker_desks *d, int64_t id)
{
	(void)broker_store_maintenance_set_state(d->store, id, "publishing", "stopped", NULL, NULL, vdi_clock_wall());
}

/* The publish of version from maintenance desktop row (borrowed) on host. */
static int maintenance_alloc(struct broker_desks *d, struct pool_host *host, const char *template, int64_t version,
			     json_t *row, const char *note, const char *actor, struct broker_publish **ret)
{
	char domain[128];
	int r = broker_maintenance_domain(broker_jint(row, "id"), domain, sizeof(domain));

	if (r < 0)
		return r;
	r = publish_alloc(d, host, template, version, broker_jstr(row, "disk"), note, actor, ret);
	if (r < 0)
		return r;
	(*ret)->maintenance_id = broker_jint(row, "id");
	snprintf((*ret)->maintenance_domain, sizeof((*ret)->maintenance_domain), "%s", domain);
	return 0;
}

/* Now: the version is reserved from the maintenance desktop (row, borrowed, stopped), which goes "publishing". */
static int publish_maintenance_now(struct broker_desks *d, const char *template, json_t *row, const char *note,
				   const char *actor, struct broker_publish **ret, struct vdi_error *err)
{
	struct broker_version_source src = { .path = broker_jstr(row, "disk"), .maintenance_id = broker_jint(row, "id"),
					     .note = note };
	struct broker_host_slot *slot;
	int64_t version;
	int r = claim(d, template, row, &slot, err);

	if (r < 0)
		return r;
	r = broker_store_version_reserve(d->store, template, &src, vdi_clock_wall(), &version, err);
	if (r >= 0) {
		r = maintenance_alloc(d, slot->host, template, version, row, note, actor, ret);
		if (r < 0)
			(void)broker_store_version_drop(d->store, template, version);
	}
	if (r < 0)
		unclaim(d, src.maintenance_id);
	return r;
}

int broker_publish_new_maintenance(struct broker_desks *d, const char *template, const char *note, int64_t at,
				   const char *actor, struct broker_publish **ret, struct vdi_error *err)
{
	_cleanup_json_ json_t *row = NULL;
	int r = maintenance_row(d, template, &row, err);

	if (r < 0)
		return r;
	if (at > vdi_clock_wall()) {
		struct broker_version_source src = { .path = broker_jstr(row, "disk"),
						     .maintenance_id = broker_jint(row, "id"), .note = note, .at = at };

		r = maintenance_refuses_later(template, row, err);
		return r < 0 ? r : schedule(d, template, &src, actor, err);
	}
	r = maintenance_refuses(d, template, row, err);
	return r < 0 ? r : publish_maintenance_now(d, template, row, note, actor, ret, err);
}

/* No domain may have the source open: a copy of a disk in use is not an image of anything. */
static int check_unused(struct broker_publish *p)
{
	char domain[256];

	for (size_t i = 0; i < p->n_hosts; i++) {
		int r = pool_host_path_user(p->hosts[i], p->source, domain, sizeof(domain), &p->err);

		if (r < 0 && r != -ENOTCONN)
			return r;
		if (r > 0)
			return vdi_error_set(&p->err, -EBUSY, "disk %s is in use by domain %s on %s", p->source, domain,
					     pool_host_uri(p->hosts[i]));
	}
	return 0;
}

/* The maintenance desktop is shut off (its overlay is what it last wrote), as libvirt says now. */
static int check_shut_off(struct broker_publish *p)
{
	struct pool_desktop_info info;
	int r = pool_desktop_get_info(p->host, p->maintenance_domain, &info, &p->err);

	if (r < 0)
		return r;
	p->maintenance_runs = info.state != POOL_DESKTOP_STOPPED;
	pool_desktop_info_finish(&info);
	if (p->maintenance_runs)
		return vdi_error_set(&p->err, -EBUSY, "shut down the maintenance desktop first (%s runs)",
				     p->maintenance_domain);
	return 0;
}

void broker_publish_work(void *data)
{
	struct broker_publish *p = data;
	const char *format;
	uint64_t size;

	p->result = pool_image_probe(p->source, &format, &size, &p->err);
	if (p->result >= 0)
		p->result = p->maintenance_id > 0 ? check_shut_off(p) : check_unused(p);
	if (p->result >= 0)
		p->result = pool_base_create(p->host, p->template, p->version, p->source, &p->path, &p->err);
}

int broker_publish_finish(struct broker_publish *p, struct vdi_error *err)
{
	struct broker_desks *d = p->d;
	int r;

	if (p->result >= 0) {
		r = p->maintenance_id > 0 ? broker_store_version_made_from_maintenance(d->store, p->template, p->version,
										       p->path, p->host_uri,
										       p->maintenance_id, vdi_clock_wall())
					  : broker_store_version_made(d->store, p->template, p->version, p->path,
								      p->host_uri, vdi_clock_wall());
		if (r < 0) {
			/* The base is there but no row names it: the stray-base reconcile removes it. */
			vdi_error_set(&p->err, r, "base %s is made but cannot be recorded: %s", p->path, strerror(-r));
			p->result = r;
		}
	}
	if (p->result < 0) {
		if (!p->err.message[0])
			vdi_error_set(&p->err, p->result, "%s", strerror(-p->result));
		(void)broker_store_version_drop(d->store, p->template, p->version);
		/* The maintenance desktop stays as it was, for another try. */
		if (p->maintenance_id > 0)
			(void)broker_store_maintenance_set_state(d->store, p->maintenance_id, "publishing",
								 p->maintenance_runs ? "running" : "stopped", NULL, NULL,
								 vdi_clock_wall());
		audit(d, p->actor, p->template, "version %lld from %s failed: %s", (long long)p->version, p->source,
		      p->err.message);
		if (err)
			*err = p->err;
		return p->result;
	}
	audit(d, p->actor, p->template, "version %lld from %s%s%s%s", (long long)p->version,
	      p->maintenance_id > 0 ? "the maintenance desktop's " : "", p->source, p->note ? ": " : "",
	      p->note ? p->note : "");
	/* Its work is the new version now: it goes. */
	if (p->maintenance_id > 0) {
		char why[64];

		snprintf(why, sizeof(why), "published as version %lld", (long long)p->version);
		broker_maintenance_remove(d, p->maintenance_id, p->actor, why);
	}
	/* Placement learns which hosts read the new base; the rollout starts at once. */
	broker_hosts_look(d);
	d->kick(d);
	return 0;
}

int broker_publish_cancel(struct broker_desks *d, const char *template, const char *actor, int64_t *ret_version)
{
	int r = broker_store_version_scheduled(d->store, template, ret_version, NULL);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = broker_store_version_drop(d->store, template, *ret_version);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	audit(d, actor, template, "version %lld cancelled", (long long)*ret_version);
	return 0;
}

/* ---- scheduled publishes -------------------------------------------------------------------- */

static void due_done(void *data, int cancelled)
{
	struct broker_publish *p = data;

	/* Cancelled: the broker is stopping; the next start's recovery takes the reservation back. */
	if (!cancelled)
		(void)broker_publish_finish(p, NULL);
	broker_publish_free(p);
}

/* The scheduled publish p (taken) of a version that is "making" now runs on a worker. */
static void submit_due(struct broker_desks *d, struct broker_publish *p)
{
	if (vdi_workers_submit(d->workers, broker_publish_work, due_done, p) < 0) {
		if (p->maintenance_id > 0)
			unclaim(d, p->maintenance_id);
		(void)broker_store_version_postpone(d->store, p->template, p->version, vdi_clock_wall());
		broker_publish_free(p);
		return;
	}
	vdi_info("template %s: publishing scheduled version %lld", p->template, (long long)p->version);
}

static void start_due(struct broker_desks *d, struct broker_host_slot *slot, json_t *row)
{
	struct broker_publish *p = NULL;
	const char *template = broker_jstr(row, "template");
	int64_t version = broker_jint(row, "version");

	if (publish_alloc(d, slot->host, template, version, broker_jstr(row, "source"), broker_jstr(row, "note"),
			  "schedule", &p) < 0)
		return; /* tried again at the next tick */
	if (broker_store_version_begin(d->store, template, version) <= 0) {
		broker_publish_free(p);
		return;
	}
	submit_due(d, p);
}

/* A scheduled publish that cannot be made: the version is taken back, and the audit says why. */
static void due_refused(struct broker_desks *d, const char *template, int64_t version, const struct vdi_error *err)
{
	if (broker_store_version_drop(d->store, template, version) <= 0)
		return;
	vdi_warn("template %s: scheduled version %lld is not published: %s", template, (long long)version, err->message);
	audit(d, "schedule", template, "version %lld failed: %s", (long long)version, err->message);
}

/* A publish from a maintenance desktop was scheduled: the checks of a publish now are made when it is due. */
static void start_due_maintenance(struct broker_desks *d, json_t *due)
{
	_cleanup_json_ json_t *row = NULL;
	const char *template = broker_jstr(due, "template");
	int64_t version = broker_jint(due, "version");
	struct broker_publish *p = NULL;
	struct broker_host_slot *slot;
	struct vdi_error err = { 0 };
	int r = broker_store_maintenance_get(d->store, broker_jint(due, "maintenance_id"), &row);

	if (r < 0)
		return; /* tried again at the next tick */
	r = r == 0 ? vdi_error_set(&err, -ENOENT, "its maintenance desktop is gone")
		   : maintenance_refuses(d, template, row, &err);
	if (r < 0) {
		due_refused(d, template, version, &err);
		return;
	}
	/* Its host does not answer (or the desktop changed meanwhile): tried again at the next tick. */
	if (claim(d, template, row, &slot, &err) < 0)
		return;
	if (maintenance_alloc(d, slot->host, template, version, row, broker_jstr(due, "note"), "schedule", &p) < 0 ||
	    broker_store_version_begin(d->store, template, version) <= 0) {
		unclaim(d, broker_jint(row, "id"));
		broker_publish_free(p);
		return;
	}
	submit_due(d, p);
}

void broker_publish_due(struct broker_desks *d)
{
	_cleanup_json_ json_t *rows = NULL;
	struct broker_host_slot *slot;
	size_t i;
	json_t *row;

	if (broker_store_versions_due(d->store, vdi_clock_wall(), &rows) <= 0)
		return;
	/* A disk's version goes to a host that takes desktops; a maintenance desktop's is made where that
	 * desktop is (claim() asks its host, draining or not).  No such host: they stay scheduled. */
	slot = publish_slot(d);
	json_array_foreach(rows, i, row) {
		if (broker_jint(row, "maintenance_id") > 0)
			start_due_maintenance(d, row);
		else if (slot)
			start_due(d, slot, row);
	}
}
