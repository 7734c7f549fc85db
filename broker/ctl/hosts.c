/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl host list|drain|resume: /api/v1/admin/hosts. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* One row of the table: the cells of element e. */
static int host_row(json_t *e, struct ctl_table *t)
{
	char uri[512], alive[8], draining[8], virt[32], reconnects[32], desktops[512], free_mib[32], networks[1024],
		missing[1024], hardware[64];
	json_t *fm = json_object_get(e, "free_memory");
	json_t *d = json_object_get(e, "desktops");
	json_t *hw = json_object_get(e, "hardware");
	const char *cells[] = {
		ctl_cell(json_object_get(e, "uri"), uri, sizeof(uri)),
		ctl_cell(json_object_get(e, "alive"), alive, sizeof(alive)),
		ctl_cell(json_object_get(e, "draining"), draining, sizeof(draining)),
		ctl_cell(json_object_get(e, "virt_type"), virt, sizeof(virt)),
		ctl_cell(json_object_get(e, "reconnects"), reconnects, sizeof(reconnects)),
		/* A count, or counts per state like a pool's. */
		json_is_object(d) ? ctl_cell_counts(d, desktops, sizeof(desktops)) :
				    ctl_cell(d, desktops, sizeof(desktops)),
		json_is_integer(fm) ? (snprintf(free_mib, sizeof(free_mib), "%lld",
						(long long)(json_integer_value(fm) >> 20)), free_mib) : "-",
		/* The libvirt networks it has active, and those pools need that it lacks ("-": none). */
		ctl_cell(json_object_get(e, "networks"), networks, sizeof(networks)),
		ctl_cell(json_object_get(e, "missing_networks"), missing, sizeof(missing)),
		/* Which of uefi, secure-boot, tpm it offered at its last look ("-": not known yet). */
		json_is_array(hw) && !json_array_size(hw) ? "none" : ctl_cell(hw, hardware, sizeof(hardware)),
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_host_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = {
		{ "URI" }, { "ALIVE" }, { "DRAINING" }, { "VIRT" }, { "RECONNECTS", true }, { "DESKTOPS" },
		{ "FREE MiB", true }, { "NETWORKS" }, { "MISSING NETWORKS" }, { "HARDWARE" },
	};
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	return ctl_list(ctl, "/hosts", "hosts", columns, ELEMENTSOF(columns), host_row);
}

/* POST /hosts/drain or /hosts/resume {"host": URI}. */
static int host_drain(const struct ctl *ctl, int argc, char **argv, bool drain)
{
	_cleanup_json_ json_t *body = NULL, *reply = NULL;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a host's URI, as in [libvirt] hosts");
	if (r <= 0)
		return ctl_parse_exit(r);
	body = json_pack("{s:s}", "host", argv[optind]);
	if (!body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	r = ctl_request(ctl, "POST", drain ? "/hosts/drain" : "/hosts/resume", body, &reply);
	if (!reply)
		return r;
	if (drain)
		printf("host %s is draining: %lld desktops remain on it (free ones are being deleted, pooled ones go"
		       " when released, persistent ones stay)\n",
		       argv[optind], (long long)json_integer_value(json_object_get(reply, "remaining")));
	else
		printf("host %s takes new desktops again\n", argv[optind]);
	return CTL_EXIT_OK;
}

int ctl_cmd_host_drain(const struct ctl *ctl, int argc, char **argv)
{
	return host_drain(ctl, argc, argv, true);
}

int ctl_cmd_host_resume(const struct ctl *ctl, int argc, char **argv)
{
	return host_drain(ctl, argc, argv, false);
}
