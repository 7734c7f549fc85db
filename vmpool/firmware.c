/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A host's firmware and TPM features.  (A stub until issue 17's firmware work lands.) */
#include <errno.h>

#include "private.h"

int pool_host_hardware(struct pool_host *host, struct pool_hw_features *ret, struct vdi_error *err)
{
	(void)host;
	*ret = (struct pool_hw_features){ 0 };
	return vdi_error_set(err, -ENOSYS, "host hardware features are not built yet");
}

int pool_desktop_reset_flags(struct pool_host *host, const struct pool_template *t, const char *domain,
			     unsigned flags, struct vdi_error *err)
{
	(void)flags;
	return pool_desktop_reset(host, t, domain, err);
}
