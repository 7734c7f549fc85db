/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-clone: how long vmpool takes to clone a desktop (QCOW2 overlay +
 * domain definition) from a 1 GiB and a 16 GiB template, against virt-clone
 * making a full copy of the 1 GiB one, all in one run on this machine.
 * Results are ratios against that peer; nothing here is a pass/fail test.
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
	int count;
	int virt_clone_runs;
	unsigned data_mib;
	const char *dir;
	const char *virt_type;
	bool json;
	bool cold; /* drop the page cache before each virt-clone run */
};

/* A sparse QCOW2 of the given virtual size holding data_mib MiB of real, non-zero data. */
static int make_template(const char *path, const char *size, unsigned data_mib)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' %s", path, size);
	if (bench_run(cmd) < 0)
		return -EIO;
	snprintf(cmd, sizeof(cmd), "qemu-io -f qcow2 -c 'write -P 0xab 0 %uM' '%s' >/dev/null", data_mib, path);
	return bench_run(cmd);
}

static int time_clones(struct pool_host *host, const struct pool_template *t, const char *pool, int count,
		       double *create_ms, double *delete_ms)
{
	struct vdi_error err = { { 0 } };
	int made = 0, r = 0;

	for (int i = 0; i < count && !bench_interrupted; i++) {
		double t0 = bench_now_ms();

		r = pool_desktop_create(host, t, pool, i, &err);
		if (r < 0) {
			fprintf(stderr, "bench-clone: %s\n", err.message);
			break;
		}
		create_ms[i] = bench_now_ms() - t0;
		made++;
	}
	for (int i = 0; i < made; i++) {
		char name[64];
		double t0 = bench_now_ms();

		pool_domain_name(pool, i, name, sizeof(name));
		if (pool_desktop_delete(host, name, &err) < 0) {
			fprintf(stderr, "bench-clone: %s\n", err.message);
			r = -EIO;
		}
		delete_ms[i] = bench_now_ms() - t0;
	}
	return r < 0 ? r : made;
}

/* virt-clone copies the whole disk of a domain that runs on the template itself. */
static int time_virt_clone(const struct opts *o, const char *images, const char *base, double *ms)
{
	_cleanup_free_ char *xml = NULL;
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr orig;
	char name[64];
	int done = 0;

	if (!c)
		return -ENOTCONN;
	snprintf(name, sizeof(name), "vdi-bench-orig-%d", (int)getpid());
	if (asprintf(&xml,
		     "<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory>"
		     "<os><type arch='x86_64'>hvm</type></os><devices>"
		     "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
		     "<target dev='vda' bus='virtio'/></disk></devices></domain>",
		     name, base) < 0) {
		virConnectClose(c);
		return -ENOMEM;
	}
	orig = virDomainDefineXML(c, xml);
	if (!orig) {
		virConnectClose(c);
		return -EIO;
	}

	for (int i = 0; i < o->virt_clone_runs && !bench_interrupted; i++) {
		char cmd[2048], clone[96], file[1024];
		double t0;
		virDomainPtr d;

		snprintf(clone, sizeof(clone), "%s-clone%d", name, i);
		snprintf(file, sizeof(file), "%s/%s.qcow2", images, clone);
		snprintf(cmd, sizeof(cmd),
			 "virt-clone --connect " URI " --original '%s' --name '%s' --file '%s' --quiet >/dev/null 2>&1",
			 name, clone, file);
		if (o->cold && bench_run("sync && echo 3 > /proc/sys/vm/drop_caches") < 0) {
			fprintf(stderr, "bench-clone: cannot drop the page cache (needs root)\n");
			break;
		}
		t0 = bench_now_ms();
		if (bench_run(cmd) < 0) {
			fprintf(stderr, "bench-clone: virt-clone failed: %s\n", cmd);
			break;
		}
		ms[done++] = bench_now_ms() - t0;
		d = virDomainLookupByName(c, clone);
		if (d) {
			(void)virDomainUndefine(d);
			virDomainFree(d);
		}
		unlink(file);
	}
	(void)virDomainUndefine(orig);
	virDomainFree(orig);
	virConnectClose(c);
	return done;
}

static const char *verdict(bool ok)
{
	return ok ? "PASS" : "MISS";
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "virt-clone-runs", required_argument, NULL, 'm' },
		{ "data-mib", required_argument, NULL, 'D' },
		{ "dir", required_argument, NULL, 'd' },
		{ "virt-type", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "cold", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { .count = 20, .virt_clone_runs = 3, .data_mib = 1024, .virt_type = "qemu" };
	struct bench_dirs d;
	char small[600], big[600];
	struct pool_host *host = NULL;
	struct pool_template *ts = NULL, *tb = NULL;
	struct vdi_error err = { { 0 } };
	double *cs, *cb, *ds, *db, vc[64];
	struct bench_stats s_small, s_big, s_dsmall, s_dbig, s_vc;
	int c, ns = 0, nb = 0, nvc = 0, status = 1;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case 'n': o.count = atoi(optarg); break;
		case 'm': o.virt_clone_runs = atoi(optarg); break;
		case 'D': o.data_mib = (unsigned)atoi(optarg); break;
		case 'd': o.dir = optarg; break;
		case 't': o.virt_type = optarg; break;
		case 'j': o.json = true; break;
		case 'c': o.cold = true; break;
		case 'h':
			printf("usage: %s [--count N] [--virt-clone-runs M] [--data-mib MiB] [--dir DIR] "
			       "[--virt-type auto|kvm|qemu] [--cold] [--json]\n", argv[0]);
			return 0;
		default:
			return 2;
		}
	}
	if (o.count < 1 || o.count > 1000 || o.virt_clone_runs < 1 || o.virt_clone_runs > 64 || o.data_mib < 1 ||
	    o.data_mib > 1024) {
		fprintf(stderr, "%s: --count 1..1000, --virt-clone-runs 1..64, --data-mib 1..1024\n", argv[0]);
		return 2;
	}

	bench_catch_signals();

	if (bench_dirs_make(&d, o.dir) < 0)
		return 1;
	snprintf(small, sizeof(small), "%s/template-1g.qcow2", d.dir);
	snprintf(big, sizeof(big), "%s/template-16g.qcow2", d.dir);

	cs = calloc((size_t)o.count, sizeof(double));
	cb = calloc((size_t)o.count, sizeof(double));
	ds = calloc((size_t)o.count, sizeof(double));
	db = calloc((size_t)o.count, sizeof(double));
	if (!cs || !cb || !ds || !db)
		goto out;

	if (!o.json)
		printf("templates: 1 GiB and 16 GiB QCOW2, each holding %u MiB of written data (page cache warm)...\n", o.data_mib);
	if (make_template(small, "1G", o.data_mib) < 0 || make_template(big, "16G", o.data_mib) < 0) {
		fprintf(stderr, "bench-clone: cannot make the templates with qemu-img/qemu-io\n");
		goto out;
	}

	struct pool_host_options ho = {
		.uri = URI, .storage_pool = d.spool, .storage_path = d.images, .runtime_dir = d.run_dir,
		.virt_type = o.virt_type,
	};
	if (pool_host_new(&ho, &host, &err) < 0) {
		fprintf(stderr, "bench-clone: %s\n", err.message);
		goto out;
	}
	struct pool_template_options to = { .name = "bench1g", .disk_path = small, .memory_mib = 256, .vcpus = 1 };
	if (pool_template_new(&to, &ts, &err) < 0) {
		fprintf(stderr, "bench-clone: %s\n", err.message);
		goto out;
	}
	to.name = "bench16g";
	to.disk_path = big;
	if (pool_template_new(&to, &tb, &err) < 0) {
		fprintf(stderr, "bench-clone: %s\n", err.message);
		goto out;
	}

	/* One warm-up clone each, not counted: the first call pays for caches. */
	{
		double w1[1], w2[1];

		(void)time_clones(host, ts, "warm", 1, w1, w2);
	}
	/* Interleaved, in rounds of 5, so that neither template gets the quieter half of the run. */
	for (int done = 0; done < o.count && !bench_interrupted; done += 5) {
		int k = o.count - done < 5 ? o.count - done : 5, a, b;
		char ps[32], pb[32];

		snprintf(ps, sizeof(ps), "small%d", done);
		snprintf(pb, sizeof(pb), "big%d", done);
		a = time_clones(host, ts, ps, k, cs + done, ds + done);
		b = time_clones(host, tb, pb, k, cb + done, db + done);
		if (a < k || b < k)
			goto out;
		ns += a;
		nb += b;
	}
	if (ns < o.count || nb < o.count)
		goto out;
	nvc = time_virt_clone(&o, d.images, small, vc);
	if (nvc <= 0)
		goto out;

	s_small = bench_summarize(cs, ns);
	s_big = bench_summarize(cb, nb);
	s_dsmall = bench_summarize(ds, ns);
	s_dbig = bench_summarize(db, nb);
	s_vc = bench_summarize(vc, nvc);

	double size_ratio = s_big.median / s_small.median;
	double speedup = s_vc.median / s_small.median;

	if (o.json) {
		printf("{\"count\":%d,\"data_mib\":%u,"
		       "\"vmpool_1g_ms\":{\"min\":%.2f,\"median\":%.2f,\"p90\":%.2f,\"max\":%.2f},"
		       "\"vmpool_16g_ms\":{\"min\":%.2f,\"median\":%.2f,\"p90\":%.2f,\"max\":%.2f},"
		       "\"delete_1g_ms_median\":%.2f,\"delete_16g_ms_median\":%.2f,"
		       "\"virt_clone_1g_ms\":{\"runs\":%d,\"min\":%.2f,\"median\":%.2f,\"max\":%.2f},"
		       "\"ratio_16g_1g\":%.3f,\"speedup_vs_virt_clone\":%.1f,\"virt_clone_cache\":\"%s\"}\n",
		       o.count, o.data_mib, s_small.min, s_small.median, s_small.p90, s_small.max, s_big.min, s_big.median,
		       s_big.p90, s_big.max, s_dsmall.median, s_dbig.median, nvc, s_vc.min, s_vc.median, s_vc.max,
		       size_ratio, speedup, o.cold ? "cold" : "warm");
	} else {
		printf("\n%-34s %8s %8s %8s %8s\n", "operation (ms)", "min", "median", "p90", "max");
		printf("%-34s %8.1f %8.1f %8.1f %8.1f\n", "vmpool clone, 1 GiB template", s_small.min, s_small.median,
		       s_small.p90, s_small.max);
		printf("%-34s %8.1f %8.1f %8.1f %8.1f\n", "vmpool clone, 16 GiB template", s_big.min, s_big.median,
		       s_big.p90, s_big.max);
		printf("%-34s %8.1f %8.1f %8.1f %8.1f\n", "vmpool delete, 1 GiB template", s_dsmall.min,
		       s_dsmall.median, s_dsmall.p90, s_dsmall.max);
		printf("%-34s %8.1f %8.1f %8.1f %8.1f\n", "vmpool delete, 16 GiB template", s_dbig.min, s_dbig.median,
		       s_dbig.p90, s_dbig.max);
		printf("%-34s %8.1f %8.1f %8.1f %8.1f\n", o.cold ? "virt-clone full copy, 1 GiB, cold" : "virt-clone full copy, 1 GiB, warm",
		       s_vc.min, s_vc.median, s_vc.p90, s_vc.max);
		printf("\n(%d vmpool clones per template, %d virt-clone runs)\n", o.count, nvc);
		printf("median vmpool clone            %8.1f ms   target <= 100 ms   %s\n", s_small.median,
		       verdict(s_small.median <= 100));
		printf("16 GiB / 1 GiB median          %8.2f      target <= 1.2      %s\n", size_ratio,
		       verdict(size_ratio <= 1.2));
		printf("virt-clone / vmpool median     %8.1f x    target >= 50 x     %s\n", speedup, verdict(speedup >= 50));
	}
	status = 0;

out:
	pool_template_free(ts);
	pool_template_free(tb);
	pool_host_free(host);
	bench_dirs_remove(&d, URI);
	free(cs);
	free(cb);
	free(ds);
	free(db);
	if (bench_interrupted)
		fprintf(stderr, "bench-clone: interrupted; cleaned up\n");
	return status;
}
