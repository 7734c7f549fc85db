/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "net-fixture.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "harness.h"
#include "vmpool-test.h"

static int run_pid;
static unsigned octet;

int net_run(void)
{
	return run_pid;
}

unsigned net_octet(void)
{
	return octet;
}

void net_name(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "vdinet-%d-%s", run_pid, what);
}

void net_ifname(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "vn%d-%s", run_pid, what);
}

static int vsh(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static int vsh(const char *fmt, va_list ap)
{
	_cleanup_free_ char *cmd = NULL;
	int r;

	if (vasprintf(&cmd, fmt, ap) < 0)
		return -1;
	r = system(cmd);
	if (r == -1 || !WIFEXITED(r))
		return -1;
	return WEXITSTATUS(r);
}

int net_sh(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsh(fmt, ap);
	va_end(ap);
	return r;
}

void net_sh_check(const char *file, int line, const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	check(r > 0);
	r = net_sh("%s", cmd);
	if (r != 0)
		vdi_test_fail(file, line, "command failed (status %d): %s", r, cmd);
}

/* Calls fn(line, ud) for each line cmd (a shell command, borrowed) prints. */
static void for_lines(const char *cmd, void (*fn)(const char *line, void *ud), void *ud)
{
	FILE *p = popen(cmd, "r");
	char line[512];

	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		fn(line, ud);
	}
	pclose(p);
}

/* ---- removal ------------------------------------------------------------------------------- */

static bool has_prefix(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Domains, nwfilter bindings, libvirt networks and the storage pool of run. */
static void sweep_libvirt(int run)
{
	virConnectPtr c = virConnectOpen(NET_URI);
	char dom_prefix[64], net_prefix[64], pool[64];
	virDomainPtr *doms = NULL;
	virNWFilterBindingPtr *binds = NULL;
	virNetworkPtr *nets = NULL;
	virStoragePoolPtr sp;
	int n;

	if (!c)
		return;
	snprintf(dom_prefix, sizeof(dom_prefix), "vdi-vn%d-", run);
	snprintf(net_prefix, sizeof(net_prefix), "vdinet-%d-", run);
	snprintf(pool, sizeof(pool), "vdi-test-%d-net", run);
	n = virConnectListAllDomains(c, &doms, 0);
	for (int i = 0; i < n; i++) {
		if (has_prefix(virDomainGetName(doms[i]), dom_prefix)) {
			(void)virDomainDestroy(doms[i]);
			(void)virDomainUndefine(doms[i]);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	n = virConnectListAllNWFilterBindings(c, &binds, 0);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *xml = virNWFilterBindingGetXMLDesc(binds[i], 0);
		char owner[80];

		snprintf(owner, sizeof(owner), "<name>%s", dom_prefix);
		if (xml && strstr(xml, owner))
			(void)virNWFilterBindingDelete(binds[i]);
		virNWFilterBindingFree(binds[i]);
	}
	free(binds);
	n = virConnectListAllNetworks(c, &nets, 0);
	for (int i = 0; i < n; i++) {
		if (has_prefix(virNetworkGetName(nets[i]), net_prefix)) {
			(void)virNetworkDestroy(nets[i]);
			(void)virNetworkUndefine(nets[i]);
		}
		virNetworkFree(nets[i]);
	}
	free(nets);
	sp = virStoragePoolLookupByName(c, pool);
	if (sp) {
		virStorageVolPtr *vols = NULL;

		n = virStoragePoolListAllVolumes(sp, &vols, 0);
		for (int i = 0; i < n; i++) {
			(void)virStorageVolDelete(vols[i], 0);
			virStorageVolFree(vols[i]);
		}
		free(vols);
		(void)virStoragePoolDestroy(sp);
		(void)virStoragePoolUndefine(sp);
		virStoragePoolFree(sp);
	}
	virConnectClose(c);
}

/* Kills the process whose pid file path (borrowed) names, when its comm is comm (borrowed). */
static void kill_pidfile(const char *path, const char *comm)
{
	FILE *f = fopen(path, "re");
	char proc[64], name[64] = "";
	int pid = 0;

	if (!f)
		return;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0)
		return;
	snprintf(proc, sizeof(proc), "/proc/%d/comm", pid);
	f = fopen(proc, "re");
	if (!f)
		return;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	if (strcmp(name, comm) != 0)
		return;
	(void)kill(pid, SIGKILL);
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++) {
		(void)waitpid(pid, NULL, WNOHANG);
		usleep(20 * 1000);
	}
}

/* The private Open vSwitch daemons of run and the files they made. */
static void sweep_ovs(int run)
{
	char dir[128], path[192];

	snprintf(dir, sizeof(dir), "/run/vdinet-%d-ovs", run);
	if (access(dir, F_OK) < 0)
		return;
	snprintf(path, sizeof(path), "%s/ovs-vswitchd.pid", dir);
	kill_pidfile(path, "ovs-vswitchd");
	snprintf(path, sizeof(path), "%s/ovsdb-server.pid", dir);
	kill_pidfile(path, "ovsdb-server");
	/* The daemons' sockets in /run/openvswitch (where libvirt's ovs-vsctl looks): that directory
	 * whole when this run made it, else only the sockets this run's daemons opened there (the
	 * database's, and the bridges' management and snoop sockets, named by the bridge). */
	snprintf(path, sizeof(path), "%s/made-rundir", dir);
	if (access(path, F_OK) == 0)
		(void)net_sh("rm -rf /run/openvswitch");
	else
		(void)net_sh("rm -f /run/openvswitch/db.sock /run/openvswitch/vn%d-*", run);
	snprintf(path, sizeof(path), "%s/made-netdev", dir);
	if (access(path, F_OK) == 0)
		(void)net_sh("ip link del ovs-netdev 2>/dev/null");
	(void)net_sh("rm -rf '%s'", dir);
}

static void del_netns(const char *line, void *ud)
{
	const char *prefix = ud;
	char name[128];

	if (sscanf(line, "%127s", name) != 1 || !has_prefix(name, prefix))
		return;
	(void)net_sh("for p in $(ip netns pids '%s' 2>/dev/null); do kill -9 $p; done; ip netns del '%s' 2>/dev/null",
		     name, name);
}

/* The interface name of an "ip -o link" line ("12: name@peer: <...") into buf. */
static bool link_name(const char *line, char *buf, size_t len)
{
	const char *p = strchr(line, ':');
	size_t n;

	if (!p)
		return false;
	p += strspn(p + 1, " ") + 1;
	n = strcspn(p, "@:");
	if (n == 0 || n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

static void del_link(const char *line, void *ud)
{
	const char *prefix = ud;
	char name[32];

	if (link_name(line, name, sizeof(name)) && has_prefix(name, prefix))
		(void)net_sh("ip link del '%s' 2>/dev/null", name);
}

static void sweep_run(int run)
{
	char prefix[64];

	sweep_libvirt(run);
	sweep_ovs(run);
	snprintf(prefix, sizeof(prefix), "vdinet-%d-", run);
	for_lines("ip netns list 2>/dev/null", del_netns, prefix);
	snprintf(prefix, sizeof(prefix), "vn%d-", run);
	for_lines("ip -o link show 2>/dev/null", del_link, prefix);
}

void net_fixture_sweep(void)
{
	sweep_run(run_pid);
}

/* ---- leftovers of runs that are gone ------------------------------------------------------------ */

struct runs {
	int pid[64];
	size_t n;
};

static void add_run(struct runs *r, int pid)
{
	if (pid <= 0 || pid == run_pid || (kill(pid, 0) == 0 || errno != ESRCH))
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->pid[i] == pid)
			return;
	if (r->n < ELEMENTSOF(r->pid))
		r->pid[r->n++] = pid;
}

static void netns_run(const char *line, void *ud)
{
	int pid;

	if (sscanf(line, "vdinet-%d-", &pid) == 1)
		add_run(ud, pid);
}

static void link_run(const char *line, void *ud)
{
	char name[32];
	int pid;

	if (link_name(line, name, sizeof(name)) && sscanf(name, "vn%d-", &pid) == 1)
		add_run(ud, pid);
}

static void libvirt_runs(struct runs *r)
{
	virConnectPtr c = virConnectOpen(NET_URI);
	virDomainPtr *doms = NULL;
	virNetworkPtr *nets = NULL;
	int n, pid;

	if (!c)
		return;
	n = virConnectListAllDomains(c, &doms, 0);
	for (int i = 0; i < n; i++) {
		if (sscanf(virDomainGetName(doms[i]), "vdi-vn%d-", &pid) == 1)
			add_run(r, pid);
		virDomainFree(doms[i]);
	}
	free(doms);
	n = virConnectListAllNetworks(c, &nets, 0);
	for (int i = 0; i < n; i++) {
		if (sscanf(virNetworkGetName(nets[i]), "vdinet-%d-", &pid) == 1)
			add_run(r, pid);
		virNetworkFree(nets[i]);
	}
	free(nets);
	virConnectClose(c);
}

static void stale_runs(void)
{
	struct runs r = { .n = 0 };
	DIR *d = opendir("/run");
	struct dirent *e;
	int pid;

	for_lines("ip netns list 2>/dev/null", netns_run, &r);
	for_lines("ip -o link show 2>/dev/null", link_run, &r);
	libvirt_runs(&r);
	while (d && (e = readdir(d)))
		if (sscanf(e->d_name, "vdinet-%d-ovs", &pid) == 1)
			add_run(&r, pid);
	if (d)
		closedir(d);
	for (size_t i = 0; i < r.n; i++) {
		vdi_test_log("removing what an earlier run (pid %d, gone) left", r.pid[i]);
		sweep_run(r.pid[i]);
	}
}

/* 10.X.0.0/16 with X in 100..199 that no address or route of the host mentions. */
static unsigned pick_octet(void)
{
	for (unsigned i = 0; i < 100; i++) {
		unsigned x = 100 + (unsigned)(run_pid + (int)i) % 100;

		if (net_sh("ip -4 addr show | grep -q ' 10\\.%u\\.' || ip -4 route show table all | grep -q '10\\.%u\\.'",
			   x, x) != 0)
			return x;
	}
	return 100 + (unsigned)run_pid % 100;
}

void net_fixture_init(void)
{
	run_pid = getpid();
	stale_runs();
	octet = pick_octet();
	vdi_test_set_sweeper(net_fixture_sweep);
}

/* ---- namespaces ------------------------------------------------------------------------------- */

void net_ns_make(const char *what, const char *ns_cidr, const char *host_cidr, const char *gw)
{
	char ns[64], host_if[32];

	net_name(ns, sizeof(ns), what);
	net_ifname(host_if, sizeof(host_if), what);
	net_sh_ok("ip netns add %s", ns);
	net_sh_ok("ip link add %s type veth peer name eth0 netns %s", host_if, ns);
	net_sh_ok("ip -n %s link set lo up && ip -n %s addr add %s dev eth0 && ip -n %s link set eth0 up", ns, ns,
		  ns_cidr, ns);
	if (gw)
		net_sh_ok("ip -n %s route add default via %s", ns, gw);
	if (host_cidr)
		net_sh_ok("ip addr add %s dev %s", host_cidr, host_if);
	net_sh_ok("ip link set %s up", host_if);
}

/* In a child: into namespace vdinet-<run>-what (NULL: stay); false when that fails. */
static bool enter_ns(const char *what)
{
	char ns[64], path[128];
	int fd;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!what)
		return true;
	net_name(ns, sizeof(ns), what);
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		return false;
	close(fd);
	return true;
}

/* The sink's loop on listening socket fd: each connection read to its end; bytes and ms on out. */
static _Noreturn void sink_loop(int fd, int out)
{
	static char buf[65536];
	int c;

	while ((c = accept(fd, NULL, NULL)) >= 0) {
		uint64_t t0 = vdi_test_now_ms();
		long rec[2] = { 0, 0 };
		ssize_t n;

		while ((n = read(c, buf, sizeof(buf))) > 0)
			rec[0] += n;
		rec[1] = (long)(vdi_test_now_ms() - t0);
		close(c);
		if (write(out, rec, sizeof(rec)) != sizeof(rec))
			_exit(1);
	}
	_exit(1);
}

/* The server child: listens on addr, writes the port to out, then a byte per accepted connection
 * (sink: what sink_loop() writes). */
static _Noreturn void server_main(const char *ns_what, const char *addr, bool sink, int out)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = -1, port = -1, c;

	if (enter_ns(ns_what) && inet_pton(AF_INET, addr, &a.sin_addr) == 1 &&
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    listen(fd, 16) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (write(out, &port, sizeof(port)) != sizeof(port) || port < 0)
		_exit(1);
	if (sink)
		sink_loop(fd, out);
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		if (write(out, "c", 1) != 1)
			_exit(1);
		close(c);
	}
	_exit(1);
}

static void start_child(const char *ns_what, const char *addr, bool sink, struct net_server *s)
{
	int p[2];

	check(pipe2(p, O_CLOEXEC) == 0);
	fflush(NULL);
	s->pid = fork();
	check(s->pid >= 0);
	if (s->pid == 0) {
		close(p[0]);
		server_main(ns_what, addr, sink, p[1]);
	}
	close(p[1]);
	check(read(p[0], &s->port, sizeof(s->port)) == sizeof(s->port));
	if (s->port < 0)
		vdi_test_fail(__FILE__, __LINE__, "no server on %s in namespace %s", addr, ns_what ? ns_what : "-");
	s->events = p[0];
	check(fcntl(s->events, F_SETFL, O_NONBLOCK) == 0);
	s->accepted = 0;
}

void net_server_start(const char *ns_what, const char *addr, struct net_server *s)
{
	start_child(ns_what, addr, false, s);
}

void net_sink_start(const char *ns_what, const char *addr, struct net_server *s)
{
	start_child(ns_what, addr, true, s);
}

int net_sink_wait(struct net_server *s, unsigned ms, long *ret_bytes, long *ret_ms)
{
	struct pollfd pfd = { .fd = s->events, .events = POLLIN };
	long rec[2];

	if (poll(&pfd, 1, (int)ms) != 1 || read(s->events, rec, sizeof(rec)) != sizeof(rec))
		return -ETIME;
	*ret_bytes = rec[0];
	*ret_ms = rec[1];
	return 0;
}

int net_server_accepted(struct net_server *s)
{
	char buf[64];
	ssize_t n;

	while ((n = read(s->events, buf, sizeof(buf))) > 0)
		s->accepted += (int)n;
	return s->accepted;
}

void net_server_stop(struct net_server *s)
{
	if (s->pid > 0) {
		(void)kill(s->pid, SIGKILL);
		(void)waitpid(s->pid, NULL, 0);
		close(s->events);
	}
	s->pid = 0;
}

/* The sender child: the result (ms or -errno) as a long on out. */
static _Noreturn void send_main(const char *ns_what, const char *addr, int port, unsigned kib, int out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[1024];
	long r = -EIO;
	uint64_t t0 = 0;
	int fd = -1;

	if (!enter_ns(ns_what) || inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		goto out;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 60 }, sizeof(struct timeval)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 60 }, sizeof(struct timeval)) < 0)
		goto out;
	t0 = vdi_test_now_ms();
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		goto out;
	}
	for (unsigned i = 0; i < kib; i++) {
		if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) != (ssize_t)sizeof(buf)) {
			r = -errno;
			goto out;
		}
	}
	(void)shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	r = (long)(vdi_test_now_ms() - t0);
out:
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

long net_ns_send_ms(const char *ns_what, const char *addr, int port, unsigned kib)
{
	long r = -EIO;
	int p[2];
	pid_t pid;

	check(pipe2(p, O_CLOEXEC) == 0);
	fflush(NULL);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		send_main(ns_what, addr, port, kib, p[1]);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r = -EIO;
	close(p[0]);
	(void)waitpid(pid, NULL, 0);
	return r;
}
