/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "alloc.h"

struct job {
	struct job *next;
	void (*work)(void *data);
	void (*done)(void *data, int cancelled);
	void *data;
};

struct queue {
	struct job *head, *tail;
};

struct vdi_workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct queue todo, finished;
	size_t pending, max_pending;
	bool stopping;
	void (*notify)(void *data);
	void *notify_data;
	unsigned n_threads;
	pthread_t *threads;
};

static void push(struct queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *pop(struct queue *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

static void *worker_main(void *arg)
{
	struct vdi_workers *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		while (!w->stopping && !w->todo.head)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		j = pop(&w->todo);
		pthread_mutex_unlock(&w->lock);

		j->work(j->data);

		pthread_mutex_lock(&w->lock);
		push(&w->finished, j);
		pthread_mutex_unlock(&w->lock);
		if (w->notify)
			w->notify(w->notify_data);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int vdi_workers_new(unsigned n_threads, size_t max_pending, void (*notify)(void *data), void *notify_data,
		    struct vdi_workers **ret)
{
	struct vdi_workers *w;

	if (n_threads == 0 || n_threads > 256 || max_pending == 0)
		return -EINVAL;
	w = vdi_new0(struct vdi_workers);
	if (!w)
		return -ENOMEM;
	w->threads = vdi_calloc(n_threads, sizeof(*w->threads));
	if (!w->threads) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->max_pending = max_pending;
	w->notify = notify;
	w->notify_data = notify_data;
	for (unsigned i = 0; i < n_threads; i++) {
		int r = pthread_create(&w->threads[i], NULL, worker_main, w);

		if (r != 0) {
			vdi_workers_free(w);
			return -r;
		}
		w->n_threads++;
	}
	*ret = w;
	return 0;
}

struct vdi_workers *vdi_workers_free(struct vdi_workers *w)
{
	struct job *j;

	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);

	/* Finished jobs complete normally; those never started are cancelled. */
	vdi_workers_drain(w);
	while ((j = pop(&w->todo))) {
		j->done(j->data, 1);
		free(j);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
	return NULL;
}

int vdi_workers_submit(struct vdi_workers *w, void (*work)(void *data), void (*done)(void *data, int cancelled),
		       void *data)
{
	struct job *j;

	if (!work || !done)
		return -EINVAL;
	j = vdi_new0(struct job);
	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->data = data;

	pthread_mutex_lock(&w->lock);
	if (w->stopping || w->pending >= w->max_pending) {
		int r = w->stopping ? -ESHUTDOWN : -EAGAIN;

		pthread_mutex_unlock(&w->lock);
		free(j);
		return r;
	}
	w->pending++;
	push(&w->todo, j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

size_t vdi_workers_drain(struct vdi_workers *w)
{
	struct queue done;
	struct job *j;
	size_t n = 0;

	pthread_mutex_lock(&w->lock);
	done = w->finished;
	w->finished.head = w->finished.tail = NULL;
	pthread_mutex_unlock(&w->lock);

	while ((j = pop(&done))) {
		j->done(j->data, 0);
		free(j);
		n++;
	}
	pthread_mutex_lock(&w->lock);
	w->pending -= n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

size_t vdi_workers_pending(struct vdi_workers *w)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->pending;
	pthread_mutex_unlock(&w->lock);
	return n;
}
