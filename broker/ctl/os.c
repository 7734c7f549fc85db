/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl os list: /api/v1/admin/os, the OSes osinfo-db knows (template add --os). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

static int os_row(json_t *e, struct ctl_table *t)
{
	char id[128], name[256], version[64], family[64];
	const char *cells[] = {
		ctl_cell(json_object_get(e, "id"), id, sizeof(id)),
		ctl_cell(json_object_get(e, "name"), name, sizeof(name)),
		ctl_cell(json_object_get(e, "version"), version, sizeof(version)),
		ctl_cell(json_object_get(e, "family"), family, sizeof(family)),
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_os_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = { { "ID" }, { "NAME" }, { "VERSION" }, { "FAMILY" } };
	_cleanup_free_ char *target = strdup("/os");
	int r;

	if (!target)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	r = ctl_parse_plain(ctl, argc, argv, -1, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	if (argc - optind > 1)
		return ctl_usage_error(ctl, "%s takes at most one FILTER", ctl->name);
	if (argc - optind == 1 && (r = ctl_opt_query(&target, "filter", argv[optind])) != CTL_EXIT_OK)
		return r;
	return ctl_list(ctl, target, "os", columns, ELEMENTSOF(columns), os_row);
}
