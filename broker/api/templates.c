/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /api/v1/admin/templates...: the templates and their versions (admins and the admin socket). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "admin-common.h"
#include "alloc.h"
#include "bases.h"
#include "bodies.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "desktops.h"
#include "hosts.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pool-net.h"
#include "publish.h"
#include "store-catalog.h"
#include "store-maintenance.h"
#include "store-versions.h"
#include "store-sessions.h"
#include "store-views.h"
#include "store.h"
#include "template-cache.h"
#include "vmpool.h"


/* ---- templates -------------------------------------------------------------------------------- */

/* The templates (all, or the one named) as the admin API shows them: each with its versions. */
static int templates_json(struct broker *b, const char *name, json_t **ret)
{
	_cleanup_json_ json_t *rows = NULL, *versions = NULL;
	json_t *row, *v;
	size_t i, k;
	int r;

	r = broker_store_templates(b->store, name, &rows);
	if (r >= 0)
		r = broker_store_template_versions(b->store, name, &versions);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row) {
		const char *tname = json_string_value(json_object_get(row, "name"));
		json_t *list = json_array(), *maintenance = NULL;

		if (!list || json_object_set_new(row, "versions", list) < 0)
			return -ENOMEM;
		json_object_set_new(row, "secure_boot", json_boolean(json_integer_value(json_object_get(row, "secure_boot"))));
		json_object_set_new(row, "tpm", json_boolean(json_integer_value(json_object_get(row, "tpm"))));
		r = broker_api_maintenance_json(b, tname, &maintenance);
		if (r < 0 || json_object_set_new(row, "maintenance", maintenance) < 0)
			return r < 0 ? r : -ENOMEM;
		/* A version placed under an earlier template has lost its "template" already. */
		json_array_foreach(versions, k, v) {
			if (!streq_ptr(json_string_value(json_object_get(v, "template")), tname))
				continue;
			json_object_set_new(v, "current",
					    json_boolean(json_integer_value(json_object_get(v, "current"))));
			json_object_set_new(v, "owned", json_boolean(json_integer_value(json_object_get(v, "owned"))));
			json_object_set_new(v, "from_maintenance",
					    json_boolean(json_integer_value(json_object_get(v, "from_maintenance"))));
			json_object_del(v, "template");
			if (json_array_append(list, v) < 0)
				return -ENOMEM;
		}
	}
	*ret = json_incref(rows);
	return (int)json_array_size(rows);
}

void broker_api_admin_templates(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX];
	json_t *rows = NULL;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = templates_json(b, NULL, &rows);
	broker_api_reply_rows(req, r, "templates", rows);
}

void broker_api_admin_template(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	char actor[ACTOR_MAX];
	json_t *rows = NULL;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = templates_json(b, name, &rows);
	if (r <= 0)
		broker_req_reply_error(req, r < 0 ? 500 : 404, r < 0 ? "cannot read templates" : "no such template");
	else
		broker_req_reply_json(req, 200, json_incref(json_array_get(rows, 0)), NULL);
	json_decref(rows);
}

struct template_job {
	struct broker *b;
	char actor[ACTOR_MAX];
	char *name, *disk, *xml;
	char *network;      /* NULL: the XML's own NICs */
	bool want_default;  /* no XML nor network given: libvirt's `default` network where a host has it */
	struct pool_host **hosts; /* ... asked of these (borrowed from the desktops' slots), n_hosts of them */
	size_t n_hosts;
	int64_t memory, vcpus;
	int64_t heads;            /* its desktops' monitors */
	/* The hardware of the XML vdi writes (no XML given): */
	char *os;                 /* osinfo-db short id; NULL: vdi's generic desktop */
	char *lock_command;       /* NULL: the default */
	enum pool_firmware firmware;
	int secure_boot, tpm;     /* -1: the OS's default */
	/* ... and what the template has (resolved, or what its own XML asks), from the worker: */
	struct pool_hw_features needs;
	struct pool_template *t;
	int result;
	unsigned status;          /* the reply's when result < 0 */
	struct vdi_error err;
};

static void template_job_free(struct template_job *j)
{
	free(j->name);
	free(j->disk);
	free(j->xml);
	free(j->network);
	free(j->os);
	free(j->lock_command);
	free(j->hosts);
	pool_template_free(j->t);
	free(j);
}

/* On a worker: whether a host that answers has libvirt network name active now (asked, not the last look's:
 * a template added just after the broker started must not miss it). */
static bool network_somewhere(const struct template_job *j, const char *name)
{
	for (size_t i = 0; i < j->n_hosts; i++)
		if (pool_host_is_alive(j->hosts[i]) && pool_host_has_network(j->hosts[i], name, NULL) > 0)
			return true;
	return false;
}

/* The hosts j asks, copied on the loop thread (the slots are the loop's): 0 or -ENOMEM. */
static int template_job_hosts(struct template_job *j, struct broker_desks *d)
{
	size_t n = broker_desks_n_hosts(d);

	j->hosts = vdi_calloc(n ? n : 1, sizeof(*j->hosts));
	if (!j->hosts)
		return -ENOMEM;
	for (j->n_hosts = 0; j->n_hosts < n; j->n_hosts++)
		j->hosts[j->n_hosts] = broker_desks_host_at(d, j->n_hosts);
	return 0;
}

/* The status of a failed step of the hardware: the admin's (400) or the broker's (500). */
static int hardware_fail(struct template_job *j, int r)
{
	j->status = r == -EINVAL || r == -ENOENT ? 400 : 500;
	return r;
}

/* On a worker, without XML given: the template's XML vdi writes for its OS and hardware into j->xml, and the
 * hardware as resolved into j (memory and vCPUs too). */
static int template_hardware_xml(struct template_job *j)
{
	struct pool_os_profile os;
	struct pool_hardware in = {
		.firmware = j->firmware,
		.secure_boot = j->secure_boot,
		.tpm = j->tpm,
		.memory_mib = (unsigned)j->memory,
		.vcpus = (unsigned)j->vcpus,
	}, hw;
	struct vdi_error why = { 0 };
	int r;

	if (j->os) {
		r = pool_os_profile_get(j->os, &os, &why);
		if (r < 0)
			return hardware_fail(j, vdi_error_set(&j->err, r, "os: %s", why.message));
		in.os = &os;
		/* The row records osinfo-db's own spelling of the id. */
		free(j->os);
		j->os = strdup(os.id);
		if (!j->os)
			return hardware_fail(j, vdi_error_set(&j->err, -ENOMEM, "out of memory"));
	}
	if ((r = pool_hardware_resolve(&in, &hw, &j->err)) < 0 || (r = pool_domxml_for_hardware(&hw, &j->xml, &j->err)) < 0)
		return hardware_fail(j, r);
	j->firmware = hw.firmware;
	j->secure_boot = hw.secure_boot > 0;
	j->tpm = hw.tpm > 0;
	j->memory = hw.memory_mib;
	j->vcpus = hw.vcpus;
	j->needs = (struct pool_hw_features){ .uefi = hw.firmware == POOL_FIRMWARE_UEFI, .secure_boot = j->secure_boot,
					      .tpm = j->tpm };
	return 0;
}

/* On a worker: the disk is read and the XML parsed (or written), which may take a while on slow storage;
 * osinfo-db is read; the hosts are asked for the network. */
static void template_work(void *data)
{
	struct template_job *j = data;
	bool generated = !j->xml;
	struct pool_template_options o = {
		.name = j->name,
		.disk_path = j->disk,
	};
	const char *name = broker_network_libvirt_name(j->network);

	j->status = 400;
	if (name && !network_somewhere(j, name)) {
		j->result = vdi_error_set(&j->err, -EINVAL, "network: no host has libvirt network \"%s\" active", name);
		return;
	}
	if (generated && (j->result = template_hardware_xml(j)) < 0)
		return;
	o.xml = j->xml;
	/* The XML vdi writes has the resolved memory and vCPUs already. */
	o.memory_mib = generated ? 0 : (unsigned)j->memory;
	o.vcpus = generated ? 0 : (unsigned)j->vcpus;
	j->result = pool_template_new(&o, &j->t, &j->err);
	if (j->result < 0 || (j->result = pool_domxml_heads_check(j->t->xml, (int)j->heads, &j->err)) < 0)
		return;
	if (!generated) {
		/* The admin's XML decides: what it asks of a host is what the template has. */
		j->result = pool_domxml_needs(j->t->xml, &j->needs);
		if (j->result < 0) {
			(void)vdi_error_set(&j->err, j->result, "xml: cannot read the hardware it asks for: %s",
					    strerror(-j->result));
			j->status = j->result == -EINVAL ? 400 : 500;
			return;
		}
		j->firmware = j->needs.uefi ? POOL_FIRMWARE_UEFI : POOL_FIRMWARE_BIOS;
		j->secure_boot = j->needs.secure_boot;
		j->tpm = j->needs.tpm;
	}
	if (j->want_default && network_somewhere(j, "default"))
		j->network = strdup("network:default"); /* out of memory: no network, as on a host without one */
}

/* What a host lacks that the template needs, for the 409's message. */
static const char *missing_what(const char *field)
{
	if (streq(field, "firmware"))
		return "UEFI firmware (OVMF)";
	if (streq(field, "secure_boot"))
		return "OVMF with Secure Boot and enrolled keys";
	if (streq(field, "tpm"))
		return "a TPM emulator (swtpm)";
	return field;
}

/* On the loop, after the work: the template, recorded with its hardware (-errno and a reply made on failure). */
static int template_record(struct broker_req *req, struct template_job *j)
{
	struct broker *b = j->b;
	struct vdi_error err = { 0 };
	const char *missing = broker_hosts_missing_hardware(b->desks, &j->needs);
	int r;

	if (missing) {
		broker_req_reply_error(req, 409, "%s: no host that answers offers %s", missing, missing_what(missing));
		return -EHOSTUNREACH;
	}
	r = broker_store_add_template(b->store, j->t->name, j->t->disk_path, j->t->xml, vdi_clock_wall(), &err);
	if (r < 0) {
		broker_req_reply_error(req, r == -EEXIST ? 409 : 400, "%s", err.message);
		return r;
	}
	(void)broker_store_set_template_size(b->store, j->t->name, j->memory, j->vcpus);
	if (broker_store_set_template_heads(b->store, j->t->name, j->heads) < 0 ||
	    (j->network && broker_store_set_template_network(b->store, j->t->name, j->network) < 0) ||
	    broker_store_set_template_hardware(b->store, j->t->name, j->os, pool_firmware_name(j->firmware),
					       j->secure_boot > 0, j->tpm > 0) < 0 ||
	    (j->lock_command && broker_store_set_template_lock_command(b->store, j->t->name, j->lock_command) < 0)) {
		(void)broker_store_remove_template(b->store, j->t->name);
		broker_req_reply_error(req, 500, "cannot record the template's monitors, network, hardware and lock command");
		return -EIO;
	}
	return 0;
}

static void template_complete(struct broker_req *req, void *data)
{
	struct template_job *j = data;
	struct broker *b = j->b;
	json_t *rows = NULL;

	if (!req)
		goto out;
	if (j->result < 0) {
		broker_req_reply_error(req, j->status ? j->status : 400, "%s", j->err.message);
		goto out;
	}
	if (template_record(req, j) < 0)
		goto out;
	broker_api_audit(b, j->actor, "template-add", j->t->name, j->t->disk_path);
	if (templates_json(b, j->t->name, &rows) <= 0) {
		json_decref(rows);
		broker_req_reply_error(req, 500, "cannot read the new template");
		goto out;
	}
	broker_req_reply_json(req, 201, json_incref(json_array_get(rows, 0)), NULL);
	json_decref(rows);
out:
	template_job_free(j);
}

void broker_api_admin_template_add(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_(broker_template_body_finish) struct broker_template_body body = { 0 };
	const char *name, *disk, *xml, *text, *network;
	struct template_job *j;
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	size_t len;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_template(text, len, &body, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	name = body.name;
	disk = body.disk;
	xml = body.xml;
	if (broker_store_template_exists(b->store, name) > 0) {
		broker_req_reply_error(req, 409, "template \"%s\" exists already", name);
		return;
	}
	network = body.network;
	j = vdi_new0(struct template_job);
	if (!j || !(j->name = strdup(name)) || !(j->disk = strdup(disk)) || (xml && !(j->xml = strdup(xml))) ||
	    (network && !(j->network = strdup(network))) || (body.os && !(j->os = strdup(body.os))) ||
	    (body.lock_command && !(j->lock_command = strdup(body.lock_command))) ||
	    template_job_hosts(j, b->desks) < 0) {
		if (j)
			template_job_free(j);
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	j->b = b;
	/* Without XML nor network, libvirt's `default` where a host has it (the default XML has no NIC). */
	j->want_default = !xml && !network;
	j->memory = body.memory_mib;
	j->vcpus = body.vcpus;
	j->heads = body.heads;
	j->firmware = body.firmware;
	j->secure_boot = body.secure_boot;
	j->tpm = body.tpm;
	snprintf(j->actor, sizeof(j->actor), "%s", actor);
	if (broker_req_defer(req, template_work, template_complete, j) < 0) {
		template_job_free(j);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}

/* PATCH /admin/templates/{name}: its lock_command (what its desktops run through the guest agent to lock). */
void broker_api_admin_template_update(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	_cleanup_(broker_template_body_finish) struct broker_template_body body = { 0 };
	_cleanup_free_ char *detail = NULL;
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX];
	bool has_lock;
	const char *text;
	size_t len;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	r = broker_store_template_exists(b->store, name);
	if (r <= 0) {
		broker_req_reply_error(req, r < 0 ? 500 : 404, r < 0 ? "cannot read the templates" : "no such template");
		return;
	}
	text = broker_req_body(req, &len);
	if (broker_parse_template_update(text, len, &body, &has_lock, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	if (has_lock && broker_store_set_template_lock_command(b->store, name, body.lock_command) < 0) {
		broker_req_reply_error(req, 500, "cannot update template \"%s\"", name);
		return;
	}
	detail = json_dumps(body.json, JSON_COMPACT | JSON_SORT_KEYS);
	broker_api_audit(b, actor, "template-update", name, detail);
	broker_api_reply_template(req, b, 200, name);
}

void broker_api_admin_template_remove(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	char actor[ACTOR_MAX];
	int pools, r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	_cleanup_json_ json_t *bases = NULL, *maintenance = NULL;

	pools = broker_store_template_pools(b->store, name);
	if (pools < 0) {
		broker_req_reply_error(req, 404, "no such template");
		return;
	}
	if (pools > 0) {
		broker_req_reply_error(req, 409, "template \"%s\" is used by %lld pools; delete them first", name,
				       (long long)pools);
		return;
	}
	r = broker_store_maintenance_list(b->store, name, &maintenance);
	if (r < 0) {
		broker_req_reply_error(req, 500, "cannot read the maintenance desktops");
		return;
	}
	if (r > 0) {
		broker_req_reply_error(req, 409, "template \"%s\" has a maintenance desktop; publish from it or discard it first",
				       name);
		return;
	}
	if (broker_store_template_bases(b->store, name, &bases) < 0 || broker_store_remove_template(b->store, name) < 0) {
		broker_req_reply_error(req, 500, "cannot remove template \"%s\"", name);
		return;
	}
	/* The bases vdi made for it go with it (the disk of version 1 is the admin's). */
	broker_bases_delete(b->desks, bases);
	/* A template added again under this name (its file replaced, maybe) is made and validated afresh. */
	broker_template_cache_forget(broker_desks_templates(b->desks), name);
	broker_api_audit(b, actor, "template-remove", name, NULL);
	broker_req_reply_json(req, 200, json_object(), NULL);
}

/* ---- versions: publish, cancel, rollback ------------------------------------------------------- */

void broker_api_reply_template(struct broker_req *req, struct broker *b, unsigned status, const char *name)
{
	json_t *rows = NULL;

	if (templates_json(b, name, &rows) <= 0) {
		json_decref(rows);
		broker_req_reply_error(req, 500, "cannot read template \"%s\"", name);
		return;
	}
	broker_req_reply_json(req, status, json_incref(json_array_get(rows, 0)), NULL);
	json_decref(rows);
}

struct publish_req {
	struct broker *b;
	struct broker_publish *p;
	char *name;
};

static void publish_req_free(struct publish_req *pr)
{
	broker_publish_free(pr->p);
	free(pr->name);
	free(pr);
}

static void publish_work(void *data)
{
	struct publish_req *pr = data;

	broker_publish_work(pr->p);
}

static void publish_complete(struct broker_req *req, void *data)
{
	struct publish_req *pr = data;
	struct vdi_error err = { 0 };
	int r = broker_publish_finish(pr->p, &err);

	if (req && r >= 0)
		broker_api_reply_template(req, pr->b, 201, pr->name);
	else if (req)
		/* -EINVAL: the source is no image (pool_image_probe()); an -ENOENT here is the host's
		 * (its storage pool went away), not the admin's. */
		broker_req_reply_error(req, r == -EINVAL ? 400 : r == -EBUSY || r == -EEXIST ? 409 : 500, "%s",
				       err.message);
	publish_req_free(pr);
}

static unsigned publish_status(int r)
{
	switch (r) {
	case -ENOENT:
		return 404;
	case -EBUSY:
	case -ESRCH:
	case -ESTALE:
		return 409;
	case -EHOSTUNREACH:
		return 503;
	default:
		return 500;
	}
}

void broker_api_admin_template_publish(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_(broker_publish_body_finish) struct broker_publish_body body = { 0 };
	const char *name = broker_req_param(req, 0), *text;
	struct vdi_error err = { 0 };
	struct publish_req *pr;
	char actor[ACTOR_MAX];
	size_t len;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_publish(text, len, &body, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	pr = vdi_new0(struct publish_req);
	if (!pr || !(pr->name = strdup(name))) {
		free(pr);
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	pr->b = b;
	if (body.from_maintenance)
		r = broker_publish_new_maintenance(b->desks, name, body.note, body.at, actor, &pr->p, &err);
	else
		r = broker_publish_new(b->desks, name, body.disk, body.note, body.at, actor, &pr->p, &err);
	if (r != 0) {
		publish_req_free(pr);
		if (r > 0)
			broker_api_reply_template(req, b, 202, name);
		else
			broker_req_reply_error(req, publish_status(r), "%s", err.message[0] ? err.message : strerror(-r));
		return;
	}
	if (broker_req_defer(req, publish_work, publish_complete, pr) < 0) {
		broker_publish_failed(pr->p, -EAGAIN, "the broker is busy");
		publish_complete(NULL, pr);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}

void broker_api_admin_template_publish_cancel(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	char actor[ACTOR_MAX];
	int64_t version;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (broker_store_template_exists(b->store, name) <= 0) {
		broker_req_reply_error(req, 404, "no such template");
		return;
	}
	r = broker_publish_cancel(b->desks, name, actor, &version);
	if (r < 0) {
		broker_req_reply_error(req, r == -ENOENT ? 404 : 500, r == -ENOENT ? "template \"%s\" has no scheduled publish"
				       : "cannot cancel the publish of template \"%s\"", name);
		return;
	}
	broker_api_reply_template(req, b, 200, name);
}

void broker_api_admin_template_rollback(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0), *text;
	struct vdi_error err = { 0 };
	char actor[ACTOR_MAX], detail[64];
	int64_t to, version;
	size_t len;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_rollback(text, len, &to, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	r = broker_store_version_rollback(b->store, name, to, &version, &err);
	if (r < 0) {
		broker_req_reply_error(req, r == -ENOENT ? 404 : r == -ESRCH || r == -ENODATA || r == -EALREADY || r == -EBUSY
				       ? 409 : 500, "%s", err.message[0] ? err.message : "cannot roll back");
		return;
	}
	snprintf(detail, sizeof(detail), "to version %lld", (long long)version);
	broker_api_audit(b, actor, "template-rollback", name, detail);
	broker_desks_versions_changed(b->desks);
	broker_api_reply_template(req, b, 200, name);
}
