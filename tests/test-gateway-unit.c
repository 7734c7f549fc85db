/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The gateway's parsers: CONNECT requests and relay targets. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "proxy.h"
#include "target.h"

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
	check_err(gw_target_connect("tcp:localhost:5900"), EINVAL);
	check_err(gw_target_connect("ftp:x"), EINVAL);
	check_err(gw_target_connect("unix:/nonexistent/dir/x.sock"), ENOENT);
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

static const struct vdi_test tests[] = {
	VDI_TEST(test_proxy_parse),
	VDI_TEST(test_target_allowed),
	VDI_TEST(test_origin_allowed),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
