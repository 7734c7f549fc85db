/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * libvirt's events: queued on libvirt's event thread, applied to the store on the loop, in
 * order.  An event whose write the database refuses (busy) is kept, with those after it, and
 * tried again on the next wake or tick.  Loop thread, but for broker_events_on_pool_event().
 */

#include <stddef.h>
#include <stdint.h>

struct broker_desks;
struct pool_event;
struct pool_host;

int broker_events_new(struct broker_desks *d);
void broker_events_free(struct broker_desks *d);

/* vmpool's event handler (pool_host_set_event_handler), userdata: the host's slot.  Any thread. */
void broker_events_on_pool_event(struct pool_host *host, const struct pool_event *ev, void *userdata);

/* Moves what libvirt queued behind what the loop kept. */
void broker_events_take(struct broker_desks *d);

/* Applies the kept events, in order, until the database refuses one. */
void broker_events_apply(struct broker_desks *d);
