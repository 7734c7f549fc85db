/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdi's configuration: /etc/vdi/vdi.conf (INI) plus the drop-ins
 * /etc/vdi/vdi.conf.d/NAME.conf, read in strcmp order, later values winning.
 *
 * Strict: an unknown section or key, a key outside any section, a key given
 * twice in one file, a bad value, a malformed, indented or over-long line
 * all fail with -EINVAL and a message "FILE:LINE: [section] key: what".
 * Parsing is table-driven (config.c); inih reads the files.
 */

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct vdi_config {
	struct {
		char *listen;                /* host:port */
		char *admin_socket;          /* path */
		uint64_t session_ttl;        /* seconds */
		uint64_t login_max_failures;
		uint64_t login_lockout;      /* seconds */
		char *web_root;              /* path */
		char *spice_html5;           /* path of the system's spice-html5, served under /spice-html5/ */
		char *tls_cert, *tls_key;    /* PEM paths; both set: HTTPS on listen; NULL: plain HTTP */
	} broker;
	struct {
		char *path;
	} database;
	struct {
		char *service;
		char *admin_group;
	} pam;
	struct {
		char **hosts;                /* NULL-terminated list of libvirt URIs */
		char *storage_pool;
		char *storage_path;          /* directory of the storage pool when vdi creates it */
		char *runtime_dir;
		char *virt_type;             /* auto | kvm | qemu */
		uint64_t shutdown_timeout;   /* seconds a guest gets to shut down before it is powered off */
	} libvirt;
	struct {
		char *listen;
		char *public_url;            /* ws:// or wss:// */
		char **allowed_targets;      /* NULL-terminated */
		char **allowed_origins;      /* NULL-terminated; "*" = any */
		uint64_t idle_timeout;       /* seconds without traffic before a relay is closed; 0: never */
		char *tls_cert, *tls_key;    /* PEM paths; both set: WSS and CONNECT over TLS, SPICE TLS; NULL: plain */
		char *tls_ca;                /* PEM of the CA that signed tls_cert: the .vv's ca= (the broker reads it) */
	} gateway;
	struct {
		char *key_file;
		uint64_t ttl;                /* seconds */
	} tokens;
	struct {
		uint64_t keep_versions;      /* ready versions kept as rollback targets, the current one included */
		uint64_t stray_base_grace;   /* seconds a base volume no version names is reported before it goes */
	} templates;
	char **files;                        /* NULL-terminated: the files vdi_config_load read, in order */
};

/* Fills cfg with the defaults. Returns 0 or -ENOMEM. */
int vdi_config_init(struct vdi_config *cfg);

/* Frees what cfg owns; accepts a zeroed or half-filled struct. */
void vdi_config_finish(struct vdi_config *cfg);

/*
 * Sets the defaults, reads path (which must exist: -ENOENT otherwise) and
 * then every <path>.d/NAME.conf; cfg->files lists the files read, in the
 * order read.  On failure cfg holds no allocations and err
 * names the file, line and key.
 */
int vdi_config_load(const char *path, struct vdi_config *cfg, struct vdi_error *err);

/* Applies the INI text to cfg (which holds defaults or earlier files); name appears in messages. */
int vdi_config_apply_string(struct vdi_config *cfg, const char *text, const char *name, struct vdi_error *err);

/* Longest line accepted (Debian's inih cuts longer lines silently). */
#define VDI_CONFIG_MAX_LINE 190

/* Largest configuration file read. */
#define VDI_CONFIG_MAX_FILE (1024 * 1024)
