/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the network tests make outside their process, and its removal.  Everything carries the
 * run's tag, the pid of the test binary's main process (<run>):
 *   network namespaces and libvirt networks  vdinet-<run>-WHAT
 *   host interfaces (veths, bridges)         vn<run>-WHAT (WHAT up to 5 characters)
 *   desktops                                 pool vn<run> (domains vdi-vn<run>-<id>)
 *   their storage pool                       vdi-test-<run>-net
 *   private Open vSwitch daemons             their files in /run/vdinet-<run>-ovs
 * net_fixture_init() removes what runs that are gone left, and makes net_fixture_sweep() the
 * harness's sweeper, which removes the current run's after each test.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_URI "qemu:///system"

/* In main(), before vdi_test_main(). */
void net_fixture_init(void);

/* Removes everything of the current run (the harness's sweeper). */
void net_fixture_sweep(void);

/* The run's tag (the main process's pid). */
int net_run(void);

/* The second octet of the run's private addresses, 10.X.0.0/16 (one nothing on the host routes). */
unsigned net_octet(void);

/* "vdinet-<run>-what" (namespaces, libvirt networks) and "vn<run>-what" (interfaces) into buf. */
void net_name(char *buf, size_t len, const char *what);
void net_ifname(char *buf, size_t len, const char *what);

/* Runs a shell command (printf format); its exit status (-1: it could not run). */
int net_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same; a status other than 0 fails the test, naming the command. */
#define net_sh_ok(...) net_sh_check(__FILE__, __LINE__, __VA_ARGS__)
void net_sh_check(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Namespace vdinet-<run>-what with a veth: eth0 inside, addressed ns_cidr (borrowed, "a.b.c.d/p"),
 * lo up, and a default route via gw (NULL: none); the host end vn<run>-what, up, addressed host_cidr
 * (NULL: none, for a bridge to take it).
 */
void net_ns_make(const char *what, const char *ns_cidr, const char *host_cidr, const char *gw);

/* A TCP server in a namespace: a child process that accepts connections on addr (borrowed) and
 * closes each, telling the parent through a pipe. */
struct net_server {
	pid_t pid;
	int port;
	int events;   /* read end: one byte per accepted connection */
	int accepted; /* counted so far (net_server_accepted) */
};

/* Starts a server in namespace vdinet-<run>-ns_what (NULL: the host's) on addr and a free port. */
void net_server_start(const char *ns_what, const char *addr, struct net_server *s);
/* How many connections it accepted so far. */
int net_server_accepted(struct net_server *s);
void net_server_stop(struct net_server *s);

/* A sink in a namespace: a child process that reads each connection on addr (borrowed) to its end,
 * then closes it and tells the parent the bytes and the milliseconds from accept to the end. */
void net_sink_start(const char *ns_what, const char *addr, struct net_server *s);
/* Waits up to ms for the sink's next connection to end: 0 and its bytes and milliseconds, or -ETIME. */
int net_sink_wait(struct net_server *s, unsigned ms, long *ret_bytes, long *ret_ms);

/*
 * From namespace vdinet-<run>-ns_what: connects to addr:port, sends kib KiB, closes its side and
 * waits for the peer to close.  Returns the milliseconds from connect to the peer's close, or -errno.
 */
long net_ns_send_ms(const char *ns_what, const char *addr, int port, unsigned kib);
