/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pool-net.h"

#include <errno.h>
#include <string.h>

const char *broker_network_libvirt_name(const char *value)
{
	return value && strncmp(value, "network:", 8) == 0 ? value + 8 : NULL;
}

enum broker_isolate broker_isolate_from_json(json_t *value)
{
	if (!json_is_integer(value))
		return BROKER_ISOLATE_DEFAULT;
	return json_integer_value(value) ? BROKER_ISOLATE_YES : BROKER_ISOLATE_NO;
}

bool broker_isolate_effective(enum broker_isolate setting, bool persistent, enum pool_nic_kind kind)
{
	if (setting != BROKER_ISOLATE_DEFAULT)
		return setting == BROKER_ISOLATE_YES;
	return !persistent && pool_nic_can_isolate(kind);
}

/* Why desktops on kind cannot be isolated from each other. */
static const char *why_not_isolated(enum pool_nic_kind kind)
{
	switch (kind) {
	case POOL_NIC_OVS:
		return "Open vSwitch ports cannot be isolated by libvirt";
	case POOL_NIC_USER:
		return "user-mode networking cannot be isolated by libvirt";
	default:
		return "the template's own NICs are left as they are: give the pool a network";
	}
}

int broker_pool_net_check(const char *network, enum broker_isolate isolate, int64_t bandwidth_kbps,
			  struct vdi_error *err)
{
	struct pool_nic nic = { .kind = POOL_NIC_TEMPLATE };
	struct vdi_error why = { 0 };

	if (network && *network && pool_nic_parse(network, &nic, &why) < 0)
		return vdi_error_set(err, -EINVAL, "\"network\": %s", why.message);
	if (isolate == BROKER_ISOLATE_YES && !pool_nic_can_isolate(nic.kind))
		return vdi_error_set(err, -EINVAL, "\"isolate_desktops\": %s", why_not_isolated(nic.kind));
	if (bandwidth_kbps < 0 || bandwidth_kbps > BROKER_BANDWIDTH_KBPS_MAX)
		return vdi_error_set(err, -EINVAL, "\"bandwidth_kbps\" must be 0 (no limit) to %lld kilobits/s",
				     BROKER_BANDWIDTH_KBPS_MAX);
	if (bandwidth_kbps > 0 && (nic.kind == POOL_NIC_TEMPLATE || nic.kind == POOL_NIC_USER))
		return vdi_error_set(err, -EINVAL, "\"bandwidth_kbps\" needs a network that is not %s",
				     nic.kind == POOL_NIC_USER ? "user mode" : "the template's own NICs");
	return 0;
}

int broker_pool_nic_from_row(json_t *row, struct pool_nic *ret, struct vdi_error *err)
{
	const char *network = json_string_value(json_object_get(row, "network"));
	enum broker_isolate setting = broker_isolate_from_json(json_object_get(row, "isolate_desktops"));
	int64_t kbps = json_integer_value(json_object_get(row, "bandwidth_kbps"));
	int r;

	*ret = (struct pool_nic){ .kind = POOL_NIC_TEMPLATE };
	r = broker_pool_net_check(network, setting, kbps, err);
	if (r < 0)
		return r;
	if (network && *network && (r = pool_nic_parse(network, ret, err)) < 0)
		return r;
	ret->isolated = broker_isolate_effective(setting, json_is_true(json_object_get(row, "persistent")) ||
								   json_integer_value(json_object_get(row, "persistent")) != 0,
						 ret->kind);
	ret->bandwidth_kbps = (uint32_t)kbps;
	return pool_nic_check(ret, err);
}
