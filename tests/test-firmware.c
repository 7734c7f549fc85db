/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A desktop's firmware state with real libvirtd, OVMF and swtpm (issue 17): desktops made with vmpool from
 * the EFI test guest (tests/guest/build-guest: efi.qcow2 and guest-efi.xml, Secure Boot with Microsoft's
 * keys enrolled, a TPM 2.0), which prints on its console whether Secure Boot is on and a TPM is there, and
 * sets and reads an EFI variable and a TPM NV index on command.
 *
 *   - a desktop of the EFI template boots with Secure Boot on and a TPM;
 *   - a pooled reset (pool_desktop_reset) wipes both: the next boot finds neither the EFI variable nor the
 *     NV index, the NVRAM file and the swtpm state are gone after the reset and new after the start (their
 *     content on disk), and the TPM's endorsement key is another;
 *   - a persistent desktop keeps both across a shutdown and a start, and across a recompose
 *     (POOL_RESET_KEEP_FIRMWARE: its overlay is new, its NVRAM file and TPM state the same);
 *   - pool_desktop_delete() leaves no NVRAM file and no swtpm state directory;
 *   - two desktops of one template have different endorsement keys.
 *
 * Two desktops share the cases (an EFI boot under TCG takes ~22 s): they boot at once, their consoles
 * read by a thread each from the start (the guest prints its firmware lines once, before the banner).
 *
 * Skipped only when the host has no OVMF with Secure Boot or no swtpm (pool_host_hardware() says which).
 * Environment (set by meson): VDI_TEST_GUEST_DIR.  VDI_SKIP_INTEGRATION=1 skips when no libvirtd answers.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "harness.h"
#include "vmpool-test.h"
#include "vmpool.h"

#define URI "qemu:///system"
#define BOOT_MS 600000   /* two EFI guests at once under TCG on a busy machine (load 40 on 2 CPUs seen) */
#define ANSWER_MS 180000 /* tpm2-tools under TCG on a busy machine: 60 s was not enough once */
#define SHUTDOWN_MS 120000
#define NVRAM_DIR "/var/lib/libvirt/qemu/nvram"
#define SWTPM_DIR "/var/lib/libvirt/swtpm"

static int run_pid;

struct env {
	struct pool_host *host;
	struct pool_template *tmpl;
	char pool[32];
};

/* The pool's desktop names are vdi-f<pid>-<id>; its storage pool vdi-test-<pid>-fw. */
static void names(char *pool, size_t plen, char *storage, size_t slen)
{
	snprintf(pool, plen, "f%d", run_pid);
	snprintf(storage, slen, "vdi-test-%d-fw", run_pid);
}

static char *read_text(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		vdi_test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, strerror(errno));
	check(getdelim(&buf, &len, '\0', f) > 0);
	return buf;
}

/* A whole file (binary) into *ret (new) and its size into *ret_len; false when it is not there. */
static bool read_file(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct stat st;

	*ret = NULL;
	*ret_len = 0;
	if (!f) {
		if (errno != ENOENT)
			vdi_test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	check(fstat(fileno(f), &st) == 0);
	*ret = malloc((size_t)st.st_size + 1);
	check(*ret);
	*ret_len = fread(*ret, 1, (size_t)st.st_size, f);
	check(*ret_len == (size_t)st.st_size);
	return true;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void env_open(struct env *e)
{
	_cleanup_free_ char *disk = test_guest_path("efi.qcow2"), *xml_path = test_guest_path("guest-efi.xml");
	_cleanup_free_ char *xml = NULL;
	struct pool_template_options to = { .name = "efi", .disk_path = disk };
	struct vdi_error err = { { 0 } };
	struct pool_hw_features hw;
	char sp[64];

	test_require_libvirt(URI);
	test_cleanup_stale_runs(URI);
	names(e->pool, sizeof(e->pool), sp, sizeof(sp));
	e->host = test_host_in_tmpdir(URI, sp);
	if (pool_host_hardware(e->host, &hw, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_hardware: %s", err.message);
	if (!hw.uefi || !hw.secure_boot || !hw.tpm)
		vdi_test_skip("this host lacks %s%s%s (pool_host_hardware; Debian's ovmf and swtpm provide them)",
			      hw.uefi ? "" : "OVMF ", hw.secure_boot || !hw.uefi ? "" : "OVMF's Secure Boot build ",
			      hw.tpm ? "" : "swtpm");
	xml = read_text(xml_path);
	to.xml = xml;
	if (pool_template_new(&to, &e->tmpl, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "template from %s: %s", xml_path, err.message);
}

/* ---- a desktop and what the disk holds of its firmware --------------------------------------- */

struct desk {
	struct env *e;
	char dom[64];
	char uuid[40];
	char nvram[256];  /* NVRAM_DIR/<domain>_VARS.fd */
	char swtpm[256];  /* SWTPM_DIR/<uuid> */
	char permall[320];/* its TPM 2.0 state file */
	pthread_t boot;
	bool booted;
	char console[262144]; /* what the console showed from the start to the banner */
};

static void desk_new(struct env *e, struct desk *d, int64_t id)
{
	struct vdi_error err = { { 0 } };
	struct pool_desktop_info info;

	d->e = e;
	check_ok(pool_domain_name(e->pool, id, d->dom, sizeof(d->dom)));
	if (pool_desktop_create(e->host, e->tmpl, e->pool, id, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "create %s: %s", d->dom, err.message);
	check_ok(pool_desktop_get_info(e->host, d->dom, &info, &err));
	snprintf(d->uuid, sizeof(d->uuid), "%s", info.uuid);
	pool_desktop_info_finish(&info);
	snprintf(d->nvram, sizeof(d->nvram), NVRAM_DIR "/%s_VARS.fd", d->dom);
	snprintf(d->swtpm, sizeof(d->swtpm), SWTPM_DIR "/%s", d->uuid);
	snprintf(d->permall, sizeof(d->permall), "%s/tpm2/tpm2-00.permall", d->swtpm);
}

static void *boot_watch(void *data)
{
	struct desk *d = data;

	d->booted = test_console_wait(URI, d->dom, "VDI-TEST-GUEST READY", BOOT_MS, d->console, sizeof(d->console));
	return NULL;
}

/* Starts d and reads its console from then on, in a thread (desk_booted() waits for it). */
static void desk_start(struct desk *d)
{
	struct vdi_error err = { { 0 } };

	if (pool_desktop_start(d->e->host, d->dom, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "start %s: %s", d->dom, err.message);
	d->booted = false;
	check(pthread_create(&d->boot, NULL, boot_watch, d) == 0);
}

/* Waits for d's banner; its boot lines must say Secure Boot on and a TPM there. */
static void desk_booted(struct desk *d, uint64_t t0)
{
	check(pthread_join(d->boot, NULL) == 0);
	if (!d->booted)
		vdi_test_fail(__FILE__, __LINE__, "%s did not boot within %u ms; its console showed:\n%s", d->dom,
			      BOOT_MS, d->console);
	vdi_test_log("%s booted in %" PRIu64 " ms", d->dom, vdi_test_now_ms() - t0);
	if (!strstr(d->console, "vdi-efi: secure-boot on") || !strstr(d->console, "vdi-tpm: present"))
		vdi_test_fail(__FILE__, __LINE__, "%s: no \"vdi-efi: secure-boot on\" and \"vdi-tpm: present\" at boot; "
			      "its console showed:\n%s", d->dom, d->console);
}

/* Types line on d's console and waits for needle; the console's text after it into out (may be NULL). */
static void expect(struct desk *d, const char *line, const char *needle, char *out, size_t outlen)
{
	static char buf[65536];

	if (!test_console_command(URI, d->dom, line, needle, ANSWER_MS, buf, sizeof(buf)))
		vdi_test_fail(__FILE__, __LINE__, "%s: \"%s\" got no \"%s\"; the console showed:\n%s", d->dom,
			      line ? line : "", needle, buf);
	if (out)
		snprintf(out, outlen, "%s", strstr(buf, needle) + strlen(needle));
}

/* The sha256 of d's TPM endorsement key (64 hex digits) into ek (65 bytes). */
static void desk_ek(struct desk *d, char *ek)
{
	char rest[256];
	size_t n;

	expect(d, "vdi-tpm-ek", "vdi-tpm-ek: ", rest, sizeof(rest));
	n = strspn(rest, "0123456789abcdef");
	if (n != 64)
		vdi_test_fail(__FILE__, __LINE__, "%s: vdi-tpm-ek gave \"%.80s\"", d->dom, rest);
	memcpy(ek, rest, 64);
	ek[64] = '\0';
}

/* Sets d's EFI variable and TPM NV index to value and reads both back. */
static void desk_write_both(struct desk *d, const char *value)
{
	char line[96], needle[96];

	snprintf(line, sizeof(line), "vdi-efivar-set %s", value);
	snprintf(needle, sizeof(needle), "vdi-efivar-written: %s\r\n", value);
	expect(d, line, needle, NULL, 0);
	snprintf(line, sizeof(line), "vdi-tpm-nv-set %s", value);
	snprintf(needle, sizeof(needle), "vdi-tpm-nv-written: %s\r\n", value);
	expect(d, line, needle, NULL, 0);
}

/* d's EFI variable and TPM NV index are value ("none": neither is there). */
static void desk_both_are(struct desk *d, const char *value)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "vdi-efivar: %s\r\n", value);
	expect(d, "vdi-efivar", needle, NULL, 0);
	snprintf(needle, sizeof(needle), "vdi-tpm-nv: %s\r\n", value);
	expect(d, "vdi-tpm-nv", needle, NULL, 0);
}

/* Whether d's NVRAM file holds the guest's EFI variable VdiMark (OVMF keeps names in UTF-16LE). */
static bool nvram_has_mark(struct desk *d)
{
	static const char name[] = "V\0d\0i\0M\0a\0r\0k\0";
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (!read_file(d->nvram, &data, &len))
		vdi_test_fail(__FILE__, __LINE__, "%s has no NVRAM file %s", d->dom, d->nvram);
	return memmem(data, len, name, sizeof(name) - 1) != NULL;
}

/* d's firmware state is on disk: its NVRAM file and swtpm state directory (and state file). */
static void check_state_there(struct desk *d)
{
	if (!exists(d->nvram) || !exists(d->swtpm) || !exists(d->permall))
		vdi_test_fail(__FILE__, __LINE__, "%s: NVRAM %s %s, swtpm state %s %s", d->dom, d->nvram,
			      exists(d->nvram) ? "there" : "missing", d->permall, exists(d->permall) ? "there" : "missing");
}

static void check_state_gone(struct desk *d, const char *after)
{
	if (exists(d->nvram) || exists(d->swtpm))
		vdi_test_fail(__FILE__, __LINE__, "%s after %s: NVRAM %s %s, swtpm state %s %s", d->dom, after, d->nvram,
			      exists(d->nvram) ? "still there" : "gone", d->swtpm, exists(d->swtpm) ? "still there" : "gone");
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", path, strerror(errno));
	return st.st_ino;
}

/* ---- the cases ------------------------------------------------------------------------------ */

static void test_firmware_state(void)
{
	struct env e = { 0 };
	static struct desk a, b; /* a: pooled, b: persistent */
	struct vdi_error err = { { 0 } };
	struct pool_desktop_info info;
	char ek_a[65], ek_b[65], ek_a2[65];
	_cleanup_free_ char *perm_a = NULL, *perm_a2 = NULL;
	size_t perm_a_len, perm_a2_len;
	ino_t nvram_b, swtpm_b;
	uint64_t t0 = vdi_test_now_ms(), t;

	env_open(&e);
	desk_new(&e, &a, 1);
	desk_new(&e, &b, 2);
	/* Made, never started: libvirt makes the NVRAM and the TPM state at the first start. */
	check_state_gone(&a, "its definition");

	/* 1: Secure Boot on and a TPM, in both. */
	t = vdi_test_now_ms();
	desk_start(&a);
	desk_start(&b);
	desk_booted(&a, t);
	desk_booted(&b, t);
	check_state_there(&a);
	check_state_there(&b);

	/* 5: one template, two endorsement keys. */
	desk_ek(&a, ek_a);
	desk_ek(&b, ek_b);
	vdi_test_log("EKs: %s %s", ek_a, ek_b);
	check(strcmp(ek_a, ek_b) != 0);

	/* 2: the first user of a (pooled) leaves an EFI variable and a TPM NV index; b's (persistent) too. */
	desk_write_both(&a, "user1-a");
	desk_write_both(&b, "user1-b");
	desk_both_are(&a, "user1-a");
	desk_both_are(&b, "user1-b");
	check(nvram_has_mark(&a));
	check(read_file(a.permall, &perm_a, &perm_a_len));

	t = vdi_test_now_ms();
	if (pool_desktop_reset(e.host, e.tmpl, a.dom, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "reset %s: %s", a.dom, err.message);
	vdi_test_log("pooled reset of %s: %" PRIu64 " ms", a.dom, vdi_test_now_ms() - t);
	check_state_gone(&a, "a pooled reset");
	check_ok(pool_desktop_get_info(e.host, a.dom, &info, &err));
	check_str_eq(info.uuid, a.uuid);
	check_int_eq(info.state, POOL_DESKTOP_STOPPED);
	pool_desktop_info_finish(&info);
	t = vdi_test_now_ms();
	desk_start(&a);

	/* 3: b, persistent, shut down (by its guest) and recomposed (a fresh overlay, the firmware kept), then started
	 * again while a boots: it keeps both (what survives a shutdown, a recompose and a start survives a
	 * shutdown and a start: one boot proves both). */
	expect(&b, "vdi-mark recomposed", "vdi-marker-written: recomposed", NULL, 0);
	check_int_eq(pool_desktop_shutdown(e.host, b.dom, SHUTDOWN_MS, &err), 1);
	check_state_there(&b);
	/* The same files stay: swtpm replaces its state file on each store (a new inode), not its directory. */
	nvram_b = inode_of(b.nvram);
	swtpm_b = inode_of(b.swtpm);
	if (pool_desktop_reset_flags(e.host, e.tmpl, b.dom, POOL_RESET_KEEP_FIRMWARE, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "recompose %s: %s", b.dom, err.message);
	check_state_there(&b);
	check_int_eq(inode_of(b.nvram), nvram_b);
	check_int_eq(inode_of(b.swtpm), swtpm_b);
	desk_start(&b);

	/* 2: the next user of a finds neither, on a fresh NVRAM (Secure Boot still on: made from the enrolled
	 * vars template) and a fresh TPM (another EK, another state file). */
	desk_booted(&a, t);
	desk_both_are(&a, "none");
	desk_ek(&a, ek_a2);
	check(strcmp(ek_a2, ek_a) != 0);
	check_state_there(&a);
	check(!nvram_has_mark(&a));
	check(read_file(a.permall, &perm_a2, &perm_a2_len));
	check(perm_a2_len != perm_a_len || memcmp(perm_a2, perm_a, perm_a_len) != 0);

	desk_booted(&b, t);
	/* The overlay is new: the disk's marker is gone with it; the EFI variable and the NV index are not. */
	check_str_contains(b.console, "vdi-marker: none");
	desk_both_are(&b, "user1-b");
	check_int_eq(inode_of(b.nvram), nvram_b);
	check_int_eq(inode_of(b.swtpm), swtpm_b);

	/* 4: deleted, neither leaves its NVRAM file nor its swtpm state directory. */
	check_state_there(&a);
	check_state_there(&b);
	check_ok(pool_desktop_delete(e.host, a.dom, &err));
	check_ok(pool_desktop_delete(e.host, b.dom, &err));
	check(!test_domain_exists(URI, a.dom));
	check(!test_domain_exists(URI, b.dom));
	check_state_gone(&a, "pool_desktop_delete");
	check_state_gone(&b, "pool_desktop_delete");

	pool_template_free(e.tmpl);
	pool_host_free(e.host);
	vdi_test_log("test_firmware_state: %" PRIu64 " ms", vdi_test_now_ms() - t0);
}

/* After the test, however it ended: its desktops (with their NVRAM and TPM state) and storage pool go. */
static void sweep(void)
{
	char pool[32], storage[64], prefix[48];
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr *doms = NULL;
	virStoragePoolPtr sp;
	int n;

	if (!c)
		return;
	names(pool, sizeof(pool), storage, sizeof(storage));
	snprintf(prefix, sizeof(prefix), "vdi-%s-", pool);
	n = virConnectListAllDomains(c, &doms, 0);
	for (int i = 0; i < n; i++) {
		if (strncmp(virDomainGetName(doms[i]), prefix, strlen(prefix)) == 0) {
			if (virDomainIsActive(doms[i]) == 1)
				(void)virDomainDestroy(doms[i]);
			(void)virDomainUndefineFlags(doms[i], VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_TPM |
							       VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
							       VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	sp = virStoragePoolLookupByName(c, storage);
	if (sp) {
		(void)virStoragePoolDestroy(sp);
		(void)virStoragePoolUndefine(sp);
		virStoragePoolFree(sp);
	}
	virConnectClose(c);
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_firmware_state, 2400),
};

int main(int argc, char **argv)
{
	run_pid = (int)getpid();
	vdi_test_set_sweeper(sweep);
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
