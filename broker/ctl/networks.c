/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl network list|add|remove: /api/v1/admin/networks, every host's libvirt networks. */
#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

static int network_row(json_t *e, struct ctl_table *t)
{
	char host[512], name[128], mode[32], active[8], bridge[64], subnet[32];
	const char *cells[] = {
		ctl_cell(json_object_get(e, "host"), host, sizeof(host)),
		ctl_cell(json_object_get(e, "name"), name, sizeof(name)),
		ctl_cell(json_object_get(e, "mode"), mode, sizeof(mode)),
		ctl_cell(json_object_get(e, "active"), active, sizeof(active)),
		ctl_cell(json_object_get(e, "bridge"), bridge, sizeof(bridge)),
		ctl_cell(json_object_get(e, "subnet"), subnet, sizeof(subnet)),
	};

	return ctl_table_add_row(t, cells);
}

int ctl_cmd_network_list(const struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_column columns[] = {
		{ "HOST" }, { "NAME" }, { "MODE" }, { "ACTIVE" }, { "BRIDGE" }, { "SUBNET" },
	};
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	return ctl_list(ctl, "/networks", "networks", columns, ELEMENTSOF(columns), network_row);
}

struct add_args {
	const char *mode, *subnet;
};

static int take_add_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	struct add_args *a = data;

	(void)ctl;
	switch (c) {
	case 'm':
		a->mode = value;
		return CTL_EXIT_OK;
	case 's':
		a->subnet = value;
		return CTL_EXIT_OK;
	default:
		return -1;
	}
}

/* "a, b" from the reply's hosts into buf. */
static const char *hosts_text(json_t *reply, char *buf, size_t len)
{
	return ctl_cell(json_object_get(reply, "hosts"), buf, len);
}

int ctl_cmd_network_add(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "subnet", required_argument, NULL, 's' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_add_option, 1, "a network NAME" };
	_cleanup_json_ json_t *body = NULL, *reply = NULL;
	struct add_args a = { 0 };
	char hosts[4096];
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, &a, &r))
		return r;
	if (!a.mode || !a.subnet)
		return ctl_usage_error(ctl, "%s needs --mode nat|isolated|routed and --subnet CIDR", ctl->name);
	body = json_pack("{s:s, s:s, s:s}", "name", argv[optind], "mode", a.mode, "subnet", a.subnet);
	if (!body)
		return ctl_error(CTL_EXIT_USAGE, "the name, --mode and --subnet must be UTF-8 text");
	r = ctl_request(ctl, "POST", "/networks", body, &reply);
	if (!reply)
		return r;
	printf("network \"%s\" added on %s\n", argv[optind], hosts_text(reply, hosts, sizeof(hosts)));
	return CTL_EXIT_OK;
}

int ctl_cmd_network_remove(const struct ctl *ctl, int argc, char **argv)
{
	_cleanup_json_ json_t *reply = NULL;
	char hosts[4096];
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a network NAME");
	if (r <= 0)
		return ctl_parse_exit(r);
	r = ctl_request_at(ctl, "DELETE", "networks", argv[optind], NULL, NULL, &reply);
	if (!reply)
		return r;
	printf("network \"%s\" removed from %s\n", argv[optind], hosts_text(reply, hosts, sizeof(hosts)));
	return CTL_EXIT_OK;
}
