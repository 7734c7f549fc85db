/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The vdi-broker daemon: configuration, store, login throttle and the HTTP API. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct broker_http;
struct broker_req;
struct broker_session;
struct broker_store;
struct broker_throttle;
struct vdi_workers;

struct broker {
	struct vdi_config cfg;
	struct broker_store *store;      /* the loop thread's connection */
	struct broker_throttle *throttle;
	struct broker_http *http;
	struct vdi_workers *workers;
};

/* Starts a broker from cfg (taken, even on failure). */
int broker_new(struct vdi_config *cfg, struct broker **ret, char *err, size_t errlen);
struct broker *broker_free(struct broker *b);
int broker_run(struct broker *b);
void broker_stop(struct broker *b);
int broker_port(struct broker *b);

int64_t broker_now(void);

/*
 * For handlers: the caller's session (0), or a reply already sent and
 * -EACCES.  With csrf, state-changing requests also need X-CSRF-Token.
 */
int broker_require_session(struct broker *b, struct broker_req *req, bool csrf, struct broker_session *ret);

/* Refuses (403, -EPERM) a request whose Origin is not this server's Host. */
int broker_check_origin(struct broker_req *req);

/* API verb groups (broker/api/). */
void broker_api_login(struct broker_req *req, void *userdata);
void broker_api_logout(struct broker_req *req, void *userdata);
void broker_api_me(struct broker_req *req, void *userdata);
void broker_api_healthz(struct broker_req *req, void *userdata);
