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

int pool_qcow2_probe(const char *path, uint64_t *ret_virtual_size, struct vdi_error *err)
{
	_cleanup_close_ int fd = -1;
	struct qcow2_header h;
	struct stat st;
	ssize_t n;
	uint64_t cluster;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vdi_error_set(err, -errno, "cannot open template disk %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return vdi_error_set(err, -errno, "cannot stat template disk %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vdi_error_set(err, -EINVAL, "template disk %s is not a regular file", path);

	n = pread(fd, &h, sizeof(h), 0);
	if (n < 0)
		return vdi_error_set(err, -errno, "cannot read template disk %s: %s", path, strerror(errno));
	if ((size_t)n < sizeof(h) || be32toh(h.magic) != QCOW2_MAGIC)
		return vdi_error_set(err, -EINVAL, "template disk %s is not a QCOW2 image", path);

	if (be32toh(h.version) != 2 && be32toh(h.version) != 3)
		return vdi_error_set(err, -EINVAL, "template disk %s has unsupported QCOW2 version %u", path,
				      be32toh(h.version));
	if (be32toh(h.cluster_bits) < 9 || be32toh(h.cluster_bits) > 21)
		return vdi_error_set(err, -EINVAL, "template disk %s is corrupt: cluster_bits %u", path,
				      be32toh(h.cluster_bits));
	cluster = UINT64_C(1) << be32toh(h.cluster_bits);
	if (be64toh(h.size) == 0)
		return vdi_error_set(err, -EINVAL, "template disk %s is corrupt: virtual size 0", path);
	if (be32toh(h.crypt_method) != 0)
		return vdi_error_set(err, -EINVAL, "template disk %s is encrypted; templates must not be", path);
	if (be64toh(h.l1_table_offset) % cluster || be64toh(h.refcount_table_offset) % cluster ||
	    be64toh(h.refcount_table_offset) == 0 || be64toh(h.l1_table_offset) >= (uint64_t)st.st_size ||
	    be64toh(h.refcount_table_offset) >= (uint64_t)st.st_size)
		return vdi_error_set(err, -EINVAL, "template disk %s is corrupt: its tables lie outside the file", path);
	if (be64toh(h.backing_file_offset) &&
	    be64toh(h.backing_file_offset) + be32toh(h.backing_file_size) > (uint64_t)st.st_size)
		return vdi_error_set(err, -EINVAL, "template disk %s is corrupt: backing file name outside the file", path);

	*ret_virtual_size = be64toh(h.size);
	return 0;
}

/* The template names vmpool takes (each desktop's domain metadata holds its template's).  Stricter
 * on purpose than the broker's store, whose broker_store_add_template() checks only the length
 * (1-64): the API makes a pool_template first, so what the store keeps passed this. */
static bool is_valid_template_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return name[0] != '.';
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct pool_template *, pool_template_free)

int pool_template_new(const struct pool_template_options *opts, struct pool_template **ret,
		      struct vdi_error *err)
{
	_cleanup_(pool_template_freep) struct pool_template *t = NULL;
	int r;

	if (!opts || !is_valid_template_name(opts->name))
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
