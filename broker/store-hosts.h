/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The desktop module's statements on the hosts table (the libvirt hosts: up, draining) and
 * the templates listing its looks at the hosts need; the SQL text lives only in store files.
 * s and uri are borrowed.  Returns rows changed (or rows), or -errno.
 */

#include <stdbool.h>

#include <jansson.h>

struct broker_store;
struct pool_hw_features;

/* Adds host uri's row unless it is there: rows changed (0: it was there) or -errno. */
int broker_store_host_add(struct broker_store *s, const char *uri);

/* Records whether host uri answers: rows changed (0: no such host) or -errno. */
int broker_store_host_set_up(struct broker_store *s, const char *uri, bool up);

/* Records whether an admin is emptying host uri: rows changed (0: no such host) or -errno. */
int broker_store_host_set_draining(struct broker_store *s, const char *uri, bool draining);

/* Whether host uri is draining: 1, 0 (also when there is no such host) or -errno. */
int broker_store_host_is_draining(struct broker_store *s, const char *uri);

/*
 * Records the libvirt networks host uri has active (networks: ",a,b," with a comma around each name, ","
 * for none; NULL: not known) as its last look found them: rows changed (0: no such host) or -errno.
 */
int broker_store_host_set_networks(struct broker_store *s, const char *uri, const char *networks);

/*
 * Records the hardware host uri offers (hardware: ",uefi,secure-boot,tpm," as placement.h says; NULL: not
 * known) as its last look found it: rows changed (0: no such host) or -errno.
 */
int broker_store_host_set_hardware(struct broker_store *s, const char *uri, const char *hardware);

/*
 * What template (borrowed) asks of a host (templates.firmware 'uefi', secure_boot, tpm) into *ret: 1, 0 (no
 * such template: *ret asks nothing) or -errno.
 */
int broker_store_template_needs(struct broker_store *s, const char *template, struct pool_hw_features *ret);

/* The same for pool's (borrowed) template; 0: no such pool. */
int broker_store_pool_needs(struct broker_store *s, const char *pool, struct pool_hw_features *ret);

/* Every template's name and disk_path: rows, *ret a new JSON array, or -errno. */
int broker_store_templates_disks(struct broker_store *s, json_t **ret);

/*
 * The libvirt networks pools' desktops attach to: the NAME of each pool's effective network (its own
 * `network`, else its template's) that is "network:NAME", each once, as rows {"name"}: rows, *ret a new
 * JSON array, or -errno.
 */
int broker_store_pool_network_names(struct broker_store *s, json_t **ret);

/* What attaches to "network:" name (borrowed): the pools whose effective network it is and the templates that
 * name it (their maintenance desktops, and pools made later, attach to it), as rows {"kind": "pool" or
 * "template", "name"}, pools first: rows, *ret a new JSON array, or -errno. */
int broker_store_network_users(struct broker_store *s, const char *name, json_t **ret);
