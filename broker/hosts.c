/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "config.h"
#include "desktops-private.h"
#include "json.h"
#include "log.h"
#include "placement.h"
#include "store-desktops.h"
#include "store-hosts.h"
#include "workers.h"

/* A look at every host: free memory, which templates' disks each one reads, its networks and hardware. */
struct host_look {
	struct broker_desks *d;
	char **tpl_names, **tpl_disks; /* NULL-terminated, the same length */
	struct {
		int result;
		struct vdi_error err;
		uint64_t free_memory;
		bool *has; /* per template */
		int net_result;
		struct vdi_error net_err;
		struct pool_network_info *nets;
		size_t n_nets;
		int hw_result;
		struct vdi_error hw_err;
		struct pool_hw_features hw;
	} *hosts;
	size_t n_hosts;
};

struct broker_host_slot *broker_hosts_slot(struct broker_desks *d, const char *uri)
{
	if (!uri)
		return d->n_hosts ? &d->hosts[0] : NULL;
	for (size_t i = 0; i < d->n_hosts; i++)
		if (streq(pool_host_uri(d->hosts[i].host), uri))
			return &d->hosts[i];
	return NULL;
}

struct pool_host *broker_hosts_find(struct broker_desks *d, const char *uri)
{
	struct broker_host_slot *slot = broker_hosts_slot(d, uri);

	return slot ? slot->host : NULL;
}

bool broker_hosts_can_run(const struct broker_host_slot *slot)
{
	return slot && !slot->draining && pool_host_is_alive(slot->host);
}

bool broker_hosts_can_run_on(const struct broker_host_slot *slot, const char *network,
			     const struct pool_hw_features *needs)
{
	return broker_hosts_can_run(slot) && (!network || broker_placement_has_network(slot->networks, network)) &&
	       broker_placement_has_hardware(slot->hardware, needs);
}

int broker_hosts_template_needs(struct broker_desks *d, const char *template, struct pool_hw_features *ret)
{
	int r = template ? broker_store_template_needs(d->store, template, ret) : 0;

	if (!template)
		*ret = (struct pool_hw_features){ 0 };
	return r < 0 ? r : 0;
}

size_t broker_desks_n_hosts(struct broker_desks *d)
{
	return d->n_hosts;
}

struct pool_host *broker_desks_host_at(struct broker_desks *d, size_t i)
{
	return i < d->n_hosts ? d->hosts[i].host : NULL;
}

static bool strv_has(char **strv, const char *name)
{
	for (char **t = strv; t && *t; t++)
		if (streq(*t, name))
			return true;
	return false;
}

/* Appends a copy of name to the NULL-terminated *strv (which may be NULL). */
static int strv_push(char ***strv, const char *name)
{
	size_t n = 0;
	char **grown;

	while (*strv && (*strv)[n])
		n++;
	grown = vdi_reallocarray(*strv, n + 2, sizeof(char *));
	if (!grown)
		return -ENOMEM;
	*strv = grown;
	grown[n] = strdup(name);
	grown[n + 1] = NULL;
	return grown[n] ? 0 : -ENOMEM;
}

/* ---- placement ------------------------------------------------------------------------------ */

const char *broker_hosts_place(struct broker_desks *d, const char *template, const char *network)
{
	_cleanup_free_ struct broker_place_candidate *c = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(*c));
	_cleanup_json_ json_t *counts = NULL;
	struct pool_hw_features needs;
	size_t k;
	json_t *row;
	int pick;

	/* What its template asks of a host: one that cannot be read places nothing. */
	if (!c || broker_hosts_template_needs(d, template, &needs) < 0)
		return NULL;
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct broker_host_slot *slot = &d->hosts[i];

		/* A template added since the last look is taken to be there: the clone says otherwise. */
		c[i].can_take = broker_hosts_can_run(slot) && !strv_has(slot->missing, template);
		c[i].can_take = c[i].can_take && broker_placement_has_network(slot->networks, network);
		c[i].can_take = c[i].can_take && broker_placement_has_hardware(slot->hardware, &needs);
		c[i].free_bytes = (int64_t)slot->free_memory - (int64_t)slot->placed_bytes;
	}
	/* A failed count leaves every host at 0: memory alone decides. */
	if (broker_placement_needs_counts(c, d->n_hosts))
		(void)broker_store_desktops_count_by_host(d->store, &counts);
	json_array_foreach(counts, k, row) {
		struct broker_host_slot *slot = broker_hosts_slot(d, broker_jstr(row, "host"));

		if (slot)
			c[slot->index].desktops += broker_jint(row, "n");
	}
	pick = broker_placement_pick(c, d->n_hosts);
	return pick >= 0 ? pool_host_uri(d->hosts[pick].host) : NULL;
}

bool broker_hosts_any_has_network(struct broker_desks *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_hosts; i++) {
		struct broker_host_slot *slot = &d->hosts[i];

		/* Not looked at yet (or its networks could not be listed): it may have it, as placement says. */
		if (pool_host_is_alive(slot->host) && broker_placement_has_network(slot->networks, name))
			return true;
	}
	return false;
}

const char *broker_hosts_missing_hardware(struct broker_desks *d, const struct pool_hw_features *needs)
{
	static const struct pool_hw_features each[] = { { .uefi = true }, { .secure_boot = true }, { .tpm = true } };
	static const char *const names[] = { "firmware", "secure_boot", "tpm" };
	bool want[] = { needs && needs->uefi, needs && needs->secure_boot, needs && needs->tpm };
	bool offered[ELEMENTSOF(each)] = { false };
	const char *lacks, *first = NULL;

	for (size_t i = 0; i < d->n_hosts; i++) {
		const char *hw = d->hosts[i].hardware;

		if (!pool_host_is_alive(d->hosts[i].host))
			continue;
		/* Not looked at yet (or never asked): it may offer them all, as placement says. */
		lacks = broker_placement_missing_hardware(hw, needs);
		if (!lacks)
			return NULL;
		first = first ? first : lacks;
		for (size_t k = 0; k < ELEMENTSOF(each); k++)
			offered[k] = offered[k] || broker_placement_has_hardware(hw, &each[k]);
	}
	/* The first need no host offers; when each is offered somewhere but no host offers all: the first host's. */
	for (size_t k = 0; k < ELEMENTSOF(each); k++)
		if (want[k] && !offered[k])
			return names[k];
	return first;
}

void broker_hosts_note_placed(struct broker_desks *d, json_t *row)
{
	struct broker_host_slot *slot = broker_hosts_slot(d, broker_jstr(row, "host"));
	int64_t mib = broker_jint(row, "memory_mib");

	if (slot)
		slot->placed_bytes += (uint64_t)(mib > 0 ? mib : BROKER_DEFAULT_DESKTOP_MIB) << 20;
}

/* ---- looking at the hosts ------------------------------------------------------------------ */

static struct host_look *host_look_free(struct host_look *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; l->hosts && i < l->n_hosts; i++) {
		free(l->hosts[i].has);
		pool_network_list_free(l->hosts[i].nets, l->hosts[i].n_nets);
	}
	free(l->hosts);
	pool_strv_free(l->tpl_names);
	pool_strv_free(l->tpl_disks);
	free(l);
	return NULL;
}

/* On a worker thread: free memory, which template disks each host reads, its libvirt networks and hardware. */
static void host_look_work(void *data)
{
	struct host_look *l = data;

	for (size_t i = 0; i < l->n_hosts; i++) {
		struct pool_host *h = l->d->hosts[i].host;

		if (!pool_host_is_alive(h)) {
			l->hosts[i].result = -ENOTCONN;
			continue;
		}
		l->hosts[i].result = pool_host_free_memory(h, &l->hosts[i].free_memory, &l->hosts[i].err);
		for (size_t t = 0; l->hosts[i].result >= 0 && l->tpl_disks[t]; t++)
			l->hosts[i].has[t] = pool_host_has_file(h, l->tpl_disks[t], NULL) > 0;
		if (l->hosts[i].result >= 0)
			l->hosts[i].net_result = pool_network_list(h, &l->hosts[i].nets, &l->hosts[i].n_nets,
								   &l->hosts[i].net_err);
		if (l->hosts[i].result >= 0)
			l->hosts[i].hw_result = pool_host_hardware(h, &l->hosts[i].hw, &l->hosts[i].hw_err);
	}
}

/* ",a,b,": the names of the active ones of nets (n of them), as a new string; NULL when out of memory. */
static char *active_networks(const struct pool_network_info *nets, size_t n)
{
	size_t len = 2;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(nets[i].name) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, ",");
	for (size_t i = 0; i < n; i++)
		if (nets[i].active) {
			strcat(s, nets[i].name);
			strcat(s, ",");
		}
	return s;
}

/* slot's networks are now networks (taken, may be NULL: out of memory, nothing changes); the store learns it. */
static void slot_set_networks(struct broker_desks *d, struct broker_host_slot *slot, char *networks)
{
	if (!networks)
		return;
	if (slot->networks_stored && streq_ptr(slot->networks, networks)) {
		free(networks);
		return;
	}
	free(slot->networks);
	slot->networks = networks;
	slot->networks_stored =
		broker_store_host_set_networks(d->store, pool_host_uri(slot->host), networks) >= 0;
}

/* The networks host i's look found, into its slot.  When it cannot list them they are not known (as before
 * the first look: placement does not judge by them), said once until a look lists them again. */
static void look_networks(struct host_look *l, size_t i, struct broker_host_slot *slot)
{
	if (l->hosts[i].net_result < 0) {
		if (!slot->networks && slot->networks_stored)
			return;
		vdi_warn("cannot list the libvirt networks of host %s: %s", pool_host_uri(slot->host),
			 l->hosts[i].net_err.message);
		free(slot->networks);
		slot->networks = NULL;
		slot->networks_stored =
			broker_store_host_set_networks(l->d->store, pool_host_uri(slot->host), NULL) >= 0;
		return;
	}
	slot_set_networks(l->d, slot, active_networks(l->hosts[i].nets, l->hosts[i].n_nets));
}

/* The hardware host i's look found (OVMF, Secure Boot, swtpm), into its slot and the store.  When it cannot
 * ask, what the last look found stays (a host not asked yet stays "not known"), said once until it can. */
static void look_hardware(struct host_look *l, size_t i, struct broker_host_slot *slot)
{
	char *hw;

	if (l->hosts[i].hw_result < 0) {
		if (!slot->hardware_warned)
			vdi_warn("cannot ask libvirt host %s which firmware and TPM it offers: %s",
				 pool_host_uri(slot->host), l->hosts[i].hw_err.message[0] ? l->hosts[i].hw_err.message :
				 strerror(-l->hosts[i].hw_result));
		slot->hardware_warned = true;
		return;
	}
	slot->hardware_warned = false;
	hw = broker_placement_hardware_string(&l->hosts[i].hw);
	if (!hw || (slot->hardware_stored && streq_ptr(slot->hardware, hw))) {
		free(hw);
		return;
	}
	free(slot->hardware);
	slot->hardware = hw;
	slot->hardware_stored = broker_store_host_set_hardware(l->d->store, pool_host_uri(slot->host), hw) >= 0;
}

void broker_hosts_note_network(struct broker_desks *d, const char *uri, const char *name, bool active)
{
	struct broker_host_slot *slot = uri ? broker_hosts_slot(d, uri) : NULL;
	char *s;

	if (!slot || !slot->networks || broker_placement_has_network(slot->networks, name) == active)
		return;
	if (active) {
		if (asprintf(&s, "%s%s,", slot->networks, name) < 0)
			return;
	} else {
		size_t len = strlen(name);
		char *p;

		if (!(s = strdup(slot->networks)))
			return;
		for (p = s; (p = strchr(p, ',')) && !(strncmp(p + 1, name, len) == 0 && p[1 + len] == ','); p++)
			;
		if (p)
			memmove(p, p + 1 + len, strlen(p + 1 + len) + 1);
	}
	slot->networks_stored = false;
	slot_set_networks(d, slot, s);
}

static void host_look_done(void *data, int cancelled)
{
	struct host_look *l = data;
	struct broker_desks *d = l->d;

	d->looking = false;
	for (size_t i = 0; !cancelled && i < l->n_hosts && i < d->n_hosts; i++) {
		struct broker_host_slot *slot = &d->hosts[i];

		if (l->hosts[i].result < 0) {
			if (l->hosts[i].result != -ENOTCONN)
				vdi_warn("cannot look at libvirt host %s: %s", pool_host_uri(slot->host),
					 l->hosts[i].err.message);
			continue;
		}
		slot->free_memory = l->hosts[i].free_memory;
		slot->placed_bytes = 0;
		slot->templates = pool_strv_free(slot->templates);
		slot->missing = pool_strv_free(slot->missing);
		for (size_t t = 0; l->tpl_names[t]; t++)
			(void)strv_push(l->hosts[i].has[t] ? &slot->templates : &slot->missing, l->tpl_names[t]);
		look_networks(l, i, slot);
		look_hardware(l, i, slot);
		slot->looked = true;
		slot->looked_at = vdi_clock_wall();
	}
	host_look_free(l);
	if (!cancelled && d->kick)
		d->kick(d);
}

/* A new look with room for n templates (names and disks to fill); NULL when out of memory. */
static struct host_look *host_look_new(struct broker_desks *d, size_t n)
{
	struct host_look *l = vdi_new0(struct host_look);
	bool fail;

	if (!l)
		return NULL;
	l->d = d;
	l->n_hosts = d->n_hosts;
	l->hosts = vdi_calloc(d->n_hosts ? d->n_hosts : 1, sizeof(*l->hosts));
	l->tpl_names = vdi_calloc(n + 1, sizeof(char *));
	l->tpl_disks = vdi_calloc(n + 1, sizeof(char *));
	fail = !l->hosts || !l->tpl_names || !l->tpl_disks;
	for (size_t i = 0; !fail && i < d->n_hosts; i++)
		fail = !(l->hosts[i].has = vdi_calloc(n + 1, sizeof(bool)));
	return fail ? host_look_free(l) : l;
}

void broker_hosts_look(struct broker_desks *d)
{
	_cleanup_json_ json_t *tpls = NULL;
	struct host_look *l;
	size_t i;
	json_t *t;
	bool fail = false;

	if (d->looking || broker_store_templates_disks(d->store, &tpls) < 0)
		return;
	l = host_look_new(d, json_array_size(tpls));
	if (!l)
		return;
	json_array_foreach(tpls, i, t) {
		l->tpl_names[i] = strdup(broker_jstr(t, "name"));
		l->tpl_disks[i] = strdup(broker_jstr(t, "disk_path"));
		if ((fail = !l->tpl_names[i] || !l->tpl_disks[i]))
			break;
	}
	if (fail || vdi_workers_submit(d->workers, host_look_work, host_look_done, l) < 0) {
		host_look_free(l);
		return;
	}
	d->looking = true;
	d->last_look = vdi_clock_steady();
}

/* ---- the hosts, for admins ------------------------------------------------------------------ */

/* The names in ",a,b," networks (borrowed; a host's networks or hardware) as a new JSON array; NULL for NULL. */
static json_t *networks_json(const char *networks)
{
	json_t *list = networks ? json_array() : NULL;

	for (const char *p = networks; list && p && *p && p[1];) {
		const char *end = strchr(p + 1, ',');

		if (!end)
			break;
		if (end > p + 1)
			json_array_append_new(list, json_stringn(p + 1, (size_t)(end - p - 1)));
		p = end;
	}
	return list;
}

/* Which of pool_nets (borrowed rows {"name"}: the networks pools need) slot lacks: a new JSON array. */
static json_t *missing_networks_json(const struct broker_host_slot *slot, json_t *pool_nets)
{
	json_t *list = json_array(), *row;
	size_t k;

	json_array_foreach(pool_nets, k, row) {
		const char *name = broker_jstr(row, "name");

		if (list && slot->networks && name && !broker_placement_has_network(slot->networks, name))
			json_array_append_new(list, json_string(name));
	}
	return list;
}

static json_t *host_json(struct broker_desks *d, size_t i, json_t *pool_nets)
{
	struct broker_host_slot *slot = &d->hosts[i];
	struct pool_host *h = slot->host;
	json_t *templates = slot->looked ? json_array() : NULL, *row;
	/* Rows without a host (older than several hosts) are the first host's; a failed count shows 0. */
	int count = broker_store_desktops_count_on_host(d->store, pool_host_uri(h), i == 0);
	json_t *networks = networks_json(slot->networks), *hardware = networks_json(slot->hardware);

	for (char **t = slot->templates; templates && t && *t; t++)
		json_array_append_new(templates, json_string(*t));
	row = json_pack("{s:s, s:b, s:b, s:s, s:I, s:I, s:o, s:o, s:o}", "uri", pool_host_uri(h), "alive",
			pool_host_is_alive(h), "draining", slot->draining, "virt_type", pool_host_virt_type(h),
			"reconnects", (json_int_t)pool_host_reconnects(h), "desktops",
			(json_int_t)(count < 0 ? 0 : count), "free_memory",
			slot->looked ? json_integer((json_int_t)slot->free_memory) : json_null(), "templates",
			templates ? templates : json_null(), "looked_at",
			slot->looked ? json_integer(slot->looked_at) : json_null());
	if (row) {
		json_object_set_new(row, "networks", networks ? networks : json_null());
		json_object_set_new(row, "missing_networks", missing_networks_json(slot, pool_nets));
		/* ["uefi", "secure-boot", "tpm"]: what it offered at its last look; null: not known yet. */
		json_object_set_new(row, "hardware", hardware ? hardware : json_null());
	} else {
		json_decref(networks);
		json_decref(hardware);
	}
	return row;
}

json_t *broker_desks_hosts_json(struct broker_desks *d)
{
	_cleanup_json_ json_t *pool_nets = NULL;
	json_t *list = json_array();

	/* A failed read shows nothing missing. */
	(void)broker_store_pool_network_names(d->store, &pool_nets);
	for (size_t i = 0; list && i < d->n_hosts; i++)
		json_array_append_new(list, host_json(d, i, pool_nets));
	return json_pack("{s:o}", "hosts", list ? list : json_array());
}

int broker_hosts_set_draining(struct broker_desks *d, const char *uri, bool drain)
{
	struct broker_host_slot *slot = broker_hosts_slot(d, uri);
	int r;

	if (!uri || !slot)
		return -ENOENT;
	r = broker_store_host_set_draining(d->store, uri, drain);
	if (r < 0)
		return r;
	slot->draining = drain;
	return 0;
}

/* ---- connecting ---------------------------------------------------------------------------- */

/* Records host i in the store (up or not) and reads whether it is draining. */
static int host_record(struct broker_desks *d, size_t i)
{
	const char *uri = pool_host_uri(d->hosts[i].host);
	int draining;

	if (broker_store_host_add(d->store, uri) < 0 ||
	    broker_store_host_set_up(d->store, uri, pool_host_is_alive(d->hosts[i].host)) < 0 ||
	    (draining = broker_store_host_is_draining(d->store, uri)) < 0)
		return -EIO;
	d->hosts[i].draining = draining;
	return 0;
}

int broker_hosts_new(struct broker_desks *d, struct vdi_error *err)
{
	const struct vdi_config *cfg = d->cfg;
	size_t n = 0;

	for (char **u = cfg->libvirt.hosts; u && *u; u++)
		n++;
	d->hosts = vdi_calloc(n ? n : 1, sizeof(struct broker_host_slot));
	if (!d->hosts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pool_host_options o = {
			.uri = cfg->libvirt.hosts[i],
			.storage_pool = cfg->libvirt.storage_pool,
			.storage_path = cfg->libvirt.storage_path,
			.runtime_dir = cfg->libvirt.runtime_dir,
			.virt_type = cfg->libvirt.virt_type,
			/* One host away must not keep the others from serving. */
			.connect_later = n > 1,
		};
		struct vdi_error perr = { 0 };
		int r = pool_host_new(&o, &d->hosts[i].host, &perr);

		if (r < 0)
			return vdi_error_set(err, r, "libvirt host %s: %s", o.uri, perr.message);
		d->hosts[i].owner = d;
		d->hosts[i].index = i;
		d->n_hosts++;
		if (!pool_host_is_alive(d->hosts[i].host))
			vdi_warn("libvirt host %s does not answer: its desktops are unavailable until it does: %s", o.uri,
				 perr.message[0] ? perr.message : "not connected");
		if (host_record(d, i) < 0)
			return vdi_error_set(err, -EIO, "cannot record libvirt host %s in the database", o.uri);
	}
	return 0;
}

void broker_hosts_free(struct broker_desks *d)
{
	for (size_t i = 0; i < d->n_hosts; i++) {
		pool_host_free(d->hosts[i].host);
		pool_strv_free(d->hosts[i].templates);
		pool_strv_free(d->hosts[i].missing);
		free(d->hosts[i].networks);
		free(d->hosts[i].hardware);
	}
	free(d->hosts);
	d->hosts = NULL;
	d->n_hosts = 0;
}
