/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OS profiles (vmpool/osinfo.c) from the osinfo-db this machine has (0.20221130, tools/install-deps): each
 * assertion is what its XML under /usr/share/osinfo says, noted beside it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"
#include "vmpool.h"

static struct pool_os_profile get_ok(const char *id)
{
	struct vdi_error err = { 0 };
	struct pool_os_profile p;

	memset(&p, 0xa5, sizeof(p));
	if (pool_os_profile_get(id, &p, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_os_profile_get(%s): %s", id, err.message);
	vdi_test_log("%s: '%s' windows=%d uefi req=%d sup=%d disk=%s nic=%s video=%s sound=%s min %u MiB/%u "
		     "rec %u MiB/%u", p.id, p.name, p.windows, p.uefi_required, p.uefi_supported, p.disk_bus,
		     p.nic_model, p.video, p.sound ? p.sound : "(none)", p.min_memory_mib, p.min_vcpus,
		     p.rec_memory_mib, p.rec_vcpus);
	return p;
}

/* win-11.xml: family winnt, x86_64 firmware efi and bios supported="false", minimum 2 CPUs and 4 GiB; no
 * recommended resources (nor win10, 8.1, 8, 7 it derives from: the nearest is winvista's 1 GiB, raised to
 * win11's minimum); no drivers of its own: those of win-10.d (virtio-win, 1af4/1001, 1af4/1000, qxl) through
 * derives-from; qxl is also in the devices it inherits. */
static void test_win11(void)
{
	struct pool_os_profile p = get_ok("win11");

	check_str_eq(p.id, "win11");
	check_str_eq(p.name, "Microsoft Windows 11");
	check(p.windows);
	check(p.uefi_required);
	check(p.uefi_supported);
	check_str_eq(p.disk_bus, "virtio");
	check_str_eq(p.nic_model, "virtio");
	check_str_eq(p.video, "qxl");
	check_str_eq(p.sound, "ich9"); /* ich9-hda 8086/293e, inherited */
	check_int_eq(p.min_memory_mib, 4096);
	check_int_eq(p.min_vcpus, 2);
	check_int_eq(p.rec_memory_mib, 4096);
	check_int_eq(p.rec_vcpus, 0);
}

/* win-10.xml: no firmware element at all (so UEFI is neither listed nor required), x86_64 minimum 1 CPU and
 * 2 GiB; its own drivers (win-10.d) bring virtio. */
static void test_win10(void)
{
	struct pool_os_profile p = get_ok("win10");

	check(p.windows);
	check(!p.uefi_required);
	check(!p.uefi_supported);
	check_str_eq(p.disk_bus, "virtio");
	check_str_eq(p.nic_model, "virtio");
	check_str_eq(p.video, "qxl");
	check_int_eq(p.min_memory_mib, 2048);
	check_int_eq(p.min_vcpus, 1);
}

/* win-2k22.xml derives from win2k19, 2k16, 2k12r2, 2k12, 2k8r2, 2k8, ...: none of them has drivers in
 * osinfo-db (only win-xp.d, win-7.d, win-8.d, win-8.1.d, win-10.d), so no virtio: SATA and the e1000e it
 * lists; minimum 512 MiB and 1 CPU, recommended 2 GiB (n-cpus not said). */
static void test_win2k22(void)
{
	struct pool_os_profile p = get_ok("win2k22");

	check_str_eq(p.name, "Microsoft Windows Server 2022");
	check(p.windows);
	check(!p.uefi_required);
	check_str_eq(p.disk_bus, "sata");
	check_str_eq(p.nic_model, "e1000e");
	check_str_eq(p.video, "qxl");
	check_str_eq(p.sound, "ich9");
	check_int_eq(p.min_memory_mib, 512);
	check_int_eq(p.min_vcpus, 1);
	check_int_eq(p.rec_memory_mib, 2048);
	check_int_eq(p.rec_vcpus, 0);
}

/* debian-11.xml: family linux; firmware efi for x86_64 (BIOS not refused); its own devices (inherited from
 * debian10 and before) include virtio-block, virtio-net AND virtio1.0-gpu 1af4/1050, so the video is virtio
 * (natively: no driver involved); resources arch "all": minimum 1 CPU, 1 GiB; recommended 1 GiB. */
static void test_debian11(void)
{
	struct pool_os_profile p = get_ok("debian11");

	check_str_eq(p.name, "Debian 11");
	check(!p.windows);
	check(!p.uefi_required);
	check(p.uefi_supported);
	check_str_eq(p.disk_bus, "virtio");
	check_str_eq(p.nic_model, "virtio");
	check_str_eq(p.video, "virtio");
	check_str_eq(p.sound, "ich9");
	check_int_eq(p.min_memory_mib, 1024);
	check_int_eq(p.min_vcpus, 1);
	check_int_eq(p.rec_memory_mib, 1024);
}

/* An alias short id, and any case, give the OS under its first short id (as osinfo-db spells it). */
static void test_alias_and_case(void)
{
	struct pool_os_profile p = get_ok("debianbullseye");

	check_str_eq(p.id, "debian11");
	p = get_ok("Win11");
	check_str_eq(p.id, "win11");
	p = get_ok("DRAGONFLYBSD1.0a");
	check_str_eq(p.id, "dragonflybsd1.0A");
}

/* trisquel-9.xml recommends 1 GiB and says no minimum: the minimum is that of ubuntu18.04 it derives from
 * (2 GiB, 1 CPU, arch "all"), and the recommendation below it is raised to it. */
static void test_inherited_resources(void)
{
	struct pool_os_profile p = get_ok("trisquel9");

	check(!p.windows);
	check_int_eq(p.min_memory_mib, 2048);
	check_int_eq(p.min_vcpus, 1);
	check_int_eq(p.rec_memory_mib, 2048);
}

/* id unknown: the message names it and suggests want1 and want2. */
static void check_unknown(const char *id, const char *want1, const char *want2)
{
	struct vdi_error err = { 0 };
	struct pool_os_profile p;
	char head[128];

	check_err(pool_os_profile_get(id, &p, &err), ENOENT);
	vdi_test_log("%s: %s", id, err.message);
	snprintf(head, sizeof(head), "unknown OS '%s' (close matches: ", id);
	check(strncmp(err.message, head, strlen(head)) == 0);
	check_str_contains(err.message, want1);
	check_str_contains(err.message, want2);
}

static void test_unknown(void)
{
	struct vdi_error err = { 0 };
	struct pool_os_profile p;
	const char *m;
	int commas = 0;

	/* No debian12 in this osinfo-db: its newest Debians, and the nearest misspellings. */
	check_unknown("debian12", "debian11", "debiantesting");
	check_unknown("win12", "win11", "win10");
	check_unknown("Debain11", "debian11", "debian11"); /* a transposition, in any case */
	check_unknown("ubuntu20.4", "ubuntu20.04", "ubuntu22.04");

	check_err(pool_os_profile_get("debian12", &p, &err), ENOENT);
	for (m = err.message; *m; m++)
		commas += *m == ',';
	check(commas <= 4); /* at most 5 */

	check_err(pool_os_profile_get("zzzzqqqq", &p, &err), ENOENT);
	check_str_eq(err.message, "unknown OS 'zzzzqqqq' (vdictl os list shows them)");
}

static void test_malformed(void)
{
	static const char *const bad[] = { "", "win 11", "win11;", "wïn11", "../win11", "win11\n", "a/b" };
	char long_id[POOL_OS_ID_MAX + 2];
	struct vdi_error err = { 0 };
	struct pool_os_profile p;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(&err, 0, sizeof(err));
		check_err(pool_os_profile_get(bad[i], &p, &err), EINVAL);
		check(strncmp(err.message, "OS id must be ", 14) == 0);
	}
	check_err(pool_os_profile_get(NULL, &p, &err), EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	check_err(pool_os_profile_get(long_id, &p, &err), EINVAL);
	check_str_contains(err.message, "OS id must be ");
	long_id[POOL_OS_ID_MAX] = '\0'; /* 64 characters: well-formed, unknown */
	check_err(pool_os_profile_get(long_id, &p, &err), ENOENT);
}

static bool has_id(const struct pool_os_entry *l, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].id, id))
			return true;
	return false;
}

static void check_sorted(const struct pool_os_entry *l, size_t n)
{
	for (size_t i = 1; i < n; i++)
		check(strcmp(l[i - 1].id, l[i].id) < 0);
}

static void test_list(void)
{
	struct vdi_error err = { 0 };
	struct pool_os_entry *l = NULL;
	size_t n = 0;

	check_ok(pool_os_list("WIN", &l, &n, &err));
	check(has_id(l, n, "win11"));
	check(has_id(l, n, "win10"));
	check(has_id(l, n, "win2k22"));
	check(!has_id(l, n, "debian11"));
	check_sorted(l, n);
	for (size_t i = 0; i < n; i++) {
		check(strcasestr(l[i].id, "win") || strcasestr(l[i].name, "win"));
		check(l[i].version && l[i].family);
		if (!strcmp(l[i].id, "win11")) {
			check_str_eq(l[i].name, "Microsoft Windows 11");
			check_str_eq(l[i].version, "11.0");
			check_str_eq(l[i].family, "winnt");
		}
	}
	pool_os_list_free(l, n);

	/* By name: "Debian 11" is not in its short id. */
	check_ok(pool_os_list("debian 11", &l, &n, &err));
	check_int_eq(n, 1);
	check_str_eq(l[0].id, "debian11");
	pool_os_list_free(l, n);

	check_ok(pool_os_list("no such os anywhere", &l, &n, &err));
	check_int_eq(n, 0);
	pool_os_list_free(l, n);

	check_ok(pool_os_list(NULL, &l, &n, &err));
	vdi_test_log("%zu OSes in osinfo-db", n);
	check(n > 100);
	check_sorted(l, n);
	check(has_id(l, n, "debiantesting"));
	pool_os_list_free(l, n);

	check_ok(pool_os_list("", &l, &n, &err));
	check(n > 100);
	pool_os_list_free(l, n);
}

/* Every OS of the list has a profile under its own id, with a model for each device. */
static void test_every_os(void)
{
	struct vdi_error err = { 0 };
	struct pool_os_entry *l = NULL;
	unsigned windows = 0, uefi_required = 0, virtio_disk = 0, nic_fallback = 0;
	uint64_t t0;
	size_t n = 0;

	check_ok(pool_os_list(NULL, &l, &n, &err));
	t0 = vdi_test_now_ms();
	for (size_t i = 0; i < n; i++) {
		struct pool_os_profile p;

		if (pool_os_profile_get(l[i].id, &p, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "%s: %s", l[i].id, err.message);
		check_str_eq(p.id, l[i].id);
		check_str_eq(p.name, l[i].name);
		check(p.disk_bus && p.nic_model && p.video);
		check(!p.uefi_required || p.uefi_supported);
		check(!p.rec_memory_mib || p.rec_memory_mib >= p.min_memory_mib);
		check(p.windows == !strcmp(l[i].family, "winnt"));
		windows += p.windows;
		uefi_required += p.uefi_required;
		virtio_disk += !strcmp(p.disk_bus, "virtio");
		nic_fallback += !strcmp(p.nic_model, "e1000");
	}
	vdi_test_log("%zu profiles in %" PRIu64 " ms: %u Windows, %u require UEFI, %u virtio disks, %u e1000 NICs",
		     n, vdi_test_now_ms() - t0, windows, uefi_required, virtio_disk, nic_fallback);
	pool_os_list_free(l, n);
}

/* Without osinfo-db: -EIO saying so; the load is tried again by the next call (each test has a process). */
static void test_no_db(void)
{
	static const char *const vars[] = { "OSINFO_SYSTEM_DIR", "OSINFO_LOCAL_DIR", "OSINFO_USER_DIR" };
	struct vdi_error err = { 0 };
	struct pool_os_profile p;

	for (size_t i = 0; i < ELEMENTSOF(vars); i++)
		check_int_eq(setenv(vars[i], vdi_test_tmpdir(), 1), 0);
	check_err(pool_os_profile_get("win11", &p, &err), EIO);
	check_str_eq(err.message, "osinfo-db holds no OS (is the osinfo-db package installed?)");
	for (size_t i = 0; i < ELEMENTSOF(vars); i++)
		check_int_eq(unsetenv(vars[i]), 0);
	p = get_ok("win11");
	check(p.uefi_required);
}

struct racer {
	pthread_barrier_t *start;
	const char *id;
	int r;
	struct pool_os_profile p;
	struct vdi_error err;
};

static void *race(void *data)
{
	struct racer *r = data;

	pthread_barrier_wait(r->start);
	r->r = pool_os_profile_get(r->id, &r->p, &r->err);
	return NULL;
}

/* Threads that are each the first caller: one loads osinfo-db, all get their profile. */
static void test_threads(void)
{
	static const char *const ids[] = { "win11", "debian11", "win11", "win2k22" };
	struct racer r[ELEMENTSOF(ids)];
	pthread_t th[ELEMENTSOF(ids)];
	pthread_barrier_t start;

	check_int_eq(pthread_barrier_init(&start, NULL, ELEMENTSOF(ids)), 0);
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		r[i] = (struct racer){ .start = &start, .id = ids[i] };
		check_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		check_int_eq(pthread_join(th[i], NULL), 0);
		if (r[i].r < 0)
			vdi_test_fail(__FILE__, __LINE__, "%s: %s", ids[i], r[i].err.message);
		check_str_eq(r[i].p.id, ids[i]);
	}
	check(r[0].p.uefi_required && r[2].p.uefi_required);
	check_str_eq(r[1].p.video, "virtio");
	pthread_barrier_destroy(&start);
}

/* Not an assertion (bench/ is for those): the numbers for the record. */
static void test_timing(void)
{
	struct pool_os_profile p;
	uint64_t t0, t1, t2;

	t0 = vdi_test_now_ms();
	check_ok(pool_os_profile_get("win11", &p, NULL));
	t1 = vdi_test_now_ms();
	check_ok(pool_os_profile_get("debian11", &p, NULL));
	t2 = vdi_test_now_ms();
	vdi_test_log("first call (loads osinfo-db) %" PRIu64 " ms, a later call %" PRIu64 " ms", t1 - t0, t2 - t1);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_win11),
	VDI_TEST(test_win10),
	VDI_TEST(test_win2k22),
	VDI_TEST(test_debian11),
	VDI_TEST(test_alias_and_case),
	VDI_TEST(test_inherited_resources),
	VDI_TEST(test_unknown),
	VDI_TEST(test_malformed),
	VDI_TEST(test_list),
	VDI_TEST(test_every_os),
	VDI_TEST(test_no_db),
	VDI_TEST(test_threads),
	VDI_TEST(test_timing),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
