/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl template edit|console: a template's maintenance desktop (/api/v1/admin/templates/{name}/edit...). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* "vdi-_maintenance-7 (running) on qemu:///system, version 3" of maintenance desktop m (borrowed). */
static const char *describe(json_t *m, char *buf, size_t len)
{
	char domain[160], state[32], host[512], version[32];

	snprintf(buf, len, "%s (%s) on %s, version %s", ctl_cell(json_object_get(m, "domain"), domain, sizeof(domain)),
		 ctl_cell(json_object_get(m, "state"), state, sizeof(state)),
		 ctl_cell(json_object_get(m, "host"), host, sizeof(host)),
		 ctl_cell(json_object_get(m, "version"), version, sizeof(version)));
	return buf;
}

void ctl_print_maintenance(json_t *m)
{
	char what[1024], who[256], when[32];

	if (!json_is_object(m))
		return;
	printf("\nmaintenance desktop: %s, started by %s at %s\n", describe(m, what, sizeof(what)),
	       ctl_cell(json_object_get(m, "started_by"), who, sizeof(who)),
	       ctl_cell_time(json_object_get(m, "created"), when, sizeof(when)));
}

/* POST .../edit, POST .../edit/start or DELETE .../edit; prints what came of it. Returns an exit status. */
static int edit(const struct ctl *ctl, const char *name, const char *method, const char *suffix)
{
	_cleanup_json_ json_t *reply = NULL, *body = streq(method, "POST") ? json_object() : NULL;
	char what[1024];
	int r;

	if (streq(method, "POST") && !body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	/* The broker answers once the maintenance desktop runs (or is gone). */
	r = ctl_request_at(ctl, method, "templates", name, suffix, body, &reply);
	if (!reply)
		return r;
	if (streq(method, "DELETE"))
		printf("template \"%s\": the maintenance desktop is discarded\n", name);
	else
		printf("template \"%s\": maintenance desktop %s\n"
		       "open its console with: vdictl template console %s --vv FILE\n",
		       name, describe(reply, what, sizeof(what)), name);
	return CTL_EXIT_OK;
}

/* The options of template edit, as they are taken. */
struct edit_args {
	bool discard, start;
};

static int take_edit_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	struct edit_args *a = data;

	(void)ctl;
	(void)value;
	if (c == 'D')
		a->discard = true;
	else if (c == 'S')
		a->start = true;
	else
		return -1;
	return CTL_EXIT_OK;
}

int ctl_cmd_template_edit(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "discard", no_argument, NULL, 'D' },
		{ "start", no_argument, NULL, 'S' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_edit_option, 1, "a template NAME" };
	struct edit_args a = { 0 };
	const char *name;
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, &a, &r))
		return r;
	name = argv[optind];
	if (a.discard && a.start)
		return ctl_usage_error(ctl, "--discard and --start exclude each other");
	if (a.discard)
		return edit(ctl, name, "DELETE", "edit");
	return edit(ctl, name, "POST", a.start ? "edit/start" : "edit");
}

/* Writes the .vv text (len bytes) to a new file path, readable by its owner only. Returns an exit status. */
static int write_vv(const char *path, const char *text, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t done = 0;

	if (fd < 0)
		return ctl_error(CTL_EXIT_FAILED, "cannot write %s: %s", path, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ctl_error(CTL_EXIT_FAILED, "cannot write %s: %s", path, strerror(n < 0 ? errno : EIO));
		done += (size_t)n;
	}
	return CTL_EXIT_OK;
}

static int console_vv(const struct ctl *ctl, const char *name, const char *path)
{
	_cleanup_free_ char *target = NULL, *vv = NULL;
	size_t len = 0;
	int r;

	if (ctl_target(&target, "templates", name, "edit/console.vv") < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	r = ctl_call_raw(ctl, "GET", target, &vv, &len);
	if (r != CTL_EXIT_OK)
		return r;
	r = write_vv(path, vv ? vv : "", len);
	if (vv)
		explicit_bzero(vv, len);
	if (r != CTL_EXIT_OK)
		return r;
	printf("%s written: open it with remote-viewer %s\n", path, path);
	return CTL_EXIT_OK;
}

/* The browser console's URL and SPICE password (the admin asked for them on their terminal). */
static int console_url(const struct ctl *ctl, const char *name)
{
	_cleanup_json_ json_t *reply = NULL, *body = json_object();
	char when[32];
	int r;

	if (!body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	r = ctl_request_at(ctl, "POST", "templates", name, "edit/console", body, &reply);
	if (!reply)
		return r;
	printf("url: %s\npassword: %s\nvalid until: %s\n", json_string_value(json_object_get(reply, "url")) ?: "",
	       json_string_value(json_object_get(reply, "password")) ?: "",
	       ctl_cell_time(json_object_get(reply, "expires"), when, sizeof(when)));
	return CTL_EXIT_OK;
}

int ctl_cmd_template_console(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vv", required_argument, NULL, 'v' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, ctl_take_value, 1, "a template NAME" };
	const char *vv = NULL, *name;
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, &vv, &r))
		return r;
	name = argv[optind];
	return vv ? console_vv(ctl, name, vv) : console_url(ctl, name);
}
