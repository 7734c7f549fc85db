/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store (store.h): templates, their versions, and pools.  The listings return a new JSON
 * array with an object per row, as the admin API shows them, and their number.
 * Names are borrowed.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "pool-net.h"

struct broker_store;

/* ---- templates ------------------------------------------------------------------ */

/*
 * A template row and its version 1 on disk_path, in one transaction; the name is checked only
 * for its length here (1-64): what a template may be named is vmpool's rule
 * (pool_template_new()), which the API applies before this.
 */
int broker_store_add_template(struct broker_store *s, const char *name, const char *disk_path, const char *xml,
			      int64_t now, struct vdi_error *err);

/* Records what template name was made with (rows changed, or -errno). */
int broker_store_set_template_size(struct broker_store *s, const char *name, int64_t memory_mib, int64_t vcpus);

/* Sets the network template name's desktops attach to (network NULL: the XML's own NICs; rows changed or -errno). */
int broker_store_set_template_network(struct broker_store *s, const char *name, const char *network);

/*
 * Records the hardware template name has (what its XML was made with, or what its own XML asks): os (borrowed;
 * NULL or "": none), firmware "bios" or "uefi", secure_boot and tpm.  Rows changed, or -errno.
 */
int broker_store_set_template_hardware(struct broker_store *s, const char *name, const char *os, const char *firmware,
				       bool secure_boot, bool tpm);

/* What a desktop runs through its guest agent to lock its screen when its template names nothing else. */
#define BROKER_LOCK_COMMAND_DEFAULT "loginctl lock-sessions"

/* Sets the command template name's desktops lock their screen with through the guest agent (lock_command NULL:
 * the default, BROKER_LOCK_COMMAND_DEFAULT; rows changed or -errno). */
int broker_store_set_template_lock_command(struct broker_store *s, const char *name, const char *lock_command);
/* Records the monitors (1..4) template name's desktops get (rows changed, or -errno). */
int broker_store_set_template_heads(struct broker_store *s, const char *name, int64_t heads);

/* Template name's network into buf (len bytes): 1, 0 when it has none ("" in buf), -ENOENT, -errno. */
int broker_store_template_network(struct broker_store *s, const char *name, char *buf, size_t len);

/* The templates (name NULL: all, by name) with name, disk, memory_mib, vcpus, version, created, pools, network
 * (null: none), os (null: none), firmware ("bios", "uefi"), secure_boot and tpm (0/1), heads (monitors, 1..4),
 * lock_command (null: the default). */
int broker_store_templates(struct broker_store *s, const char *name, json_t **ret);

/* The templates without an OS (an admin's XML, or vdi's generic one), with name, xml, firmware, secure_boot and
 * tpm as recorded: what broker_templates_hardware_check() compares. */
int broker_store_templates_own_xml(struct broker_store *s, json_t **ret);

/* > 0 when template name exists, 0 when not, or -errno. */
int broker_store_template_exists(struct broker_store *s, const char *name);

/* How many pools use template name; -ENOENT when there is no such template. */
int broker_store_template_pools(struct broker_store *s, const char *name);

/* Deletes template name (rows changed, or -errno). */
int broker_store_remove_template(struct broker_store *s, const char *name);

/* ---- pools --------------------------------------------------------------------------- */

struct broker_pool_def {
	const char *name;       /* [A-Za-z0-9_]{1,32}: part of domain names (pool_name_is_valid()) */
	const char *template_name;
	bool persistent;        /* false: pooled (reset on release) */
	int64_t size;           /* most desktops, >= 0 */
	int64_t prestart;       /* free desktops kept running, 0..size */
	int64_t max_per_user;   /* >= 1 */
	int64_t idle_timeout;   /* seconds, 0 = never */
	const char *groups;     /* comma-separated; "" = everyone */
	int64_t data_disk_mib;  /* a user data disk per desktop (persistent pools only), MiB; 0 = none */
	const char *network;    /* NULL: the template's (pool-net.h) */
	enum broker_isolate isolate;
	int64_t bandwidth_kbps; /* 0 = none */
	int64_t usb_redirect;   /* SPICE USB redirection channels per desktop, 0..POOL_USB_REDIRECT_MAX */
	int lock_on_disconnect; /* BROKER_LOCK_DEFAULT (on for persistent pools), 0 off, 1 on */
	bool refuse_second_viewer; /* second_viewer "refuse" (false: "takeover") */
};

/* lock_on_disconnect not set: on for persistent pools, off for pooled ones. */
#define BROKER_LOCK_DEFAULT (-1)

/* The largest data disk a pool may give (MiB): 16 TiB. */
#define BROKER_DATA_DISK_MIB_MAX (16LL * 1024 * 1024)

/* -EINVAL (a data disk on a pooled pool, sizes out of range, network settings as broker_pool_net_check()
 * says with the template's network), -EEXIST, -ENOENT (no such template). */
int broker_store_add_pool(struct broker_store *s, const struct broker_pool_def *def, int64_t now, struct vdi_error *err);

/* What an admin may change in a pool besides its groups. */
struct broker_pool_limits {
	int64_t size, prestart, max_per_user, idle_timeout;
	int64_t data_disk_mib; /* see broker_pool_def; broker_store_pool_check_data_disk() says which values may follow */
	char network[BROKER_NETWORK_VALUE_MAX]; /* the pool's own; "" not set (the template's) */
	enum broker_isolate isolate;
	int64_t bandwidth_kbps;
	int64_t usb_redirect;
	int lock_on_disconnect;    /* as in broker_pool_def */
	bool refuse_second_viewer;
	/* Read only (broker_store_pool_limits() fills them; the update leaves them): */
	bool persistent;
	char template_network[BROKER_NETWORK_VALUE_MAX]; /* "" none */
};

/*
 * Whether pool name's data disks may become mib MiB: 0, or -EINVAL with why: a data disk on a pooled
 * pool ("a data disk needs a persistent pool"), smaller than its desktops' data disks are (shrinking
 * is refused; 0 when they have one too), or out of range; -ENOENT: no such pool.
 */
int broker_store_pool_check_data_disk(struct broker_store *s, const char *name, int64_t mib, struct vdi_error *err);

/* The limits of pool name: 0, or -ENOENT (no such pool), -errno. */
int broker_store_pool_limits(struct broker_store *s, const char *name, struct broker_pool_limits *ret);

/* Sets the limits of pool name, and its groups unless groups is NULL (rows changed, or -errno). */
int broker_store_update_pool(struct broker_store *s, const char *name, const struct broker_pool_limits *l,
			     const char *groups);

/* > 0 when pool name exists (draining or not), 0 when not, or -errno. */
int broker_store_pool_exists(struct broker_store *s, const char *name);

/*
 * The pools (name NULL: all, by name) with id, name, template, type ("persistent" or "pooled"),
 * size, prestart, max_per_user, idle_timeout, groups (comma-separated), draining (0/1), created,
 * data_disk_mib, network (effective: the pool's, else the template's; null none), network_inherited (0/1:
 * the pool sets none), isolate_desktops (as set: null, 0, 1), persistent (0/1), bandwidth_kbps, usb_redirect,
 * lock_on_disconnect (effective: 0/1), second_viewer ("takeover", "refuse").
 */
int broker_store_pools(struct broker_store *s, const char *name, json_t **ret);

/* The desktops of every pool by state: rows of pool_id, state, n. */
int broker_store_pool_desktop_counts(struct broker_store *s, json_t **ret);

/*
 * The pools that are not draining, by name, as user sees them: name, type, size, groups,
 * spare (nobody's, free or on the way up), total (not being deleted), mine (user's, in service).
 */
int broker_store_user_pools(struct broker_store *s, const char *user, json_t **ret);
