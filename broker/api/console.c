/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console of a running domain: a fresh SPICE ticket, then a token for vdi-gateway or a .vv file. */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "broker.h"
#include "cleanup.h"
#include "clock.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "random.h"
#include "store.h"
#include "tls-pem.h"
#include "token.h"
#include "vmpool.h"
#include "vv.h"

/* SPICE ticket length: random [A-Za-z0-9], under POOL_TICKET_MAX. */
#define TICKET_LEN 32

struct console_job {
	struct broker *b;
	bool vv;
	struct pool_host *host;
	char user[256];
	char domain[128];
	char what[128];
	char title[128];
	char filename[128];
	char object[96];
	bool usb_redirect;
	int64_t id;
	char password[TICKET_LEN + 1];
	char target[512];
	int64_t expires;
	char *ca;          /* .vv with [gateway] tls_cert: the PEM of [gateway] tls_ca (may stay NULL) */
	char subject[512]; /* and the subject of tls_cert ("": plain SPICE) */
	bool tls_failed;   /* they could not be read (err says why) */
	int result;
	struct vdi_error err;
};

static void console_job_free(struct console_job *j)
{
	explicit_bzero(j->password, sizeof(j->password));
	free(j->ca);
	free(j);
}

static void console_work(void *data)
{
	struct console_job *j = data;

	const struct vdi_config *cfg = &j->b->cfg;

	/* SPICE over TLS: what remote-viewer needs to trust the gateway, read from disk here. */
	if (j->vv && cfg->gateway.tls_cert) {
		j->result = vdi_pem_subject(cfg->gateway.tls_cert, j->subject, sizeof(j->subject), &j->err);
		if (j->result >= 0 && cfg->gateway.tls_ca)
			j->result = vdi_pem_certificates(cfg->gateway.tls_ca, &j->ca, &j->err);
		if (j->result < 0) {
			j->tls_failed = true;
			return;
		}
	}
	j->result = pool_desktop_set_ticket(j->host, j->domain, j->password, (time_t)j->expires, &j->err);
	if (j->result >= 0)
		j->result = pool_desktop_spice_target(j->host, j->domain, j->target, sizeof(j->target));
}

static void reply_vv(struct broker_req *req, struct console_job *j, const char *token)
{
	_cleanup_free_ char *vv = NULL;
	char disposition[192];
	size_t n;

	if (broker_vv_write(&(struct broker_vv){ .desktop = j->id, .password = j->password, .token = token,
						  .public_url = j->b->cfg.gateway.public_url, .title = j->title,
						  .usb_redirect = j->usb_redirect,
						  .host_subject = j->subject[0] ? j->subject : NULL, .ca = j->ca },
			    &vv, &n) < 0) {
		broker_req_reply_error(req, 500, "cannot write the remote-viewer file");
		return;
	}
	snprintf(disposition, sizeof(disposition), "content-disposition: attachment; filename=\"%s\"", j->filename);
	broker_req_reply_raw(req, 200, "application/x-virt-viewer", vv, n, disposition);
	explicit_bzero(vv, n);
}

static void console_complete(struct broker_req *req, void *data)
{
	struct console_job *j = data;
	struct broker *b = j->b;
	struct vdi_token_claims claims = { 0 };
	_cleanup_free_ char *token = NULL, *url = NULL;

	if (!req)
		goto out;
	if (j->tls_failed) {
		vdi_warn("remote-viewer file for %s: %s", j->what, j->err.message);
		broker_req_reply_error(req, 500, "cannot write the remote-viewer file: the gateway's certificate "
					    "cannot be read (the broker's log says why)");
		goto out;
	}
	if (j->result < 0) {
		vdi_warn("console for %s: %s", j->what, j->err.message);
		broker_req_reply_error(req, j->result == -ENOTCONN ? 503 : 409, "cannot open the console of %s: %s",
				       j->what, j->err.message[0] ? j->err.message : strerror(-j->result));
		goto out;
	}
	snprintf(claims.sub, sizeof(claims.sub), "%s", j->user);
	claims.dsk = j->id;
	snprintf(claims.tgt, sizeof(claims.tgt), "%s", j->target);
	claims.exp = j->expires;
	if (vdi_token_sign(&b->token_key, &claims, &token) < 0 ||
	    asprintf(&url, "%s/spice?token=%s", b->cfg.gateway.public_url, token) < 0) {
		url = NULL;
		broker_req_reply_error(req, 500, "cannot make a console token");
		goto out;
	}
	(void)broker_store_audit(b->store, vdi_clock_wall(), j->user, "console", j->object,
				 j->vv ? "remote-viewer" : "browser");
	if (!j->vv)
		broker_req_reply_json(req, 200,
				      json_pack("{s:s, s:s, s:s, s:I}", "url", url, "token", token, "password", j->password,
						"expires", (json_int_t)j->expires),
				      NULL);
	else
		reply_vv(req, j, token);
out:
	if (token)
		explicit_bzero(token, strlen(token));
	console_job_free(j);
}

void broker_api_console_open(struct broker_req *req, struct broker *b, const struct broker_console_target *t, bool vv)
{
	struct console_job *j = vdi_new0(struct console_job);

	if (!j) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	j->b = b;
	j->vv = vv;
	j->id = t->id;
	j->usb_redirect = t->usb_redirect > 0;
	j->host = t->host;
	/* Unix seconds: the gateway and QEMU judge them by their own wall clocks. */
	j->expires = vdi_clock_wall() + (int64_t)b->cfg.tokens.ttl;
	snprintf(j->user, sizeof(j->user), "%s", t->user);
	snprintf(j->domain, sizeof(j->domain), "%s", t->domain);
	snprintf(j->what, sizeof(j->what), "%s", t->what);
	snprintf(j->title, sizeof(j->title), "%s", t->title);
	snprintf(j->filename, sizeof(j->filename), "%s", t->filename);
	snprintf(j->object, sizeof(j->object), "%s", t->object);
	if (!j->host || t->id <= 0 || vdi_random_id(j->password, TICKET_LEN) < 0) {
		broker_req_reply_error(req, 500, "cannot prepare the console");
		console_job_free(j);
		return;
	}
	if (broker_req_defer(req, console_work, console_complete, j) < 0) {
		console_job_free(j);
		broker_req_reply_error(req, 503, "the broker is busy; try again");
	}
}
