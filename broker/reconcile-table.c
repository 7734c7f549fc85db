/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "reconcile-table.h"

#include <stddef.h>

#include "alloc.h"
#include "cleanup.h"

enum match { ANY, YES, NO };
enum parts { PARTS_ANY, PARTS_MISSING };
enum run { RUN_ANY, RUN_STOPPED, RUN_RUNNING, RUN_HALTED };

struct rule {
	const char *state; /* NULL: any */
	enum parts parts;  /* PARTS_MISSING: the domain or its overlay is not there */
	enum run run;      /* with both parts there */
	enum match owner, persistent, paused_from;
	enum broker_reconcile_action action;
};

/* The first rule that matches decides; none: nothing to do.  Rules below the missing parts'
 * see only desktops with both parts. */
static const struct rule rules[] = {
	{ "deleting", PARTS_ANY, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_DELETE },
	/* A domain or overlay missing. */
	{ "provisioning", PARTS_MISSING, RUN_ANY, YES, ANY, ANY, BROKER_RECONCILE_REBUILD },
	{ "provisioning", PARTS_MISSING, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_DISCARD },
	{ "error", PARTS_MISSING, RUN_ANY, ANY, YES, NO, BROKER_RECONCILE_NOTHING }, /* an admin's already */
	{ NULL, PARTS_MISSING, RUN_ANY, ANY, YES, ANY, BROKER_RECONCILE_BROKEN },
	{ NULL, PARTS_MISSING, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_DISCARD },
	/* Paused ones: the tick's resume pass resumes them; running or stopped again, they come back. */
	{ "error", PARTS_ANY, RUN_HALTED, ANY, ANY, YES, BROKER_RECONCILE_NOTHING },
	{ "error", PARTS_ANY, RUN_RUNNING, ANY, ANY, YES, BROKER_RECONCILE_UNPAUSE },
	{ "error", PARTS_ANY, RUN_STOPPED, ANY, ANY, YES, BROKER_RECONCILE_UNPAUSE_STOP },
	/* A failed pooled spare: made again. */
	{ "error", PARTS_ANY, RUN_ANY, NO, NO, ANY, BROKER_RECONCILE_DISCARD },
	{ "error", PARTS_ANY, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_NOTHING },
	{ "resetting", PARTS_ANY, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_RESET },
	{ NULL, PARTS_ANY, RUN_HALTED, ANY, ANY, ANY, BROKER_RECONCILE_PAUSED },
	/* Cut short by a crash. */
	{ "provisioning", PARTS_ANY, RUN_RUNNING, ANY, ANY, ANY, BROKER_RECONCILE_RUNNING },
	{ "provisioning", PARTS_ANY, RUN_ANY, YES, ANY, ANY, BROKER_RECONCILE_MADE_START },
	{ "provisioning", PARTS_ANY, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_MADE },
	{ "starting", PARTS_ANY, RUN_RUNNING, ANY, ANY, ANY, BROKER_RECONCILE_RUNNING },
	{ "starting", PARTS_ANY, RUN_ANY, ANY, ANY, ANY, BROKER_RECONCILE_START },
	/* Started or stopped behind the store's back. */
	{ "stopped", PARTS_ANY, RUN_RUNNING, ANY, ANY, ANY, BROKER_RECONCILE_RUNNING },
	{ "free", PARTS_ANY, RUN_STOPPED, ANY, ANY, ANY, BROKER_RECONCILE_STOPPED },
	{ "assigned", PARTS_ANY, RUN_STOPPED, ANY, ANY, ANY, BROKER_RECONCILE_STOPPED },
	{ "connected", PARTS_ANY, RUN_STOPPED, ANY, ANY, ANY, BROKER_RECONCILE_STOPPED },
	{ "disconnected", PARTS_ANY, RUN_STOPPED, ANY, ANY, ANY, BROKER_RECONCILE_STOPPED },
};

static bool match(enum match m, bool v)
{
	return m == ANY || (m == YES) == v;
}

static bool rule_matches(const struct rule *r, const struct broker_reconcile_facts *f)
{
	bool missing = !f->domain || !f->overlay;

	if (r->state && !streq(r->state, f->state))
		return false;
	if (r->parts == PARTS_MISSING ? !missing : missing && r->run != RUN_ANY)
		return false;
	/* RUN_STOPPED, RUN_RUNNING, RUN_HALTED are enum broker_reconcile_run's values, one up. */
	if (r->run != RUN_ANY && (int)r->run - 1 != (int)f->run)
		return false;
	return match(r->owner, f->owner) && match(r->persistent, f->persistent) && match(r->paused_from, f->paused_from);
}

enum broker_reconcile_action broker_reconcile_decide(const struct broker_reconcile_facts *f)
{
	for (size_t i = 0; i < ELEMENTSOF(rules); i++)
		if (rule_matches(&rules[i], f))
			return rules[i].action;
	return BROKER_RECONCILE_NOTHING;
}

const char *broker_reconcile_action_name(enum broker_reconcile_action a)
{
	static const char *const names[] = {
		[BROKER_RECONCILE_NOTHING] = "nothing",   [BROKER_RECONCILE_DELETE] = "delete",
		[BROKER_RECONCILE_REBUILD] = "rebuild",   [BROKER_RECONCILE_BROKEN] = "broken",
		[BROKER_RECONCILE_DISCARD] = "discard",   [BROKER_RECONCILE_PAUSED] = "paused",
		[BROKER_RECONCILE_UNPAUSE] = "unpause",   [BROKER_RECONCILE_UNPAUSE_STOP] = "unpause-stop",
		[BROKER_RECONCILE_RUNNING] = "running",   [BROKER_RECONCILE_START] = "start",
		[BROKER_RECONCILE_MADE_START] = "made-start", [BROKER_RECONCILE_MADE] = "made",
		[BROKER_RECONCILE_RESET] = "reset",       [BROKER_RECONCILE_STOPPED] = "stopped",
	};

	return (size_t)a < ELEMENTSOF(names) && names[a] ? names[a] : "?";
}
