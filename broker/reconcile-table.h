/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What reconcile does with one desktop: a table of its stored state (and owner, pool kind,
 * pause) against what libvirt holds of it.  A pure function, tested on its own.
 */

#include <stdbool.h>

/* What libvirt runs of a desktop whose domain and overlay are both there. */
enum broker_reconcile_run {
	BROKER_RUN_STOPPED, /* shut off (or any state that is not running) */
	BROKER_RUN_RUNNING, /* running, or paused by libvirt itself or asleep: in service */
	BROKER_RUN_HALTED,  /* paused out of service: a disk error, a person, a fault */
};

struct broker_reconcile_facts {
	const char *state;  /* the stored state */
	bool owner;         /* someone owns it */
	bool persistent;    /* its pool is persistent */
	bool paused_from;   /* the store keeps a state to go back to (a paused desktop) */
	bool domain;        /* libvirt has its domain */
	bool overlay;       /* and its overlay */
	enum broker_reconcile_run run; /* with both */
};

enum broker_reconcile_action {
	BROKER_RECONCILE_NOTHING,
	BROKER_RECONCILE_DELETE,       /* finish the delete under way */
	BROKER_RECONCILE_REBUILD,      /* a clone cut short that a user was promised: make it again */
	BROKER_RECONCILE_BROKEN,       /* a user's disk may be in what is left: "error", an admin decides */
	BROKER_RECONCILE_DISCARD,      /* nobody's loss: "deleting", and delete what is left */
	BROKER_RECONCILE_PAUSED,       /* out of service until it runs again */
	BROKER_RECONCILE_UNPAUSE,      /* runs again: back to the state it had */
	BROKER_RECONCILE_UNPAUSE_STOP, /* stopped while paused: back, then what a stopped desktop becomes */
	BROKER_RECONCILE_RUNNING,      /* runs: free, or assigned to its owner */
	BROKER_RECONCILE_START,        /* a start cut short: start it */
	BROKER_RECONCILE_MADE_START,   /* a clone made for a waiting user: "starting", and start it */
	BROKER_RECONCILE_MADE,         /* a clone made for nobody yet: "stopped" */
	BROKER_RECONCILE_RESET,        /* a reset cut short: reset it */
	BROKER_RECONCILE_STOPPED,      /* stopped behind the store's back: released or "stopped" */
};

enum broker_reconcile_action broker_reconcile_decide(const struct broker_reconcile_facts *f);

/* "nothing", "delete", ...: for messages and tests. */
const char *broker_reconcile_action_name(enum broker_reconcile_action a);
