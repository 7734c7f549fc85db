/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-gateway: the parts of bench/run-gateway that are not shell.
 *
 *   source PATH             a unix-socket server (the "desktop"): a connection's first byte says what
 *                           it wants: 'D' endless data, 'E' echo, 'I' nothing yet (idle; a 'D' or 'E'
 *                           may follow).  Runs until killed.
 *   token KEYFILE TARGET    prints a console token for desktop 1 of "bench" to TARGET, valid 1 h.
 *   download ADDR           --streams N (16) --mib M (64 per stream): N streams at once, each until it
 *                           has M MiB; prints bytes= seconds=.
 *   idle ADDR               --count N (2000) --cgroup DIR: N connections that stay idle, then the
 *                           proportional set size (PSS) of DIR's processes; prints before_kib= after_kib=
 *                           (PSS) and before_rss_kib= after_rss_kib= (RSS, summed).
 *   echo ADDR               --count N (2000): one connection, N round trips of 100 bytes; prints p50_us=
 *                           p99_us=; --samples FILE appends each round trip's microseconds to FILE.
 *
 * ADDR: ws://127.0.0.1:PORT/PATH (WebSocket), wss://... (WebSocket over TLS), tcp://127.0.0.1:PORT (raw),
 * connect://127.0.0.1:PORT/TOKEN (a thin client's HTTP CONNECT to desktop-1:5900 with TOKEN, then raw),
 * unix:PATH (the source itself, no relay).  Every mode has a bound: count, size, and --timeout S (60)
 * after which it gives up and exits 1.  Loopback only: nothing but 127.0.0.1 and unix sockets is accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "token.h"

#define SRC_BUF (256 * 1024)
#define ECHO_LEN 100

struct addr {
	enum { A_UNIX, A_TCP, A_WS, A_CONNECT } kind;
	bool tls;
	int port;
	char path[2048]; /* unix: the socket; ws: the request path; connect: the token */
};

struct conn {
	int fd;
	SSL *ssl;
	bool ws;
	/* WebSocket frames from the server: header bytes seen, payload bytes still to come. */
	unsigned char hdr[14];
	size_t hdr_len;
	uint64_t payload_left;
	uint64_t got, want;
	bool done;
};

static double timeout_s = 60;
static double deadline_ms;

static void fail(const char *what)
{
	fprintf(stderr, "bench-gateway: %s\n", what);
	exit(1);
}

static void check_deadline(void)
{
	if (bench_now_ms() > deadline_ms)
		fail("timed out");
	if (bench_interrupted)
		fail("interrupted");
}

static int parse_addr(const char *s, struct addr *a)
{
	const char *p;

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0) {
		a->kind = A_UNIX;
		snprintf(a->path, sizeof(a->path), "%s", s + 5);
		return 0;
	}
	if (strncmp(s, "ws://127.0.0.1:", 15) == 0)
		a->kind = A_WS, p = s + 15;
	else if (strncmp(s, "wss://127.0.0.1:", 16) == 0)
		a->kind = A_WS, a->tls = true, p = s + 16;
	else if (strncmp(s, "tcp://127.0.0.1:", 16) == 0)
		a->kind = A_TCP, p = s + 16;
	else if (strncmp(s, "connect://127.0.0.1:", 20) == 0)
		a->kind = A_CONNECT, p = s + 20;
	else
		return -EINVAL;
	a->port = atoi(p);
	p = strchr(p, '/');
	snprintf(a->path, sizeof(a->path), "%s", p ? p + (a->kind == A_CONNECT) : "/");
	return a->port > 0 ? 0 : -EINVAL;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- the source -------------------------------------------------------------------------------- */

struct src_conn {
	int fd;
	char mode; /* 0 until the first byte */
	unsigned char buf[4096];
	size_t len; /* echo: bytes waiting to go back */
};

static void src_close(int ep, struct src_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* One event on c; false when c is gone. */
static bool src_event(int ep, struct src_conn *c, uint32_t ev, const unsigned char *data)
{
	if (!c->mode || c->mode == 'I' || (c->mode == 'E' && !c->len)) {
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			src_close(ep, c);
			return false;
		}
		/* 'I' leaves the mode open: a 'D' or 'E' may follow. */
		while (n > 0 && (!c->mode || c->mode == 'I')) {
			struct epoll_event e = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

			c->mode = (char)c->buf[0];
			memmove(c->buf, c->buf + 1, (size_t)--n);
			if (c->mode == 'D')
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
		}
		if (n > 0 && c->mode == 'E')
			c->len = (size_t)n;
	}
	if (c->mode == 'E' && c->len) {
		ssize_t n = send(c->fd, c->buf, c->len, MSG_NOSIGNAL);

		if (n > 0) {
			memmove(c->buf, c->buf + n, c->len - (size_t)n);
			c->len -= (size_t)n;
		}
	}
	if (c->mode == 'D' && (ev & EPOLLOUT)) {
		ssize_t n = send(c->fd, data, SRC_BUF, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN) {
			src_close(ep, c);
			return false;
		}
	}
	return true;
}

static int run_source(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char *data = malloc(SRC_BUF);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	if (!data || lfd < 0 || ep < 0)
		fail("source: out of resources");
	memset(data, 'x', SRC_BUF);
	if (strlen(path) >= sizeof(sa.sun_path))
		fail("source: path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
		fail("source: cannot listen");
	chmod(path, 0777);
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
	while (!bench_interrupted) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);

		for (int i = 0; i < n; i++) {
			struct src_conn *c = evs[i].data.ptr;

			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

				if (fd < 0 || !(c = calloc(1, sizeof(*c)))) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				c->fd = fd;
				e = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				continue;
			}
			(void)src_event(ep, c, evs[i].events, data);
		}
	}
	unlink(path);
	close(ep);
	close(lfd);
	free(data);
	return 0;
}

/* ---- client connections ------------------------------------------------------------------------ */

static SSL_CTX *client_tls(void)
{
	static SSL_CTX *ctx;

	if (!ctx) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			fail("SSL_CTX_new");
		/* Loopback, the bench's own throwaway certificate: what is measured is the relay's cost. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

static int io_write(struct conn *c, const void *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_write(c->ssl, p, (int)n);

		return r > 0 ? r : -EIO;
	}
	ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);

	return r >= 0 ? (int)r : -errno;
}

/* Reads what is there (the socket may be blocking or not); 0 at EOF, -EAGAIN when nothing yet. */
static ssize_t io_read(struct conn *c, void *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, (int)n);

		if (r > 0)
			return r;
		r = SSL_get_error(c->ssl, r);
		return r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE ? -EAGAIN : r == SSL_ERROR_ZERO_RETURN ? 0 : -EIO;
	}
	ssize_t r = recv(c->fd, p, n, 0);

	return r >= 0 ? r : -errno;
}

static void write_all(struct conn *c, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n) {
		int r = io_write(c, b, n);

		if (r <= 0)
			fail("write failed");
		b += r;
		n -= (size_t)r;
	}
}

/* Sends payload as one masked binary frame (a client's, RFC 6455 5.3), or raw. */
static void send_payload(struct conn *c, const unsigned char *p, size_t n)
{
	unsigned char f[14 + 256];
	const unsigned char mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t h = 2;

	if (!c->ws) {
		write_all(c, p, n);
		return;
	}
	if (n > 256)
		fail("payload too long");
	f[0] = 0x82;
	if (n < 126) {
		f[1] = 0x80 | (unsigned char)n;
	} else {
		f[1] = 0x80 | 126;
		f[2] = (unsigned char)(n >> 8);
		f[3] = (unsigned char)n;
		h = 4;
	}
	memcpy(f + h, mask, 4);
	for (size_t i = 0; i < n; i++)
		f[h + 4 + i] = p[i] ^ mask[i % 4];
	write_all(c, f, h + 4 + n);
}

/* Sends the request head req on a blocking c; the answer's status line must start with want. */
static void http_handshake(struct conn *c, const char *req, const char *want)
{
	char resp[4096];
	size_t len = 0;

	write_all(c, req, strlen(req));
	/* One byte at a time: nothing of the first frame may be taken with the head. */
	while (len < sizeof(resp) - 1) {
		ssize_t n = io_read(c, resp + len, 1);

		if (n <= 0)
			fail("WebSocket handshake: connection closed");
		len += (size_t)n;
		resp[len] = 0;
		if (len >= 4 && memcmp(resp + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (strncmp(resp, want, strlen(want)) != 0) {
		fprintf(stderr, "bench-gateway: handshake refused: %.80s\n", resp);
		exit(1);
	}
}

static void ws_handshake(struct conn *c, const struct addr *a)
{
	char req[4096];

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		 "Sec-WebSocket-Protocol: binary\r\n\r\n",
		 a->path, a->port);
	http_handshake(c, req, "HTTP/1.1 101");
}

/* A thin client's HTTP CONNECT to the gateway, the token as Basic credential "token:<token>". */
static void connect_handshake(struct conn *c, const struct addr *a)
{
	char cred[2100], b64[2900], req[4096];

	snprintf(cred, sizeof(cred), "token:%s", a->path);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cred, (int)strlen(cred));
	snprintf(req, sizeof(req), "CONNECT desktop-1:5900 HTTP/1.1\r\nHost: desktop-1:5900\r\n"
		 "Proxy-Authorization: Basic %s\r\n\r\n", b64);
	http_handshake(c, req, "HTTP/1.1 200");
}

/* Connects to a (blocking), shakes hands, and says what it wants (mode: 'D', 'E', 'I'). */
static void conn_open(struct conn *c, const struct addr *a, char mode)
{
	memset(c, 0, sizeof(*c));
	if (a->kind == A_UNIX) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(a->path) >= sizeof(sa.sun_path))
			fail("unix socket path too long");
		memcpy(sa.sun_path, a->path, strlen(a->path) + 1);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			fail("cannot connect to the unix socket");
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
		int one = 1;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			fail("cannot connect to 127.0.0.1");
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (a->tls) {
		c->ssl = SSL_new(client_tls());
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1)
			fail("TLS handshake failed");
	}
	c->ws = a->kind == A_WS;
	if (c->ws)
		ws_handshake(c, a);
	else if (a->kind == A_CONNECT)
		connect_handshake(c, a);
	send_payload(c, (const unsigned char *)&mode, 1);
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

/* Takes n bytes read from c: counts the payload, skips WebSocket frame headers. */
static void consume(struct conn *c, const unsigned char *p, size_t n)
{
	while (n) {
		if (!c->ws) {
			c->got += n;
			return;
		}
		if (c->payload_left) {
			size_t k = n < c->payload_left ? n : (size_t)c->payload_left;

			c->got += k;
			c->payload_left -= k;
			p += k;
			n -= k;
			continue;
		}
		c->hdr[c->hdr_len++] = *p++;
		n--;
		if (c->hdr_len >= 2) {
			size_t need = (c->hdr[1] & 0x7f) == 126 ? 4 : (c->hdr[1] & 0x7f) == 127 ? 10 : 2;

			if ((c->hdr[0] & 0x0f) == 8)
				fail("the relay closed the WebSocket");
			if (c->hdr[1] & 0x80)
				fail("a masked frame from the server");
			if (c->hdr_len < need)
				continue;
			if (need == 2)
				c->payload_left = c->hdr[1] & 0x7f;
			else if (need == 4)
				c->payload_left = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
			else
				for (int i = 0; i < 8; i++)
					c->payload_left = c->payload_left << 8 | c->hdr[2 + i];
			c->hdr_len = 0;
		}
	}
}

/* ---- the modes --------------------------------------------------------------------------------- */

static int run_download(const struct addr *a, int streams, int mib)
{
	struct conn *cs = calloc((size_t)streams, sizeof(*cs));
	unsigned char *buf = malloc(SRC_BUF);
	int ep = epoll_create1(EPOLL_CLOEXEC), left = streams;
	double t0;
	uint64_t total = 0;

	if (!cs || !buf || ep < 0)
		fail("out of memory");
	for (int i = 0; i < streams; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &cs[i] };

		conn_open(&cs[i], a, 'I');
		cs[i].want = (uint64_t)mib << 20;
		fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
	}
	/* All open: now they all start at once. */
	t0 = bench_now_ms();
	for (int i = 0; i < streams; i++)
		send_payload(&cs[i], (const unsigned char *)"D", 1);
	while (left) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);

		check_deadline();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r;

			while (!c->done && (r = io_read(c, buf, SRC_BUF)) != -EAGAIN) {
				if (r <= 0)
					fail("a stream ended early");
				consume(c, buf, (size_t)r);
				if (c->got >= c->want) {
					c->done = true;
					left--;
					total += c->got;
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					conn_close(c);
				}
			}
		}
	}
	printf("bytes=%llu seconds=%.4f\n", (unsigned long long)total, (bench_now_ms() - t0) / 1e3);
	close(ep);
	free(buf);
	free(cs);
	return 0;
}

/* The PSS and RSS of the processes in cgroup dir, in KiB (smaps_rollup). */
static void cgroup_memory_kib(const char *dir, long *pss, long *rss)
{
	char path[600], line[256];
	long pid;
	FILE *procs;

	*pss = *rss = 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	procs = fopen(path, "re");
	if (!procs)
		fail("cannot read the cgroup's processes");
	while (fscanf(procs, "%ld", &pid) == 1) {
		FILE *f;
		long kib;

		snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Pss: %ld kB", &kib) == 1)
				*pss += kib;
			else if (sscanf(line, "Rss: %ld kB", &kib) == 1)
				*rss += kib;
		}
		if (f)
			fclose(f);
	}
	fclose(procs);
}

static int run_idle(const struct addr *a, int count, const char *cgroup)
{
	struct conn *cs = calloc((size_t)count, sizeof(*cs));
	long before = 0, after = 0, before_rss = 0, after_rss = 0;

	if (!cs)
		fail("out of memory");
	raise_nofile();
	if (cgroup)
		cgroup_memory_kib(cgroup, &before, &before_rss);
	for (int i = 0; i < count; i++) {
		check_deadline();
		conn_open(&cs[i], a, 'I');
	}
	/* Let the relay settle (its last accepts, forks), then see what it holds. */
	sleep(2);
	if (cgroup)
		cgroup_memory_kib(cgroup, &after, &after_rss);
	for (int i = 0; i < count; i++) {
		struct pollfd p = { .fd = cs[i].fd, .events = POLLIN };

		/* Each is still open: nothing to read, no EOF. */
		if (poll(&p, 1, 0) != 0)
			fail("an idle connection was closed or got data");
		conn_close(&cs[i]);
	}
	printf("count=%d before_kib=%ld after_kib=%ld before_rss_kib=%ld after_rss_kib=%ld\n", count, before, after,
	       before_rss, after_rss);
	free(cs);
	return 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static int run_echo(const struct addr *a, int count, const char *samples)
{
	struct conn c;
	unsigned char msg[ECHO_LEN], buf[4096];
	double *us = calloc((size_t)count, sizeof(*us));

	if (!us)
		fail("out of memory");
	memset(msg, 'e', sizeof(msg));
	conn_open(&c, a, 'E');
	for (int i = 0; i < count; i++) {
		double t0 = bench_now_ms();
		uint64_t want = c.got + ECHO_LEN;

		check_deadline();
		send_payload(&c, msg, sizeof(msg));
		while (c.got < want) {
			ssize_t r = io_read(&c, buf, sizeof(buf));

			if (r <= 0)
				fail("echo: connection closed");
			consume(&c, buf, (size_t)r);
		}
		us[i] = (bench_now_ms() - t0) * 1e3;
	}
	conn_close(&c);
	if (samples) {
		FILE *f = fopen(samples, "ae");

		if (!f)
			fail("cannot write the samples");
		for (int i = 0; i < count; i++)
			fprintf(f, "%.1f\n", us[i]);
		fclose(f);
	}
	qsort(us, (size_t)count, sizeof(*us), cmp_double);
	printf("count=%d p50_us=%.1f p99_us=%.1f\n", count, us[count / 2], us[(int)((count - 1) * 0.99 + 0.5)]);
	free(us);
	return 0;
}

static int run_token(const char *key_file, const char *target)
{
	struct vdi_token_key key;
	struct vdi_token_claims cl = { .dsk = 1, .exp = (int64_t)time(NULL) + 3600 };
	struct vdi_error err = { 0 };
	char *t = NULL;

	if (vdi_token_key_load(key_file, &key, &err) < 0)
		fail(err.message);
	snprintf(cl.sub, sizeof(cl.sub), "bench");
	snprintf(cl.tgt, sizeof(cl.tgt), "%s", target);
	if (vdi_token_sign(&key, &cl, &t) < 0)
		fail("cannot sign a token");
	printf("%s\n", t);
	free(t);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-gateway source PATH | token KEYFILE TARGET | download ADDR [--streams N] "
			"[--mib M] | idle ADDR [--count N] [--cgroup DIR] | echo ADDR [--count N] [--samples FILE]  "
			"[--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int streams = 16, mib = 64, count = 2000;
	const char *cgroup = NULL, *samples = NULL;
	struct addr a;

	if (argc < 3)
		usage();
	bench_catch_signals();
	signal(SIGPIPE, SIG_IGN);
	for (int i = 3; strcmp(argv[1], "token") != 0 && i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--streams") == 0)
			streams = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--mib") == 0)
			mib = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--count") == 0)
			count = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--cgroup") == 0)
			cgroup = argv[i + 1];
		else if (strcmp(argv[i], "--samples") == 0)
			samples = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = atof(argv[i + 1]);
		else
			usage();
	}
	if (streams < 1 || streams > 256 || mib < 1 || mib > 4096 || count < 1 || count > 20000 || timeout_s <= 0)
		usage();
	deadline_ms = bench_now_ms() + timeout_s * 1e3;
	if (strcmp(argv[1], "source") == 0)
		return run_source(argv[2]);
	if (strcmp(argv[1], "token") == 0)
		return argc == 4 ? run_token(argv[2], argv[3]) : (usage(), 2);
	if (parse_addr(argv[2], &a) < 0)
		usage();
	if (strcmp(argv[1], "download") == 0)
		return run_download(&a, streams, mib);
	if (strcmp(argv[1], "idle") == 0)
		return run_idle(&a, count, cgroup);
	if (strcmp(argv[1], "echo") == 0)
		return run_echo(&a, count, samples);
	usage();
	return 2;
}
