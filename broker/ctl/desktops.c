/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl desktop list|reset|stop|delete|recompose: /api/v1/admin/desktops. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* One row of the table: the cells of element e. */
static int desktop_row(json_t *e, struct ctl_table *t)
{
	char id[32], pool[256], state[32], owner[256], host[512], domain[256], assigned[32], disc[32], upd[32],
		addresses[1024], guest[1024];
	const char *cells[] = {
		ctl_cell(json_object_get(e, "id"), id, sizeof(id)),
		ctl_cell(json_object_get(e, "pool"), pool, sizeof(pool)),
		ctl_cell(json_object_get(e, "state"), state, sizeof(state)),
		ctl_cell(json_object_get(e, "owner"), owner, sizeof(owner)),
		ctl_cell(json_object_get(e, "host"), host, sizeof(host)),
		ctl_cell(json_object_get(e, "domain"), domain, sizeof(domain)),
		ctl_cell_time(json_object_get(e, "assigned_at"), assigned, sizeof(assigned)),
		ctl_cell_time(json_object_get(e, "last_disconnect"), disc, sizeof(disc)),
		ctl_cell_time(json_object_get(e, "updated"), upd, sizeof(upd)),
		ctl_cell(json_object_get(e, "addresses"), addresses, sizeof(addresses)),
		ctl_cell_guest(json_object_get(e, "guest"), guest, sizeof(guest)),
	};

	return ctl_table_add_row(t, cells);
}

/* --pool, --user, --state to the query of *data (the target, a char *). */
static int take_list_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	(void)ctl;
	switch (c) {
	case 'p':
		return ctl_opt_query(data, "pool", value);
	case 'u':
		return ctl_opt_query(data, "user", value);
	case 's':
		return ctl_opt_query(data, "state", value);
	default:
		return -1;
	}
}

int ctl_cmd_desktop_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pool", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_list_option, 0, NULL };
	static const struct ctl_column columns[] = {
		{ "ID", true }, { "POOL" }, { "STATE" }, { "OWNER" }, { "HOST" }, { "DOMAIN" },
		{ "ASSIGNED" }, { "DISCONNECTED" }, { "UPDATED" }, { "ADDRESSES" }, { "GUEST" },
	};
	_cleanup_free_ char *target = strdup("/desktops");
	int r;

	if (!target)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (!ctl_parse_options(ctl, argc, argv, &options, &target, &r))
		return r;

	return ctl_list(ctl, target, "desktops", columns, ELEMENTSOF(columns), desktop_row);
}

/* method /desktops/ID[/action]; then prints "desktop ID is being <done>". */
static int desktop_action(const struct ctl *ctl, int argc, char **argv, const char *method, const char *action,
			  const char *done)
{
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_free_ char *target = NULL;
	uint64_t id;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a desktop ID");
	if (r <= 0)
		return ctl_parse_exit(r);
	if (ctl_parse_uint(argv[optind], 1, INT64_MAX, &id) < 0)
		return ctl_usage_error(ctl, "bad desktop ID \"%s\": expected a positive whole number", argv[optind]);
	if (asprintf(&target, "/desktops/%llu%s%s", (unsigned long long)id, action ? "/" : "",
		     action ? action : "") < 0) {
		target = NULL;
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	r = ctl_request(ctl, method, target, NULL, &reply);
	if (!reply)
		return r;
	printf("desktop %llu is being %s\n", (unsigned long long)id, done);
	return CTL_EXIT_OK;
}

int ctl_cmd_desktop_reset(const struct ctl *ctl, int argc, char **argv)
{
	return desktop_action(ctl, argc, argv, "POST", "reset", "reset");
}

int ctl_cmd_desktop_stop(const struct ctl *ctl, int argc, char **argv)
{
	return desktop_action(ctl, argc, argv, "POST", "stop", "stopped");
}

int ctl_cmd_desktop_delete(const struct ctl *ctl, int argc, char **argv)
{
	return desktop_action(ctl, argc, argv, "DELETE", NULL, "deleted");
}

int ctl_cmd_desktop_recompose(const struct ctl *ctl, int argc, char **argv)
{
	return desktop_action(ctl, argc, argv, "POST", "recompose", "recomposed");
}
