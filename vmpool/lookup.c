/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include <libvirt/virterror.h>

#include "private.h"

/*
 * vdi's libvirt objects on a host, found by name: a desktop's domain, the
 * storage pool, and a volume of it to delete.  Shared by desktop.c,
 * data-disk.c, listing.c, desktop-net.c and base.c; calls host.c, naming.c,
 * error.c.
 */

int pool_desktop_open(struct pool_host *host, const char *domain, virConnectPtr *ret_conn, virDomainPtr *ret_dom,
		      struct vdi_error *err)
{
	int r = pool_host_conn(host, ret_conn, err);

	if (r < 0)
		return r;
	if (!pool_domain_name_is_ours(domain))
		return vdi_error_set(err, -EINVAL, "'%s' is not the name of a vdi desktop", domain ? domain : "(null)");
	*ret_dom = virDomainLookupByName(*ret_conn, domain);
	if (!*ret_dom)
		return pool_libvirt_error(err, "desktop %s", domain);
	return 0;
}

int pool_storage_pool(struct pool_host *host, virConnectPtr conn, virStoragePoolPtr *ret, struct vdi_error *err)
{
	*ret = virStoragePoolLookupByName(conn, host->opts.storage_pool);
	if (!*ret)
		return pool_libvirt_error(err, "storage pool '%s'", host->opts.storage_pool);
	return 0;
}

int pool_volume_delete(struct pool_host *host, virConnectPtr conn, const char *volname, const char *what,
		       struct vdi_error *err)
{
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_vol_ virStorageVolPtr vol = NULL;
	int r;

	r = pool_storage_pool(host, conn, &sp, err);
	if (r < 0)
		return r;
	vol = virStorageVolLookupByName(sp, volname);
	if (!vol) {
		const virError *e = virGetLastError();

		if (e && e->code == VIR_ERR_NO_STORAGE_VOL)
			return 0;
		return pool_libvirt_error(err, "%s %s", what, volname);
	}
	if (virStorageVolDelete(vol, 0) < 0)
		return pool_libvirt_error(err, "cannot delete %s %s", what, volname);
	return 0;
}
