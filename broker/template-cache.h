/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The broker's templates as vmpool objects, kept from one job to the next:
 * one struct pool_template per template.  vmpool validates a clone's
 * definition against libvirt's schema until one clone of that object has
 * passed (vmpool.h), so a template made afresh for every job would be
 * validated every time (~9 ms of libvirtd per clone).
 *
 * An entry is what pool_template_new() makes of a template's name, disk
 * path and XML, and it is used for as long as these and the virtual size of
 * the disk stay the same.  The disk's QCOW2 header is read on every use (as
 * each job did before there was a cache: a disk that is gone or broken
 * fails the job with vmpool's message); a template whose row or disk size
 * changed gets a new entry on its next use.  Jobs that hold the old entry
 * keep it until they give it back.
 *
 * Owned by the broker's desktop module (broker_desks), which frees it after
 * the worker pool has stopped.  Thread-safe: get runs on worker threads (it
 * reads the disk), unref anywhere, forget and stats on the loop; the loop
 * never waits on a disk (an entry being made is locked on its own).
 * Functions return >= 0 on success and -errno on failure.
 */

#include <stddef.h>
#include <stdint.h>

struct vdi_error;
struct pool_template;

struct broker_template_cache;
/* A cached template, held by one job: a reference. */
struct broker_template;

/* *ret is a new cache; free it with broker_template_cache_free(). */
int broker_template_cache_new(struct broker_template_cache **ret);
/* Frees every entry (none may be held any more); accepts NULL; returns NULL. */
struct broker_template_cache *broker_template_cache_free(struct broker_template_cache *c);

/*
 * The template made of name, disk_path and xml (borrowed; xml NULL: vmpool's
 * default desktop), from the cache (a hit) or made now (a miss).  Blocks on
 * the disk: worker threads only.  *ret is a new reference: give it back with
 * broker_template_unref().  Errors are those of pool_template_new(), with
 * err filled (err may be NULL).
 */
int broker_template_cache_get(struct broker_template_cache *c, const char *name, const char *disk_path,
			      const char *xml, struct broker_template **ret, struct vdi_error *err);

/* The vmpool template of a reference: borrowed, valid until the reference goes. */
const struct pool_template *broker_template_pool(const struct broker_template *t);

/* Gives a reference back; accepts NULL; returns NULL. */
struct broker_template *broker_template_unref(struct broker_template *t);

/* The template called name was removed: its entry leaves the cache (and goes with its last reference). */
void broker_template_cache_forget(struct broker_template_cache *c, const char *name);

struct broker_template_cache_stats {
	uint64_t hits;   /* uses that found the template made */
	uint64_t misses; /* uses that had to make it (also those that failed to) */
	size_t entries;  /* templates in the cache now */
};

void broker_template_cache_stats(struct broker_template_cache *c, struct broker_template_cache_stats *ret);
