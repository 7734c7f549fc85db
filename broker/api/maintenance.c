/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /api/v1/admin/templates/{name}/edit...: a template's maintenance desktop (maintenance.h), for
 * admins and the admin socket: make it, show it, boot it again, open its console, throw it away.
 * Publishing from it is POST .../publish {"from_maintenance": true} (api/templates.c).
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
#include "console.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "maintenance.h"
#include "store-catalog.h"
#include "store-maintenance.h"
#include "store.h"

/* Template name's maintenance desktop (*ret: the store's row, new), or a reply already sent and -ENOENT. */
static int find(struct broker_req *req, struct broker *b, const char *name, json_t **ret)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_maintenance_list(b->store, name, &rows);

	if (r < 0) {
		broker_req_reply_error(req, 500, "cannot read the maintenance desktops");
		return r;
	}
	if (r == 0) {
		if (broker_store_template_exists(b->store, name) > 0)
			broker_req_reply_error(req, 404, "template \"%s\" has no maintenance desktop", name);
		else
			broker_req_reply_error(req, 404, "no such template");
		return -ENOENT;
	}
	*ret = json_incref(json_array_get(rows, 0));
	return 0;
}

/* status and the maintenance desktop of template name. */
static void reply_maintenance(struct broker_req *req, struct broker *b, unsigned status, const char *name)
{
	json_t *m = NULL;

	if (broker_api_maintenance_json(b, name, &m) < 0) {
		broker_req_reply_error(req, 500, "cannot read the maintenance desktop of template \"%s\"", name);
		return;
	}
	broker_req_reply_json(req, status, m, NULL);
}

void broker_api_admin_template_edit_get(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	const char *name = broker_req_param(req, 0);
	_cleanup_json_ json_t *row = NULL;
	char actor[ACTOR_MAX];

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0 || find(req, b, name, &row) < 0)
		return;
	broker_req_reply_json(req, 200, broker_api_maintenance_row_json(row), NULL);
}

/* ---- the jobs: make, boot again, throw away ------------------------------------------------------ */

struct edit_req {
	struct broker *b;
	struct broker_maintenance_job *j;
	unsigned status; /* of the reply once it is done */
	bool discard;    /* the reply is the template (its maintenance desktop gone) */
	char name[80];
};

static void edit_work(void *data)
{
	struct edit_req *e = data;

	broker_maintenance_work(e->j);
}

static unsigned job_status(int r)
{
	switch (r) {
	case -ENOTCONN:
	case -EHOSTUNREACH:
		return 503;
	case -EINVAL:
		return 400;
	default:
		return 500;
	}
}

static void edit_complete(struct broker_req *req, void *data)
{
	struct edit_req *e = data;
	struct vdi_error err = { 0 };
	int r = broker_maintenance_finish(e->j, &err);

	if (req && r < 0)
		broker_req_reply_error(req, job_status(r), "%s", err.message);
	else if (req && e->discard)
		broker_api_reply_template(req, e->b, e->status, e->name);
	else if (req)
		reply_maintenance(req, e->b, e->status, e->name);
	free(e);
}

static unsigned refusal_status(int r)
{
	switch (r) {
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -EBUSY:
		return 409;
	case -EHOSTUNREACH:
		return 503;
	default:
		return 500;
	}
}

enum edit_what { EDIT_NEW, EDIT_START, EDIT_DISCARD };

/* Starts the job of what on template {name}'s maintenance desktop; the reply comes when it is done. */
static void edit(struct broker_req *req, struct broker *b, enum edit_what what)
{
	const char *name = broker_req_param(req, 0), *text;
	struct vdi_error err = { 0 };
	struct edit_req *e;
	char actor[ACTOR_MAX];
	size_t len;
	int r;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	text = broker_req_body(req, &len);
	if (what != EDIT_DISCARD && broker_parse_empty(text, len, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	e = vdi_new0(struct edit_req);
	if (!e) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	*e = (struct edit_req){ .b = b, .status = what == EDIT_NEW ? 201 : 200, .discard = what == EDIT_DISCARD };
	snprintf(e->name, sizeof(e->name), "%s", name);
	r = what == EDIT_NEW	 ? broker_maintenance_new(b->desks, name, actor, &e->j, &err)
	    : what == EDIT_START ? broker_maintenance_start(b->desks, name, actor, &e->j, &err)
				 : broker_maintenance_discard(b->desks, name, actor, &e->j, &err);
	if (r < 0) {
		free(e);
		broker_req_reply_error(req, refusal_status(r), "%s", err.message[0] ? err.message : strerror(-r));
		return;
	}
	if (broker_req_defer(req, edit_work, edit_complete, e) < 0) {
		/* Nothing ran: the maintenance desktop's row stays for reconcile to judge (a new one goes). */
		(void)broker_maintenance_finish(e->j, NULL);
		free(e);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}

void broker_api_admin_template_edit(struct broker_req *req, void *userdata)
{
	edit(req, userdata, EDIT_NEW);
}

void broker_api_admin_template_edit_start(struct broker_req *req, void *userdata)
{
	edit(req, userdata, EDIT_START);
}

void broker_api_admin_template_edit_discard(struct broker_req *req, void *userdata)
{
	edit(req, userdata, EDIT_DISCARD);
}

/* ---- console ---------------------------------------------------------------------------------- */

static void console(struct broker_req *req, struct broker *b, bool vv)
{
	const char *name = broker_req_param(req, 0);
	_cleanup_json_ json_t *row = NULL;
	char actor[ACTOR_MAX], domain[128], what[160], title[160], filename[128], object[128];
	const char *state;
	int64_t id;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0 || find(req, b, name, &row) < 0)
		return;
	id = json_integer_value(json_object_get(row, "id"));
	state = json_string_value(json_object_get(row, "state"));
	if (broker_maintenance_busy(b->desks, id) || !streq_ptr(state, "running")) {
		broker_req_reply_error(req, 409, "the maintenance desktop of template \"%s\" is not running (it is %s)", name,
				       broker_maintenance_busy(b->desks, id) ? "busy" : state);
		return;
	}
	if (broker_maintenance_domain(id, domain, sizeof(domain)) < 0) {
		broker_req_reply_error(req, 500, "cannot prepare the console");
		return;
	}
	snprintf(what, sizeof(what), "the maintenance desktop of template %s", name);
	snprintf(title, sizeof(title), "maintenance desktop of template %s", name);
	snprintf(filename, sizeof(filename), "maintenance-%s.vv", name);
	snprintf(object, sizeof(object), "maintenance:%s", name);
	broker_api_console_open(req, b,
				&(struct broker_console_target){
					.user = actor,
					.id = id,
					.host = broker_desks_host(b->desks, json_string_value(json_object_get(row, "host"))),
					.domain = domain,
					.what = what,
					.title = title,
					.filename = filename,
					.object = object,
				},
				vv);
}

void broker_api_admin_template_edit_console(struct broker_req *req, void *userdata)
{
	console(req, userdata, false);
}

void broker_api_admin_template_edit_console_vv(struct broker_req *req, void *userdata)
{
	console(req, userdata, true);
}
