/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The JSON bodies of the API's requests, parsed and checked without any I/O
 * (the handlers in api/ reply 400 with err when one fails; tests/fuzz feeds
 * them anything).  A body is a JSON object with only the documented members.
 * Each parser returns >= 0 and fills ret, whose strings live in ret->json
 * until the matching *_finish(), or -EINVAL (-ENOMEM) with a message in err;
 * ret needs *_finish() either way.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "pool-net.h"

/* POST /login */
struct broker_login_body {
	json_t *json;
	const char *username, *password;
};
int broker_parse_login(const char *text, size_t len, struct broker_login_body *ret, struct vdi_error *err);
void broker_login_body_finish(struct broker_login_body *b);

/* POST /pools/{pool}/desktop: an empty body, or {"new": bool}. */
int broker_parse_assign(const char *text, size_t len, bool *ret_new, struct vdi_error *err);

/* POST /admin/hosts/drain and /admin/hosts/resume: {"host": URI}; *ret is borrowed from *ret_json. */
int broker_parse_host(const char *text, size_t len, json_t **ret_json, const char **ret, struct vdi_error *err);

/*
 * POST /admin/templates; disk is an absolute path, memory_mib and vcpus 0 when not given; network (a value
 * pool_nic_parse() takes) NULL when not given (null or "").  The hardware of a template vdi writes the XML of:
 * os (an osinfo-db short id, 1..POOL_OS_ID_MAX bytes without control characters or white space; NULL when
 * not given, null or ""), firmware ("bios" or "uefi"; POOL_FIRMWARE_AUTO when not given or null), secure_boot
 * and tpm (true 1, false 0; -1 when not given or null: the OS's default).  With xml none of them may be given
 * (the XML decides the hardware).  lock_command: the program and its arguments, separated by spaces (no shell,
 * no quoting), that the guest agent runs to lock the screen: 1..BROKER_LOCK_COMMAND_MAX bytes of printable
 * text, at most BROKER_LOCK_ARGS_MAX words; NULL when not given, null or "" (the default).  heads: the monitors
 * of its desktops, 1..POOL_HEADS_MAX (1 when not given).
 */
#define BROKER_LOCK_COMMAND_MAX 512
#define BROKER_LOCK_ARGS_MAX 32
struct broker_template_body {
	json_t *json;
	const char *name, *disk, *xml, *network;
	int64_t memory_mib, vcpus;
	const char *os;
	enum pool_firmware firmware;
	int secure_boot, tpm;
	const char *lock_command;
	int64_t heads;
};
int broker_parse_template(const char *text, size_t len, struct broker_template_body *ret, struct vdi_error *err);
/* PATCH /admin/templates/{name}: {"lock_command": ...} as above (given: has_lock_command). */
int broker_parse_template_update(const char *text, size_t len, struct broker_template_body *ret,
				 bool *has_lock_command, struct vdi_error *err);
void broker_template_body_finish(struct broker_template_body *b);

/*
 * Splits a lock_command that broker_parse_template() took (borrowed) into argv: at most
 * BROKER_LOCK_ARGS_MAX words, NULL-terminated, pointing into buf (len bytes, a copy of it).  0, or -EINVAL.
 */
int broker_lock_command_argv(const char *command, char *buf, size_t len, const char *argv[BROKER_LOCK_ARGS_MAX + 1]);

/*
 * POST /admin/templates/{name}/publish: exactly one of disk (an absolute path) and
 * from_maintenance (true: the template's maintenance desktop); note (at most
 * BROKER_NOTE_MAX bytes, no control characters) and at (seconds UTC, >= 0) optional.
 */
#define BROKER_NOTE_MAX 500
struct broker_publish_body {
	json_t *json;
	const char *disk, *note; /* disk NULL: from_maintenance */
	bool from_maintenance;
	int64_t at; /* 0: now */
};
int broker_parse_publish(const char *text, size_t len, struct broker_publish_body *ret, struct vdi_error *err);
void broker_publish_body_finish(struct broker_publish_body *b);

/* A request that takes no arguments (POST /admin/templates/{name}/edit, ...): an empty body, or {}. */
int broker_parse_empty(const char *text, size_t len, struct vdi_error *err);

/* POST /admin/templates/{name}/rollback: an empty body, {}, or {"to": VERSION >= 1}; *ret_to 0 when not given. */
int broker_parse_rollback(const char *text, size_t len, int64_t *ret_to, struct vdi_error *err);

/*
 * POST /admin/pools (create: name, template, size required; type "pooled" or
 * "persistent") and PATCH /admin/pools/{name} (update: the members given
 * replace the current values the caller puts in ret, and prestart must not
 * exceed size afterwards).  groups is "g1,g2" (names of 1-64 characters
 * without commas or white space; "" = everyone) or NULL when not given.
 * data_disk_mib (>= 0; 0 none) is checked against the pool by the store.
 * network: a value pool_nic_parse() takes, or NULL (not set: the template's; null or "" given); isolate:
 * isolate_desktops as set (null: the default); bandwidth_kbps 0..BROKER_BANDWIDTH_KBPS_MAX.  Only what the
 * body says alone is checked here (isolate_desktops true with its own network that cannot be isolated); the
 * settings with the template's network are broker_pool_net_check()'s.  On update, a network the caller puts
 * in ret is borrowed from the caller.  usb_redirect: the SPICE USB redirection channels of each desktop,
 * 0..POOL_USB_REDIRECT_MAX.  lock_on_disconnect: true, false or null (BROKER_LOCK_DEFAULT: on for persistent
 * pools); second_viewer: "takeover" or "refuse" (refuse_second_viewer).
 */
struct broker_pool_body {
	json_t *json;
	const char *name, *template_name;   /* create only */
	bool persistent;                    /* create only */
	int64_t size, prestart, max_per_user, idle_timeout;
	char *groups;
	int64_t data_disk_mib;
	const char *network;
	enum broker_isolate isolate;
	int64_t bandwidth_kbps;
	int64_t usb_redirect;               /* 0..POOL_USB_REDIRECT_MAX; create: BROKER_USB_REDIRECT_DEFAULT */
	int lock_on_disconnect;             /* BROKER_LOCK_DEFAULT (store-catalog.h), 0, 1; create: the default */
	bool refuse_second_viewer;          /* create: false (takeover) */
};
/* A pool's USB redirection channels when its creation does not say. */
#define BROKER_USB_REDIRECT_DEFAULT 2
int broker_parse_pool_create(const char *text, size_t len, struct broker_pool_body *ret, struct vdi_error *err);
int broker_parse_pool_update(const char *text, size_t len, struct broker_pool_body *ret, struct vdi_error *err);
void broker_pool_body_finish(struct broker_pool_body *b);

/*
 * POST /admin/networks: name (pool_network_name_is_valid()), mode ("nat", "isolated" or "routed") and
 * subnet (an IPv4 CIDR without host bits, prefix BROKER_SUBNET_PREFIX_MIN..MAX), all required.
 */
#define BROKER_SUBNET_PREFIX_MIN 8
#define BROKER_SUBNET_PREFIX_MAX 30
struct broker_network_body {
	json_t *json;
	const char *name, *mode, *subnet;
};
int broker_parse_network(const char *text, size_t len, struct broker_network_body *ret, struct vdi_error *err);
void broker_network_body_finish(struct broker_network_body *b);
