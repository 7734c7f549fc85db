/* SPDX-License-Identifier: GPL-2.0-or-later */
/* broker/reconcile-table.c: what reconcile does with a desktop, for each stored state against libvirt. */
#include <stdio.h>

#include "cleanup.h"
#include "harness.h"
#include "reconcile-table.h"

/* What libvirt holds. */
enum held { GONE, NO_OVERLAY, NO_DOMAIN, STOPPED, RUNNING, HALTED };

struct want {
	const char *state;
	enum held held;
	bool owner, persistent, paused_from;
	enum broker_reconcile_action action;
};

static struct broker_reconcile_facts facts(const struct want *w)
{
	return (struct broker_reconcile_facts){
		.state = w->state,
		.owner = w->owner,
		.persistent = w->persistent,
		.paused_from = w->paused_from,
		.domain = w->held != GONE && w->held != NO_DOMAIN,
		.overlay = w->held != GONE && w->held != NO_OVERLAY,
		.run = w->held == RUNNING ? BROKER_RUN_RUNNING : w->held == HALTED ? BROKER_RUN_HALTED : BROKER_RUN_STOPPED,
	};
}

static void check_all(const struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct broker_reconcile_facts f = facts(&w[i]);
		enum broker_reconcile_action got = broker_reconcile_decide(&f);

		if (got != w[i].action)
			vdi_test_fail(__FILE__, __LINE__,
				      "case %zu (%s, held %d, owner %d, persistent %d, paused_from %d): %s, wanted %s", i,
				      w[i].state, w[i].held, w[i].owner, w[i].persistent, w[i].paused_from,
				      broker_reconcile_action_name(got), broker_reconcile_action_name(w[i].action));
	}
}

/* A delete under way is finished, whatever libvirt holds. */
static void test_deleting(void)
{
	const struct want w[] = {
		{ "deleting", GONE, false, false, false, BROKER_RECONCILE_DELETE },
		{ "deleting", RUNNING, true, true, false, BROKER_RECONCILE_DELETE },
		{ "deleting", HALTED, false, false, false, BROKER_RECONCILE_DELETE },
	};

	check_all(w, ELEMENTSOF(w));
}

/* A domain or overlay missing: a promised clone is made again; a user's disk is an admin's; the rest goes. */
static void test_missing_parts(void)
{
	const struct want w[] = {
		{ "provisioning", GONE, true, false, false, BROKER_RECONCILE_REBUILD },
		{ "provisioning", NO_OVERLAY, true, true, false, BROKER_RECONCILE_REBUILD },
		{ "provisioning", GONE, false, false, false, BROKER_RECONCILE_DISCARD },
		{ "provisioning", NO_DOMAIN, false, true, false, BROKER_RECONCILE_DISCARD },
		{ "assigned", NO_OVERLAY, true, true, false, BROKER_RECONCILE_BROKEN },
		{ "stopped", NO_DOMAIN, true, true, false, BROKER_RECONCILE_BROKEN },
		{ "free", GONE, false, true, false, BROKER_RECONCILE_BROKEN },
		/* already out of service: left to the admin, unless it was only paused */
		{ "error", GONE, true, true, false, BROKER_RECONCILE_NOTHING },
		{ "error", NO_OVERLAY, true, true, true, BROKER_RECONCILE_BROKEN },
		/* pooled: nobody's disk is lost */
		{ "assigned", GONE, true, false, false, BROKER_RECONCILE_DISCARD },
		{ "free", NO_OVERLAY, false, false, false, BROKER_RECONCILE_DISCARD },
		{ "error", GONE, false, false, true, BROKER_RECONCILE_DISCARD },
		{ "resetting", GONE, false, false, false, BROKER_RECONCILE_DISCARD },
		{ "starting", NO_DOMAIN, true, false, false, BROKER_RECONCILE_DISCARD },
	};

	check_all(w, ELEMENTSOF(w));
}

/* Paused out of service, and back. */
static void test_paused(void)
{
	const struct want w[] = {
		{ "assigned", HALTED, true, false, false, BROKER_RECONCILE_PAUSED },
		{ "free", HALTED, false, false, false, BROKER_RECONCILE_PAUSED },
		{ "stopped", HALTED, false, true, false, BROKER_RECONCILE_PAUSED },
		{ "starting", HALTED, true, false, false, BROKER_RECONCILE_PAUSED },
		{ "error", HALTED, true, false, true, BROKER_RECONCILE_NOTHING },
		{ "error", RUNNING, true, false, true, BROKER_RECONCILE_UNPAUSE },
		{ "error", STOPPED, true, true, true, BROKER_RECONCILE_UNPAUSE_STOP },
		/* a reset under way is finished first */
		{ "resetting", HALTED, false, false, false, BROKER_RECONCILE_RESET },
	};

	check_all(w, ELEMENTSOF(w));
}

/* A failed desktop: a pooled spare nobody owns is made again, the others wait for an admin. */
static void test_error(void)
{
	const struct want w[] = {
		{ "error", RUNNING, false, false, false, BROKER_RECONCILE_DISCARD },
		{ "error", STOPPED, false, false, false, BROKER_RECONCILE_DISCARD },
		{ "error", HALTED, false, false, false, BROKER_RECONCILE_DISCARD },
		{ "error", STOPPED, true, false, false, BROKER_RECONCILE_NOTHING },
		{ "error", RUNNING, false, true, false, BROKER_RECONCILE_NOTHING },
	};

	check_all(w, ELEMENTSOF(w));
}

/* What a crash cut short is finished. */
static void test_cut_short(void)
{
	const struct want w[] = {
		{ "provisioning", RUNNING, true, false, false, BROKER_RECONCILE_RUNNING },
		{ "provisioning", STOPPED, true, false, false, BROKER_RECONCILE_MADE_START },
		{ "provisioning", STOPPED, false, false, false, BROKER_RECONCILE_MADE },
		{ "starting", RUNNING, true, false, false, BROKER_RECONCILE_RUNNING },
		{ "starting", STOPPED, false, false, false, BROKER_RECONCILE_START },
		{ "resetting", RUNNING, false, false, false, BROKER_RECONCILE_RESET },
		{ "resetting", STOPPED, true, true, false, BROKER_RECONCILE_RESET },
	};

	check_all(w, ELEMENTSOF(w));
}

/* Started or stopped behind the store's back; and what agrees with libvirt is left alone. */
static void test_behind_the_back(void)
{
	const struct want w[] = {
		{ "stopped", RUNNING, false, false, false, BROKER_RECONCILE_RUNNING },
		{ "free", STOPPED, false, false, false, BROKER_RECONCILE_STOPPED },
		{ "assigned", STOPPED, true, false, false, BROKER_RECONCILE_STOPPED },
		{ "connected", STOPPED, true, true, false, BROKER_RECONCILE_STOPPED },
		{ "disconnected", STOPPED, true, false, false, BROKER_RECONCILE_STOPPED },
		{ "stopped", STOPPED, true, true, false, BROKER_RECONCILE_NOTHING },
		{ "free", RUNNING, false, false, false, BROKER_RECONCILE_NOTHING },
		{ "assigned", RUNNING, true, false, false, BROKER_RECONCILE_NOTHING },
		{ "connected", RUNNING, true, true, false, BROKER_RECONCILE_NOTHING },
		{ "disconnected", RUNNING, true, false, false, BROKER_RECONCILE_NOTHING },
	};

	check_all(w, ELEMENTSOF(w));
}

/* Every action has a name (messages and this test's own use them). */
static void test_names(void)
{
	for (int a = BROKER_RECONCILE_NOTHING; a <= BROKER_RECONCILE_STOPPED; a++)
		check(broker_reconcile_action_name(a)[0] != '?');
	check_str_eq(broker_reconcile_action_name(BROKER_RECONCILE_STOPPED + 1), "?");
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_deleting),
	VDI_TEST(test_missing_parts),
	VDI_TEST(test_paused),
	VDI_TEST(test_error),
	VDI_TEST(test_cut_short),
	VDI_TEST(test_behind_the_back),
	VDI_TEST(test_names),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
