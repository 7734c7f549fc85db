/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A small worker pool for blocking calls (PAM, libvirt) made on behalf of
 * an event loop that must never block.  work() runs on a worker thread;
 * when it returns, the job goes to a completion queue and notify() is
 * called (from the worker: it must be thread-safe and quick, e.g.
 * lws_cancel_service()).  The loop thread then calls vdi_workers_drain(),
 * which runs done() of each finished job on the loop thread.
 */

#include <stddef.h>

struct vdi_workers;

/*
 * Starts n_threads workers; at most max_pending jobs wait or run at once.
 * notify(notify_data) is called after each job finishes.  *ret is new.
 */
int vdi_workers_new(unsigned n_threads, size_t max_pending, void (*notify)(void *data), void *notify_data,
		    struct vdi_workers **ret);

/*
 * Stops the pool: jobs running finish, jobs not started are dropped; done()
 * of every job not yet drained is called with cancelled = 1 on this thread.
 * Accepts NULL; returns NULL.
 */
struct vdi_workers *vdi_workers_free(struct vdi_workers *w);

/*
 * Queues a job.  data is borrowed until done(data, cancelled) returns.
 * -EAGAIN when max_pending jobs are pending (the caller answers "busy");
 * -ESHUTDOWN once vdi_workers_free() has begun.
 */
int vdi_workers_submit(struct vdi_workers *w, void (*work)(void *data), void (*done)(void *data, int cancelled),
		       void *data);

/* Runs done() of the finished jobs on the calling thread; never blocks. Returns how many. */
size_t vdi_workers_drain(struct vdi_workers *w);

/* Jobs submitted and not yet drained. */
size_t vdi_workers_pending(struct vdi_workers *w);
