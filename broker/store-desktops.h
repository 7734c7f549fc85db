/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The desktop module's statements on the desktops and pools tables, each a named function
 * (the SQL text lives only in store files).  s is borrowed; now is broker_now().  Writes
 * return the number of rows changed, queries the number of rows (*ret a new JSON array with
 * an object per row), or -errno (-EBUSY: the database stayed locked).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct broker_store;

/* ---- one desktop ------------------------------------------------------------------------ */

/*
 * Desktop id's row with its pool's and template's settings: id, state, owner, host, paused_from,
 * message, pool, persistent, draining (its pool's or its host's), template, disk_path, xml,
 * version (the template's current one), memory_mib, heads (its monitors), data_disk_mib and usb_redirect (its pool's), template_version
 * (its overlay's), recompose (1: marked for a recompose), network (effective), isolate_desktops (as set),
 * bandwidth_kbps (pool-net.h's broker_pool_nic_from_row() reads them).  1 and *ret (new), 0 and *ret NULL when there is none, or -errno.
 */
int broker_store_desktop_get(struct broker_store *s, int64_t id, json_t **ret);

/* Desktop id's stored state into buf (size n): 1, 0 when there is no such desktop, or -errno. */
int broker_store_desktop_get_state(struct broker_store *s, int64_t id, char *buf, size_t n);

/* Adds a spare of pool pool_id on host (borrowed), "provisioning": rows changed (1, *ret_id its id) or -errno. */
int broker_store_desktop_add_spare(struct broker_store *s, int64_t pool_id, const char *host, int64_t now,
				   int64_t *ret_id);

/* Deletes desktop id's row: rows changed or -errno. */
int broker_store_desktop_delete(struct broker_store *s, int64_t id);

/* ---- its state changes (unchecked unless said) --------------------------------------------- */

/* Running: "free" when nobody's, else "assigned" since now; clears message and pause: rows changed or -errno. */
int broker_store_desktop_mark_running(struct broker_store *s, int64_t id, int64_t now);

/* "error" with msg (borrowed), not paused, updated now: rows changed or -errno. */
int broker_store_desktop_mark_error(struct broker_store *s, int64_t id, const char *msg, int64_t now);

/* "error" with msg (borrowed), not paused, leaving updated alone: rows changed or -errno. */
int broker_store_desktop_mark_broken(struct broker_store *s, int64_t id, const char *msg);

/* Sets the message (borrowed) only, updated now: rows changed or -errno. */
int broker_store_desktop_set_message(struct broker_store *s, int64_t id, const char *msg, int64_t now);

/* Sets the state (borrowed, one of BROKER_DESKTOP_STATES) only: rows changed or -errno. */
int broker_store_desktop_force_state(struct broker_store *s, int64_t id, const char *state);

/* A new or reset overlay (a clone made, a reset done) on template version (the one the job cloned
 * from): "stopped", its message, last disconnect and recompose mark cleared. */
int broker_store_desktop_made_fresh(struct broker_store *s, int64_t id, int64_t version, int64_t now);

/* A clone of template version is under way for desktop id: rows changed or -errno. */
int broker_store_desktop_set_version(struct broker_store *s, int64_t id, int64_t version);

/* Shut down: "stopped", last_disconnect cleared: rows changed or -errno. */
int broker_store_desktop_shut_down(struct broker_store *s, int64_t id, int64_t now);

/* Found stopped: "stopped": rows changed or -errno. */
int broker_store_desktop_stopped(struct broker_store *s, int64_t id, int64_t now);

/* "deleting": rows changed or -errno. */
int broker_store_desktop_deleting(struct broker_store *s, int64_t id, int64_t now);

/* Checked: "stopped" -> "starting": rows changed (0: it was not stopped) or -errno. */
int broker_store_desktop_starting(struct broker_store *s, int64_t id, int64_t now);

/* Checked: a spare "stopped" and nobody's -> "starting": rows changed (0: not so any more) or -errno. */
int broker_store_desktop_spare_starting(struct broker_store *s, int64_t id, int64_t now);

/* Given back by its user: state (borrowed: "resetting" or "deleting"), nobody's: rows changed or -errno. */
int broker_store_desktop_give_back(struct broker_store *s, int64_t id, const char *state, int64_t now);

/* "resetting"; keep_owner: still its owner's (persistent), else nobody's: rows changed or -errno. */
int broker_store_desktop_reset(struct broker_store *s, int64_t id, bool keep_owner, int64_t now);

/*
 * SPICE client connected (or went away): assigned/disconnected -> connected (connected ->
 * disconnected, last_disconnect now), only when id is in pool (borrowed); of a paused desktop
 * ("error" with paused_from) paused_from changes instead.  Rows changed (0: not in such a
 * state) or -errno.
 */
int broker_store_desktop_spice(struct broker_store *s, int64_t id, const char *pool, bool connected, int64_t now);

/* ---- paused by the hypervisor (state "error", paused_from the state it left) ---------------- */

/*
 * Checked: from state (borrowed) to paused, with msg (borrowed); paused_from is state when it
 * ran in service, else "free" or "assigned" by owner: rows changed (0: state moved) or -errno.
 */
int broker_store_desktop_pause(struct broker_store *s, int64_t id, const char *state, const char *msg, int64_t now);

/* Checked: a paused (or errored) desktop's message only: rows changed (0: not "error") or -errno. */
int broker_store_desktop_pause_message(struct broker_store *s, int64_t id, const char *msg);

/* Checked: paused -> the state it left (its timers restart now): rows changed (0: not paused) or -errno. */
int broker_store_desktop_unpause(struct broker_store *s, int64_t id, int64_t now);

/* Checked: paused -> "error" for good with msg (borrowed): rows changed (0: not paused) or -errno. */
int broker_store_desktop_paused_to_error(struct broker_store *s, int64_t id, const char *msg, int64_t now);

/* ---- listings ------------------------------------------------------------------------------ */

/* Per host (column host, NULL for rows without one), the desktops not "deleting" (n): rows or -errno. */
int broker_store_desktops_count_by_host(struct broker_store *s, json_t **ret);

/* How many desktops are on host uri (borrowed; first: also those without a host), or -errno. */
int broker_store_desktops_count_on_host(struct broker_store *s, const char *uri, bool first);

/* The same, those not "deleting", or -errno. */
int broker_store_desktops_count_live_on_host(struct broker_store *s, const char *uri, bool first);

/* Ids of the desktops on host uri (borrowed; first: also those without a host): rows or -errno. */
int broker_store_desktops_of_host(struct broker_store *s, const char *uri, bool first, json_t **ret);

/* Ids of pool's (borrowed) desktops: rows or -errno. */
int broker_store_desktops_of_pool(struct broker_store *s, const char *pool, json_t **ret);

/* The desktops of pool (borrowed) that are defined (neither being made nor deleted): id, host; rows or -errno. */
int broker_store_pool_desktops_defined(struct broker_store *s, const char *pool, json_t **ret);

/* The desktops that run in service (free, assigned, connected, disconnected: id, pool, host),
 * by id: rows or -errno. */
int broker_store_desktops_running(struct broker_store *s, json_t **ret);

/* Pool pool_id's stopped spares (id, host, current: 1 when on the template's current version), those on
 * the current version first: rows or -errno. */
int broker_store_desktops_stopped_spares(struct broker_store *s, int64_t pool_id, json_t **ret);

/*
 * The rollout's candidates: pooled desktops nobody has, free or stopped, on a host that answers
 * and is not being emptied, in pools that are not draining, on an older template version than
 * their pool's current one: id, state, pool_id, prestart, size, template, network (the pool's effective one), free (the pool's free running
 * desktops), coming (its spares on their way up), total; stopped ones first, by pool.
 */
int broker_store_desktops_outdated(struct broker_store *s, json_t **ret);

/* The rollout takes desktop id: "resetting" if it is still nobody's and free or stopped (rows changed). */
int broker_store_desktop_rollout_take(struct broker_store *s, int64_t id, int64_t now);

/* Ids of the desktops disconnected, or assigned and never connected, past their pool's idle_timeout
 * at now: rows or -errno. */
int broker_store_desktops_idle(struct broker_store *s, int64_t now, json_t **ret);

/* Ids of the paused desktops, those after id after first: rows or -errno. */
int broker_store_desktops_paused(struct broker_store *s, int64_t after, json_t **ret);

/* Every desktop as reconcile judges it (id, state, owner, host, paused_from, message, pool,
 * persistent, draining, template, disk_path, xml, version, heads, data_disk_mib, usb_redirect, network, isolate_desktops,
 * bandwidth_kbps): rows or -errno. */
int broker_store_desktops_for_reconcile(struct broker_store *s, json_t **ret);

/* Whether domain id of pool (borrowed) is an orphan: its pool is known, the row is not. 1, 0 or -errno. */
int broker_store_desktop_is_orphan(struct broker_store *s, int64_t id, const char *pool);

/* ---- pools --------------------------------------------------------------------------------- */

/* The pools that keep spares (id, name, size, prestart, template, network (effective), ready, total): rows or -errno. */
int broker_store_pools_to_keep(struct broker_store *s, json_t **ret);

/* Pool's (borrowed) groups unless it is draining: rows (0: none such) or -errno. */
int broker_store_pool_groups(struct broker_store *s, const char *pool, json_t **ret);

/* Marks pool (borrowed) draining: rows changed (0: no such pool) or -errno. */
int broker_store_pool_drain(struct broker_store *s, const char *pool);

/* Deletes pool (borrowed) when it is draining and holds no desktops: rows changed or -errno. */
int broker_store_pool_delete_drained(struct broker_store *s, const char *pool);
