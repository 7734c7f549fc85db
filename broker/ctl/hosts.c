/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl host list: /api/v1/admin/hosts. */
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

int ctl_cmd_host_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = {
		{ "URI" }, { "ALIVE" }, { "VIRT" }, { "RECONNECTS", true }, { "DESKTOPS" },
	};
	_cleanup_(ctl_table_freep) struct ctl_table *t = NULL;
	_cleanup_json_ json_t *reply = NULL;
	size_t i;
	json_t *e;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	r = ctl_call(ctl, "GET", "/hosts", NULL, &reply);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->json)
		return ctl_print_json(reply);

	if (ctl_table_new(columns, ELEMENTSOF(columns), &t) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	json_array_foreach(json_object_get(reply, "hosts"), i, e) {
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

		if (ctl_table_add_row(t, cells) < 0)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	return ctl_print_table(t);
}
