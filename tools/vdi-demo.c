/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The demo of what vdi does today: desktops cloned from the test guest's
 * template through vmpool, started, and their SPICE sockets checked.
 *
 *   vdi-demo --guest-dir DIR --dir DIR [--count N] [--virt-type T]   create and start
 *   vdi-demo --guest-dir DIR --dir DIR --stop                        delete them again
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "spice-link.h"
#include "vmpool.h"

#define DEMO_POOL "demo"

struct demo {
	const char *guest_dir;
	const char *dir;
	const char *virt_type;
	int count;
	bool stop;
};

static char *read_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f || getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The guest's domain XML with its kernel and initrd paths filled in. */
static int guest_xml(const char *guest_dir, char **ret)
{
	_cleanup_free_ char *path = NULL, *xml = NULL, *kernel = NULL, *initrd = NULL;
	char *out = NULL;
	const char *keys[] = { "@KERNEL@", "@INITRD@" };

	if (asprintf(&path, "%s/guest.xml", guest_dir) < 0 || asprintf(&kernel, "%s/vmlinuz", guest_dir) < 0 ||
	    asprintf(&initrd, "%s/initrd.img", guest_dir) < 0)
		return -ENOMEM;
	xml = read_file(path);
	if (!xml)
		return vdi_log_errno(LOG_ERR, -errno, "cannot read %s: %m (build the project first)", path);

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		const char *value = i == 0 ? kernel : initrd;
		char *p = strstr(xml, keys[i]);

		if (!p)
			return vdi_log_errno(LOG_ERR, -EINVAL, "%s has no %s placeholder", path, keys[i]);
		if (asprintf(&out, "%.*s%s%s", (int)(p - xml), xml, value, p + strlen(keys[i])) < 0)
			return -ENOMEM;
		free(xml);
		xml = out;
	}
	*ret = TAKE_PTR(xml);
	return 0;
}

static int wait_spice(const char *target)
{
	struct spice_link_result res;
	int r = -ETIMEDOUT;

	for (int i = 0; i < 100; i++) {
		r = spice_link_probe(target, NULL, 2000, &res);
		if (r >= 0)
			return strcmp(res.magic, "REDQ") == 0 ? 0 : -EPROTO;
		usleep(100 * 1000);
	}
	return r;
}

static int run(const struct demo *d)
{
	_cleanup_free_ char *images = NULL, *run_dir = NULL, *disk = NULL, *xml = NULL;
	struct pool_host *host = NULL;
	struct pool_template *t = NULL;
	struct pool_error err = { { 0 } };
	int r;

	if (asprintf(&images, "%s/images", d->dir) < 0 || asprintf(&run_dir, "%s/run", d->dir) < 0 ||
	    asprintf(&disk, "%s/template.qcow2", d->guest_dir) < 0)
		return -ENOMEM;

	struct pool_host_options o = {
		.uri = "qemu:///system",
		.storage_pool = "vdi-demo",
		.storage_path = images,
		.runtime_dir = run_dir,
		.virt_type = d->virt_type,
	};
	r = pool_host_new(&o, &host, &err);
	if (r < 0)
		return vdi_log_errno(LOG_ERR, r, "%s", err.message);

	if (!d->stop) {
		r = guest_xml(d->guest_dir, &xml);
		if (r < 0)
			goto out;
		struct pool_template_options to = { .name = "demo-guest", .disk_path = disk, .xml = xml };
		r = pool_template_new(&to, &t, &err);
		if (r < 0) {
			vdi_log_errno(LOG_ERR, r, "%s", err.message);
			goto out;
		}
		printf("host %s, domain type %s, template %s (%llu MiB)\n", pool_host_uri(host),
		       pool_host_virt_type(host), disk, (unsigned long long)(t->capacity >> 20));
	}

	for (int i = 1; i <= d->count; i++) {
		char name[64], target[512];

		pool_domain_name(DEMO_POOL, i, name, sizeof(name));
		if (d->stop) {
			r = pool_desktop_delete(host, name, &err);
			if (r < 0) {
				vdi_log_errno(LOG_ERR, r, "%s", err.message);
				goto out;
			}
			printf("%s: deleted\n", name);
			continue;
		}

		r = pool_desktop_create(host, t, DEMO_POOL, i, &err);
		if (r == -EEXIST) {
			printf("%s: exists already\n", name);
		} else if (r < 0) {
			vdi_log_errno(LOG_ERR, r, "%s", err.message);
			goto out;
		} else {
			printf("%s: cloned\n", name);
		}
		r = pool_desktop_start(host, name, &err);
		if (r < 0) {
			vdi_log_errno(LOG_ERR, r, "%s", err.message);
			goto out;
		}
		pool_desktop_spice_target(host, name, target, sizeof(target));
		r = wait_spice(target);
		if (r < 0) {
			vdi_log_errno(LOG_ERR, r, "%s: SPICE at %s does not answer: %m", name, target);
			goto out;
		}
		printf("%s: running; SPICE listens at %s (answers the SPICE link: REDQ)\n", name, target);
	}
	if (!d->stop)
		printf("\nThe desktops keep running. Console: virsh -c qemu:///system console vdi-%s-1\n"
		       "Remove them with: tools/demo stop\n", DEMO_POOL);
	r = 0;
out:
	pool_template_free(t);
	pool_host_free(host);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "guest-dir", required_argument, NULL, 'g' },
		{ "dir", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "virt-type", required_argument, NULL, 't' },
		{ "stop", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct demo d = { .count = 2 };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'g': d.guest_dir = optarg; break;
		case 'd': d.dir = optarg; break;
		case 'n': d.count = atoi(optarg); break;
		case 't': d.virt_type = optarg; break;
		case 's': d.stop = true; break;
		case 'h':
			printf("usage: %s --guest-dir DIR --dir DIR [--count N] [--virt-type auto|kvm|qemu] [--stop]\n", argv[0]);
			return 0;
		default:
			return 2;
		}
	}
	if (!d.guest_dir || !d.dir || d.count < 1 || d.count > 100) {
		fprintf(stderr, "%s: --guest-dir and --dir are required; --count is 1..100\n", argv[0]);
		return 2;
	}
	return run(&d) < 0 ? 1 : 0;
}
