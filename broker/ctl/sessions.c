/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl session list|kill: /api/v1/admin/sessions. */
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
static int session_row(json_t *e, struct ctl_table *t)
{
	char id[128], user[256], admin[8], client[256], created[32], expires[32];
	json_t *a = json_object_get(e, "admin");
	const char *cells[] = {
		ctl_cell(json_object_get(e, "id"), id, sizeof(id)),
		ctl_cell(json_object_get(e, "user"), user, sizeof(user)),
		/* A flag, as true/false or 1/0. */
		json_is_integer(a) ? (json_integer_value(a) ? "yes" : "no") : ctl_cell(a, admin, sizeof(admin)),
		ctl_cell(json_object_get(e, "client"), client, sizeof(client)),
		ctl_cell_time(json_object_get(e, "created"), created, sizeof(created)),
		ctl_cell_time(json_object_get(e, "expires"), expires, sizeof(expires)),
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_session_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = {
		{ "ID" }, { "USER" }, { "ADMIN" }, { "CLIENT" }, { "CREATED" }, { "EXPIRES" },
	};
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	return ctl_list(ctl, "/sessions", "sessions", columns, ELEMENTSOF(columns), session_row);
}

int ctl_cmd_session_kill(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, ctl_take_value, -1, NULL };
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_free_ char *target = NULL;
	const char *user = NULL;
	json_t *killed;
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, &user, &r))
		return r;
	r = ctl_operands(ctl, argc, user ? 0 : 1, "a session ID or --user USER");
	if (r != CTL_EXIT_OK)
		return r;
	if (user) {
		target = strdup("/sessions");
		r = target ? ctl_query_append(&target, "user", user) : -ENOMEM;
	} else {
		r = ctl_target(&target, "sessions", argv[optind], NULL);
	}
	if (r < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");

	r = ctl_request(ctl, "DELETE", target, NULL, &reply);
	if (!reply)
		return r;
	killed = json_object_get(reply, "killed");
	if (json_is_integer(killed))
		printf("%" JSON_INTEGER_FORMAT " session%s killed\n", json_integer_value(killed),
		       json_integer_value(killed) == 1 ? "" : "s");
	else
		printf("sessions killed\n");
	return CTL_EXIT_OK;
}
