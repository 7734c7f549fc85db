/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmpool.h"

/* Whether a is a better place than b (b may be NULL). */
static bool better(const struct broker_place_candidate *a, const struct broker_place_candidate *b)
{
	if (!b)
		return true;
	if (a->free_bytes != b->free_bytes)
		return a->free_bytes > b->free_bytes;
	return a->desktops < b->desktops;
}

int broker_placement_pick(const struct broker_place_candidate *c, size_t n)
{
	const struct broker_place_candidate *best = NULL;
	int pick = -1;

	for (size_t i = 0; i < n; i++)
		if (c[i].can_take && better(&c[i], best)) {
			best = &c[i];
			pick = (int)i;
		}
	return pick;
}

bool broker_placement_needs_counts(const struct broker_place_candidate *c, size_t n)
{
	int best = broker_placement_pick(c, n);
	size_t ties = 0;

	for (size_t i = 0; best >= 0 && i < n; i++)
		if (c[i].can_take && c[i].free_bytes == c[best].free_bytes)
			ties++;
	return ties >= 2;
}

bool broker_placement_has_network(const char *networks, const char *name)
{
	size_t len;

	if (!name || !networks)
		return true;
	len = strlen(name);
	if (strchr(name, ','))
		return false; /* no libvirt network name vdi takes */
	for (const char *p = strchr(networks, ','); len && p && p[1]; p = strchr(p + 1, ','))
		if (strncmp(p + 1, name, len) == 0 && p[1 + len] == ',')
			return true;
	return false;
}

char *broker_placement_hardware_string(const struct pool_hw_features *f)
{
	char *s;

	if (asprintf(&s, ",%s%s%s", f->uefi ? "uefi," : "", f->secure_boot ? "secure-boot," : "",
		     f->tpm ? "tpm," : "") < 0)
		return NULL;
	return s;
}

/* Whether hardware (",a,b,"; NULL: not looked at yet) names feature. */
static bool offers(const char *hardware, const char *feature)
{
	size_t len = strlen(feature);

	if (!hardware)
		return true;
	for (const char *p = strchr(hardware, ','); p && p[1]; p = strchr(p + 1, ','))
		if (strncmp(p + 1, feature, len) == 0 && p[1 + len] == ',')
			return true;
	return false;
}

const char *broker_placement_missing_hardware(const char *hardware, const struct pool_hw_features *needs)
{
	if (!needs)
		return NULL;
	if (needs->uefi && !offers(hardware, "uefi"))
		return "firmware";
	if (needs->secure_boot && !offers(hardware, "secure-boot"))
		return "secure_boot";
	if (needs->tpm && !offers(hardware, "tpm"))
		return "tpm";
	return NULL;
}

bool broker_placement_has_hardware(const char *hardware, const struct pool_hw_features *needs)
{
	return !broker_placement_missing_hardware(hardware, needs);
}
