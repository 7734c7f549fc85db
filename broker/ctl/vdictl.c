/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl: global options, then one command from the table below. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "ctl.h"

struct command {
	const char *group;  /* "pool"; or the whole command ("audit") when verb is NULL */
	const char *verb;
	int (*run)(const struct ctl *ctl, int argc, char **argv);
	const char *usage;  /* the arguments */
};

static const struct command commands[] = {
	{ "template", "list", ctl_cmd_template_list, "" },
	{ "template", "show", ctl_cmd_template_show, "NAME" },
	{ "template", "add", ctl_cmd_template_add, 
	  "NAME --disk PATH [--xml FILE | [--os ID] [--firmware bios|uefi] [--secure-boot|--no-secure-boot] "
	  "[--tpm|--no-tpm]] [--memory MiB] [--vcpus N] [--network VALUE] [--heads N] [--lock-command CMD]" },
	{ "template", "set", ctl_cmd_template_set, "NAME --lock-command CMD|\"\"" },
	{ "template", "remove", ctl_cmd_template_remove, "NAME" },
	{ "template", "publish", ctl_cmd_template_publish,
	  "NAME --disk FILE [--note TEXT] [--at TIME] | NAME --from-maintenance [--note TEXT] | NAME --cancel" },
	{ "template", "rollback", ctl_cmd_template_rollback, "NAME [--to VERSION]" },
	{ "template", "edit", ctl_cmd_template_edit, "NAME [--start | --discard]" },
	{ "template", "console", ctl_cmd_template_console, "NAME [--vv FILE]" },
	{ "pool", "list", ctl_cmd_pool_list, "" },
	{ "pool", "create", ctl_cmd_pool_create,
	  "NAME --template T [--type pooled|persistent] [--size N] [--prestart N] [--max-per-user N] "
	  "[--idle-timeout SECONDS] [--groups g1,g2] [--data-disk MiB] [--network VALUE] [--isolate-desktops yes|no] "
	  "[--bandwidth-kbps N] [--usb-redirect N] [--lock-on-disconnect|--no-lock-on-disconnect] "
	  "[--second-viewer takeover|refuse]" },
	{ "pool", "update", ctl_cmd_pool_update,
	  "NAME [--size N] [--prestart N] [--max-per-user N] [--idle-timeout SECONDS] [--groups g1,g2] "
	  "[--data-disk MiB] [--network VALUE|\"\"] [--isolate-desktops yes|no|default] [--bandwidth-kbps N] "
	  "[--usb-redirect N] [--lock-on-disconnect|--no-lock-on-disconnect] [--second-viewer takeover|refuse]" },
	{ "pool", "delete", ctl_cmd_pool_delete, "NAME" },
	{ "pool", "recompose", ctl_cmd_pool_recompose, "NAME" },
	{ "desktop", "list", ctl_cmd_desktop_list, "[--pool P] [--user U] [--state S]" },
	{ "desktop", "reset", ctl_cmd_desktop_reset, "ID" },
	{ "desktop", "stop", ctl_cmd_desktop_stop, "ID" },
	{ "desktop", "delete", ctl_cmd_desktop_delete, "ID" },
	{ "desktop", "recompose", ctl_cmd_desktop_recompose, "ID" },
	{ "session", "list", ctl_cmd_session_list, "" },
	{ "session", "kill", ctl_cmd_session_kill, "ID | --user USER" },
	{ "audit", NULL, ctl_cmd_audit,
	  "[--user U] [--action A] [--object O] [--since T] [--until T] [--limit N]" },
	{ "host", "list", ctl_cmd_host_list, "" },
	{ "host", "drain", ctl_cmd_host_drain, "URI" },
	{ "host", "resume", ctl_cmd_host_resume, "URI" },
	{ "network", "list", ctl_cmd_network_list, "" },
	{ "network", "add", ctl_cmd_network_add, "NAME --mode nat|isolated|routed --subnet CIDR" },
	{ "network", "remove", ctl_cmd_network_remove, "NAME" },
	{ "os", "list", ctl_cmd_os_list, "[FILTER]" },
	{ "keygen", NULL, ctl_cmd_keygen, "PATH" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vdictl [--socket PATH] [--config FILE] [--json] COMMAND ...\n\n"
		   "The admin's command line of vdi-broker, over its admin socket.\n\n"
		   "Options:\n"
		   "  --socket PATH  the broker's admin socket (default: [broker] admin_socket\n"
		   "                 from the configuration, else " CTL_DEFAULT_SOCKET ")\n"
		   "  --config FILE  the configuration to read it from (default " CTL_DEFAULT_CONFIG ")\n"
		   "  --json         print the broker's replies as JSON\n"
		   "  -h, --help     this text; COMMAND --help for one command\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  vdictl %s%s%s%s%s\n", commands[i].group, commands[i].verb ? " " : "",
			commands[i].verb ? commands[i].verb : "", *commands[i].usage ? " " : "", commands[i].usage);
	fprintf(f, "\nT (--since, --until): unix seconds or YYYY-MM-DD[THH:MM[:SS]] in local time.\n"
		   "TIME (--at): \"YYYY-MM-DD HH:MM[:SS]\" or HH:MM (the next such) in local time, or @SECONDS.\n"
		   "Exit status: 0 done, 1 the broker refused, 2 usage error, 3 cannot reach the broker.\n");
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "vdictl: %s%s%s%s\nTry 'vdictl --help'.\n", what, arg ? " \"" : "", arg ? arg : "",
		arg ? "\"" : "");
	return CTL_EXIT_USAGE;
}

/* The verbs of group, comma-separated, into buf. */
static const char *verbs(const char *group, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(commands) && pos < len; i++)
		if (streq(commands[i].group, group) && commands[i].verb)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "", commands[i].verb);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const struct command *cmd = NULL;
	struct ctl ctl = { 0 };
	bool group_known = false;
	char prog[64], list[128], msg[256];
	int c, r, skip;

	/* getopt's messages start with argv[0]: the name, not the path. */
	if (argc > 0)
		argv[0] = (char *)"vdictl";
	/* "+": the options before the command are vdictl's; the command parses its own. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			ctl.socket = optarg;
			break;
		case 'c':
			ctl.config = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		default:
			fprintf(stderr, "Try 'vdictl --help'.\n");
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("no command given", NULL);
	if (streq(argv[optind], "help")) {
		usage(stdout);
		return CTL_EXIT_OK;
	}

	for (size_t i = 0; i < ELEMENTSOF(commands) && !cmd; i++) {
		if (!streq(commands[i].group, argv[optind]))
			continue;
		group_known = true;
		if (!commands[i].verb || (optind + 1 < argc && streq(commands[i].verb, argv[optind + 1])))
			cmd = &commands[i];
	}
	if (!cmd && !group_known)
		return usage_error("unknown command", argv[optind]);
	if (!cmd && optind + 1 >= argc) {
		snprintf(msg, sizeof(msg), "\"%s\" needs one of: %s", argv[optind], verbs(argv[optind], list,
			 sizeof(list)));
		return usage_error(msg, NULL);
	}
	if (!cmd) {
		snprintf(msg, sizeof(msg), "unknown command \"%s %s\"", argv[optind], argv[optind + 1]);
		return usage_error(msg, NULL);
	}

	snprintf(prog, sizeof(prog), "vdictl %s%s%s", cmd->group, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
	ctl.prog = prog;
	ctl.name = prog + strlen("vdictl ");
	ctl.usage = cmd->usage;
	/* The command sees argv from its last word on, named for getopt's messages. */
	skip = optind + (cmd->verb ? 1 : 0);
	argv[skip] = prog;
	r = cmd->run(&ctl, argc - skip, argv + skip);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vdictl: cannot write the output\n");
		return r == CTL_EXIT_OK ? CTL_EXIT_FAILED : r;
	}
	return r;
}
