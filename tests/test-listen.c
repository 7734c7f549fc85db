/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * [broker] listen and [gateway] listen: the parser (common/listen.c), and each daemon binding
 * exactly what it says.  The daemon tests run in a network namespace of their own with two
 * addresses besides loopback, on a veth pair (10.213.254.1/30 and fd42:213:254::1/64): a daemon
 * told 127.0.0.1 must refuse connections to those, to 127.0.0.2 and to ::1, and so on for each
 * form of the key.  Nothing leaves the namespace, which goes with the test's process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "listen.h"
#include "token.h"

#define OTHER4 "10.213.254.1"
#define OTHER6 "fd42:213:254::1"

static void test_parse_split(void)
{
	struct vdi_error err = { 0 };
	char host[256];
	unsigned port;

	check_ok(vdi_listen_split("127.0.0.1:8080", host, sizeof(host), &port, &err));
	check_str_eq(host, "127.0.0.1");
	check_int_eq(port, 8080);
	check_ok(vdi_listen_split("[::1]:0", host, sizeof(host), &port, &err));
	check_str_eq(host, "::1");
	check_int_eq(port, 0);
	check_ok(vdi_listen_split("*:65535", host, sizeof(host), &port, &err));
	check_str_eq(host, "*");
	check_ok(vdi_listen_split("broker.example:443", host, sizeof(host), &port, &err));
	check_str_eq(host, "broker.example");

	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "127.0.0.1", "expected host:port" },
		{ ":8080", "expected host:port" },
		{ "[]:8080", "expected host:port" },
		{ "::1:8080", "in brackets" },
		{ "[::1]8080", "expected host:port" },
		{ "[localhost]:80", "not an IPv6 address" },
		{ "127.0.0.1:", "expected a port" },
		{ "127.0.0.1:65536", "expected a port" },
		{ "127.0.0.1:80x", "expected a port" },
		{ "127.0.0.1:-1", "expected a port" },
		{ "127.0.0.1: 80", "expected a port" },
		{ "127.0.0.1:000080", "expected a port" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err.message[0] = '\0';
		check_int_eq(vdi_listen_split(bad[i].text, host, sizeof(host), &port, &err), -EINVAL);
		check_str_contains(err.message, bad[i].says);
	}
}

static void test_parse_resolve(void)
{
	struct vdi_listen l;
	struct vdi_error err = { 0 };

	check_ok(vdi_listen_resolve("127.0.0.1:8080", &l, &err));
	check_int_eq(l.family, AF_INET);
	check_str_eq(l.address, "127.0.0.1");
	check_str_eq(vdi_listen_describe(&l), "127.0.0.1");
	check_ok(vdi_listen_resolve("[::1]:8080", &l, &err));
	check_int_eq(l.family, AF_INET6);
	check_str_eq(l.address, "::1");
	check_ok(vdi_listen_resolve("*:8080", &l, &err));
	check_int_eq(l.family, AF_UNSPEC);
	check_str_eq(vdi_listen_describe(&l), "every address");
	check_ok(vdi_listen_resolve("localhost:8080", &l, &err));
	check_str_eq(l.address, "127.0.0.1"); /* IPv4 first, whatever order the resolver gives */
	/* An address this machine does not have (TEST-NET-3), and a name that does not resolve. */
	check_int_eq(vdi_listen_resolve("203.0.113.77:8080", &l, &err), -EADDRNOTAVAIL);
	check_str_contains(err.message, "203.0.113.77 is not an address of this machine");
	check_int_eq(vdi_listen_resolve("no-such-host.invalid:8080", &l, &err), -EADDRNOTAVAIL);
	check_str_contains(err.message, "cannot resolve \"no-such-host.invalid\"");
}

/* ---- the daemons in a namespace of their own --------------------------------------------- */

/* A network namespace with lo and a veth pair carrying OTHER4 and OTHER6. */
static void enter_namespace(void)
{
	if (geteuid() != 0)
		vdi_test_fail(__FILE__, __LINE__, "needs root for a network namespace");
	if (unshare(CLONE_NEWNET) < 0)
		vdi_test_fail(__FILE__, __LINE__, "unshare(CLONE_NEWNET): %s", strerror(errno));
	check_int_eq(system("ip link set lo up && ip link add vdi-a type veth peer name vdi-b && "
			    "ip addr add " OTHER4 "/30 dev vdi-a && ip addr add " OTHER6 "/64 dev vdi-a nodad && "
			    "ip link set vdi-a up && ip link set vdi-b up"),
		     0);
}

struct daemon_run {
	pid_t pid;
	int port;
	char where[64];
};

/*
 * Starts bin with conf; on "listening on port N at WHERE" fills run and returns 0; when the
 * daemon exits first, returns its exit status and its stderr in out.
 */
static int spawn(const char *bin, const char *conf, struct daemon_run *run, char *out, size_t outlen)
{
	char line[512];
	int pipefd[2], status;
	FILE *f;

	*run = (struct daemon_run){ 0 };
	out[0] = '\0';
	check(pipe2(pipefd, O_CLOEXEC) == 0);
	run->pid = fork();
	check(run->pid >= 0);
	if (run->pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], 2);
		execl(bin, bin, "--config", conf, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	check(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "listening on port ");

		if (p && sscanf(p, "listening on port %d at %63[^\n]", &run->port, run->where) == 2) {
			fclose(f);
			return 0;
		}
		strncat(out, line, outlen - strlen(out) - 1);
	}
	fclose(f);
	check(waitpid(run->pid, &status, 0) == run->pid);
	run->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void stop(struct daemon_run *run)
{
	int status;

	check(kill(run->pid, SIGTERM) == 0);
	check(waitpid(run->pid, &status, 0) == run->pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Connects to address:port; on success asks GET /healthz and wants 200. 0, or -errno of the connect. */
static int probe(const char *address, int port)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa = { 0 };
	socklen_t salen;
	char buf[256];
	ssize_t n;
	int fd, r = 0;

	if (strchr(address, ':')) {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons((uint16_t)port);
		check(inet_pton(AF_INET6, address, &sa.v6.sin6_addr) == 1);
		salen = sizeof(sa.v6);
	} else {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons((uint16_t)port);
		check(inet_pton(AF_INET, address, &sa.v4.sin_addr) == 1);
		salen = sizeof(sa.v4);
	}
	fd = socket(sa.v4.sin_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(fd >= 0);
	if (connect(fd, (const struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	check(write(fd, get, strlen(get)) == (ssize_t)strlen(get));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	check(n > 0);
	buf[n] = '\0';
	check_str_contains(buf, " 200 ");
	return 0;
}

/* Every address of the namespace, and whether a daemon on listen should answer there. */
static void expect_reachable(const struct daemon_run *run, const char *const *yes, const char *const *no)
{
	for (; *yes; yes++) {
		int r = probe(*yes, run->port);

		if (r < 0)
			vdi_test_fail(__FILE__, __LINE__, "listening at %s: %s:%d does not answer: %s", run->where, *yes,
				      run->port, strerror(-r));
	}
	for (; *no; no++) {
		int r = probe(*no, run->port);

		if (r != -ECONNREFUSED)
			vdi_test_fail(__FILE__, __LINE__, "listening at %s: %s:%d %s", run->where, *no, run->port,
				      r == 0 ? "answers" : strerror(-r));
	}
}

typedef void (*write_conf_fn)(const char *path, const char *listen);

static void broker_conf(const char *path, const char *listen)
{
	const char *t = vdi_test_tmpdir();
	FILE *f = fopen(path, "we");

	check(f);
	fprintf(f, "[broker]\nlisten = %s\nadmin_socket = %s/admin.sock\n[database]\npath = %s/vdi.db\n"
		   "[libvirt]\nhosts = test:///default\nstorage_path = %s/images\nruntime_dir = %s/run\n"
		   "[tokens]\nkey_file = %s/token.key\n",
		listen, t, t, t, t, t);
	fclose(f);
}

static void gateway_conf(const char *path, const char *listen)
{
	FILE *f = fopen(path, "we");

	check(f);
	fprintf(f, "[gateway]\nlisten = %s\n[tokens]\nkey_file = %s/token.key\n", listen, vdi_test_tmpdir());
	fclose(f);
}

static void check_daemon(const char *env, write_conf_fn write_conf)
{
	const char *bin = getenv(env);
	char conf[512], key[512], out[4096];
	struct daemon_run run;
	static const struct {
		const char *listen, *where;
		const char *yes[5], *no[6];
	} cases[] = {
		{ "127.0.0.1:0", "127.0.0.1", { "127.0.0.1" }, { "127.0.0.2", OTHER4, "::1", OTHER6 } },
		{ "[::1]:0", "::1", { "::1" }, { "127.0.0.1", OTHER4, OTHER6 } },
		{ OTHER4 ":0", OTHER4, { OTHER4 }, { "127.0.0.1", "::1", OTHER6 } },
		{ "[" OTHER6 "]:0", OTHER6, { OTHER6 }, { "::1", "127.0.0.1", OTHER4 } },
		{ "0.0.0.0:0", "0.0.0.0", { "127.0.0.1", "127.0.0.2", OTHER4 }, { "::1", OTHER6 } },
		{ "[::]:0", "::", { "::1", OTHER6 }, { "127.0.0.1", OTHER4 } },
		{ "*:0", "every address", { "127.0.0.1", OTHER4, "::1", OTHER6 }, { 0 } },
	};

	if (!bin)
		vdi_test_fail(__FILE__, __LINE__, "%s is not set: run through meson", env);
	enter_namespace();
	snprintf(key, sizeof(key), "%s/token.key", vdi_test_tmpdir());
	check_ok(vdi_token_key_generate(key, NULL));
	snprintf(conf, sizeof(conf), "%s/vdi.conf", vdi_test_tmpdir());
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		write_conf(conf, cases[i].listen);
		if (spawn(bin, conf, &run, out, sizeof(out)) != 0)
			vdi_test_fail(__FILE__, __LINE__, "%s did not start on %s: %s", bin, cases[i].listen, out);
		check_str_eq(run.where, cases[i].where);
		check(run.port > 0);
		expect_reachable(&run, cases[i].yes, cases[i].no);
		stop(&run);
	}

	/* A name: resolved once, and only the address it gave is listened on. */
	write_conf(conf, "localhost:0");
	if (spawn(bin, conf, &run, out, sizeof(out)) != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s did not start on localhost: %s", bin, out);
	{
		const char *yes[] = { run.where, NULL };
		const char *no[] = { strcmp(run.where, "::1") == 0 ? "127.0.0.1" : "::1", OTHER4, OTHER6, NULL };

		check(strcmp(run.where, "127.0.0.1") == 0 || strcmp(run.where, "::1") == 0);
		expect_reachable(&run, yes, no);
	}
	stop(&run);

	/* An address the machine does not have: it says so and does not start. */
	write_conf(conf, "203.0.113.77:8080");
	check_int_eq(spawn(bin, conf, &run, out, sizeof(out)), 1);
	check_str_contains(out, "203.0.113.77 is not an address of this machine");
}

static void test_broker_binds_exactly(void)
{
	check_daemon("VDI_BROKER_BIN", broker_conf);
}

static void test_gateway_binds_exactly(void)
{
	check_daemon("VDI_GATEWAY_BIN", gateway_conf);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_parse_split),
	VDI_TEST(test_parse_resolve),
	VDI_TEST(test_broker_binds_exactly),
	VDI_TEST(test_gateway_binds_exactly),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
