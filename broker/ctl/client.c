/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "config.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "text.h"

static void vmessage(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vmessage(const char *fmt, va_list ap)
{
	char buf[2048], safe[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* Messages may carry the broker's text: no control characters reach the terminal. */
	fprintf(stderr, "vdictl: %s\n", vdi_log_safe(buf, safe, sizeof(safe)));
}

int ctl_error(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return status;
}

int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vmessage(fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "Try '%s --help'.\n", ctl->prog);
	return CTL_EXIT_USAGE;
}

int ctl_help(const struct ctl *ctl)
{
	printf("usage: %s%s%s\n", ctl->prog, *ctl->usage ? " " : "", ctl->usage);
	return CTL_EXIT_OK;
}

int ctl_target(char **ret, const char *collection, const char *name, const char *suffix)
{
	_cleanup_free_ char *enc = NULL;
	int r;

	r = ctl_url_encode(name, &enc);
	if (r < 0)
		return r;
	if (asprintf(ret, "/%s/%s%s%s", collection, enc, suffix ? "/" : "", suffix ? suffix : "") < 0)
		return -ENOMEM;
	return 0;
}

/*
 * The admin socket: --socket; else [broker] admin_socket from --config, or
 * from CTL_DEFAULT_CONFIG when that exists; else CTL_DEFAULT_SOCKET.
 */
static int socket_path(const struct ctl *ctl, char **ret)
{
	const char *config = ctl->config ? ctl->config : CTL_DEFAULT_CONFIG;
	struct vdi_config cfg;
	struct vdi_error err = { 0 };
	int r;

	if (ctl->socket) {
		*ret = strdup(ctl->socket);
		return *ret ? CTL_EXIT_OK : ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	if (!ctl->config && access(config, F_OK) < 0 && errno == ENOENT) {
		*ret = strdup(CTL_DEFAULT_SOCKET);
		return *ret ? CTL_EXIT_OK : ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	r = vdi_config_load(config, &cfg, &err);
	if (r < 0) {
		if (!err.message[0])
			vdi_error_set(&err, r, "%s: %s", config, strerror(-r));
		return ctl_error(CTL_EXIT_USAGE, "%s (or give --socket)", err.message);
	}
	*ret = TAKE_PTR(cfg.broker.admin_socket);
	vdi_config_finish(&cfg);
	return *ret ? CTL_EXIT_OK : ctl_error(CTL_EXIT_FAILED, "out of memory");
}

/* Sends the request and reads the reply, of any status, into *reply. Returns an exit status. */
static int request(const struct ctl *ctl, const char *method, const char *target, const json_t *body,
		   struct ctl_http_reply *reply)
{
	_cleanup_free_ char *socket = NULL, *path = NULL, *text = NULL;
	struct vdi_error err = { 0 };
	int r;

	r = socket_path(ctl, &socket);
	if (r != CTL_EXIT_OK)
		return r;
	if (asprintf(&path, "/api/v1/admin%s", target) < 0) {
		path = NULL;
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
		if (strlen(text) > CTL_MAX_REQUEST)
			return ctl_error(CTL_EXIT_FAILED, "the request is larger than the broker takes (%d KiB)",
					 CTL_MAX_REQUEST / 1024);
	}

	r = ctl_http_request(socket, method, path, text, reply, &err);
	if (r == -ENOMEM)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (r < 0)
		return ctl_error(CTL_EXIT_UNREACHABLE, "%s", err.message);
	return CTL_EXIT_OK;
}

/* A reply of status >= 300: says why (the broker's message when it gave one). Returns an exit status. */
static int refused(const struct ctl_http_reply *reply, json_t *j)
{
	const char *msg = json_string_value(json_object_get(j, "error"));

	if (reply->status >= 400 && msg)
		return ctl_error(CTL_EXIT_FAILED, "%s", msg);
	if (reply->status >= 400)
		return ctl_error(CTL_EXIT_FAILED, "the broker answered HTTP %d", reply->status);
	return ctl_error(CTL_EXIT_FAILED, "unexpected reply from the broker: HTTP %d", reply->status);
}

int ctl_call(const struct ctl *ctl, const char *method, const char *target, const json_t *body, json_t **ret)
{
	_cleanup_(ctl_http_reply_finish) struct ctl_http_reply reply = { 0 };
	_cleanup_json_ json_t *j = NULL;
	struct vdi_error err = { 0 };
	int r;

	r = request(ctl, method, target, body, &reply);
	if (r != CTL_EXIT_OK)
		return r;
	if (reply.body_len == 0)
		j = json_object();
	else if (vdi_json_parse(reply.body, reply.body_len, false, &j, &err) < 0)
		j = NULL;

	if (reply.status >= 300)
		return refused(&reply, j);
	if (!j)
		return ctl_error(CTL_EXIT_FAILED, "the broker's reply is not JSON: %s", err.message);
	*ret = TAKE_PTR(j);
	return CTL_EXIT_OK;
}

int ctl_request(const struct ctl *ctl, const char *method, const char *target, const json_t *body, json_t **ret)
{
	_cleanup_json_ json_t *reply = NULL;
	int r;

	*ret = NULL;
	r = ctl_call(ctl, method, target, body, &reply);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->json)
		return ctl_print_json(reply);
	*ret = TAKE_PTR(reply);
	return CTL_EXIT_OK;
}

int ctl_request_at(const struct ctl *ctl, const char *method, const char *collection, const char *name,
		   const char *suffix, const json_t *body, json_t **ret)
{
	_cleanup_free_ char *target = NULL;

	*ret = NULL;
	if (ctl_target(&target, collection, name, suffix) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	return ctl_request(ctl, method, target, body, ret);
}

int ctl_call_raw(const struct ctl *ctl, const char *method, const char *target, char **ret, size_t *ret_len)
{
	_cleanup_(ctl_http_reply_finish) struct ctl_http_reply reply = { 0 };
	_cleanup_json_ json_t *j = NULL;
	int r;

	r = request(ctl, method, target, NULL, &reply);
	if (r != CTL_EXIT_OK)
		return r;
	if (reply.status >= 300) {
		(void)vdi_json_parse(reply.body, reply.body_len, false, &j, NULL);
		return refused(&reply, j);
	}
	*ret = TAKE_PTR(reply.body);
	*ret_len = reply.body_len;
	return CTL_EXIT_OK;
}

int ctl_print_json(const json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) < 0 || putchar('\n') == EOF)
		return ctl_error(CTL_EXIT_FAILED, "cannot write the output");
	return CTL_EXIT_OK;
}

int ctl_print_table(const struct ctl_table *t)
{
	int r = ctl_table_print(t, stdout);

	if (r < 0)
		return ctl_error(CTL_EXIT_FAILED, "cannot print the table: %s", strerror(-r));
	return CTL_EXIT_OK;
}

int ctl_list(const struct ctl *ctl, const char *target, const char *member, const struct ctl_column *columns,
	     size_t n_columns, int (*row)(json_t *e, struct ctl_table *t))
{
	_cleanup_(ctl_table_freep) struct ctl_table *t = NULL;
	_cleanup_json_ json_t *reply = NULL;
	size_t i;
	json_t *e;
	int r;

	r = ctl_call(ctl, "GET", target, NULL, &reply);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->json)
		return ctl_print_json(reply);
	if (ctl_table_new(columns, n_columns, &t) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	json_array_foreach(json_object_get(reply, member), i, e)
		if (row(e, t) < 0)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
	return ctl_print_table(t);
}
