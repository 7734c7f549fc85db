/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl pool list|create|update|delete|recompose: /api/v1/admin/pools. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* Limits for the numbers given on the command line; the broker checks its own. */
#define COUNT_MAX 1000000
#define IDLE_MAX (366 * 86400)
#define DATA_DISK_MAX (16ULL * 1024 * 1024) /* MiB: 16 TiB */
#define BANDWIDTH_MAX 100000000ULL          /* kilobits/s */
#define USB_REDIRECT_MAX 8                  /* channels per desktop (vmpool's POOL_USB_REDIRECT_MAX) */

/* One row of the table: the cells of element e. */
static int pool_row(json_t *e, struct ctl_table *t)
{
	char name[256], tmpl[256], type[32], size[32], prestart[32], max[32], idle[32], groups[1024];
	char counts[512], desktops[600], network[128], isolated[8], lock[8], second[32];
	json_t *g = json_object_get(e, "groups");

	ctl_cell_counts(json_object_get(e, "desktops"), counts, sizeof(counts));
	snprintf(desktops, sizeof(desktops), "%s%s", json_is_true(json_object_get(e, "draining")) ?
		 "draining: " : "", counts);
	const char *cells[] = {
		ctl_cell(json_object_get(e, "name"), name, sizeof(name)),
		ctl_cell(json_object_get(e, "template"), tmpl, sizeof(tmpl)),
		ctl_cell(json_object_get(e, "type"), type, sizeof(type)),
		ctl_cell(json_object_get(e, "size"), size, sizeof(size)),
		ctl_cell(json_object_get(e, "prestart"), prestart, sizeof(prestart)),
		ctl_cell(json_object_get(e, "max_per_user"), max, sizeof(max)),
		ctl_cell(json_object_get(e, "idle_timeout"), idle, sizeof(idle)),
		/* No groups: everyone may use the pool. */
		json_is_array(g) && json_array_size(g) == 0 ? "everyone" : ctl_cell(g, groups, sizeof(groups)),
		/* null: the template XML's own NICs. */
		ctl_cell(json_object_get(e, "network"), network, sizeof(network)),
		ctl_cell(json_object_get(e, "isolate_desktops"), isolated, sizeof(isolated)),
		ctl_cell(json_object_get(e, "lock_on_disconnect"), lock, sizeof(lock)),
		ctl_cell(json_object_get(e, "second_viewer"), second, sizeof(second)),
		desktops,
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_pool_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = {
		{ "NAME" }, { "TEMPLATE" }, { "TYPE" }, { "SIZE", true }, { "PRESTART", true },
		{ "MAX/USER", true }, { "IDLE(s)", true }, { "GROUPS" }, { "NETWORK" }, { "ISOLATED" }, { "LOCK" },
		{ "2ND-VIEWER" }, { "DESKTOPS" },
	};
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	return ctl_list(ctl, "/pools", "pools", columns, ELEMENTSOF(columns), pool_row);
}

/* "g1,g2" as a JSON array into *ret (a new reference); "" is the empty list. Returns an exit status. */
static int parse_groups(const struct ctl *ctl, const char *value, json_t **ret)
{
	_cleanup_json_ json_t *list = json_array();
	_cleanup_free_ char *copy = strdup(value);
	char *p = copy, *item;

	if (!list || !copy)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	while (*value && (item = strsep(&p, ","))) {
		json_t *s;

		if (!*item || strchr(item, ' '))
			return ctl_usage_error(ctl, "bad --groups \"%s\": expected group names separated by commas",
					       value);
		s = json_string(item);
		if (!s)
			return ctl_usage_error(ctl, "bad --groups: \"%s\" is not UTF-8 text", item);
		if (json_array_append_new(list, s) < 0)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	*ret = TAKE_PTR(list);
	return CTL_EXIT_OK;
}

/* The options of the settings pool_setting() takes, in pool create's and update's tables. */
#define POOL_SETTING_OPTIONS                                                                                    \
	{ "size", required_argument, NULL, 's' }, { "prestart", required_argument, NULL, 'p' },                 \
	{ "max-per-user", required_argument, NULL, 'u' }, { "idle-timeout", required_argument, NULL, 'i' },     \
	{ "groups", required_argument, NULL, 'g' }, { "data-disk", required_argument, NULL, 'D' },             \
	{ "network", required_argument, NULL, 'n' }, { "isolate-desktops", required_argument, NULL, 'I' },     \
	{ "bandwidth-kbps", required_argument, NULL, 'b' }, { "usb-redirect", required_argument, NULL, 'U' },   \
	{ "lock-on-disconnect", no_argument, NULL, 'L' }, { "no-lock-on-disconnect", no_argument, NULL, 'l' },  \
	{ "second-viewer", required_argument, NULL, 'V' }

/* body's member name set to v (new; NULL: value was not UTF-8 text): an exit status. */
static int set_member(json_t *body, const char *name, json_t *v, const char *value)
{
	if (!v)
		return ctl_error(CTL_EXIT_USAGE, "bad --%s: \"%s\" is not UTF-8 text", name, value);
	if (json_object_set_new(body, name, v) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	return CTL_EXIT_OK;
}

/*
 * Puts the value of a settings option (--size, ..., --groups as its getopt
 * code opt) into body.  Returns an exit status, or -1 when opt is none of them.
 */
static int pool_setting(const struct ctl *ctl, int opt, const char *value, json_t *body)
{
	static const struct {
		int opt;
		const char *name, *member;
		uint64_t max;
	} numbers[] = {
		{ 's', "--size", "size", COUNT_MAX },
		{ 'p', "--prestart", "prestart", COUNT_MAX },
		{ 'u', "--max-per-user", "max_per_user", COUNT_MAX },
		{ 'i', "--idle-timeout", "idle_timeout", IDLE_MAX },
		{ 'D', "--data-disk", "data_disk_mib", DATA_DISK_MAX },
		{ 'b', "--bandwidth-kbps", "bandwidth_kbps", BANDWIDTH_MAX },
		{ 'U', "--usb-redirect", "usb_redirect", USB_REDIRECT_MAX },
	};
	json_t *groups = NULL;
	uint64_t v;
	int r;

	if (opt == 'g') {
		r = parse_groups(ctl, value, &groups);
		if (r != CTL_EXIT_OK)
			return r;
		if (json_object_set_new(body, "groups", groups) < 0)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
		return CTL_EXIT_OK;
	}
	if (opt == 'n')
		return set_member(body, "network", *value ? json_string(value) : json_null(), value);
	for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
		if (numbers[i].opt != opt)
			continue;
		r = ctl_opt_uint(ctl, numbers[i].name, value, 0, numbers[i].max, &v);
		if (r != CTL_EXIT_OK)
			return r;
		if (json_object_set_new(body, numbers[i].member, json_integer((json_int_t)v)) < 0)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
		return CTL_EXIT_OK;
	}
	return -1;
}

/* The options of pool create and update, as they are taken. */
struct pool_args {
	json_t *body;     /* the settings (borrowed) */
	const char *tmpl; /* --template, or NULL (borrowed) */
	const char *type; /* --type (borrowed) */
	bool update;      /* pool update: --isolate-desktops default too */
};

/* --isolate-desktops yes|no (and default, on update: null) into body. */
static int isolate_option(const struct ctl *ctl, const struct pool_args *a, const char *value)
{
	json_t *v = streq(value, "yes") ? json_true() : streq(value, "no") ? json_false()
		    : a->update && streq(value, "default") ? json_null() : NULL;

	if (!v)
		return ctl_usage_error(ctl, "bad --isolate-desktops \"%s\": expected yes%s or no", value,
				       a->update ? ", default" : "");
	return json_object_set_new(a->body, "isolate_desktops", v) < 0 ? ctl_error(CTL_EXIT_FAILED, "out of memory")
									 : CTL_EXIT_OK;
}

static int take_pool_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	struct pool_args *a = data;

	switch (c) {
	case 't':
		a->tmpl = value;
		return CTL_EXIT_OK;
	case 'T':
		if (!streq(value, "pooled") && !streq(value, "persistent"))
			return ctl_usage_error(ctl, "bad --type \"%s\": expected pooled or persistent", value);
		a->type = value;
		return CTL_EXIT_OK;
	case 'I':
		return isolate_option(ctl, a, value);
	case 'L':
	case 'l':
		return set_member(a->body, "lock_on_disconnect", json_boolean(c == 'L'), "");
	case 'V':
		if (!streq(value, "takeover") && !streq(value, "refuse"))
			return ctl_usage_error(ctl, "bad --second-viewer \"%s\": expected takeover or refuse", value);
		return set_member(a->body, "second_viewer", json_string(value), value);
	default:
		return pool_setting(ctl, c, value, a->body);
	}
}

int ctl_cmd_pool_create(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		POOL_SETTING_OPTIONS,
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_pool_option, 1, "a pool NAME" };
	_cleanup_json_ json_t *body = json_object(), *reply = NULL;
	struct pool_args a = { .body = body, .type = "pooled" };
	const char *name;
	int r;

	if (!body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (!ctl_parse_options(ctl, argc, argv, &options, &a, &r))
		return r;
	name = argv[optind];
	if (!a.tmpl)
		return ctl_usage_error(ctl, "%s needs --template T", ctl->name);
	if (json_object_set_new(body, "name", json_string(name)) < 0 ||
	    json_object_set_new(body, "template", json_string(a.tmpl)) < 0 ||
	    json_object_set_new(body, "type", json_string(a.type)) < 0)
		return ctl_error(CTL_EXIT_USAGE, "the pool and template names must be UTF-8 text");

	r = ctl_request(ctl, "POST", "/pools", body, &reply);
	if (!reply)
		return r;
	printf("pool \"%s\" created\n", name);
	return CTL_EXIT_OK;
}

int ctl_cmd_pool_update(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		POOL_SETTING_OPTIONS,
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_pool_option, 1, "a pool NAME" };
	_cleanup_json_ json_t *body = json_object(), *reply = NULL;
	struct pool_args a = { .body = body, .update = true };
	const char *name;
	int r;

	if (!body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (!ctl_parse_options(ctl, argc, argv, &options, &a, &r))
		return r;
	name = argv[optind];
	if (json_object_size(body) == 0)
		return ctl_usage_error(ctl, "nothing to change: give --size, --prestart, --max-per-user, "
					    "--idle-timeout, --groups, --data-disk, --network, --isolate-desktops, --bandwidth-kbps, "
					    "--usb-redirect, --[no-]lock-on-disconnect or --second-viewer");

	r = ctl_request_at(ctl, "PATCH", "pools", name, NULL, body, &reply);
	if (!reply)
		return r;
	printf("pool \"%s\" updated\n", name);
	return CTL_EXIT_OK;
}

int ctl_cmd_pool_delete(const struct ctl *ctl, int argc, char **argv)
{
	_cleanup_json_ json_t *reply = NULL;
	json_t *left;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a pool NAME");
	if (r <= 0)
		return ctl_parse_exit(r);
	r = ctl_request_at(ctl, "DELETE", "pools", argv[optind], NULL, NULL, &reply);
	if (!reply)
		return r;
	left = json_object_get(reply, "desktops");
	if (json_is_true(json_object_get(reply, "draining")) && json_is_integer(left))
		printf("pool \"%s\" draining: deleted once its %" JSON_INTEGER_FORMAT " desktop%s gone\n",
		       argv[optind], json_integer_value(left), json_integer_value(left) == 1 ? " is" : "s are");
	else
		printf("pool \"%s\" deleted\n", argv[optind]);
	return CTL_EXIT_OK;
}

int ctl_cmd_pool_recompose(const struct ctl *ctl, int argc, char **argv)
{
	_cleanup_json_ json_t *reply = NULL;
	json_int_t n;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a pool NAME");
	if (r <= 0)
		return ctl_parse_exit(r);
	r = ctl_request_at(ctl, "POST", "pools", argv[optind], "recompose", NULL, &reply);
	if (!reply)
		return r;
	n = json_integer_value(json_object_get(reply, "desktops"));
	if (n == 0)
		printf("pool \"%s\": every desktop is on the current version\n", argv[optind]);
	else
		printf("pool \"%s\": %" JSON_INTEGER_FORMAT " desktop%s being recomposed, a few at a time\n",
		       argv[optind], n, n == 1 ? "" : "s");
	return CTL_EXIT_OK;
}
