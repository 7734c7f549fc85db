/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-hosts.h"

#include <stdint.h>

#include "alloc.h"
#include "cleanup.h"
#include "json.h"
#include "store-private.h"
#include "store.h"
#include "vmpool.h"

int broker_store_host_add(struct broker_store *s, const char *uri)
{
	return broker_store_exec(s, "INSERT OR IGNORE INTO hosts (uri) VALUES (?1)", "s", uri);
}

int broker_store_host_set_up(struct broker_store *s, const char *uri, bool up)
{
	return broker_store_exec(s, "UPDATE hosts SET up = ?2 WHERE uri = ?1", "si", uri, (int64_t)up);
}

int broker_store_host_set_draining(struct broker_store *s, const char *uri, bool draining)
{
	return broker_store_exec(s, "UPDATE hosts SET draining = ?2 WHERE uri = ?1", "si", uri, (int64_t)draining);
}

int broker_store_host_set_networks(struct broker_store *s, const char *uri, const char *networks)
{
	return broker_store_exec(s, "UPDATE hosts SET networks = ?2 WHERE uri = ?1", "ss", uri, networks);
}

int broker_store_host_set_hardware(struct broker_store *s, const char *uri, const char *hardware)
{
	return broker_store_exec(s, "UPDATE hosts SET hardware = ?2 WHERE uri = ?1", "ss", uri, hardware);
}

/* Row (borrowed; NULL: none) {firmware, secure_boot, tpm} into *ret: 1, or 0 for none. */
static int needs_of(json_t *row, struct pool_hw_features *ret)
{
	*ret = (struct pool_hw_features){ 0 };
	if (!row)
		return 0;
	ret->uefi = streq_ptr(json_string_value(json_object_get(row, "firmware")), "uefi");
	ret->secure_boot = json_integer_value(json_object_get(row, "secure_boot")) != 0;
	ret->tpm = json_integer_value(json_object_get(row, "tpm")) != 0;
	return 1;
}

int broker_store_template_needs(struct broker_store *s, const char *template, struct pool_hw_features *ret)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows, "SELECT firmware, secure_boot, tpm FROM templates WHERE name = ?1", "s",
				   template);

	*ret = (struct pool_hw_features){ 0 };
	return r < 0 ? r : needs_of(json_array_get(rows, 0), ret);
}

int broker_store_pool_needs(struct broker_store *s, const char *pool, struct pool_hw_features *ret)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows,
				   "SELECT t.firmware, t.secure_boot, t.tpm FROM pools p JOIN templates t"
				   " ON t.id = p.template_id WHERE p.name = ?1",
				   "s", pool);

	*ret = (struct pool_hw_features){ 0 };
	return r < 0 ? r : needs_of(json_array_get(rows, 0), ret);
}

int broker_store_host_is_draining(struct broker_store *s, const char *uri)
{
	_cleanup_json_ json_t *rows = NULL;
	int r = broker_store_query(s, &rows, "SELECT draining FROM hosts WHERE uri = ?1", "s", uri);

	if (r < 0)
		return r;
	return json_integer_value(json_object_get(json_array_get(rows, 0), "draining")) != 0;
}

int broker_store_templates_disks(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret, "SELECT name, disk_path FROM templates", NULL);
}

int broker_store_pool_network_names(struct broker_store *s, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT DISTINCT substr(n, 9) AS name FROM"
				  " (SELECT coalesce(p.network, t.network) AS n"
				  "  FROM pools p JOIN templates t ON t.id = p.template_id)"
				  " WHERE substr(n, 1, 8) = 'network:' ORDER BY name",
				  NULL);
}

int broker_store_network_users(struct broker_store *s, const char *name, json_t **ret)
{
	return broker_store_query(s, ret,
				  "SELECT 'pool' AS kind, p.name FROM pools p JOIN templates t ON t.id = p.template_id"
				  " WHERE coalesce(p.network, t.network) = 'network:' || ?1"
				  " UNION ALL SELECT 'template' AS kind, name FROM templates WHERE network = 'network:' || ?1"
				  " ORDER BY kind, name",
				  "s", name);
}
