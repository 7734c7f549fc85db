/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "placement.h"

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
