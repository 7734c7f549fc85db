/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xmlsave.h>

#include "alloc.h"
#include "log.h"
#include "private.h"

/* Reconnect back-off after libvirtd went away. */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 2000

/* Evaluates expr and copies the string value of the first result into buf. */
static int xpath_string(xmlXPathContextPtr ctx, const char *expr, char *buf, size_t len)
{
	_cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr obj = NULL;
	xmlChar *s;

	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	if (!obj || !obj->nodesetval || obj->nodesetval->nodeNr == 0)
		return -ENOENT;
	s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
	if (!s)
		return -ENOENT;
	snprintf(buf, len, "%s", (const char *)s);
	xmlFree(s);
	return 0;
}

/*
 * libvirt offers kvm domains whenever /dev/kvm opens, but a hypervisor may
 * pass /dev/kvm through without virtualisation extensions: guests then hang
 * in the firmware.  On x86 the host CPU must also show vmx or svm.
 */
static bool kvm_usable(xmlXPathContextPtr ctx, const char *arch)
{
	char feature[16];

	if (!streq(arch, "x86_64") && !streq(arch, "i686"))
		return true;
	return xpath_string(ctx, "/capabilities/host/cpu/feature[@name='vmx' or @name='svm']/@name", feature,
			    sizeof(feature)) >= 0;
}

/*
 * From the host's capabilities: the domain type to use (kvm when the host
 * offers it for its own architecture and can run it, else qemu, else the
 * first one listed, as with the test driver) and the uid:gid QEMU runs as (DAC base label).
 */
int pool_caps_parse(const char *caps, const char *wanted, char *ret_type, size_t type_len, uid_t *ret_uid,
		    gid_t *ret_gid, struct vdi_error *err)
{
	_cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = NULL;
	_cleanup_xmldoc_ xmlDocPtr doc = NULL;
	char arch[64] = "", expr[256], label[64];
	static const char *const order[] = { "kvm", "qemu" };
	bool found = false;

	doc = xmlReadMemory(caps, (int)strlen(caps), "capabilities.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR);
	if (!doc || !(ctx = xmlXPathNewContext(doc)))
		return vdi_error_set(err, -EIO, "cannot parse the host's capabilities");

	(void)xpath_string(ctx, "/capabilities/host/cpu/arch", arch, sizeof(arch));

	if (wanted && !streq(wanted, "auto")) {
		snprintf(expr, sizeof(expr), "/capabilities/guest[arch/@name='%s']/arch/domain[@type='%s']/@type", arch, wanted);
		if (xpath_string(ctx, expr, ret_type, type_len) < 0)
			return vdi_error_set(err, -EOPNOTSUPP, "the host offers no '%s' domains for %s", wanted,
					      arch[0] ? arch : "its architecture");
		found = true;
	}
	for (size_t i = 0; !found && i < ELEMENTSOF(order); i++) {
		if (streq(order[i], "kvm") && !kvm_usable(ctx, arch))
			continue;
		snprintf(expr, sizeof(expr), "/capabilities/guest[arch/@name='%s']/arch/domain[@type='%s']/@type", arch, order[i]);
		found = xpath_string(ctx, expr, ret_type, type_len) >= 0;
	}
	if (!found)
		found = xpath_string(ctx, "/capabilities/guest/arch/domain/@type", ret_type, type_len) >= 0;
	if (!found)
		return vdi_error_set(err, -EOPNOTSUPP, "the host offers no domain type for guests");

	*ret_uid = (uid_t)-1;
	*ret_gid = (gid_t)-1;
	snprintf(expr, sizeof(expr), "/capabilities/host/secmodel[model='dac']/baselabel[@type='%s']", ret_type);
	if (xpath_string(ctx, expr, label, sizeof(label)) >= 0) {
		unsigned long u, g;

		if (sscanf(label, "+%lu:+%lu", &u, &g) == 2) {
			*ret_uid = (uid_t)u;
			*ret_gid = (gid_t)g;
		}
	}
	return 0;
}

static int host_probe_caps(virConnectPtr conn, const char *wanted, char *ret_type, size_t type_len,
			   uid_t *ret_uid, gid_t *ret_gid, struct vdi_error *err)
{
	_cleanup_free_ char *caps = virConnectGetCapabilities(conn);

	if (!caps)
		return pool_libvirt_error(err, "cannot read the capabilities of %s", virConnectGetURI(conn));
	return pool_caps_parse(caps, wanted, ret_type, type_len, ret_uid, ret_gid, err);
}

static int host_ensure_storage(struct pool_host *host, virConnectPtr conn, struct vdi_error *err)
{
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_free_ char *xml = NULL;
	int active;

	sp = virStoragePoolLookupByName(conn, host->opts.storage_pool);
	if (!sp) {
		if (!host->opts.storage_path)
			return vdi_error_set(err, -ENOENT, "storage pool '%s' does not exist and no storage path is set",
					      host->opts.storage_pool);
		if (asprintf(&xml,
			     "<pool type='dir'><name>%s</name>"
			     "<target><path>%s</path><permissions><mode>0711</mode></permissions></target></pool>",
			     host->opts.storage_pool, host->opts.storage_path) < 0) {
			xml = NULL;
			return -ENOMEM;
		}
		sp = virStoragePoolDefineXML(conn, xml, 0);
		if (!sp) {
			/* Another process may have defined it meanwhile. */
			sp = virStoragePoolLookupByName(conn, host->opts.storage_pool);
			if (!sp)
				return pool_libvirt_error(err, "cannot define storage pool '%s' at %s",
							  host->opts.storage_pool, host->opts.storage_path);
		} else if (virStoragePoolBuild(sp, 0) < 0) {
			int r = pool_libvirt_error(err, "cannot create the directory %s of storage pool '%s'",
						   host->opts.storage_path, host->opts.storage_pool);
			(void)virStoragePoolUndefine(sp);
			return r;
		}
		(void)virStoragePoolSetAutostart(sp, 1);
	}

	active = virStoragePoolIsActive(sp);
	if (active < 0)
		return pool_libvirt_error(err, "cannot query storage pool '%s'", host->opts.storage_pool);
	if (!active && virStoragePoolCreate(sp, 0) < 0) {
		if (virStoragePoolIsActive(sp) != 1)
			return pool_libvirt_error(err, "cannot start storage pool '%s'", host->opts.storage_pool);
	}
	/* Learn about files put there while we were away (a crash between create and delete). */
	(void)virStoragePoolRefresh(sp, 0);
	return 0;
}

/* A local URI (qemu:///system) has no server part: the runtime dir is on this machine. */
static bool uri_is_local(const char *uri)
{
	const char *p = strstr(uri, "://");

	return p && p[3] == '/';
}

/*
 * The numeric address of a remote URI's server ("qemu+tcp://user@h2.example:16509/system" ->
 * the address h2.example resolves to), where its desktops listen for SPICE; "" for a local URI.
 * Blocks on the resolver: only called while connecting.
 */
static int spice_address_of(const char *uri, char *buf, size_t len, struct vdi_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *start, *end, *at;
	char name[256];
	int r;

	buf[0] = '\0';
	if (uri_is_local(uri))
		return 0;
	start = strstr(uri, "://");
	if (!start)
		return vdi_error_set(err, -EINVAL, "cannot find the server of %s", uri);
	start += 3;
	end = start + strcspn(start, "/?");
	at = memchr(start, '@', (size_t)(end - start));
	if (at)
		start = at + 1;
	if (*start == '[') {
		start++;
		end = memchr(start, ']', (size_t)(end - start));
		if (!end)
			return vdi_error_set(err, -EINVAL, "bad IPv6 address in %s", uri);
	} else {
		const char *colon = memchr(start, ':', (size_t)(end - start));

		if (colon)
			end = colon;
	}
	if (end == start || (size_t)(end - start) >= sizeof(name))
		return vdi_error_set(err, -EINVAL, "cannot find the server of %s", uri);
	memcpy(name, start, (size_t)(end - start));
	name[end - start] = '\0';
	r = getaddrinfo(name, NULL, &hints, &ai);
	if (r != 0 || !ai)
		return vdi_error_set(err, -ENOTCONN, "cannot resolve %s (the server of %s): %s", name, uri,
				      gai_strerror(r));
	r = getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (r != 0)
		return vdi_error_set(err, -EINVAL, "cannot write the address of %s: %s", name, gai_strerror(r));
	return 0;
}

static int host_ensure_spice_dir(struct pool_host *host, uid_t uid, gid_t gid, struct vdi_error *err)
{
	if (!uri_is_local(host->opts.uri) || startswith(host->opts.uri, "test:"))
		return 0;

	if (mkdir(host->opts.runtime_dir, 0755) < 0 && errno != EEXIST)
		return vdi_error_set(err, -errno, "cannot create runtime directory %s: %s", host->opts.runtime_dir,
				      strerror(errno));
	if (mkdir(host->spice_dir, 0770) < 0 && errno != EEXIST)
		return vdi_error_set(err, -errno, "cannot create SPICE socket directory %s: %s", host->spice_dir,
				      strerror(errno));
	/* QEMU creates the sockets: its group must be able to write here. */
	if (gid != (gid_t)-1 && chown(host->spice_dir, (uid_t)-1, gid) < 0)
		return vdi_error_set(err, -errno, "cannot give %s to QEMU's group %u: %s", host->spice_dir,
				      (unsigned)gid, strerror(errno));
	(void)uid;
	if (chmod(host->spice_dir, 0770) < 0)
		return vdi_error_set(err, -errno, "cannot chmod %s: %s", host->spice_dir, strerror(errno));
	return 0;
}

/* One reference for the owner, one per libvirt callback registration: the sink's hold and release. */
static void host_hold(void *opaque)
{
	struct pool_host *host = opaque;

	atomic_fetch_add(&host->refs, 1);
}

static void host_release(void *opaque)
{
	struct pool_host *host = opaque;

	if (!host || atomic_fetch_sub(&host->refs, 1) != 1)
		return;
	free((char *)host->opts.uri);
	free((char *)host->opts.storage_pool);
	free((char *)host->opts.storage_path);
	free((char *)host->opts.runtime_dir);
	free((char *)host->opts.virt_type);
	free(host->spice_dir);
	pthread_cond_destroy(&host->cond);
	pthread_mutex_destroy(&host->lock);
	pthread_mutex_destroy(&host->event_lock);
	pthread_mutex_destroy(&host->publish_lock);
	free(host);
}

static void host_emit(struct pool_host *host, const struct pool_event *ev)
{
	pthread_mutex_lock(&host->event_lock);
	if (host->event_fn)
		host->event_fn(host, ev, host->event_userdata);
	pthread_mutex_unlock(&host->event_lock);
}

void pool_host_set_event_handler(struct pool_host *host,
				 void (*fn)(struct pool_host *host, const struct pool_event *ev, void *userdata),
				 void *userdata)
{
	pthread_mutex_lock(&host->event_lock);
	host->event_fn = fn;
	host->event_userdata = userdata;
	pthread_mutex_unlock(&host->event_lock);
}

/* The sink's deliver: domain events from events.c reach the host's handler. */
static void host_deliver(void *opaque, const struct pool_event *ev)
{
	host_emit(opaque, ev);
}

static void close_cb(virConnectPtr conn, int reason, void *opaque)
{
	struct pool_host *host = opaque;
	struct pool_event ev = { .type = POOL_EVENT_HOST_LOST, .detail = reason };
	bool ours;

	pthread_mutex_lock(&host->lock);
	ours = host->conn == conn && !host->dead;
	if (ours) {
		host->dead = true;
		pthread_cond_broadcast(&host->cond);
	}
	pthread_mutex_unlock(&host->lock);

	if (ours) {
		vdi_debug("libvirt connection to %s closed (reason %d)", host->opts.uri, reason);
		host_emit(host, &ev);
	}
}

/* Opens and prepares a new connection without holding host->lock. */
static int host_open(struct pool_host *host, virConnectPtr *ret, int ret_ids[2], struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	char type[sizeof(host->virt_type)], address[sizeof(host->spice_address)];
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	conn = virConnectOpen(host->opts.uri);
	if (!conn) {
		r = pool_libvirt_error(err, "cannot connect to %s", host->opts.uri);
		/* Whatever libvirt said, the host is not reachable now. */
		return r == -EACCES ? r : -ENOTCONN;
	}

	r = host_probe_caps(conn, host->opts.virt_type, type, sizeof(type), &uid, &gid, err);
	if (r < 0)
		return r;
	r = spice_address_of(host->opts.uri, address, sizeof(address), err);
	if (r < 0)
		return r;
	r = host_ensure_storage(host, conn, err);
	if (r < 0)
		return r;
	r = host_ensure_spice_dir(host, uid, gid, err);
	if (r < 0)
		return r;

	/* Notice a dead or hung libvirtd within ~15 s, not at the next call. */
	(void)virConnectSetKeepAlive(conn, 5, 3);
	/* No reference for this one: unregistering waits for a running close_cb (same lock), and
	 * drivers without close callbacks (test:///) never call a freecb. */
	if (virConnectRegisterCloseCallback(conn, close_cb, host, NULL) < 0)
		return pool_libvirt_error(err, "cannot watch the connection to %s", host->opts.uri);
	r = pool_events_register(conn, &host->sink, ret_ids);
	if (r < 0) {
		(void)virConnectUnregisterCloseCallback(conn, close_cb);
		return pool_libvirt_error(err, "cannot subscribe to events of %s", host->opts.uri);
	}

	pthread_mutex_lock(&host->lock);
	snprintf(host->virt_type, sizeof(host->virt_type), "%s", type);
	snprintf(host->spice_address, sizeof(host->spice_address), "%s", address);
	pthread_mutex_unlock(&host->lock);
	*ret = TAKE_PTR(conn);
	return 0;
}

static void host_drop(virConnectPtr conn, const int ids[2])
{
	if (!conn)
		return;
	pool_events_deregister(conn, ids);
	(void)virConnectUnregisterCloseCallback(conn, close_cb);
	virConnectClose(conn);
}

/*
 * Makes sure host->conn is open.  One thread connects at a time; others
 * wait for its result.  Called with host->lock held; returns with it held.
 */
static int host_ensure_connected_locked(struct pool_host *host, struct vdi_error *err)
{
	for (;;) {
		virConnectPtr fresh = NULL, old;
		int fresh_ids[2], old_ids[2];
		bool was_connected;
		int r;

		if (host->conn && !host->dead)
			return 0;
		if (host->stopping)
			return vdi_error_set(err, -ESHUTDOWN, "host %s is shutting down", host->opts.uri);
		if (host->connecting) {
			pthread_cond_wait(&host->cond, &host->lock);
			if (!host->connecting && (!host->conn || host->dead))
				return vdi_error_set(err, -ENOTCONN, "cannot connect to %s", host->opts.uri);
			continue;
		}

		host->connecting = true;
		/* A host that was away from the start announces its first connection as a return. */
		was_connected = host->ever_connected || host->opts.connect_later;
		pthread_mutex_unlock(&host->lock);
		r = host_open(host, &fresh, fresh_ids, err);
		pthread_mutex_lock(&host->lock);
		host->connecting = false;

		if (r < 0) {
			pthread_cond_broadcast(&host->cond);
			return r;
		}
		old = host->conn;
		old_ids[0] = host->cb_ids[0];
		old_ids[1] = host->cb_ids[1];
		host->conn = fresh;
		host->cb_ids[0] = fresh_ids[0];
		host->cb_ids[1] = fresh_ids[1];
		host->dead = false;
		if (host->ever_connected)
			host->reconnects++;
		host->ever_connected = true;
		pthread_cond_broadcast(&host->cond);

		pthread_mutex_unlock(&host->lock);
		host_drop(old, old_ids);
		if (was_connected) {
			struct pool_event ev = { .type = POOL_EVENT_HOST_BACK };

			vdi_debug("reconnected to %s", host->opts.uri);
			host_emit(host, &ev);
		}
		pthread_mutex_lock(&host->lock);
	}
}

int pool_host_conn(struct pool_host *host, virConnectPtr *ret, struct vdi_error *err)
{
	int r;

	pthread_mutex_lock(&host->lock);
	r = host_ensure_connected_locked(host, err);
	if (r >= 0) {
		virConnectRef(host->conn);
		*ret = host->conn;
	}
	pthread_mutex_unlock(&host->lock);
	return r;
}

static void cond_wait_ms(struct pool_host *host, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&host->cond, &host->lock, &ts);
}

/* Reconnects in the background, so that events flow again without waiting for the next call. */
static void *monitor_main(void *arg)
{
	struct pool_host *host = arg;
	unsigned backoff = RECONNECT_MIN_MS;

	pthread_mutex_lock(&host->lock);
	while (!host->stopping) {
		if (host->conn && !host->dead) {
			backoff = RECONNECT_MIN_MS;
			cond_wait_ms(host, 1000);
			continue;
		}
		if (!host->connecting && host_ensure_connected_locked(host, NULL) >= 0)
			continue;
		if (host->stopping)
			break;
		cond_wait_ms(host, backoff);
		backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
	}
	pthread_mutex_unlock(&host->lock);
	return NULL;
}

static bool is_valid_virt_type(const char *t)
{
	return !t || streq(t, "auto") || streq(t, "kvm") || streq(t, "qemu");
}

int pool_host_new(const struct pool_host_options *opts, struct pool_host **ret, struct vdi_error *err)
{
	_cleanup_(pool_host_freep) struct pool_host *host = NULL;
	pthread_condattr_t ca;
	int r;

	if (!opts || !opts->uri || !*opts->uri || !opts->storage_pool || !*opts->storage_pool ||
	    !opts->runtime_dir || opts->runtime_dir[0] != '/')
		return vdi_error_set(err, -EINVAL, "a host needs a URI, a storage pool and an absolute runtime directory");
	if (!is_valid_virt_type(opts->virt_type))
		return vdi_error_set(err, -EINVAL, "virt_type must be auto, kvm or qemu, not '%s'", opts->virt_type);
	if (opts->storage_path && opts->storage_path[0] != '/')
		return vdi_error_set(err, -EINVAL, "storage path must be absolute: %s", opts->storage_path);

	pool_events_init_once();
	pool_xml_init_once();

	host = vdi_new0(struct pool_host);
	if (!host)
		return -ENOMEM;
	atomic_init(&host->refs, 1);
	pthread_mutex_init(&host->lock, NULL);
	pthread_mutex_init(&host->event_lock, NULL);
	pthread_mutex_init(&host->publish_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&host->cond, &ca);
	pthread_condattr_destroy(&ca);
	host->cb_ids[0] = host->cb_ids[1] = -1;
	host->sink = (struct pool_event_sink){
		.deliver = host_deliver, .hold = host_hold, .release = host_release, .opaque = host,
	};

	host->opts.uri = strdup(opts->uri);
	host->opts.storage_pool = strdup(opts->storage_pool);
	host->opts.storage_path = vdi_strdup0(opts->storage_path);
	host->opts.runtime_dir = strdup(opts->runtime_dir);
	host->opts.virt_type = strdup(opts->virt_type ? opts->virt_type : "auto");
	if (!host->opts.uri || !host->opts.storage_pool || (opts->storage_path && !host->opts.storage_path) ||
	    !host->opts.runtime_dir || !host->opts.virt_type ||
	    asprintf(&host->spice_dir, "%s/spice", opts->runtime_dir) < 0) {
		host->spice_dir = NULL;
		return -ENOMEM;
	}

	host->opts.connect_later = opts->connect_later;
	pthread_mutex_lock(&host->lock);
	r = host_ensure_connected_locked(host, err);
	pthread_mutex_unlock(&host->lock);
	if (r < 0 && !(opts->connect_later && r == -ENOTCONN))
		return r;

	r = -pthread_create(&host->monitor, NULL, monitor_main, host);
	if (r < 0)
		return vdi_error_set(err, r, "cannot start the reconnect thread");
	host->monitor_started = true;

	*ret = TAKE_PTR(host);
	return 0;
}

struct pool_host *pool_host_free(struct pool_host *host)
{
	virConnectPtr conn;

	if (!host)
		return NULL;

	pool_host_set_event_handler(host, NULL, NULL);
	pthread_mutex_lock(&host->lock);
	host->stopping = true;
	pthread_cond_broadcast(&host->cond);
	pthread_mutex_unlock(&host->lock);
	if (host->monitor_started)
		pthread_join(host->monitor, NULL);

	pthread_mutex_lock(&host->lock);
	conn = host->conn;
	host->conn = NULL;
	pthread_mutex_unlock(&host->lock);
	host_drop(conn, host->cb_ids);

	host_release(host);
	return NULL;
}

const char *pool_host_virt_type(const struct pool_host *host)
{
	return host->virt_type;
}

const char *pool_host_uri(const struct pool_host *host)
{
	return host->opts.uri;
}

bool pool_host_is_alive(struct pool_host *host)
{
	bool alive;

	pthread_mutex_lock(&host->lock);
	alive = host->conn && !host->dead && virConnectIsAlive(host->conn) == 1;
	pthread_mutex_unlock(&host->lock);
	return alive;
}

unsigned pool_host_reconnects(struct pool_host *host)
{
	unsigned n;

	pthread_mutex_lock(&host->lock);
	n = host->reconnects;
	pthread_mutex_unlock(&host->lock);
	return n;
}

int pool_host_free_memory(struct pool_host *host, uint64_t *ret, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	unsigned long long bytes;
	int r;

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	/* libvirt reports 0 as a failure, also where a driver has nothing to tell (the test driver
	 * of an XML file without NUMA cells): 0 bytes free from a host that answers is taken as it is. */
	bytes = virNodeGetFreeMemory(conn);
	if (bytes == 0 && virConnectIsAlive(conn) != 1)
		return pool_libvirt_error(err, "cannot read the free memory of %s", host->opts.uri);
	virResetLastError();
	*ret = bytes;
	return 0;
}

int pool_host_has_file(struct pool_host *host, const char *path, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	virStorageVolPtr vol;
	int r;

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;
	vol = virStorageVolLookupByPath(conn, path);
	if (vol) {
		virStorageVolFree(vol);
		return 1;
	}
	virResetLastError();
	return uri_is_local(host->opts.uri) && access(path, R_OK) == 0 ? 1 : 0;
}
