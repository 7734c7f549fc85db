/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>

#include <jansson.h>

#include "alloc.h"
#include "json.h"
#include "log.h"
#include "store-catalog.h"
#include "template-hardware.h"
#include "vmpool.h"

/* Records row's (borrowed) template's needs when they are not what the store has: 1 changed, 0 not, -errno. */
static int check_one(struct broker_store *store, json_t *row)
{
	const char *name = json_string_value(json_object_get(row, "name"));
	const char *firmware = json_string_value(json_object_get(row, "firmware"));
	struct pool_hw_features needs;
	int r;

	if (pool_domxml_needs(json_string_value(json_object_get(row, "xml")), &needs) < 0) {
		vdi_warn("template %s: its XML cannot be read for its hardware; placement takes it as it is recorded", name);
		return 0;
	}
	if (streq_ptr(firmware, needs.uefi ? "uefi" : "bios") &&
	    !json_integer_value(json_object_get(row, "secure_boot")) == !needs.secure_boot &&
	    !json_integer_value(json_object_get(row, "tpm")) == !needs.tpm)
		return 0;
	r = broker_store_set_template_hardware(store, name, NULL, needs.uefi ? "uefi" : "bios", needs.secure_boot,
					       needs.tpm);
	if (r < 0)
		return r;
	vdi_info("template %s: its XML asks for %s%s%s of a host; recorded", name, needs.uefi ? "UEFI" : "BIOS",
		 needs.secure_boot ? ", Secure Boot" : "", needs.tpm ? ", a TPM" : "");
	return 1;
}

int broker_templates_hardware_check(struct broker_store *store)
{
	_cleanup_json_ json_t *rows = NULL;
	size_t i;
	json_t *row;
	int r, n = 0;

	r = broker_store_templates_own_xml(store, &rows);
	if (r < 0)
		return r;
	json_array_foreach(rows, i, row) {
		r = check_one(store, row);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}
