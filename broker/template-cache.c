/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One vmpool template per broker template, shared by the jobs (template-cache.h). */
#include "template-cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "log.h"
#include "vmpool.h"

struct broker_template {
	struct broker_template_cache *cache;
	struct broker_template *next; /* in the cache's list; a retired entry is in none */
	unsigned refs;                /* jobs holding it (guarded by the cache's lock) */
	bool retired;                 /* out of the cache: freed with its last reference */
	char *name, *disk_path, *xml;
	uint64_t capacity;            /* the disk's virtual size it was made for */
	pthread_mutex_t make;         /* held while t is made (workers only) */
	struct pool_template *t;      /* NULL until made; then never changed */
};

struct broker_template_cache {
	pthread_mutex_t lock; /* guards entries, refs, retired and the counters; never held on a disk */
	struct broker_template *entries;
	uint64_t hits, misses;
};

static void entry_free(struct broker_template *e)
{
	pool_template_free(e->t);
	pthread_mutex_destroy(&e->make);
	free(e->name);
	free(e->disk_path);
	free(e->xml);
	free(e);
}

static struct broker_template *entry_new(struct broker_template_cache *c, const char *name, const char *disk_path,
					 const char *xml, uint64_t capacity)
{
	struct broker_template *e = vdi_new0(struct broker_template);

	if (!e)
		return NULL;
	pthread_mutex_init(&e->make, NULL);
	e->cache = c;
	e->capacity = capacity;
	e->name = strdup(name);
	e->disk_path = strdup(disk_path);
	e->xml = vdi_strdup0(xml);
	if (!e->name || !e->disk_path || (xml && !e->xml)) {
		entry_free(e);
		return NULL;
	}
	return e;
}

/* With the lock held: takes e out of the list; frees it when nobody holds it. */
static void entry_retire(struct broker_template_cache *c, struct broker_template *e)
{
	for (struct broker_template **p = &c->entries; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	e->next = NULL;
	e->retired = true;
	if (e->refs == 0)
		entry_free(e);
}

static struct broker_template *entry_find(struct broker_template_cache *c, const char *name)
{
	for (struct broker_template *e = c->entries; e; e = e->next)
		if (streq(e->name, name))
			return e;
	return NULL;
}

/* With the lock held: the entry for these, new or cached, with one more reference; NULL: no memory. */
static struct broker_template *entry_take(struct broker_template_cache *c, const char *name, const char *disk_path,
					  const char *xml, uint64_t capacity)
{
	struct broker_template *e = entry_find(c, name);

	if (e && (!streq(e->disk_path, disk_path) || !streq_ptr(e->xml, xml) || e->capacity != capacity)) {
		entry_retire(c, e);
		e = NULL;
	}
	if (!e) {
		e = entry_new(c, name, disk_path, xml, capacity);
		if (!e)
			return NULL;
		e->next = c->entries;
		c->entries = e;
	}
	e->refs++;
	return e;
}

int broker_template_cache_get(struct broker_template_cache *c, const char *name, const char *disk_path,
			      const char *xml, struct broker_template **ret, struct vdi_error *err)
{
	struct pool_template_options o = { .name = name, .disk_path = disk_path, .xml = xml };
	struct broker_template *e;
	uint64_t capacity;
	bool hit;
	int r;

	if (!name || !disk_path)
		return -EINVAL;
	r = pool_qcow2_probe(disk_path, &capacity, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	e = entry_take(c, name, disk_path, xml, capacity);
	pthread_mutex_unlock(&c->lock);
	if (!e)
		return -ENOMEM;

	pthread_mutex_lock(&e->make);
	hit = e->t != NULL;
	r = hit ? 0 : pool_template_new(&o, &e->t, err);
	pthread_mutex_unlock(&e->make);

	pthread_mutex_lock(&c->lock);
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		broker_template_unref(e);
		return r;
	}
	if (!hit)
		vdi_debug("template %s made for the jobs: the next clone of it is validated, later ones not", name);
	*ret = e;
	return 0;
}

const struct pool_template *broker_template_pool(const struct broker_template *t)
{
	return t->t;
}

struct broker_template *broker_template_unref(struct broker_template *t)
{
	bool gone;

	if (!t)
		return NULL;
	pthread_mutex_lock(&t->cache->lock);
	gone = --t->refs == 0 && t->retired;
	pthread_mutex_unlock(&t->cache->lock);
	if (gone)
		entry_free(t);
	return NULL;
}

void broker_template_cache_forget(struct broker_template_cache *c, const char *name)
{
	struct broker_template *e;

	pthread_mutex_lock(&c->lock);
	e = entry_find(c, name);
	if (e)
		entry_retire(c, e);
	pthread_mutex_unlock(&c->lock);
}

void broker_template_cache_stats(struct broker_template_cache *c, struct broker_template_cache_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = (struct broker_template_cache_stats){ .hits = c->hits, .misses = c->misses };
	for (struct broker_template *e = c->entries; e; e = e->next)
		ret->entries++;
	pthread_mutex_unlock(&c->lock);
}

int broker_template_cache_new(struct broker_template_cache **ret)
{
	struct broker_template_cache *c = vdi_new0(struct broker_template_cache);

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	*ret = c;
	return 0;
}

struct broker_template_cache *broker_template_cache_free(struct broker_template_cache *c)
{
	if (!c)
		return NULL;
	while (c->entries) {
		struct broker_template *e = c->entries;

		c->entries = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}
