/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl template list|show|add|remove: /api/v1/admin/templates (publish and rollback: publish.c). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "text.h"

/* The FIRMWARE cell: "bios", "uefi", "uefi+sb" (Secure Boot); "-" from a broker that does not say. */
static const char *firmware_cell(json_t *e, char *buf, size_t len)
{
	const char *fw = json_string_value(json_object_get(e, "firmware"));

	snprintf(buf, len, "%s%s", fw ? fw : "-", fw && json_is_true(json_object_get(e, "secure_boot")) ? "+sb" : "");
	return buf;
}

/*
 * One row of the table: the cells of template e; with versions (the list),
 * a cell summing up the state of each version before the disk.
 */
static int template_row_cells(json_t *e, struct ctl_table *t, bool versions)
{
	char name[256], version[32], memory[48], vcpus[32], pools[1024], created[32], states[1024], disk[1024];
	char network[128], os[128], firmware[64], tpm[8];
	json_t *mib = json_object_get(e, "memory_mib");

	if (json_is_integer(mib))
		snprintf(memory, sizeof(memory), "%" JSON_INTEGER_FORMAT " MiB", json_integer_value(mib));
	else
		ctl_cell(mib, memory, sizeof(memory));
	const char *cells[] = {
		ctl_cell(json_object_get(e, "name"), name, sizeof(name)),
		ctl_cell(json_object_get(e, "version"), version, sizeof(version)),
		memory,
		ctl_cell(json_object_get(e, "vcpus"), vcpus, sizeof(vcpus)),
		ctl_cell(json_object_get(e, "pools"), pools, sizeof(pools)),
		ctl_cell_time(json_object_get(e, "created"), created, sizeof(created)),
		/* null ("-"): none (vdi's generic desktop, or the admin's XML). */
		ctl_cell(json_object_get(e, "os"), os, sizeof(os)),
		firmware_cell(e, firmware, sizeof(firmware)),
		ctl_cell(json_object_get(e, "tpm"), tpm, sizeof(tpm)),
		/* null ("-"): the XML's own NICs. */
		ctl_cell(json_object_get(e, "network"), network, sizeof(network)),
		ctl_cell(json_object_get(e, "disk"), disk, sizeof(disk)),
	};
	const char *list_cells[] = {
		cells[0], cells[1], cells[2], cells[3], cells[4], cells[5],
		ctl_cell_versions(json_object_get(e, "versions"), states, sizeof(states)),
		cells[6], cells[7], cells[8], cells[9], cells[10],
	};

	return ctl_table_add_row(t, versions ? list_cells : cells);
}

static int template_row(json_t *e, struct ctl_table *t)
{
	return template_row_cells(e, t, true);
}

/* The list's columns; template show's first table has them but VERSIONS (it lists the versions below). */
static const struct ctl_column template_columns[] = {
	{ "NAME" }, { "VERSION", true }, { "MEMORY", true }, { "VCPUS", true },
	{ "POOLS", true }, { "CREATED" }, { "VERSIONS" }, { "OS" }, { "FIRMWARE" }, { "TPM" }, { "NETWORK" }, { "DISK" },
};
static const struct ctl_column template_show_columns[] = {
	{ "NAME" }, { "VERSION", true }, { "MEMORY", true }, { "VCPUS", true },
	{ "POOLS", true }, { "CREATED" }, { "OS" }, { "FIRMWARE" }, { "TPM" }, { "NETWORK" }, { "DISK" },
};

int ctl_cmd_template_list(const struct ctl *ctl, int argc, char **argv)
{
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 0, NULL);
	if (r <= 0)
		return ctl_parse_exit(r);
	return ctl_list(ctl, "/templates", "templates", template_columns, ELEMENTSOF(template_columns), template_row);
}

/* One row of the versions table: the cells of version e, the current one marked. */
static int version_row(json_t *e, struct ctl_table *t)
{
	char number[32], version[48], state[64], owned[8], created[32], note[1024], disk[1024], desktops[32];

	ctl_cell(json_object_get(e, "version"), number, sizeof(number));
	snprintf(version, sizeof(version), "%s%s", number,
		 json_is_true(json_object_get(e, "current")) ? " (current)" : "");
	const char *cells[] = {
		version,
		ctl_cell_version_state(e, state, sizeof(state)),
		ctl_cell(json_object_get(e, "owned"), owned, sizeof(owned)),
		ctl_cell_time(json_object_get(e, "created"), created, sizeof(created)),
		ctl_cell(json_object_get(e, "note"), note, sizeof(note)),
		ctl_cell(json_object_get(e, "disk"), disk, sizeof(disk)),
		ctl_cell(json_object_get(e, "desktops"), desktops, sizeof(desktops)),
	};

	return ctl_table_add_row(t, cells);
}

/* Prints template e as the list does (less its VERSIONS), then a table of its versions. Returns an exit status. */
static int print_template(json_t *e)
{
	static const struct ctl_column columns[] = {
		{ "VERSION" }, { "STATE" }, { "OWNED" }, { "CREATED" }, { "NOTE" }, { "DISK" }, { "DESKTOPS", true },
	};
	_cleanup_(ctl_table_freep) struct ctl_table *t = NULL, *v = NULL;
	size_t i;
	json_t *ver;
	int r;

	if (ctl_table_new(template_show_columns, ELEMENTSOF(template_show_columns), &t) < 0 ||
	    template_row_cells(e, t, false) < 0 || ctl_table_new(columns, ELEMENTSOF(columns), &v) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	json_array_foreach(json_object_get(e, "versions"), i, ver)
		if (version_row(ver, v) < 0)
			return ctl_error(CTL_EXIT_FAILED, "out of memory");
	r = ctl_print_table(t);
	if (r != CTL_EXIT_OK)
		return r;
	printf("\n");
	r = ctl_print_table(v);
	if (r == CTL_EXIT_OK)
		ctl_print_maintenance(json_object_get(e, "maintenance"));
	return r;
}

int ctl_cmd_template_show(const struct ctl *ctl, int argc, char **argv)
{
	_cleanup_json_ json_t *reply = NULL;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a template NAME");
	if (r <= 0)
		return ctl_parse_exit(r);
	r = ctl_request_at(ctl, "GET", "templates", argv[optind], NULL, NULL, &reply);
	if (!reply)
		return r;
	return print_template(reply);
}

/* Reads the text file path (at most CTL_MAX_REQUEST bytes) into *ret. Returns an exit status. */
static int read_xml(const char *path, char **ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *text = NULL;
	size_t n;

	if (!f)
		return ctl_error(CTL_EXIT_USAGE, "cannot open --xml %s: %s", path, strerror(errno));
	text = malloc(CTL_MAX_REQUEST + 1);
	if (!text)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	n = fread(text, 1, CTL_MAX_REQUEST + 1, f);
	if (ferror(f))
		return ctl_error(CTL_EXIT_USAGE, "cannot read --xml %s: %s", path, strerror(errno));
	if (n > CTL_MAX_REQUEST)
		return ctl_error(CTL_EXIT_USAGE, "--xml %s is larger than the broker takes (%d KiB)", path,
				 CTL_MAX_REQUEST / 1024);
	if (memchr(text, '\0', n))
		return ctl_error(CTL_EXIT_USAGE, "--xml %s is not a text file", path);
	text[n] = '\0';
	*ret = TAKE_PTR(text);
	return CTL_EXIT_OK;
}

int ctl_disk_path(const char *disk, char **ret)
{
	char *abs = realpath(disk, NULL);

	if (abs) {
		*ret = abs;
		return CTL_EXIT_OK;
	}
	if (disk[0] != '/')
		return ctl_error(CTL_EXIT_USAGE, "--disk %s: %s", disk, strerror(errno));
	*ret = strdup(disk);
	return *ret ? CTL_EXIT_OK : ctl_error(CTL_EXIT_FAILED, "out of memory");
}

/* The options of template add, as they are taken. */
struct add_args {
	const char *disk, *xml; /* --disk, --xml, or NULL (borrowed) */
	const char *network;    /* --network, or NULL (borrowed) */
	uint64_t memory, vcpus; /* --memory, --vcpus, or 0 */
	const char *os;         /* --os, or NULL (borrowed) */
	const char *firmware;   /* --firmware bios|uefi, or NULL (borrowed) */
	int secure_boot, tpm;   /* --secure-boot 1, --no-secure-boot 0, neither -1 (the OS's default); --tpm likewise */
	const char *lock_command; /* --lock-command, or NULL (borrowed) */
	uint64_t heads;         /* --heads, or 0 (the broker's default: one monitor) */
};

static int take_add_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	struct add_args *a = data;

	switch (c) {
	case 'd':
		a->disk = value;
		return CTL_EXIT_OK;
	case 'x':
		a->xml = value;
		return CTL_EXIT_OK;
	case 'n':
		a->network = value;
		return CTL_EXIT_OK;
	case 'm':
		return ctl_opt_uint(ctl, "--memory", value, 1, 4 * 1024 * 1024, &a->memory);
	case 'c':
		return ctl_opt_uint(ctl, "--vcpus", value, 1, 4096, &a->vcpus);
	case 'H':
		return ctl_opt_uint(ctl, "--heads", value, 1, 4, &a->heads);
	case 'o':
		a->os = value;
		return CTL_EXIT_OK;
	case 'f':
		if (!streq(value, "bios") && !streq(value, "uefi"))
			return ctl_usage_error(ctl, "bad --firmware \"%s\": expected bios or uefi", value);
		a->firmware = value;
		return CTL_EXIT_OK;
	case 'S':
	case 's':
		a->secure_boot = c == 'S';
		return CTL_EXIT_OK;
	case 'P':
	case 'p':
		a->tpm = c == 'P';
		return CTL_EXIT_OK;
	case 'L':
		a->lock_command = value;
		return CTL_EXIT_OK;
	default:
		return -1;
	}
}

int ctl_cmd_template_add(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "xml", required_argument, NULL, 'x' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "network", required_argument, NULL, 'n' },
		{ "os", required_argument, NULL, 'o' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "secure-boot", no_argument, NULL, 'S' },
		{ "no-secure-boot", no_argument, NULL, 's' },
		{ "tpm", no_argument, NULL, 'P' },
		{ "no-tpm", no_argument, NULL, 'p' },
		{ "lock-command", required_argument, NULL, 'L' },
		{ "heads", required_argument, NULL, 'H' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_add_option, 1, "a template NAME" };
	_cleanup_free_ char *disk = NULL, *xml = NULL;
	_cleanup_json_ json_t *body = NULL, *reply = NULL;
	struct add_args a = { .secure_boot = -1, .tpm = -1 };
	const char *name;
	json_t *version;
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, &a, &r))
		return r;
	name = argv[optind];
	if (!a.disk)
		return ctl_usage_error(ctl, "%s needs --disk PATH", ctl->name);
	/* The broker says so too; said here, nothing is sent. */
	if (a.xml && (a.os || a.firmware || a.secure_boot >= 0 || a.tpm >= 0))
		return ctl_usage_error(ctl, "--xml decides the hardware: drop --os, --firmware, --secure-boot and --tpm");

	r = ctl_disk_path(a.disk, &disk);
	if (r != CTL_EXIT_OK)
		return r;
	if (a.xml) {
		r = read_xml(a.xml, &xml);
		if (r != CTL_EXIT_OK)
			return r;
	}
	body = json_pack("{s:s, s:s}", "name", name, "disk", disk);
	if (!body)
		return ctl_error(CTL_EXIT_USAGE, "the name and --disk must be UTF-8 text");
	if (xml && json_object_set_new(body, "xml", json_string(xml)) < 0)
		return ctl_error(CTL_EXIT_USAGE, "--xml %s is not UTF-8 text", a.xml);
	if (a.network && *a.network && json_object_set_new(body, "network", json_string(a.network)) < 0)
		return ctl_error(CTL_EXIT_USAGE, "--network %s is not UTF-8 text", a.network);
	if (a.os && *a.os && json_object_set_new(body, "os", json_string(a.os)) < 0)
		return ctl_error(CTL_EXIT_USAGE, "--os %s is not UTF-8 text", a.os);
	if ((a.memory && json_object_set_new(body, "memory_mib", json_integer((json_int_t)a.memory)) < 0) ||
	    (a.vcpus && json_object_set_new(body, "vcpus", json_integer((json_int_t)a.vcpus)) < 0) ||
	    (a.heads && json_object_set_new(body, "heads", json_integer((json_int_t)a.heads)) < 0) ||
	    (a.firmware && json_object_set_new(body, "firmware", json_string(a.firmware)) < 0) ||
	    (a.secure_boot >= 0 && json_object_set_new(body, "secure_boot", json_boolean(a.secure_boot)) < 0) ||
	    (a.tpm >= 0 && json_object_set_new(body, "tpm", json_boolean(a.tpm)) < 0))
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (a.lock_command && *a.lock_command &&
	    json_object_set_new(body, "lock_command", json_string(a.lock_command)) < 0)
		return ctl_error(CTL_EXIT_USAGE, "--lock-command %s is not UTF-8 text", a.lock_command);

	r = ctl_request(ctl, "POST", "/templates", body, &reply);
	if (!reply)
		return r;
	version = json_object_get(reply, "version");
	if (json_is_integer(version))
		printf("template \"%s\" added (version %" JSON_INTEGER_FORMAT ")\n", name, json_integer_value(version));
	else
		printf("template \"%s\" added\n", name);
	return CTL_EXIT_OK;
}

static int take_set_option(const struct ctl *ctl, int c, const char *value, void *data)
{
	json_t *body = data;

	(void)ctl;
	if (c != 'L')
		return -1;
	/* "": back to the default. */
	if (json_object_set_new(body, "lock_command", *value ? json_string(value) : json_null()) < 0)
		return ctl_error(CTL_EXIT_USAGE, "--lock-command %s is not UTF-8 text", value);
	return CTL_EXIT_OK;
}

int ctl_cmd_template_set(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lock-command", required_argument, NULL, 'L' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_options options = { opts, take_set_option, 1, "a template NAME" };
	_cleanup_json_ json_t *body = json_object(), *reply = NULL;
	int r;

	if (!body)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	if (!ctl_parse_options(ctl, argc, argv, &options, body, &r))
		return r;
	if (json_object_size(body) == 0)
		return ctl_usage_error(ctl, "nothing to change: give --lock-command");
	r = ctl_request_at(ctl, "PATCH", "templates", argv[optind], NULL, body, &reply);
	if (!reply)
		return r;
	printf("template \"%s\" updated\n", argv[optind]);
	return CTL_EXIT_OK;
}

int ctl_cmd_template_remove(const struct ctl *ctl, int argc, char **argv)
{
	_cleanup_json_ json_t *reply = NULL;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "a template NAME");
	if (r <= 0)
		return ctl_parse_exit(r);
	r = ctl_request_at(ctl, "DELETE", "templates", argv[optind], NULL, NULL, &reply);
	if (!reply)
		return r;
	printf("template \"%s\" removed\n", argv[optind]);
	return CTL_EXIT_OK;
}
