/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-publish: how long vmpool takes to publish a template version
 * (pool_base_create(): a flattened QCOW2 copy made by libvirt, through a
 * transient storage pool on the source's directory) against a bare
 * `qemu-img convert -O qcow2` of the same source, alternating in one run on
 * this machine.  The source is a QCOW2 chain holding 1 GiB of data: 512 MiB
 * written in the base, 512 MiB more in the overlay on top of it.  Results
 * are ratios against that peer; nothing here is a pass/fail test.
 *
 * --source FILE --once publishes FILE once and deletes the base again, for
 * a timer that measures whole processes from outside.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "bench.h"
#include "cleanup.h"
#include "vmpool.h"

#define URI "qemu:///system"

struct opts {
	int runs;
	unsigned data_mib; /* in the whole chain: half in the base, half in the overlay */
	const char *dir;
	const char *source;
	bool once;
	bool json;
};

/* base.qcow2 with half the data at offset 0, top.qcow2 on it with the other half right after. */
static int make_chain(const char *dir, unsigned data_mib, char *top, size_t len)
{
	unsigned half = data_mib / 2, virt_mib = data_mib * 2;
	char cmd[4096];

	snprintf(top, len, "%s/top.qcow2", dir);
	snprintf(cmd, sizeof(cmd),
		 "qemu-img create -q -f qcow2 '%s/base.qcow2' %uM && "
		 "qemu-io -f qcow2 -c 'write -P 0xab 0 %uM' '%s/base.qcow2' >/dev/null && "
		 "qemu-img create -q -f qcow2 -b '%s/base.qcow2' -F qcow2 '%s' && "
		 "qemu-io -f qcow2 -c 'write -P 0xcd %uM %uM' '%s' >/dev/null",
		 dir, virt_mib, half, dir, dir, top, half, data_mib - half, top);
	return bench_run(cmd);
}

/* One publish of source as version; its time in *ms.  The base is deleted again (not timed). */
static int time_publish(struct pool_host *host, const char *source, int64_t version, double *ms)
{
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *path = NULL;
	double t0 = bench_now_ms();

	if (pool_base_create(host, "bench", version, source, &path, &err) < 0) {
		fprintf(stderr, "bench-publish: %s\n", err.message);
		return -EIO;
	}
	*ms = bench_now_ms() - t0;
	if (pool_base_delete(host, path, &err) < 0) {
		fprintf(stderr, "bench-publish: %s\n", err.message);
		return -EIO;
	}
	return 0;
}

/* The peer: qemu-img itself, the same conversion without libvirt; its output is removed again. */
static int time_convert(const char *source, const char *dir, double *ms)
{
	char out[1024], cmd[2600];
	double t0;
	int r;

	snprintf(out, sizeof(out), "%s/peer.qcow2", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -O qcow2 '%s' '%s'", source, out);
	t0 = bench_now_ms();
	r = bench_run(cmd);
	*ms = bench_now_ms() - t0;
	unlink(out);
	if (r < 0)
		fprintf(stderr, "bench-publish: failed: %s\n", cmd);
	return r;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "data-mib", required_argument, NULL, 'D' },
		{ "dir", required_argument, NULL, 'd' },
		{ "source", required_argument, NULL, 's' },
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 'n': o->runs = atoi(optarg); break;
		case 'D': o->data_mib = (unsigned)atoi(optarg); break;
		case 'd': o->dir = optarg; break;
		case 's': o->source = optarg; break;
		case 'o': o->once = true; break;
		case 'j': o->json = true; break;
		case 'h':
			printf("usage: %s [--runs N] [--data-mib MiB] [--dir DIR] [--json]\n"
			       "       %s --source FILE --once [--dir DIR]\n", argv[0], argv[0]);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (o->runs < 1 || o->runs > 64 || o->data_mib < 2 || o->data_mib > 16384 ||
	    (o->once && (!o->source || o->source[0] != '/'))) {
		fprintf(stderr, "%s: --runs 1..64, --data-mib 2..16384; --once needs an absolute --source\n", argv[0]);
		return -EINVAL;
	}
	return 0;
}

static void report(const struct opts *o, double *pub, double *conv, int n)
{
	double pairs[64];
	struct bench_stats sp, sc, sr;
	double ratio;

	/* Pair by pair first (the machine's speed drifts less within a pair), then each on its own. */
	for (int i = 0; i < n; i++)
		pairs[i] = pub[i] / conv[i];
	sr = bench_summarize(pairs, n);
	sp = bench_summarize(pub, n);
	sc = bench_summarize(conv, n);
	ratio = sr.median;

	if (o->json) {
		printf("{\"runs\":%d,\"data_mib\":%u,"
		       "\"publish_ms\":{\"min\":%.1f,\"median\":%.1f,\"max\":%.1f},"
		       "\"qemu_img_convert_ms\":{\"min\":%.1f,\"median\":%.1f,\"max\":%.1f},"
		       "\"ratio_pairs\":{\"min\":%.3f,\"median\":%.3f,\"max\":%.3f},\"ratio_medians\":%.3f}\n",
		       n, o->data_mib, sp.min, sp.median, sp.max, sc.min, sc.median, sc.max, sr.min, sr.median, sr.max,
		       sp.median / sc.median);
		return;
	}
	printf("\n%-40s %9s %9s %9s\n", "operation (ms)", "min", "median", "max");
	printf("%-40s %9.1f %9.1f %9.1f\n", "vmpool pool_base_create", sp.min, sp.median, sp.max);
	printf("%-40s %9.1f %9.1f %9.1f\n", "qemu-img convert -O qcow2", sc.min, sc.median, sc.max);
	printf("%-40s %9.3f %9.3f %9.3f\n", "ratio publish / convert, pair by pair", sr.min, sr.median, sr.max);
	printf("\n(%d pairs, each order in turn, after one warm-up of each; page cache warm)\n", n);
	printf("publish / qemu-img convert, median of pairs   %6.3f   target <= 1.2   %s\n", ratio,
	       ratio <= 1.2 ? "PASS" : "MISS");
	printf("(ratio of the medians: %.3f)\n", sp.median / sc.median);
}

int main(int argc, char **argv)
{
	struct opts o = { .runs = 8, .data_mib = 1024 };
	struct bench_dirs d;
	char top[700];
	struct pool_host *host = NULL;
	struct vdi_error err = { { 0 } };
	double *pub = NULL, *conv = NULL, warm;
	int done = 0, status = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	bench_catch_signals();

	if (bench_dirs_make(&d, o.dir) < 0)
		return 1;
	pub = calloc((size_t)o.runs, sizeof(double));
	conv = calloc((size_t)o.runs, sizeof(double));
	if (!pub || !conv)
		goto out;

	if (o.source) {
		snprintf(top, sizeof(top), "%s", o.source);
	} else {
		if (!o.json)
			printf("source: a QCOW2 chain holding %u MiB (%u in the base, %u in the overlay)...\n",
			       o.data_mib, o.data_mib / 2, o.data_mib - o.data_mib / 2);
		fflush(stdout);
		if (make_chain(d.dir, o.data_mib, top, sizeof(top)) < 0) {
			fprintf(stderr, "bench-publish: cannot make the chain with qemu-img/qemu-io\n");
			goto out;
		}
	}

	struct pool_host_options ho = {
		.uri = URI, .storage_pool = d.spool, .storage_path = d.images, .runtime_dir = d.run_dir,
		.virt_type = "qemu",
	};
	if (pool_host_new(&ho, &host, &err) < 0) {
		fprintf(stderr, "bench-publish: %s\n", err.message);
		goto out;
	}
	if (o.once) {
		status = time_publish(host, top, 1, &warm) < 0;
		if (!status && !o.json)
			printf("publish: %.1f ms\n", warm);
		goto out;
	}

	/* One warm-up of each, not counted: the source's pages come into the cache. */
	if (time_publish(host, top, 1, &warm) < 0 || time_convert(top, d.dir, &warm) < 0)
		goto out;
	/* Pairs, the one and then the other going first: neither always follows the other's delete. */
	for (done = 0; done < o.runs && !bench_interrupted; done++) {
		int r = done % 2 ? time_convert(top, d.dir, &conv[done]) : 0;

		if (r < 0 || time_publish(host, top, done + 2, &pub[done]) < 0 ||
		    (done % 2 == 0 && time_convert(top, d.dir, &conv[done]) < 0))
			goto out;
		if (!o.json)
			fprintf(stderr, "run %d: publish %.0f ms, qemu-img convert %.0f ms\n", done + 1, pub[done],
				conv[done]);
	}
	if (done < o.runs)
		goto out;
	report(&o, pub, conv, done);
	status = 0;

out:
	pool_host_free(host);
	bench_dirs_remove(&d, URI);
	free(pub);
	free(conv);
	if (bench_interrupted)
		fprintf(stderr, "bench-publish: interrupted; cleaned up\n");
	return status;
}
