/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The libvirt hosts of the desktop module: one slot each (its connection, whether it is
 * draining, and what the last look at it found: free memory, which templates' disks it reads, which
 * libvirt networks it has active, which of UEFI, Secure Boot and a TPM it offers),
 * and placement's view of them.  Loop thread; the looks run on a worker.
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct pool_hw_features;

struct broker_desks;
struct broker_host_slot;
struct vdi_error;
struct pool_host;

/* Connects to every configured host and records them in the store (table hosts). */
int broker_hosts_new(struct broker_desks *d, struct vdi_error *err);
void broker_hosts_free(struct broker_desks *d);

/*
 * The slot of a desktop row's host URI (borrowed).  Rows older than several hosts name none
 * (NULL): they are the first host's.  A host no longer configured has none (NULL).
 */
struct broker_host_slot *broker_hosts_slot(struct broker_desks *d, const char *uri);
/* The same, as its vmpool host (borrowed) or NULL. */
struct pool_host *broker_hosts_find(struct broker_desks *d, const char *uri);

/* Whether slot answers and is not draining. */
bool broker_hosts_can_run(const struct broker_host_slot *slot);

/* ... and had libvirt network (borrowed; NULL: none needed) active at its last look (not looked yet: yes), and
 * offered the hardware needs (borrowed; NULL: none) asks at its last look (not known yet: yes). */
bool broker_hosts_can_run_on(const struct broker_host_slot *slot, const char *network,
			     const struct pool_hw_features *needs);

/* What template (borrowed; NULL: none) asks of a host (its row's firmware, secure_boot, tpm) into *ret (nothing
 * for a template that is not there): 0 or -errno (the store failed). */
int broker_hosts_template_needs(struct broker_desks *d, const char *template, struct pool_hw_features *ret);

/* Starts a look at every host (also done every few seconds by the tick); d->kick runs after it. */
void broker_hosts_look(struct broker_desks *d);

/*
 * Where a new desktop of template goes (placement.h): its host's URI (borrowed), or NULL when no host can.
 * network (borrowed): the libvirt network the desktop attaches to (the NAME of "network:NAME"), which the
 * host must have active at its last look; NULL when the desktop needs none.  The host must also offer the
 * firmware and TPM the template's row asks (templates.firmware 'uefi', secure_boot, tpm) at its last look (one
 * not known yet counts as offering all); NULL too when that row cannot be read.
 */
const char *broker_hosts_place(struct broker_desks *d, const char *template, const char *network);

/* Whether a host that answers had libvirt network name (borrowed) active at its last look, or may have it:
 * one not looked at yet (or whose networks could not be listed) counts, as in placement. */
bool broker_hosts_any_has_network(struct broker_desks *d, const char *name);

/* Of needs (borrowed): the first a template asks that no host that answers offered at its last look (one
 * not looked at yet counts as offering all), as its field's name: "firmware" (UEFI), "secure_boot" or "tpm";
 * NULL when some host offers them all (or needs asks for none). */
const char *broker_hosts_missing_hardware(struct broker_desks *d, const struct pool_hw_features *needs);

/*
 * Host uri (borrowed) now has libvirt network name (borrowed) active, or no longer has it (after the network
 * API added or removed it): its slot and the store say so until the next look.  Nothing for a host not looked
 * at yet.
 */
void broker_hosts_note_network(struct broker_desks *d, const char *uri, const char *name, bool active);

/* A new desktop of row's template went to row's host: reckon its memory until the next look. */
void broker_hosts_note_placed(struct broker_desks *d, json_t *row);

/* Marks host uri draining or not, in the store too.  -ENOENT: no such host. */
int broker_hosts_set_draining(struct broker_desks *d, const char *uri, bool drain);

/* {"hosts": [...]} for the admin API: a new reference. */
json_t *broker_desks_hosts_json(struct broker_desks *d);

/* The hosts, for /metrics. */
size_t broker_desks_n_hosts(struct broker_desks *d);
struct pool_host *broker_desks_host_at(struct broker_desks *d, size_t i);
