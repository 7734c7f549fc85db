/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the /api/v1/admin handlers (api/admin.c, api/templates.c) share. */

#include <jansson.h>

struct broker;
struct broker_req;

/* Room for an actor's name in the audit log. */
#define ACTOR_MAX 256

/* Replies {key: rows} (rows taken), or 500 when r < 0. */
void broker_api_reply_rows(struct broker_req *req, int r, const char *key, json_t *rows);

/* An audit record by actor (and an info line in the log); object and detail may be NULL. */
void broker_api_audit(struct broker *b, const char *actor, const char *action, const char *object,
		      const char *detail);

/* Replies status with template name as GET /admin/templates/{name} shows it (api/templates.c). */
void broker_api_reply_template(struct broker_req *req, struct broker *b, unsigned status, const char *name);

/* A maintenance desktop's store row (borrowed) as the admin API shows it: a new object, NULL for no memory. */
json_t *broker_api_maintenance_row_json(json_t *row);

/* Template name's maintenance desktop as the admin API shows it, or JSON null:
 * *ret is new.  -errno when the store cannot tell. */
int broker_api_maintenance_json(struct broker *b, const char *name, json_t **ret);
