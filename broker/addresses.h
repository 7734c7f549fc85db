/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Each running desktop's IP addresses and what its guest agent tells of it (host name, logged-in
 * users: vmpool's pool_desktop_guest_info), kept for the admin desktops listing, which reads them
 * without waiting for libvirt.  The addresses are the agent's when it answers with some, else
 * pool_desktop_addresses()'s (the DHCP leases of its libvirt network, then the agent).  The loop looks at the store's running desktops every couple of
 * seconds: desktops that no longer run (stopped, deleted) drop out at once; the addresses are
 * read again on a worker every REFRESH seconds, and sooner while a desktop that started lately
 * has none yet (its guest is still asking for a lease).  Loop thread only.
 */

#include <stdint.h>

#include <jansson.h>

struct broker_addresses;
struct broker_desks;
struct broker_store;
struct vdi_workers;

struct broker_addresses_options {
	struct broker_store *store;  /* the loop thread's connection; borrowed, outlives the module */
	struct vdi_workers *workers; /* borrowed; stopped before the module goes */
	struct broker_desks *desks;  /* the hosts (broker_desks_host); borrowed, outlives the module */
};

/* *ret is new. */
int broker_addresses_new(const struct broker_addresses_options *o, struct broker_addresses **ret);
/* After the workers are stopped. Accepts NULL; returns NULL. */
struct broker_addresses *broker_addresses_free(struct broker_addresses *a);

/* Once a second, from the loop's tick. */
void broker_addresses_tick(struct broker_addresses *a);

/* Desktop id's addresses as last read: a new JSON array of strings ([] when none is known). */
json_t *broker_addresses_json(struct broker_addresses *a, int64_t id);
/* What desktop id's guest agent told at the last read: a new reference to {"hostname": string or null,
 * "users": [strings]}, or JSON null when no agent answered (none, not running yet, not read yet). */
json_t *broker_addresses_guest_json(struct broker_addresses *a, int64_t id);
