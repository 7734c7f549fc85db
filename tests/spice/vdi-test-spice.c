/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdi-test-spice: a small SPICE server for tests, on libspice-server.  It
 * shows one 640x480 display with a known picture (four quadrants: red,
 * green, blue, white; see PATTERN below), so clients that go through
 * vdi-gateway can be checked pixel by pixel without a VM.
 *
 *   vdi-test-spice --unix PATH [--password TICKET]
 *
 * It serves on a unix socket, as QEMU does for vdi's desktops; with a
 * password, clients must present it as their SPICE ticket.  It prints
 * "vdi-test-spice ready" on stderr when it listens, and exits on SIGTERM.
 *
 * The parts: SpiceCoreInterface on a poll(2) loop (watches and timers, all
 * on the main thread, which is the only one that calls them), and a QXL
 * display whose commands (one draw of the whole picture, repeated every
 * second so new clients get fresh draws too) are taken by libspice-server's
 * display worker thread through a small locked queue.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spice.h>
#include <spice/qxl_dev.h>

#define WIDTH 640
#define HEIGHT 480
#define MEMSLOT_GROUP 0

/* PATTERN: xRGB colours of the quadrants, top-left, top-right, bottom-left, bottom-right. */
static const uint32_t quadrant[4] = { 0x00ff0000, 0x0000ff00, 0x000000ff, 0x00ffffff };

/* ---- the core: watches and timers on poll(2) --------------------------------------------------- */

struct SpiceWatch {
	struct SpiceWatch *next;
	int fd, mask;
	SpiceWatchFunc func;
	void *opaque;
	bool removed;
};

struct SpiceTimer {
	struct SpiceTimer *next;
	SpiceTimerFunc func;
	void *opaque;
	uint64_t due_ms; /* 0: not armed */
	bool removed;
};

static struct SpiceWatch *watches;
static struct SpiceTimer *timers;
static volatile sig_atomic_t stopping;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static SpiceTimer *timer_add(SpiceTimerFunc func, void *opaque)
{
	SpiceTimer *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	t->func = func;
	t->opaque = opaque;
	t->next = timers;
	timers = t;
	return t;
}

static void timer_start(SpiceTimer *t, uint32_t ms)
{
	t->due_ms = now_ms() + ms;
	if (!t->due_ms)
		t->due_ms = 1;
}

static void timer_cancel(SpiceTimer *t)
{
	t->due_ms = 0;
}

static void timer_remove(SpiceTimer *t)
{
	t->due_ms = 0;
	t->removed = true; /* freed by the loop, which may be iterating */
}

static SpiceWatch *watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
	SpiceWatch *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	w->fd = fd;
	w->mask = mask;
	w->func = func;
	w->opaque = opaque;
	w->next = watches;
	watches = w;
	return w;
}

static void watch_update_mask(SpiceWatch *w, int mask)
{
	w->mask = mask;
}

static void watch_remove(SpiceWatch *w)
{
	w->removed = true;
}

static void channel_event(int event, SpiceChannelEventInfo *info)
{
	(void)info;
	if (event == SPICE_CHANNEL_EVENT_INITIALIZED)
		fprintf(stderr, "vdi-test-spice: a client's channel is up\n");
}

static SpiceCoreInterface core = {
	.base = {
		.type = SPICE_INTERFACE_CORE,
		.description = "vdi-test-spice core",
		.major_version = SPICE_INTERFACE_CORE_MAJOR,
		.minor_version = SPICE_INTERFACE_CORE_MINOR,
	},
	.timer_add = timer_add,
	.timer_start = timer_start,
	.timer_cancel = timer_cancel,
	.timer_remove = timer_remove,
	.watch_add = watch_add,
	.watch_update_mask = watch_update_mask,
	.watch_remove = watch_remove,
	.channel_event = channel_event,
};

static void reap(void)
{
	for (SpiceWatch **w = &watches; *w;) {
		if ((*w)->removed) {
			SpiceWatch *dead = *w;

			*w = dead->next;
			free(dead);
		} else {
			w = &(*w)->next;
		}
	}
	for (SpiceTimer **t = &timers; *t;) {
		if ((*t)->removed) {
			SpiceTimer *dead = *t;

			*t = dead->next;
			free(dead);
		} else {
			t = &(*t)->next;
		}
	}
}

static void loop(void)
{
	while (!stopping) {
		struct pollfd pfd[256];
		SpiceWatch *which[256];
		nfds_t n = 0;
		uint64_t now = now_ms(), next = now + 1000;
		int timeout;

		reap();
		for (SpiceTimer *t = timers; t; t = t->next)
			if (t->due_ms && t->due_ms < next)
				next = t->due_ms;
		for (SpiceWatch *w = watches; w && n < 256; w = w->next) {
			pfd[n].fd = w->fd;
			pfd[n].events = (short)(((w->mask & SPICE_WATCH_EVENT_READ) ? POLLIN : 0) |
						((w->mask & SPICE_WATCH_EVENT_WRITE) ? POLLOUT : 0));
			pfd[n].revents = 0;
			which[n++] = w;
		}
		timeout = next > now ? (int)(next - now) : 0;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		for (nfds_t i = 0; i < n; i++) {
			SpiceWatch *w = which[i];

			if (w->removed || !pfd[i].revents)
				continue;
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && (w->mask & SPICE_WATCH_EVENT_READ))
				w->func(w->fd, SPICE_WATCH_EVENT_READ, w->opaque);
			if (!w->removed && (pfd[i].revents & (POLLOUT | POLLERR)) && (w->mask & SPICE_WATCH_EVENT_WRITE))
				w->func(w->fd, SPICE_WATCH_EVENT_WRITE, w->opaque);
		}
		now = now_ms();
		for (SpiceTimer *t = timers; t; t = t->next)
			if (!t->removed && t->due_ms && t->due_ms <= now) {
				t->due_ms = 0;
				t->func(t->opaque);
			}
	}
}

/* ---- the display ----------------------------------------------------------------------------------- */

/* One draw command with its own copy of the picture; freed when the server releases it. */
struct update {
	QXLCommandExt ext; /* first: the release id points here */
	QXLDrawable drawable;
	QXLImage image;
	uint32_t pixels[WIDTH * HEIGHT];
};

static QXLInstance qxl;
static SpiceServer *server;
static uint8_t primary[WIDTH * HEIGHT * 4];
static SpiceTimer *redraw_timer;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static QXLCommandExt *queue[64];
static unsigned queue_head, queue_len;
static bool wants_wakeup;

static struct update *make_update(void)
{
	struct update *u = calloc(1, sizeof(*u));

	if (!u)
		abort();
	for (int y = 0; y < HEIGHT; y++)
		for (int x = 0; x < WIDTH; x++)
			u->pixels[y * WIDTH + x] = quadrant[(y >= HEIGHT / 2) * 2 + (x >= WIDTH / 2)];
	u->drawable.surface_id = 0;
	u->drawable.bbox = (QXLRect){ .top = 0, .left = 0, .bottom = HEIGHT, .right = WIDTH };
	u->drawable.clip.type = SPICE_CLIP_TYPE_NONE;
	u->drawable.effect = QXL_EFFECT_OPAQUE;
	u->drawable.release_info.id = (uintptr_t)u;
	u->drawable.type = QXL_DRAW_COPY;
	u->drawable.surfaces_dest[0] = u->drawable.surfaces_dest[1] = u->drawable.surfaces_dest[2] = -1;
	u->drawable.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
	u->drawable.u.copy.src_bitmap = (uintptr_t)&u->image;
	u->drawable.u.copy.src_area = (QXLRect){ .top = 0, .left = 0, .bottom = HEIGHT, .right = WIDTH };
	QXL_SET_IMAGE_ID(&u->image, QXL_IMAGE_GROUP_DEVICE, 1);
	u->image.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
	u->image.descriptor.width = u->image.bitmap.x = WIDTH;
	u->image.descriptor.height = u->image.bitmap.y = HEIGHT;
	u->image.bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
	u->image.bitmap.stride = WIDTH * 4;
	u->image.bitmap.format = SPICE_BITMAP_FMT_32BIT;
	u->image.bitmap.data = (uintptr_t)u->pixels;
	u->ext.cmd.type = QXL_CMD_DRAW;
	u->ext.cmd.data = (uintptr_t)&u->drawable;
	u->ext.group_id = MEMSLOT_GROUP;
	return u;
}

/* Main thread: queue a draw, and wake the display worker when it asked to be. */
static void push_draw(void)
{
	struct update *u = make_update();
	bool wake = false, queued = false;

	pthread_mutex_lock(&queue_lock);
	if (queue_len < sizeof(queue) / sizeof(queue[0])) {
		queue[(queue_head + queue_len++) % 64] = &u->ext;
		queued = true;
		wake = wants_wakeup;
		wants_wakeup = false;
	}
	pthread_mutex_unlock(&queue_lock);
	if (!queued)
		free(u);
	if (wake)
		spice_qxl_wakeup(&qxl);
}

static void redraw(void *opaque)
{
	(void)opaque;
	push_draw();
	core.timer_start(redraw_timer, 1000);
}

static void attached_worker(QXLInstance *q)
{
	QXLDevMemSlot slot = {
		.slot_group_id = MEMSLOT_GROUP,
		.slot_id = 0,
		.generation = 0,
		.virt_start = 0,
		.virt_end = ~(uintptr_t)0,
		.addr_delta = 0,
		.qxl_ram_size = ~0u,
	};
	QXLDevSurfaceCreate surface = {
		.width = WIDTH,
		.height = HEIGHT,
		.stride = -WIDTH * 4,
		.format = SPICE_SURFACE_FMT_32_xRGB,
		.mouse_mode = 1,
		.mem = (uintptr_t)primary,
		.group_id = MEMSLOT_GROUP,
	};

	spice_qxl_add_memslot(q, &slot);
	spice_qxl_create_primary_surface(q, 0, &surface);
	spice_server_vm_start(server);
}

static void set_compression_level(QXLInstance *q, int level)
{
	(void)q;
	(void)level;
}

static void get_init_info(QXLInstance *q, QXLDevInitInfo *info)
{
	(void)q;
	memset(info, 0, sizeof(*info));
	info->num_memslots = 1;
	info->num_memslots_groups = 1;
	info->memslot_id_bits = 1;
	info->memslot_gen_bits = 1;
	info->n_surfaces = 1;
}

/* Worker thread. */
static int get_command(QXLInstance *q, QXLCommandExt *ext)
{
	int got = 0;

	(void)q;
	pthread_mutex_lock(&queue_lock);
	if (queue_len) {
		*ext = *queue[queue_head];
		queue_head = (queue_head + 1) % 64;
		queue_len--;
		got = 1;
	}
	pthread_mutex_unlock(&queue_lock);
	return got;
}

/* Worker thread: 0 when commands wait already, else 1 and a wakeup comes with the next one. */
static int req_cmd_notification(QXLInstance *q)
{
	int r;

	(void)q;
	pthread_mutex_lock(&queue_lock);
	r = queue_len ? 0 : 1;
	wants_wakeup = r;
	pthread_mutex_unlock(&queue_lock);
	return r;
}

static void release_resource(QXLInstance *q, QXLReleaseInfoExt info)
{
	(void)q;
	free((void *)(uintptr_t)info.info->id);
}

static int get_cursor_command(QXLInstance *q, QXLCommandExt *ext)
{
	(void)q;
	(void)ext;
	return 0;
}

static int req_cursor_notification(QXLInstance *q)
{
	(void)q;
	return 1;
}

static void notify_update(QXLInstance *q, uint32_t update_id)
{
	(void)q;
	(void)update_id;
}

static int flush_resources(QXLInstance *q)
{
	(void)q;
	return 0;
}

static void async_complete(QXLInstance *q, uint64_t cookie)
{
	(void)q;
	(void)cookie;
}

static void update_area_complete(QXLInstance *q, uint32_t surface_id, QXLRect *rects, uint32_t n)
{
	(void)q;
	(void)surface_id;
	(void)rects;
	(void)n;
}

static void set_client_capabilities(QXLInstance *q, uint8_t present, uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
	(void)q;
	(void)caps;
	(void)present;
}

static int client_monitors_config(QXLInstance *q, VDAgentMonitorsConfig *mc)
{
	(void)q;
	(void)mc;
	return 0;
}

static const QXLInterface display = {
	.base = {
		.type = SPICE_INTERFACE_QXL,
		.description = "vdi-test-spice display",
		.major_version = SPICE_INTERFACE_QXL_MAJOR,
		.minor_version = SPICE_INTERFACE_QXL_MINOR,
	},
	.attached_worker = attached_worker,
	.set_compression_level = set_compression_level,
	.get_init_info = get_init_info,
	.get_command = get_command,
	.req_cmd_notification = req_cmd_notification,
	.release_resource = release_resource,
	.get_cursor_command = get_cursor_command,
	.req_cursor_notification = req_cursor_notification,
	.notify_update = notify_update,
	.flush_resources = flush_resources,
	.async_complete = async_complete,
	.update_area_complete = update_area_complete,
	.set_client_capabilities = set_client_capabilities,
	.client_monitors_config = client_monitors_config,
};

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unix", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ 0 },
	};
	const char *path = NULL, *password = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'u': path = optarg; break;
		case 'p': password = optarg; break;
		default: return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: vdi-test-spice --unix PATH [--password TICKET]\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	server = spice_server_new();
	if (!server)
		return 1;
	spice_server_set_addr(server, path, SPICE_ADDR_FLAG_UNIX_ONLY);
	if (password)
		spice_server_set_ticket(server, password, 0, 0, 0);
	else
		spice_server_set_noauth(server);
	/* Plain bitmaps: every client decodes them, and pixels arrive exact. */
	spice_server_set_image_compression(server, SPICE_IMAGE_COMPRESSION_OFF);
	if (spice_server_init(server, &core) != 0) {
		fprintf(stderr, "vdi-test-spice: cannot listen on %s\n", path);
		return 1;
	}
	qxl.base.sif = &display.base;
	qxl.id = 0;
	if (spice_server_add_interface(server, &qxl.base) != 0) {
		fprintf(stderr, "vdi-test-spice: cannot add the display\n");
		return 1;
	}
	redraw_timer = core.timer_add(redraw, NULL);
	core.timer_start(redraw_timer, 0);
	fprintf(stderr, "vdi-test-spice ready on %s\n", path);
	loop();
	spice_server_destroy(server);
	return 0;
}
