/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The gateway's parsers (CONNECT requests, relay targets) and its registry of relays by desktop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "proxy.h"
#include "registry.h"
#include "target.h"
#include "tcp-target.h"

#define REQ(s) s, strlen(s)

static void test_proxy_parse(void)
{
	struct gw_proxy_request r;
	/* base64("token:v1.abc.def") */
	static const char ok[] = "CONNECT desktop-12:5900 HTTP/1.1\r\nHost: desktop-12:5900\r\n"
				 "proxy-authorization:   Basic dG9rZW46djEuYWJjLmRlZg==\r\n\r\nREDQ";

	check_int_eq(gw_proxy_parse(REQ(ok), &r), (int)strlen(ok) - 4);
	check_int_eq(r.desktop, 12);
	check_int_eq(r.port, 5900);
	check_str_eq(r.token, "v1.abc.def");
	/* Incomplete: wait for more, whatever the cut. */
	for (size_t cut = 0; cut < strlen(ok) - 4; cut++)
		check_int_eq(gw_proxy_parse(ok, cut, &r), 0);
	/* No credentials, another user, not Basic, bad base64: no token. */
	check(gw_proxy_parse(REQ("CONNECT desktop-1:5900 HTTP/1.1\r\n\r\n"), &r) > 0 && !r.token[0]);
	check(gw_proxy_parse(REQ("CONNECT desktop-1:5900 HTTP/1.1\r\nProxy-Authorization: Basic YWRtaW46eA==\r\n\r\n"), &r) > 0 &&
	      !r.token[0]); /* admin:x */
	check(gw_proxy_parse(REQ("CONNECT desktop-1:5900 HTTP/1.1\r\nProxy-Authorization: Bearer abc\r\n\r\n"), &r) > 0 &&
	      !r.token[0]);
	check(gw_proxy_parse(REQ("CONNECT desktop-1:5900 HTTP/1.1\r\nProxy-Authorization: Basic d!!=\r\n\r\n"), &r) > 0 &&
	      !r.token[0]);
	/* Not a desktop. */
	check_err(gw_proxy_parse(REQ("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), &r), ENOENT);
	check_err(gw_proxy_parse(REQ("CONNECT desktop-0:5900 HTTP/1.1\r\n\r\n"), &r), ENOENT);
	check_err(gw_proxy_parse(REQ("CONNECT desktop-01:5900 HTTP/1.1\r\n\r\n"), &r), ENOENT);
	check_err(gw_proxy_parse(REQ("CONNECT desktop-1x:5900 HTTP/1.1\r\n\r\n"), &r), ENOENT);
	check_err(gw_proxy_parse(REQ("CONNECT desktop-1:99999 HTTP/1.1\r\n\r\n"), &r), ENOENT);
	check_err(gw_proxy_parse(REQ("CONNECT desktop-99999999999999999999:5900 HTTP/1.1\r\n\r\n"), &r), ENOENT);
	/* Not CONNECT, not HTTP/1.x, NUL inside. */
	check_err(gw_proxy_parse(REQ("GET http://desktop-1:5900/ HTTP/1.1\r\n\r\n"), &r), EBADMSG);
	check_err(gw_proxy_parse(REQ("CONNECT desktop-1:5900 SPDY/3\r\n\r\n"), &r), EBADMSG);
	check_err(gw_proxy_parse("CONNECT desktop-1:5900 HTTP/1.1\r\nX: a\0b\r\n\r\n", 43, &r), EBADMSG);
	/* Too long without an end. */
	{
		static char big[GW_PROXY_HEAD_MAX + 10];

		memset(big, 'a', sizeof(big));
		memcpy(big, "CONNECT ", 8);
		check_err(gw_proxy_parse(big, sizeof(big), &r), EBADMSG);
	}
}

static void test_target_allowed(void)
{
	char *allowed[] = { "unix:/run/vdi/spice/", "tcp:10.0.0.5:5901", "unix:/srv/one.sock", NULL };

	check(gw_target_allowed("unix:/run/vdi/spice/vdi-lab-1.sock", allowed));
	check(gw_target_allowed("tcp:10.0.0.5:5901", allowed));
	check(gw_target_allowed("unix:/srv/one.sock", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spice/sub/x.sock", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spice/../../libvirt/libvirt-sock", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spice/./x.sock", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spice//x.sock", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spice/", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spice/x\n.sock", allowed));
	check(!gw_target_allowed("unix:/run/vdi/spicey/x.sock", allowed));
	check(!gw_target_allowed("tcp:10.0.0.5:5902", allowed));
	check(!gw_target_allowed("tcp:10.0.0.5", allowed));
	check(!gw_target_allowed("tcp:evil.example:5901", allowed));
	check(!gw_target_allowed("file:/etc/passwd", allowed));
	check(!gw_target_allowed("", allowed));
	check(!gw_target_allowed(NULL, allowed));
	check(!gw_target_allowed("unix:/srv/one.sock", NULL));
	/* Connecting: only numeric addresses, only well-formed targets. */
	check_err(gw_target_connect("tcp:localhost:5900", allowed), EINVAL);
	check_err(gw_target_connect("ftp:x", allowed), EINVAL);
	check_err(gw_target_connect("unix:/nonexistent/dir/x.sock", allowed), ENOENT);
}

/* TCP targets of remote hosts: networks and port ranges (tcp-target.h). */
static void test_target_tcp_ranges(void)
{
	char *allowed[] = { "tcp:192.0.2.10:5900-5999", "tcp:10.1.0.0/16:5900-6099", "tcp:[2001:db8::]/32:5900-5901",
			    "tcp:[::1]:5930", NULL };
	struct vdi_tcp_pattern p;
	struct vdi_error err = { 0 };

	check(gw_target_allowed("tcp:192.0.2.10:5900", allowed));
	check(gw_target_allowed("tcp:192.0.2.10:5999", allowed));
	check(!gw_target_allowed("tcp:192.0.2.10:5899", allowed));
	check(!gw_target_allowed("tcp:192.0.2.10:6000", allowed));
	check(!gw_target_allowed("tcp:192.0.2.11:5900", allowed));
	check(gw_target_allowed("tcp:10.1.255.254:6099", allowed));
	check(gw_target_allowed("tcp:10.1.0.1:5900", allowed));
	check(!gw_target_allowed("tcp:10.2.0.1:5900", allowed));
	check(!gw_target_allowed("tcp:10.1.0.1:22", allowed));
	check(gw_target_allowed("tcp:[2001:db8:ffff::7]:5901", allowed));
	check(!gw_target_allowed("tcp:[2001:db9::7]:5901", allowed));
	check(gw_target_allowed("tcp:[::1]:5930", allowed));
	check(!gw_target_allowed("tcp:[::1]:5931", allowed));
	/* A token's target is one address and one port, never a pattern. */
	check(!gw_target_allowed("tcp:10.1.0.0/16:5900", allowed));
	check(!gw_target_allowed("tcp:192.0.2.10:5900-5901", allowed));
	check(!gw_target_allowed("tcp:::1:5930", allowed));
	check(!gw_target_allowed("tcp:[192.0.2.10]:5900", allowed));
	check(!gw_target_allowed("tcp:192.0.2.10:05900x", allowed));
	check(!gw_target_allowed("tcp:192.0.2.10:0", allowed));
	/* An IPv4 pattern never admits IPv6, and the other way round. */
	check(!gw_target_allowed("tcp:[::ffff:192.0.2.10]:5900", allowed));
	/* The parser's answers. */
	check_int_eq(vdi_tcp_pattern_parse("tcp:0.0.0.0/0:1-65535", &p, &err), 0);
	check_int_eq(p.prefix, 0);
	check_int_eq(p.port_hi, 65535);
	check_err(vdi_tcp_pattern_parse("tcp:10.0.0.1/24:5900", &p, &err), EINVAL);
	check_str_contains(err.message, "bits set beyond its /24 prefix");
	check_err(vdi_tcp_pattern_parse("tcp:10.0.0.1:70000", &p, &err), EINVAL);
	check_err(vdi_tcp_pattern_parse("tcp:[fe80::1:5900", &p, &err), EINVAL);
	check_err(vdi_tcp_pattern_parse("tcp:10.0.0.1:", &p, &err), EINVAL);
	check_err(vdi_tcp_pattern_parse("tcp:/8:5900", &p, &err), EINVAL);
}

/* gw_target_connect() reaches a TCP listener at the target's address and port. */
static void test_target_tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	struct pollfd pfd;
	char target[64];
	int lfd, fd, afd, err = -1;

	check((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	check_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	check_int_eq(listen(lfd, 1), 0);
	check_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(target, sizeof(target), "tcp:127.0.0.1:%u", ntohs(sa.sin_port));
	check((fd = gw_target_connect(target, NULL)) >= 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	check_int_eq(poll(&pfd, 1, 5000), 1);
	salen = sizeof(err);
	check_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &salen), 0);
	check_int_eq(err, 0);
	check((afd = accept(lfd, NULL, NULL)) >= 0);
	check_int_eq(write(fd, "x", 1), 1);
	check_int_eq(read(afd, target, 1), 1);
	check(target[0] == 'x');
	close(afd);
	close(fd);
	close(lfd);
}

/* A listening unix socket at dir/name (non-blocking: accept says whether anyone came). */
static int unix_listener(const char *dir, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	check(fd >= 0);
	check((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) < sizeof(sa.sun_path));
	check_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	check_int_eq(listen(fd, 4), 0);
	return fd;
}

/* Whether a connection waits on listener fd (and takes it). */
static bool accepted(int fd)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return false;
	close(c);
	return true;
}

/* Pen test: a link in an allowed directory to a socket outside it was followed. Its name is allowed; where it
 * leads is not, and nothing connects to the socket outside. A link within the directory, or an entry naming
 * the link itself, or an allowed directory reached through a link, are still fine. */
static void test_target_symlink_out(void)
{
	char dir[PATH_MAX], spice[PATH_MAX + 8], out[PATH_MAX + 8], path[PATH_MAX + 64], real[PATH_MAX], want[PATH_MAX + 64];
	char entry[PATH_MAX + 64], exact[PATH_MAX + 64], via[PATH_MAX + 64];
	char tgt_link[PATH_MAX + 64], tgt_alias[PATH_MAX + 64], tgt_file[PATH_MAX + 64], tgt_via[PATH_MAX + 64];
	char tgt_hard[PATH_MAX + 72];
	int secret, inside, fd;

	check(realpath(vdi_test_tmpdir(), dir));
	snprintf(spice, sizeof(spice), "%s/spice", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	check_int_eq(mkdir(spice, 0755), 0);
	check_int_eq(mkdir(out, 0755), 0);
	secret = unix_listener(out, "secret.sock");
	inside = unix_listener(spice, "real.sock");
	snprintf(path, sizeof(path), "%s/link.sock", spice);
	check_int_eq(symlink("../out/secret.sock", path), 0);
	snprintf(path, sizeof(path), "%s/alias.sock", spice);
	check_int_eq(symlink("real.sock", path), 0);
	snprintf(path, sizeof(path), "%s/file.sock", spice);
	check((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/spice-link", dir);
	check_int_eq(symlink("spice", path), 0);
	snprintf(entry, sizeof(entry), "unix:%s/", spice);
	snprintf(tgt_link, sizeof(tgt_link), "unix:%s/link.sock", spice);
	snprintf(tgt_alias, sizeof(tgt_alias), "unix:%s/alias.sock", spice);
	snprintf(tgt_file, sizeof(tgt_file), "unix:%s/file.sock", spice);
	snprintf(exact, sizeof(exact), "unix:%s/link.sock", spice);
	snprintf(via, sizeof(via), "unix:%s/spice-link/", dir);
	snprintf(tgt_via, sizeof(tgt_via), "unix:%s/spice-link/real.sock", dir);

	{
		char *allowed[] = { entry, NULL };

		check(gw_target_allowed(tgt_link, allowed)); /* by its name */
		check_err(gw_target_resolve(tgt_link, allowed, real, sizeof(real)), EACCES);
		snprintf(want, sizeof(want), "%s/secret.sock", out);
		check_str_eq(real, want);
		check_err(gw_target_connect(tgt_link, allowed), EACCES);
		check(!accepted(secret));
		/* A hard link to the socket outside: its name is inside, and so is its /proc path. */
		snprintf(path, sizeof(path), "%s/hard.sock", spice);
		snprintf(want, sizeof(want), "%s/secret.sock", out);
		check_int_eq(link(want, path), 0);
		snprintf(tgt_hard, sizeof(tgt_hard), "unix:%s", path);
		check(gw_target_allowed(tgt_hard, allowed));
		check_err(gw_target_resolve(tgt_hard, allowed, real, sizeof(real)), EMLINK);
		check_err(gw_target_connect(tgt_hard, allowed), EMLINK);
		check(!accepted(secret));
		check_int_eq(unlink(path), 0);
		check_err(gw_target_connect(tgt_file, allowed), ENOTSOCK);
		check_ok(gw_target_resolve(tgt_alias, allowed, real, sizeof(real)));
		check((fd = gw_target_connect(tgt_alias, allowed)) >= 0);
		close(fd);
		check(accepted(inside));
		check_ok(gw_target_resolve("tcp:127.0.0.1:5900", allowed, real, sizeof(real)));
	}
	{
		char *allowed[] = { exact, NULL };

		check((fd = gw_target_connect(tgt_link, allowed)) >= 0);
		close(fd);
		check(accepted(secret));
	}
	{
		char *allowed[] = { via, NULL };

		check((fd = gw_target_connect(tgt_via, allowed)) >= 0);
		close(fd);
		check(accepted(inside));
	}
	close(secret);
	close(inside);
}

static void test_origin_allowed(void)
{
	char *site[] = { "https://vdi.example.org", "http://127.0.0.1:8080", NULL }, *any[] = { "*", NULL };

	check(gw_origin_allowed("https://vdi.example.org", site));
	check(gw_origin_allowed("HTTPS://VDI.example.org", site));
	check(gw_origin_allowed("http://127.0.0.1:8080", site));
	check(!gw_origin_allowed("https://evil.example", site));
	check(!gw_origin_allowed("https://vdi.example.org.evil.example", site));
	check(!gw_origin_allowed("http://127.0.0.1:8081", site));
	check(!gw_origin_allowed("null", site));
	check(!gw_origin_allowed("https://vdi.example.org", (char *[]){ NULL }));
	check(gw_origin_allowed("https://anything.example", any));
}

/* ---- the registry ---------------------------------------------------------------------------- */

struct taken {
	struct gw_member *who[8];
	int n;
};

static void note_taken(struct gw_member *m, void *data)
{
	struct taken *t = data;

	check(!m->desk); /* out of the registry already */
	t->who[t->n++] = m;
}

static struct vdi_token_claims viewer(int64_t dsk, const char *tgt, const char *jti)
{
	struct vdi_token_claims c = { .dsk = dsk };

	snprintf(c.tgt, sizeof(c.tgt), "%s", tgt);
	snprintf(c.jti, sizeof(c.jti), "%s", jti);
	return c;
}

static void test_registry_takeover(void)
{
	struct gw_registry reg = { 0 };
	struct gw_member a1 = { 0 }, a2 = { 0 }, b1 = { 0 }, m1 = { 0 }, late = { 0 }, c[10] = { { 0 } };
	struct vdi_token_claims a = viewer(3, "unix:/run/d3", "A"), b = viewer(3, "unix:/run/d3", "B"),
				m = viewer(3, "unix:/run/maint3", "M"), far = viewer(3 + GW_REGISTRY_BUCKETS, "unix:/run/d3", "F");
	struct taken t = { 0 };

	/* One viewer's channels share a desktop; another desktop id or target is another desktop. */
	check_int_eq(gw_registry_join(&reg, &a1, &a, note_taken, &t), 0);
	check_int_eq(gw_registry_join(&reg, &a2, &a, note_taken, &t), 0);
	check_int_eq(gw_registry_join(&reg, &m1, &m, note_taken, &t), 0);
	check_int_eq(gw_registry_join(&reg, &late, &far, note_taken, &t), 0); /* same bucket */
	check_int_eq(t.n, 0);
	check_int_eq(gw_registry_count(&reg, 3, "unix:/run/d3"), 2);
	check_int_eq(gw_registry_count(&reg, 3, "unix:/run/maint3"), 1);
	gw_registry_leave(&reg, &late);
	check_int_eq(gw_registry_count(&reg, 3 + GW_REGISTRY_BUCKETS, "unix:/run/d3"), 0);

	/* Viewer B takes both of A's; A is superseded there, and only there. */
	check_int_eq(gw_registry_join(&reg, &b1, &b, note_taken, &t), 2);
	check_int_eq(t.n, 2);
	check((t.who[0] == &a1 && t.who[1] == &a2) || (t.who[0] == &a2 && t.who[1] == &a1));
	check_int_eq(gw_registry_count(&reg, 3, "unix:/run/d3"), 1);
	check(gw_registry_superseded(&reg, &a));
	check(!gw_registry_superseded(&reg, &b));
	memset(&late, 0, sizeof(late));
	check_err(gw_registry_join(&reg, &late, &a, note_taken, &t), ESTALE);
	check(!late.desk);
	check_int_eq(gw_registry_count(&reg, 3, "unix:/run/maint3"), 1);
	gw_registry_leave(&reg, &a1); /* taken over: no longer in it, nothing happens */

	/* Ten more viewers one after another: each takes the last one's; the newest eight are remembered. */
	for (int i = 0; i < 10; i++) {
		char jti[8];
		struct vdi_token_claims v;

		snprintf(jti, sizeof(jti), "V%d", i);
		v = viewer(3, "unix:/run/d3", jti);
		t.n = 0;
		check_int_eq(gw_registry_join(&reg, &c[i], &v, note_taken, &t), 1);
		check(t.who[0] == (i ? &c[i - 1] : &b1));
	}
	check(gw_registry_superseded(&reg, &(struct vdi_token_claims){ .dsk = 3, .tgt = "unix:/run/d3", .jti = "V8" }));
	check(!gw_registry_superseded(&reg, &(struct vdi_token_claims){ .dsk = 3, .tgt = "unix:/run/d3", .jti = "V9" }));

	/* The desktop's last relay leaves: it is forgotten, superseded viewers with it. */
	gw_registry_leave(&reg, &c[9]);
	check_int_eq(gw_registry_count(&reg, 3, "unix:/run/d3"), 0);
	check(!gw_registry_superseded(&reg, &a));
	gw_registry_leave(&reg, &m1);
	for (size_t i = 0; i < GW_REGISTRY_BUCKETS; i++)
		check(!reg.buckets[i]);
	gw_registry_clear(&reg);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_proxy_parse),
	VDI_TEST(test_target_allowed),
	VDI_TEST(test_target_tcp_ranges),
	VDI_TEST(test_target_tcp_connect),
	VDI_TEST(test_target_symlink_out),
	VDI_TEST(test_origin_allowed),
	VDI_TEST(test_registry_takeover),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
