/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fixture of the tests with real desktops (test-broker-vms, test-browser-web): vdi-broker in
 * the test's temp dir against the real libvirtd (qemu:///system), its own storage pool
 * vdi-test-<run>-<test>, PAM through pam_wrapper + pam_matrix with the users u01..u30 (password
 * "uNN-pw", group "lab") and the admin "adm" (password "adm-pw", group "vdiadmin"), and, when
 * asked, vdi-gateway admitting the desktops' SPICE sockets.  Broker pool names carry the test's
 * pid ("<letter><pid>") so that domain names never collide; fixture_teardown() removes every
 * domain of such a pool and the storage pool.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "broker-test.h"

#define FIXTURE_URI "qemu:///system"
#define FIXTURE_MAX_USERS 30
#define FIXTURE_BOOT_MS 180000 /* a desktop made and booted under TCG, on a busy machine */

struct fixture {
	struct daemon d;
	char storage_pool[64];
	char images[512];
	char pool[32];       /* the broker pool the test uses most: "p<pid>" */
	char key_path[512];
	pid_t gateway;         /* vdi-gateway, when the test started one */
	int gateway_port;
	char gateway_log[600];
	char tls_dir[600];     /* with fixture_options.tls or tls_gateway: tests/tls/make-certs' CA, "broker" and "gateway" */
};


/* Template, users, broker (with broker_conf added to its [broker] section) and maybe a gateway. */
void fixture_setup(struct fixture *f, bool gateway, const char *broker_conf);

/* More for the tests of several hosts. */
struct fixture_options {
	const char *extra_hosts;    /* appended to [libvirt] hosts */
	const char *extra_targets;  /* appended to the gateway's allowed_targets */
	/* Both daemons speak TLS, with certificates of a CA of the test's own (f->tls_dir: ca.pem, broker.pem,
	 * gateway.pem and their keys): the broker HTTPS on its port, the gateway WSS and CONNECT over TLS, the
	 * console URLs wss:// (as a site's one vdi.conf would say it); the admin socket stays plain. */
	bool tls;
	/* The gateway alone speaks TLS (the broker plain, as behind a proxy of its own), same certificates; the
	 * broker's [gateway] names its certificate and CA (for .vv files of SPICE over TLS). */
	bool tls_gateway;
};

void fixture_setup_with(struct fixture *f, bool gateway, const char *broker_conf, const struct fixture_options *o);
void fixture_teardown(struct fixture *f);

/* "u01".."u30". */
void fixture_user_name(int i, char *buf, size_t len);
/* Logs user uNN (i = NN) in. */
void fixture_login(struct fixture *f, struct user *u, int i);
/* A template named name from the test guest, whose kernel command line gets extra_cmdline. */
void fixture_add_template(struct fixture *f, const char *name, const char *extra_cmdline);
/* The same with disk (borrowed, an absolute path) as its disk instead of the test guest's template.qcow2. */
void fixture_add_template_disk(struct fixture *f, const char *name, const char *disk, const char *extra_cmdline);
/* A pool for the group "lab". */
void fixture_add_pool(struct fixture *f, const char *name, const char *tmpl, const char *type, int size,
		      int idle_timeout);
bool fixture_gateway_log_has(struct fixture *f, const char *needle);
/* Whether a domain name is of a pool of this test ("vdi-<letter><pid>-<id>"), and which. */
bool fixture_ours(const char *name, char *pool, size_t poollen, int64_t *id);

/* ---- what libvirt and the disks hold, against the store ---- */

struct fixture_ids {
	int64_t ids[256];
	bool running[256];
	size_t n;
};

bool fixture_ids_has(const struct fixture_ids *s, int64_t id);
/* Desktop ids of pool's domains in libvirt (and which run). */
void fixture_libvirt_ids(const char *pool, struct fixture_ids *ret);
/* The same on the libvirt host at uri. */
void fixture_libvirt_ids_at(const char *uri, const char *pool, struct fixture_ids *ret);
/* Desktop ids of pool's overlay files in the images directory. */
void fixture_overlay_ids(struct fixture *f, const char *pool, struct fixture_ids *ret);
/* Desktop ids of pool's volumes ("vdi-<pool>-<id>.qcow2") in libvirt's storage pool storage_pool on the
 * host at uri, after a refresh; ret->n counts every such volume, duplicates included. */
void fixture_volume_ids_at(const char *uri, const char *storage_pool, const char *pool, struct fixture_ids *ret);
/* Desktop ids of pool's SPICE sockets in the broker's runtime directory. */
void fixture_socket_ids(const char *pool, struct fixture_ids *ret);
/*
 * What libvirt says against what the store says, for pool's desktops on this machine: each desktop
 * the store calls running (free, assigned, connected, disconnected) is active in libvirt, each
 * "stopped" one is not; the storage pool holds exactly one volume per row and no other; no SPICE
 * socket is left without a running desktop.
 */
void fixture_check_libvirt_agrees(struct fixture *f, const char *pool, json_t *listing);
/*
 * The storage pools on the local libvirtd whose target path is dir or below it (dir borrowed), their names
 * comma-separated into names (may be NULL); removed (destroyed and undefined) when remove.  Returns how many.
 */
size_t fixture_pools_under(const char *dir, bool remove, char *names, size_t len);
/* "vdi-<pool>-<id>" into buf. */
void fixture_domain(const char *pool, int64_t id, char *buf, size_t len);
/* The path of the desktop's overlay (free() it). */
char *fixture_overlay(struct fixture *f, const char *pool, int64_t id);
/* The admin's view of pool's desktops. */
json_t *fixture_desktops(struct fixture *f, const char *pool);
/* Waits until no desktop of pool is on its way somewhere and the listing stays the same for 3 s. */
json_t *fixture_wait_settled(struct fixture *f, const char *pool, unsigned timeout_ms);
/* The store, libvirt and the disk agree on pool: the same desktop ids everywhere. */
void fixture_check_no_orphans(struct fixture *f, const char *pool, json_t *listing);
/* POST /pools/{pool}/desktop as u, expecting want_status; the desktop's id. */
int64_t fixture_ask(struct fixture *f, struct user *u, const char *pool, int want_status);
/*
 * The opening many tests share: template "golden", the pool f->pool (pooled, size 1, the
 * idle_timeout given), u01 logged in as *u and given its desktop, running.  Returns its id.
 */
int64_t fixture_running_desktop(struct fixture *f, struct user *u, int idle_timeout);
/* POST /desktops/{id}/release as u (202). */
void fixture_release(struct fixture *f, struct user *u, int64_t id);
