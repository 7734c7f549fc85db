/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /api/v1/admin/...: pools, desktops, sessions, audit, hosts (admins and the admin socket). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "addresses.h"
#include "admin-common.h"
#include "alloc.h"
#include "bodies.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "http.h"
#include "hosts.h"
#include "json.h"
#include "log.h"
#include "pool-bandwidth.h"
#include "pool-net.h"
#include "recompose.h"
#include "store-catalog.h"
#include "store-sessions.h"
#include "store-views.h"
#include "store.h"
#include "template-cache.h"
#include "vmpool.h"

/* ---- pools ----------------------------------------------------------------------------------- */

/* A pool row's network settings as the API shows them: isolate_desktops effective, network_inherited a bool. */
static void pool_net_json(json_t *row)
{
	struct pool_nic nic = { .kind = POOL_NIC_TEMPLATE };
	const char *network = json_string_value(json_object_get(row, "network"));
	enum broker_isolate setting = broker_isolate_from_json(json_object_get(row, "isolate_desktops"));

	if (network)
		(void)pool_nic_parse(network, &nic, NULL);
	json_object_set_new(row, "isolate_desktops",
			    json_boolean(broker_isolate_effective(setting, json_integer_value(json_object_get(row, "persistent")),
								  nic.kind)));
	json_object_set_new(row, "network_inherited",
			    json_boolean(json_integer_value(json_object_get(row, "network_inherited"))));
	json_object_del(row, "persistent");
}

/* A network value (borrowed; NULL none) naming a libvirt network no host had active at its last look: 400 replied. */
static int network_missing(struct broker *b, struct broker_req *req, const char *network)
{
	const char *name = broker_network_libvirt_name(network);

	if (!name || broker_hosts_any_has_network(b->desks, name))
		return 0;
	broker_req_reply_error(req, 400, "network: no host has libvirt network \"%s\" active", name);
	return -EINVAL;
}

/* The pools (all, or the one named) as the admin API shows them. */
static int pools_json(struct broker *b, const char *name, json_t **ret)
{
	_cleanup_json_ json_t *rows = NULL, *counts = NULL;
	json_t *row, *c;
	size_t i, k;
	int r;

	r = broker_store_pools(b->store, name, &rows);
	if (r < 0)
		return r;
	r = broker_store_pool_desktop_counts(b->store, &counts);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row) {
		json_t *groups = json_array(), *desktops = json_object();
		_cleanup_free_ char *g = strdup(json_string_value(json_object_get(row, "groups")));
		char *save = NULL;

		for (char *t = g ? strtok_r(g, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(groups, json_string(t));
		json_array_foreach(counts, k, c)
			if (json_integer_value(json_object_get(c, "pool_id")) == json_integer_value(json_object_get(row, "id")))
				json_object_set(desktops, json_string_value(json_object_get(c, "state")),
						json_object_get(c, "n"));
		json_object_set_new(row, "groups", groups);
		json_object_set_new(row, "desktops", desktops);
		json_object_set_new(row, "draining", json_boolean(json_integer_value(json_object_get(row, "draining"))));
		json_object_set_new(row, "lock_on_disconnect",
				    json_boolean(json_integer_value(json_object_get(row, "lock_on_disconnect"))));
		pool_net_json(row);
		json_object_del(row, "id");
	}
	*ret = json_incref(rows);
	return (int)json_array_size(rows);
}

void broker_api_admin_pools(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX];
	json_t *rows = NULL;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = pools_json(b, NULL, &rows);
	broker_api_reply_rows(req, r, "pools", rows);
}

/* Joins a JSON array of group names into "a,b"; -EINVAL (with err) on anything but plain names. */
static void reply_pool(struct broker *b, struct broker_req *req, unsigned status, const char *name)
{
	json_t *rows = NULL;

	if (pools_json(b, name, &rows) <= 0) {
		json_decref(rows);
		broker_req_reply_error(req, 500, "cannot read pool \"%s\"", name);
		return;
	}
	broker_req_reply_json(req, status, json_incref(json_array_get(rows, 0)), NULL);
	json_decref(rows);
}

void broker_api_admin_pool_create(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_(broker_pool_body_finish) struct broker_pool_body body = { 0 };
	struct broker_pool_def d;
	const char *text;
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	size_t len;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_pool_create(text, len, &body, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	if (network_missing(b, req, body.network) < 0)
		return;
	d = (struct broker_pool_def){
		.name = body.name,
		.template_name = body.template_name,
		.persistent = body.persistent,
		.size = body.size,
		.prestart = body.prestart,
		.max_per_user = body.max_per_user,
		.idle_timeout = body.idle_timeout,
		.groups = body.groups,
		.data_disk_mib = body.data_disk_mib,
		.network = body.network,
		.isolate = body.isolate,
		.bandwidth_kbps = body.bandwidth_kbps,
		.usb_redirect = body.usb_redirect,
		.lock_on_disconnect = body.lock_on_disconnect,
		.refuse_second_viewer = body.refuse_second_viewer,
	};
	r = broker_store_add_pool(b->store, &d, vdi_clock_wall(), &err);
	if (r < 0) {
		broker_req_reply_error(req, r == -EEXIST ? 409 : r == -ENOENT ? 404 : 400, "%s", err.message);
		return;
	}
	broker_api_audit(b, actor, "pool-create", d.name, d.persistent ? "persistent" : "pooled");
	broker_desks_tick(b->desks); /* spares for prestart */
	reply_pool(b, req, 201, d.name);
}

/* The body of a pool update, on top of the pool as it is (cur): 0, or -EINVAL with 400 replied. */
static int pool_update_body(struct broker *b, struct broker_req *req, const char *name,
			    const struct broker_pool_limits *cur, struct broker_pool_body *body)
{
	struct vdi_error err = { 0 };
	const char *text;
	size_t len;

	body->size = cur->size;
	body->prestart = cur->prestart;
	body->max_per_user = cur->max_per_user;
	body->idle_timeout = cur->idle_timeout;
	body->data_disk_mib = cur->data_disk_mib;
	body->network = cur->network[0] ? cur->network : NULL;
	body->isolate = cur->isolate;
	body->bandwidth_kbps = cur->bandwidth_kbps;
	body->usb_redirect = cur->usb_redirect;
	body->lock_on_disconnect = cur->lock_on_disconnect;
	body->refuse_second_viewer = cur->refuse_second_viewer;
	text = broker_req_body(req, &len);
	if (broker_parse_pool_update(text, len, body, &err) < 0 ||
	    (json_object_get(body->json, "data_disk_mib") &&
	     broker_store_pool_check_data_disk(b->store, name, body->data_disk_mib, &err) < 0) ||
	    broker_pool_net_check(body->network ? body->network : cur->template_network, body->isolate,
				  body->bandwidth_kbps, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return -EINVAL;
	}
	return json_object_get(body->json, "network") ? network_missing(b, req, body->network) : 0;
}

void broker_api_admin_pool_update(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	_cleanup_(broker_pool_body_finish) struct broker_pool_body body = { 0 };
	_cleanup_free_ char *detail = NULL;
	struct broker_pool_limits cur, next;
	char actor[ACTOR_MAX];
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (broker_store_pool_limits(b->store, name, &cur) < 0) {
		broker_req_reply_error(req, 404, "no such pool");
		return;
	}
	if (pool_update_body(b, req, name, &cur, &body) < 0)
		return;
	next = (struct broker_pool_limits){
		.size = body.size,
		.prestart = body.prestart,
		.max_per_user = body.max_per_user,
		.idle_timeout = body.idle_timeout,
		.data_disk_mib = body.data_disk_mib,
		.isolate = body.isolate,
		.bandwidth_kbps = body.bandwidth_kbps,
		.usb_redirect = body.usb_redirect,
		.lock_on_disconnect = body.lock_on_disconnect,
		.refuse_second_viewer = body.refuse_second_viewer,
	};
	snprintf(next.network, sizeof(next.network), "%s", body.network ? body.network : "");
	if (broker_store_update_pool(b->store, name, &next, body.groups) < 0) {
		broker_req_reply_error(req, 500, "cannot update pool \"%s\"", name);
		return;
	}
	detail = json_dumps(body.json, JSON_COMPACT | JSON_SORT_KEYS);
	broker_api_audit(b, actor, "pool-update", name, detail);
	/* The new limit onto the desktops there are; the definition change stands whatever libvirt says. */
	if (next.bandwidth_kbps != cur.bandwidth_kbps &&
	    (r = broker_pool_bandwidth_apply(b->desks, name, (uint32_t)next.bandwidth_kbps, actor)) < 0) {
		vdi_warn("pool %s: cannot apply bandwidth_kbps %lld to its desktops: %s", name,
			 (long long)next.bandwidth_kbps, strerror(-r));
		broker_api_audit(b, actor, "pool-bandwidth", name, "not applied to its desktops");
	}
	broker_desks_tick(b->desks);
	reply_pool(b, req, 200, name);
}

void broker_api_admin_pool_delete(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	char actor[ACTOR_MAX];
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (broker_store_pool_exists(b->store, name) <= 0) {
		broker_req_reply_error(req, 404, "no such pool");
		return;
	}
	broker_api_audit(b, actor, "pool-delete", name, "drain");
	r = broker_desks_drain_pool(b->desks, name, actor);
	if (r < 0) {
		broker_req_reply_error(req, 500, "cannot delete pool \"%s\": %s", name, strerror(-r));
		return;
	}
	if (broker_store_pool_exists(b->store, name) == 0) {
		broker_req_reply_json(req, 200, json_pack("{s:s, s:b}", "name", name, "deleted", true), NULL);
		return;
	}
	broker_req_reply_json(req, 202, json_pack("{s:s, s:b, s:i}", "name", name, "draining", true, "desktops", r), NULL);
}

/* The status of a recompose's refusal r. */
static int recompose_status(int r)
{
	return r == -ENOENT ? 404 : r == -EPERM || r == -EBUSY ? 409 : 500;
}

void broker_api_admin_pool_recompose(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = broker_desks_recompose_pool(b->desks, name, actor, &err);
	if (r < 0) {
		broker_req_reply_error(req, recompose_status(r), "%s", err.message[0] ? err.message : strerror(-r));
		return;
	}
	broker_req_reply_json(req, 202, json_pack("{s:s, s:i}", "pool", name, "desktops", r), NULL);
}

/* ---- desktops ---------------------------------------------------------------------------------- */

void broker_api_admin_desktops(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX], pool[64], user[256], state[32];
	json_t *rows = NULL;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = broker_store_admin_desktops(b->store, broker_req_query(req, "pool", pool, sizeof(pool)),
					broker_req_query(req, "user", user, sizeof(user)),
					broker_req_query(req, "state", state, sizeof(state)), &rows);
	if (r > 0) {
		size_t i;
		json_t *row;

		json_array_foreach(rows, i, row) {
			int64_t id = json_integer_value(json_object_get(row, "id"));

			json_object_set_new(row, "recompose", json_boolean(json_integer_value(json_object_get(row, "recompose"))));
			json_object_set_new(row, "addresses", broker_addresses_json(b->addresses, id));
			json_object_set_new(row, "guest", broker_addresses_guest_json(b->addresses, id));
		}
	}
	broker_api_reply_rows(req, r, "desktops", rows);
}

static void desktop_action(struct broker_req *req, struct broker *b, int (*fn)(struct broker_desks *, int64_t, const char *))
{
	char actor[ACTOR_MAX];
	int64_t id;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0 || broker_req_desktop_id(req, 0, &id) < 0)
		return;
	r = fn(b->desks, id, actor);
	if (r == -ENOENT)
		broker_req_reply_error(req, 404, "no such desktop");
	else if (r == -EBUSY)
		broker_req_reply_error(req, 409, "desktop %lld is busy; try again", (long long)id);
	else if (r < 0)
		broker_req_reply_error(req, 500, "desktop %lld: %s", (long long)id, strerror(-r));
	else
		broker_req_reply_json(req, 202, json_pack("{s:I}", "id", (json_int_t)id), NULL);
}

void broker_api_admin_desktop_reset(struct broker_req *req, void *userdata)
{
	desktop_action(req, userdata, broker_desks_reset);
}

void broker_api_admin_desktop_stop(struct broker_req *req, void *userdata)
{
	desktop_action(req, userdata, broker_desks_stop);
}

void broker_api_admin_desktop_delete(struct broker_req *req, void *userdata)
{
	desktop_action(req, userdata, broker_desks_delete);
}

void broker_api_admin_desktop_recompose(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	int64_t id;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0 || broker_req_desktop_id(req, 0, &id) < 0)
		return;
	r = broker_desks_recompose(b->desks, id, actor, &err);
	if (r == -EBUSY && !err.message[0])
		broker_req_reply_error(req, 409, "desktop %lld is busy; try again", (long long)id);
	else if (r < 0)
		broker_req_reply_error(req, recompose_status(r), "%s",
				       err.message[0] ? err.message : r == -ENOENT ? "no such desktop" : strerror(-r));
	else
		broker_req_reply_json(req, 202, json_pack("{s:I}", "id", (json_int_t)id), NULL);
}

/* ---- sessions ----------------------------------------------------------------------------------- */

void broker_api_admin_sessions(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX];
	json_t *rows = NULL;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = broker_store_admin_sessions(b->store, broker_now(), &rows);
	broker_api_reply_rows(req, r, "sessions", rows);
}

static void kill_sessions(struct broker_req *req, struct broker *b, const char *actor, const char *id,
			  const char *user)
{
	int r = broker_store_session_kill(b->store, id, user);

	if (r < 0) {
		broker_req_reply_error(req, 500, "cannot end sessions");
		return;
	}
	if (r == 0) {
		broker_req_reply_error(req, 404, "no such session");
		return;
	}
	broker_api_audit(b, actor, "session-kill", user ? user : id, NULL);
	broker_req_reply_json(req, 200, json_pack("{s:i}", "killed", r), NULL);
}

void broker_api_admin_session_kill(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *id = broker_req_param(req, 0);
	char actor[ACTOR_MAX];

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (strlen(id) != 16 || strspn(id, "0123456789abcdefABCDEF") != 16) {
		broker_req_reply_error(req, 404, "no such session");
		return;
	}
	kill_sessions(req, b, actor, id, NULL);
}

void broker_api_admin_sessions_kill(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX], user[256];

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (!broker_req_query(req, "user", user, sizeof(user)) || !*user) {
		broker_req_reply_error(req, 400, "say whose sessions: ?user=NAME");
		return;
	}
	kill_sessions(req, b, actor, NULL, user);
}

/* ---- audit and hosts -------------------------------------------------------------------------------- */

/* A query argument that must be a whole number in [min, max]; absent: def. -EINVAL replied. */
static int query_int(struct broker_req *req, const char *name, int64_t min, int64_t max, int64_t def, int64_t *ret)
{
	char buf[32], *end = NULL;
	long long v;

	if (!broker_req_query(req, name, buf, sizeof(buf))) {
		*ret = def;
		return 0;
	}
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (!*buf || errno || *end || v < min || v > max) {
		broker_req_reply_error(req, 400, "\"%s\" must be a whole number between %lld and %lld", name,
				       (long long)min, (long long)max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

void broker_api_admin_audit(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX], user[256], action[64], object[128];
	struct broker_audit_filter f;
	json_t *rows = NULL;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (query_int(req, "since", 0, INT64_MAX, 0, &f.since) < 0 ||
	    query_int(req, "until", 0, INT64_MAX, INT64_MAX, &f.until) < 0 || query_int(req, "limit", 1, 1000, 100, &f.limit) < 0)
		return;
	f.actor = broker_req_query(req, "user", user, sizeof(user));
	f.action = broker_req_query(req, "action", action, sizeof(action));
	f.object = broker_req_query(req, "object", object, sizeof(object));
	r = broker_store_admin_audit(b->store, &f, &rows);
	broker_api_reply_rows(req, r, "audit", rows);
}

void broker_api_admin_hosts(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX];

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	broker_req_reply_json(req, 200, broker_desks_hosts_json(b->desks), NULL);
}

static void host_drain(struct broker_req *req, struct broker *b, bool drain)
{
	_cleanup_json_ json_t *body = NULL;
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	const char *host, *text;
	size_t len;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_host(text, len, &body, &host, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	r = broker_desks_drain_host(b->desks, host, drain, actor);
	if (r == -ENOENT)
		broker_req_reply_error(req, 404, "no host \"%s\" in [libvirt] hosts", host);
	else if (r < 0)
		broker_req_reply_error(req, 500, "cannot %s host %s: %s", drain ? "drain" : "resume", host, strerror(-r));
	else
		broker_req_reply_json(req, 200,
				      json_pack("{s:s, s:b, s:i}", "host", host, "draining", drain, "remaining", r), NULL);
}

void broker_api_admin_host_drain(struct broker_req *req, void *userdata)
{
	host_drain(req, userdata, true);
}

void broker_api_admin_host_resume(struct broker_req *req, void *userdata)
{
	host_drain(req, userdata, false);
}
