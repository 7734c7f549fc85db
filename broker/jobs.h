/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A desktop's libvirt work: one job at a time per desktop (it is "busy" meanwhile), run on a
 * worker, its outcome applied on the loop by the done function its submitter gave.  Loop thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "vmpool.h"

struct broker_desks;

enum broker_job_op {
	BROKER_JOB_CREATE,    /* clone (then start when job->start) */
	BROKER_JOB_START,
	BROKER_JOB_RESET,     /* fresh overlay (then start when job->start) */
	BROKER_JOB_SHUTDOWN,  /* ACPI, then power off */
	BROKER_JOB_DELETE,
	BROKER_JOB_CHECK,     /* is it still running? (after a "stopped" event) */
	BROKER_JOB_RECONCILE, /* list what libvirt holds */
	BROKER_JOB_REBUILD,   /* delete what is left of a half-made clone, clone again (then start when job->start) */
	BROKER_JOB_RESUME,    /* resume a desktop the hypervisor paused on a disk error, when that is gone */
	BROKER_JOB_RECOMPOSE, /* shut down (ACPI, then power off), fresh overlay, data disk as its pool says */
};

/* "create", "start", ...: for messages. */
const char *broker_job_op_name(enum broker_job_op op);

/* What one host held when a reconcile listed it. */
struct broker_host_listing {
	struct pool_desktop_info *domains;
	size_t n_domains;
	char **overlays;
	int result;
	struct vdi_error err;
};

struct broker_job {
	struct broker_desks *d;
	enum broker_job_op op;
	int64_t id;        /* the desktop's row; 0: none (an orphan's delete), -1: a reconcile */
	char pool[40];
	char domain[128];
	char actor[128];   /* for the audit log */
	struct pool_host *host;
	bool start;
	bool keeper;       /* one of the prestart keeper's */
	unsigned shutdown_ms;
	/* On the loop, after the work: applies the outcome (cancelled: the broker is stopping). */
	void (*done)(struct broker_job *j, bool cancelled);
	/* BROKER_JOB_CREATE, _RESET, _REBUILD, _RECOMPOSE: the template's current version, copied from the store */
	char *tpl_name, *tpl_disk, *tpl_xml;
	int64_t tpl_version;
	int64_t data_disk_mib; /* ... and the user data disk its pool gives (CREATE, REBUILD, RECOMPOSE; 0: none) */
	struct pool_nic nic;   /* ... and the NIC its pool gives (CREATE, REBUILD; POOL_NIC_TEMPLATE: the template's) */
	int usb_redirect;      /* ... and its USB redirection channels (CREATE, REBUILD, RESET, RECOMPOSE;
				* POOL_USB_REDIRECT_TEMPLATE: the template's own) */
	int heads;             /* ... and its template's monitors (CREATE, REBUILD, RESET, RECOMPOSE; 1: its XML's video) */
	bool persistent;       /* ... and whether its pool is persistent (RESET keeps NVRAM and TPM state then) */
	/* results */
	int result;
	int start_result;
	enum pool_desktop_state state;
	enum pool_pause_reason pause_reason; /* BROKER_JOB_RESUME: why it is paused (still) */
	struct vdi_error err;
	/* BROKER_JOB_RECONCILE: one listing per host */
	struct broker_host_listing *listings;
	size_t n_listings;
};

/*
 * Starts op on desktop id (whose row is given, borrowed, or read here), with done to apply
 * its outcome.  The desktop is busy until the job is done.  0, -EBUSY, -ENOENT, -ENODEV (its
 * host is not configured) or -errno.
 */
int broker_job_submit(struct broker_desks *d, enum broker_job_op op, int64_t id, json_t *row, bool start,
		      bool keeper, const char *actor, void (*done)(struct broker_job *j, bool cancelled));

/* A job with no desktop row behind it (a reconcile's listing, an orphan's delete): new, to fill and run. */
struct broker_job *broker_job_new(struct broker_desks *d, enum broker_job_op op, int64_t id, const char *actor,
				  void (*done)(struct broker_job *j, bool cancelled));
int broker_job_run(struct broker_job *j);

void broker_job_free(struct broker_job *j);

/* Whether desktop id has a job under way. */
bool broker_desks_busy(struct broker_desks *d, int64_t id);
