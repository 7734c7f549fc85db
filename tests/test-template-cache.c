/* SPDX-License-Identifier: GPL-2.0-or-later */
/* broker/template-cache.c without a daemon: one vmpool template per template, shared by threads. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cleanup.h"
#include "harness.h"
#include "template-cache.h"
#include "vmpool-test.h"
#include "vmpool.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct broker_template_cache *, broker_template_cache_free)

static void check_stats(struct broker_template_cache *c, uint64_t hits, uint64_t misses, size_t entries)
{
	struct broker_template_cache_stats s;

	broker_template_cache_stats(c, &s);
	check_int_eq(s.hits, hits);
	check_int_eq(s.misses, misses);
	check_int_eq(s.entries, entries);
}

/* The second use finds the first one's object; other XML, another disk size or a forgotten name make a new one. */
static void test_hit_and_miss(void)
{
	_cleanup_(broker_template_cache_freep) struct broker_template_cache *c = NULL;
	_cleanup_free_ char *disk = test_make_qcow2("golden.qcow2", "64M");
	struct broker_template *a = NULL, *b = NULL, *x = NULL;
	struct vdi_error err = { 0 };
	char cmd[1024];

	check_ok(broker_template_cache_new(&c));
	check_ok(broker_template_cache_get(c, "golden", disk, NULL, &a, &err));
	check_ok(broker_template_cache_get(c, "golden", disk, NULL, &b, &err));
	check(broker_template_pool(a) == broker_template_pool(b));
	check_str_eq(broker_template_pool(a)->disk_path, disk);
	check_stats(c, 1, 1, 1);
	b = broker_template_unref(b);

	/* Another definition of the name: a new object; the old one stays with who holds it. */
	check_ok(broker_template_cache_get(c, "golden", disk, "<domain><memory>131072</memory><os/></domain>", &x, &err));
	check(broker_template_pool(x) != broker_template_pool(a));
	check_str_eq(broker_template_pool(a)->name, "golden");
	check_stats(c, 1, 2, 1);
	x = broker_template_unref(x);

	/* The same disk path, now another size: made again. */
	snprintf(cmd, sizeof(cmd), "qemu-img resize -q '%s' 128M", disk);
	check_int_eq(system(cmd), 0);
	check_ok(broker_template_cache_get(c, "golden", disk, NULL, &b, &err));
	check_int_eq(broker_template_pool(b)->capacity, 128 << 20);
	check_stats(c, 1, 3, 1);
	b = broker_template_unref(b);
	check_ok(broker_template_cache_get(c, "golden", disk, NULL, &b, &err));
	check_stats(c, 2, 3, 1);
	b = broker_template_unref(b);

	/* Forgotten (the template was removed): made again on the next use. */
	broker_template_cache_forget(c, "golden");
	check_stats(c, 2, 3, 0);
	check_ok(broker_template_cache_get(c, "golden", disk, NULL, &b, &err));
	check_stats(c, 2, 4, 1);
	b = broker_template_unref(b);
	a = broker_template_unref(a);
	broker_template_cache_forget(c, "nothing of that name");
	check_stats(c, 2, 4, 1);
}

/* A disk that is gone fails every use with vmpool's message, also after a hit. */
static void test_disk_gone(void)
{
	_cleanup_(broker_template_cache_freep) struct broker_template_cache *c = NULL;
	_cleanup_free_ char *disk = test_make_qcow2("gone.qcow2", "64M");
	struct broker_template *t = NULL;
	struct vdi_error err = { 0 };

	check_ok(broker_template_cache_new(&c));
	check_ok(broker_template_cache_get(c, "gone", disk, NULL, &t, &err));
	t = broker_template_unref(t);
	check(unlink(disk) == 0);
	check_err(broker_template_cache_get(c, "gone", disk, NULL, &t, &err), ENOENT);
	check_str_contains(err.message, "cannot open template disk");
	check(!t);
	check_err(broker_template_cache_get(c, "bad", "/nonexistent/disk.qcow2", NULL, &t, &err), ENOENT);
	check(!t);
}

#define THREADS 8

struct racer {
	struct broker_template_cache *c;
	const char *disk;
	const struct pool_template *seen;
	int result;
};

static void *race(void *data)
{
	struct racer *r = data;
	struct broker_template *t = NULL;

	r->result = broker_template_cache_get(r->c, "golden", r->disk, NULL, &t, NULL);
	if (r->result >= 0)
		r->seen = broker_template_pool(t);
	broker_template_unref(t);
	return NULL;
}

/* Workers that want one template at once make it once and share it. */
static void test_threads_share_one(void)
{
	_cleanup_(broker_template_cache_freep) struct broker_template_cache *c = NULL;
	_cleanup_free_ char *disk = test_make_qcow2("golden.qcow2", "64M");
	struct racer r[THREADS];
	pthread_t th[THREADS];

	check_ok(broker_template_cache_new(&c));
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct racer){ .c = c, .disk = disk };
		check_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		check_int_eq(pthread_join(th[i], NULL), 0);
		check_ok(r[i].result);
		check(r[i].seen == r[0].seen);
	}
	check_stats(c, THREADS - 1, 1, 1);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_hit_and_miss),
	VDI_TEST(test_disk_gone),
	VDI_TEST(test_threads_share_one),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
