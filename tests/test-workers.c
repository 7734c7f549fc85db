/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "workers.h"

/* The "event loop": an eventfd the workers poke, as lws_cancel_service() would. */
static int loop_fd = -1;
static pthread_t loop_thread;

static void notify(void *data)
{
	uint64_t one = 1;

	(void)data;
	check(write(loop_fd, &one, sizeof(one)) == sizeof(one));
}

static void loop_wait(void)
{
	struct pollfd p = { .fd = loop_fd, .events = POLLIN };
	uint64_t v;

	check(poll(&p, 1, 10000) == 1);
	check(read(loop_fd, &v, sizeof(v)) == sizeof(v));
}

struct counter_job {
	atomic_int *worked, *completed;
	bool on_worker, on_loop;
};

static void count_work(void *data)
{
	struct counter_job *j = data;

	j->on_worker = !pthread_equal(pthread_self(), loop_thread);
	atomic_fetch_add(j->worked, 1);
}

static void count_done(void *data, int cancelled)
{
	struct counter_job *j = data;

	check(!cancelled);
	j->on_loop = pthread_equal(pthread_self(), loop_thread);
	atomic_fetch_add(j->completed, 1);
}

static void test_thousand_jobs_complete_on_the_loop(void)
{
	static struct counter_job jobs[1000];
	atomic_int worked = 0, completed = 0;
	struct vdi_workers *w = NULL;
	size_t drained = 0;

	loop_fd = eventfd(0, EFD_CLOEXEC);
	loop_thread = pthread_self();
	check_ok(vdi_workers_new(4, 1000, notify, NULL, &w));
	for (int i = 0; i < 1000; i++) {
		jobs[i] = (struct counter_job){ .worked = &worked, .completed = &completed };
		check_ok(vdi_workers_submit(w, count_work, count_done, &jobs[i]));
	}
	while (drained < 1000) {
		loop_wait();
		drained += vdi_workers_drain(w);
	}
	check_int_eq(atomic_load(&worked), 1000);
	check_int_eq(atomic_load(&completed), 1000);
	for (int i = 0; i < 1000; i++)
		check(jobs[i].on_worker && jobs[i].on_loop);
	check_int_eq(vdi_workers_pending(w), 0);
	check_int_eq(vdi_workers_drain(w), 0); /* nothing left, and it does not block */
	vdi_workers_free(w);
}

/* Jobs that meet: each waits until `want` jobs run at once (or gives up after 10 s). */
static atomic_int running, most;
static int want;

static void meet_work(void *data)
{
	int now = atomic_fetch_add(&running, 1) + 1;
	uint64_t end = vdi_test_now_ms() + 10000;

	(void)data;
	for (int m = atomic_load(&most); now > m && !atomic_compare_exchange_weak(&most, &m, now);)
		;
	while (atomic_load(&running) < want && vdi_test_now_ms() < end)
		usleep(1000);
	if (atomic_load(&running) > atomic_load(&most))
		atomic_store(&most, atomic_load(&running));
}

static void meet_done(void *data, int cancelled)
{
	(void)data;
	check(!cancelled);
}

static void test_jobs_run_in_parallel(void)
{
	struct vdi_workers *w = NULL;
	size_t drained = 0;

	loop_fd = eventfd(0, EFD_CLOEXEC);
	loop_thread = pthread_self();
	want = 4;
	check_ok(vdi_workers_new(4, 16, notify, NULL, &w));
	for (int i = 0; i < 4; i++)
		check_ok(vdi_workers_submit(w, meet_work, meet_done, NULL));
	while (drained < 4) {
		loop_wait();
		drained += vdi_workers_drain(w);
	}
	check_int_eq(atomic_load(&most), 4);
	vdi_workers_free(w);
}

static atomic_bool release;
static atomic_int started;

static void block_work(void *data)
{
	(void)data;
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&release))
		usleep(1000);
}

static void tally_done(void *data, int cancelled)
{
	int *tally = data;

	tally[cancelled ? 1 : 0]++;
}

static void *free_in_thread(void *w)
{
	vdi_workers_free(w);
	return NULL;
}

static void test_backpressure(void)
{
	struct vdi_workers *w = NULL;
	int tally[2] = { 0, 0 };

	loop_fd = eventfd(0, EFD_CLOEXEC);
	loop_thread = pthread_self();
	atomic_store(&release, false);
	check_ok(vdi_workers_new(1, 3, notify, NULL, &w));
	for (int i = 0; i < 3; i++)
		check_ok(vdi_workers_submit(w, block_work, tally_done, tally));
	check_err(vdi_workers_submit(w, block_work, tally_done, tally), EAGAIN);
	check_int_eq(vdi_workers_pending(w), 3);

	/* Room again once a job is drained. */
	atomic_store(&release, true);
	loop_wait();
	check(vdi_workers_drain(w) >= 1);
	check_ok(vdi_workers_submit(w, block_work, tally_done, tally));
	vdi_workers_free(w);
	check_int_eq(tally[0] + tally[1], 4);

	check_err(vdi_workers_new(0, 1, NULL, NULL, &w), EINVAL);
	check_err(vdi_workers_new(1, 0, NULL, NULL, &w), EINVAL);
	vdi_workers_free(NULL);
}

static void test_free_cancels_jobs_not_started(void)
{
	struct vdi_workers *w = NULL;
	int tally[2] = { 0, 0 }, extra = 0;
	pthread_t t;

	loop_fd = eventfd(0, EFD_CLOEXEC);
	loop_thread = pthread_self();
	atomic_store(&release, false);
	check_ok(vdi_workers_new(1, 100, notify, NULL, &w));
	atomic_store(&started, 0);
	for (int i = 0; i < 3; i++)
		check_ok(vdi_workers_submit(w, block_work, tally_done, tally));
	while (atomic_load(&started) < 1)
		usleep(1000);

	/* Free while the first job still runs; a stopping pool refuses new jobs. */
	check(pthread_create(&t, NULL, free_in_thread, w) == 0);
	for (int r = 0; r != -ESHUTDOWN;) {
		r = vdi_workers_submit(w, block_work, tally_done, tally);
		if (r == 0)
			extra++;
		else if (r != -EAGAIN && r != -ESHUTDOWN)
			check_ok(r);
	}
	atomic_store(&release, true);
	pthread_join(t, NULL);

	check_int_eq(tally[0], 1);         /* the running job completes */
	check_int_eq(tally[1], 2 + extra); /* the others are cancelled, each exactly once */
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_thousand_jobs_complete_on_the_loop),
	VDI_TEST(test_jobs_run_in_parallel),
	VDI_TEST(test_backpressure),
	VDI_TEST(test_free_cancels_jobs_not_started),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
