/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The vdi-broker daemon: configuration, store, login throttle and the HTTP API. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "metrics.h"
#include "now.h"
#include "token.h"

struct broker_addresses;
struct broker_http;
struct broker_req;
struct broker_store;
struct broker_throttle;
struct broker_desks;
struct vdi_workers;

struct broker {
	struct vdi_config cfg;
	struct broker_store *store;      /* the loop thread's connection */
	struct broker_throttle *throttle;
	struct broker_http *http;
	struct vdi_workers *workers;
	struct broker_desks *desks;
	struct broker_addresses *addresses; /* the running desktops' IP addresses (addresses.h) */
	struct broker_metrics metrics;
	struct vdi_token_key token_key;
};

/* Starts a broker from cfg (taken, even on failure). */
int broker_new(struct vdi_config *cfg, struct broker **ret, struct vdi_error *err);
struct broker *broker_free(struct broker *b);
int broker_run(struct broker *b);
void broker_stop(struct broker *b);
/* SIGHUP, from a signal handler: reload the [broker] TLS certificate on the loop (broker_http_reload). */
void broker_reload(struct broker *b);
int broker_port(struct broker *b);
/* Where it listens, for logs: "127.0.0.1", "::1" or "every address". */
const char *broker_address(struct broker *b);


/* API verb groups (broker/api/). */
void broker_api_login(struct broker_req *req, void *userdata);
void broker_api_logout(struct broker_req *req, void *userdata);
void broker_api_me(struct broker_req *req, void *userdata);
void broker_api_healthz(struct broker_req *req, void *userdata);
void broker_api_metrics(struct broker_req *req, void *userdata);
void broker_api_pools(struct broker_req *req, void *userdata);
void broker_api_pool_desktop(struct broker_req *req, void *userdata);
void broker_api_desktops(struct broker_req *req, void *userdata);
void broker_api_console(struct broker_req *req, void *userdata);
void broker_api_console_vv(struct broker_req *req, void *userdata);
void broker_api_release(struct broker_req *req, void *userdata);
void broker_api_admin_templates(struct broker_req *req, void *userdata);
void broker_api_admin_template_publish(struct broker_req *req, void *userdata);
void broker_api_admin_template_publish_cancel(struct broker_req *req, void *userdata);
void broker_api_admin_template_rollback(struct broker_req *req, void *userdata);
void broker_api_admin_template_edit_get(struct broker_req *req, void *userdata);
void broker_api_admin_template_edit(struct broker_req *req, void *userdata);
void broker_api_admin_template_edit_discard(struct broker_req *req, void *userdata);
void broker_api_admin_template_edit_start(struct broker_req *req, void *userdata);
void broker_api_admin_template_edit_console(struct broker_req *req, void *userdata);
void broker_api_admin_template_edit_console_vv(struct broker_req *req, void *userdata);
void broker_api_admin_template(struct broker_req *req, void *userdata);
void broker_api_admin_template_add(struct broker_req *req, void *userdata);
void broker_api_admin_template_update(struct broker_req *req, void *userdata);
void broker_api_admin_template_remove(struct broker_req *req, void *userdata);
void broker_api_admin_pools(struct broker_req *req, void *userdata);
void broker_api_admin_pool_create(struct broker_req *req, void *userdata);
void broker_api_admin_pool_update(struct broker_req *req, void *userdata);
void broker_api_admin_pool_delete(struct broker_req *req, void *userdata);
void broker_api_admin_pool_recompose(struct broker_req *req, void *userdata);
void broker_api_admin_desktops(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_reset(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_stop(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_delete(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_recompose(struct broker_req *req, void *userdata);
void broker_api_admin_sessions(struct broker_req *req, void *userdata);
void broker_api_admin_session_kill(struct broker_req *req, void *userdata);
void broker_api_admin_sessions_kill(struct broker_req *req, void *userdata);
void broker_api_admin_audit(struct broker_req *req, void *userdata);
void broker_api_admin_hosts(struct broker_req *req, void *userdata);
void broker_api_admin_host_drain(struct broker_req *req, void *userdata);
void broker_api_admin_host_resume(struct broker_req *req, void *userdata);
void broker_api_admin_networks(struct broker_req *req, void *userdata);
void broker_api_admin_network_add(struct broker_req *req, void *userdata);
void broker_api_admin_network_remove(struct broker_req *req, void *userdata);
void broker_api_admin_os(struct broker_req *req, void *userdata);
