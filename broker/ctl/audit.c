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
	if (ctl_query_append(target, key, secs) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	return CTL_EXIT_OK;
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct ctl_column columns[] = {
		{ "ID", true }, { "TIME" }, { "ACTOR" }, { "ACTION" }, { "OBJECT" }, { "DETAIL" },
	};
	_cleanup_free_ char *target = strdup("/audit");
	uint64_t limit;
	int c, r;

	if (!target)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		r = CTL_EXIT_OK;
		switch (c) {
		case 'u':
			if (ctl_query_append(&target, "user", optarg) < 0)
				r = ctl_error(CTL_EXIT_FAILED, "out of memory");
			break;
		case 'a':
			if (ctl_query_append(&target, "action", optarg) < 0)
				r = ctl_error(CTL_EXIT_FAILED, "out of memory");
			break;
		case 'o':
			if (ctl_query_append(&target, "object", optarg) < 0)
				r = ctl_error(CTL_EXIT_FAILED, "out of memory");
			break;
		case 's':
			r = time_option(ctl, &target, "--since", "since", optarg);
			break;
		case 'U':
			r = time_option(ctl, &target, "--until", "until", optarg);
			break;
		case 'l':
			r = ctl_opt_uint(ctl, "--limit", optarg, 1, AUDIT_LIMIT_MAX, &limit);
			if (r == CTL_EXIT_OK && ctl_query_append(&target, "limit", optarg) < 0)
				r = ctl_error(CTL_EXIT_FAILED, "out of memory");
			break;
		case 'h':
			return ctl_help(ctl);
		default:
			return ctl_usage_error(ctl, NULL);
		}
		if (r != CTL_EXIT_OK)
			return r;
	}
	r = ctl_operands(ctl, argc, 0, NULL);
	if (r != CTL_EXIT_OK)
		return r;

	return ctl_list(ctl, target, "audit", columns, ELEMENTSOF(columns), audit_row);
}
