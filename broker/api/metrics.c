/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GET /metrics: Prometheus text format 0.0.4, for this host only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "broker.h"
#include "cleanup.h"
#include "desktops.h"
#include "http.h"
#include "json.h"
#include "metrics.h"
#include "store-versions.h"
#include "store-views.h"
#include "template-cache.h"
#include "vmpool.h"

/* Label values are pool names and URIs; escape what the format wants escaped anyway. */
static void label(FILE *f, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* Desktops per template version (the versions whose base is or was on disk). */
static void versions_metric(FILE *f, json_t *versions)
{
	size_t i;
	json_t *v;

	fprintf(f, "# HELP vdi_template_version_desktops Desktops whose overlay is on a template version.\n"
		   "# TYPE vdi_template_version_desktops gauge\n");
	json_array_foreach(versions, i, v) {
		const char *state = json_string_value(json_object_get(v, "state"));

		if (!state || streq(state, "scheduled") || streq(state, "making"))
			continue;
		fputs("vdi_template_version_desktops{template=\"", f);
		label(f, json_string_value(json_object_get(v, "template")));
		fprintf(f, "\",version=\"%lld\"} %lld\n", (long long)json_integer_value(json_object_get(v, "version")),
			(long long)json_integer_value(json_object_get(v, "desktops")));
	}
}

void broker_api_metrics(struct broker_req *req, void *userdata)
{
	struct broker *b = userdata;
	_cleanup_json_ json_t *rows = NULL, *versions = NULL;
	_cleanup_free_ char *text = NULL, *h1 = NULL, *h2 = NULL;
	size_t len = 0, l1 = 0, l2 = 0, i;
	struct broker_template_cache_stats tc;
	json_t *row;
	FILE *f;

	if (!broker_req_is_local(req)) {
		broker_req_reply_error(req, 403, "metrics are served to this host only");
		return;
	}
	if (broker_store_desktop_counts(b->store, &rows) < 0 ||
	    broker_store_template_versions(b->store, NULL, &versions) < 0 ||
	    broker_histogram_format(&b->metrics.assignment, "vdi_assignment_seconds",
				    "Time from a desktop request to its answer.", &h1, &l1) < 0 ||
	    broker_histogram_format(&b->metrics.pam, "vdi_pam_seconds", "Time of one PAM login conversation.", &h2,
				    &l2) < 0) {
		broker_req_reply_error(req, 500, "cannot gather the metrics");
		return;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	fprintf(f, "# HELP vdi_logins_total Logins by result.\n# TYPE vdi_logins_total counter\n"
		   "vdi_logins_total{result=\"ok\"} %llu\nvdi_logins_total{result=\"failed\"} %llu\n",
		(unsigned long long)b->metrics.logins_ok, (unsigned long long)b->metrics.logins_failed);
	fprintf(f, "# HELP vdi_desktops Desktops by pool and state.\n# TYPE vdi_desktops gauge\n");
	json_array_foreach(rows, i, row) {
		fputs("vdi_desktops{pool=\"", f);
		label(f, json_string_value(json_object_get(row, "pool")));
		fputs("\",state=\"", f);
		label(f, json_string_value(json_object_get(row, "state")));
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(json_object_get(row, "n")));
	}
	versions_metric(f, versions);
	fprintf(f, "# HELP vdi_host_up Whether the libvirt connection to a host is open.\n# TYPE vdi_host_up gauge\n");
	for (size_t h = 0; h < broker_desks_n_hosts(b->desks); h++) {
		struct pool_host *host = broker_desks_host_at(b->desks, h);

		fputs("vdi_host_up{uri=\"", f);
		label(f, pool_host_uri(host));
		fprintf(f, "\"} %d\n", pool_host_is_alive(host) ? 1 : 0);
	}
	fprintf(f, "# HELP vdi_events_waiting libvirt events kept while the database refuses their writes.\n"
		   "# TYPE vdi_events_waiting gauge\nvdi_events_waiting %zu\n",
		broker_desks_events_waiting(b->desks));
	broker_template_cache_stats(broker_desks_templates(b->desks), &tc);
	fprintf(f, "# HELP vdi_template_cache_hits_total Clones and resets whose vmpool template was made already.\n"
		   "# TYPE vdi_template_cache_hits_total counter\nvdi_template_cache_hits_total %llu\n"
		   "# HELP vdi_template_cache_misses_total Clones and resets that made their vmpool template.\n"
		   "# TYPE vdi_template_cache_misses_total counter\nvdi_template_cache_misses_total %llu\n",
		(unsigned long long)tc.hits, (unsigned long long)tc.misses);
	fwrite(h1, 1, l1, f);
	fwrite(h2, 1, l2, f);
	if (fclose(f) != 0) {
		broker_req_reply_error(req, 500, "out of memory");
		return;
	}
	broker_req_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
}
