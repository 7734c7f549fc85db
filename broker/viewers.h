/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The SPICE clients of each desktop now, counted from libvirt's graphics events (events.c hands them
 * over, on the loop thread), and what the last one's leaving does: the desktop's screen locked through
 * its guest agent when its pool's lock_on_disconnect says so (on a worker; audited as "desktop-lock";
 * a desktop without an agent is logged once, nothing else).  The API asks whether a desktop is open in a
 * viewer (a pool's second_viewer "refuse").  Loop thread only.
 *
 * What is counted are SPICE channel connections: a client opens several (main, display, inputs, cursor,
 * sound, USB), each with its connect and disconnect event; one that a ticket refused has no initialize
 * event.  A desktop is open in a viewer while connections are open and one of them logged in since they
 * were last all closed; when all are closed after such a login, its last client has left, and its lock starts
 * BROKER_LOCK_GRACE_S later unless a client came back meanwhile (no lock while a
 * job has the desktop: a release, stop or reset takes its viewers away; none when it stopped meanwhile).  A desktop that
 * stops (or that reconcile finds not running), and every desktop of a host whose connection is lost, count none: a client connected before this
 * broker saw its events (a restart) is not counted.
 */

#include <stdbool.h>
#include <stdint.h>

#include "vmpool.h"

struct broker_desks;
struct broker_queued_event;

/* How long after the last client left the lock starts, unless one came back (a reconnect, a takeover's new
 * viewer, whose channels may connect after the old ones closed). */
#define BROKER_LOCK_GRACE_S 3

/* How long a lock command may run in the guest. */
#define BROKER_LOCK_TIMEOUT_MS 15000

/* One desktop's SPICE connections as counted: open now, and one logged in since they were last all closed. */
struct broker_viewer_count {
	unsigned channels;
	bool logged_in;
};

/*
 * Counts one event of type (a graphics event; others change nothing) into c: true when it closed the
 * last connection after a login (the last viewer left).  An initialize with none open counts one (its
 * connect came before the broker listened); a disconnect with none open counts none.  Pure.
 */
bool broker_viewers_count(struct broker_viewer_count *c, enum pool_event_type type);

/* Frees what the desktop module's counts hold (broker_desks_free()). */
void broker_viewers_free(struct broker_desks *d);

/*
 * One libvirt event of a pool's desktop, the first time the loop applies it (graphics events, stops,
 * host lost): the counts follow, and when the last client of a desktop left, its lock starts.
 */
void broker_viewers_event(struct broker_desks *d, const struct broker_queued_event *ev);

/* Once a second, from the loop's tick: the locks that are due start (one at a time per desktop). */
void broker_viewers_tick(struct broker_desks *d);

/* Reconcile found desktop id of pool (borrowed) not running: it counts none. */
void broker_viewers_forget(struct broker_desks *d, int64_t id, const char *pool);

/* Desktop id of pool (borrowed) is open in a viewer now (see above). */
bool broker_viewers_open(struct broker_desks *d, int64_t id, const char *pool);

/* Its SPICE channel connections open now. */
unsigned broker_viewers_channels(struct broker_desks *d, int64_t id, const char *pool);
