/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The gateway's counters, touched on the loop thread only; /metrics prints them. */

#include <stddef.h>
#include <stdint.h>

enum gw_refusal {
	GW_REFUSED_NO_TOKEN,
	GW_REFUSED_MALFORMED,    /* token not in the v1 format */
	GW_REFUSED_SIGNATURE,    /* bad MAC: forged, tampered or another key */
	GW_REFUSED_EXPIRED,
	GW_REFUSED_TARGET,       /* tgt outside allowed_targets, or not the CONNECT's desktop */
	GW_REFUSED_BAD_REQUEST,  /* neither /spice nor a well-formed CONNECT */
	GW_REFUSED_ORIGIN,       /* a WebSocket from a page of an origin not in allowed_origins */
	GW_REFUSED_UNREACHABLE,  /* the target did not answer */
	GW_REFUSED_SUPERSEDED,   /* a token whose viewer another viewer of the desktop took over */
	GW_REFUSED_LIFETIME,     /* a token expiring further ahead than [tokens] ttl (+ skew) */
	GW_REFUSED_N,
};

struct gw_metrics {
	uint64_t open;           /* relays now */
	uint64_t opened_total;
	uint64_t bytes_to_target;
	uint64_t bytes_to_client;
	uint64_t refused[GW_REFUSED_N];
	uint64_t taken_over;     /* relays closed because another viewer opened their desktop */
};

const char *gw_refusal_name(enum gw_refusal r);

/* Prometheus text; a new string. */
char *gw_metrics_text(const struct gw_metrics *m);
