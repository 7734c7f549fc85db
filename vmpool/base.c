/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>
#include <libxml/entities.h>

#include "alloc.h"
#include "log.h"
#include "private.h"
#include "random.h"

/*
 * Templates' base volumes (vmpool.h, "base volumes"): made with libvirt's
 * storage API from a source image, listed, deleted when no domain uses
 * them.  A source that lies in none of the host's active storage pools is
 * reached through a transient dir pool on its directory, made for the copy
 * and destroyed after it.
 */

#define PUBLISH_POOL_PREFIX "vdi-publish-"
/* How far a volume's backing chain is followed (QEMU's own limit is 16 deep too). */
#define CHAIN_DEPTH_MAX 16

static bool last_error_is(int code)
{
	const virError *e = virGetLastError();

	return e && e->code == code;
}

/* A storage pool's directory (its XML's <target><path>): a new string. */
static int pool_dir(virStoragePoolPtr sp, char **ret, struct vdi_error *err)
{
	_cleanup_free_ char *xml = virStoragePoolGetXMLDesc(sp, 0);
	int r;

	if (!xml)
		return pool_libvirt_error(err, "cannot read the definition of storage pool '%s'", virStoragePoolGetName(sp));
	r = pool_poolxml_target_path(xml, ret);
	if (r < 0 && r != -ENOMEM)
		return vdi_error_set(err, -EIO, "storage pool '%s' has no target directory", virStoragePoolGetName(sp));
	return r;
}

/* Whether dir (a pool's directory, maybe with a trailing '/') is the directory of path. */
static bool dir_holds(const char *dir, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (!slash)
		return false;
	if (slash == path)
		return n == 1 && dir[0] == '/';
	return (size_t)(slash - path) == n && strncmp(dir, path, n) == 0;
}

/* ---- who uses a path ------------------------------------------------------------ */

/* Whether path is in the backing chain of the volume at start, as the volumes' XML tells. */
static int volume_chain_has(virConnectPtr conn, const char *start, const char *path, struct vdi_error *err)
{
	_cleanup_free_ char *cur = strdup(start);

	if (!cur)
		return -ENOMEM;
	for (int depth = 0; depth < CHAIN_DEPTH_MAX; depth++) {
		_cleanup_vol_ virStorageVolPtr vol = virStorageVolLookupByPath(conn, cur);
		_cleanup_free_ char *xml = NULL, *next = NULL;
		int r;

		if (!vol) {
			if (last_error_is(VIR_ERR_NO_STORAGE_VOL)) {
				virResetLastError();
				return 0; /* not a volume: its chain is what the domain XML says */
			}
			return pool_libvirt_error(err, "cannot look up volume %s", cur);
		}
		xml = virStorageVolGetXMLDesc(vol, 0);
		if (!xml)
			return pool_libvirt_error(err, "cannot read volume %s", cur);
		r = pool_volxml_backing_path(xml, &next);
		if (r == -ENOENT || r == -EINVAL)
			return 0;
		if (r < 0)
			return r;
		if (streq(next, path))
			return 1;
		free(cur);
		cur = TAKE_PTR(next);
	}
	return 0;
}

/* Whether the domain XML libvirt gives for flags names path, directly or through volumes' chains.
 * -ENOENT: the domain went away meanwhile. */
static int domain_xml_uses(virConnectPtr conn, virDomainPtr dom, unsigned flags, const char *path,
			   struct vdi_error *err)
{
	_cleanup_free_ char *xml = virDomainGetXMLDesc(dom, flags);
	char **paths = NULL;
	int r;

	if (!xml) {
		if (last_error_is(VIR_ERR_NO_DOMAIN))
			return -ENOENT;
		return pool_libvirt_error(err, "cannot read the definition of domain %s", virDomainGetName(dom));
	}
	r = pool_domxml_disk_paths(xml, &paths);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	for (char **p = paths; r == 0 && *p; p++)
		r = streq(*p, path);
	for (char **p = paths; r == 0 && *p; p++)
		r = volume_chain_has(conn, *p, path, err);
	pool_strv_free(paths);
	return r;
}

/* Whether dom uses path in its inactive definition or, while it runs, in its live one. */
static int domain_uses(virConnectPtr conn, virDomainPtr dom, const char *path, struct vdi_error *err)
{
	int r = domain_xml_uses(conn, dom, VIR_DOMAIN_XML_INACTIVE, path, err);

	if (r == 0 && virDomainIsActive(dom) == 1)
		r = domain_xml_uses(conn, dom, 0, path, err);
	return r;
}

int pool_host_path_user(struct pool_host *host, const char *path, char *ret_domain, size_t len,
			struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	virDomainPtr *doms = NULL;
	int count, r;

	if (!path || path[0] != '/')
		return vdi_error_set(err, -EINVAL, "path must be absolute: %s", path ? path : "(null)");
	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	count = virConnectListAllDomains(conn, &doms, 0);
	if (count < 0)
		return pool_libvirt_error(err, "cannot list the domains of %s", host->opts.uri);

	r = 0;
	for (int i = 0; i < count; i++) {
		if (r == 0) {
			r = domain_uses(conn, doms[i], path, err);
			if (r == -ENOENT)
				r = 0; /* undefined meanwhile: it uses nothing */
			if (r > 0 && ret_domain)
				snprintf(ret_domain, len, "%s", virDomainGetName(doms[i]));
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	return r;
}

/* ---- making a base ---------------------------------------------------------------- */

/* The source image as a libvirt volume; what must be undone once the copy is over. */
struct source {
	virStorageVolPtr vol;
	virStoragePoolPtr transient; /* made for this copy: destroyed afterwards */
};

static void source_release(struct source *s)
{
	if (s->vol)
		virStorageVolFree(s->vol);
	if (s->transient) {
		if (virStoragePoolDestroy(s->transient) < 0)
			vdi_debug("cannot destroy transient storage pool %s: %s", virStoragePoolGetName(s->transient),
				  virGetLastErrorMessage());
		virStoragePoolFree(s->transient);
	}
	*s = (struct source){ 0 };
}

/* Makes a transient dir pool on dir (started, hence refreshed). */
static int transient_pool(virConnectPtr conn, const char *dir, virStoragePoolPtr *ret, struct vdi_error *err)
{
	_cleanup_free_ char *xml = NULL;
	char id[13];
	xmlChar *esc;
	int r, n;

	r = vdi_random_id(id, sizeof(id) - 1);
	if (r < 0)
		return vdi_error_set(err, r, "no randomness for a storage pool name");
	esc = xmlEncodeSpecialChars(NULL, (const xmlChar *)dir);
	if (!esc)
		return -ENOMEM;
	n = asprintf(&xml,
		     "<pool type='dir'><name>" PUBLISH_POOL_PREFIX "%s</name><target><path>%s</path></target></pool>",
		     id, (const char *)esc);
	xmlFree(esc);
	if (n < 0) {
		xml = NULL;
		return -ENOMEM;
	}
	*ret = virStoragePoolCreateXML(conn, xml, 0);
	if (!*ret)
		return pool_libvirt_error(err, "cannot make a transient storage pool on %s", dir);
	return 0;
}

/* An active pool whose directory holds path, refreshed (a file put there since its last refresh). */
static int refreshed_pool_of(virConnectPtr conn, const char *path, virStoragePoolPtr *ret, struct vdi_error *err)
{
	virStoragePoolPtr *pools = NULL;
	int n = virConnectListAllStoragePools(conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);

	if (n < 0)
		return pool_libvirt_error(err, "cannot list storage pools");
	*ret = NULL;
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *dir = NULL;

		if (!*ret && pool_dir(pools[i], &dir, NULL) >= 0 && dir_holds(dir, path)) {
			*ret = pools[i];
			continue;
		}
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	if (*ret && virStoragePoolRefresh(*ret, 0) < 0)
		return pool_libvirt_error(err, "cannot refresh storage pool '%s'", virStoragePoolGetName(*ret));
	return 0;
}

/*
 * Finds source as a volume: in an active storage pool (one whose directory holds it is refreshed
 * first), or else in a transient pool made on its directory.  Called under host->publish_lock: two
 * pools on one directory conflict, and one copy's transient pool must not be another's source.
 */
static int source_open(virConnectPtr conn, const char *source, struct source *ret, struct vdi_error *err)
{
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_free_ char *dir = NULL;
	const char *file = strrchr(source, '/') + 1;
	int r;

	*ret = (struct source){ 0 };
	ret->vol = virStorageVolLookupByPath(conn, source);
	if (ret->vol)
		return 0;
	if (!last_error_is(VIR_ERR_NO_STORAGE_VOL))
		return pool_libvirt_error(err, "cannot look up %s", source);

	r = refreshed_pool_of(conn, source, &sp, err);
	if (r < 0)
		return r;
	if (!sp) {
		dir = strndup(source, file - 1 == source ? 1 : (size_t)(file - 1 - source));
		if (!dir)
			return -ENOMEM;
		r = transient_pool(conn, dir, &ret->transient, err);
		if (r < 0)
			return r;
	}
	ret->vol = virStorageVolLookupByName(sp ? sp : ret->transient, file);
	if (!ret->vol) {
		r = pool_libvirt_error(err, "libvirt does not see %s as a volume", source);
		source_release(ret);
		return r;
	}
	return 0;
}

/* Copies src into a new flattened QCOW2 volume volname of sp, mode 0444. */
static int copy_volume(virStoragePoolPtr sp, const char *volname, uint64_t capacity, virStorageVolPtr src,
		       const char *source, virStorageVolPtr *ret, struct vdi_error *err)
{
	_cleanup_free_ char *xml = NULL;

	/* No <backingStore>: qemu-img convert reads through the source's chain into one image. */
	if (asprintf(&xml,
		     "<volume><name>%s</name><capacity unit='bytes'>%" PRIu64 "</capacity>"
		     "<target><format type='qcow2'/><compat>1.1</compat>"
		     "<permissions><mode>0444</mode></permissions></target></volume>",
		     volname, capacity) < 0) {
		xml = NULL;
		return -ENOMEM;
	}
	*ret = virStorageVolCreateXMLFrom(sp, xml, src, 0);
	if (!*ret)
		return pool_libvirt_error(err, "cannot copy %s into base volume %s", source, volname);
	return 0;
}

/* After a failed copy: libvirt removes what it made, but a volume of that name that is there now and
 * was not before is ours to remove. */
static void remove_leftover(virStoragePoolPtr sp, const char *volname)
{
	_cleanup_vol_ virStorageVolPtr vol = NULL;

	(void)virStoragePoolRefresh(sp, 0);
	vol = virStorageVolLookupByName(sp, volname);
	if (vol && virStorageVolDelete(vol, 0) < 0)
		vdi_debug("cannot remove %s after a failed copy: %s", volname, virGetLastErrorMessage());
	virResetLastError();
}

/* Fails with -EEXIST when sp has volname (looked for after a refresh: a file put there by hand counts). */
static int check_absent(struct pool_host *host, virStoragePoolPtr sp, const char *volname, struct vdi_error *err)
{
	_cleanup_vol_ virStorageVolPtr vol = NULL;

	if (virStoragePoolRefresh(sp, 0) < 0)
		return pool_libvirt_error(err, "cannot refresh storage pool '%s'", host->opts.storage_pool);
	vol = virStorageVolLookupByName(sp, volname);
	if (vol)
		return vdi_error_set(err, -EEXIST, "base volume %s exists already in storage pool '%s'", volname,
				      host->opts.storage_pool);
	if (!last_error_is(VIR_ERR_NO_STORAGE_VOL))
		return pool_libvirt_error(err, "cannot look up %s", volname);
	virResetLastError();
	return 0;
}

int pool_base_create(struct pool_host *host, const char *template_name, int64_t version, const char *source,
		     char **ret_path, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_vol_ virStorageVolPtr vol = NULL;
	struct source src;
	char volname[160];
	const char *format;
	uint64_t capacity;
	char *path;
	int r;

	r = pool_base_name(template_name, version, volname, sizeof(volname));
	if (r < 0)
		return vdi_error_set(err, r, "no base volume for template '%s' version %" PRId64
				      " (names are [A-Za-z0-9_.-]{1,64}, versions >= 1)",
				      template_name ? template_name : "(null)", version);
	r = pool_image_probe(source, &format, &capacity, err);
	if (r < 0)
		return r;
	if ((r = pool_host_conn(host, &conn, err)) < 0 || (r = pool_storage_pool(host, conn, &sp, err)) < 0 ||
	    (r = check_absent(host, sp, volname, err)) < 0)
		return r;

	/* One copy at a time per host: a copy is bound by the disks anyway. */
	pthread_mutex_lock(&host->publish_lock);
	r = source_open(conn, source, &src, err);
	if (r >= 0) {
		vdi_debug("copying %s (%s, %" PRIu64 " bytes) into %s", source, format, capacity, volname);
		r = copy_volume(sp, volname, capacity, src.vol, source, &vol, err);
		source_release(&src);
	}
	pthread_mutex_unlock(&host->publish_lock);
	if (r < 0) {
		if (r != -EEXIST)
			remove_leftover(sp, volname);
		return r;
	}

	path = virStorageVolGetPath(vol);
	if (!path) {
		r = pool_libvirt_error(err, "cannot find the path of base volume %s", volname);
		(void)virStorageVolDelete(vol, 0);
		return r;
	}
	*ret_path = path;
	return 0;
}

/* ---- listing and deleting ------------------------------------------------------------ */

int pool_base_list(struct pool_host *host, char ***ret, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	virStorageVolPtr *vols = NULL;
	char **paths = NULL;
	size_t n = 0;
	int count, r;

	if ((r = pool_host_conn(host, &conn, err)) < 0 || (r = pool_storage_pool(host, conn, &sp, err)) < 0)
		return r;
	if (virStoragePoolRefresh(sp, 0) < 0)
		return pool_libvirt_error(err, "cannot refresh storage pool '%s'", host->opts.storage_pool);
	count = virStoragePoolListAllVolumes(sp, &vols, 0);
	if (count < 0)
		return pool_libvirt_error(err, "cannot list storage pool '%s'", host->opts.storage_pool);

	paths = vdi_calloc((size_t)count + 1, sizeof(*paths));
	if (!paths)
		r = -ENOMEM;
	for (int i = 0; i < count; i++) {
		char tmpl[80];
		int64_t version;

		if (r >= 0 && pool_base_name_parse(virStorageVolGetName(vols[i]), tmpl, sizeof(tmpl), &version) >= 0) {
			paths[n] = virStorageVolGetPath(vols[i]);
			if (paths[n])
				n++;
			else
				r = pool_libvirt_error(err, "cannot find the path of volume %s", virStorageVolGetName(vols[i]));
		}
		virStorageVolFree(vols[i]);
	}
	free(vols);
	if (r < 0) {
		pool_strv_free(paths);
		return r;
	}
	*ret = paths;
	return 0;
}

/* Fails with -EINVAL unless path is a base volume's path in host's storage pool sp. */
static int check_base_path(struct pool_host *host, virStoragePoolPtr sp, const char *path, struct vdi_error *err)
{
	_cleanup_free_ char *dir = NULL;
	const char *slash = path ? strrchr(path, '/') : NULL;
	char tmpl[80];
	int64_t version;
	int r;

	if (!slash || path[0] != '/' || pool_base_name_parse(slash + 1, tmpl, sizeof(tmpl), &version) < 0)
		return vdi_error_set(err, -EINVAL, "%s is not the path of a base volume", path ? path : "(null)");
	r = pool_dir(sp, &dir, err);
	if (r < 0)
		return r;
	if (!dir_holds(dir, path))
		return vdi_error_set(err, -EINVAL, "base volume %s is not in storage pool '%s' (%s)", path,
				      host->opts.storage_pool, dir);
	return 0;
}

int pool_base_delete(struct pool_host *host, const char *path, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_vol_ virStorageVolPtr vol = NULL;
	char user[256];
	int r;

	if ((r = pool_host_conn(host, &conn, err)) < 0 || (r = pool_storage_pool(host, conn, &sp, err)) < 0 ||
	    (r = check_base_path(host, sp, path, err)) < 0)
		return r;
	r = pool_host_path_user(host, path, user, sizeof(user), err);
	if (r < 0)
		return r;
	if (r > 0)
		return vdi_error_set(err, -EBUSY, "base volume %s is in use by domain %s", path, user);

	if (virStoragePoolRefresh(sp, 0) < 0)
		return pool_libvirt_error(err, "cannot refresh storage pool '%s'", host->opts.storage_pool);
	vol = virStorageVolLookupByName(sp, strrchr(path, '/') + 1);
	if (!vol) {
		if (last_error_is(VIR_ERR_NO_STORAGE_VOL)) {
			virResetLastError();
			return 0; /* gone already */
		}
		return pool_libvirt_error(err, "cannot look up base volume %s", path);
	}
	if (virStorageVolDelete(vol, 0) < 0)
		return pool_libvirt_error(err, "cannot delete base volume %s", path);
	return 0;
}

int pool_base_sources_clean(struct pool_host *host, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	virStoragePoolPtr *pools = NULL;
	int count, r;

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	/* A copy of this process holds the lock: its own pool is not a leftover. */
	pthread_mutex_lock(&host->publish_lock);
	count = virConnectListAllStoragePools(conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT);
	if (count < 0)
		r = pool_libvirt_error(err, "cannot list the storage pools");
	for (int i = 0; i < count; i++) {
		const char *name = virStoragePoolGetName(pools[i]);

		if (r >= 0 && name && startswith(name, PUBLISH_POOL_PREFIX) && virStoragePoolDestroy(pools[i]) < 0)
			r = pool_libvirt_error(err, "cannot remove storage pool %s", name);
		else if (r >= 0 && name && startswith(name, PUBLISH_POOL_PREFIX))
			vdi_info("removed storage pool %s, left by a publish that did not finish", name);
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	pthread_mutex_unlock(&host->publish_lock);
	return r;
}
