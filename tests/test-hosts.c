/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One broker, two libvirt hosts with real desktops: this machine's libvirtd (qemu:///system) and a
 * second libvirtd in network and mount namespaces of its own (tests/second-host), registered over
 * qemu+tcp on a veth address, with its own /etc/libvirt, /var/lib/libvirt and storage directory.
 *
 *  - a pool spreads over both hosts; a desktop on host 2 listens for SPICE on host 2's address,
 *    with a ticket, its console token names that TCP target, and remote-viewer's way through
 *    the gateway (HTTP CONNECT with the token) reaches it;
 *  - host 2 made to report far more free memory than host 1: the next desktop goes there;
 *  - host 2's libvirtd is killed: its desktops are "unavailable", a console request for one is
 *    refused (no token, no ticket, no audit record), new assignments go to host 1;
 *  - host 2's libvirtd comes back: the broker reconnects, reconcile finds its desktops still
 *    running, and they are available again; rows, domains and volumes agree on both hosts;
 *  - host 2 drained: its free desktops go, nothing new goes there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "broker-test.h"
#include "desktop-fixture.h"
#include "harness.h"
#include "spice-link.h"
#include "token.h"
#include "vmpool-test.h"

#define BOOT_MS FIXTURE_BOOT_MS

struct second_host {
	char dir[256];
	char addr[64];
	char uri[128];
	char script[600];
};

static void second_host_run(struct second_host *h, const char *verb)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s' %s '%s' >&2", h->script, verb, h->dir);
	check_int_eq(system(cmd), 0);
}

/*
 * Starts host 2, with a private directory over storage (as another machine has its own disks),
 * and a janitor: a process outside the test's process group that stops host 2 when the test's
 * process ends however it ends (a failed check exits at once).
 */
static void second_host_start(struct second_host *h, const char *storage)
{
	char cmd[2048];
	int fds[2];
	FILE *p;
	pid_t pid;

	snprintf(h->script, sizeof(h->script), "%s/tests/second-host", test_env_or_fail("VDI_SOURCE_ROOT"));
	snprintf(h->dir, sizeof(h->dir), "/tmp/vdi-host2-%d", (int)getpid());
	/* Close-on-exec: host 2's daemons must not hold the write end (nor the test's output). */
	check_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		char c;

		setsid();
		/* Nothing of the test's output stays open here: its runner waits for that to close. */
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(fds[1]);
		while (read(fds[0], &c, 1) != 0)
			;
		execl("/bin/sh", "sh", "-c", "\"$0\" stop \"$1\" >/dev/null 2>&1; rm -rf \"$1\"", h->script, h->dir,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[0]); /* fds[1] stays open, unused, until this process ends */

	snprintf(cmd, sizeof(cmd), "'%s' start '%s' '%s'", h->script, h->dir, storage);
	p = popen(cmd, "r");
	check(p);
	check(fgets(h->addr, sizeof(h->addr), p) != NULL);
	check_int_eq(pclose(p), 0);
	h->addr[strcspn(h->addr, "\n")] = '\0';
	snprintf(h->uri, sizeof(h->uri), "qemu+tcp://%s/system", h->addr);
	vdi_test_log("host 2 answers on %s", h->uri);
}

/* Runs virsh on host 2; returns its output (free it). */
static char *virsh2(struct second_host *h, const char *args)
{
	char cmd[1024], *out = NULL;
	size_t len = 0;
	FILE *p, *m;
	int c;

	snprintf(cmd, sizeof(cmd), "virsh -q -c '%s' %s 2>&1", h->uri, args);
	p = popen(cmd, "r");
	check(p);
	m = open_memstream(&out, &len);
	check(m);
	while ((c = fgetc(p)) != EOF)
		fputc(c, m);
	fclose(m);
	pclose(p);
	return out;
}

/* The admin's view of desktop id: its host and state (both new strings). */
static void desktop_view(struct fixture *f, int64_t id, char **host, char **state)
{
	json_t *j = fixture_desktops(f, f->pool), *dk;
	size_t i;

	*host = *state = NULL;
	json_array_foreach(json_object_get(j, "desktops"), i, dk)
		if (json_integer_value(json_object_get(dk, "id")) == id) {
			*host = strdup(json_string_value(json_object_get(dk, "host")) ?: "");
			*state = strdup(json_string_value(json_object_get(dk, "state")) ?: "");
		}
	json_decref(j);
	check(*host && *state);
}

static bool wait_state(struct fixture *f, int64_t id, const char *want, unsigned timeout_ms)
{
	uint64_t end = vdi_test_now_ms() + timeout_ms;
	char last[32] = "";

	do {
		char *host, *state;
		bool ok;

		desktop_view(f, id, &host, &state);
		ok = streq(state, want);
		if (!streq(last, state))
			vdi_test_log("desktop %lld on %s: %s", (long long)id, host, state);
		snprintf(last, sizeof(last), "%s", state);
		free(host);
		free(state);
		if (ok)
			return true;
		usleep(200 * 1000);
	} while (vdi_test_now_ms() < end);
	return false;
}

/* A console for desktop id as u: its SPICE target and ticket, from the token and the reply (and the token). */
static int console(struct fixture *f, struct user *u, int64_t id, char *target, size_t tlen, char *password,
		   size_t plen, char **token)
{
	struct vdi_token_claims claims;
	struct vdi_token_key key;
	struct vdi_error err = { 0 };
	char path[128];
	json_t *j = NULL;
	int status;

	snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)id);
	status = user_req(&f->d, u, "POST", path, NULL, &j);
	if (status == 200) {
		if (vdi_token_key_load(f->key_path, &key, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "%s", err.message);
		check_ok(vdi_token_verify(&key, json_string_value(json_object_get(j, "token")), time(NULL), &claims,
					  NULL));
		snprintf(target, tlen, "%s", claims.tgt);
		snprintf(password, plen, "%s", json_string_value(json_object_get(j, "password")));
		if (token)
			*token = strdup(json_string_value(json_object_get(j, "token")));
	} else if (j) {
		vdi_test_log("console of desktop %lld: %d %s", (long long)id, status,
			     json_string_value(json_object_get(j, "error")) ?: "");
	}
	json_decref(j);
	return status;
}

/*
 * remote-viewer's way to desktop id: HTTP CONNECT through the gateway with the console token as
 * the proxy password, then the SPICE link with the ticket over that tunnel.
 */
static void spice_through_gateway(struct fixture *f, int64_t id, const char *token, const char *password)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->gateway_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct spice_link_result res;
	char cred[4096], b64[6000], req[7000], head[1024];
	size_t len = 0;
	int fd;

	snprintf(cred, sizeof(cred), "token:%s", token);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cred, (int)strlen(cred));
	snprintf(req, sizeof(req),
		 "CONNECT desktop-%lld:5900 HTTP/1.1\r\nHost: desktop-%lld:5900\r\nProxy-Authorization: Basic %s\r\n\r\n",
		 (long long)id, (long long)id, b64);
	check((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	check_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	check(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
	/* The gateway's answer, a byte at a time up to its blank line: what follows is SPICE. */
	while (len < sizeof(head) - 1 && !strstr(head, "\r\n\r\n")) {
		check(recv(fd, head + len, 1, 0) == 1);
		head[++len] = '\0';
	}
	if (!startswith(head, "HTTP/1.1 200"))
		vdi_test_fail(__FILE__, __LINE__, "the gateway answered CONNECT with: %s", head);
	check_ok(spice_link_probe_fd(fd, password, 10000, &res));
	check_str_eq(res.magic, "REDQ");
	check_int_eq(res.auth_result, SPICE_LINK_OK);
}

/*
 * Host 2 reports 64 GiB more free memory than this machine has: its libvirtd (through libnuma)
 * reads /sys/devices/system/node/nodeN/meminfo and /proc/meminfo, here copies with MemFree raised,
 * bound over them in host 2's own mount namespace only.
 */
static void second_host_more_memory(struct second_host *h)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "set -e; ns=/proc/$(cat '%s/run/virtlogd.pid')/ns/mnt; i=0;"
		 " for f in /proc/meminfo /sys/devices/system/node/node*/meminfo; do"
		 "  [ -e \"$f\" ] || continue; i=$((i+1));"
		 "  awk '{ for (k = 1; k < NF; k++) if ($k ~ /^(MemFree|MemTotal|MemAvailable):$/) $(k + 1) += 67108864; print }'"
		 "   \"$f\" > '%s/meminfo.'$i;"
		 "  nsenter --mount=$ns mount --bind '%s/meminfo.'$i \"$f\";"
		 " done >&2",
		 h->dir, h->dir, h->dir);
	check_int_eq(system(cmd), 0);
}

/* Free memory of the two hosts as the broker saw it at its last look (0 when it has not looked). */
static void hosts_free_memory(struct fixture *f, int64_t *h1, int64_t *h2)
{
	json_t *j = admin_json(&f->d, "GET", "/api/v1/admin/hosts", NULL, 200), *hosts = json_object_get(j, "hosts");

	*h1 = json_integer_value(json_object_get(json_array_get(hosts, 0), "free_memory"));
	*h2 = json_integer_value(json_object_get(json_array_get(hosts, 1), "free_memory"));
	json_decref(j);
}

/*
 * The store's rows, the domains and the volumes on either host are the same desktops: no domain
 * or volume without its row on the same host, no row without its domain and exactly one volume.
 */
static void check_no_orphans_on(struct fixture *f, const char *uri)
{
	struct fixture_ids doms, vols;
	json_t *j = fixture_desktops(f, f->pool), *dk;
	size_t i, rows = 0;

	fixture_libvirt_ids_at(uri, f->pool, &doms);
	fixture_volume_ids_at(uri, f->storage_pool, f->pool, &vols);
	json_array_foreach(json_object_get(j, "desktops"), i, dk) {
		int64_t id = json_integer_value(json_object_get(dk, "id"));
		size_t nvol = 0;

		if (!streq_ptr(json_string_value(json_object_get(dk, "host")), uri))
			continue;
		rows++;
		for (size_t k = 0; k < vols.n; k++)
			nvol += vols.ids[k] == id;
		if (!fixture_ids_has(&doms, id) || nvol != 1)
			vdi_test_fail(__FILE__, __LINE__, "desktop %lld on %s: %s, %zu volumes", (long long)id, uri,
				      fixture_ids_has(&doms, id) ? "a domain" : "no domain", nvol);
	}
	vdi_test_log("%s: %zu rows, %zu domains, %zu volumes of pool %s", uri, rows, doms.n, vols.n, f->pool);
	check_int_eq(doms.n, rows);
	check_int_eq(vols.n, rows);
	json_decref(j);
}

static void test_two_hosts(void)
{
	struct second_host h = { 0 };
	struct fixture_options o = { 0 };
	struct fixture f;
	struct user u[8];
	int64_t ids[8] = { 0 }, on_h2 = 0, h2_id = 0, extra, preferred;
	char storage[400], targets[128], hosts_line[160], target[600], password[128], *host, *state, *out, *token = NULL;
	char audit_path[160];
	size_t consoles;
	struct spice_link_result res;
	int n_h1 = 0, n_h2 = 0;
	json_t *j;

	test_require_libvirt(FIXTURE_URI);
	/* Where the broker's configuration (broker-test.c) puts overlays, on either host. */
	snprintf(storage, sizeof(storage), "%s/images", vdi_test_tmpdir());
	second_host_start(&h, storage);
	/* Host 2 holds the template through a storage pool of its own over the test guest's directory. */
	{
		_cleanup_free_ char *disk = test_guest_path("template.qcow2");
		char args[900];

		*strrchr(disk, '/') = '\0';
		snprintf(args, sizeof(args), "pool-create-as vdi-templates dir --target '%s'", disk);
		free(virsh2(&h, args));
		out = virsh2(&h, "pool-list --name");
		check_str_contains(out, "vdi-templates");
		free(out);
	}

	snprintf(hosts_line, sizeof(hosts_line), "%s", h.uri);
	snprintf(targets, sizeof(targets), "tcp:%s:5900-65535", h.addr);
	o.extra_hosts = hosts_line;
	o.extra_targets = targets;
	fixture_setup_with(&f, true, NULL, &o);
	fixture_add_template(&f, "golden", NULL);
	fixture_add_pool(&f, f.pool, "golden", "pooled", 8, 0);

	/* Both hosts answer; host 2 reads the template. */
	{
		uint64_t end = vdi_test_now_ms() + 30000;

		for (;;) {
			json_t *h2;

			j = admin_json(&f.d, "GET", "/api/v1/admin/hosts", NULL, 200);
			h2 = json_array_get(json_object_get(j, "hosts"), 1);
			check_str_eq(json_string_value(json_object_get(h2, "uri")), h.uri);
			if (json_is_true(json_object_get(h2, "alive")) && json_array_size(json_object_get(h2, "templates")) == 1)
				break;
			json_decref(j);
			check(vdi_test_now_ms() < end);
			usleep(200 * 1000);
		}
		json_decref(j);
	}

	/* Four users: their desktops spread over both hosts. */
	for (int k = 0; k < 4; k++) {
		fixture_login(&f, &u[k], k + 1);
		ids[k] = fixture_ask(&f, &u[k], f.pool, 202);
	}
	for (int k = 0; k < 4; k++) {
		check(wait_state(&f, ids[k], "assigned", BOOT_MS));
		desktop_view(&f, ids[k], &host, &state);
		if (streq(host, h.uri)) {
			n_h2++;
			h2_id = ids[k];
			on_h2 = k;
		} else {
			check_str_eq(host, FIXTURE_URI);
			n_h1++;
		}
		free(host);
		free(state);
	}
	vdi_test_log("4 desktops: %d on %s, %d on %s", n_h1, FIXTURE_URI, n_h2, h.uri);
	check(n_h1 >= 1 && n_h2 >= 1);

	/* A desktop of host 2 runs there, and listens for SPICE on host 2's address with a ticket. */
	{
		char dom[128], args[200];

		fixture_domain(f.pool, h2_id, dom, sizeof(dom));
		snprintf(args, sizeof(args), "domstate %s", dom);
		out = virsh2(&h, args);
		check_str_contains(out, "running");
		free(out);
	}
	check_int_eq(console(&f, &u[on_h2], h2_id, target, sizeof(target), password, sizeof(password), &token), 200);
	{
		char prefix[96];

		snprintf(prefix, sizeof(prefix), "tcp:%s:", h.addr);
		check(startswith(target, prefix));
	}
	check_ok(spice_link_probe(target, "not-the-ticket", 10000, &res));
	check_str_eq(res.magic, "REDQ");
	check_int_eq(res.auth_result, SPICE_LINK_PERMISSION_DENIED);
	/* Through the gateway, which reaches host 2 over TCP (allowed_targets tcp:ADDRESS:5900-65535). */
	spice_through_gateway(&f, h2_id, token, password);
	free(token);
	check(fixture_gateway_log_has(&f, "CONNECT relay from"));
	check(wait_state(&f, h2_id, "disconnected", 30000));

	/* Host 2 has far more free memory than host 1: the next desktop goes there. */
	second_host_more_memory(&h);
	{
		uint64_t end = vdi_test_now_ms() + 60000;
		int64_t m1, m2;

		do {
			usleep(500 * 1000);
			hosts_free_memory(&f, &m1, &m2);
		} while (m2 < m1 + ((int64_t)32 << 30) && vdi_test_now_ms() < end);
		vdi_test_log("free memory: %lld MiB on host 1, %lld MiB on host 2", (long long)(m1 >> 20),
			     (long long)(m2 >> 20));
		check(m2 >= m1 + ((int64_t)32 << 30));
	}
	fixture_login(&f, &u[4], 5);
	preferred = fixture_ask(&f, &u[4], f.pool, 202);
	check(wait_state(&f, preferred, "assigned", BOOT_MS));
	desktop_view(&f, preferred, &host, &state);
	check_str_eq(host, h.uri);
	free(host);
	free(state);
	n_h2++;

	/* Host 2's libvirtd dies: its desktops are unavailable, and their consoles refused. */
	snprintf(audit_path, sizeof(audit_path), "/api/v1/admin/audit?action=console&object=desktop:%lld", (long long)h2_id);
	j = admin_json(&f.d, "GET", audit_path, NULL, 200);
	consoles = json_array_size(json_object_get(j, "audit"));
	json_decref(j);
	second_host_run(&h, "kill");
	check(wait_state(&f, h2_id, "unavailable", 60000));
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/desktops/%lld/console", (long long)h2_id);
		j = NULL;
		check_int_eq(user_req(&f.d, &u[on_h2], "POST", path, NULL, &j), 503);
		/* Refused: no token, no ticket, nothing in the audit, and the desktop still unavailable. */
		check(json_object_get(j, "error") && !json_object_get(j, "token") && !json_object_get(j, "password"));
		json_decref(j);
		check_int_eq(admin_count(&f.d, audit_path, "audit"), consoles);
		desktop_view(&f, h2_id, &host, &state);
		check_str_eq(host, h.uri);
		check_str_eq(state, "unavailable");
		free(host);
		free(state);
	}
	/* New desktops go to host 1, although host 2 had the most free memory at the last look. */
	fixture_login(&f, &u[5], 6);
	extra = fixture_ask(&f, &u[5], f.pool, 202);
	check(wait_state(&f, extra, "assigned", BOOT_MS));
	desktop_view(&f, extra, &host, &state);
	check_str_eq(host, FIXTURE_URI);
	free(host);
	free(state);

	/* It comes back: the broker reconnects, its desktops (whose QEMUs lived on) are available. */
	second_host_run(&h, "revive");
	/* As it was before: its SPICE client (the probe above) has come and gone. */
	check(wait_state(&f, h2_id, "disconnected", 90000));
	check_int_eq(console(&f, &u[on_h2], h2_id, target, sizeof(target), password, sizeof(password), &token), 200);
	spice_through_gateway(&f, h2_id, token, password);
	free(token);
	check(wait_state(&f, preferred, "assigned", 60000));
	/* Nothing was left behind or made twice on either host: rows, domains and volumes agree. */
	check(wait_state(&f, h2_id, "disconnected", 30000));
	check_no_orphans_on(&f, FIXTURE_URI);
	check_no_orphans_on(&f, h.uri);

	/* Drained: nothing new goes to host 2, for all its free memory. */
	{
		char body[256];

		snprintf(body, sizeof(body), "{\"host\":\"%s\"}", h.uri);
		j = admin_json(&f.d, "POST", "/api/v1/admin/hosts/drain", body, 200);
		check_int_eq(json_integer_value(json_object_get(j, "remaining")), n_h2);
		json_decref(j);
	}
	fixture_login(&f, &u[6], 7);
	extra = fixture_ask(&f, &u[6], f.pool, 202);
	desktop_view(&f, extra, &host, &state);
	check_str_eq(host, FIXTURE_URI);
	free(host);
	free(state);
	check(wait_state(&f, extra, "assigned", BOOT_MS));

	fixture_teardown(&f);
	second_host_run(&h, "stop");
}

static const struct vdi_test tests[] = {
	VDI_TEST_TIMEOUT(test_two_hosts, 900),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
