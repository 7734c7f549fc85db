/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl template publish|rollback: new versions of a template (/api/v1/admin/templates/{name}/...);
 * the maintenance desktop they may come from: maintenance.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* The version of template t (borrowed) that is scheduled, or NULL. */
static json_t *scheduled_version(json_t *t)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(t, "versions"), i, v)
		if (streq_ptr(json_string_value(json_object_get(v, "state")), "scheduled"))
			return v;
	return NULL;
}

/* What publish did, from the template the broker answered with (borrowed). */
static void print_published(const char *name, json_t *t)
{
	json_t *s = scheduled_version(t), *version = json_object_get(t, "version");
	char at[32];

	if (s)
		printf("template \"%s\" version %" JSON_INTEGER_FORMAT " scheduled for %s\n", name,
		       json_integer_value(json_object_get(s, "version")),
		       ctl_cell_time(json_object_get(s, "at"), at, sizeof(at)));
	else if (json_is_integer(version))
		printf("template \"%s\" published (version %" JSON_INTEGER_FORMAT ")\n", name,
		       json_integer_value(version));
	else
		printf("template \"%s\" published\n", name);
}

/* DELETE .../publish: the scheduled publish goes. Returns an exit status. */
static int cancel(const struct ctl *ctl, const char *name)
{
	_cleanup_json_ json_t *reply = NULL;
	int r;

	r = ctl_request_at(ctl, "DELETE", "templates", name, "publish", NULL, &reply);
	if (!reply)
		return r;
	printf("template \"%s\": the scheduled publish is cancelled\n", name);
	return CTL_EXIT_OK;
}

/* The body of POST .../publish into *ret (new). Returns an exit status. */
static int publish_body(const struct ctl *ctl, const char *disk_arg, const char *note, const char *at_arg, json_t **ret)
{
	_cleanup_json_ json_t *body = NULL;
	_cleanup_free_ char *disk = NULL;
	struct vdi_error err = { 0 };
	int64_t at = 0;
	int r;

	/* No --disk: from the maintenance desktop. */
	if (disk_arg) {
		r = ctl_disk_path(disk_arg, &disk);
		if (r != CTL_EXIT_OK)
			return r;
	}
	if (at_arg && ctl_parse_at(at_arg, (int64_t)time(NULL), &at, &err) < 0)
		return ctl_usage_error(ctl, "bad time for --at: %s", err.message);
	body = disk ? json_pack("{s:s}", "disk", disk) : json_pack("{s:b}", "from_maintenance", 1);
	if (!body)
		return ctl_error(CTL_EXIT_USAGE, "--disk must be UTF-8 text");
	if (note && json_object_set_new(body, "note", json_string(note)) < 0)
		return ctl_error(CTL_EXIT_USAGE, "--note must be UTF-8 text");
	if (at_arg && json_object_set_new(body, "at", json_integer((json_int_t)at)) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	*ret = TAKE_PTR(body);
	return CTL_EXIT_OK;
}

int ctl_cmd_template_publish(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "note", required_argument, NULL, 'n' },
		{ "at", required_argument, NULL, 'a' },
		{ "cancel", no_argument, NULL, 'C' },
		{ "from-maintenance", no_argument, NULL, 'M' },
		CTL_OPTIONS_END,
	};
	_cleanup_json_ json_t *body = NULL, *reply = NULL;
	const char *disk = NULL, *note = NULL, *at = NULL, *name;
	bool cancelling = false, maintenance = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'd':
			disk = optarg;
			break;
		case 'n':
			note = optarg;
			break;
		case 'a':
			at = optarg;
			break;
		case 'C':
			cancelling = true;
			break;
		case 'M':
			maintenance = true;
			break;
		case 'h':
			return ctl_help(ctl);
		default:
			return ctl_usage_error(ctl, NULL);
		}
	}
	r = ctl_operand(ctl, argc, argv, "a template NAME", &name);
	if (r != CTL_EXIT_OK)
		return r;
	if (cancelling && (disk || note || at || maintenance))
		return ctl_usage_error(ctl, "--cancel takes no --disk, --note or --at (nor --from-maintenance)");
	if (cancelling)
		return cancel(ctl, name);
	if (disk && maintenance)
		return ctl_usage_error(ctl, "give --disk FILE or --from-maintenance, not both");
	if (!disk && !maintenance)
		return ctl_usage_error(ctl, "%s needs --disk FILE (or --cancel); or --from-maintenance", ctl->name);

	r = publish_body(ctl, disk, note, at, &body);
	if (r != CTL_EXIT_OK)
		return r;
	/* The broker answers once the new version is made (it copies the disk), or scheduled. */
	r = ctl_request_at(ctl, "POST", "templates", name, "publish", body, &reply);
	if (!reply)
		return r;
	print_published(name, reply);
	return CTL_EXIT_OK;
}

/* --to N into *data (a uint64_t). */
static int take_rollback_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	if (c != 't')
		return -1;
	return ctl_opt_uint(ctl, "--to", value, 1, (uint64_t)INT64_MAX, data);
}

int ctl_cmd_template_rollback(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_rollback_option, 1, "a template NAME" };
	_cleanup_json_ json_t *body = NULL, *reply = NULL;
	const char *name;
	json_t *version;
	uint64_t to = 0;
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, &to, &r))
		return r;
	name = argv[optind];

	body = to ? json_pack("{s:I}", "to", (json_int_t)to) : json_object();
	if (!body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	r = ctl_request_at(ctl, "POST", "templates", name, "rollback", body, &reply);
	if (!reply)
		return r;
	version = json_object_get(reply, "version");
	if (json_is_integer(version))
		printf("template \"%s\" rolled back to version %" JSON_INTEGER_FORMAT "\n", name,
		       json_integer_value(version));
	else
		printf("template \"%s\" rolled back\n", name);
	return CTL_EXIT_OK;
}
