/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /api/v1/admin/networks...: every host's libvirt networks, and one made or removed on every host at once.
 * The body and the store are checked on the loop thread; libvirt is asked on a worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "admin-common.h"
#include "alloc.h"
#include "bodies.h"
#include "broker.h"
#include "cleanup.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "store-hosts.h"
#include "vmpool.h"

struct net_job {
	struct broker *b;
	char actor[ACTOR_MAX];
	char *name, *mode, *subnet;  /* add: all three; remove: name */
	struct pool_host **hosts;    /* borrowed from the desktops' slots, n_hosts of them */
	size_t n_hosts;
	bool *done;                  /* per host: made (add) or removed (remove) there */
	json_t *rows;                /* list: the rows */
	unsigned status;             /* the reply's, when the work did not succeed (0: it did) */
	struct vdi_error err;        /* ... and its message */
};

static void net_job_free(struct net_job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->mode);
	free(j->subnet);
	free(j->hosts);
	free(j->done);
	json_decref(j->rows);
	free(j);
}

/* A job for every configured host, or NULL when out of memory. */
static struct net_job *net_job_new(struct broker *b, const char *actor)
{
	struct net_job *j = vdi_new0(struct net_job);
	size_t n = broker_desks_n_hosts(b->desks);

	if (!j)
		return NULL;
	j->b = b;
	snprintf(j->actor, sizeof(j->actor), "%s", actor);
	j->hosts = vdi_calloc(n ? n : 1, sizeof(*j->hosts));
	j->done = vdi_calloc(n ? n : 1, sizeof(*j->done));
	if (!j->hosts || !j->done) {
		net_job_free(j);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		j->hosts[j->n_hosts++] = broker_desks_host_at(b->desks, i);
	return j;
}

static unsigned net_fail(struct net_job *j, unsigned status)
{
	j->status = status;
	return status;
}

/* Hands j to a worker; replies 503 (and frees j) when none can take it. */
static void net_defer(struct broker_req *req, struct net_job *j, void (*work)(void *data),
		      void (*complete)(struct broker_req *req, void *data))
{
	if (broker_req_defer(req, work, complete, j) < 0) {
		net_job_free(j);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}

/* The URIs of the hosts j is done on, as a new JSON array. */
static json_t *done_hosts_json(const struct net_job *j)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < j->n_hosts; i++)
		if (j->done[i])
			json_array_append_new(list, json_string(pool_host_uri(j->hosts[i])));
	return list;
}

/* ---- list --------------------------------------------------------------------------------------- */

static json_t *network_row(const struct pool_host *h, const struct pool_network_info *n)
{
	return json_pack("{s:s, s:s, s:s?, s:b, s:b, s:s?, s:s?}", "host", pool_host_uri(h), "name", n->name, "mode",
			 n->mode, "active", n->active, "autostart", n->autostart, "bridge", n->bridge, "subnet",
			 n->subnet);
}

/* On a worker: the networks of every host that answers (one that does not has no rows). */
static void list_work(void *data)
{
	struct net_job *j = data;

	j->rows = json_array();
	for (size_t i = 0; j->rows && i < j->n_hosts; i++) {
		struct pool_network_info *nets = NULL;
		size_t n = 0;

		if (!pool_host_is_alive(j->hosts[i]) || pool_network_list(j->hosts[i], &nets, &n, NULL) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			json_array_append_new(j->rows, network_row(j->hosts[i], &nets[k]));
		pool_network_list_free(nets, n);
	}
}

static void list_complete(struct broker_req *req, void *data)
{
	struct net_job *j = data;

	if (req)
		broker_api_reply_rows(req, j->rows ? 0 : -ENOMEM, "networks", json_incref(j->rows));
	net_job_free(j);
}

void broker_api_admin_networks(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX];
	struct net_job *j;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	j = net_job_new(b, actor);
	if (!j) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	net_defer(req, j, list_work, list_complete);
}

/* ---- add ---------------------------------------------------------------------------------------- */

/* What must hold on host i before anything is made anywhere: it answers, has no network of that name, and
 * none whose subnet overlaps.  0, or the reply's status with j->err set. */
static unsigned add_check_host(struct net_job *j, size_t i, const struct pool_subnet *want)
{
	struct pool_host *h = j->hosts[i];
	const char *uri = pool_host_uri(h);
	struct pool_network_info *nets = NULL;
	struct vdi_error err = { 0 };
	unsigned status = 0;
	size_t n = 0;

	if (!pool_host_is_alive(h) || pool_network_list(h, &nets, &n, &err) < 0) {
		vdi_error_set(&j->err, -EHOSTUNREACH, "libvirt host %s does not answer%s%s; nothing was created", uri,
			      err.message[0] ? ": " : "", err.message);
		return net_fail(j, 503);
	}
	for (size_t k = 0; !status && k < n; k++) {
		struct pool_subnet s;

		if (streq(nets[k].name, j->name)) {
			vdi_error_set(&j->err, -EEXIST, "name: libvirt network \"%s\" exists already on host %s",
				      j->name, uri);
			status = net_fail(j, 409);
		} else if (nets[k].subnet && pool_subnet_parse(nets[k].subnet, &s, NULL) >= 0 &&
			   pool_subnet_overlaps(&s, want)) {
			vdi_error_set(&j->err, -EINVAL, "subnet: %s overlaps libvirt network \"%s\" (%s) on host %s",
				      j->subnet, nets[k].name, nets[k].subnet, uri);
			status = net_fail(j, 400);
		}
	}
	pool_network_list_free(nets, n);
	return status;
}

static unsigned add_status(int r)
{
	switch (r) {
	case -EEXIST:
		return 409;
	case -EINVAL:
		return 400;
	case -ENOTCONN:
	case -EHOSTUNREACH:
	case -ECONNREFUSED:
		return 503;
	default:
		return 500;
	}
}

/* The message of an add that failed on host i (err, r) after the hosts before it were made and removed again
 * (done[] still true where the removal failed too: those are named, the network is still there). */
static void add_failed(struct net_job *j, size_t i, int r, const struct vdi_error *err)
{
	char left[512] = "";
	size_t pos = 0;

	for (size_t k = 0; k < i; k++)
		if (j->done[k] && pos < sizeof(left))
			pos += (size_t)snprintf(left + pos, sizeof(left) - pos, "%s%s", pos ? ", " : "",
						pool_host_uri(j->hosts[k]));
	if (!pos)
		vdi_error_set(&j->err, r, "libvirt host %s: %s; nothing was created", pool_host_uri(j->hosts[i]),
			      err->message);
	else
		vdi_error_set(&j->err, r, "libvirt host %s: %s; it could not be removed again from %s, where it is"
			      " still defined", pool_host_uri(j->hosts[i]), err->message, left);
}

/* On a worker: checks every host, then makes the network on each; after a failure, removes it again from the
 * hosts already made. */
static void add_work(void *data)
{
	struct net_job *j = data;
	struct pool_subnet want;

	(void)pool_subnet_parse(j->subnet, &want, NULL); /* checked on the loop thread */
	for (size_t i = 0; i < j->n_hosts; i++)
		if (add_check_host(j, i, &want))
			return;
	for (size_t i = 0; i < j->n_hosts; i++) {
		struct vdi_error err = { 0 };
		int r = pool_network_add(j->hosts[i], j->name, j->mode, j->subnet, &err);

		if (r >= 0) {
			j->done[i] = true;
			continue;
		}
		net_fail(j, add_status(r));
		for (size_t k = 0; k < i; k++)
			if (j->done[k] && pool_network_remove(j->hosts[k], j->name, NULL) >= 0)
				j->done[k] = false;
		add_failed(j, i, r, &err);
		return;
	}
}

static void add_complete(struct broker_req *req, void *data)
{
	struct net_job *j = data;
	char detail[128];
	bool any = false;

	/* What was made stays made even when the client went away. */
	for (size_t i = 0; i < j->n_hosts; i++)
		if (j->done[i])
			broker_hosts_note_network(j->b->desks, pool_host_uri(j->hosts[i]), j->name, true);
	for (size_t i = 0; !any && i < j->n_hosts; i++)
		any = j->done[i];
	/* Audited where it exists, also when a failed add could not take it away again. */
	if (any) {
		snprintf(detail, sizeof(detail), "%s %s%s", j->mode, j->subnet, j->status ? " (on some hosts only)" : "");
		broker_api_audit(j->b, j->actor, "network-add", j->name, detail);
	}
	if (req && j->status)
		broker_req_reply_error(req, j->status, "%s", j->err.message);
	else if (req)
		broker_req_reply_json(req, 201, json_pack("{s:s, s:o}", "name", j->name, "hosts", done_hosts_json(j)),
				      NULL);
	net_job_free(j);
}

void broker_api_admin_network_add(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_(broker_network_body_finish) struct broker_network_body body = { 0 };
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	struct net_job *j;
	const char *text;
	size_t len;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_network(text, len, &body, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	if (broker_desks_n_hosts(b->desks) == 0) {
		broker_req_reply_error(req, 503, "no libvirt host is configured");
		return;
	}
	j = net_job_new(b, actor);
	if (!j || !(j->name = strdup(body.name)) || !(j->mode = strdup(body.mode)) || !(j->subnet = strdup(body.subnet))) {
		net_job_free(j);
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	net_defer(req, j, add_work, add_complete);
}

/* ---- remove ------------------------------------------------------------------------------------- */

/* Whether host h has libvirt network name defined (active or not): 1, 0, or -errno when it cannot tell. */
static int host_has_defined(struct pool_host *h, const char *name)
{
	struct pool_network_info *nets = NULL;
	size_t n = 0;
	int r;

	if (!pool_host_is_alive(h))
		return -ENOTCONN;
	r = pool_network_list(h, &nets, &n, NULL);
	if (r < 0)
		return r;
	r = 0;
	for (size_t k = 0; k < n && !r; k++)
		r = streq(nets[k].name, name);
	pool_network_list_free(nets, n);
	return r;
}

/* On a worker: 409 (and true) when running desktops are attached to it on a host that has it (desktops that
 * kept it after their pool changed network, say: stopping it would cut them off); nothing removed then. */
static bool refuse_attached(struct net_job *j)
{
	for (size_t i = 0; i < j->n_hosts; i++) {
		struct vdi_error err = { 0 };
		int n = j->done[i] ? pool_network_ports(j->hosts[i], j->name, &err) : 0;

		if (n == 0 || n == -ENOENT)
			continue;
		if (n < 0)
			vdi_error_set(&j->err, n, "libvirt host %s: %s; nothing was removed", pool_host_uri(j->hosts[i]),
				      err.message);
		else
			vdi_error_set(&j->err, -EBUSY, "%d running desktop NIC%s on libvirt host %s %s attached to network"
				      " \"%s\"; stop, recompose or delete %s first (nothing was removed)", n, n > 1 ? "s" : "",
				      pool_host_uri(j->hosts[i]), n > 1 ? "are" : "is", j->name, n > 1 ? "them" : "it");
		net_fail(j, n < 0 ? 500 : 409);
		memset(j->done, 0, j->n_hosts * sizeof(*j->done));
		return true;
	}
	return false;
}

/* On a worker: every host must answer; then the network goes from each that has it. */
static void remove_work(void *data)
{
	struct net_job *j = data;
	bool any = false;

	for (size_t i = 0; i < j->n_hosts; i++) {
		int r = host_has_defined(j->hosts[i], j->name);

		if (r < 0) {
			vdi_error_set(&j->err, r, "libvirt host %s does not answer; nothing was removed",
				      pool_host_uri(j->hosts[i]));
			net_fail(j, 503);
			memset(j->done, 0, j->n_hosts * sizeof(*j->done));
			return;
		}
		j->done[i] = r > 0; /* for now: has it */
		any = any || r > 0;
	}
	if (!any) {
		vdi_error_set(&j->err, -ENOENT, "no host has libvirt network \"%s\"", j->name);
		net_fail(j, 404);
		return;
	}
	if (refuse_attached(j))
		return;
	for (size_t i = 0; i < j->n_hosts; i++) {
		struct vdi_error err = { 0 };
		int r;

		if (!j->done[i])
			continue;
		r = pool_network_remove(j->hosts[i], j->name, &err);
		if (r >= 0 || r == -ENOENT)
			continue;
		/* The hosts before it have it no more; those after it still have it. */
		for (size_t k = i; k < j->n_hosts; k++)
			j->done[k] = false;
		vdi_error_set(&j->err, r, "libvirt host %s: %s", pool_host_uri(j->hosts[i]), err.message);
		net_fail(j, 500);
		return;
	}
}

static void remove_complete(struct broker_req *req, void *data)
{
	struct net_job *j = data;
	bool any = false;

	for (size_t i = 0; i < j->n_hosts; i++)
		if (j->done[i]) {
			broker_hosts_note_network(j->b->desks, pool_host_uri(j->hosts[i]), j->name, false);
			any = true;
		}
	if (any)
		broker_api_audit(j->b, j->actor, "network-remove", j->name, j->status ? "from some hosts" : NULL);
	if (req && j->status)
		broker_req_reply_error(req, j->status, "%s", j->err.message);
	else if (req)
		broker_req_reply_json(req, 200, json_pack("{s:s, s:o}", "name", j->name, "hosts", done_hosts_json(j)),
				      NULL);
	net_job_free(j);
}

/* 409 (and true) when a pool's desktops or a template attach to libvirt network name. */
static bool refuse_in_use(struct broker_req *req, struct broker *b, const char *name)
{
	_cleanup_json_ json_t *users = NULL;
	char list[512] = "";
	size_t pos = 0, k;
	json_t *row;
	int r = broker_store_network_users(b->store, name, &users);

	if (r < 0) {
		broker_req_reply_error(req, 500, "cannot read the pools and templates");
		return true;
	}
	if (r == 0)
		return false;
	json_array_foreach(users, k, row) {
		if (pos < sizeof(list))
			pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s \"%s\"", k ? ", " : "",
						json_string_value(json_object_get(row, "kind")),
						json_string_value(json_object_get(row, "name")));
	}
	broker_req_reply_error(req, 409, "libvirt network \"%s\" is used by %s; change their network first", name, list);
	return true;
}

void broker_api_admin_network_remove(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	char actor[ACTOR_MAX];
	struct net_job *j;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (!pool_network_name_is_valid(name)) {
		broker_req_reply_error(req, 400, "name: \"%s\" is no libvirt network name vdi takes", name ? name : "");
		return;
	}
	if (refuse_in_use(req, b, name))
		return;
	j = net_job_new(b, actor);
	if (!j || !(j->name = strdup(name))) {
		net_job_free(j);
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	net_defer(req, j, remove_work, remove_complete);
}
