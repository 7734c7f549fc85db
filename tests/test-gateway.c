/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdi-gateway as a daemon on loopback in a temp dir, in front of a test
 * target on a unix socket (a thread here that echoes, or streams a known
 * pattern), driven by a real WebSocket client (tests/ws-client.c) and raw
 * sockets for HTTP CONNECT: handshake and subprotocol, 100 MiB each way
 * byte-exact, bounded memory with stalled browsers and stalled desktops (one
 * and fifty at once) and with 1,000 relays, every kind of bad token and
 * target, bad HTTP, metrics, a second viewer taking a desktop over (one that
 * cannot reach a TCP desktop taking nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "alloc.h"
#include "broker-test.h"
#include "harness.h"
#include "http-client.h"
#include "tls-pem.h"
#include "token.h"
#include "screen.h"
#include "tls-client.h"
#include "vv.h"
#include "ws-client.h"

struct gateway {
	pid_t pid;
	int port;
	char conf[512];
	char key_path[512];
	char log_path[512];
	char spice_dir[512];
	struct vdi_token_key key;
};

/* ---- the daemon ------------------------------------------------------------------------------ */

static void start_gateway_allowing(struct gateway *g, const char *tcp_target, const char *extra);

static void start_gateway(struct gateway *g)
{
	start_gateway_allowing(g, "tcp:127.0.0.1:1", "");
}

/* extra: more [gateway] lines. */
static void start_gateway_with(struct gateway *g, const char *extra)
{
	start_gateway_allowing(g, "tcp:127.0.0.1:1", extra);
}

#define GW_TEST_TTL 600
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* allowed_targets: the spice directory and tcp_target; extra: more [gateway] lines. */
static void start_gateway_allowing(struct gateway *g, const char *tcp_target, const char *extra)
{
	const char *bin = getenv("VDI_GATEWAY_BIN");
	struct vdi_error err = { 0 };
	char line[512];
	FILE *f;
	int out;
	uint64_t end;

	if (!bin)
		vdi_test_fail(__FILE__, __LINE__, "run through meson (VDI_GATEWAY_BIN)");
	memset(g, 0, sizeof(*g));
	snprintf(g->conf, sizeof(g->conf), "%s/vdi.conf", vdi_test_tmpdir());
	snprintf(g->key_path, sizeof(g->key_path), "%s/token.key", vdi_test_tmpdir());
	snprintf(g->log_path, sizeof(g->log_path), "%s/gateway.log", vdi_test_tmpdir());
	snprintf(g->spice_dir, sizeof(g->spice_dir), "%s/spice", vdi_test_tmpdir());
	check(mkdir(g->spice_dir, 0755) == 0);
	check_ok(vdi_token_key_generate(g->key_path, NULL));
	if (vdi_token_key_load(g->key_path, &g->key, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
	check(f = fopen(g->conf, "we"));
	/* [tokens] ttl: the longest-lived token these tests sign (the gateway refuses longer ones). */
	fprintf(f, "[gateway]\nlisten = 127.0.0.1:0\nallowed_targets = unix:%s/, %s\n%s"
		   "[tokens]\nkey_file = %s\nttl = " STRINGIFY(GW_TEST_TTL) "\n",
		g->spice_dir, tcp_target, extra, g->key_path);
	fclose(f);

	out = open(g->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(out >= 0);
	g->pid = fork();
	check(g->pid >= 0);
	if (g->pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(out, 2);
		execl(bin, bin, "--config", g->conf, (char *)NULL);
		_exit(127);
	}
	close(out);
	/* It says which port it got. */
	for (end = vdi_test_now_ms() + 10000; !g->port && vdi_test_now_ms() < end; usleep(20 * 1000)) {
		f = fopen(g->log_path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			const char *p = strstr(line, "listening on port ");

			if (p)
				g->port = atoi(p + strlen("listening on port "));
		}
		if (f)
			fclose(f);
	}
	check(g->port > 0);
}

static void stop_gateway(struct gateway *g)
{
	int status;

	check(kill(g->pid, SIGTERM) == 0);
	check(waitpid(g->pid, &status, 0) == g->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool log_has(struct gateway *g, const char *needle)
{
	return vdi_test_file_has(g->log_path, needle);
}

/* Waits (10 s at most) for needle in the gateway's log. */
static void wait_log(struct gateway *g, const char *needle)
{
	for (uint64_t end = vdi_test_now_ms() + 10000; !log_has(g, needle); usleep(50 * 1000))
		if (vdi_test_now_ms() > end)
			vdi_test_fail(__FILE__, __LINE__, "no \"%s\" in the gateway's log", needle);
}

static void check_healthy(struct gateway *g)
{
	http_expect(g->port, "GET", "/healthz", NULL, 200, NULL);
}

/* Waits (10 s at most) until the gateway's metrics say no relay is open. */
static void wait_no_relays(struct gateway *g)
{
	for (uint64_t end = vdi_test_now_ms() + 10000;; usleep(50 * 1000)) {
		_cleanup_free_ char *metrics = http_text(g->port, "GET", "/metrics", NULL, HTTP_ANY_STATUS, NULL);

		if (strstr(metrics, "\nvdi_gateway_connections 0\n"))
			return;
		check(vdi_test_now_ms() < end);
	}
}

/* A token for desktop dsk whose target is tgt, expiring in ttl seconds, signed with key. */
static char *token_for(const struct vdi_token_key *key, int64_t dsk, const char *tgt, int64_t ttl)
{
	struct vdi_token_claims c = { .dsk = dsk, .exp = (int64_t)time(NULL) + ttl };
	char *t = NULL;

	snprintf(c.sub, sizeof(c.sub), "ann");
	snprintf(c.tgt, sizeof(c.tgt), "%s", tgt);
	check_ok(vdi_token_sign(key, &c, &t));
	return t;
}

/* ---- the target: a unix socket server on a thread ------------------------------------------------- */

enum target_mode {
	TARGET_ECHO,    /* sends back what it reads */
	TARGET_STREAM,  /* reads and checks `expect` bytes of the pattern, sends `send` bytes of it */
};

#define TARGET_CONNS_MAX 64

/* One connection of a TARGET_STREAM target: what it sent and read (each from the pattern's start). */
struct target_conn_stat {
	uint64_t sent, received, mismatches;
	int blocked;            /* its sender waits: the gateway has not taken the last bytes */
	int done;               /* its sender sent all `send` bytes */
	int fd;
};

struct target {
	char path[600];
	int listen_fd;
	enum target_mode mode;
	uint64_t expect, send;
	uint64_t vanish_after;  /* TARGET_STREAM: after sending this many bytes, hang up and go (0: never) */
	int hold_send, hold_recv; /* TARGET_STREAM: while set, the desktop neither sends nor reads */
	/* results */
	uint64_t received, mismatches;
	int connections;
	struct target_conn_stat conns[TARGET_CONNS_MAX];
	pthread_t thread;
};

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 131) ^ (i >> 9) ^ (i >> 17));
}

/* Reads want bytes or more off ssl into buf (size bytes), each checked against pattern(): how many came;
 * fails the test on a read error or a byte that is not the pattern's. */
static uint64_t ssl_read_pattern(SSL *ssl, uint8_t *buf, int size, uint64_t want)
{
	uint64_t received = 0, mismatches = 0;

	while (received < want) {
		int n = SSL_read(ssl, buf, size);

		check(n > 0);
		for (int i = 0; i < n; i++)
			mismatches += buf[i] != pattern(received + (uint64_t)i);
		received += (uint64_t)n;
	}
	check_int_eq(mismatches, 0);
	return received;
}

struct conn_args {
	struct target *t;
	struct target_conn_stat *stat;
	int fd;
};

static int get_int(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void set_int(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static void wait_unset(const int *flag)
{
	while (get_int(flag))
		usleep(5 * 1000);
}

/* Sends up to n bytes without blocking; when the socket is full, says so (stat->blocked) and waits
 * until it takes more. Returns what was sent, <= 0 when the connection ended. */
static ssize_t send_or_wait(struct conn_args *a, const uint8_t *buf, size_t n)
{
	for (;;) {
		ssize_t w = send(a->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd pfd = { .fd = a->fd, .events = POLLOUT };

		if (w >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return w;
		set_int(&a->stat->blocked, 1);
		(void)poll(&pfd, 1, -1);
		set_int(&a->stat->blocked, 0);
	}
}

static void *stream_sender(void *data)
{
	struct conn_args *a = data;
	uint8_t buf[65536];
	uint64_t sent = 0;

	wait_unset(&a->t->hold_send);
	while (sent < a->t->send) {
		size_t n = a->t->send - sent < sizeof(buf) ? (size_t)(a->t->send - sent) : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(sent + i);
		w = send_or_wait(a, buf, n);
		if (w <= 0)
			break;
		sent += (uint64_t)w;
		__atomic_store_n(&a->stat->sent, sent, __ATOMIC_SEQ_CST);
		if (a->t->vanish_after && sent >= a->t->vanish_after) {
			/* The desktop goes away mid-stream: its socket file and listener with it. */
			unlink(a->t->path);
			shutdown(a->t->listen_fd, SHUT_RDWR);
			shutdown(a->fd, SHUT_RDWR);
			break;
		}
	}
	if (sent >= a->t->send)
		set_int(&a->stat->done, 1);
	return NULL;
}

/* One connection to the target; echo connections each get a thread of their own. */
static void *target_conn(void *data)
{
	struct conn_args *a = data;
	struct target *t = a->t;
	struct target_conn_stat *st = a->stat;
	pthread_t sender;
	uint8_t *buf = malloc(65536);
	ssize_t n;

	check(buf);
	if (t->mode == TARGET_STREAM) {
		pthread_create(&sender, NULL, stream_sender, a);
		wait_unset(&t->hold_recv);
	}
	while ((n = recv(a->fd, buf, 65536, 0)) > 0) {
		uint64_t bad = 0;

		if (t->mode == TARGET_ECHO) {
			if (send(a->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(st->received + (uint64_t)i))
				bad++;
		__atomic_add_fetch(&st->mismatches, bad, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&t->mismatches, bad, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&st->received, (uint64_t)n, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&t->received, (uint64_t)n, __ATOMIC_SEQ_CST);
		if (st->received >= t->expect)
			break;
	}
	if (t->mode == TARGET_STREAM)
		pthread_join(sender, NULL);
	close(a->fd);
	free(buf);
	free(a);
	return NULL;
}

static void *target_main(void *data)
{
	struct target *t = data;

	for (;;) {
		struct conn_args *a = calloc(1, sizeof(*a));
		pthread_t th;
		int k;

		check(a);
		a->t = t;
		a->fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (a->fd < 0) {
			free(a);
			return NULL;
		}
		/* Only this thread accepts: k is the connection's number. */
		k = get_int(&t->connections);
		a->stat = &t->conns[k < TARGET_CONNS_MAX ? k : TARGET_CONNS_MAX - 1];
		a->stat->fd = a->fd;
		__atomic_add_fetch(&t->connections, 1, __ATOMIC_SEQ_CST);
		{
			pthread_attr_t attr;

			pthread_attr_init(&attr);
			pthread_attr_setstacksize(&attr, 256 * 1024);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			check_int_eq(pthread_create(&th, &attr, target_conn, a), 0);
			pthread_attr_destroy(&attr);
		}
	}
}

static void target_start(struct target *t, struct gateway *g, const char *name, enum target_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(t, 0, sizeof(*t));
	t->mode = mode;
	snprintf(t->path, sizeof(t->path), "%s/%s", g->spice_dir, name);
	check(strlen(t->path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, t->path);
	t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(t->listen_fd >= 0);
	check(bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(t->listen_fd, SOMAXCONN) == 0); /* 1,000 relays connect at once */
	check_int_eq(pthread_create(&t->thread, NULL, target_main, t), 0);
}

static char *target_name(struct target *t)
{
	char *s;

	check(asprintf(&s, "unix:%s", t->path) > 0);
	return s;
}

/* ---- WebSocket ---------------------------------------------------------------------------------- */

static void ws_open_token(struct ws_client *ws, struct gateway *g, const char *token, const char *proto)
{
	char path[4096];

	snprintf(path, sizeof(path), "/spice?token=%s", token);
	check_ok(ws_client_open(ws, g->port, path, proto));
}

/* Opens a WebSocket with token (borrowed) and closes it again; fails unless the handshake's status
 * is status and its body contains part (NULL: any body).  what names the case. */
static void expect_ws_status(struct gateway *g, const char *token, int status, const char *what, const char *part)
{
	struct ws_client ws;

	ws_open_token(&ws, g, token, "binary");
	if (ws.status != status)
		vdi_test_fail(__FILE__, __LINE__, "%s: expected %d, got %d %s", what, status, ws.status, ws.body);
	if (part)
		check_str_contains(ws.body, part);
	ws_client_close(&ws);
}

static void test_handshake_and_echo(void)
{
	struct gateway g;
	struct target t;
	struct ws_client ws;
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	uint8_t *got = NULL;
	size_t len = 0;

	start_gateway(&g);
	target_start(&t, &g, "desk1.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 1, tgt, 60);

	/* spice-html5 asks for "binary" and Chromium insists that the reply names it. */
	ws_open_token(&ws, &g, token, "binary");
	check_int_eq(ws.status, 101);
	check_str_eq(ws.protocol, "binary");
	check_ok(ws_client_send(&ws, "REDQ-hello", 10));
	check_ok(ws_client_recv(&ws, &got, &len, 5000));
	check_int_eq(len, 10);
	check(memcmp(got, "REDQ-hello", 10) == 0);
	free(got);
	/* Every SPICE channel opens its own WebSocket with the same URL: the token admits each. */
	{
		struct ws_client ws2;

		ws_open_token(&ws2, &g, token, "binary");
		check_int_eq(ws2.status, 101);
		check_ok(ws_client_send(&ws2, "second", 6));
		check_ok(ws_client_recv(&ws2, &got, &len, 5000));
		check_int_eq(len, 6);
		free(got);
		ws_client_close(&ws2);
	}
	ws_client_close(&ws);

	/* Without the subprotocol: 400, and nothing reaches the target. */
	ws_open_token(&ws, &g, token, NULL);
	check_int_eq(ws.status, 400);
	check_str_contains(ws.body, "binary");
	ws_client_close(&ws);
	check_int_eq(t.connections, 2);
	check_healthy(&g);
	stop_gateway(&g);
}

struct pump {
	struct ws_client *ws;
	uint64_t bytes, received, mismatches;
	int result;
};

static void *ws_sender(void *data)
{
	struct pump *p = data;
	uint8_t *buf = malloc(65536);
	uint64_t sent = 0;

	while (buf && sent < p->bytes) {
		size_t n = p->bytes - sent < 65536 ? (size_t)(p->bytes - sent) : 65536;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(sent + i);
		p->result = ws_client_send(p->ws, buf, n);
		if (p->result < 0)
			break;
		sent += n;
	}
	free(buf);
	return NULL;
}

static void test_hundred_mib_each_way(void)
{
	const uint64_t total = 100ull << 20;
	struct gateway g;
	struct target t;
	struct ws_client ws;
	struct pump up = { .bytes = total };
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	pthread_t sender;
	uint64_t t0 = vdi_test_now_ms(), frames = 0, max_frame = 0;

	start_gateway(&g);
	target_start(&t, &g, "bulk.sock", TARGET_STREAM);
	t.expect = total;
	t.send = total;
	tgt = target_name(&t);
	token = token_for(&g.key, 2, tgt, 60);
	ws_open_token(&ws, &g, token, "binary");
	check_int_eq(ws.status, 101);

	up.ws = &ws;
	check_int_eq(pthread_create(&sender, NULL, ws_sender, &up), 0);
	while (up.received < total) {
		uint8_t *got = NULL;
		size_t len = 0;

		check_ok(ws_client_recv(&ws, &got, &len, 30000));
		for (size_t i = 0; i < len; i++)
			if (got[i] != pattern(up.received + i))
				up.mismatches++;
		up.received += len;
		frames++;
		if (len > max_frame)
			max_frame = len;
		free(got);
	}
	pthread_join(sender, NULL);
	check_ok(up.result);
	/* The target has read all of it by now, or soon. */
	for (uint64_t end = vdi_test_now_ms() + 30000; t.received < total && vdi_test_now_ms() < end;)
		usleep(10 * 1000);
	vdi_test_log("100 MiB each way in %llu ms; %llu frames to the client, largest %llu bytes",
		     (unsigned long long)(vdi_test_now_ms() - t0), (unsigned long long)frames,
		     (unsigned long long)max_frame);
	check_int_eq(up.received, total);
	check_int_eq(up.mismatches, 0);
	check_int_eq(t.received, total);
	check_int_eq(t.mismatches, 0);
	check(max_frame <= 64 * 1024);
	ws_client_close(&ws);
	check_healthy(&g);
	stop_gateway(&g);
}

/* The gateway's resident memory, from /proc. */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	check(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	check(kib > 0);
	return kib;
}

/*
 * What the design lets a relay hold (gateway/relay.c): two queues, each of which stops reading
 * from its producer above QUEUE_HIGH (256 KiB), so it holds at most that plus one read (64 KiB:
 * pt_serv_buf_size, a raw read; a WebSocket frame arrives in 16 KiB pieces).  Slack: the
 * allocator's and libwebsockets' own buffers.  A relay that buffered what its producer sends
 * would pass any such bound within a second: the producers here send gigabytes.
 */
#define GW_QUEUE_HIGH (256 * 1024)
#define RELAY_BOUND_KIB (2 * (256 + 64))
#define RELAY_SLACK_KIB (8 * 1024)

static long relays_bound_kib(int n)
{
	long kib = (long)n * RELAY_BOUND_KIB + RELAY_SLACK_KIB;

#if defined(__SANITIZE_ADDRESS__)
	/* ASan's redzones and shadow memory on top (its quarantine is off for these tests). */
	kib = 2 * kib + 16 * 1024;
#endif
	return kib;
}

/* Under ASan, freed memory waits in a quarantine (256 MiB): the gateway's RSS would count what it
 * passed on, not what it holds.  Off for the gateway this test starts (the test's own process). */
static void gateway_without_quarantine(void)
{
#if defined(__SANITIZE_ADDRESS__)
	const char *o = getenv("ASAN_OPTIONS");
	char opts[1024];

	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0", o ? o : "", o && *o ? ":" : "");
	check_int_eq(setenv("ASAN_OPTIONS", opts, 1), 0);
#endif
}

/* Checks the gateway's RSS against bound (KiB over before); returns the growth. */
static long check_rss_bound(struct gateway *g, long before, long bound, const char *what)
{
	long grown = rss_kib(g->pid) - before;

	if (grown >= bound)
		vdi_test_fail(__FILE__, __LINE__, "gateway RSS grew by %ld KiB with %s: the bound is %ld KiB", grown, what,
			      bound);
	return grown;
}

/* Bytes the kernel still holds in fd's send queue (not yet taken by the peer). */
static int send_queue(int fd)
{
	int n = 0;

	check(ioctl(fd, SIOCOUTQ, &n) == 0);
	return n;
}

static void set_buffer(int fd, int opt, int bytes)
{
	check(setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) == 0);
}

/* The gateway's counter of bytes relayed towards direction ("to_desktop", "to_client"). */
static uint64_t bytes_relayed(struct gateway *g, const char *direction)
{
	_cleanup_free_ char *metrics = http_text(g->port, "GET", "/metrics", NULL, HTTP_ANY_STATUS, NULL);
	char needle[96];
	const char *p;

	snprintf(needle, sizeof(needle), "vdi_gateway_bytes_total{direction=\"%s\"} ", direction);
	p = strstr(metrics, needle);
	check(p);
	return strtoull(p + strlen(needle), NULL, 10);
}

/* Reads ws until at least want bytes of the pattern came (from its start); checks each one. */
static void read_pattern(struct ws_client *ws, uint64_t want)
{
	uint64_t received = 0, mismatches = 0;

	while (received < want) {
		uint8_t *got = NULL;
		size_t len = 0;

		check_ok(ws_client_recv(ws, &got, &len, 20000));
		for (size_t i = 0; i < len; i++)
			if (got[i] != pattern(received + i))
				mismatches++;
		received += len;
		free(got);
	}
	check_int_eq(mismatches, 0);
}

/*
 * n browsers that read nothing, each in front of a desktop that floods: the gateway stops reading
 * from each desktop (its sender finds the socket full) while its memory stays within n relays'
 * bound, and reading again, every stream resumes where it stopped, byte-exact.
 */
static void stalled_browsers(int n)
{
	struct gateway g;
	struct target t;
	struct ws_client *ws = calloc((size_t)n, sizeof(*ws));
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	uint64_t sent_when_stalled[TARGET_CONNS_MAX];
	long before, grown = 0, bound = relays_bound_kib(n);
	char what[64];

	check(ws && n <= TARGET_CONNS_MAX);
	snprintf(what, sizeof(what), "%d stalled browsers", n);
	gateway_without_quarantine();
	start_gateway(&g);
	target_start(&t, &g, "flood.sock", TARGET_STREAM);
	t.send = 4ull << 30; /* far more than will ever be read */
	t.hold_send = 1;
	tgt = target_name(&t);
	token = token_for(&g.key, 8, tgt, 120);
	for (int i = 0; i < n; i++) {
		ws_open_token(&ws[i], &g, token, "binary");
		check_int_eq(ws[i].status, 101);
		set_buffer(ws[i].fd, SO_RCVBUF, 64 * 1024);
	}
	for (uint64_t end = vdi_test_now_ms() + 10000; get_int(&t.connections) < n; usleep(10 * 1000))
		check(vdi_test_now_ms() < end);
	before = rss_kib(g.pid);
	set_int(&t.hold_send, 0);

	/* Until the gateway takes nothing more from any desktop, its memory stays within the bound. */
	for (uint64_t end = vdi_test_now_ms() + 120000;; usleep(20 * 1000)) {
		int blocked = 0;

		grown = check_rss_bound(&g, before, bound, what);
		for (int k = 0; k < n; k++)
			blocked += get_int(&t.conns[k].blocked) && __atomic_load_n(&t.conns[k].sent, __ATOMIC_SEQ_CST) >= GW_QUEUE_HIGH;
		/* Each queue paused: the gateway took at least a queue's worth from each desktop. */
		if (blocked == n && bytes_relayed(&g, "to_client") >= (uint64_t)n * GW_QUEUE_HIGH)
			break;
		if (vdi_test_now_ms() >= end)
			vdi_test_fail(__FILE__, __LINE__, "only %d of %d desktops were held back", blocked, n);
	}
	for (int k = 0; k < n; k++) {
		sent_when_stalled[k] = __atomic_load_n(&t.conns[k].sent, __ATOMIC_SEQ_CST);
		check(!get_int(&t.conns[k].done));
	}
	grown = check_rss_bound(&g, before, bound, what);
	vdi_test_log("gateway RSS %ld KiB before, %ld KiB more with %d flooding desktops held back (bound %ld KiB);"
		     " the first had sent %llu KiB", before, grown, n, bound, (unsigned long long)sent_when_stalled[0] / 1024);

	/* Reading again, each stream resumes where it stopped, byte-exact, past what was held. */
	for (int i = 0; i < n; i++)
		read_pattern(&ws[i], sent_when_stalled[i] + (1u << 20));
	check_rss_bound(&g, before, bound, what);
	for (int i = 0; i < n; i++)
		ws_client_close(&ws[i]);
	free(ws);
	wait_no_relays(&g);
	check_healthy(&g);
	stop_gateway(&g);
}

/*
 * n desktops that read nothing, each behind a browser that floods it: the gateway stops reading
 * from each browser (its bytes wait in its own kernel), its memory within n relays' bound; then the
 * desktops read again and get every byte, in order.
 */
static void stalled_desktops(int n, uint64_t each)
{
	struct gateway g;
	struct target t;
	struct ws_client *ws = calloc((size_t)n, sizeof(*ws));
	struct pump *up = calloc((size_t)n, sizeof(*up));
	pthread_t *senders = calloc((size_t)n, sizeof(*senders));
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	long before, grown = 0, bound = relays_bound_kib(n);
	char what[64];

	check(ws && up && senders && n <= TARGET_CONNS_MAX);
	snprintf(what, sizeof(what), "%d stalled desktops", n);
	gateway_without_quarantine();
	start_gateway(&g);
	target_start(&t, &g, "stalled.sock", TARGET_STREAM);
	t.expect = each;
	t.hold_recv = 1;
	tgt = target_name(&t);
	token = token_for(&g.key, 10, tgt, 120);
	for (int i = 0; i < n; i++) {
		ws_open_token(&ws[i], &g, token, "binary");
		check_int_eq(ws[i].status, 101);
		/* A fixed send buffer: what the gateway does not take waits here, up to its size. */
		set_buffer(ws[i].fd, SO_SNDBUF, 256 * 1024);
	}
	for (uint64_t end = vdi_test_now_ms() + 10000; get_int(&t.connections) < n; usleep(10 * 1000))
		check(vdi_test_now_ms() < end);
	before = rss_kib(g.pid);
	for (int i = 0; i < n; i++) {
		up[i] = (struct pump){ .ws = &ws[i], .bytes = each };
		check_int_eq(pthread_create(&senders[i], NULL, ws_sender, &up[i]), 0);
	}

	/*
	 * Until every browser's bytes pile up in its own socket (the gateway takes no more) and the
	 * gateway holds a full queue for each, its memory stays within the bound, and so does what it
	 * holds: what it took from the browsers less what waits unread in the desktops' sockets (the
	 * counter first: what is held can only be underestimated) is at most a queue per relay.
	 */
	for (uint64_t end = vdi_test_now_ms() + 120000;; usleep(20 * 1000)) {
		int64_t held = (int64_t)bytes_relayed(&g, "to_desktop");
		int full = 0;

		for (int k = 0; k < n; k++) {
			int unread = 0;

			check(ioctl(t.conns[k].fd, SIOCINQ, &unread) == 0);
			held -= unread;
		}
		if (held > (int64_t)n * (GW_QUEUE_HIGH + 64 * 1024))
			vdi_test_fail(__FILE__, __LINE__, "the gateway holds %lld KiB for %d relays, more than a queue each",
				      (long long)held / 1024, n);
		grown = check_rss_bound(&g, before, bound, what);
		for (int i = 0; i < n; i++)
			full += send_queue(ws[i].fd) >= 192 * 1024;
		if (full == n && held >= (int64_t)n * GW_QUEUE_HIGH)
			break;
		if (vdi_test_now_ms() >= end) {
			for (int i = 0; i < n; i++)
				vdi_test_log("browser %d: %d bytes in its send queue", i, send_queue(ws[i].fd));
			vdi_test_fail(__FILE__, __LINE__, "only %d of %d browsers were held back", full, n);
		}
	}
	check_int_eq(t.received, 0);
	grown = check_rss_bound(&g, before, bound, what);
	vdi_test_log("gateway RSS %ld KiB before, %ld KiB more with %d flooding browsers held back (bound %ld KiB)",
		     before, grown, n, bound);

	/* The desktops read again: each gets all of its browser's bytes, in order. */
	set_int(&t.hold_recv, 0);
	for (int i = 0; i < n; i++) {
		pthread_join(senders[i], NULL);
		check_ok(up[i].result);
	}
	for (uint64_t end = vdi_test_now_ms() + 120000; __atomic_load_n(&t.received, __ATOMIC_SEQ_CST) < each * (uint64_t)n;
	     usleep(10 * 1000))
		check(vdi_test_now_ms() < end);
	for (int k = 0; k < n; k++)
		check_int_eq(__atomic_load_n(&t.conns[k].received, __ATOMIC_SEQ_CST), each);
	check_int_eq(t.mismatches, 0);
	check_rss_bound(&g, before, bound, what);
	for (int i = 0; i < n; i++)
		ws_client_close(&ws[i]);
	free(ws);
	free(up);
	free(senders);
	wait_no_relays(&g);
	check_healthy(&g);
	stop_gateway(&g);
}

static void test_slow_reader_bounded_memory(void)
{
	stalled_browsers(1);
}

static void test_stalled_desktop_bounded_memory(void)
{
	stalled_desktops(1, 64ull << 20);
}

static void test_fifty_stalled_browsers(void)
{
	stalled_browsers(50);
}

static void test_fifty_stalled_desktops(void)
{
	stalled_desktops(50, 12ull << 20);
}

struct many {
	struct gateway *g;
	const char *token;
	int first, count;
	struct ws_client *ws;
	int failures;
};

static void *open_many(void *data)
{
	struct many *m = data;

	for (int i = m->first; i < m->first + m->count; i++) {
		char path[2048];

		snprintf(path, sizeof(path), "/spice?token=%s", m->token);
		if (ws_client_open(&m->ws[i], m->g->port, path, "binary") < 0 || m->ws[i].status != 101)
			m->failures++;
	}
	return NULL;
}

static void test_thousand_connections(void)
{
	enum { N = 1000, THREADS = 8 };
	struct gateway g;
	struct target t;
	struct ws_client *ws = calloc(N, sizeof(*ws));
	struct many m[THREADS];
	pthread_t th[THREADS];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	int failures = 0;
	uint64_t t0;
	long before, grown;

	check(ws);
	gateway_without_quarantine();
	start_gateway(&g);
	target_start(&t, &g, "many.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 9, tgt, 120);
	before = rss_kib(g.pid);

	t0 = vdi_test_now_ms();
	for (int k = 0; k < THREADS; k++) {
		m[k] = (struct many){ .g = &g, .token = token, .first = k * (N / THREADS), .count = N / THREADS, .ws = ws };
		check_int_eq(pthread_create(&th[k], NULL, open_many, &m[k]), 0);
	}
	for (int k = 0; k < THREADS; k++) {
		pthread_join(th[k], NULL);
		failures += m[k].failures;
	}
	check_int_eq(failures, 0);
	vdi_test_log("%d WebSockets open in %llu ms", N, (unsigned long long)(vdi_test_now_ms() - t0));

	/* All of them at once: each carries its own bytes. */
	for (int i = 0; i < N; i++) {
		char msg[32];

		snprintf(msg, sizeof(msg), "conn-%04d", i);
		check_ok(ws_client_send(&ws[i], msg, strlen(msg)));
	}
	for (int i = 0; i < N; i++) {
		char msg[32];
		uint8_t *got = NULL;
		size_t len = 0;

		snprintf(msg, sizeof(msg), "conn-%04d", i);
		check_ok(ws_client_recv(&ws[i], &got, &len, 20000));
		check_int_eq(len, strlen(msg));
		check(memcmp(got, msg, len) == 0);
		free(got);
	}
	http_expect(g.port, "GET", "/metrics", NULL, HTTP_ANY_STATUS, "vdi_gateway_connections 1000\n");
	/* A relay that passed a message: the WebSocket's receive buffer (16 KiB), struct relay (8 KiB
	 * of it for a CONNECT request's head), libwebsockets' two connections, and the chunk (16 KiB
	 * at least) each queue took for the message, freed but kept by the allocator when all of
	 * them were under way at once: 64 KiB each.  Queues that kept what passed, or a buffer of a
	 * frame's size (64 KiB) per connection more, would not fit. */
	grown = rss_kib(g.pid) - before;
	vdi_test_log("gateway RSS %ld KiB before, %ld KiB more with %d relays (%ld KiB each)", before, grown, N,
		     grown / N);
#if defined(__SANITIZE_ADDRESS__)
	check(grown < 2 * (N * 64 + RELAY_SLACK_KIB) + 16 * 1024);
#else
	check(grown < N * 64 + RELAY_SLACK_KIB);
#endif
	for (int i = 0; i < N; i++)
		ws_client_close(&ws[i]);
	free(ws);
	/* They all go. */
	wait_no_relays(&g);
	stop_gateway(&g);
}

/* ---- refusals ----------------------------------------------------------------------------------- */

static void expect_ws_refused(struct gateway *g, const char *token, int status, const char *what)
{
	expect_ws_status(g, token, status, what, "\"error\"");
}

static void test_bad_tokens_and_targets(void)
{
	struct gateway g;
	struct target t;
	struct vdi_token_key other;
	_cleanup_free_ char *tgt = NULL, *good = NULL, *expired = NULL, *wrong_key = NULL, *outside = NULL,
			    *traversal = NULL, *tcp = NULL, *tampered = NULL, *forged = NULL, *metrics = NULL;
	struct vdi_error err = { 0 };
	char path[700];

	start_gateway(&g);
	target_start(&t, &g, "desk3.sock", TARGET_ECHO);
	tgt = target_name(&t);
	good = token_for(&g.key, 3, tgt, 60);
	expired = token_for(&g.key, 3, tgt, -1);
	snprintf(path, sizeof(path), "%s/other.key", vdi_test_tmpdir());
	check_ok(vdi_token_key_generate(path, NULL));
	if (vdi_token_key_load(path, &other, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
	wrong_key = token_for(&other, 3, tgt, 60);
	outside = token_for(&g.key, 3, "unix:/run/libvirt/libvirt-sock", 60);
	snprintf(path, sizeof(path), "unix:%s/../spice/desk3.sock", g.spice_dir);
	traversal = token_for(&g.key, 3, path, 60);
	tcp = token_for(&g.key, 3, "tcp:127.0.0.1:22", 60);
	/* Tampered: the payload of another token with this one's signature. */
	{
		_cleanup_free_ char *other_desk = token_for(&g.key, 4, tgt, 60);
		char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
		char *odot1 = strchr(other_desk, '.'), *odot2 = strrchr(other_desk, '.');

		check(asprintf(&tampered, "v1.%.*s%s", (int)(odot2 - odot1 - 1), odot1 + 1, dot2) > 0);
		(void)dot1;
		/* Forged: a well-formed token whose signature is made up. */
		check(asprintf(&forged, "%.*s.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", (int)(dot2 - good), good) > 0);
	}

	expect_ws_refused(&g, "", 401, "no token");
	expect_ws_refused(&g, "garbage", 401, "malformed");
	expect_ws_refused(&g, "v1.e30.AAAA", 401, "malformed claims");
	expect_ws_refused(&g, expired, 401, "expired");
	expect_ws_refused(&g, wrong_key, 401, "wrong key");
	expect_ws_refused(&g, tampered, 401, "tampered");
	expect_ws_refused(&g, forged, 401, "forged");
	expect_ws_refused(&g, outside, 403, "target outside allowed_targets");
	expect_ws_refused(&g, traversal, 403, "target with ..");
	expect_ws_refused(&g, tcp, 403, "tcp target not allowed");
	check_int_eq(t.connections, 0);
	/* Refusals are logged, with their reason and without the token. */
	check(log_has(&g, "127.0.0.1: expired"));
	check(log_has(&g, "127.0.0.1: bad-signature"));
	check(log_has(&g, "127.0.0.1: target"));
	check(!log_has(&g, good + 10));
	check(!log_has(&g, expired + 10));

	/* The good one still works, and the counters say what happened. */
	expect_ws_status(&g, good, 101, "good", NULL);
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"expired\"} 1");
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"bad-signature\"} 3");
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"target\"} 3");
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"no-token\"} 1");
	check_str_contains(metrics, "vdi_gateway_connections_total 1");
	stop_gateway(&g);
}

/* ---- HTTP CONNECT ----------------------------------------------------------------------------- */

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 15 };

	check(fd >= 0);
	check(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads until the end of an HTTP reply head (or the connection ends); returns the head. */
static char *read_head(int fd)
{
	char *buf = calloc(1, 8192);
	size_t len = 0;

	check(buf);
	while (len < 8191 && !strstr(buf, "\r\n\r\n")) {
		ssize_t n = recv(fd, buf + len, 1, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return buf;
}

static char *connect_request(int64_t desktop, const char *token)
{
	char cred[4096], b64[6000], *req;

	snprintf(cred, sizeof(cred), "token:%s", token);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cred, (int)strlen(cred));
	check(asprintf(&req,
		       "CONNECT desktop-%lld:5900 HTTP/1.1\r\nHost: desktop-%lld:5900\r\n"
		       "Proxy-Authorization: Basic %s\r\nUser-Agent: test\r\n\r\n",
		       (long long)desktop, (long long)desktop, b64) > 0);
	return req;
}

static void expect_connect_status(struct gateway *g, const char *request, const char *status)
{
	int fd = tcp_connect(g->port);
	_cleanup_free_ char *head = NULL;

	check(send(fd, request, strlen(request), MSG_NOSIGNAL) == (ssize_t)strlen(request));
	head = read_head(fd);
	if (!startswith(head, status))
		vdi_test_fail(__FILE__, __LINE__, "%.60s...: expected \"%s\", got \"%s\"", request, status, head);
	close(fd);
}

/* The gateway's wall clock jumps (libfaketime; the monotonic clock is left alone, as with a real
 * jump): open relays live on, tokens are judged by the gateway's own clock. */
static void test_clock_jumps(void)
{
	struct gateway g;
	struct target t;
	struct ws_client ws;
	_cleanup_free_ char *tgt = NULL, *token = NULL, *expired = NULL;
	char *saved;
	uint8_t *got;
	size_t len;

	fake_clock_set(0);
	saved = faketime_begin();
	start_gateway_with(&g, "idle_timeout = 3600\n");
	faketime_end(saved);
	target_start(&t, &g, "clock.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 7, tgt, 60);
	/* Another desktop's (with the same target): desktop 7's would take over the open relay. */
	expired = token_for(&g.key, 8, tgt, -1);

	ws_open_token(&ws, &g, token, "binary");
	check_int_eq(ws.status, 101);
	/* Two hours forward, more than idle_timeout: the open relay goes on; the token, 60 s long,
	 * is now past its time for new connections. */
	fake_clock_set(7200);
	check_ok(ws_client_send(&ws, "after-jump", 10));
	check_ok(ws_client_recv(&ws, &got, &len, 5000));
	check(len == 10 && memcmp(got, "after-jump", 10) == 0);
	free(got);
	expect_ws_status(&g, token, 401, "after the jump forward", NULL);
	/* 25 s back: the token works again; and a token expired a second ago still passes there, for
	 * its 25 s of skew.  GW_TEST_TTL back, the token's exp is more than [tokens] ttl + 30 s ahead
	 * of the gateway's clock: refused (clocks must agree to within 30 s). */
	fake_clock_set(-GW_TEST_TTL);
	expect_ws_status(&g, token, 401, "after a jump back beyond the skew", NULL);
	fake_clock_set(-25);
	expect_ws_status(&g, token, 101, "after the jump back", NULL);
	expect_ws_status(&g, expired, 101, "expired, within the skew", NULL);
	check_ok(ws_client_send(&ws, "still", 5));
	check_ok(ws_client_recv(&ws, &got, &len, 5000));
	check_int_eq(len, 5);
	free(got);
	ws_client_close(&ws);
	check_healthy(&g);
	stop_gateway(&g);
}

/* The desktop vanishes in the middle of a stream: the browser's WebSocket is closed, the relay
 * freed, the next connection refused, the gateway fine. */
static void test_target_vanishes_mid_stream(void)
{
	struct gateway g;
	struct target t;
	struct ws_client ws;
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	uint64_t got = 0;
	uint8_t *buf;
	size_t len;
	int rc;

	start_gateway(&g);
	target_start(&t, &g, "gone.sock", TARGET_STREAM);
	t.send = 1ull << 40;
	t.vanish_after = 8u << 20;
	tgt = target_name(&t);
	token = token_for(&g.key, 6, tgt, 60);
	ws_open_token(&ws, &g, token, "binary");
	check_int_eq(ws.status, 101);
	while ((rc = ws_client_recv(&ws, &buf, &len, 10000)) == 0) {
		got += len;
		free(buf);
	}
	ws_client_close(&ws);
	vdi_test_log("%llu bytes, then the WebSocket ended: %s", (unsigned long long)got, strerror(-rc));
	check_int_eq(rc, -EPIPE);
	check(got > 0 && got <= t.vanish_after + (4u << 20));
	/* The relay is gone from the gateway's books. */
	wait_no_relays(&g);
	/* The same token now finds no desktop: the WebSocket does not stay open. */
	ws_open_token(&ws, &g, token, "binary");
	if (ws.status == 101)
		check_int_eq(ws_client_recv(&ws, &buf, &len, 10000), -EPIPE);
	ws_client_close(&ws);
	http_expect(g.port, "GET", "/metrics", NULL, HTTP_ANY_STATUS, "vdi_gateway_refused_total{reason=\"unreachable\"} 1");
	check_healthy(&g);
	stop_gateway(&g);
}

/* [gateway] allowed_origins: a browser's WebSocket from another site's page is refused. */
static void test_foreign_origin(void)
{
	struct gateway g;
	struct target t;
	struct ws_client ws;
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	char path[4096];
	static const struct {
		const char *headers;
		int status;
	} cases[] = {
		{ "Origin: https://evil.example\r\n", 403 },
		{ "Origin: https://vdi.example.org.evil.example\r\n", 403 },
		{ "Origin: null\r\n", 403 },
		{ "Origin: https://vdi.example.org\r\n", 101 },
		{ "Origin: HTTPS://VDI.EXAMPLE.ORG\r\n", 101 },
		{ NULL, 101 }, /* not a browser: no Origin */
	};

	start_gateway_with(&g, "allowed_origins = https://vdi.example.org\n");
	target_start(&t, &g, "desk5.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 5, tgt, 60);
	snprintf(path, sizeof(path), "/spice?token=%s", token);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		check_ok(ws_client_open_with(&ws, g.port, path, "binary", cases[i].headers));
		if (ws.status != cases[i].status)
			vdi_test_fail(__FILE__, __LINE__, "%s: expected %d, got %d %s", cases[i].headers ? cases[i].headers : "no Origin",
				      cases[i].status, ws.status, ws.body);
		ws_client_close(&ws);
	}
	http_expect(g.port, "GET", "/metrics", NULL, HTTP_ANY_STATUS, "vdi_gateway_refused_total{reason=\"origin\"} 3");
	check(log_has(&g, "127.0.0.1: origin: https://evil.example"));
	stop_gateway(&g);
}

static void test_connect_relay(void)
{
	struct gateway g;
	struct target t;
	_cleanup_free_ char *tgt = NULL, *token = NULL, *req = NULL, *head = NULL, *other = NULL, *bad = NULL,
			    *expired = NULL;
	char buf[64];
	int fd;

	start_gateway(&g);
	target_start(&t, &g, "desk5.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 5, tgt, 60);

	/* remote-viewer's way in: CONNECT with the token as proxy password, then SPICE bytes. */
	req = connect_request(5, token);
	fd = tcp_connect(g.port);
	check(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
	head = read_head(fd);
	check(startswith(head, "HTTP/1.1 200 "));
	check(send(fd, "REDQ-thin", 9, MSG_NOSIGNAL) == 9);
	{
		size_t got = 0;

		while (got < 9) {
			ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

			check(n > 0);
			got += (size_t)n;
		}
		check(memcmp(buf, "REDQ-thin", 9) == 0);
	}
	close(fd);

	/* Refusals: no credentials, another desktop's id, a bad or expired token, not a desktop, junk. */
	expect_connect_status(&g, "CONNECT desktop-5:5900 HTTP/1.1\r\nHost: desktop-5:5900\r\n\r\n",
			      "HTTP/1.1 407 ");
	other = connect_request(6, token);
	expect_connect_status(&g, other, "HTTP/1.1 403 ");
	bad = connect_request(5, "v1.e30.AAAA");
	expect_connect_status(&g, bad, "HTTP/1.1 403 ");
	{
		_cleanup_free_ char *e = token_for(&g.key, 5, tgt, -5);

		expired = connect_request(5, e);
	}
	expect_connect_status(&g, expired, "HTTP/1.1 403 ");
	expect_connect_status(&g, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			      "HTTP/1.1 404 ");
	check_int_eq(t.connections, 1);
	check(log_has(&g, "127.0.0.1: no-token"));
	check(log_has(&g, "127.0.0.1: target: the token is for another desktop"));
	check_healthy(&g);
	stop_gateway(&g);
}

/* CONNECT desktop-N:5901 asks for SPICE over TLS, which a gateway without tls_cert cannot end. */
static void test_connect_tls_port_needs_a_certificate(void)
{
	struct gateway g;
	struct target t;
	_cleanup_free_ char *tgt = NULL, *token = NULL, *req = NULL;
	char *p;

	start_gateway(&g);
	target_start(&t, &g, "desk5.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 5, tgt, 60);
	req = connect_request(5, token);
	while ((p = strstr(req, ":5900")))
		p[4] = '1';
	expect_connect_status(&g, req, "HTTP/1.1 403 ");
	check(log_has(&g, "SPICE over TLS (port 5901) needs [gateway] tls_cert"));
	check_int_eq(t.connections, 0);
	stop_gateway(&g);
}

/* ---- a second viewer ----------------------------------------------------------------------------- */

/* A WebSocket echoes len bytes of data (any bytes). */
static void check_echo(struct ws_client *ws, const char *data)
{
	uint8_t *got = NULL;
	size_t len = 0;

	check_ok(ws_client_send(ws, data, strlen(data)));
	check_ok(ws_client_recv(ws, &got, &len, 5000));
	check(len == strlen(data) && memcmp(got, data, len) == 0);
	free(got);
}

/* The server closes ws with 4000, "taken over by another viewer", before any more data. */
static void check_taken_over(struct ws_client *ws, const char *what)
{
	uint8_t *got = NULL;
	size_t len = 0;
	int r = ws_client_recv(ws, &got, &len, 10000);

	if (r == 0)
		free(got);
	if (r != -EPIPE || ws->close_code != 4000)
		vdi_test_fail(__FILE__, __LINE__, "%s: expected close 4000, got %s, code %d \"%s\"", what,
			      r == 0 ? "data" : strerror(-r), ws->close_code, ws->close_reason);
	check_str_eq(ws->close_reason, "taken over by another viewer");
	ws_client_close(ws);
}

/* Opens a CONNECT tunnel to desktop dsk with token; returns the socket once the gateway said 200. */
static int connect_tunnel(struct gateway *g, int64_t dsk, const char *token)
{
	_cleanup_free_ char *req = connect_request(dsk, token), *head = NULL;
	int fd = tcp_connect(g->port);

	check(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
	head = read_head(fd);
	check(startswith(head, "HTTP/1.1 200 "));
	return fd;
}

/* ---- pen-test findings ----------------------------------------------------------------------- */

/* A token whose target is a link in the spice directory to a socket outside it: refused (403 and CONNECT 403,
 * logged with where it leads), and the socket outside sees no connection; a link within the directory works. */
static void test_symlink_out_of_allowed_dir(void)
{
	struct gateway g;
	struct target outside, inside;
	struct ws_client ws;
	_cleanup_free_ char *token = NULL, *alias_token = NULL, *req = NULL, *metrics = NULL;
	char link[700], alias[700], tgt[720];

	start_gateway(&g);
	/* In the test's directory, next to (not in) the allowed spice directory. */
	target_start(&outside, &g, "../outside.sock", TARGET_ECHO);
	target_start(&inside, &g, "desk9.sock", TARGET_ECHO);
	snprintf(link, sizeof(link), "%s/link.sock", g.spice_dir);
	check_int_eq(symlink("../outside.sock", link), 0);
	snprintf(alias, sizeof(alias), "%s/alias.sock", g.spice_dir);
	check_int_eq(symlink("desk9.sock", alias), 0);
	snprintf(tgt, sizeof(tgt), "unix:%s", link);
	token = token_for(&g.key, 9, tgt, 60);
	snprintf(tgt, sizeof(tgt), "unix:%s", alias);
	alias_token = token_for(&g.key, 9, tgt, 60);

	expect_ws_refused(&g, token, 403, "link out of the spice directory");
	req = connect_request(9, token);
	expect_connect_status(&g, req, "HTTP/1.1 403 ");
	check_int_eq(outside.connections, 0);
	check(log_has(&g, "link.sock leads to "));
	check(log_has(&g, "/outside.sock, outside allowed_targets"));
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"target\"} 2");

	ws_open_token(&ws, &g, alias_token, "binary");
	check_int_eq(ws.status, 101);
	check_echo(&ws, "through a link inside");
	ws_client_close(&ws);
	check_int_eq(inside.connections, 1);
	check_int_eq(outside.connections, 0);
	stop_gateway(&g);
}

/* A token signed with the right key whose exp is further ahead than [tokens] ttl + 30 s (2^63-1 was taken):
 * refused, WebSocket 401 and CONNECT 403, counted as "lifetime"; one of the broker's ttl still works. */
static void test_token_outliving_ttl(void)
{
	struct gateway g;
	struct target t;
	struct vdi_token_claims c = { .dsk = 10, .exp = INT64_MAX };
	_cleanup_free_ char *tgt = NULL, *forever = NULL, *hour = NULL, *ok = NULL, *req = NULL, *metrics = NULL;

	start_gateway_with(&g, "");
	target_start(&t, &g, "desk10.sock", TARGET_ECHO);
	tgt = target_name(&t);
	snprintf(c.sub, sizeof(c.sub), "ann");
	snprintf(c.tgt, sizeof(c.tgt), "%s", tgt);
	check_ok(vdi_token_sign(&g.key, &c, &forever));
	hour = token_for(&g.key, 10, tgt, 3600);
	ok = token_for(&g.key, 10, tgt, GW_TEST_TTL);

	expect_ws_refused(&g, forever, 401, "exp 2^63-1");
	expect_ws_refused(&g, hour, 401, "an hour, ttl 600");
	req = connect_request(10, hour);
	expect_connect_status(&g, req, "HTTP/1.1 403 ");
	check_int_eq(t.connections, 0);
	check(log_has(&g, "127.0.0.1: lifetime: token lives longer than [tokens] ttl"));
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"lifetime\"} 3");
	{
		struct ws_client ws;

		ws_open_token(&ws, &g, ok, "binary");
		check_int_eq(ws.status, 101);
		check_echo(&ws, "within ttl");
		ws_client_close(&ws);
	}
	check_int_eq(t.connections, 1);
	stop_gateway(&g);
}

/* One desktop, one viewer (console token) after another: each new viewer's relays close the older
 * viewer's, all its channels (WebSocket: close 4000 with the reason; CONNECT: the tunnel ends);
 * the channels of one viewer do not; an older viewer's late channel is refused the same way; a
 * desktop with the same id but another SPICE server (a maintenance desktop's) is not touched. */
static void test_second_viewer_takes_over(void)
{
	struct gateway g;
	struct target t, other;
	struct ws_client a1, a2, a3, b1, m1, d1;
	_cleanup_free_ char *tgt = NULL, *other_tgt = NULL, *a = NULL, *b = NULL, *c = NULL, *d = NULL, *m = NULL,
			    *metrics = NULL, *stale = NULL;
	char buf[16];
	int fd;

	start_gateway(&g);
	target_start(&t, &g, "desk13.sock", TARGET_ECHO);
	target_start(&other, &g, "maint13.sock", TARGET_ECHO);
	tgt = target_name(&t);
	other_tgt = target_name(&other);
	a = token_for(&g.key, 13, tgt, 60);
	b = token_for(&g.key, 13, tgt, 60);
	c = token_for(&g.key, 13, tgt, 60);
	d = token_for(&g.key, 13, tgt, 60);
	m = token_for(&g.key, 13, other_tgt, 60);

	/* Viewer A with two channels, and the other desktop 13's viewer. */
	ws_open_token(&a1, &g, a, "binary");
	ws_open_token(&a2, &g, a, "binary");
	ws_open_token(&m1, &g, m, "binary");
	check(a1.status == 101 && a2.status == 101 && m1.status == 101);
	check_echo(&a1, "a1");
	check_echo(&a2, "a2");
	check_echo(&m1, "m1");

	/* Viewer B: A's channels are closed and say why; B and the other desktop work. */
	ws_open_token(&b1, &g, b, "binary");
	check_int_eq(b1.status, 101);
	check_taken_over(&a1, "A's first channel");
	check_taken_over(&a2, "A's second channel");
	check_echo(&b1, "b1");
	check_echo(&m1, "m1 again");
	check(log_has(&g, "relay for desktop 13 of ann taken over by another viewer"));

	/* A's late channel: open, then closed the same way; it never reached the desktop. */
	ws_open_token(&a3, &g, a, "binary");
	check_int_eq(a3.status, 101);
	check_taken_over(&a3, "A's late channel");
	check_int_eq(t.connections, 3);
	check_echo(&b1, "b1 again");

	/* Viewer C, a thin client's tunnel: B's WebSocket goes; then viewer D's WebSocket ends the tunnel. */
	fd = connect_tunnel(&g, 13, c);
	check_taken_over(&b1, "B, by a CONNECT tunnel");
	check(send(fd, "tunnel", 6, MSG_NOSIGNAL) == 6);
	check(recv(fd, buf, 6, MSG_WAITALL) == 6 && memcmp(buf, "tunnel", 6) == 0);
	ws_open_token(&d1, &g, d, "binary");
	check_int_eq(d1.status, 101);
	{
		ssize_t n;

		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		check_int_eq(n, 0);
	}
	close(fd);
	check_echo(&d1, "d1");
	/* C's tunnel again: refused with 409, not taking D's desktop back. */
	stale = connect_request(13, c);
	expect_connect_status(&g, stale, "HTTP/1.1 409 ");
	check_echo(&d1, "d1 again");
	check_echo(&m1, "m1 at last");

	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_taken_over_total 4\n");
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"superseded\"} 2\n");
	ws_client_close(&d1);
	ws_client_close(&m1);
	wait_no_relays(&g);
	check_healthy(&g);
	stop_gateway(&g);
}

/* A listening TCP socket on 127.0.0.1 with an accept queue of one (backlog 0); *port: its port (0: any). */
static int tcp_listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	check(fd >= 0);
	check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	check(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(fd, 0) == 0);
	check(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* The desktop accepts the gateway's next connection on listen_fd and echoes it on a thread of its own. */
static void tcp_accept_echo(struct target *t, int listen_fd)
{
	struct conn_args *a = calloc(1, sizeof(*a));
	pthread_attr_t attr;
	pthread_t th;

	check(a);
	a->t = t;
	a->stat = &t->conns[0];
	a->fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	check(a->fd >= 0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	check_int_eq(pthread_create(&th, &attr, target_conn, a), 0);
	pthread_attr_destroy(&attr);
}

/* ws (viewer A) echoes data, still: it was not closed (what: when). */
static void check_still_echoes(struct ws_client *ws, const char *data, const char *what)
{
	uint8_t *got = NULL;
	size_t len = 0;
	int r;

	check_ok(ws_client_send(ws, data, strlen(data)));
	r = ws_client_recv(ws, &got, &len, 5000);
	if (r < 0)
		vdi_test_fail(__FILE__, __LINE__, "A %s: its WebSocket ended: %s, close code %d \"%s\"", what,
			      strerror(-r), ws->close_code, ws->close_reason);
	check(len == strlen(data) && memcmp(got, data, len) == 0);
	free(got);
}

/* A desktop on a TCP target (a remote host's SPICE port): viewer B, whose connect to it is pending
 * (the listener's accept queue is full) and then fails (the listener went), leaves viewer A's
 * channel working, not closed; viewer C, whose connect completes, takes it over. */
static void test_unreachable_viewer_takes_nothing(void)
{
	struct gateway g;
	struct target t = { .mode = TARGET_ECHO };
	struct ws_client a1, b1, c1;
	_cleanup_free_ char *tgt = NULL, *a = NULL, *b = NULL, *c = NULL, *metrics = NULL;
	uint8_t *got = NULL;
	size_t len = 0;
	int port = 0, lfd, filler, r;

	lfd = tcp_listener(&port);
	check(asprintf(&tgt, "tcp:127.0.0.1:%d", port) > 0);
	start_gateway_allowing(&g, tgt, "");
	a = token_for(&g.key, 14, tgt, 60);
	b = token_for(&g.key, 14, tgt, 60);
	c = token_for(&g.key, 14, tgt, 60);

	ws_open_token(&a1, &g, a, "binary");
	check_int_eq(a1.status, 101);
	tcp_accept_echo(&t, lfd);
	check_echo(&a1, "a1");

	/* The desktop's accept queue fills: B's connect stays pending (its SYNs are dropped) ... */
	filler = tcp_connect(port);
	ws_open_token(&b1, &g, b, "binary");
	check_int_eq(b1.status, 101);
	check_still_echoes(&a1, "a1 while B connects", "while B connects");
	/* ... until the listener goes: B's next SYN is refused, and B's WebSocket ends. */
	close(lfd);
	close(filler);
	r = ws_client_recv(&b1, &got, &len, 15000);
	if (r == 0)
		free(got);
	vdi_test_log("B: %s, close code %d", r == 0 ? "data" : strerror(-r), b1.close_code);
	check_int_eq(r, -EPIPE);
	check(b1.close_code != 4000);
	ws_client_close(&b1);
	/* A was not taken over: it still echoes through its own connection. */
	check_still_echoes(&a1, "a1 after B failed", "after B failed");
	check(!log_has(&g, "taken over by another viewer"));
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_taken_over_total 0\n");

	/* The listener is back: viewer C reaches the desktop and takes it over from A. */
	lfd = tcp_listener(&port);
	ws_open_token(&c1, &g, c, "binary");
	check_int_eq(c1.status, 101);
	tcp_accept_echo(&t, lfd);
	check_taken_over(&a1, "A, by C");
	check_echo(&c1, "c1");
	check(log_has(&g, "relay for desktop 14 of ann taken over by another viewer"));
	free(metrics);
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_taken_over_total 1\n");
	ws_client_close(&c1);
	close(lfd);
	wait_no_relays(&g);
	check_healthy(&g);
	stop_gateway(&g);
}

/* A TCP desktop whose connect is pending (its listener's accept queue full) and then fails (the listener
 * goes): the WebSocket ends and the gateway counts and logs it as unreachable, like a connect refused at once. */
static void test_pending_connect_fails_unreachable(void)
{
	struct gateway g;
	struct ws_client ws;
	_cleanup_free_ char *tgt = NULL, *token = NULL, *metrics = NULL;
	uint8_t *got = NULL;
	size_t len = 0;
	int port = 0, lfd, filler, r;

	lfd = tcp_listener(&port);
	check(asprintf(&tgt, "tcp:127.0.0.1:%d", port) > 0);
	start_gateway_allowing(&g, "tcp:127.0.0.1:1-65535", "");
	token = token_for(&g.key, 15, tgt, 60);
	filler = tcp_connect(port); /* the accept queue (0: one connection) is full */
	ws_open_token(&ws, &g, token, "binary");
	check_int_eq(ws.status, 101);
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"unreachable\"} 0\n");
	close(lfd);
	close(filler);
	r = ws_client_recv(&ws, &got, &len, 15000);
	if (r == 0)
		free(got);
	check_int_eq(r, -EPIPE);
	ws_client_close(&ws);
	wait_no_relays(&g);
	free(metrics);
	metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
	check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"unreachable\"} 1\n");
	check(log_has(&g, "relay for desktop 15 of ann: cannot reach the desktop"));

	/* A client that leaves while its connect is under way gave up: the desktop was not unreachable. */
	{
		_cleanup_free_ char *tgt2 = NULL, *token2 = NULL;
		int port2 = 0, lfd2 = tcp_listener(&port2), filler2;

		check(asprintf(&tgt2, "tcp:127.0.0.1:%d", port2) > 0);
		token2 = token_for(&g.key, 16, tgt2, 60);
		filler2 = tcp_connect(port2);
		ws_open_token(&ws, &g, token2, "binary");
		check_int_eq(ws.status, 101);
		ws_client_close(&ws);
		wait_no_relays(&g);
		free(metrics);
		metrics = http_text(g.port, "GET", "/metrics", NULL, 200, NULL);
		check_str_contains(metrics, "vdi_gateway_refused_total{reason=\"unreachable\"} 1\n"); /* desktop 15's */
		check(!log_has(&g, "relay for desktop 16 of ann: cannot reach the desktop"));
		close(filler2);
		close(lfd2);
	}
	check_healthy(&g);
	stop_gateway(&g);
}

/* ---- bad HTTP ------------------------------------------------------------------------------------ */

static void test_bad_http_and_slowloris(void)
{
	struct gateway g;
	struct target t;
	_cleanup_free_ char *tgt = NULL, *token = NULL, *huge = NULL;
	int slow, fd;
	uint64_t t0;

	start_gateway(&g);
	target_start(&t, &g, "desk7.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 7, tgt, 60);

	{
		_cleanup_free_ char *nope = http_text(g.port, "GET", "/nope", NULL, 404, NULL);
		int status;

		check_str_eq(nope, "{\"error\":\"no such resource\"}");
		http_expect(g.port, "GET", "/spice?token=x", NULL, 400, NULL);
		free(http_text(g.port, "POST", "/spice", "{}", HTTP_ANY_STATUS, &status));
		check(status >= 400 && status < 500);
	}

	/* Junk, and headers far over the limit: refused (an error or a closed connection). */
	fd = tcp_connect(g.port);
	check(send(fd, "\x16\x03\x01 hello\r\n\r\n", 12, MSG_NOSIGNAL) > 0);
	{
		_cleanup_free_ char *head = read_head(fd);

		check(!startswith(head, "HTTP/1.1 2"));
	}
	close(fd);
	huge = malloc(64 * 1024);
	memset(huge, 'a', 64 * 1024 - 1);
	huge[64 * 1024 - 1] = '\0';
	{
		char *req = NULL;

		check(asprintf(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", huge) > 0);
		fd = tcp_connect(g.port);
		(void)send(fd, req, strlen(req), MSG_NOSIGNAL);
		{
			_cleanup_free_ char *head = read_head(fd);

			check(!startswith(head, "HTTP/1.1 2"));
		}
		close(fd);
		free(req);
	}

	/* Slowloris: a request that never ends does not hold the gateway, and is dropped. */
	slow = tcp_connect(g.port);
	check(send(slow, "GET /spice?token=", 17, MSG_NOSIGNAL) == 17);
	t0 = vdi_test_now_ms();
	{
		struct ws_client ws;
		uint8_t *got = NULL;
		size_t len = 0;

		ws_open_token(&ws, &g, token, "binary");
		check_int_eq(ws.status, 101);
		check_ok(ws_client_send(&ws, "alive", 5));
		check_ok(ws_client_recv(&ws, &got, &len, 5000));
		free(got);
		ws_client_close(&ws);
	}
	{
		char c;
		struct pollfd pfd = { .fd = slow, .events = POLLIN };

		check(poll(&pfd, 1, 30000) == 1);
		check(recv(slow, &c, 1, 0) <= 0);
		vdi_test_log("the slow request was dropped after %llu ms",
			     (unsigned long long)(vdi_test_now_ms() - t0));
	}
	close(slow);
	check_healthy(&g);
	stop_gateway(&g);
}

/* ---- a real thin client: remote-viewer through CONNECT to the test SPICE server --------------------- */

static const char *test_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		vdi_test_fail(__FILE__, __LINE__, "%s is not set: run this test through meson", name);
	return v;
}

/* The test server's picture: red | green over blue | white, each 320x240. */
static bool shows_pattern(const struct screen *scr)
{
	struct screen_colour c[4] = { { .rgb = 0xff0000 }, { .rgb = 0x00ff00 }, { .rgb = 0x0000ff }, { .rgb = 0xffffff } };

	if (!screen_colours(scr, c, 4))
		return false;
	for (int i = 0; i < 4; i++)
		if (c[i].count < 320 * 240 * 9 / 10)
			return false;
	/* red left of green, blue left of white, red above blue, green above white */
	return c[0].x < c[1].x && c[2].x < c[3].x && c[0].y < c[2].y && c[1].y < c[3].y;
}

/* tcpdump on loopback, TCP port only, into path (its messages to log); returns once it captures. */
static pid_t capture_start(int port, const char *path, const char *log)
{
	char filter[32];
	pid_t pid;

	if (access("/usr/bin/tcpdump", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "tcpdump is needed: tools/install-deps installs it");
	snprintf(filter, sizeof(filter), "tcp port %d", port);
	pid = screen_spawn(log, (char *[]){ "/usr/bin/tcpdump", "-i", "lo", "-U", "-s", "0", "-Z", "root", "-w",
					    (char *)path, filter, NULL },
			   NULL);
	for (uint64_t end = vdi_test_now_ms() + 10000; !vdi_test_file_has(log, "listening on lo"); usleep(20 * 1000))
		check(vdi_test_now_ms() < end);
	return pid;
}

static void capture_stop(pid_t pid)
{
	int status;

	check(kill(pid, SIGINT) == 0);
	check(waitpid(pid, &status, 0) == pid);
}

#define CONNECT_PLAIN_REFUSED "this gateway speaks TLS: CONNECT inside TLS (proxy=https://)"

/* How many times the captured packets (the file's bytes) hold needle; their size in *size. */
static size_t capture_count(const char *path, const char *needle, size_t *size)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0, n = 0, nlen = strlen(needle);
	FILE *f = fopen(path, "re");

	check(f);
	check(data = malloc(64 << 20));
	len = fread(data, 1, 64 << 20, f);
	fclose(f);
	check(len > 0);
	for (const char *p = data; (p = memmem(p, len - (size_t)(p - data), needle, nlen)); p += nlen)
		n++;
	if (size)
		*size = len;
	return n;
}

static bool capture_has(const char *path, const char *needle)
{
	return capture_count(path, needle, NULL) > 0;
}

/* TLS 1.2/1.3 application-data records on the wire: at least min of them, in more than min_size bytes,
 * so that a capture of nothing (or of the handshake alone) fails the negative checks beside. */
static void capture_has_tls_data(const char *path, size_t min, size_t min_size)
{
	size_t size = 0, records = capture_count(path, "\x17\x03\x03", &size);

	vdi_test_log("capture: %zu bytes, %zu application-data record headers", size, records);
	check(records >= min);
	check(size > min_size);
}

/* The base64 of "token:T": how remote-viewer's Proxy-Authorization carries it. */
static char *basic_credential(const char *token)
{
	_cleanup_free_ char *cred = NULL;
	char *out;
	int n;

	check(asprintf(&cred, "token:%s", token) > 0);
	check(out = malloc(strlen(cred) * 2 + 8));
	n = EVP_EncodeBlock((unsigned char *)out, (unsigned char *)cred, (int)strlen(cred));
	check(n > 0);
	return out;
}

struct viewer_session {
	const char *tls_dir;   /* NULL: plain; else tests/tls/make-certs' directory with ca.pem, gateway.pem */
	bool plain_proxy;      /* with tls_dir: proxy=http:// (a plain CONNECT, which the gateway refuses) */
	char capture[600];     /* filled: the capture of the gateway's port */
	char token[VDI_TOKEN_MAX + 1];
};

/* The .vv as the broker writes it (broker/vv.c) for desktop 7 through g, TLS as the gateway has it. */
static void write_vv(struct gateway *g, struct viewer_session *v, const char *ticket, const char *path)
{
	_cleanup_free_ char *pem = NULL, *url = NULL, *ca = NULL, *out = NULL;
	char subject[512];
	struct vdi_error err = { 0 };
	size_t len;
	FILE *f;

	check(asprintf(&url, "ws://127.0.0.1:%d", g->port) > 0);
	if (v->tls_dir) {
		check(asprintf(&pem, "%s/gateway.pem", v->tls_dir) > 0);
		check(asprintf(&ca, "%s/ca.pem", v->tls_dir) > 0);
		check_ok(vdi_pem_subject(pem, subject, sizeof(subject), &err));
		free(pem);
		/* The spelling make-certs wrote down; a key file gives no certificate (nor its key). */
		check(asprintf(&pem, "%s/gateway.subject", v->tls_dir) > 0);
		check(vdi_test_file_has(pem, subject) && strchr(subject, ',') && !strchr(subject, '/'));
		free(pem);
		check(asprintf(&pem, "%s/gateway.key", v->tls_dir) > 0);
		check_err(vdi_pem_certificates(pem, &out, &err), EINVAL);
		check(strstr(err.message, "gateway.key: no PEM certificate"));
		free(pem);
		pem = NULL;
		check_ok(vdi_pem_certificates(ca, &pem, &err));
		check(startswith(pem, "-----BEGIN CERTIFICATE-----\n") && !strstr(pem, "PRIVATE"));
	}
	check_ok(broker_vv_write(&(struct broker_vv){ .desktop = 7, .password = ticket, .token = v->token,
						     .public_url = url, .title = "picture",
						     .host_subject = v->tls_dir ? subject : NULL, .ca = pem },
				 &out, &len));
	if (v->plain_proxy) {
		char *p = strstr(out, "\nproxy=https://");

		check(p);
		memmove(p + strlen("\nproxy=http"), p + strlen("\nproxy=https"), strlen(p + strlen("\nproxy=https")) + 1);
		len--;
	}
	check(f = fopen(path, "we"));
	check(fwrite(out, 1, len, f) == len);
	fclose(f);
}

/* remote-viewer with the .vv of desktop 7 (the test SPICE server) through g, on a virtual screen, the
 * gateway's port captured: it shows the picture (with plain_proxy: the gateway refuses it). */
static void viewer_sees_the_picture(struct gateway *g, struct viewer_session *v)
{
	char sock[700], log[600], fbdir[600], vv[600], ca[700], ticket[] = "Pic-Ticket-1";
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	struct screen scr;
	pid_t spice, viewer, dump;
	bool seen = false;

	if (access("/usr/bin/remote-viewer", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "remote-viewer is needed: tools/install-deps installs it");
	snprintf(sock, sizeof(sock), "%s/picture.sock", g->spice_dir);
	snprintf(log, sizeof(log), "%s/clients.log", vdi_test_tmpdir());
	spice = screen_spawn(log, (char *[]){ (char *)test_env("VDI_TEST_SPICE_BIN"), "--unix", sock, "--password", ticket, NULL },
		      NULL);
	for (uint64_t end = vdi_test_now_ms() + 10000; !vdi_test_file_has(log, "vdi-test-spice ready"); usleep(20 * 1000))
		check(vdi_test_now_ms() < end);
	check(asprintf(&tgt, "unix:%s", sock) > 0);
	token = token_for(&g->key, 7, tgt, 120);
	snprintf(v->token, sizeof(v->token), "%s", token);
	snprintf(vv, sizeof(vv), "%s/desktop-7.vv", vdi_test_tmpdir());
	write_vv(g, v, ticket, vv);

	snprintf(v->capture, sizeof(v->capture), "%s/gateway-port.pcap", vdi_test_tmpdir());
	dump = capture_start(g->port, v->capture, log);
	/* A virtual screen whose pixels are a file, and remote-viewer on it. */
	snprintf(fbdir, sizeof(fbdir), "%s/fb", vdi_test_tmpdir());
	screen_start(&scr, fbdir, log);
	/* With TLS to the gateway (an https proxy), GLib checks its certificate against the system's CAs, not
	 * the .vv's ca: the test CA is one of them for remote-viewer. */
	if (v->tls_dir && !v->plain_proxy) {
		snprintf(ca, sizeof(ca), "%s/ca.pem", v->tls_dir);
		viewer = screen_spawn_trusting(log, (char *[]){ "/usr/bin/remote-viewer", vv, NULL }, scr.display, ca);
	} else {
		viewer = screen_spawn(log, (char *[]){ "/usr/bin/remote-viewer", vv, NULL }, scr.display);
	}

	if (v->plain_proxy) {
		/* Refused: the desktop sees no client, the screen no picture. */
		wait_log(g, "refused CONNECT from 127.0.0.1: bad-request: plain CONNECT on the TLS port");
		check(!log_has(g, "CONNECT relay from"));
		check(!vdi_test_file_has(log, "a client's channel is up"));
		check(!shows_pattern(&scr));
		/* tcpdump may not have written the packets yet: the refusal's body is the last of them. */
		for (uint64_t end = vdi_test_now_ms() + 10000; !capture_has(v->capture, CONNECT_PLAIN_REFUSED);
		     usleep(50 * 1000))
			check(vdi_test_now_ms() < end);
		seen = true;
	}
	for (uint64_t end = vdi_test_now_ms() + 60000; !seen && vdi_test_now_ms() < end; usleep(250 * 1000))
		seen = shows_pattern(&scr);
	if (!seen) {
		char cmd[1400];

		snprintf(cmd, sizeof(cmd), "cat '%s' '%s' >&2", log, g->log_path);
		(void)system(cmd);
	}
	check(seen);
	/* It came through the CONNECT relay, channel by channel. */
	check(v->plain_proxy || log_has(g, "CONNECT relay from"));
	check(v->plain_proxy || vdi_test_file_has(log, "a client's channel is up"));

	kill(viewer, SIGTERM);
	waitpid(viewer, NULL, 0);
	capture_stop(dump);
	screen_stop(&scr);
	kill(spice, SIGTERM);
	waitpid(spice, NULL, 0);
}

static void test_remote_viewer_sees_the_picture(void)
{
	struct viewer_session v = { 0 };
	struct gateway g;
	_cleanup_free_ char *cred = NULL;

	start_gateway(&g);
	viewer_sees_the_picture(&g, &v);
	/* In the clear: the token, the CONNECT and SPICE's link messages ("REDQ") are all on the wire, as
	 * the TLS case below checks they are not. */
	cred = basic_credential(v.token);
	check(capture_has(v.capture, cred));
	check(capture_has(v.capture, "CONNECT desktop-7:5900"));
	check(capture_has(v.capture, "REDQ"));
	stop_gateway(&g);
}

/* TLS to the gateway (an https proxy), then SPICE over TLS to desktop-7:5901 inside the tunnel, which
 * the gateway ends with its certificate: the .vv's ca and host-subject; nothing readable on the wire. */
/* A gateway with [gateway] tls_cert, its certificates in dir. */
static void start_spice_tls_gateway(struct gateway *g, char *dir, size_t len)
{
	char extra[2200];

	snprintf(dir, len, "%s/tls", vdi_test_tmpdir());
	tls_make_certs(dir, "gateway");
	snprintf(extra, sizeof(extra), "tls_cert = %s/gateway.pem\ntls_key = %s/gateway.key\ntls_ca = %s/ca.pem\n", dir,
		 dir, dir);
	start_gateway_with(g, extra);
}

static void test_remote_viewer_over_tls(void)
{
	struct viewer_session v = { 0 };
	struct gateway g;
	char dir[600];
	_cleanup_free_ char *cred = NULL;

	start_spice_tls_gateway(&g, dir, sizeof(dir));
	v.tls_dir = dir;
	viewer_sees_the_picture(&g, &v);
	/* Every channel came through a tunnel whose SPICE the gateway decrypted itself. */
	check(log_has(&g, "(SPICE over TLS)"));
	check(!log_has(&g, "TLS tunnel for"));
	cred = basic_credential(v.token);
	check(!capture_has(v.capture, cred));
	check(!capture_has(v.capture, v.token));
	check(!capture_has(v.capture, "CONNECT desktop-"));
	check(!capture_has(v.capture, "REDQ"));
	/* What was captured is the session itself: TLS records carrying it, the picture's worth. */
	capture_has_tls_data(v.capture, 20, 20000);
	stop_gateway(&g);
}

/* The same .vv with proxy=http:// (an old .vv, or a broker that does not know the gateway's TLS): the
 * gateway refuses the plain CONNECT on its TLS port, which says why; remote-viewer shows nothing. */
static void test_remote_viewer_plain_connect_refused(void)
{
	struct viewer_session v = { .plain_proxy = true };
	struct gateway g;
	char dir[600];
	_cleanup_free_ char *cred = NULL;

	start_spice_tls_gateway(&g, dir, sizeof(dir));
	v.tls_dir = dir;
	viewer_sees_the_picture(&g, &v);
	check(!log_has(&g, "(SPICE over TLS)"));
	/* The refusal on the wire, and nothing of SPICE. */
	cred = basic_credential(v.token);
	check(capture_has(v.capture, cred));
	check(capture_has(v.capture, "CONNECT desktop-7:5901"));
	check(capture_has(v.capture, "HTTP/1.1 403 Forbidden"));
	check(!capture_has(v.capture, "REDQ"));
	check(!capture_has(v.capture, "\x16\x03\x01"));
	stop_gateway(&g);
}

static void test_idle_timeout(void)
{
	struct gateway g;
	struct target t;
	struct ws_client quiet, busy;
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	uint8_t *got = NULL;
	size_t len = 0;
	int r = 0;

	start_gateway_with(&g, "idle_timeout = 2\n");
	target_start(&t, &g, "idle.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 12, tgt, 60);
	ws_open_token(&quiet, &g, token, "binary");
	ws_open_token(&busy, &g, token, "binary");
	check_int_eq(quiet.status, 101);
	check_int_eq(busy.status, 101);
	/* One talks every half second for 4 s, the other says nothing. */
	for (int i = 0; i < 8; i++) {
		check_ok(ws_client_send(&busy, "tick", 4));
		check_ok(ws_client_recv(&busy, &got, &len, 5000));
		free(got);
		usleep(500 * 1000);
	}
	/* The quiet one was closed after 2 s without traffic; the busy one is still open. */
	r = ws_client_recv(&quiet, &got, &len, 1000);
	check_err(r, EPIPE);
	check_ok(ws_client_send(&busy, "still", 5));
	check_ok(ws_client_recv(&busy, &got, &len, 5000));
	check_int_eq(len, 5);
	free(got);
	ws_client_close(&quiet);
	ws_client_close(&busy);
	stop_gateway(&g);
}

static void test_check_config(void)
{
	char conf[512], cmd[1200];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/bad.conf", vdi_test_tmpdir());
	check(f = fopen(conf, "we"));
	fputs("[gateway]\nidle_timeout = soon\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --check-config 2>&1 | grep -q 'bad.conf:2: \\[gateway\\] idle_timeout'",
		 getenv("VDI_GATEWAY_BIN"), conf);
	check_int_eq(system(cmd), 0);
}

/* ---- TLS ([gateway] tls_cert, tls_key) ------------------------------------------------------------- */

/* A gateway with TLS from dir/gw.pem + dir/gw.key (made here), trusting dir/ca.pem for the test's requests. */
static void start_tls_gateway(struct gateway *g, char *dir, size_t dirlen)
{
	char extra[2200];

	snprintf(dir, dirlen, "%s/tls", vdi_test_tmpdir());
	tls_make_certs(dir, "gw other");
	snprintf(extra, sizeof(extra), "tls_cert = %s/gw.pem\ntls_key = %s/gw.key\n", dir, dir);
	start_gateway_with(g, extra);
}

/* A WSS relay to token's target, its TLS checked against ca. */
static void wss_open(struct ws_client *ws, struct gateway *g, const char *token, const char *ca)
{
	char path[4096];

	snprintf(path, sizeof(path), "/spice?token=%s", token);
	check_ok(ws_client_open_tls(ws, g->port, path, "binary", NULL, ca));
	check_int_eq(ws->status, 101);
}

/* A CONNECT desktop-dsk:port tunnel inside TLS: the session once the gateway said 200 (its socket in *fd). */
static SSL *tls_tunnel_to(struct gateway *g, int64_t dsk, int port, const char *token, const char *ca, int *fd)
{
	_cleanup_free_ char *req = connect_request(dsk, token);
	char head[512] = "";
	size_t len = 0;
	SSL *ssl = NULL;
	char *p;

	while (port == 5901 && (p = strstr(req, ":5900")))
		p[4] = '1';
	*fd = tcp_connect(g->port);
	check_ok(tls_client_start(*fd, ca, &ssl));
	check_ok(tls_client_send(ssl, req, strlen(req)));
	while (len < sizeof(head) - 1 && !strstr(head, "\r\n\r\n")) {
		int n = SSL_read(ssl, head + len, 1);

		check(n == 1);
		len++;
	}
	if (!startswith(head, "HTTP/1.1 200 "))
		vdi_test_fail(__FILE__, __LINE__, "CONNECT inside TLS: %s", head);
	return ssl;
}

static SSL *tls_tunnel(struct gateway *g, int64_t dsk, const char *token, const char *ca, int *fd)
{
	return tls_tunnel_to(g, dsk, 5900, token, ca, fd);
}

/* A plain CONNECT desktop-dsk:port to the TLS gateway g: refused, the reason in the body. */
static void plain_connect_refused(struct gateway *g, int64_t dsk, int port, const char *token)
{
	_cleanup_free_ char *req = connect_request(dsk, token), *head = NULL;
	char body[128] = "";
	size_t got = 0;
	ssize_t n;
	char *p;
	int fd;

	while (port == 5901 && (p = strstr(req, ":5900")))
		p[4] = '1';
	fd = tcp_connect(g->port);
	check(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
	head = read_head(fd);
	if (!startswith(head, "HTTP/1.1 403 "))
		vdi_test_fail(__FILE__, __LINE__, "plain CONNECT on the TLS port: %s", head);
	check(strstr(head, "Content-Length: 61\r\n"));
	while (got < sizeof(body) - 1 && (n = recv(fd, body + got, sizeof(body) - 1 - got, 0)) > 0)
		got += (size_t)n;
	check_str_eq(body, CONNECT_PLAIN_REFUSED "\n");
	close(fd);
}

static void tunnel_echo(SSL *ssl, const char *data)
{
	char buf[64];
	size_t got = 0, len = strlen(data);

	check_ok(tls_client_send(ssl, data, len));
	while (got < len) {
		int n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got));

		check(n > 0);
		got += (size_t)n;
	}
	check(got == len && memcmp(buf, data, len) == 0);
}

/* With tls_cert: WSS relays, CONNECT inside TLS relays (and refuses), /healthz over HTTPS, all with the
 * configured certificate; in plain, HTTP, WebSockets and CONNECT (to 5900 or 5901) are refused. */
static void test_tls_wss_and_connect(void)
{
	struct gateway g;
	struct target t;
	struct ws_client ws;
	char dir[600], ca[700], pem[700], serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	SSL *ssl;
	int fd;

	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/gw.pem", dir);
	tls_file_serial(pem, serial, sizeof(serial));
	check(serial[0]);
	target_start(&t, &g, "tls1.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 31, tgt, 60);

	/* Plain HTTP and a plain WebSocket are refused on the TLS port: no token in the clear. */
	expect_ws_status(&g, token, 403, "plain WebSocket on the TLS port", "this gateway speaks TLS");
	http_expect(g.port, "GET", "/healthz", NULL, 403, "use https:// or wss://");
	check_int_eq(t.connections, 0);

	wss_open(&ws, &g, token, ca);
	check_str_eq(ws.peer_serial, serial);
	check_echo(&ws, "REDQ-over-wss");
	ws_client_close(&ws);

	ssl = tls_tunnel(&g, 31, token, ca, &fd);
	tunnel_echo(ssl, "REDQ-thin-over-tls");
	SSL_free(ssl);
	close(fd);
	check_int_eq(t.connections, 2);

	/* A plain CONNECT is refused, to either port (an old .vv with proxy=http://): its token would be
	 * in the clear, and on 5900 all of SPICE too.  Logged and counted; the desktop sees nothing. */
	plain_connect_refused(&g, 31, 5900, token);
	plain_connect_refused(&g, 31, 5901, token);
	wait_log(&g, "refused CONNECT from 127.0.0.1: bad-request: plain CONNECT on the TLS port");
	check_int_eq(t.connections, 2);

	/* A refusal comes back inside TLS too. */
	fd = tcp_connect(g.port);
	check_ok(tls_client_start(fd, ca, &ssl));
	{
		static const char req[] = "CONNECT desktop-31:5900 HTTP/1.1\r\nHost: desktop-31:5900\r\n\r\n";
		char head[256] = "";
		int n;

		check_ok(tls_client_send(ssl, req, strlen(req)));
		n = SSL_read(ssl, head, sizeof(head) - 1);
		check(n > 0);
		check(startswith(head, "HTTP/1.1 407 "));
	}
	SSL_free(ssl);
	close(fd);

	http_client_use_tls(ca);
	check_healthy(&g);
	/* The plain WebSocket, the plain GET and the two plain CONNECTs. */
	check(log_has(&g, "refused HTTP from 127.0.0.1: bad-request: plain HTTP on the TLS port"));
	http_expect(g.port, "GET", "/metrics", NULL, 200, "vdi_gateway_refused_total{reason=\"bad-request\"} 4\n");
	http_client_use_tls(NULL);
	check_int_eq(t.connections, 2);
	stop_gateway(&g);
}

/* SIGHUP after a renewal: the open WSS relay and CONNECT tunnel go on, new connections get the new
 * certificate; a bad new pair (the key of another certificate, a key of another type) is logged and
 * the renewed one kept. */
static void test_tls_sighup_reload(void)
{
	struct gateway g;
	struct target t;
	struct ws_client ws, ws2;
	char dir[600], ca[700], pem[700], cmd[2200], old_serial[80], new_serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	SSL *ssl;
	int fd;

	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/gw.pem", dir);
	tls_file_serial(pem, old_serial, sizeof(old_serial));
	target_start(&t, &g, "tls2.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 32, tgt, 600);
	wss_open(&ws, &g, token, ca);
	check_str_eq(ws.peer_serial, old_serial);
	check_echo(&ws, "before");
	ssl = tls_tunnel(&g, 32, token, ca, &fd);
	tunnel_echo(ssl, "before-thin");

	/* A renewal: a new key and certificate in the same files. */
	tls_make_certs(dir, "gw");
	tls_file_serial(pem, new_serial, sizeof(new_serial));
	check(!streq(new_serial, old_serial));
	check(kill(g.pid, SIGHUP) == 0);
	wait_log(&g, "SIGHUP: reloaded the certificate");
	check_echo(&ws, "after");
	tunnel_echo(ssl, "after-thin");
	wss_open(&ws2, &g, token, ca);
	check_str_eq(ws2.peer_serial, new_serial);
	check_echo(&ws2, "new");
	ws_client_close(&ws2);

	/* Another certificate with gw's key: refused, the renewed pair stays. */
	snprintf(cmd, sizeof(cmd), "cp '%s/other.pem' '%s'", dir, pem);
	check_int_eq(system(cmd), 0);
	check(kill(g.pid, SIGHUP) == 0);
	wait_log(&g, "is not the key of the certificate in");
	check(log_has(&g, pem));
	wss_open(&ws2, &g, token, ca);
	check_str_eq(ws2.peer_serial, new_serial);
	ws_client_close(&ws2);

	/* A right pair of another key type (RSA for EC) would be served beside the old: refused too. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl req -newkey rsa:2048 -nodes -subj '/CN=rsa' -keyout gw.key -out rsa.csr 2>/dev/null &&"
		 " openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out gw.pem 2>/dev/null",
		 dir);
	check_int_eq(system(cmd), 0);
	check(kill(g.pid, SIGHUP) == 0);
	wait_log(&g, "is an RSA key, the one in use an EC key: restart the daemon");
	wss_open(&ws2, &g, token, ca);
	check_str_eq(ws2.peer_serial, new_serial);
	ws_client_close(&ws2);
	check_echo(&ws, "still");
	tunnel_echo(ssl, "still-thin");
	ws_client_close(&ws);
	SSL_free(ssl);
	close(fd);
	stop_gateway(&g);
}

/* 32 MiB from the desktop, byte-exact, over WSS and inside a TLS CONNECT tunnel (partial TLS writes,
 * flow control with TLS buffering). */
static void test_tls_download_byte_exact(void)
{
	const uint64_t total = 32ull << 20;
	struct gateway g;
	struct target t;
	struct ws_client ws;
	char dir[600], ca[700];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	uint64_t received = 0, mismatches = 0;
	uint8_t *buf = malloc(65536);
	SSL *ssl;
	int fd;

	check(buf);
	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	target_start(&t, &g, "tls3.sock", TARGET_STREAM);
	t.send = total;
	tgt = target_name(&t);
	token = token_for(&g.key, 33, tgt, 60);

	wss_open(&ws, &g, token, ca);
	while (received < total) {
		uint8_t *got = NULL;
		size_t len = 0;

		check_ok(ws_client_recv(&ws, &got, &len, 30000));
		for (size_t i = 0; i < len; i++)
			mismatches += got[i] != pattern(received + i);
		received += len;
		free(got);
	}
	check_int_eq(received, total);
	check_int_eq(mismatches, 0);
	ws_client_close(&ws);

	ssl = tls_tunnel(&g, 33, token, ca, &fd);
	check_int_eq(ssl_read_pattern(ssl, buf, 65536, total), total);
	SSL_free(ssl);
	close(fd);
	free(buf);
	stop_gateway(&g);
}

/* CONNECT desktop-N:5901 inside TLS, then SPICE's TLS with the gateway inside the tunnel (TLS in TLS,
 * as remote-viewer with proxy=https://): its handshake's certificate serial into serial.  SSL_free()
 * of it ends both sessions. */
static SSL *spice_tls_tunnel(struct gateway *g, int64_t dsk, const char *token, const char *ca, int *fd,
			     char *serial, size_t len)
{
	SSL *outer = tls_tunnel_to(g, dsk, 5901, token, ca, fd), *ssl = NULL;

	check_ok(tls_client_start_inside(outer, ca, &ssl));
	tls_client_peer_serial(ssl, serial, len);
	return ssl;
}

/* SPICE over TLS in a tunnel (CONNECT :5901): plaintext reaches the desktop and comes back encrypted;
 * SIGHUP with a renewed certificate keeps an open tunnel and gives new ones the new certificate; a
 * client that does not speak TLS there is logged and closed, the desktop seeing nothing of it. */
static void test_spice_tls_tunnel_and_reload(void)
{
	struct gateway g;
	struct target t;
	char dir[600], ca[700], pem[700], old_serial[80], new_serial[80], serial[80], buf[64];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	SSL *ssl, *ssl2;
	int fd, fd2;

	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/gw.pem", dir);
	tls_file_serial(pem, old_serial, sizeof(old_serial));
	target_start(&t, &g, "tunnel.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 33, tgt, 600);
	ssl = spice_tls_tunnel(&g, 33, token, ca, &fd, serial, sizeof(serial));
	check_str_eq(serial, old_serial);
	/* Longer than the link header the gateway reads the desktop's first words by. */
	tunnel_echo(ssl, "REDQ-through-tls-0123456789abcdef");
	check(log_has(&g, "to desktop 33 of ann (SPICE over TLS)"));

	tls_make_certs(dir, "gw");
	tls_file_serial(pem, new_serial, sizeof(new_serial));
	check(kill(g.pid, SIGHUP) == 0);
	wait_log(&g, "SIGHUP: reloaded the certificate");
	tunnel_echo(ssl, "after");
	ssl2 = spice_tls_tunnel(&g, 33, token, ca, &fd2, serial, sizeof(serial));
	check_str_eq(serial, new_serial);
	tunnel_echo(ssl2, "new");
	SSL_free(ssl2);
	close(fd2);
	SSL_free(ssl);
	close(fd);

	/* Plain SPICE where TLS is due (inside the TLS to the gateway): closed (after a TLS alert),
	 * nothing relayed. */
	ssl = tls_tunnel_to(&g, 33, 5901, token, ca, &fd);
	check_ok(tls_client_send(ssl, "REDQ\x02\0\0\0\x02\0\0\0\x10\0\0\0", 16));
	{
		size_t got = 0;
		int n;

		while (got < sizeof(buf) && (n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got))) > 0)
			got += (size_t)n;
		ERR_clear_error();
		/* Not the desktop's echo: nothing, or a TLS alert record. */
		check(!got || (buf[0] == 0x15 && !memmem(buf, got, "REDQ", 4)));
	}
	SSL_free(ssl);
	close(fd);
	wait_log(&g, "TLS tunnel for desktop 33 of ann:");
	stop_gateway(&g);
}

/* 16 MiB from the desktop and 4 MiB to it through SPICE over TLS in a tunnel, byte-exact both ways. */
static void test_spice_tls_tunnel_byte_exact(void)
{
	const uint64_t down = 16ull << 20, up = 4ull << 20;
	struct gateway g;
	struct target t;
	char dir[600], ca[700], serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	_cleanup_free_ uint8_t *buf = malloc(65536);
	SSL *ssl;
	int fd;

	check(buf);
	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	target_start(&t, &g, "tls4.sock", TARGET_STREAM);
	t.send = down;
	t.expect = up;
	tgt = target_name(&t);
	token = token_for(&g.key, 34, tgt, 60);
	ssl = spice_tls_tunnel(&g, 34, token, ca, &fd, serial, sizeof(serial));
	check_int_eq(ssl_read_pattern(ssl, buf, 65536, down), down);
	for (uint64_t sent = 0; sent < up; sent += 65536) {
		for (size_t i = 0; i < 65536; i++)
			buf[i] = pattern(sent + i);
		check_ok(tls_client_send(ssl, buf, 65536));
	}
	for (uint64_t end = vdi_test_now_ms() + 30000; __atomic_load_n(&t.received, __ATOMIC_SEQ_CST) < up;
	     usleep(20 * 1000))
		check(vdi_test_now_ms() < end);
	check_int_eq(t.received, up);
	check_int_eq(t.mismatches, 0);
	SSL_free(ssl);
	close(fd);
	stop_gateway(&g);
}

/* Sends what the client's memory BIO holds through the TLS to the gateway (outer); false once the
 * gateway stopped taking it (the socket's 3 s send timeout). */
static bool flood_flush(BIO *mem, SSL *outer)
{
	char *p;
	long n = BIO_get_mem_data(mem, &p);

	if (n > 0 && tls_client_send(outer, p, (size_t)n) < 0)
		return false;
	(void)BIO_reset(mem);
	return true;
}

/*
 * A tunnel's client that floods TLS 1.3 KeyUpdates (update_requested) and never reads: each makes
 * the gateway's OpenSSL write a KeyUpdate of its own back, from reading alone.  The gateway stops
 * reading that client while its replies wait (as for any producer above the queue's bound), so its
 * memory stays bounded; a gateway that queued the replies grew by ~27 bytes a KeyUpdate.
 */
static void test_spice_tls_tunnel_keyupdate_flood(void)
{
	const long flood = 1500000;
	const struct timeval tmo = { .tv_sec = 3 };
	struct gateway g;
	struct target t;
	char dir[600], ca[700], serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	long before, grown, sent = 0;
	BIO *mem;
	SSL *ssl, *outer = NULL;
	int fd;

	gateway_without_quarantine();
	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	target_start(&t, &g, "tls5.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 35, tgt, 600);
	ssl = spice_tls_tunnel(&g, 35, token, ca, &fd, serial, sizeof(serial));
	check_str_eq(SSL_get_version(ssl), "TLSv1.3");
	tunnel_echo(ssl, "before the flood");
	before = rss_kib(g.pid);

	/* The client's records go to memory first, then to the socket 64 KiB at a time: fast enough to
	 * out-run the gateway's replies.  A byte of data now and then keeps OpenSSL's count of
	 * KeyUpdates in a row (it refuses too many without data) from ending the flood. */
	check(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)) == 0);
	check(BIO_get_ssl(SSL_get_rbio(ssl), &outer) == 1 && outer);
	mem = BIO_new(BIO_s_mem());
	check(mem);
	SSL_set0_wbio(ssl, mem); /* the BIO to outer stays ssl's rbio */
	for (; sent < flood; sent++) {
		check_int_eq(SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED), 1);
		check_int_eq(SSL_do_handshake(ssl), 1);
		if (sent % 16 == 15)
			check_int_eq(SSL_write(ssl, "k", 1), 1);
		if (BIO_ctrl_pending(mem) >= 65536 && !flood_flush(mem, outer))
			break;
	}
	if (sent == flood)
		(void)flood_flush(mem, outer);
	/* What the gateway read is handled: its reply queue as long as it gets. */
	usleep(500 * 1000);
	grown = check_rss_bound(&g, before, relays_bound_kib(1), "a KeyUpdate flood");
	vdi_test_log("gateway RSS %ld KiB before, %ld KiB more after %ld of %ld KeyUpdates sent (bound %ld KiB)", before,
		     grown, sent, flood, relays_bound_kib(1));
	SSL_free(ssl);
	close(fd);
	stop_gateway(&g);
}

/*
 * Tunnels that carried a download, then idle: each holds its TLS state and the relay, not the
 * buffers the download grew (OpenSSL's memory BIOs only grow: ~170 KiB a tunnel were kept).  The
 * allocator keeps what one tunnel freed for the next; the relays' spare chunks (4 MiB) are on top.
 */
static void test_spice_tls_idle_tunnels_hold_little(void)
{
	enum { N = 200, PER_KIB = 40, SPARE_KIB = 4096 };
	const uint64_t down = 512 * 1024;
	struct gateway g;
	struct target t;
	char dir[600], ca[700], serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	_cleanup_free_ uint8_t *buf = malloc(65536);
	SSL *ssl[N];
	int fd[N];
	long before, grown, bound = N * PER_KIB + SPARE_KIB;

	check(buf);
	gateway_without_quarantine();
	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	target_start(&t, &g, "tls6.sock", TARGET_STREAM);
	t.send = down;
	tgt = target_name(&t);
	token = token_for(&g.key, 36, tgt, 600);
	before = rss_kib(g.pid);
	for (int i = 0; i < N; i++) {
		ssl[i] = spice_tls_tunnel(&g, 36, token, ca, &fd[i], serial, sizeof(serial));
		(void)ssl_read_pattern(ssl[i], buf, 65536, down);
	}
#if defined(__SANITIZE_ADDRESS__)
	bound = 2 * bound + 16 * 1024;
#endif
	grown = check_rss_bound(&g, before, bound, "idle TLS tunnels");
	vdi_test_log("gateway RSS %ld KiB before, %ld KiB more with %d idle TLS tunnels that carried %llu KiB each"
		     " (%ld KiB each; bound %ld KiB)", before, grown, N, (unsigned long long)(down / 1024), grown / N, bound);
	for (int i = 0; i < N; i++) {
		SSL_free(ssl[i]);
		close(fd[i]);
	}
	stop_gateway(&g);
}

/* Whether the peer ended the session in ssl with a close_notify (not a cut connection). */
static bool tls_closed_cleanly(SSL *ssl)
{
	char buf[64];
	int n;

	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
		;
	return SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
}

/* The gateway ends a tunnel's TLS session with a close_notify: answering the client's own, and when the
 * desktop hangs up (after what it said last). */
static void test_spice_tls_tunnel_close_notify(void)
{
	struct gateway g;
	struct target t;
	char dir[600], ca[700], serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;
	SSL *ssl;
	int fd;

	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	target_start(&t, &g, "tls7.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 37, tgt, 600);

	ssl = spice_tls_tunnel(&g, 37, token, ca, &fd, serial, sizeof(serial));
	tunnel_echo(ssl, "the client ends it");
	check_int_eq(SSL_shutdown(ssl), 0); /* ours sent, the gateway's not yet read */
	check(tls_closed_cleanly(ssl));
	wait_log(&g, "TLS tunnel for desktop 37 of ann: the client closed TLS");
	SSL_free(ssl);
	close(fd);

	ssl = spice_tls_tunnel(&g, 37, token, ca, &fd, serial, sizeof(serial));
	tunnel_echo(ssl, "the desktop ends it");
	check_int_eq(get_int(&t.connections), 2);
	check(shutdown(t.conns[1].fd, SHUT_RDWR) == 0);
	check(tls_closed_cleanly(ssl));
	SSL_free(ssl);
	close(fd);
	stop_gateway(&g);
}


/*
 * A tunnel's client that never does its TLS handshake is closed (10 s) even with idle_timeout = 0, and
 * takes nothing meanwhile: another viewer of the desktop keeps it until the newcomer's handshake is
 * done, then loses it.
 */
static void test_spice_tls_handshake_deadline_and_takeover(void)
{
	struct gateway g;
	struct target t;
	char dir[600], ca[700], serial[80], extra[2200], c;
	_cleanup_free_ char *tgt = NULL, *a = NULL, *b = NULL;
	struct pollfd pfd;
	SSL *ssl_a, *ssl_b, *outer;
	int fd_a, fd_b, silent;

	snprintf(dir, sizeof(dir), "%s/tls", vdi_test_tmpdir());
	tls_make_certs(dir, "gw");
	snprintf(extra, sizeof(extra), "tls_cert = %s/gw.pem\ntls_key = %s/gw.key\nidle_timeout = 0\n", dir, dir);
	start_gateway_with(&g, extra);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	target_start(&t, &g, "tls8.sock", TARGET_ECHO);
	tgt = target_name(&t);
	a = token_for(&g.key, 38, tgt, 600);
	b = token_for(&g.key, 38, tgt, 600);

	/* A silent client: closed by the gateway (the test gives up after 30 s). */
	outer = tls_tunnel_to(&g, 38, 5901, a, ca, &silent);
	pfd = (struct pollfd){ .fd = silent, .events = POLLIN };
	check_int_eq(poll(&pfd, 1, 30000), 1);
	check(SSL_read(outer, &c, 1) <= 0);
	SSL_free(outer);
	close(silent);

	/* Viewer A's tunnel; viewer B's CONNECT without a handshake takes nothing; its handshake does. */
	ssl_a = spice_tls_tunnel(&g, 38, a, ca, &fd_a, serial, sizeof(serial));
	tunnel_echo(ssl_a, "A's");
	outer = tls_tunnel_to(&g, 38, 5901, b, ca, &fd_b);
	tunnel_echo(ssl_a, "A's still");
	check(!log_has(&g, "relay for desktop 38 of ann taken over"));
	check_ok(tls_client_start_inside(outer, ca, &ssl_b));
	tunnel_echo(ssl_b, "B's");
	wait_log(&g, "relay for desktop 38 of ann taken over by another viewer");
	check(SSL_read(ssl_a, &c, 1) <= 0);
	SSL_free(ssl_a);
	SSL_free(ssl_b);
	close(fd_a);
	close(fd_b);
	stop_gateway(&g);
}

/* The serials a new WSS relay and a new SPICE TLS tunnel are shown, which must be the same: expect. */
static void check_both_serve(struct gateway *g, const char *token, const char *ca, const char *expect)
{
	struct ws_client ws;
	char serial[80];
	SSL *ssl;
	int fd;

	wss_open(&ws, g, token, ca);
	check_str_eq(ws.peer_serial, expect);
	ws_client_close(&ws);
	ssl = spice_tls_tunnel(g, 39, token, ca, &fd, serial, sizeof(serial));
	check_str_eq(serial, expect);
	SSL_free(ssl);
	close(fd);
}

/* SIGHUP changes WSS's and the tunnels' certificate together, or neither: a pair WSS refuses (a key
 * of another type) leaves the tunnels on the pair in use too. */
static void test_tls_reload_both_or_neither(void)
{
	struct gateway g;
	struct target t;
	char dir[600], ca[700], pem[700], cmd[2200], old_serial[80], new_serial[80];
	_cleanup_free_ char *tgt = NULL, *token = NULL;

	start_tls_gateway(&g, dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/gw.pem", dir);
	tls_file_serial(pem, old_serial, sizeof(old_serial));
	target_start(&t, &g, "tls9.sock", TARGET_ECHO);
	tgt = target_name(&t);
	token = token_for(&g.key, 39, tgt, 600);
	check_both_serve(&g, token, ca, old_serial);

	tls_make_certs(dir, "gw");
	tls_file_serial(pem, new_serial, sizeof(new_serial));
	check(kill(g.pid, SIGHUP) == 0);
	wait_log(&g, "SIGHUP: reloaded the certificate");
	check_both_serve(&g, token, ca, new_serial);

	/* The tunnels alone could take an RSA pair (a context of their own); WSS's cannot. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl req -newkey rsa:2048 -nodes -subj '/CN=rsa' -keyout gw.key -out rsa.csr 2>/dev/null &&"
		 " openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out gw.pem 2>/dev/null",
		 dir);
	check_int_eq(system(cmd), 0);
	check(kill(g.pid, SIGHUP) == 0);
	wait_log(&g, "is an RSA key, the one in use an EC key: restart the daemon");
	check_both_serve(&g, token, ca, new_serial);
	stop_gateway(&g);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_handshake_and_echo),
	VDI_TEST_TIMEOUT(test_hundred_mib_each_way, 300),
	VDI_TEST(test_bad_tokens_and_targets),
	VDI_TEST(test_symlink_out_of_allowed_dir),
	VDI_TEST(test_token_outliving_ttl),
	VDI_TEST(test_foreign_origin),
	VDI_TEST_TIMEOUT(test_target_vanishes_mid_stream, 120),
	VDI_TEST(test_clock_jumps),
	VDI_TEST_TIMEOUT(test_slow_reader_bounded_memory, 120),
	VDI_TEST_TIMEOUT(test_stalled_desktop_bounded_memory, 120),
	VDI_TEST_TIMEOUT(test_fifty_stalled_browsers, 300),
	VDI_TEST_TIMEOUT(test_fifty_stalled_desktops, 300),
	VDI_TEST_TIMEOUT(test_thousand_connections, 300),
	VDI_TEST(test_connect_relay),
	VDI_TEST(test_connect_tls_port_needs_a_certificate),
	VDI_TEST(test_second_viewer_takes_over),
	VDI_TEST_TIMEOUT(test_unreachable_viewer_takes_nothing, 60),
	VDI_TEST_TIMEOUT(test_pending_connect_fails_unreachable, 60),
	VDI_TEST_TIMEOUT(test_bad_http_and_slowloris, 120),
	VDI_TEST_TIMEOUT(test_remote_viewer_sees_the_picture, 120),
	VDI_TEST_TIMEOUT(test_remote_viewer_over_tls, 120),
	VDI_TEST_TIMEOUT(test_remote_viewer_plain_connect_refused, 120),
	VDI_TEST_TIMEOUT(test_idle_timeout, 60),
	VDI_TEST(test_check_config),
	VDI_TEST(test_tls_wss_and_connect),
	VDI_TEST_TIMEOUT(test_tls_sighup_reload, 60),
	VDI_TEST_TIMEOUT(test_tls_download_byte_exact, 120),
	VDI_TEST_TIMEOUT(test_spice_tls_tunnel_and_reload, 60),
	VDI_TEST_TIMEOUT(test_spice_tls_tunnel_byte_exact, 120),
	VDI_TEST_TIMEOUT(test_spice_tls_tunnel_keyupdate_flood, 120),
	VDI_TEST_TIMEOUT(test_spice_tls_idle_tunnels_hold_little, 120),
	VDI_TEST_TIMEOUT(test_spice_tls_tunnel_close_notify, 60),
	VDI_TEST_TIMEOUT(test_spice_tls_handshake_deadline_and_takeover, 90),
	VDI_TEST_TIMEOUT(test_tls_reload_both_or_neither, 60),
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
