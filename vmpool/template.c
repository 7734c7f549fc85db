/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "private.h"

#define QCOW2_MAGIC 0x514649fbU /* "QFI\xfb" */

/* The fields of the QCOW2 header (big-endian on disk) that tell whether a file is a sane image. */
struct qcow2_header {
	uint32_t magic;
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
} __attribute__((packed));

/* Checks the QCOW2 header h of the regular file st (what: "template disk", "disk") for sanity. */
static int qcow2_header_check(const struct qcow2_header *h, const struct stat *st, const char *what,
			      const char *path, uint64_t *ret_virtual_size, struct vdi_error *err)
{
	uint64_t cluster;

	if (be32toh(h->version) != 2 && be32toh(h->version) != 3)
		return vdi_error_set(err, -EINVAL, "%s %s has unsupported QCOW2 version %u", what, path,
				      be32toh(h->version));
	if (be32toh(h->cluster_bits) < 9 || be32toh(h->cluster_bits) > 21)
		return vdi_error_set(err, -EINVAL, "%s %s is corrupt: cluster_bits %u", what, path,
				      be32toh(h->cluster_bits));
	cluster = UINT64_C(1) << be32toh(h->cluster_bits);
	if (be64toh(h->size) == 0)
		return vdi_error_set(err, -EINVAL, "%s %s is corrupt: virtual size 0", what, path);
	if (be32toh(h->crypt_method) != 0)
		return vdi_error_set(err, -EINVAL, "%s %s is encrypted; templates must not be", what, path);
	if (be64toh(h->l1_table_offset) % cluster || be64toh(h->refcount_table_offset) % cluster ||
	    be64toh(h->refcount_table_offset) == 0 || be64toh(h->l1_table_offset) >= (uint64_t)st->st_size ||
	    be64toh(h->refcount_table_offset) >= (uint64_t)st->st_size)
		return vdi_error_set(err, -EINVAL, "%s %s is corrupt: its tables lie outside the file", what, path);
	if (be64toh(h->backing_file_offset) &&
	    be64toh(h->backing_file_offset) + be32toh(h->backing_file_size) > (uint64_t)st->st_size)
		return vdi_error_set(err, -EINVAL, "%s %s is corrupt: backing file name outside the file", what, path);

	*ret_virtual_size = be64toh(h->size);
	return 0;
}

/*
 * Opens path as a regular file and reads the first bytes of its header into h; *ret_n how many there
 * were.  Fails with errno (and a message naming what and path).
 */
static int read_header(const char *path, const char *what, struct qcow2_header *h, ssize_t *ret_n,
		       struct stat *ret_st, struct vdi_error *err)
{
	_cleanup_close_ int fd = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return vdi_error_set(err, -errno, "cannot open %s %s: %s", what, path, strerror(errno));
	if (fstat(fd, ret_st) < 0)
		return vdi_error_set(err, -errno, "cannot stat %s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(ret_st->st_mode))
		return vdi_error_set(err, -EINVAL, "%s %s is not a regular file", what, path);
	*ret_n = pread(fd, h, sizeof(*h), 0);
	if (*ret_n < 0)
		return vdi_error_set(err, -errno, "cannot read %s %s: %s", what, path, strerror(errno));
	return 0;
}

int pool_qcow2_probe(const char *path, uint64_t *ret_virtual_size, struct vdi_error *err)
{
	struct qcow2_header h;
	struct stat st;
	ssize_t n;
	int r;

	r = read_header(path, "template disk", &h, &n, &st, err);
	if (r < 0)
		return r;
	if ((size_t)n < sizeof(h) || be32toh(h.magic) != QCOW2_MAGIC)
		return vdi_error_set(err, -EINVAL, "template disk %s is not a QCOW2 image", path);
	return qcow2_header_check(&h, &st, "template disk", path, ret_virtual_size, err);
}

int pool_image_probe(const char *path, const char **ret_format, uint64_t *ret_virtual_size, struct vdi_error *err)
{
	struct qcow2_header h;
	struct stat st;
	ssize_t n;
	int r;

	if (!path || path[0] != '/')
		return vdi_error_set(err, -EINVAL, "disk path must be absolute: %s", path ? path : "(null)");
	r = read_header(path, "disk", &h, &n, &st, err);
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	if (n >= 4 && be32toh(h.magic) == QCOW2_MAGIC) {
		if ((size_t)n < sizeof(h))
			return vdi_error_set(err, -EINVAL, "disk %s is corrupt: its QCOW2 header is cut short", path);
		r = qcow2_header_check(&h, &st, "disk", path, ret_virtual_size, err);
		if (r < 0)
			return r;
		*ret_format = "qcow2";
		return 0;
	}
	if (st.st_size == 0 || st.st_size % 512)
		return vdi_error_set(err, -EINVAL,
				      "disk %s is neither QCOW2 nor a raw image (its size, %lld bytes, is not a "
				      "non-zero multiple of 512)", path, (long long)st.st_size);
	*ret_format = "raw";
	*ret_virtual_size = (uint64_t)st.st_size;
	return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct pool_template *, pool_template_free)

int pool_template_new(const struct pool_template_options *opts, struct pool_template **ret,
		      struct vdi_error *err)
{
	_cleanup_(pool_template_freep) struct pool_template *t = NULL;
	int r;

	if (!opts || !pool_template_name_is_valid(opts->name))
		return vdi_error_set(err, -EINVAL, "template name must be 1-64 characters of [A-Za-z0-9_.-]");
	if (!opts->disk_path || opts->disk_path[0] != '/')
		return vdi_error_set(err, -EINVAL, "template disk path must be absolute");
	if (opts->memory_mib > 1024 * 1024)
		return vdi_error_set(err, -EINVAL, "template memory %u MiB is out of range", opts->memory_mib);
	if (opts->vcpus > 512)
		return vdi_error_set(err, -EINVAL, "template vcpus %u is out of range", opts->vcpus);

	t = vdi_new0(struct pool_template);
	if (!t)
		return -ENOMEM;
	t->name = strdup(opts->name);
	t->disk_path = strdup(opts->disk_path);
	if (!t->name || !t->disk_path)
		return -ENOMEM;

	r = pool_qcow2_probe(t->disk_path, &t->capacity, err);
	if (r < 0)
		return r;

	if (opts->xml)
		r = pool_domxml_check_template(opts->xml, opts->memory_mib, opts->vcpus, &t->xml, err);
	else
		r = pool_domxml_default(opts->memory_mib, opts->vcpus, &t->xml, err);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(t);
	return 0;
}

struct pool_template *pool_template_free(struct pool_template *t)
{
	if (!t)
		return NULL;
	free(t->name);
	free(t->disk_path);
	free(t->xml);
	free(t);
	return NULL;
}
