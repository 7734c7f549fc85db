/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdictl's pieces with logic: strict numbers, times, URL encoding, table
 * cells and tables, HTTP reply parsing, and the client against a fake
 * broker on a unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "harness.h"
#include "http.h"
#include "table.h"
#include "text.h"

static void set_tz(const char *tz)
{
	check(setenv("TZ", tz, 1) == 0);
	tzset();
}

static void test_parse_uint(void)
{
	uint64_t v = 7;

	check_ok(ctl_parse_uint("0", 0, 10, &v));
	check_int_eq(v, 0);
	check_ok(ctl_parse_uint("42", 0, 100, &v));
	check_int_eq(v, 42);
	check_ok(ctl_parse_uint("007", 0, 100, &v));
	check_int_eq(v, 7);
	check_ok(ctl_parse_uint("18446744073709551615", 0, UINT64_MAX, &v));
	check(v == UINT64_MAX);

	v = 99;
	check_err(ctl_parse_uint("", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("+1", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("-1", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint(" 1", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("1 ", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("1x", 0, 10, &v), EINVAL);
	check_err(ctl_parse_uint("0x10", 0, 100, &v), EINVAL);
	check_err(ctl_parse_uint("1e3", 0, 10000, &v), EINVAL);
	check_err(ctl_parse_uint("3.0", 0, 10, &v), EINVAL);
	check_int_eq(v, 99);

	check_err(ctl_parse_uint("11", 0, 10, &v), ERANGE);
	check_err(ctl_parse_uint("0", 1, 10, &v), ERANGE);
	check_err(ctl_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), ERANGE);
	check_err(ctl_parse_uint("99999999999999999999999999", 0, UINT64_MAX, &v), ERANGE);
	/* Overflowing text that is not a number is still bad text. */
	check_err(ctl_parse_uint("99999999999999999999999999x", 0, UINT64_MAX, &v), EINVAL);
	check_int_eq(v, 99);
}

static void test_parse_time_utc(void)
{
	int64_t t = -1;

	set_tz("UTC");
	check_ok(ctl_parse_time("0", &t));
	check_int_eq(t, 0);
	check_ok(ctl_parse_time("1700000000", &t));
	check_int_eq(t, 1700000000);
	check_ok(ctl_parse_time("2024-03-01", &t));
	check_int_eq(t, 1709251200);
	check_ok(ctl_parse_time("2024-03-01T12:30", &t));
	check_int_eq(t, 1709251200 + 12 * 3600 + 30 * 60);
	check_ok(ctl_parse_time("2024-03-01T12:30:15", &t));
	check_int_eq(t, 1709251200 + 12 * 3600 + 30 * 60 + 15);
	/* As the tables print it. */
	check_ok(ctl_parse_time("2024-03-01 12:30:15", &t));
	check_int_eq(t, 1709251200 + 12 * 3600 + 30 * 60 + 15);
	check_ok(ctl_parse_time("2024-02-29", &t));
	check_ok(ctl_parse_time("9999-12-31T23:59:59", &t));
	check_int_eq(t, CTL_TIME_MAX);

	t = 5;
	check_err(ctl_parse_time("", &t), EINVAL);
	check_err(ctl_parse_time("yesterday", &t), EINVAL);
	check_err(ctl_parse_time("-5", &t), EINVAL);
	check_err(ctl_parse_time("253402300800", &t), EINVAL);
	check_err(ctl_parse_time("2023-02-29", &t), EINVAL);
	check_err(ctl_parse_time("2024-02-30", &t), EINVAL);
	check_err(ctl_parse_time("2024-04-31", &t), EINVAL);
	check_err(ctl_parse_time("2024-13-01", &t), EINVAL);
	check_err(ctl_parse_time("2024-00-01", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-00", &t), EINVAL);
	check_err(ctl_parse_time("2024-3-1", &t), EINVAL);
	check_err(ctl_parse_time("24-03-01", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:3", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T24:00", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:60", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:30:60", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:30:15Z", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01T12:30:15+01:00", &t), EINVAL);
	check_err(ctl_parse_time("2024-03-01x12:30", &t), EINVAL);
	check_err(ctl_parse_time("1969-12-31T23:59:59", &t), EINVAL);
	check_int_eq(t, 5);
}

static void test_parse_time_local(void)
{
	char buf[32];
	int64_t t;

	/* Central European time, spelled out so that no tzdata is needed. */
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	check_ok(ctl_parse_time("2024-07-01T12:00", &t));
	check_int_eq(t, 1719828000); /* 10:00 UTC */
	check_ok(ctl_parse_time("2024-01-15", &t));
	check_int_eq(t, 1705273200); /* 2024-01-14 23:00 UTC */
	check_str_eq(ctl_format_time(t, buf, sizeof(buf)), "2024-01-15 00:00:00");
	/* 02:30 does not exist on the night the clocks go forward. */
	check_err(ctl_parse_time("2024-03-31T02:30", &t), EINVAL);
	check_ok(ctl_parse_time("2024-03-31T03:30", &t));
	check_int_eq(t, 1711848600);
	/* Unix seconds are not local. */
	check_ok(ctl_parse_time("1719828000", &t));
	check_int_eq(t, 1719828000);
}

static void test_format_time(void)
{
	char buf[32];

	set_tz("UTC");
	check_str_eq(ctl_format_time(0, buf, sizeof(buf)), "1970-01-01 00:00:00");
	check_str_eq(ctl_format_time(1709298615, buf, sizeof(buf)), "2024-03-01 13:10:15");
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	check_str_eq(ctl_format_time(1719828000, buf, sizeof(buf)), "2024-07-01 12:00:00");
}

static void test_url_encode(void)
{
	char *s;

	check_ok(ctl_url_encode("AZaz09-._~", &s));
	check_str_eq(s, "AZaz09-._~");
	free(s);
	check_ok(ctl_url_encode("a b/c?d=e&f#g+h%", &s));
	check_str_eq(s, "a%20b%2Fc%3Fd%3De%26f%23g%2Bh%25");
	free(s);
	check_ok(ctl_url_encode("\xc3\xa9t\xc3\xa9", &s));
	check_str_eq(s, "%C3%A9t%C3%A9");
	free(s);
	check_ok(ctl_url_encode("", &s));
	check_str_eq(s, "");
	free(s);
	check_ok(ctl_url_encode("..", &s));
	check_str_eq(s, "..");
	free(s);
}

static void test_query_append(void)
{
	char *q = strdup("/audit");

	check(q);
	check_ok(ctl_query_append(&q, "user", "ann b"));
	check_str_eq(q, "/audit?user=ann%20b");
	check_ok(ctl_query_append(&q, "action", "pool-create"));
	check_ok(ctl_query_append(&q, "object", "a&b=c"));
	check_str_eq(q, "/audit?user=ann%20b&action=pool-create&object=a%26b%3Dc");
	free(q);
}

static void test_cells(void)
{
	json_t *j = json_loads("{\"s\":\"text\",\"i\":42,\"neg\":-3,\"t\":true,\"f\":false,\"n\":null,"
			       "\"a\":[\"g1\",\"g2\"],\"e\":[],\"o\":{\"k\":1},\"r\":1.5,\"mixed\":[1,\"x\"]}",
			       0, NULL);
	char buf[64], small[6];

	check(j);
	check_str_eq(ctl_cell(json_object_get(j, "s"), buf, sizeof(buf)), "text");
	check_str_eq(ctl_cell(json_object_get(j, "i"), buf, sizeof(buf)), "42");
	check_str_eq(ctl_cell(json_object_get(j, "neg"), buf, sizeof(buf)), "-3");
	check_str_eq(ctl_cell(json_object_get(j, "t"), buf, sizeof(buf)), "yes");
	check_str_eq(ctl_cell(json_object_get(j, "f"), buf, sizeof(buf)), "no");
	check_str_eq(ctl_cell(json_object_get(j, "n"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell(json_object_get(j, "missing"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell(json_object_get(j, "a"), buf, sizeof(buf)), "g1,g2");
	check_str_eq(ctl_cell(json_object_get(j, "e"), buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell(json_object_get(j, "o"), buf, sizeof(buf)), "{\"k\":1}");
	check_str_eq(ctl_cell(json_object_get(j, "r"), buf, sizeof(buf)), "1.5");
	check_str_eq(ctl_cell(json_object_get(j, "mixed"), buf, sizeof(buf)), "1,x");
	/* Cut to the buffer, never inside a UTF-8 character. */
	check_str_eq(ctl_cell(json_object_get(j, "a"), small, sizeof(small)), "g1,g2");
	json_decref(j);
	j = json_string("ab\xc3\xa9\xc3\xa9");
	check_str_eq(ctl_cell(j, small, sizeof(small)), "ab\xc3\xa9");
	json_decref(j);
	j = json_string("abcdefgh");
	check_str_eq(ctl_cell(j, small, sizeof(small)), "abcde");
	json_decref(j);
}

static void test_cell_time(void)
{
	char buf[32];
	json_t *j;

	set_tz("UTC");
	j = json_integer(1709298615);
	check_str_eq(ctl_cell_time(j, buf, sizeof(buf)), "2024-03-01 13:10:15");
	json_decref(j);
	j = json_integer(0);
	check_str_eq(ctl_cell_time(j, buf, sizeof(buf)), "-");
	json_decref(j);
	j = json_null();
	check_str_eq(ctl_cell_time(j, buf, sizeof(buf)), "-");
	check_str_eq(ctl_cell_time(NULL, buf, sizeof(buf)), "-");
}

static void test_cell_counts(void)
{
	json_t *j = json_loads("{\"weird\":1,\"assigned\":2,\"error\":0,\"free\":3,\"stopped\":1}", 0, NULL);
	char buf[128], small[12];

	check(j);
	check_str_eq(ctl_cell_counts(j, buf, sizeof(buf)), "stopped 1, free 3, assigned 2, weird 1");
	check_str_eq(ctl_cell_counts(j, small, sizeof(small)), "stopped 1, ");
	json_decref(j);
	j = json_object();
	check_str_eq(ctl_cell_counts(j, buf, sizeof(buf)), "none");
	json_decref(j);
	j = json_loads("{\"free\":0}", 0, NULL);
	check_str_eq(ctl_cell_counts(j, buf, sizeof(buf)), "none");
	json_decref(j);
	check_str_eq(ctl_cell_counts(NULL, buf, sizeof(buf)), "none");
}

static void test_table(void)
{
	static const struct ctl_column columns[] = { { "ID", true }, { "NAME" }, { "NOTE" } };
	_cleanup_(ctl_table_freep) struct ctl_table *t = NULL;
	const char *r1[] = { "7", "lab", "first" };
	const char *r2[] = { "1234", "caf\xc3\xa9", NULL };
	const char *r3[] = { "9", "a\tb\x1b[31m", "" };
	const char *r4[] = { "10", "x\xc2\x9b" "1m", "last" };
	char *text;

	check_ok(ctl_table_new(columns, ELEMENTSOF(columns), &t));
	check_ok(ctl_table_format(t, &text));
	check_str_eq(text, "ID  NAME  NOTE\n");
	free(text);

	check_ok(ctl_table_add_row(t, r1));
	check_ok(ctl_table_add_row(t, r2));
	check_ok(ctl_table_add_row(t, r3));
	check_ok(ctl_table_add_row(t, r4));
	check_ok(ctl_table_format(t, &text));
	/* Right-aligned ids, widths in characters, control characters as '?', no blanks at line ends. */
	check_str_eq(text,
		     "  ID  NAME      NOTE\n"
		     "   7  lab       first\n"
		     "1234  caf\xc3\xa9      -\n"
		     "   9  a?b?[31m\n"
		     "  10  x?1m      last\n");
	free(text);
	check(ctl_table_free(NULL) == NULL);
}

/* ---- HTTP replies ------------------------------------------------------------- */

static int parse(const char *text, bool eof, struct ctl_http_reply *r)
{
	return ctl_http_parse_reply(text, strlen(text), eof, r);
}

static void test_reply_content_length(void)
{
	const char *text = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n"
			   "{\"a\":true}\nEXTRA";
	struct ctl_http_reply r;

	check_ok(parse(text, false, &r));
	check_int_eq(r.status, 201);
	check_int_eq(r.body_len, 11);
	check_str_eq(r.body, "{\"a\":true}\n");
	ctl_http_reply_finish(&r);
	ctl_http_reply_finish(&r);

	/* Not all there yet; cut short. */
	check_err(ctl_http_parse_reply(text, 60, false, &r), EAGAIN);
	check_err(ctl_http_parse_reply(text, 60, true, &r), EBADMSG);
	check_err(ctl_http_parse_reply(text, 20, false, &r), EAGAIN);
	check_err(ctl_http_parse_reply(text, 20, true, &r), EBADMSG);
	check_err(ctl_http_parse_reply(text, 0, true, &r), EBADMSG);
	check(!r.body);

	/* No reason phrase, HTTP/1.0, empty body. */
	check_ok(parse("HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n", false, &r));
	check_int_eq(r.status, 404);
	check_str_eq(r.body, "");
	ctl_http_reply_finish(&r);
}

static void test_reply_to_eof(void)
{
	const char *text = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n{\"pools\":[]}";
	struct ctl_http_reply r;

	check_err(parse(text, false, &r), EAGAIN);
	check_ok(parse(text, true, &r));
	check_int_eq(r.status, 200);
	check_str_eq(r.body, "{\"pools\":[]}");
	ctl_http_reply_finish(&r);

	/* 204 has no body whatever follows. */
	check_ok(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &r));
	check_int_eq(r.body_len, 0);
	ctl_http_reply_finish(&r);
}

static void test_reply_chunked(void)
{
	const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
			   "4\r\n{\"a\"\r\nA;ext=1\r\n:[1,2,3]}\n\r\n0\r\nTrailer: x\r\n\r\n";
	struct ctl_http_reply r;

	check_ok(parse(text, false, &r));
	check_str_eq(r.body, "{\"a\":[1,2,3]}\n");
	check_int_eq(r.body_len, 14);
	ctl_http_reply_finish(&r);
	for (size_t n = 50; n < strlen(text); n++) {
		check_err(ctl_http_parse_reply(text, n, false, &r), EAGAIN);
		check_err(ctl_http_parse_reply(text, n, true, &r), EBADMSG);
	}
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true, &r), EBADMSG);
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", true, &r),
		  EBADMSG);
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", true, &r),
		  EMSGSIZE);
}

static void test_reply_interim(void)
{
	struct ctl_http_reply r;

	check_ok(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}", false,
		       &r));
	check_int_eq(r.status, 409);
	check_str_eq(r.body, "{}");
	ctl_http_reply_finish(&r);
	check_err(parse("HTTP/1.1 100 Continue\r\n\r\n", false, &r), EAGAIN);
	check_err(parse("HTTP/1.1 100 Continue\r\n\r\n", true, &r), EBADMSG);
}

static void test_reply_malformed(void)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Old\r\n\r\n",
		"HTTP/1.1 600 Odd\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
	};
	struct ctl_http_reply r;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int rc = parse(bad[i], true, &r);

		if (rc != -EBADMSG)
			vdi_test_fail(__FILE__, __LINE__, "accepted: %s (%d)", bad[i], rc);
		check(!r.body);
	}
	/* The same lengths twice are fine. */
	check_ok(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length:  2 \r\n\r\nab", true, &r));
	check_str_eq(r.body, "ab");
	ctl_http_reply_finish(&r);
}

/* ---- the client against a fake broker ---------------------------------------- */

struct fake {
	pid_t pid;
	char socket[256];
	char request[256]; /* the file where the fake writes what it got */
};

/* Listens on a unix socket in the temp dir; a child answers one connection with reply (len bytes). */
static void fake_start(struct fake *f, const char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(f->socket, sizeof(f->socket), "%s/admin.sock", vdi_test_tmpdir());
	snprintf(f->request, sizeof(f->request), "%s/request", vdi_test_tmpdir());
	check(strlen(f->socket) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->socket, strlen(f->socket) + 1);
	unlink(f->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(fd >= 0);
	check(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(fd, 4) == 0);
	f->pid = fork();
	check(f->pid >= 0);
	if (f->pid == 0) {
		static char buf[1 << 16];
		size_t got = 0;
		int c = accept(fd, NULL, NULL), out;
		const char *end = NULL;

		signal(SIGPIPE, SIG_IGN);
		if (c < 0)
			_exit(1);
		/* Read the head, then as much body as it announces. */
		while (got < sizeof(buf) - 1) {
			ssize_t n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
			const char *cl;

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
			cl = strstr(buf, "Content-Length: ");
			if (end && cl && got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
				break;
		}
		out = open(f->request, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (out < 0 || write(out, buf, got) != (ssize_t)got)
			_exit(1);
		close(out);
		(void)!send(c, reply, len, MSG_NOSIGNAL);
		close(c);
		_exit(0);
	}
	close(fd);
}

static char *fake_finish(struct fake *f)
{
	static char buf[1 << 16];
	int status, fd;
	ssize_t n;

	check(waitpid(f->pid, &status, 0) == f->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = open(f->request, O_RDONLY | O_CLOEXEC);
	check(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	check(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void test_request(void)
{
	const char *reply = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
			    "{\"name\":\"lab\"}\n";
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;
	char *req;

	fake_start(&f, reply, strlen(reply));
	check_ok(ctl_http_request(f.socket, "POST", "/api/v1/admin/pools", "{\"name\":\"lab\"}", &r, &err));
	check_int_eq(r.status, 201);
	check_str_eq(r.body, "{\"name\":\"lab\"}\n");
	ctl_http_reply_finish(&r);
	req = fake_finish(&f);
	check(startswith(req, "POST /api/v1/admin/pools HTTP/1.1\r\n"));
	check_str_contains(req, "\r\nHost: localhost\r\n");
	check_str_contains(req, "\r\nConnection: close\r\n");
	check_str_contains(req, "\r\nContent-Type: application/json\r\n");
	check_str_contains(req, "\r\nContent-Length: 14\r\n\r\n{\"name\":\"lab\"}");
	check(!strstr(req, "Cookie"));
	check(!strstr(req, "CSRF"));
}

static void test_request_get_to_eof(void)
{
	const char *reply = "HTTP/1.1 200 OK\r\n\r\n{\"hosts\":[]}";
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;
	char *req;

	fake_start(&f, reply, strlen(reply));
	check_ok(ctl_http_request(f.socket, "GET", "/api/v1/admin/hosts", NULL, &r, &err));
	check_int_eq(r.status, 200);
	check_str_eq(r.body, "{\"hosts\":[]}");
	ctl_http_reply_finish(&r);
	req = fake_finish(&f);
	check(startswith(req, "GET /api/v1/admin/hosts HTTP/1.1\r\n"));
	check_str_contains(req, "\r\nContent-Length: 0\r\n\r\n");
	check(!strstr(req, "Content-Type"));
}

static void test_request_too_big(void)
{
	size_t body = CTL_HTTP_MAX_REPLY + 1024;
	_cleanup_free_ char *reply = malloc(body + 128);
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;
	int n;

	check(reply);
	/* Refused as soon as the length is announced... */
	n = snprintf(reply, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
	memset(reply + n, 'x', body);
	fake_start(&f, reply, (size_t)n + body);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/audit", NULL, &r, &err), EMSGSIZE);
	check_str_contains(err.message, "longer than 4 MiB");
	check(!r.body);
	fake_finish(&f);

	/* ... or when too much has come. */
	n = snprintf(reply, 128, "HTTP/1.1 200 OK\r\n\r\n");
	memset(reply + n, 'x', body);
	fake_start(&f, reply, (size_t)n + body);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/audit", NULL, &r, &err), EMSGSIZE);
	check_str_contains(err.message, "longer than 4 MiB");
	check(!r.body);
	fake_finish(&f);

	check_err(parse("HTTP/1.1 200 OK\r\nContent-Length: 4194305\r\n\r\n", false, &r), EMSGSIZE);
	check_err(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400001\r\n", false, &r), EMSGSIZE);
}

static void test_request_garbage_and_silence(void)
{
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	struct fake f;

	fake_start(&f, "garbage\r\n\r\n", 11);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/hosts", NULL, &r, &err), EBADMSG);
	check_str_contains(err.message, "malformed reply from the broker on ");
	fake_finish(&f);

	fake_start(&f, "", 0);
	check_err(ctl_http_request(f.socket, "GET", "/api/v1/admin/hosts", NULL, &r, &err), EBADMSG);
	check_str_contains(err.message, "closed the connection");
	fake_finish(&f);
}

static void test_request_no_socket(void)
{
	struct ctl_http_reply r;
	struct vdi_error err = { 0 };
	char path[300], longpath[200];

	snprintf(path, sizeof(path), "%s/nothing.sock", vdi_test_tmpdir());
	check_err(ctl_http_request(path, "GET", "/api/v1/admin/hosts", NULL, &r, &err), ENOENT);
	check_str_contains(err.message, "cannot connect to the socket ");
	check_str_contains(err.message, path);
	check_str_contains(err.message, "No such file or directory");

	/* A file that is not a socket. */
	check(close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == 0);
	check_err(ctl_http_request(path, "GET", "/api/v1/admin/hosts", NULL, &r, &err), ECONNREFUSED);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	check_err(ctl_http_request(longpath, "GET", "/", NULL, &r, &err), ENAMETOOLONG);
	check_str_contains(err.message, "too long");
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_parse_uint),
	VDI_TEST(test_parse_time_utc),
	VDI_TEST(test_parse_time_local),
	VDI_TEST(test_format_time),
	VDI_TEST(test_url_encode),
	VDI_TEST(test_query_append),
	VDI_TEST(test_cells),
	VDI_TEST(test_cell_time),
	VDI_TEST(test_cell_counts),
	VDI_TEST(test_table),
	VDI_TEST(test_reply_content_length),
	VDI_TEST(test_reply_to_eof),
	VDI_TEST(test_reply_chunked),
	VDI_TEST(test_reply_interim),
	VDI_TEST(test_reply_malformed),
	VDI_TEST(test_request),
	VDI_TEST(test_request_get_to_eof),
	VDI_TEST(test_request_too_big),
	VDI_TEST(test_request_garbage_and_silence),
	VDI_TEST(test_request_no_socket),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
