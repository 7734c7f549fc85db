/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A template's hardware: firmware, TPM, buses and models.  (A stub until issue 17's hardware work lands.) */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "private.h"

const char *pool_firmware_name(enum pool_firmware f)
{
	return f == POOL_FIRMWARE_BIOS ? "bios" : f == POOL_FIRMWARE_UEFI ? "uefi" : "auto";
}

int pool_firmware_parse(const char *s, enum pool_firmware *ret)
{
	if (s && streq(s, "bios"))
		*ret = POOL_FIRMWARE_BIOS;
	else if (s && streq(s, "uefi"))
		*ret = POOL_FIRMWARE_UEFI;
	else
		return -EINVAL;
	return 0;
}

int pool_hardware_resolve(const struct pool_hardware *in, struct pool_hardware *out, struct vdi_error *err)
{
	(void)in;
	(void)out;
	return vdi_error_set(err, -ENOSYS, "template hardware is not built yet");
}

int pool_domxml_for_hardware(const struct pool_hardware *hw, char **ret, struct vdi_error *err)
{
	(void)hw;
	(void)ret;
	return vdi_error_set(err, -ENOSYS, "template hardware is not built yet");
}

int pool_domxml_needs(const char *xml, struct pool_hw_features *ret)
{
	(void)xml;
	*ret = (struct pool_hw_features){ 0 };
	return -ENOSYS;
}
