/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "private.h"

/*
 * What a host holds: its desktops with their state and vdi's metadata, and
 * vdi's volumes in its storage pool.  Together they are reconcile's input.
 */

const char *pool_desktop_state_name(enum pool_desktop_state s)
{
	switch (s) {
	case POOL_DESKTOP_STOPPED:
		return "stopped";
	case POOL_DESKTOP_RUNNING:
		return "running";
	case POOL_DESKTOP_PAUSED:
		return "paused";
	default:
		return "other";
	}
}

const char *pool_pause_reason_name(enum pool_pause_reason r)
{
	switch (r) {
	case POOL_PAUSE_NONE:
		return "not paused";
	case POOL_PAUSE_NOSPACE:
		return "no space left for its disk";
	case POOL_PAUSE_IOERROR:
		return "an I/O error on its disk";
	case POOL_PAUSE_USER:
		return "paused through libvirt";
	case POOL_PAUSE_LIBVIRT:
		return "an operation of libvirt";
	case POOL_PAUSE_ASLEEP:
		return "the guest is asleep (suspended to RAM)";
	default:
		return "watchdog, guest panic or a failed operation";
	}
}

/* Whether any disk of dom reports "no space" (virDomainGetDiskErrors). */
static bool disk_out_of_space(virDomainPtr dom)
{
	virDomainDiskError errors[16];
	bool full = false;
	int n = virDomainGetDiskErrors(dom, errors, ELEMENTSOF(errors), 0);

	for (int i = 0; i < n; i++) {
		full = full || errors[i].error == VIR_DOMAIN_DISK_ERROR_NO_SPACE;
		free(errors[i].disk);
	}
	return full;
}

enum pool_pause_reason pool_pause_reason_of(virDomainPtr dom, int state, int reason)
{
	if (state == VIR_DOMAIN_PMSUSPENDED)
		return POOL_PAUSE_ASLEEP;
	if (state != VIR_DOMAIN_PAUSED)
		return POOL_PAUSE_NONE;
	switch (reason) {
	case VIR_DOMAIN_PAUSED_IOERROR:
		return disk_out_of_space(dom) ? POOL_PAUSE_NOSPACE : POOL_PAUSE_IOERROR;
	case VIR_DOMAIN_PAUSED_USER:
		return POOL_PAUSE_USER;
	case VIR_DOMAIN_PAUSED_MIGRATION:
	case VIR_DOMAIN_PAUSED_SAVE:
	case VIR_DOMAIN_PAUSED_DUMP:
	case VIR_DOMAIN_PAUSED_FROM_SNAPSHOT:
	case VIR_DOMAIN_PAUSED_SHUTTING_DOWN:
	case VIR_DOMAIN_PAUSED_SNAPSHOT:
	case VIR_DOMAIN_PAUSED_STARTING_UP:
	case VIR_DOMAIN_PAUSED_POSTCOPY:
		return POOL_PAUSE_LIBVIRT;
	default:
		return POOL_PAUSE_OTHER;
	}
}

static enum pool_desktop_state map_state(int state)
{
	switch (state) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
		return POOL_DESKTOP_RUNNING;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		return POOL_DESKTOP_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
	case VIR_DOMAIN_CRASHED:
		return POOL_DESKTOP_STOPPED;
	default:
		return POOL_DESKTOP_OTHER;
	}
}

void pool_desktop_info_finish(struct pool_desktop_info *info)
{
	if (!info)
		return;
	free(info->domain);
	free(info->uuid);
	free(info->pool);
	free(info->template_name);
	free(info->overlay_path);
	memset(info, 0, sizeof(*info));
}

/* Fills info from dom; -ENOENT when the domain carries no vdi metadata. */
static int read_info(virDomainPtr dom, struct pool_desktop_info *info, struct vdi_error *err)
{
	_cleanup_free_ char *xml = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN];
	int state, reason, r;

	memset(info, 0, sizeof(*info));
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml)
		return pool_libvirt_error(err, "cannot read desktop %s", virDomainGetName(dom));
	r = pool_domxml_read_desktop(xml, info);
	if (r < 0) {
		pool_desktop_info_finish(info);
		return r == -ENOENT ? r
				    : vdi_error_set(err, r, "domain %s has malformed vdi metadata", virDomainGetName(dom));
	}
	if (virDomainGetState(dom, &state, &reason, 0) < 0) {
		pool_desktop_info_finish(info);
		return pool_libvirt_error(err, "cannot query desktop %s", virDomainGetName(dom));
	}
	info->state = map_state(state);
	info->pause_reason = pool_pause_reason_of(dom, state, reason);
	info->domain = strdup(virDomainGetName(dom));
	if (virDomainGetUUIDString(dom, uuid) == 0)
		info->uuid = strdup(uuid);
	if (!info->domain || !info->uuid) {
		pool_desktop_info_finish(info);
		return -ENOMEM;
	}
	return 0;
}

int pool_desktop_get_info(struct pool_host *host, const char *domain, struct pool_desktop_info *ret,
			  struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	r = read_info(dom, ret, err);
	if (r == -ENOENT)
		return vdi_error_set(err, r, "domain %s carries no vdi metadata", domain);
	return r;
}

void pool_desktop_list_free(struct pool_desktop_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		pool_desktop_info_finish(&list[i]);
	free(list);
}

int pool_desktop_list(struct pool_host *host, struct pool_desktop_info **ret, size_t *ret_n,
		      struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	struct pool_desktop_info *list = NULL;
	virDomainPtr *doms = NULL;
	size_t n = 0;
	int count, r = 0;

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	count = virConnectListAllDomains(conn, &doms, 0);
	if (count < 0)
		return pool_libvirt_error(err, "cannot list domains");

	list = vdi_calloc((size_t)count, sizeof(*list));
	if (!list)
		r = -ENOMEM;
	for (int i = 0; i < count; i++) {
		if (r >= 0) {
			int q = read_info(doms[i], &list[n], err);

			if (q >= 0)
				n++;
			else if (q != -ENOENT && virDomainIsActive(doms[i]) >= 0)
				r = q; /* a domain that vanished meanwhile is not an error */
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	if (r < 0) {
		pool_desktop_list_free(list, n);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

char **pool_strv_free(char **strv)
{
	for (char **s = strv; s && *s; s++)
		free(*s);
	free(strv);
	return NULL;
}

int pool_overlay_list(struct pool_host *host, char ***ret, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	virStorageVolPtr *vols = NULL;
	char **names = NULL;
	size_t n = 0;
	int count, r = 0;

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	r = pool_storage_pool(host, conn, &sp, err);
	if (r < 0)
		return r;
	/* See files libvirt did not create, e.g. left by a crash. */
	if (virStoragePoolRefresh(sp, 0) < 0)
		return pool_libvirt_error(err, "cannot refresh storage pool '%s'", host->opts.storage_pool);
	count = virStoragePoolListAllVolumes(sp, &vols, 0);
	if (count < 0)
		return pool_libvirt_error(err, "cannot list storage pool '%s'", host->opts.storage_pool);

	names = vdi_calloc((size_t)count + 1, sizeof(*names));
	if (!names)
		r = -ENOMEM;
	for (int i = 0; i < count; i++) {
		const char *name = virStorageVolGetName(vols[i]);

		if (r >= 0 && (pool_overlay_name_is_ours(name) || pool_data_disk_name_is_ours(name))) {
			names[n] = strdup(name);
			if (!names[n])
				r = -ENOMEM;
			else
				n++;
		}
		virStorageVolFree(vols[i]);
	}
	free(vols);
	if (r < 0) {
		pool_strv_free(names);
		return r;
	}
	*ret = names;
	return 0;
}
