/* SPDX-License-Identifier: GPL-2.0-or-later */
/* POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me, GET /healthz */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "alloc.h"
#include "cleanup.h"
#include "clock.h"
#include "bodies.h"
#include "broker.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pam.h"
#include "session.h"
#include "store-sessions.h"
#include "store.h"
#include "throttle.h"

struct login_job {
	struct broker *b;
	char *user, *password, *peer;
	bool secure; /* the client came over TLS (to a TLS-terminating proxy) */
	struct broker_login login;
	int result;
	double started, seconds; /* of the PAM conversation */
	struct vdi_error err;
};

static void login_job_free(struct login_job *j)
{
	if (j->password) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->user);
	free(j->peer);
	broker_login_finish(&j->login);
	free(j);
}

static void login_work(void *data)
{
	struct login_job *j = data;

	j->started = broker_monotonic();
	j->result = broker_pam_login(j->b->cfg.pam.service, j->user, j->password, j->b->cfg.pam.admin_group,
				     &j->login, &j->err);
	j->seconds = broker_monotonic() - j->started;
	explicit_bzero(j->password, strlen(j->password));
}

static char *join_groups(char **groups)
{
	size_t len = 1;
	char *s;

	for (char **g = groups; g && *g; g++)
		len += strlen(*g) + 1;
	s = calloc(1, len);
	for (char **g = groups; s && g && *g; g++) {
		if (g != groups)
			strcat(s, ",");
		strcat(s, *g);
	}
	return s;
}

static json_t *groups_json(char **groups)
{
	json_t *a = json_array();

	for (char **g = groups; a && g && *g; g++)
		json_array_append_new(a, json_string(*g));
	return a;
}

static void login_complete(struct broker_req *req, void *data)
{
	struct login_job *j = data;
	struct broker *b = j->b;
	char ukey[300], akey[100];
	int64_t now = broker_now(), steady = vdi_clock_steady(), wall = vdi_clock_wall();

	/* Never run (the broker is stopping): neither a success nor a failure. */
	if (j->result == -ECANCELED) {
		login_job_free(j);
		return;
	}
	snprintf(ukey, sizeof(ukey), "u:%s", j->user);
	snprintf(akey, sizeof(akey), "a:%s", j->peer);
	broker_histogram_observe(&b->metrics.pam, j->seconds);

	if (j->result < 0) {
		b->metrics.logins_failed++;
		broker_throttle_fail(b->throttle, ukey, steady);
		broker_throttle_fail(b->throttle, akey, steady);
		char safe[128], why[300];

		vdi_info("login of \"%s\" from %s refused: %s", vdi_log_safe(j->user, safe, sizeof(safe)), j->peer,
			 vdi_log_safe(j->err.message, why, sizeof(why)));
		(void)broker_store_audit(b->store, wall, j->user, "login-failed", NULL, j->peer);
		if (req) {
			if (j->result == -EACCES)
				broker_req_reply_error(req, 401, "invalid user name or password");
			else if (j->result == -EPERM || j->result == -ENOENT)
				broker_req_reply_error(req, 403, "this account may not log in");
			else
				broker_req_reply_error(req, 500, "the authentication service failed");
		}
		login_job_free(j);
		return;
	}

	broker_throttle_clear(b->throttle, ukey);
	b->metrics.logins_ok++;
	if (req) {
		char id[BROKER_SESSION_TOKEN_LEN + 1], csrf[BROKER_SESSION_TOKEN_LEN + 1], cookie[256];
		_cleanup_free_ char *groups = join_groups(j->login.groups);
		int r = groups ? broker_session_create(b->store, j->login.user, groups, j->login.admin, j->peer, now,
							(int64_t)b->cfg.broker.session_ttl, id, csrf)
			       : -ENOMEM;

		if (r == -EBUSY) {
			broker_req_reply_error(req, 503, "the database is busy; try again in a moment");
		} else if (r < 0) {
			broker_req_reply_error(req, 500, "cannot start a session");
		} else {
			snprintf(cookie, sizeof(cookie), "vdi_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%llu%s",
				 id, (unsigned long long)b->cfg.broker.session_ttl, j->secure ? "; Secure" : "");
			broker_req_reply_json(req, 200,
					      json_pack("{s:s, s:o, s:b, s:s}", "user", j->login.user, "groups",
							groups_json(j->login.groups), "admin", j->login.admin, "csrf", csrf),
					      cookie);
			char safe[128];

			vdi_info("login of \"%s\" from %s%s", vdi_log_safe(j->login.user, safe, sizeof(safe)), j->peer,
				 j->login.admin ? " (admin)" : "");
			(void)broker_store_audit(b->store, wall, j->login.user, "login", NULL, j->peer);
		}
		explicit_bzero(id, sizeof(id));
		explicit_bzero(csrf, sizeof(csrf));
	}
	login_job_free(j);
}

void broker_api_login(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_(broker_login_body_finish) struct broker_login_body body = { 0 };
	const char *user, *password, *text;
	struct vdi_error err = { 0 };
	char ukey[300], akey[100];
	struct login_job *j;
	int64_t wait, now = vdi_clock_steady();
	size_t len;

	if (broker_check_origin(req) < 0)
		return;
	text = broker_req_body(req, &len);
	if (broker_parse_login(text, len, &body, &err) < 0) {
		broker_req_reply_error(req, 400, "%s", err.message);
		return;
	}
	user = body.username;
	password = body.password;

	snprintf(ukey, sizeof(ukey), "u:%.256s", user);
	snprintf(akey, sizeof(akey), "a:%s", broker_req_peer(req));
	wait = broker_throttle_wait(b->throttle, ukey, now);
	if (broker_throttle_wait(b->throttle, akey, now) > wait)
		wait = broker_throttle_wait(b->throttle, akey, now);
	if (wait > 0) {
		broker_req_reply_error(req, 429, "too many failed logins; try again in %lld seconds", (long long)wait);
		return;
	}

	j = vdi_new0(struct login_job);
	if (!j || !(j->user = strdup(user)) || !(j->password = strdup(password)) ||
	    !(j->peer = strdup(broker_req_peer(req)))) {
		if (j)
			login_job_free(j);
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	j->b = b;
	j->result = -ECANCELED; /* until login_work() runs */
	j->secure = broker_req_is_tls(req);
	if (broker_req_defer(req, login_work, login_complete, j) < 0) {
		login_job_free(j);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}

void broker_api_logout(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	struct broker_session s;

	if (broker_require_session(b->store, req, true, &s) < 0)
		return;
	(void)broker_session_end(b->store, broker_req_cookie(req, "vdi_session"));
	(void)broker_store_audit(b->store, vdi_clock_wall(), s.user, "logout", NULL, broker_req_peer(req));
	broker_session_finish(&s);
	broker_req_reply_json(req, 200, json_object(), "vdi_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

void broker_api_me(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	struct broker_session s;
	json_t *groups = json_array();

	if (broker_require_session(b->store, req, false, &s) < 0) {
		json_decref(groups);
		return;
	}
	for (char *save = NULL, *g = strtok_r(s.groups, ",", &save); g && groups; g = strtok_r(NULL, ",", &save))
		json_array_append_new(groups, json_string(g));
	broker_req_reply_json(req, 200, json_pack("{s:s, s:o, s:b}", "user", s.user, "groups", groups, "admin", s.admin),
			      NULL);
	broker_session_finish(&s);
}

void broker_api_healthz(struct broker_req *req, void *userdata)
{
	(void)userdata;
	broker_req_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), NULL);
}
