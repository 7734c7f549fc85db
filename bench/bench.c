/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

volatile sig_atomic_t bench_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

void bench_catch_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bench_stats bench_summarize(double *v, int n)
{
	struct bench_stats s = { 0 };

	if (n <= 0)
		return s;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p90 = v[(int)((n - 1) * 0.9 + 0.5)];
	return s;
}

int bench_run(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -EIO;
}

int bench_dirs_make(struct bench_dirs *d, const char *parent)
{
	snprintf(d->dir, sizeof(d->dir), "%s/vdi-bench-XXXXXX", parent ? parent : "/var/tmp");
	if (!mkdtemp(d->dir)) {
		int r = -errno;

		perror("mkdtemp");
		return r;
	}
	chmod(d->dir, 0755);
	snprintf(d->images, sizeof(d->images), "%s/images", d->dir);
	snprintf(d->run_dir, sizeof(d->run_dir), "%s/run", d->dir);
	snprintf(d->spool, sizeof(d->spool), "vdi-bench-%d", (int)getpid());
	return 0;
}

static void remove_storage_pool(const char *uri, const char *name)
{
	virConnectPtr c = virConnectOpen(uri);
	virStoragePoolPtr sp = c ? virStoragePoolLookupByName(c, name) : NULL;

	if (sp) {
		(void)virStoragePoolDestroy(sp);
		(void)virStoragePoolUndefine(sp);
		virStoragePoolFree(sp);
	}
	if (c)
		virConnectClose(c);
}

void bench_dirs_remove(const struct bench_dirs *d, const char *uri)
{
	char cmd[1200];

	remove_storage_pool(uri, d->spool);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	(void)bench_run(cmd);
}
