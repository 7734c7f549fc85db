/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The live relays by desktop, and which viewer of a desktop is its current one (registry.h). */
#include "registry.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Superseded viewers remembered per desktop: each takeover supersedes one, mostly. */
#define SUPERSEDED_MAX 8

struct gw_desk {
	struct gw_desk *next; /* in its bucket */
	int64_t dsk;
	char tgt[sizeof(((struct vdi_token_claims *)0)->tgt)];
	struct gw_member *members;
	char superseded[SUPERSEDED_MAX][sizeof(((struct gw_member *)0)->jti)];
	unsigned superseded_next; /* ring */
};

static struct gw_desk **bucket(struct gw_registry *reg, int64_t dsk)
{
	return &reg->buckets[(uint64_t)dsk % GW_REGISTRY_BUCKETS];
}

static struct gw_desk *find(const struct gw_registry *reg, int64_t dsk, const char *tgt)
{
	for (struct gw_desk *d = reg->buckets[(uint64_t)dsk % GW_REGISTRY_BUCKETS]; d; d = d->next)
		if (d->dsk == dsk && strcmp(d->tgt, tgt) == 0)
			return d;
	return NULL;
}

static bool superseded(const struct gw_desk *d, const char *jti)
{
	for (unsigned i = 0; i < SUPERSEDED_MAX; i++)
		if (d->superseded[i][0] && strcmp(d->superseded[i], jti) == 0)
			return true;
	return false;
}

static void supersede(struct gw_desk *d, const char *jti)
{
	if (superseded(d, jti))
		return;
	snprintf(d->superseded[d->superseded_next], sizeof(d->superseded[0]), "%s", jti);
	d->superseded_next = (d->superseded_next + 1) % SUPERSEDED_MAX;
}

static void unlink_member(struct gw_member *m)
{
	struct gw_desk *d = m->desk;

	if (m->prev)
		m->prev->next = m->next;
	else
		d->members = m->next;
	if (m->next)
		m->next->prev = m->prev;
	m->prev = m->next = NULL;
	m->desk = NULL;
}

static void forget_if_empty(struct gw_registry *reg, struct gw_desk *d)
{
	struct gw_desk **p;

	if (d->members)
		return;
	for (p = bucket(reg, d->dsk); *p && *p != d; p = &(*p)->next)
		;
	if (*p)
		*p = d->next;
	free(d);
}

/* The relays of other viewers leave, each given to takeover; returns how many. */
static int take_over(struct gw_desk *d, const char *jti, gw_takeover_fn *takeover, void *data)
{
	struct gw_member *m = d->members, *next;
	int n = 0;

	for (; m; m = next) {
		next = m->next;
		if (strcmp(m->jti, jti) == 0)
			continue;
		supersede(d, m->jti);
		unlink_member(m);
		n++;
		takeover(m, data);
	}
	return n;
}

int gw_registry_join(struct gw_registry *reg, struct gw_member *m, const struct vdi_token_claims *claims,
		     gw_takeover_fn *takeover, void *data)
{
	struct gw_desk *d = find(reg, claims->dsk, claims->tgt);
	int n = 0;

	if (d && superseded(d, claims->jti))
		return -ESTALE;
	if (!d) {
		d = vdi_new0(struct gw_desk);
		if (!d)
			return -ENOMEM;
		d->dsk = claims->dsk;
		snprintf(d->tgt, sizeof(d->tgt), "%s", claims->tgt);
		d->next = *bucket(reg, claims->dsk);
		*bucket(reg, claims->dsk) = d;
	} else {
		n = take_over(d, claims->jti, takeover, data);
	}
	snprintf(m->jti, sizeof(m->jti), "%s", claims->jti);
	m->desk = d;
	m->prev = NULL;
	m->next = d->members;
	if (d->members)
		d->members->prev = m;
	d->members = m;
	return n;
}

bool gw_registry_superseded(const struct gw_registry *reg, const struct vdi_token_claims *claims)
{
	const struct gw_desk *d = find(reg, claims->dsk, claims->tgt);

	return d && superseded(d, claims->jti);
}

void gw_registry_leave(struct gw_registry *reg, struct gw_member *m)
{
	struct gw_desk *d = m->desk;

	if (!d)
		return;
	unlink_member(m);
	forget_if_empty(reg, d);
}

unsigned gw_registry_count(const struct gw_registry *reg, int64_t dsk, const char *tgt)
{
	const struct gw_desk *d = find(reg, dsk, tgt);
	unsigned n = 0;

	for (const struct gw_member *m = d ? d->members : NULL; m; m = m->next)
		n++;
	return n;
}

void gw_registry_clear(struct gw_registry *reg)
{
	for (size_t i = 0; i < GW_REGISTRY_BUCKETS; i++)
		while (reg->buckets[i]) {
			struct gw_desk *d = reg->buckets[i];

			reg->buckets[i] = d->next;
			for (struct gw_member *m = d->members; m; m = m->next)
				m->desk = NULL;
			free(d);
		}
}
