/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's counters and histograms for GET /metrics (Prometheus text
 * format 0.0.4).  Updated and read on the loop thread only.
 */

#include <stddef.h>
#include <stdint.h>

#define BROKER_HIST_BUCKETS 12

struct broker_histogram {
	uint64_t counts[BROKER_HIST_BUCKETS + 1]; /* the last one is +Inf */
	uint64_t count;
	double sum;
};

struct broker_metrics {
	uint64_t logins_ok, logins_failed;
	struct broker_histogram assignment; /* seconds from request to reply of POST /pools/{p}/desktop */
	struct broker_histogram pam;        /* seconds of one PAM conversation */
};

void broker_histogram_observe(struct broker_histogram *h, double seconds);

/* Appends the histogram as name_bucket / name_sum / name_count lines. Returns 0 or -ENOMEM. */
int broker_histogram_format(const struct broker_histogram *h, const char *name, const char *help, char **buf,
			    size_t *len);

/* Seconds on CLOCK_MONOTONIC. */
double broker_monotonic(void);
