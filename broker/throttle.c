/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define BUCKETS 4096

struct entry {
	struct entry *next;
	unsigned failures;
	int64_t last;         /* time of the last failure */
	int64_t locked_until;
	char key[];
};

struct broker_throttle {
	pthread_mutex_t lock;
	unsigned max_failures;
	int64_t lockout;
	size_t max_entries, n;
	struct entry *buckets[BUCKETS];
};

static size_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)(h % BUCKETS);
}

int broker_throttle_new(unsigned max_failures, unsigned lockout_s, size_t max_entries, struct broker_throttle **ret)
{
	struct broker_throttle *t;

	if (max_failures == 0 || max_entries == 0)
		return -EINVAL;
	t = vdi_new0(struct broker_throttle);
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->max_failures = max_failures;
	t->lockout = lockout_s;
	t->max_entries = max_entries;
	*ret = t;
	return 0;
}

struct broker_throttle *broker_throttle_free(struct broker_throttle *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < BUCKETS; i++) {
		struct entry *e = t->buckets[i];

		while (e) {
			struct entry *next = e->next;

			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
	return NULL;
}

static struct entry **find(struct broker_throttle *t, const char *key)
{
	struct entry **p = &t->buckets[hash(key)];

	while (*p && !streq((*p)->key, key))
		p = &(*p)->next;
	return p;
}

static void unlink_entry(struct broker_throttle *t, struct entry **p)
{
	struct entry *e = *p;

	*p = e->next;
	free(e);
	t->n--;
}

/*
 * Makes room for one more key: first forget what no longer matters, then
 * the stalest unlocked key; a locked one only when all are locked, so that
 * spraying new keys cannot lift a lockout.
 */
static void evict(struct broker_throttle *t, int64_t now)
{
	struct entry **oldest = NULL, **oldest_unlocked = NULL;

	for (size_t i = 0; i < BUCKETS; i++) {
		struct entry **p = &t->buckets[i];

		while (*p) {
			if ((*p)->locked_until <= now && now - (*p)->last >= t->lockout) {
				unlink_entry(t, p);
				continue;
			}
			if (!oldest || (*p)->last < (*oldest)->last)
				oldest = p;
			if ((*p)->locked_until <= now && (!oldest_unlocked || (*p)->last < (*oldest_unlocked)->last))
				oldest_unlocked = p;
			p = &(*p)->next;
		}
	}
	if (t->n >= t->max_entries)
		unlink_entry(t, oldest_unlocked ? oldest_unlocked : oldest);
}

int64_t broker_throttle_wait(struct broker_throttle *t, const char *key, int64_t now)
{
	struct entry *e;
	int64_t wait = 0;

	pthread_mutex_lock(&t->lock);
	e = *find(t, key);
	if (e && e->locked_until > now)
		wait = e->locked_until - now;
	pthread_mutex_unlock(&t->lock);
	return wait;
}

void broker_throttle_fail(struct broker_throttle *t, const char *key, int64_t now)
{
	struct entry **p, *e;

	pthread_mutex_lock(&t->lock);
	p = find(t, key);
	e = *p;
	if (!e) {
		size_t len = strlen(key);

		if (t->n >= t->max_entries) {
			evict(t, now);
			p = find(t, key);
		}
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e) {
			pthread_mutex_unlock(&t->lock);
			return;
		}
		memcpy(e->key, key, len + 1);
		*p = e;
		t->n++;
	} else if (now - e->last >= t->lockout && e->locked_until <= now) {
		/* Old failures, or a lockout that has passed: start counting again. */
		e->failures = 0;
	}
	e->failures++;
	e->last = now;
	if (e->failures >= t->max_failures)
		e->locked_until = now + t->lockout;
	pthread_mutex_unlock(&t->lock);
}

void broker_throttle_clear(struct broker_throttle *t, const char *key)
{
	struct entry **p;

	pthread_mutex_lock(&t->lock);
	p = find(t, key);
	if (*p)
		unlink_entry(t, p);
	pthread_mutex_unlock(&t->lock);
}

size_t broker_throttle_size(struct broker_throttle *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
