/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "alloc.h"
#include "log.h"
#include "private.h"

/*
 * A desktop's user data disk: the QCOW2 volume "<domain>.data.qcow2" in the
 * host's storage pool, a second virtio disk of the domain.  Made with the
 * desktop (desktop.c calls pool_data_volume_create()) or later by
 * pool_desktop_data_disk(), deleted with it (pool_data_disk_delete()).
 */

int pool_data_volume_create(struct pool_host *host, virConnectPtr conn, const char *volname, uint64_t bytes,
			    virStorageVolPtr *ret, struct vdi_error *err)
{
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_free_ char *xml = NULL;
	int r;

	r = pool_storage_pool(host, conn, &sp, err);
	if (r < 0)
		return r;
	if (asprintf(&xml,
		     "<volume><name>%s</name>"
		     "<capacity unit='bytes'>%" PRIu64 "</capacity>"
		     "<target><format type='qcow2'/><compat>1.1</compat>"
		     "<permissions><mode>0600</mode></permissions></target>"
		     "</volume>",
		     volname, bytes) < 0) {
		xml = NULL;
		return -ENOMEM;
	}
	*ret = virStorageVolCreateXML(sp, xml, 0);
	if (!*ret)
		return pool_libvirt_error(err, "cannot create data disk %s", volname);
	return 0;
}

int pool_data_disk_delete(struct pool_host *host, virConnectPtr conn, const char *domain, struct vdi_error *err)
{
	char volname[256];

	pool_data_disk_name(domain, volname, sizeof(volname));
	return pool_volume_delete(host, conn, volname, "data disk", err);
}

/* Whether the definition of dom (inactive) names path as a disk; *ret_xml its XML (secure: it keeps the
 * SPICE ticket a redefinition must keep), a new string. */
static int names_disk(virDomainPtr dom, const char *domain, const char *path, char **ret_xml, struct vdi_error *err)
{
	char **paths = NULL;
	bool found = false;
	int r;

	*ret_xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!*ret_xml)
		return pool_libvirt_error(err, "cannot read desktop %s", domain);
	r = pool_domxml_disk_paths(*ret_xml, &paths);
	if (r < 0)
		return vdi_error_set(err, r, "cannot read the disks of desktop %s", domain);
	for (char **q = paths; *q && !found; q++)
		found = streq(*q, path);
	pool_strv_free(paths);
	return found;
}

/* Attaches the data disk on path to the (stopped) domain's definition unless it names it: 1 attached, 0 there. */
static int attach_data_disk(virConnectPtr conn, virDomainPtr dom, const char *domain, const char *path,
			    struct vdi_error *err)
{
	_cleanup_free_ char *xml = NULL, *nxml = NULL;
	_cleanup_domain_ virDomainPtr redefined = NULL;
	int r = names_disk(dom, domain, path, &xml, err);

	if (r != 0) {
		r = r > 0 ? 0 : r; /* named already */
		goto out;
	}
	if (virDomainIsActive(dom) != 0) {
		r = vdi_error_set(err, -EBUSY, "desktop %s must be stopped to get a data disk", domain);
		goto out;
	}
	r = pool_domxml_add_data_disk(xml, path, &nxml, err);
	if (r < 0)
		goto out;
	redefined = virDomainDefineXML(conn, nxml);
	r = redefined ? 1 : pool_libvirt_error(err, "cannot attach data disk %s to desktop %s", path, domain);
out:
	if (xml)
		explicit_bzero(xml, strlen(xml));
	if (nxml)
		explicit_bzero(nxml, strlen(nxml));
	return r;
}

/* Grows vol to bytes when it is smaller (the desktop stopped): 1 grown, 0 big enough. */
static int grow_data_volume(virStorageVolPtr vol, virDomainPtr dom, const char *domain, uint64_t bytes,
			    struct vdi_error *err)
{
	virStorageVolInfo info;

	if (virStorageVolGetInfo(vol, &info) < 0)
		return pool_libvirt_error(err, "cannot read the data disk of desktop %s", domain);
	if (info.capacity >= bytes)
		return 0;
	if (virDomainIsActive(dom) != 0)
		return vdi_error_set(err, -EBUSY, "desktop %s must be stopped to grow its data disk", domain);
	if (virStorageVolResize(vol, bytes, 0) < 0)
		return pool_libvirt_error(err, "cannot grow the data disk of desktop %s", domain);
	return 1;
}

int pool_desktop_data_disk(struct pool_host *host, const char *domain, uint64_t bytes, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_vol_ virStorageVolPtr vol = NULL;
	_cleanup_free_ char *path = NULL;
	char volname[256];
	bool made = false;
	int r, attached;

	if (bytes == 0)
		return vdi_error_set(err, -EINVAL, "a data disk needs a size");
	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	r = pool_storage_pool(host, conn, &sp, err);
	if (r < 0)
		return r;
	pool_data_disk_name(domain, volname, sizeof(volname));
	vol = virStorageVolLookupByName(sp, volname);
	if (!vol && (!virGetLastError() || virGetLastError()->code != VIR_ERR_NO_STORAGE_VOL))
		return pool_libvirt_error(err, "data disk %s", volname);
	if (!vol && virDomainIsActive(dom) != 0)
		return vdi_error_set(err, -EBUSY, "desktop %s must be stopped to get a data disk", domain);
	if (vol) {
		r = grow_data_volume(vol, dom, domain, bytes, err);
	} else {
		r = pool_data_volume_create(host, conn, volname, bytes, &vol, err);
		made = r >= 0; /* created here: a failure below takes it back */
	}
	if (r < 0)
		return r;
	path = virStorageVolGetPath(vol);
	attached = path ? attach_data_disk(conn, dom, domain, path, err)
			: pool_libvirt_error(err, "cannot find the path of data disk %s", volname);
	if (attached < 0 && made && virStorageVolDelete(vol, 0) < 0)
		vdi_debug("cannot remove data disk %s after a failed attach: %s", volname, virGetLastErrorMessage());
	if (attached < 0)
		return attached;
	return r > 0 || made || attached > 0 ? 1 : 0;
}
