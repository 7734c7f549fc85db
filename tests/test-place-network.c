/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * broker/hosts.c's placement by libvirt network, on two test-driver hosts (test:///default and one from a
 * file) whose slots say what their last look found: a host without the desktop's network cannot take it,
 * one not looked at yet can; broker_hosts_any_has_network(); what the network API notes in a slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "desktops-private.h"
#include "harness.h"
#include "hosts.h"
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

static const struct vdi_test tests[] = {
	VDI_TEST(test_place_by_network),
	VDI_TEST(test_any_has_network),
	VDI_TEST(test_note_network),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
