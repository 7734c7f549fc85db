/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET /api/v1/admin/os[?filter=F]: the OSes osinfo-db knows, for a template's "os".  osinfo-db is read on a
 * worker (its first load takes a while; the loop never waits for it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "admin-common.h"
#include "alloc.h"
#include "broker.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "vmpool.h"

/* The longest filter taken: an id or a part of a name. */
#define OS_FILTER_MAX 128

struct os_job {
	char filter[OS_FILTER_MAX + 1];
	json_t *rows;     /* the list, from the worker; NULL: it failed */
	int result;
	struct vdi_error err;
};

static json_t *os_row(const struct pool_os_entry *e)
{
	return json_pack("{s:s, s:s?, s:s?, s:s?}", "id", e->id, "name", e->name, "version", e->version, "family",
			 e->family);
}

/* On a worker: osinfo-db's OSes whose id or name has the filter. */
static void os_work(void *data)
{
	struct os_job *j = data;
	struct pool_os_entry *list = NULL;
	size_t n = 0;

	j->result = pool_os_list(j->filter, &list, &n, &j->err);
	if (j->result < 0)
		return;
	j->rows = json_array();
	for (size_t i = 0; j->rows && i < n; i++)
		if (json_array_append_new(j->rows, os_row(&list[i])) < 0)
			j->result = -ENOMEM;
	if (!j->rows)
		j->result = -ENOMEM;
	pool_os_list_free(list, n);
}

static void os_complete(struct broker_req *req, void *data)
{
	struct os_job *j = data;

	if (req && j->result < 0) {
		vdi_warn("cannot list osinfo-db's OSes: %s", j->err.message[0] ? j->err.message : strerror(-j->result));
		broker_req_reply_error(req, 500, "cannot list osinfo-db's OSes: %s",
				       j->err.message[0] ? j->err.message : strerror(-j->result));
	} else if (req) {
		broker_api_reply_rows(req, 0, "os", json_incref(j->rows));
	}
	json_decref(j->rows);
	free(j);
}

void broker_api_admin_os(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	char actor[ACTOR_MAX], filter[4 * OS_FILTER_MAX] = "";
	struct os_job *j;

	if (broker_require_admin(b->store, req, actor, sizeof(actor)) < 0)
		return;
	if (broker_req_query(req, "filter", filter, sizeof(filter)) && strlen(filter) > OS_FILTER_MAX) {
		broker_req_reply_error(req, 400, "filter: at most %d characters", OS_FILTER_MAX);
		return;
	}
	j = vdi_new0(struct os_job);
	if (!j) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	snprintf(j->filter, sizeof(j->filter), "%s", filter);
	if (broker_req_defer(req, os_work, os_complete, j) < 0) {
		free(j);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}
