/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A pool's network settings (the pool's `network`, else its template's; `isolate_desktops`;
 * `bandwidth_kbps`): their effective values and the one NIC a desktop of the pool gets.  Pure: no
 * I/O.  Strings are borrowed.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "vmpool.h"

/* The most kilobits/s a pool may limit its desktops to. */
#define BROKER_BANDWIDTH_KBPS_MAX 100000000LL

/* Longest `network` value: "network:" and a libvirt network name, or "ovs:BRIDGE:VLAN". */
#define BROKER_NETWORK_VALUE_MAX (8 + POOL_NETWORK_NAME_MAX + 1)

/* A pool's isolate_desktops as set: not set (the default), no, yes. */
enum broker_isolate {
	BROKER_ISOLATE_DEFAULT,
	BROKER_ISOLATE_NO,
	BROKER_ISOLATE_YES,
};

/* A row's stored isolate_desktops (borrowed: null or missing, 0, 1) as its setting. */
enum broker_isolate broker_isolate_from_json(json_t *value);

/* The NAME of a "network:NAME" value, or NULL (other kinds, NULL). */
const char *broker_network_libvirt_name(const char *value);

/* Whether desktops on kind are isolated: the setting when set, else a pooled pool on a kind that can be. */
bool broker_isolate_effective(enum broker_isolate setting, bool persistent, enum pool_nic_kind kind);

/*
 * Whether the effective settings go together: network (the pool's, else its template's; NULL or "" none) must
 * parse, isolate YES needs a kind that can be isolated, bandwidth (0..BROKER_BANDWIDTH_KBPS_MAX) a network that
 * is neither none nor user.  0, or -EINVAL with a message naming the member.
 */
int broker_pool_net_check(const char *network, enum broker_isolate isolate, int64_t bandwidth_kbps,
			  struct vdi_error *err);

/*
 * The NIC of a desktop of the pool in row (borrowed; members "network": the effective value or null,
 * "persistent", "isolate_desktops": null, 0 or 1, "bandwidth_kbps") into *ret: POOL_NIC_TEMPLATE when the
 * network is none.  -EINVAL (err says why) when the stored values do not go together.
 */
int broker_pool_nic_from_row(json_t *row, struct pool_nic *ret, struct vdi_error *err);
