/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdictl: the admin's command line.  It speaks the broker's admin API
 * (docs/api.md, /api/v1/admin/...) over the unix socket [broker]
 * admin_socket, prints tables, or the broker's JSON with --json.
 *
 * Each command is a function taking argv from its last word on
 * (argv[0] = "create" for "vdictl pool create ...", renamed to the whole
 * command for getopt's messages) and returning the process's exit status.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "paths.h"
#include "table.h"

/* vdictl's exit statuses. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,      /* the broker refused (4xx/5xx), or a local step failed */
	CTL_EXIT_USAGE = 2,       /* bad command line or configuration */
	CTL_EXIT_UNREACHABLE = 3, /* no reply from the broker */
};

#define CTL_DEFAULT_CONFIG VDI_CONFIG_FILE
#define CTL_DEFAULT_SOCKET VDI_RUNDIR "/vdi/admin.sock"

/* Largest request body the broker takes (docs/api.md). */
#define CTL_MAX_REQUEST (64 * 1024)

struct ctl {
	const char *socket;   /* --socket, or NULL (borrowed) */
	const char *config;   /* --config, or NULL for CTL_DEFAULT_CONFIG (borrowed) */
	bool json;            /* --json: print the broker's replies as JSON */
	const char *prog;     /* "vdictl pool create", for getopt's messages and --help (borrowed) */
	const char *name;     /* "pool create", for vdictl's messages (borrowed) */
	const char *usage;    /* the command's arguments, for --help (borrowed) */
};

/* ---- client.c: requests and output shared by the commands ------------------ */

/*
 * Sends method /api/v1/admin<target> (target borrowed, URL-encoded, e.g.
 * "/pools/lab") with body (borrowed, may be NULL) to the broker.  On a 2xx
 * reply *ret is its JSON (a new reference; an empty object for an empty
 * body).  Otherwise prints why to stderr: the broker's "error" message, or
 * why it could not be reached.  Returns an exit status.
 */
int ctl_call(const struct ctl *ctl, const char *method, const char *target, const json_t *body, json_t **ret);

/* The same for a reply that is not JSON (a .vv file): on a 2xx reply *ret is its body (new,
 * *ret_len bytes, NUL-terminated).  Returns an exit status. */
int ctl_call_raw(const struct ctl *ctl, const char *method, const char *target, char **ret, size_t *ret_len);

/*
 * ctl_call(), then with --json prints the reply.  Returns an exit status;
 * *ret is the reply (new) when the caller is to print it as text, NULL when
 * there is nothing more to print (it was printed as JSON, or the call failed).
 */
int ctl_request(const struct ctl *ctl, const char *method, const char *target, const json_t *body, json_t **ret);

/* The same at ctl_target(collection, name, suffix) (all borrowed; suffix may be NULL). */
int ctl_request_at(const struct ctl *ctl, const char *method, const char *collection, const char *name,
		   const char *suffix, const json_t *body, json_t **ret);

/* Prints j to stdout, indented (--json). Returns an exit status. */
int ctl_print_json(const json_t *j);

struct ctl_column;
struct ctl_table;
/*
 * GET target and print it: with --json the reply as it is, else a table of
 * columns with one row per element of the reply's array member, whose
 * cells row() adds (ctl_table_add_row()'s result).  Returns the exit status.
 */
int ctl_list(const struct ctl *ctl, const char *target, const char *member, const struct ctl_column *columns,
	     size_t n_columns, int (*row)(json_t *e, struct ctl_table *t));

/* Prints t to stdout. Returns an exit status. */
int ctl_print_table(const struct ctl_table *t);

/* "vdictl: <message>" to stderr; returns status. */
int ctl_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "vdictl: <message>" (when fmt is not NULL) and a hint at --help to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the command's usage to stdout; returns CTL_EXIT_OK. */
int ctl_help(const struct ctl *ctl);

/* "/<collection>/<name URL-encoded>[/<suffix>]" into a new string *ret. Returns 0 or -ENOMEM. */
int ctl_target(char **ret, const char *collection, const char *name, const char *suffix);

/* ---- args.c: the command line: its options and operands --------------------- */

/*
 * Parses the value of a number option strictly (name: "--size").  Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE after saying what is wrong.
 */
int ctl_opt_uint(const struct ctl *ctl, const char *name, const char *value, uint64_t min, uint64_t max,
		 uint64_t *ret);

/*
 * ctl_query_append() for an option's value: key=value (borrowed) to the
 * query of *target.  Returns an exit status (CTL_EXIT_FAILED after saying "out of memory").
 */
int ctl_opt_query(char **target, const char *key, const char *value);

struct option;

/* The end of every command's option table: --help, as ctl_parse_options() answers it, and the terminator. */
#define CTL_OPTIONS_END { "help", no_argument, NULL, 'h' }, { 0 }

/* A command's options: getopt_long()'s table, what takes each of them, and the operands after them. */
struct ctl_options {
	const struct option *options; /* with { "help", no_argument, NULL, 'h' } (borrowed) */
	/*
	 * Takes the option of getopt code c, with its value (NULL for one
	 * without), into data: returns an exit status (CTL_EXIT_OK to go on),
	 * or -1 for a code it does not know.  NULL: the command has only --help.
	 */
	int (*take)(const struct ctl *ctl, int c, const char *value, void *data);
	int nargs;        /* how many operands, as ctl_operands() checks; -1: the command checks them */
	const char *what; /* ctl_operands()'s what (borrowed) */
};

/* A ctl_options take() for a command whose one option (but --help) has a value: it into *data
 * (a const char *, borrowed from argv). */
int ctl_take_value(const struct ctl *ctl, int c, const char *value, void *data);

/*
 * Parses the options of argv with o (borrowed): --help prints the usage,
 * an unknown option is a usage error, each other goes to o->take() with data;
 * then checks the operands (o->nargs, o->what).
 * Returns true to go on (the operands start at argv[optind]); false when
 * the command is over, with *status its exit status (CTL_EXIT_OK after
 * --help, else what take() returned or CTL_EXIT_USAGE).
 */
bool ctl_parse_options(const struct ctl *ctl, int argc, char **argv, const struct ctl_options *o, void *data,
		       int *status);

/*
 * After the options: expects exactly nargs operands at argv[optind]...,
 * named by what (borrowed, "a pool NAME") in the message when there are
 * not; what NULL says the command takes none.  Returns CTL_EXIT_OK, or
 * CTL_EXIT_USAGE after "<command> expects <what>" (or "takes no arguments").
 */
int ctl_operands(const struct ctl *ctl, int argc, int nargs, const char *what);

/* The same for exactly one operand, into *ret (borrowed from argv). Returns an exit status. */
int ctl_operand(const struct ctl *ctl, int argc, char **argv, const char *what, const char **ret);

/*
 * Parses the options of a command that has none but --help, then expects
 * exactly nargs arguments (named by what in messages, as ctl_operands()
 * does) at argv[optind]...
 * Returns 1 to go on, 0 after --help, -EINVAL after a usage message.
 */
int ctl_parse_plain(const struct ctl *ctl, int argc, char **argv, int nargs, const char *what);

/* The exit status for a ctl_parse_plain()-style result r <= 0. */
static inline int ctl_parse_exit(int r)
{
	return r == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
}

/*
 * templates.c: the disk path given to --disk (borrowed) as an absolute path
 * in a new string *ret: resolved when it exists here (a relative path
 * against the working directory), else as given when it is absolute.
 * Returns an exit status (CTL_EXIT_USAGE after saying why).
 */
int ctl_disk_path(const char *disk, char **ret);

/* maintenance.c: the line "maintenance desktop: ..." of template show, for m (borrowed; nothing when
 * it is not an object). */
void ctl_print_maintenance(json_t *m);

/* ---- the commands ------------------------------------------------------------ */

int ctl_cmd_template_list(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_show(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_add(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_set(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_remove(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_publish(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_rollback(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_edit(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_template_console(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_pool_list(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_pool_create(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_pool_update(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_pool_delete(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_pool_recompose(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_desktop_list(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_desktop_reset(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_desktop_stop(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_desktop_delete(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_desktop_recompose(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_session_list(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_session_kill(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_audit(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_host_list(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_host_drain(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_host_resume(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_network_list(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_network_add(const struct ctl *ctl, int argc, char **argv);
int ctl_cmd_network_remove(const struct ctl *ctl, int argc, char **argv);

/* Local: writes a new token key; no socket. */
int ctl_cmd_os_list(const struct ctl *ctl, int argc, char **argv);

int ctl_cmd_keygen(const struct ctl *ctl, int argc, char **argv);
