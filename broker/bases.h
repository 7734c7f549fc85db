/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdi's base volumes once they stop being needed.  A version's base is deleted as soon as nothing
 * uses it (the store's broker_store_versions_unused() with [templates] keep_versions), and never
 * while a create, reset or rebuild runs (such a job may clone from a version that no desktop row
 * names yet).  Base volumes of vdi's naming that no version names (a broker stopped between the
 * copy and its record; a template removed while a host was away) are reported at once and
 * removed once they have been seen for [templates] stray_base_grace.  Nothing else ever deletes
 * a base.  Loop thread; the libvirt work runs on a worker, one pass at a time.
 */

#include <jansson.h>

struct broker_desks;

/* The tick's: deletes what is unused, looks for strays now and then. */
void broker_bases_tick(struct broker_desks *d);

/* Deletes the bases of a template just removed: rows of disk, host (borrowed). */
void broker_bases_delete(struct broker_desks *d, json_t *rows);

/* Frees what the module keeps (its strays). */
void broker_bases_free(struct broker_desks *d);
