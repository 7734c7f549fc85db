/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "reconcile.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops-private.h"
#include "hosts.h"
#include "jobs.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "maintenance.h"
#include "paused.h"
#include "reconcile-table.h"
#include "store-desktops.h"
#include "store.h"
#include "viewers.h"

static void reconcile_done(struct broker_job *j, bool cancelled);

void broker_reconcile_start(struct broker_desks *d)
{
	struct broker_job *j;

	if (d->reconciling)
		return;
	j = broker_job_new(d, BROKER_JOB_RECONCILE, -1, "broker", reconcile_done);
	if (!j)
		return;
	j->listings = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(struct broker_host_listing));
	j->n_listings = d->n_hosts;
	if (!j->listings || broker_job_run(j) < 0) {
		broker_job_free(j);
		return;
	}
	d->reconciling = true;
	d->last_reconcile = vdi_clock_steady();
}

static const struct pool_desktop_info *find_domain(struct broker_job *j, size_t host, const char *name)
{
	struct broker_host_listing *l = &j->listings[host];

	for (size_t i = 0; i < l->n_domains; i++)
		if (streq(l->domains[i].domain, name))
			return &l->domains[i];
	return NULL;
}

static bool find_overlay(struct broker_job *j, size_t host, const char *domain)
{
	char name[160];

	snprintf(name, sizeof(name), "%s.qcow2", domain);
	for (char **o = j->listings[host].overlays; o && *o; o++)
		if (streq(*o, name))
			return true;
	return false;
}

/* The listing says nothing reliable of desktop id: a job has it, or had it while the listing was taken. */
static bool stale(struct broker_desks *d, int64_t id)
{
	return broker_desks_busy(d, id) || broker_id_set_has(&d->touched, id);
}

/* ---- the rows ------------------------------------------------------------------------------ */

static void facts_of(json_t *row, const struct pool_desktop_info *dom, bool overlay, struct broker_reconcile_facts *f)
{
	*f = (struct broker_reconcile_facts){
		.state = broker_jstr(row, "state"),
		.owner = broker_jstr(row, "owner") != NULL,
		.persistent = broker_jint(row, "persistent"),
		.paused_from = broker_jstr(row, "paused_from") != NULL,
		.domain = dom != NULL,
		.overlay = overlay,
		.run = BROKER_RUN_STOPPED,
	};
	if (dom && dom->state == POOL_DESKTOP_PAUSED && broker_pause_is_halt(dom->pause_reason))
		f->run = BROKER_RUN_HALTED;
	else if (dom && (dom->state == POOL_DESKTOP_RUNNING || dom->state == POOL_DESKTOP_PAUSED))
		f->run = BROKER_RUN_RUNNING;
}

static void submit(struct broker_desks *d, enum broker_job_op op, int64_t id, json_t *row, bool start)
{
	(void)broker_job_submit(d, op, id, row, start, false, "reconcile", broker_lifecycle_job_done);
}

static void set_state(struct broker_desks *d, int64_t id, const char *state)
{
	(void)broker_store_desktop_force_state(d->store, id, state);
}

/* Does what the table decided for row; returns whether it counts as a repair. */
static bool act(struct broker_desks *d, json_t *row, enum broker_reconcile_action a, const struct broker_reconcile_facts *f,
		const struct pool_desktop_info *dom)
{
	int64_t id = broker_jint(row, "id");

	switch (a) {
	case BROKER_RECONCILE_NOTHING:
		return false;
	case BROKER_RECONCILE_DELETE:
		submit(d, BROKER_JOB_DELETE, id, row, false);
		return true;
	case BROKER_RECONCILE_REBUILD:
		submit(d, BROKER_JOB_REBUILD, id, row, true);
		return true;
	case BROKER_RECONCILE_BROKEN:
		(void)broker_store_desktop_mark_broken(d->store, id, f->domain ? "its overlay is missing" : "its domain is missing");
		broker_desks_audit(d, "reconcile", "error", id, f->domain ? "overlay missing" : "domain missing");
		return true;
	case BROKER_RECONCILE_DISCARD:
		set_state(d, id, "deleting");
		submit(d, BROKER_JOB_DELETE, id, row, false);
		return true;
	case BROKER_RECONCILE_PAUSED:
		return broker_paused_mark(d, row, dom->pause_reason) > 0;
	case BROKER_RECONCILE_UNPAUSE:
	case BROKER_RECONCILE_UNPAUSE_STOP:
		if (broker_paused_unmark(d, id) <= 0)
			return false;
		if (a == BROKER_RECONCILE_UNPAUSE_STOP)
			(void)broker_lifecycle_stopped(d, id);
		return true;
	case BROKER_RECONCILE_RUNNING:
		broker_lifecycle_mark_running(d, id);
		return true;
	case BROKER_RECONCILE_MADE_START:
		set_state(d, id, "starting");
		/* fall through */
	case BROKER_RECONCILE_START:
		submit(d, BROKER_JOB_START, id, row, false);
		return true;
	case BROKER_RECONCILE_MADE:
		set_state(d, id, "stopped");
		return true;
	case BROKER_RECONCILE_RESET:
		submit(d, BROKER_JOB_RESET, id, row, false);
		return true;
	case BROKER_RECONCILE_STOPPED:
		(void)broker_lifecycle_stopped(d, id);
		return true;
	}
	return false;
}

/* Judges every row against what libvirt holds; returns how many it repaired. */
static unsigned judge_rows(struct broker_desks *d, struct broker_job *j)
{
	_cleanup_json_ json_t *rows = NULL;
	unsigned fixed = 0;
	size_t i;
	json_t *row;

	if (broker_store_desktops_for_reconcile(d->store, &rows) < 0)
		return 0;
	json_array_foreach(rows, i, row) {
		int64_t id = broker_jint(row, "id");
		struct broker_host_slot *slot = broker_hosts_slot(d, broker_jstr(row, "host"));
		const struct pool_desktop_info *dom;
		struct broker_reconcile_facts f;
		char name[128];

		if (!slot || slot->index >= j->n_listings || j->listings[slot->index].result < 0 || stale(d, id) ||
		    pool_domain_name(broker_jstr(row, "pool"), id, name, sizeof(name)) < 0)
			continue;
		dom = find_domain(j, slot->index, name);
		facts_of(row, dom, find_overlay(j, slot->index, name), &f);
		/* A desktop that does not run has no viewer, whatever events were missed (viewers.h); a paused one
		 * keeps its clients. */
		if (f.run == BROKER_RUN_STOPPED)
			broker_viewers_forget(d, id, broker_jstr(row, "pool"));
		if (act(d, row, broker_reconcile_decide(&f), &f, dom))
			fixed++;
	}
	return fixed;
}

/* ---- what no row owns ------------------------------------------------------------------------ */

static void orphan_done(struct broker_job *j, bool cancelled)
{
	if (!cancelled && j->result < 0)
		vdi_warn("reconcile: cannot delete %s: %s", j->domain, j->err.message);
}

/* Deletes a domain and overlay no row owns (left by a crash, or by hand). */
static void delete_orphan(struct broker_desks *d, size_t host, const char *domain, unsigned *count)
{
	struct broker_job *j = broker_job_new(d, BROKER_JOB_DELETE, 0, "reconcile", orphan_done);

	if (!j)
		return;
	j->host = d->hosts[host].host;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	if (broker_job_run(j) < 0) {
		broker_job_free(j);
		return;
	}
	vdi_info("reconcile: deleting %s, which no desktop of the store owns", domain);
	(*count)++;
}

/*
 * A domain or overlay named for desktop id of pool that no row holds.  Only pools this broker
 * knows count: the host may hold another broker's pools (a demo beside the tests, say), which
 * are not ours to judge.
 */
static bool is_orphan(struct broker_desks *d, const char *name)
{
	char pool[40];
	int64_t id;

	if (pool_domain_name_parse(name, pool, sizeof(pool), &id) < 0 || stale(d, id))
		return false;
	return broker_store_desktop_is_orphan(d->store, id, pool) > 0;
}

/* Whether listing l has an overlay or data disk of domain before volume (whose delete takes both). */
static bool earlier_volume_of(struct broker_host_listing *l, const char *domain, const char *volume)
{
	char name[160];

	for (char **o = l->overlays; o && *o && *o != volume; o++)
		if (pool_volume_domain(*o, name, sizeof(name)) >= 0 && streq(name, domain))
			return true;
	return false;
}

static unsigned delete_orphans(struct broker_desks *d, struct broker_job *j)
{
	unsigned orphans = 0;

	for (size_t h = 0; h < j->n_listings; h++) {
		struct broker_host_listing *l = &j->listings[h];
		char name[160];

		if (l->result < 0)
			continue;
		for (size_t k = 0; k < l->n_domains; k++)
			if (is_orphan(d, l->domains[k].domain))
				delete_orphan(d, h, l->domains[k].domain, &orphans);
		/* Overlays ("<domain>.qcow2") and data disks ("<domain>.data.qcow2") without their domain,
		 * one delete per domain. */
		for (char **o = l->overlays; o && *o; o++) {
			if (pool_volume_domain(*o, name, sizeof(name)) < 0 || earlier_volume_of(l, name, *o))
				continue;
			if (!find_domain(j, h, name) && is_orphan(d, name))
				delete_orphan(d, h, name, &orphans);
		}
	}
	return orphans;
}

static void reconcile_apply(struct broker_desks *d, struct broker_job *j)
{
	unsigned fixed, orphans;

	/* A host that could not be listed is judged on its return (its HOST_BACK starts a reconcile). */
	for (size_t h = 0; h < j->n_listings; h++)
		if (j->listings[h].result < 0)
			vdi_warn("reconcile: cannot list host %s (its desktops are left as they are): %s",
				 pool_host_uri(d->hosts[h].host), j->listings[h].err.message);
	fixed = judge_rows(d, j);
	orphans = delete_orphans(d, j);
	if (fixed || orphans) {
		char detail[128];

		snprintf(detail, sizeof(detail), "%u desktops repaired, %u orphans deleted", fixed, orphans);
		(void)broker_store_audit(d->store, vdi_clock_wall(), "broker", "reconcile", NULL, detail);
		vdi_info("reconcile: %s", detail);
	}
}

static void reconcile_done(struct broker_job *j, bool cancelled)
{
	struct broker_desks *d = j->d;

	d->reconciling = false;
	if (!cancelled && !d->touched_lost)
		reconcile_apply(d, j);
	broker_maintenance_reconcile(d, j, !cancelled);
	d->touched.n = 0;
	d->touched_lost = false;
}
