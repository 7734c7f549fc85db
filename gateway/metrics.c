/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

const char *gw_refusal_name(enum gw_refusal r)
{
	static const char *const names[] = {
		[GW_REFUSED_NO_TOKEN] = "no-token",       [GW_REFUSED_MALFORMED] = "malformed",
		[GW_REFUSED_SIGNATURE] = "bad-signature", [GW_REFUSED_EXPIRED] = "expired",
		[GW_REFUSED_TARGET] = "target",           [GW_REFUSED_BAD_REQUEST] = "bad-request", [GW_REFUSED_ORIGIN] = "origin",
		[GW_REFUSED_UNREACHABLE] = "unreachable", [GW_REFUSED_SUPERSEDED] = "superseded",
		[GW_REFUSED_LIFETIME] = "lifetime",
	};

	return (unsigned)r < GW_REFUSED_N ? names[r] : "unknown";
}

char *gw_metrics_text(const struct gw_metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"# HELP vdi_gateway_connections Relays open now.\n"
		"# TYPE vdi_gateway_connections gauge\n"
		"vdi_gateway_connections %" PRIu64 "\n"
		"# HELP vdi_gateway_connections_total Relays opened.\n"
		"# TYPE vdi_gateway_connections_total counter\n"
		"vdi_gateway_connections_total %" PRIu64 "\n"
		"# HELP vdi_gateway_bytes_total Bytes relayed, by direction.\n"
		"# TYPE vdi_gateway_bytes_total counter\n"
		"vdi_gateway_bytes_total{direction=\"to_desktop\"} %" PRIu64 "\n"
		"vdi_gateway_bytes_total{direction=\"to_client\"} %" PRIu64 "\n"
		"# HELP vdi_gateway_taken_over_total Relays closed because another viewer opened their desktop.\n"
		"# TYPE vdi_gateway_taken_over_total counter\n"
		"vdi_gateway_taken_over_total %" PRIu64 "\n"
		"# HELP vdi_gateway_refused_total Connections refused, by reason.\n"
		"# TYPE vdi_gateway_refused_total counter\n",
		m->open, m->opened_total, m->bytes_to_target, m->bytes_to_client, m->taken_over);
	for (int r = 0; r < GW_REFUSED_N; r++)
		fprintf(f, "vdi_gateway_refused_total{reason=\"%s\"} %" PRIu64 "\n", gw_refusal_name(r), m->refused[r]);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
