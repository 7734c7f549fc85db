/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "config.h"
#include "desktops-private.h"
#include "hosts.h"
#include "json.h"
#include "pool-bandwidth.h"
#include "pool-net.h"
#include "store-desktops.h"
#include "template-cache.h"
#include "workers.h"

static const char *const op_names[] = {
	[BROKER_JOB_CREATE] = "create", [BROKER_JOB_START] = "start", [BROKER_JOB_RESET] = "reset",
	[BROKER_JOB_SHUTDOWN] = "stop", [BROKER_JOB_DELETE] = "delete", [BROKER_JOB_CHECK] = "check",
	[BROKER_JOB_RECONCILE] = "reconcile", [BROKER_JOB_REBUILD] = "rebuild", [BROKER_JOB_RESUME] = "resume",
	[BROKER_JOB_RECOMPOSE] = "recompose",
};

const char *broker_job_op_name(enum broker_job_op op)
{
	return op < ELEMENTSOF(op_names) ? op_names[op] : "?";
}

/* ---- sets of desktop ids ------------------------------------------------------------------ */

bool broker_id_set_has(const struct broker_id_set *set, int64_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ids[i] == id)
			return true;
	return false;
}

int broker_id_set_add(struct broker_id_set *set, int64_t id)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		int64_t *n = vdi_reallocarray(set->ids, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		set->ids = n;
		set->cap = cap;
	}
	set->ids[set->n++] = id;
	return 0;
}

void broker_id_set_remove(struct broker_id_set *set, int64_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ids[i] == id) {
			set->ids[i] = set->ids[--set->n];
			return;
		}
}

bool broker_desks_busy(struct broker_desks *d, int64_t id)
{
	return broker_id_set_has(&d->busy, id);
}

bool broker_state_is_running(const char *state)
{
	return state && (streq(state, "free") || streq(state, "assigned") || streq(state, "connected") ||
			 streq(state, "disconnected"));
}

/* ---- the work, on a worker ---------------------------------------------------------------- */

void broker_job_free(struct broker_job *j)
{
	if (!j)
		return;
	free(j->tpl_name);
	free(j->tpl_disk);
	free(j->tpl_xml);
	for (size_t i = 0; i < j->n_listings; i++) {
		pool_desktop_list_free(j->listings[i].domains, j->listings[i].n_domains);
		pool_strv_free(j->listings[i].overlays);
	}
	free(j->listings);
	free(j);
}

/* The job's template, from the cache (a reference in *ret). */
static int job_template(struct broker_job *j, struct broker_template **ret)
{
	return broker_template_cache_get(j->d->templates, j->tpl_name, j->tpl_disk, j->tpl_xml, ret, &j->err);
}

/* Resumes the desktop when it is paused on a disk error; j->state says what it is after. */
static void job_resume(struct broker_job *j)
{
	struct pool_desktop_info info;

	j->result = pool_desktop_get_info(j->host, j->domain, &info, &j->err);
	if (j->result < 0)
		return;
	j->state = info.state;
	j->pause_reason = info.pause_reason;
	pool_desktop_info_finish(&info);
	if (j->state != POOL_DESKTOP_PAUSED || !broker_pause_is_resumable(j->pause_reason))
		return;
	j->result = pool_desktop_resume(j->host, j->domain, &j->err);
	if (j->result >= 0) {
		j->state = POOL_DESKTOP_RUNNING;
		j->pause_reason = POOL_PAUSE_NONE;
	} else if (j->result == -EAGAIN && pool_desktop_get_info(j->host, j->domain, &info, NULL) >= 0) {
		/* Paused again: libvirt now tells a full disk from another error. */
		j->pause_reason = info.pause_reason;
		pool_desktop_info_finish(&info);
	}
}

/* What a desktop of the job's pool gets besides its overlay. */
static struct pool_desktop_options job_desktop_options(const struct broker_job *j)
{
	return (struct pool_desktop_options){
		.data_disk_bytes = (uint64_t)j->data_disk_mib << 20,
		.nic = j->nic.kind == POOL_NIC_TEMPLATE ? NULL : &j->nic,
		.usb_redirect = j->usb_redirect,
		.heads = j->heads,
	};
}

/* Deletes what is left of a half-made clone and clones again.  libvirtd may still be finishing a
 * definition a killed broker asked for: then the domain appears after the delete; delete it again. */
static void job_rebuild(struct broker_job *j, const struct pool_template *t)
{
	struct pool_desktop_options o = job_desktop_options(j);

	for (int attempt = 0; j->result >= 0 && attempt < 3; attempt++) {
		if (attempt)
			usleep(200 * 1000);
		j->result = pool_desktop_delete(j->host, j->domain, &j->err);
		if (j->result >= 0)
			j->result = pool_desktop_create_with(j->host, t, j->pool, j->id, &o, &j->err);
		if (j->result != -EEXIST)
			break;
	}
}

static void job_list(struct broker_job *j)
{
	for (size_t i = 0; i < j->n_listings; i++) {
		struct broker_host_listing *l = &j->listings[i];
		struct pool_host *h = j->d->hosts[i].host;

		l->result = pool_desktop_list(h, &l->domains, &l->n_domains, &l->err);
		if (l->result >= 0)
			l->result = pool_overlay_list(h, &l->overlays, &l->err);
	}
	j->result = 0;
}

static void job_check(struct broker_job *j)
{
	struct pool_desktop_info info;

	j->result = pool_desktop_get_info(j->host, j->domain, &info, &j->err);
	if (j->result >= 0) {
		j->state = info.state;
		pool_desktop_info_finish(&info);
	}
}

/* A stopped desktop takes its pool's network and USB redirection channels as they are now: a desktop follows
 * changed ones at its next reset or recompose. */
static void job_follow_pool(struct broker_job *j)
{
	j->result = pool_desktop_set_nic(j->host, j->domain, job_desktop_options(j).nic, &j->err);
	if (j->result >= 0)
		j->result = pool_desktop_set_usb_redirect(j->host, j->domain, j->usb_redirect, &j->err);
}

/* A persistent desktop onto the current version: shut down as a stop does, a fresh overlay, its data disk
 * as its pool gives one now (made when it has none, grown when it is smaller). */
static void job_recompose(struct broker_job *j, const struct pool_template *t)
{
	j->result = pool_desktop_shutdown(j->host, j->domain, j->shutdown_ms, &j->err);
	if (j->result >= 0)
		j->result = pool_desktop_reset_flags(j->host, t, j->domain, POOL_RESET_KEEP_FIRMWARE, &j->err);
	if (j->result >= 0)
		job_follow_pool(j);
	if (j->result >= 0 && j->data_disk_mib > 0)
		j->result = pool_desktop_data_disk(j->host, j->domain, (uint64_t)j->data_disk_mib << 20, &j->err);
}

static bool op_needs_template(enum broker_job_op op)
{
	return op == BROKER_JOB_CREATE || op == BROKER_JOB_REBUILD || op == BROKER_JOB_RESET ||
	       op == BROKER_JOB_RECOMPOSE;
}

static void job_work(void *data)
{
	struct broker_job *j = data;
	struct broker_template *t = NULL;
	bool needs_template = op_needs_template(j->op);

	j->start_result = 0;
	j->result = needs_template ? job_template(j, &t) : 0;
	if (j->result < 0)
		goto out;
	switch (j->op) {
	case BROKER_JOB_CREATE: {
		struct pool_desktop_options o = job_desktop_options(j);

		j->result = pool_desktop_create_with(j->host, broker_template_pool(t), j->pool, j->id, &o, &j->err);
		break;
	}
	case BROKER_JOB_REBUILD:
		job_rebuild(j, broker_template_pool(t));
		break;
	case BROKER_JOB_RESET:
		/* A pooled desktop's next user gets nothing of the last one's: disk, NVRAM, TPM state.  A persistent
		 * desktop reset by an admin (or whose recompose a restart cut short) stays its owner's: a fresh disk,
		 * its NVRAM and TPM (BitLocker keys, Windows Hello) kept, as a recompose keeps them. */
		j->result = pool_desktop_reset_flags(j->host, broker_template_pool(t), j->domain,
						     j->persistent ? POOL_RESET_KEEP_FIRMWARE : 0, &j->err);
		if (j->result >= 0)
			job_follow_pool(j);
		break;
	case BROKER_JOB_RECOMPOSE:
		job_recompose(j, broker_template_pool(t));
		break;
	case BROKER_JOB_START:
		j->result = pool_desktop_start(j->host, j->domain, &j->err);
		break;
	case BROKER_JOB_SHUTDOWN:
		j->result = pool_desktop_shutdown(j->host, j->domain, j->shutdown_ms, &j->err);
		break;
	case BROKER_JOB_DELETE:
		j->result = pool_desktop_delete(j->host, j->domain, &j->err);
		break;
	case BROKER_JOB_CHECK:
		job_check(j);
		break;
	case BROKER_JOB_RESUME:
		job_resume(j);
		break;
	case BROKER_JOB_RECONCILE:
		job_list(j);
		break;
	}
	if (needs_template && j->result >= 0 && j->start)
		j->start_result = pool_desktop_start(j->host, j->domain, &j->err);
out:
	broker_template_unref(t);
}

/* ---- on the loop ------------------------------------------------------------------------- */

static void job_done(void *data, int cancelled)
{
	struct broker_job *j = data;
	struct broker_desks *d = j->d;

	if (j->tpl_name)
		d->template_jobs--;
	if (j->op != BROKER_JOB_RECONCILE) {
		broker_id_set_remove(&d->busy, j->id);
		/* What libvirt held when the listing was taken may be older than this. */
		if (d->reconciling && broker_id_set_add(&d->touched, j->id) < 0)
			d->touched_lost = true;
	}
	/* A bandwidth change while the job ran went by it (or the job wrote the old limit back). */
	if (!cancelled && j->result >= 0 && op_needs_template(j->op) && j->nic.kind != POOL_NIC_TEMPLATE &&
	    j->nic.kind != POOL_NIC_USER)
		broker_pool_bandwidth_catch_up(d, j->pool, j->id, j->host ? pool_host_uri(j->host) : NULL,
					       j->nic.bandwidth_kbps);
	j->done(j, cancelled);
	/* The broker is stopping: the next start's reconcile finishes what this left. */
	if (!cancelled && d->job_finished)
		d->job_finished(d, j);
	broker_job_free(j);
}

struct broker_job *broker_job_new(struct broker_desks *d, enum broker_job_op op, int64_t id, const char *actor,
				  void (*done)(struct broker_job *j, bool cancelled))
{
	struct broker_job *j = vdi_new0(struct broker_job);

	if (!j)
		return NULL;
	j->d = d;
	j->op = op;
	j->id = id;
	j->done = done;
	j->shutdown_ms = (unsigned)d->cfg->libvirt.shutdown_timeout * 1000;
	snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "broker");
	return j;
}

int broker_job_run(struct broker_job *j)
{
	return vdi_workers_submit(j->d->workers, job_work, job_done, j);
}

/* Fills j from the desktop's row (borrowed). */
static int job_fill(struct broker_job *j, json_t *row)
{
	snprintf(j->pool, sizeof(j->pool), "%s", broker_jstr(row, "pool"));
	j->host = broker_hosts_find(j->d, broker_jstr(row, "host"));
	if (pool_domain_name(j->pool, j->id, j->domain, sizeof(j->domain)) < 0)
		return -EINVAL;
	if (op_needs_template(j->op)) {
		j->tpl_version = broker_jint(row, "version");
		if (j->tpl_version < 1)
			return -EINVAL; /* a row without its template's version: the job could not record it */
		j->data_disk_mib = broker_jint(row, "data_disk_mib");
		j->persistent = broker_jint(row, "persistent") != 0;
		/* A row without the column (none should lack it): the template's own channels, as before pools had it. */
		j->usb_redirect = json_object_get(row, "usb_redirect") ? (int)broker_jint(row, "usb_redirect")
								       : POOL_USB_REDIRECT_TEMPLATE;
		/* A row without the column (none should lack it): the template's XML's video, as before heads. */
		j->heads = json_object_get(row, "heads") ? (int)broker_jint(row, "heads") : 1;
		if (broker_pool_nic_from_row(row, &j->nic, &j->err) < 0)
			return -EINVAL; /* stored settings that do not go together: the API refuses them */
		j->tpl_name = strdup(broker_jstr(row, "template"));
		j->tpl_disk = strdup(broker_jstr(row, "disk_path"));
		j->tpl_xml = strdup(broker_jstr(row, "xml"));
		if (!j->tpl_name || !j->tpl_disk || !j->tpl_xml)
			return -ENOMEM;
	}
	return j->host ? 0 : -ENODEV;
}

int broker_job_submit(struct broker_desks *d, enum broker_job_op op, int64_t id, json_t *row_in, bool start,
		      bool keeper, const char *actor, void (*done)(struct broker_job *j, bool cancelled))
{
	_cleanup_json_ json_t *row = row_in ? json_incref(row_in) : broker_desktop_row(d, id);
	struct broker_job *j;
	int r;

	if (!row)
		return -ENOENT;
	if (broker_desks_busy(d, id))
		return -EBUSY;
	j = broker_job_new(d, op, id, actor, done);
	if (!j)
		return -ENOMEM;
	j->start = start;
	j->keeper = keeper;
	r = job_fill(j, row);
	if (r >= 0)
		r = broker_id_set_add(&d->busy, id);
	if (r < 0) {
		broker_job_free(j);
		return r;
	}
	r = broker_job_run(j);
	if (r < 0) {
		broker_id_set_remove(&d->busy, id);
		broker_job_free(j);
		return r;
	}
	/* Counted until job_done(): the job may clone from a version no desktop row names yet. */
	if (j->tpl_name)
		d->template_jobs++;
	/* A new clone is on its version from now on: a broker killed meanwhile finds the desktop made, or
	 * rebuilds it, and either way the row says which base its overlay needs (a reset's row keeps the
	 * old version until the old overlay is gone: made_fresh()). */
	if (op == BROKER_JOB_CREATE || op == BROKER_JOB_REBUILD)
		(void)broker_store_desktop_set_version(d->store, id, j->tpl_version);
	return 0;
}

json_t *broker_desktop_row(struct broker_desks *d, int64_t id)
{
	json_t *row = NULL;

	(void)broker_store_desktop_get(d->store, id, &row);
	return row;
}
