/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Upper bounds in seconds: from a fast SQLite answer to a slow PAM stack. */
static const double bounds[BROKER_HIST_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

double broker_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void broker_histogram_observe(struct broker_histogram *h, double seconds)
{
	size_t i = 0;

	while (i < BROKER_HIST_BUCKETS && seconds > bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += seconds;
}

int broker_histogram_format(const struct broker_histogram *h, const char *name, const char *help, char **buf,
			    size_t *len)
{
	FILE *f = open_memstream(buf, len);
	uint64_t cumulative = 0;

	if (!f)
		return -ENOMEM;
	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < BROKER_HIST_BUCKETS; i++) {
		cumulative += h->counts[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cumulative);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)h->count,
		name, h->sum, name, (unsigned long long)h->count);
	return fclose(f) == 0 ? 0 : -ENOMEM;
}
