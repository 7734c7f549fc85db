/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The vdi-broker daemon: configuration, store, login throttle and the HTTP API. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "metrics.h"
#include "token.h"

struct broker_http;
struct broker_req;
struct broker_session;
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
	struct broker_metrics metrics;
	struct vdi_token_key token_key;
};

/* Starts a broker from cfg (taken, even on failure). */
int broker_new(struct vdi_config *cfg, struct broker **ret, struct vdi_error *err);
struct broker *broker_free(struct broker *b);
int broker_run(struct broker *b);
void broker_stop(struct broker *b);
int broker_port(struct broker *b);
/* Where it listens, for logs: "127.0.0.1", "::1" or "every address". */
const char *broker_address(struct broker *b);

/*
 * The broker's clock for the times it stores and judges durations by (sessions' created and
 * expires, desktops' assigned_at, last_disconnect and updated): unix seconds that advance on
 * the monotonic clock.  When the wall clock jumps, the next tick (1 s) moves this clock and
 * those stored times by as much at once, so that a duration under way keeps its length and the
 * stored times stay wall times.  Durations kept only in memory (lockouts, the keeper's backoff,
 * the tick's intervals) use vdi_clock_steady(), which never moves.  What only people read (the
 * audit log, templates' and pools' created, hosts' looked_at) and what other programs judge
 * (console tokens, SPICE tickets) is on the wall clock, vdi_clock_wall().
 */
int64_t broker_now(void);

/*
 * For handlers: the caller's session (0), or a reply already sent and
 * -EACCES.  With csrf, state-changing requests also need X-CSRF-Token.
 */
int broker_require_session(struct broker *b, struct broker_req *req, bool csrf, struct broker_session *ret);

/* Refuses (403, -EPERM) a request whose Origin is not this server's Host. */
int broker_check_origin(struct broker_req *req);

/*
 * For user paths: like broker_require_session(), and refused (400) on the
 * admin socket, which has no users.
 */
int broker_require_user(struct broker *b, struct broker_req *req, bool csrf, struct broker_session *ret);

/*
 * For /admin paths: the admin socket, or an admin's session (with a CSRF
 * token for anything but GET).  Writes the actor's name for the audit log
 * into actor.  0, or a reply already sent and -EACCES.
 */
int broker_require_admin(struct broker *b, struct broker_req *req, char *actor, size_t len);

/* The route's i-th "*" as a positive desktop id; else replies 404 and returns -ENOENT. */
int broker_req_desktop_id(struct broker_req *req, unsigned i, int64_t *ret);

/* Whether user_groups (comma-separated) include one of pool_groups ("" = everyone). */
bool broker_entitled(const char *pool_groups, const char *user_groups);

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
void broker_api_admin_template_add(struct broker_req *req, void *userdata);
void broker_api_admin_template_remove(struct broker_req *req, void *userdata);
void broker_api_admin_pools(struct broker_req *req, void *userdata);
void broker_api_admin_pool_create(struct broker_req *req, void *userdata);
void broker_api_admin_pool_update(struct broker_req *req, void *userdata);
void broker_api_admin_pool_delete(struct broker_req *req, void *userdata);
void broker_api_admin_desktops(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_reset(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_stop(struct broker_req *req, void *userdata);
void broker_api_admin_desktop_delete(struct broker_req *req, void *userdata);
void broker_api_admin_sessions(struct broker_req *req, void *userdata);
void broker_api_admin_session_kill(struct broker_req *req, void *userdata);
void broker_api_admin_sessions_kill(struct broker_req *req, void *userdata);
void broker_api_admin_audit(struct broker_req *req, void *userdata);
void broker_api_admin_hosts(struct broker_req *req, void *userdata);
void broker_api_admin_host_drain(struct broker_req *req, void *userdata);
void broker_api_admin_host_resume(struct broker_req *req, void *userdata);
