/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What every request goes through before a handler acts: Origin, the session
 * cookie, X-CSRF-Token, admin or user, the admin socket, the route's desktop
 * id, and whether a user's groups entitle them to a pool.  Each check that
 * refuses has already replied.  store (the loop thread's) and req are borrowed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_store;
struct broker_req;
struct broker_session;

/*
 * For handlers: the caller's session (0), or a reply already sent and
 * -EACCES.  With csrf, state-changing requests also need X-CSRF-Token.
 */
int broker_require_session(struct broker_store *store, struct broker_req *req, bool csrf, struct broker_session *ret);

/* Refuses (403, -EPERM) a request whose Origin is not this server's Host. */
int broker_check_origin(struct broker_req *req);

/*
 * For user paths: like broker_require_session(), and refused (400) on the
 * admin socket, which has no users.
 */
int broker_require_user(struct broker_store *store, struct broker_req *req, bool csrf, struct broker_session *ret);

/*
 * For /admin paths: the admin socket, or an admin's session (with a CSRF
 * token for anything but GET).  Writes the actor's name for the audit log
 * into actor.  0, or a reply already sent and -EACCES.
 */
int broker_require_admin(struct broker_store *store, struct broker_req *req, char *actor, size_t len);

/* The route's i-th "*" as a positive desktop id; else replies 404 and returns -ENOENT. */
int broker_req_desktop_id(struct broker_req *req, unsigned i, int64_t *ret);

/* Whether user_groups (comma-separated) include one of pool_groups ("" = everyone). */
bool broker_entitled(const char *pool_groups, const char *user_groups);
