/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "admin-common.h"

#include <errno.h>

#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "maintenance.h"
#include "store-maintenance.h"
#include "store.h"

void broker_api_reply_rows(struct broker_req *req, int r, const char *key, json_t *rows)
{
	if (r < 0) {
		json_decref(rows);
		broker_req_reply_error(req, 500, "cannot read %s", key);
		return;
	}
	broker_req_reply_json(req, 200, json_pack("{s:o}", key, rows), NULL);
}

void broker_api_audit(struct broker *b, const char *actor, const char *action, const char *object,
		      const char *detail)
{
	char safe[128];

	(void)broker_store_audit(b->store, vdi_clock_wall(), actor, action, object, detail);
	vdi_info("%s %s by %s", action, object ? vdi_log_safe(object, safe, sizeof(safe)) : "", actor);
}

/* A store row as the API shows it (row borrowed; a new object). */
json_t *broker_api_maintenance_row_json(json_t *row)
{
	json_t *o = json_deep_copy(row);
	char domain[128];

	if (!o || broker_maintenance_domain(json_integer_value(json_object_get(row, "id")), domain, sizeof(domain)) < 0 ||
	    json_object_set_new(o, "domain", json_string(domain)) < 0 ||
	    json_object_set_new(o, "current", json_boolean(json_integer_value(json_object_get(row, "current")))) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int broker_api_maintenance_json(struct broker *b, const char *name, json_t **ret)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_maintenance_list(b->store, name, &rows);

	if (r < 0)
		return r;
	*ret = r > 0 ? broker_api_maintenance_row_json(json_array_get(rows, 0)) : json_null();
	return *ret ? 0 : -ENOMEM;
}
