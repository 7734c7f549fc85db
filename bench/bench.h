/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the C benchmarks (bench-clone, bench-publish) share: the time, a
 * summary of a sample, shell commands, the stop on SIGINT/SIGTERM, and the
 * scratch directory and storage pool a run makes and removes again.
 */

#include <signal.h>
#include <stdbool.h>

/* Set by SIGINT or SIGTERM once bench_catch_signals() ran: the run stops and cleans up. */
extern volatile sig_atomic_t bench_interrupted;

/* SIGINT and SIGTERM set bench_interrupted from now on. */
void bench_catch_signals(void);

/* CLOCK_MONOTONIC in milliseconds. */
double bench_now_ms(void);

struct bench_stats {
	double min, median, p90, max;
};

/* The summary of the n values of v (borrowed; sorted in place); all 0 when n <= 0. */
struct bench_stats bench_summarize(double *v, int n);

/* Runs cmd (borrowed) with system(). Returns 0 when it exited 0, else -EIO. */
int bench_run(const char *cmd);

/* A run's scratch: dir (mkdtemp), its images/ and run/ below, and a storage pool name. */
struct bench_dirs {
	char dir[512], images[600], run_dir[600], spool[64];
};

/*
 * Makes d->dir (d borrowed) as <parent>/vdi-bench-XXXXXX (parent borrowed;
 * NULL for /var/tmp), readable by all, and names the rest.  Returns 0, or
 * -errno after perror("mkdtemp").
 */
int bench_dirs_make(struct bench_dirs *d, const char *parent);

/* Undoes a run on uri (borrowed): destroys and undefines the storage pool d->spool, removes d->dir (d borrowed). */
void bench_dirs_remove(const struct bench_dirs *d, const char *uri);
