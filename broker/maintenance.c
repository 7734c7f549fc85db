/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "maintenance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "pool-net.h"
#include "random.h"
#include "store-catalog.h"
#include "store-maintenance.h"
#include "store-versions.h"
#include "store.h"
#include "template-cache.h"
#include "vmpool.h"
#include "workers.h"

/* Ids are drawn from [1, 2^40): 13 digits at most in the domain's name. */
#define ID_BITS 40
#define ID_TRIES 5

enum maint_op {
	MAINT_CREATE, /* make and boot (a new one) */
	MAINT_START,  /* boot (a stopped one) */
	MAINT_DELETE, /* destroy, undefine, delete its overlay */
};

struct broker_maintenance_job {
	struct broker_desks *d;
	enum maint_op op;
	int64_t id;
	bool row;          /* id has a row (false: an orphan domain's delete) */
	bool tracked;      /* in d->maint_busy until finished */
	bool template_job; /* counted in d->template_jobs (bases.c deletes no base meanwhile) */
	int64_t version;
	char template[80];
	char domain[128];
	char actor[128];
	char why[256];     /* MAINT_DELETE: for the audit */
	struct pool_host *host;
	char *tpl_disk, *tpl_xml;
	struct pool_nic nic; /* MAINT_CREATE: the template's network, never isolated, no bandwidth limit */
	/* results */
	int result;        /* -ECANCELED until the work ran */
	char *disk;        /* MAINT_CREATE: its overlay's path */
	struct vdi_error err;
};

int broker_maintenance_domain(int64_t id, char *buf, size_t len)
{
	return pool_domain_name(BROKER_MAINTENANCE_POOL, id, buf, len);
}

bool broker_maintenance_is_pool(const char *pool)
{
	return streq_ptr(pool, BROKER_MAINTENANCE_POOL);
}

bool broker_maintenance_busy(struct broker_desks *d, int64_t id)
{
	return broker_id_set_has(&d->maint_busy, id);
}

int64_t broker_maintenance_job_id(const struct broker_maintenance_job *j)
{
	return j->id;
}

/* Audit records of this file are "template-edit" records about a template. */
#define audit(d, actor, template, ...) broker_desks_audit_template(d, "template-edit", actor, template, __VA_ARGS__)

/* A job has it, or had it while the listing under way was taken: what the listing says is stale. */
static void touch(struct broker_desks *d, int64_t id)
{
	if (d->reconciling && broker_id_set_add(&d->maint_touched, id) < 0)
		d->maint_touched_lost = true;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

static void job_free(struct broker_maintenance_job *j)
{
	if (!j)
		return;
	free(j->tpl_disk);
	free(j->tpl_xml);
	free(j->disk);
	free(j);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct broker_maintenance_job *, job_free)

static int job_new(struct broker_desks *d, enum maint_op op, int64_t id, const char *template, const char *actor,
		   struct pool_host *host, struct broker_maintenance_job **ret)
{
	_cleanup_(job_freep) struct broker_maintenance_job *j = vdi_new0(struct broker_maintenance_job);

	if (!j)
		return -ENOMEM;
	*j = (struct broker_maintenance_job){ .d = d, .op = op, .id = id, .row = true, .host = host,
					      .result = -ECANCELED };
	snprintf(j->template, sizeof(j->template), "%s", template ? template : "");
	snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "broker");
	if (broker_maintenance_domain(id, j->domain, sizeof(j->domain)) < 0)
		return -EINVAL;
	if (!host)
		return -ENODEV;
	*ret = TAKE_PTR(j);
	return 0;
}

/* The job has maintenance desktop id until it is finished. */
static int job_track(struct broker_maintenance_job *j)
{
	int r = broker_id_set_add(&j->d->maint_busy, j->id);

	if (r < 0)
		return r;
	j->tracked = true;
	return 0;
}

/* On a worker: makes and boots it; a boot that fails takes what was made with it. */
static void work_create(struct broker_maintenance_job *j)
{
	struct broker_template *t = NULL;
	struct pool_desktop_info info;

	j->result = broker_template_cache_get(j->d->templates, j->template, j->tpl_disk, j->tpl_xml, &t, &j->err);
	if (j->result >= 0)
		j->result = pool_desktop_create_with(j->host, broker_template_pool(t), BROKER_MAINTENANCE_POOL, j->id,
						     &(struct pool_desktop_options){
							     .nic = j->nic.kind == POOL_NIC_TEMPLATE ? NULL : &j->nic,
							     /* the template's own devices, as its admin edits them */
							     .usb_redirect = POOL_USB_REDIRECT_TEMPLATE,
						     },
						     &j->err);
	broker_template_unref(t);
	if (j->result < 0)
		return;
	j->result = pool_desktop_start(j->host, j->domain, &j->err);
	if (j->result < 0) {
		(void)pool_desktop_delete(j->host, j->domain, NULL);
		return;
	}
	/* Its overlay's path, for publish (and the admin). */
	if (pool_desktop_get_info(j->host, j->domain, &info, NULL) >= 0) {
		j->disk = vdi_strdup0(info.overlay_path);
		pool_desktop_info_finish(&info);
	}
}

void broker_maintenance_work(void *data)
{
	struct broker_maintenance_job *j = data;

	switch (j->op) {
	case MAINT_CREATE:
		work_create(j);
		break;
	case MAINT_START:
		j->result = pool_desktop_start(j->host, j->domain, &j->err);
		break;
	case MAINT_DELETE:
		j->result = pool_desktop_delete(j->host, j->domain, &j->err);
		break;
	}
}

static const char *job_error(struct broker_maintenance_job *j)
{
	if (!j->err.message[0])
		vdi_error_set(&j->err, j->result, "%s", strerror(-j->result));
	return j->err.message;
}

static void create_done(struct broker_desks *d, struct broker_maintenance_job *j)
{
	int64_t now = vdi_clock_wall();

	if (j->result < 0) {
		/* vmpool left nothing behind: neither does the store. */
		(void)broker_store_maintenance_remove(d->store, j->id);
		audit(d, j->actor, j->template, "could not start on version %lld: %s", (long long)j->version, job_error(j));
		return;
	}
	(void)broker_store_maintenance_set_state(d->store, j->id, "provisioning", "running", j->disk, NULL, now);
	audit(d, j->actor, j->template, "started on version %lld: %s on %s", (long long)j->version, j->domain,
	      pool_host_uri(j->host));
}

static void start_done(struct broker_desks *d, struct broker_maintenance_job *j)
{
	int64_t now = vdi_clock_wall();

	if (j->result < 0) {
		(void)broker_store_maintenance_set_state(d->store, j->id, "starting", "stopped", NULL, job_error(j), now);
		audit(d, j->actor, j->template, "could not start %s again: %s", j->domain, j->err.message);
		return;
	}
	(void)broker_store_maintenance_set_state(d->store, j->id, "starting", "running", NULL, NULL, now);
	audit(d, j->actor, j->template, "started %s again", j->domain);
}

static void delete_done(struct broker_desks *d, struct broker_maintenance_job *j)
{
	if (j->result < 0) {
		vdi_warn("cannot remove maintenance desktop %s: %s", j->domain, job_error(j));
		if (j->row)
			(void)broker_store_maintenance_set_state(d->store, j->id, NULL, "deleting", NULL, j->err.message,
								 vdi_clock_wall());
		return;
	}
	if (!j->row) {
		vdi_info("reconcile: deleted %s, a maintenance desktop no row owns", j->domain);
		return;
	}
	(void)broker_store_maintenance_remove(d->store, j->id);
	audit(d, j->actor, j->template, "%s%s%s removed", j->why, j->why[0] ? ": " : "", j->domain);
}

int broker_maintenance_finish(struct broker_maintenance_job *j, struct vdi_error *err)
{
	struct broker_desks *d = j->d;
	int r = j->result;

	if (j->tracked) {
		broker_id_set_remove(&d->maint_busy, j->id);
		touch(d, j->id);
	}
	if (j->template_job)
		d->template_jobs--;
	/* The work never ran (the broker is stopping): the next start's reconcile finishes it. */
	if (r != -ECANCELED) {
		if (j->op == MAINT_CREATE)
			create_done(d, j);
		else if (j->op == MAINT_START)
			start_done(d, j);
		else
			delete_done(d, j);
	}
	if (r < 0 && err) {
		job_error(j);
		*err = j->err;
	}
	job_free(j);
	return r;
}

static void background_done(void *data, int cancelled)
{
	(void)cancelled;
	(void)broker_maintenance_finish(data, NULL);
}

/* Runs a job nobody waits for. */
static void background(struct broker_maintenance_job *j)
{
	if (vdi_workers_submit(j->d->workers, broker_maintenance_work, background_done, j) < 0)
		(void)broker_maintenance_finish(j, NULL); /* -ECANCELED: the next reconcile tries again */
}

/* ---- requests --------------------------------------------------------------------------------- */

static int new_id(int64_t *ret)
{
	uint64_t v = 0;
	int r = vdi_random_bytes(&v, sizeof(v));

	if (r < 0)
		return r;
	v &= ((uint64_t)1 << ID_BITS) - 1;
	*ret = v ? (int64_t)v : 1;
	return 0;
}

/* Its row, with an id no maintenance desktop has (*ret: new). */
static int add_row(struct broker_desks *d, const char *template, const char *uri, const char *actor, json_t **ret,
		   struct vdi_error *err)
{
	int r = -EADDRINUSE;

	for (int i = 0; i < ID_TRIES && r == -EADDRINUSE; i++) {
		int64_t id;

		r = new_id(&id);
		if (r < 0)
			return vdi_error_set(err, r, "no randomness for a maintenance desktop's id");
		r = broker_store_maintenance_add(d->store, template, id, uri, actor, vdi_clock_wall(), ret, err);
	}
	return r;
}

int broker_maintenance_new(struct broker_desks *d, const char *template, const char *actor,
			   struct broker_maintenance_job **ret, struct vdi_error *err)
{
	_cleanup_(job_freep) struct broker_maintenance_job *j = NULL;
	_cleanup_json_ json_t *row = NULL;
	char network[BROKER_NETWORK_VALUE_MAX];
	struct pool_nic nic = { .kind = POOL_NIC_TEMPLATE };
	const char *uri;
	int r;

	r = broker_store_template_network(d->store, template, network, sizeof(network));
	if (r == -ENOENT)
		return vdi_error_set(err, -ENOENT, "no such template \"%s\"", template);
	if (r < 0)
		return vdi_error_set(err, r, "cannot read template \"%s\"", template);
	/* The template's network (the API checked it), as it is: neither isolated nor limited. */
	if (r > 0 && pool_nic_parse(network, &nic, err) < 0)
		return -EINVAL;
	/* Where a new desktop of the template would go: a host that reads its disk, has room and its network. */
	uri = broker_hosts_place(d, template, broker_network_libvirt_name(r > 0 ? network : NULL));
	if (!uri)
		return vdi_error_set(err, -EHOSTUNREACH, "no host can take a desktop of template \"%s\" now", template);
	r = add_row(d, template, uri, actor, &row, err);
	if (r < 0)
		return r;
	r = job_new(d, MAINT_CREATE, broker_jint(row, "id"), template, actor, broker_hosts_find(d, uri), &j);
	if (r >= 0) {
		j->version = broker_jint(row, "version");
		j->tpl_disk = strdup(broker_jstr(row, "disk_path"));
		j->tpl_xml = strdup(broker_jstr(row, "xml"));
		j->nic = nic;
		if (!j->tpl_disk || !j->tpl_xml)
			r = -ENOMEM;
	}
	if (r >= 0)
		r = job_track(j);
	if (r < 0) {
		(void)broker_store_maintenance_remove(d->store, broker_jint(row, "id"));
		return vdi_error_set(err, r, "cannot prepare the maintenance desktop: %s", strerror(-r));
	}
	j->template_job = true;
	d->template_jobs++;
	*ret = TAKE_PTR(j);
	return 0;
}

/* Template's maintenance desktop (*ret: new), or -ENOENT. */
static int find(struct broker_desks *d, const char *template, json_t **ret, struct vdi_error *err)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_maintenance_list(d->store, template, &rows);

	if (r < 0)
		return vdi_error_set(err, r, "cannot read the maintenance desktops");
	if (r == 0)
		return vdi_error_set(err, -ENOENT, "template \"%s\" has no maintenance desktop", template);
	*ret = json_incref(json_array_get(rows, 0));
	return 0;
}

/* Discarding what a scheduled publish is to take is refused: the admin cancels that first. */
static int refuse_scheduled(struct broker_desks *d, const char *template, int64_t id, struct vdi_error *err)
{
	int64_t version, from = 0;
	int r = broker_store_version_scheduled(d->store, template, &version, &from);

	if (r < 0)
		return vdi_error_set(err, r, "cannot read the versions of template \"%s\"", template);
	if (r > 0 && from == id)
		return vdi_error_set(err, -EBUSY,
				     "version %lld of template \"%s\" is scheduled to be published from its maintenance"
				     " desktop: cancel that publish first",
				     (long long)version, template);
	return 0;
}

/* A job of op on template's maintenance desktop, which moves from state from (NULL: any but
 * "publishing") to to. */
static int job_on(struct broker_desks *d, enum maint_op op, const char *template, const char *actor,
		  const char *from, const char *to, struct broker_maintenance_job **ret, struct vdi_error *err)
{
	_cleanup_(job_freep) struct broker_maintenance_job *j = NULL;
	_cleanup_json_ json_t *row = NULL;
	const char *state;
	int64_t id;
	int r;

	r = find(d, template, &row, err);
	if (r < 0)
		return r;
	id = broker_jint(row, "id");
	state = broker_jstr(row, "state");
	if (broker_maintenance_busy(d, id) || streq(state, "publishing") || (from && !streq(state, from)))
		return vdi_error_set(err, -EBUSY, "the maintenance desktop of template \"%s\" is %s", template,
				     broker_maintenance_busy(d, id) ? "busy; try again" : state);
	if (op == MAINT_DELETE && (r = refuse_scheduled(d, template, id, err)) < 0)
		return r;
	r = job_new(d, op, id, template, actor, broker_hosts_find(d, broker_jstr(row, "host")), &j);
	if (r == -ENODEV)
		return vdi_error_set(err, -EHOSTUNREACH, "the host of the maintenance desktop, %s, is not configured",
				     broker_jstr(row, "host"));
	if (r < 0)
		return vdi_error_set(err, r, "cannot prepare the job: %s", strerror(-r));
	r = broker_store_maintenance_set_state(d->store, id, state, to, NULL, NULL, vdi_clock_wall());
	if (r <= 0)
		return vdi_error_set(err, r < 0 ? r : -EBUSY, "cannot change the maintenance desktop's state");
	r = job_track(j);
	if (r < 0) {
		(void)broker_store_maintenance_set_state(d->store, id, to, state, NULL, NULL, vdi_clock_wall());
		return vdi_error_set(err, r, "cannot prepare the job: %s", strerror(-r));
	}
	*ret = TAKE_PTR(j);
	return 0;
}

int broker_maintenance_start(struct broker_desks *d, const char *template, const char *actor,
			     struct broker_maintenance_job **ret, struct vdi_error *err)
{
	return job_on(d, MAINT_START, template, actor, "stopped", "starting", ret, err);
}

int broker_maintenance_discard(struct broker_desks *d, const char *template, const char *actor,
			       struct broker_maintenance_job **ret, struct vdi_error *err)
{
	int r = job_on(d, MAINT_DELETE, template, actor, NULL, "deleting", ret, err);

	if (r >= 0)
		snprintf((*ret)->why, sizeof((*ret)->why), "discarded");
	return r;
}

/* A delete in the background of maintenance desktop row (borrowed), "deleting" already. */
static void remove_row(struct broker_desks *d, json_t *row, const char *actor, const char *why)
{
	struct broker_maintenance_job *j = NULL;
	int64_t id = broker_jint(row, "id");

	if (broker_maintenance_busy(d, id) ||
	    job_new(d, MAINT_DELETE, id, broker_jstr(row, "template"), actor, broker_hosts_find(d, broker_jstr(row, "host")),
		    &j) < 0 ||
	    job_track(j) < 0) {
		job_free(j);
		return;
	}
	snprintf(j->why, sizeof(j->why), "%s", why);
	background(j);
}

void broker_maintenance_remove(struct broker_desks *d, int64_t id, const char *actor, const char *why)
{
	_cleanup_json_ json_t *row = NULL;

	if (broker_store_maintenance_get(d->store, id, &row) > 0)
		remove_row(d, row, actor, why);
}

/* ---- libvirt's events -------------------------------------------------------------------------- */

void broker_maintenance_event(struct broker_desks *d, const struct broker_queued_event *ev)
{
	if (ev->type != POOL_EVENT_STOPPED && ev->type != POOL_EVENT_CRASHED)
		return;
	touch(d, ev->id);
	/* A job's own stop (a delete's), or one during a boot: the job's end and reconcile tell. */
	if (broker_maintenance_busy(d, ev->id))
		return;
	if (broker_store_maintenance_set_state(d->store, ev->id, "running", "stopped", NULL, NULL, vdi_clock_wall()) > 0)
		vdi_info("maintenance desktop vdi-%s-%lld stopped", BROKER_MAINTENANCE_POOL, (long long)ev->id);
}

/* ---- reconcile ---------------------------------------------------------------------------------- */

static const struct pool_desktop_info *listed_domain(struct broker_host_listing *l, const char *name)
{
	for (size_t i = 0; i < l->n_domains; i++)
		if (streq(l->domains[i].domain, name))
			return &l->domains[i];
	return NULL;
}

static bool listed_overlay(struct broker_host_listing *l, const char *domain)
{
	char name[160];

	snprintf(name, sizeof(name), "%s.qcow2", domain);
	for (char **o = l->overlays; o && *o; o++)
		if (streq(*o, name))
			return true;
	return false;
}

static bool stale(struct broker_desks *d, int64_t id)
{
	return broker_maintenance_busy(d, id) || broker_id_set_has(&d->maint_touched, id);
}

/* Goes, saying why (what is left of it is deleted). */
static void judge_discard(struct broker_desks *d, json_t *row, const char *why)
{
	(void)broker_store_maintenance_set_state(d->store, broker_jint(row, "id"), NULL, "deleting", NULL, why,
						 vdi_clock_wall());
	remove_row(d, row, "reconcile", why);
}

/* One row against what its host holds; true when it needed a repair. */
static bool judge(struct broker_desks *d, json_t *row, struct broker_host_listing *l)
{
	int64_t id = broker_jint(row, "id"), now = vdi_clock_wall();
	const char *state = broker_jstr(row, "state");
	const struct pool_desktop_info *dom;
	const char *now_state;
	char name[128];

	if (broker_maintenance_domain(id, name, sizeof(name)) < 0 || streq(state, "publishing"))
		return false;
	dom = listed_domain(l, name);
	if (streq(state, "deleting")) {
		remove_row(d, row, "reconcile", "");
		return true;
	}
	if (streq(state, "provisioning")) {
		judge_discard(d, row, "the broker stopped while it was being made");
		return true;
	}
	if (!dom || !listed_overlay(l, name)) {
		judge_discard(d, row, dom ? "its overlay is gone" : "its domain is gone");
		return true;
	}
	/* Started or shut down behind the store's back, or a boot cut short. */
	now_state = dom->state == POOL_DESKTOP_RUNNING || dom->state == POOL_DESKTOP_PAUSED ? "running" : "stopped";
	if (streq(state, now_state))
		return false;
	(void)broker_store_maintenance_set_state(d->store, id, state, now_state, NULL, NULL, now);
	return true;
}

static unsigned judge_rows(struct broker_desks *d, struct broker_job *j)
{
	_cleanup_json_ json_t *rows = NULL;
	unsigned fixed = 0;
	size_t i;
	json_t *row;

	if (broker_store_maintenance_list(d->store, NULL, &rows) < 0)
		return 0;
	json_array_foreach(rows, i, row) {
		struct broker_host_slot *slot = broker_hosts_slot(d, broker_jstr(row, "host"));

		if (!slot || slot->index >= j->n_listings || j->listings[slot->index].result < 0 ||
		    stale(d, broker_jint(row, "id")))
			continue;
		fixed += judge(d, row, &j->listings[slot->index]);
	}
	return fixed;
}

/*
 * A maintenance domain no row owns (a row removed by hand, a broker's crash at the wrong time):
 * deleted when its template is one of this broker's; another broker sharing the host may own
 * the others.  An overlay without its domain names no template: it is left alone.
 */
static bool is_orphan(struct broker_desks *d, const struct pool_desktop_info *info)
{
	_cleanup_json_ json_t *row = NULL;

	if (!broker_maintenance_is_pool(info->pool) || stale(d, info->desktop_id) || !info->template_name ||
	    broker_store_template_exists(d->store, info->template_name) <= 0)
		return false;
	return broker_store_maintenance_get(d->store, info->desktop_id, &row) == 0;
}

static unsigned delete_orphans(struct broker_desks *d, struct broker_job *j)
{
	unsigned n = 0;

	for (size_t h = 0; h < j->n_listings; h++) {
		struct broker_host_listing *l = &j->listings[h];

		for (size_t k = 0; l->result >= 0 && k < l->n_domains; k++) {
			struct broker_maintenance_job *o = NULL;

			if (!is_orphan(d, &l->domains[k]) ||
			    job_new(d, MAINT_DELETE, l->domains[k].desktop_id, l->domains[k].template_name, "reconcile",
				    d->hosts[h].host, &o) < 0)
				continue;
			o->row = false;
			vdi_info("reconcile: deleting %s, a maintenance desktop no row owns", o->domain);
			background(o);
			n++;
		}
	}
	return n;
}

void broker_maintenance_reconcile(struct broker_desks *d, struct broker_job *listing, bool apply)
{
	if (apply && !d->maint_touched_lost) {
		unsigned fixed = judge_rows(d, listing), orphans = delete_orphans(d, listing);

		if (fixed || orphans)
			vdi_info("reconcile: %u maintenance desktops repaired, %u orphans deleted", fixed, orphans);
	}
	d->maint_touched.n = 0;
	d->maint_touched_lost = false;
}

void broker_maintenance_recover(struct broker_desks *d)
{
	int r = broker_store_maintenance_recover(d->store, vdi_clock_wall());

	if (r > 0)
		vdi_info("%d maintenance desktops were being published when the broker stopped: stopped again", r);
}

void broker_maintenance_free(struct broker_desks *d)
{
	free(d->maint_busy.ids);
	free(d->maint_touched.ids);
	d->maint_busy = (struct broker_id_set){ 0 };
	d->maint_touched = (struct broker_id_set){ 0 };
}
