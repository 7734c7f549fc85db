/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * broker/hosts.c's placement by libvirt network, on two test-driver hosts (test:///default and one from a
 * file) whose slots say what their last look found: a host without the desktop's network cannot take it,
 * one not looked at yet can; broker_hosts_any_has_network(); what the network API notes in a slot.  And by
 * hardware: a template whose row asks for a TPM (or UEFI, Secure Boot) goes only to a host that offered it at its
 * last look (or was not asked yet); broker_hosts_missing_hardware().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "desktops-private.h"
#include "harness.h"
#include "hosts.h"
#include "store-catalog.h"
#include "store-private.h"
#include "store.h"
#include "vmpool.h"

#define GIB (UINT64_C(1) << 30)

struct fixture {
	struct broker_desks d;
	struct broker_host_slot slots[2];
	char h2_uri[600];
};

static void fixture_setup(struct fixture *f)
{
	char path[512], db[512];
	struct vdi_error err = { 0 };
	FILE *file;

	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), "%s/host2.xml", vdi_test_tmpdir());
	check(file = fopen(path, "we"));
	fputs("<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>"
	      "<active>2</active><mhz>2000</mhz></cpu><memory>8388608</memory></node>\n", file);
	fclose(file);
	snprintf(f->h2_uri, sizeof(f->h2_uri), "test://%s", path);
	snprintf(db, sizeof(db), "%s/vdi.db", vdi_test_tmpdir());
	check_ok(broker_store_open(db, &f->d.store, &err));
	for (size_t i = 0; i < 2; i++) {
		struct pool_host_options o = {
			.uri = i == 0 ? "test:///default" : f->h2_uri,
			.storage_pool = "vdi-test",
			.storage_path = vdi_test_tmpdir(),
			.runtime_dir = vdi_test_tmpdir(),
		};

		check_ok(pool_host_new(&o, &f->slots[i].host, &err));
		f->slots[i].owner = &f->d;
		f->slots[i].index = i;
		f->slots[i].looked = true;
	}
	f->d.hosts = f->slots;
	f->d.n_hosts = 2;
	/* The second host has more memory free: without networks, it wins. */
	f->slots[0].free_memory = 1 * GIB;
	f->slots[1].free_memory = 8 * GIB;
	check(f->slots[0].networks = strdup(",default,lab,"));
	check(f->slots[1].networks = strdup(",default,"));
}

static void fixture_finish(struct fixture *f)
{
	for (size_t i = 0; i < 2; i++) {
		pool_host_free(f->slots[i].host);
		free(f->slots[i].networks);
		free(f->slots[i].hardware);
	}
	broker_store_close(f->d.store);
}

static void check_place(struct fixture *f, const char *network, const char *want)
{
	const char *got = broker_hosts_place(&f->d, "golden", network);

	vdi_test_log("network %s: %s", network ? network : "(none)", got ? got : "(nowhere)");
	if (!want)
		check(!got);
	else
		check_str_eq(got, want);
}

/* Only hosts with the network active take the desktop; none: nowhere; a desktop that needs none: anywhere. */
static void test_place_by_network(void)
{
	struct fixture f;

	fixture_setup(&f);
	check_place(&f, NULL, f.h2_uri);
	check_place(&f, "default", f.h2_uri);
	check_place(&f, "lab", "test:///default");
	check_place(&f, "ghost", NULL);
	/* Draining still counts first. */
	f.slots[0].draining = true;
	check_place(&f, "lab", NULL);
	f.slots[0].draining = false;
	/* A host not looked at yet counts as having every network. */
	free(f.slots[1].networks);
	f.slots[1].networks = NULL;
	check_place(&f, "lab", f.h2_uri);
	check_place(&f, "ghost", f.h2_uri);
	fixture_finish(&f);
}

/* Some host that answers had it active at its last look, or was not looked at yet (it may have it: a pool
 * named right after the broker started is not refused for a look that did not happen). */
static void test_any_has_network(void)
{
	struct fixture f;

	fixture_setup(&f);
	check(broker_hosts_any_has_network(&f.d, "default"));
	check(broker_hosts_any_has_network(&f.d, "lab"));
	check(!broker_hosts_any_has_network(&f.d, "ghost"));
	check(!broker_hosts_any_has_network(&f.d, NULL));
	free(f.slots[0].networks);
	f.slots[0].networks = NULL;
	check(broker_hosts_any_has_network(&f.d, "lab"));
	check(broker_hosts_any_has_network(&f.d, "ghost"));
	check(broker_hosts_any_has_network(&f.d, "default"));
	fixture_finish(&f);
}

/* What the network API made or removed shows in the slot (and so in placement) before the next look. */
static void test_note_network(void)
{
	struct fixture f;

	fixture_setup(&f);
	broker_hosts_note_network(&f.d, f.h2_uri, "lab", true);
	check_str_eq(f.slots[1].networks, ",default,lab,");
	check_place(&f, "lab", f.h2_uri);
	broker_hosts_note_network(&f.d, f.h2_uri, "lab", true);
	check_str_eq(f.slots[1].networks, ",default,lab,");
	broker_hosts_note_network(&f.d, "test:///default", "lab", false);
	check_str_eq(f.slots[0].networks, ",default,");
	broker_hosts_note_network(&f.d, "test:///default", "default", false);
	check_str_eq(f.slots[0].networks, ",");
	broker_hosts_note_network(&f.d, "test:///default", "default", false);
	check_str_eq(f.slots[0].networks, ",");
	broker_hosts_note_network(&f.d, f.h2_uri, "default", false);
	check_str_eq(f.slots[1].networks, ",lab,");
	check_place(&f, "default", NULL);
	/* A host not looked at yet keeps "not known"; a host not configured is none of its business. */
	free(f.slots[1].networks);
	f.slots[1].networks = NULL;
	broker_hosts_note_network(&f.d, f.h2_uri, "lab", true);
	check(!f.slots[1].networks);
	broker_hosts_note_network(&f.d, "qemu+ssh://elsewhere/system", "lab", true);
	check_str_eq(f.slots[0].networks, ",");
	fixture_finish(&f);
}

/* Template name (borrowed) in the store, asking firmware (borrowed: "bios" or "uefi"), secure_boot and tpm. */
static void add_template(struct fixture *f, const char *name, const char *firmware, int secure_boot, int tpm)
{
	struct vdi_error err = { 0 };

	check_ok(broker_store_add_template(f->d.store, name, "/nonexistent/golden.qcow2", "<domain/>", 1, &err));
	check_ok(broker_store_exec(f->d.store, "UPDATE templates SET firmware = ?2, secure_boot = ?3, tpm = ?4"
				   " WHERE name = ?1", "ssii", name, firmware, (int64_t)secure_boot, (int64_t)tpm));
}

static void check_place_template(struct fixture *f, const char *template, const char *want)
{
	const char *got = broker_hosts_place(&f->d, template, NULL);

	vdi_test_log("template %s: %s", template, got ? got : "(nowhere)");
	if (!want)
		check(!got);
	else
		check_str_eq(got, want);
}

/* The freer second host has no TPM: a template that needs one goes to the first; one that needs nothing (or
 * a template not in the store) to the freer; with the first host not asked yet, it still counts. */
static void test_place_by_hardware(void)
{
	struct pool_hw_features needs;
	struct fixture f;

	fixture_setup(&f);
	add_template(&f, "win11", "uefi", 1, 1);
	add_template(&f, "tpmbios", "bios", 0, 1);
	add_template(&f, "plain", "bios", 0, 0);
	check_ok(broker_hosts_template_needs(&f.d, "win11", &needs));
	check(needs.uefi && needs.secure_boot && needs.tpm);
	check_ok(broker_hosts_template_needs(&f.d, "plain", &needs));
	check(!needs.uefi && !needs.secure_boot && !needs.tpm);
	check(f.slots[0].hardware = strdup(",uefi,secure-boot,tpm,"));
	check(f.slots[1].hardware = strdup(",uefi,secure-boot,"));
	check_place_template(&f, "win11", "test:///default");
	check_place_template(&f, "tpmbios", "test:///default");
	check_place_template(&f, "plain", f.h2_uri);
	check_place_template(&f, "golden", f.h2_uri);
	check(broker_hosts_can_run_on(&f.slots[0], NULL, &(struct pool_hw_features){ .tpm = true }));
	check(!broker_hosts_can_run_on(&f.slots[1], NULL, &(struct pool_hw_features){ .tpm = true }));
	check(broker_hosts_can_run_on(&f.slots[1], "default", NULL));
	check(!broker_hosts_can_run_on(&f.slots[1], "lab", NULL));
	/* Draining the one with a TPM: nowhere. */
	f.slots[0].draining = true;
	check_place_template(&f, "win11", NULL);
	check_place_template(&f, "plain", f.h2_uri);
	f.slots[0].draining = false;
	/* Neither offers a TPM: nowhere. */
	free(f.slots[0].hardware);
	check(f.slots[0].hardware = strdup(",uefi,"));
	check_place_template(&f, "tpmbios", NULL);
	check_place_template(&f, "win11", NULL);
	/* A host not asked yet counts as offering all. */
	free(f.slots[0].hardware);
	f.slots[0].hardware = NULL;
	check_place_template(&f, "win11", "test:///default");
	check(broker_hosts_can_run_on(&f.slots[0], NULL, &(struct pool_hw_features){ .tpm = true }));
	/* Network and hardware both: the first has lab, but with ",uefi," no TPM. */
	check(f.slots[0].hardware = strdup(",uefi,"));
	check(!broker_hosts_place(&f.d, "tpmbios", "lab"));
	check_str_eq(broker_hosts_place(&f.d, "plain", "lab"), "test:///default");
	fixture_finish(&f);
}

/* The first need no host that answers offers, as its template field's name; NULL when a host offers all. */
static void test_missing_hardware(void)
{
	const struct pool_hw_features none = { 0 }, tpm = { .tpm = true }, uefi = { .uefi = true },
				      win11 = { .uefi = true, .secure_boot = true, .tpm = true };
	struct fixture f;

	fixture_setup(&f);
	/* Neither looked at yet: both may offer everything. */
	check(!broker_hosts_missing_hardware(&f.d, &win11));
	check(f.slots[0].hardware = strdup(",uefi,"));
	check(f.slots[1].hardware = strdup(","));
	check(!broker_hosts_missing_hardware(&f.d, &none));
	check(!broker_hosts_missing_hardware(&f.d, NULL));
	check(!broker_hosts_missing_hardware(&f.d, &uefi));
	check_str_eq(broker_hosts_missing_hardware(&f.d, &tpm), "tpm");
	check_str_eq(broker_hosts_missing_hardware(&f.d, &win11), "secure_boot");
	/* Each offered somewhere but not together: the first host's first lack. */
	free(f.slots[1].hardware);
	check(f.slots[1].hardware = strdup(",tpm,"));
	check(!broker_hosts_missing_hardware(&f.d, &tpm));
	check_str_eq(broker_hosts_missing_hardware(&f.d, &(struct pool_hw_features){ .uefi = true, .tpm = true }),
		     "tpm");
	check_str_eq(broker_hosts_missing_hardware(&f.d, &win11), "secure_boot");
	/* One offers all. */
	free(f.slots[1].hardware);
	check(f.slots[1].hardware = strdup(",uefi,secure-boot,tpm,"));
	check(!broker_hosts_missing_hardware(&f.d, &win11));
	/* One not asked yet. */
	free(f.slots[1].hardware);
	f.slots[1].hardware = NULL;
	check(!broker_hosts_missing_hardware(&f.d, &win11));
	fixture_finish(&f);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_place_by_network),
	VDI_TEST(test_any_has_network),
	VDI_TEST(test_note_network),
	VDI_TEST(test_place_by_hardware),
	VDI_TEST(test_missing_hardware),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
