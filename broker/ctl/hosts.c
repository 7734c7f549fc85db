/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl host list: /api/v1/admin/hosts. */
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* One row of the table: the cells of element e. */
static int host_row(json_t *e, struct ctl_table *t)
{
	char uri[512], alive[8], virt[32], reconnects[32], desktops[512];
	json_t *d = json_object_get(e, "desktops");
	const char *cells[] = {
		ctl_cell(json_object_get(e, "uri"), uri, sizeof(uri)),
		ctl_cell(json_object_get(e, "alive"), alive, sizeof(alive)),
		ctl_cell(json_object_get(e, "virt_type"), virt, sizeof(virt)),
		ctl_cell(json_object_get(e, "reconnects"), reconnects, sizeof(reconnects)),
		/* A count, or counts per state like a pool's. */
		json_is_object(d) ? ctl_cell_counts(d, desktops, sizeof(desktops)) :
				    ctl_cell(d, desktops, sizeof(desktops)),
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_host_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = {
		{ "URI" }, { "ALIVE" }, { "VIRT" }, { "RECONNECTS", true }, { "DESKTOPS" },
	};
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	return ctl_list(ctl, "/hosts", "hosts", columns, ELEMENTSOF(columns), host_row);
}
