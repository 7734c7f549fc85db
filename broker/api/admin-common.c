/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "admin-common.h"

#include "broker.h"
#include "clock.h"
#include "http.h"
#include "log.h"
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
