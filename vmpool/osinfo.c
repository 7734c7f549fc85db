/* SPDX-License-Identifier: GPL-2.0-or-later */
/* OS profiles from osinfo-db through libosinfo.  (A stub until issue 17's osinfo work lands.) */
#include <errno.h>
#include <stdlib.h>

#include "vmpool.h"

int pool_os_profile_get(const char *id, struct pool_os_profile *ret, struct vdi_error *err)
{
	(void)id;
	(void)ret;
	return vdi_error_set(err, -ENOSYS, "OS profiles are not built yet");
}

int pool_os_list(const char *filter, struct pool_os_entry **ret, size_t *ret_n, struct vdi_error *err)
{
	(void)filter;
	(void)ret;
	(void)ret_n;
	return vdi_error_set(err, -ENOSYS, "OS profiles are not built yet");
}

void pool_os_list_free(struct pool_os_entry *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].id);
		free(list[i].name);
		free(list[i].version);
		free(list[i].family);
	}
	free(list);
}
