/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl audit: /api/v1/admin/audit. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* Most entries one request may ask for (docs/api.md). */
#define AUDIT_LIMIT_MAX 1000

/* --since/--until: appends key=unix seconds to *target. Returns an exit status. */
static int time_option(const struct ctl *ctl, char **target, const char *name, const char *key, const char *value)
{
	char secs[32];
	int64_t t;

	if (ctl_parse_time(value, &t) < 0)
		return ctl_usage_error(ctl, "bad time for %s: \"%s\" (expected unix seconds or "
					    "YYYY-MM-DD[THH:MM[:SS]] in local time)", name, value);
	snprintf(secs, sizeof(secs), "%" PRId64, t);
	return ctl_opt_query(target, key, secs);
}

/* Each option to the query of *data (the target, a char *). */
static int take_audit_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	uint64_t limit;
	int r;

	switch (c) {
	case 'u':
		return ctl_opt_query(data, "user", value);
	case 'a':
		return ctl_opt_query(data, "action", value);
	case 'o':
		return ctl_opt_query(data, "object", value);
	case 's':
		return time_option(ctl, data, "--since", "since", value);
	case 'U':
		return time_option(ctl, data, "--until", "until", value);
	case 'l':
		r = ctl_opt_uint(ctl, "--limit", value, 1, AUDIT_LIMIT_MAX, &limit);
		return r == CTL_EXIT_OK ? ctl_opt_query(data, "limit", value) : r;
	default:
		return -1;
	}
}

/* One row of the table: the cells of element e. */
static int audit_row(json_t *e, struct ctl_table *t)
{
	char id[32], time[32], actor[256], action[64], object[256], detail[1024];
	const char *cells[] = {
		ctl_cell(json_object_get(e, "id"), id, sizeof(id)),
		ctl_cell_time(json_object_get(e, "time"), time, sizeof(time)),
		ctl_cell(json_object_get(e, "actor"), actor, sizeof(actor)),
		ctl_cell(json_object_get(e, "action"), action, sizeof(action)),
		ctl_cell(json_object_get(e, "object"), object, sizeof(object)),
		ctl_cell(json_object_get(e, "detail"), detail, sizeof(detail)),
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_audit(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "action", required_argument, NULL, 'a' },
		{ "object", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'U' },
		{ "limit", required_argument, NULL, 'l' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_audit_option, 0, NULL };
	static const struct ctl_column columns[] = {
		{ "ID", true }, { "TIME" }, { "ACTOR" }, { "ACTION" }, { "OBJECT" }, { "DETAIL" },
	};
	_cleanup_free_ char *target = strdup("/audit");
	int r;

	if (!target)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (!ctl_parse_options(ctl, argc, argv, &options, &target, &r))
		return r;

	return ctl_list(ctl, target, "audit", columns, ELEMENTSOF(columns), audit_row);
}
