/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <libvirt/virterror.h>

#include "log.h"
#include "private.h"

/*
 * libvirt's events, translated: the process-wide event loop thread, and the
 * lifecycle and graphics callbacks on a connection it is given, which turn
 * libvirt's events of vdi's domains into struct pool_event for a sink it is
 * given.  It knows nothing of hosts; host.c owns the handler and calls here.
 *
 * libvirt's event loop is process-wide: it must be registered before the
 * first connection is opened, and one thread runs it for every host.
 */

static void *event_thread_main(void *arg)
{
	(void)arg;
	for (;;) {
		if (virEventRunDefaultImpl() < 0)
			vdi_debug("libvirt event loop iteration failed: %s", virGetLastErrorMessage());
	}
	return NULL;
}

/* libvirt prints errors to stderr unless told otherwise; vmpool reports them to its callers. */
static void quiet_error_handler(void *userdata, virErrorPtr error)
{
	(void)userdata;
	(void)error;
}

static void events_init(void)
{
	pthread_attr_t attr;
	pthread_t thread;

	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
		vdi_error("cannot initialise libvirt's event loop");
		abort();
	}
	virSetErrorFunc(NULL, quiet_error_handler);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, event_thread_main, NULL) != 0) {
		vdi_error("cannot start libvirt's event thread");
		abort();
	}
	pthread_attr_destroy(&attr);
}

void pool_events_init_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, events_init);
}

const char *pool_event_type_name(enum pool_event_type type)
{
	static const char *const names[] = {
		[POOL_EVENT_DEFINED] = "defined",
		[POOL_EVENT_UNDEFINED] = "undefined",
		[POOL_EVENT_STARTED] = "started",
		[POOL_EVENT_SUSPENDED] = "suspended",
		[POOL_EVENT_RESUMED] = "resumed",
		[POOL_EVENT_SHUTDOWN] = "shutdown",
		[POOL_EVENT_STOPPED] = "stopped",
		[POOL_EVENT_CRASHED] = "crashed",
		[POOL_EVENT_GRAPHICS_CONNECT] = "graphics-connect",
		[POOL_EVENT_GRAPHICS_INITIALIZE] = "graphics-initialize",
		[POOL_EVENT_GRAPHICS_DISCONNECT] = "graphics-disconnect",
		[POOL_EVENT_HOST_LOST] = "host-lost",
		[POOL_EVENT_HOST_BACK] = "host-back",
	};

	if ((size_t)type >= ELEMENTSOF(names) || !names[type])
		return "unknown";
	return names[type];
}

/* Why a VIR_DOMAIN_EVENT_SUSPENDED event paused the domain. */
static enum pool_pause_reason suspended_reason(int detail)
{
	switch (detail) {
	case VIR_DOMAIN_EVENT_SUSPENDED_IOERROR:
		return POOL_PAUSE_IOERROR;
	case VIR_DOMAIN_EVENT_SUSPENDED_PAUSED:
		return POOL_PAUSE_USER;
	case VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED:
	case VIR_DOMAIN_EVENT_SUSPENDED_RESTORED:
	case VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT:
	case VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY:
		return POOL_PAUSE_LIBVIRT;
	default:
		return POOL_PAUSE_OTHER;
	}
}

static void emit_domain(const struct pool_event_sink *sink, virDomainPtr dom, enum pool_event_type type, int detail,
			enum pool_pause_reason why, const char *client)
{
	const char *name = virDomainGetName(dom);
	char pool[64];
	struct pool_event ev = { .type = type, .domain = name, .pool = pool, .detail = detail, .pause_reason = why,
				 .client = client };

	/* Only vdi's domains: the name says so without a round trip to libvirtd. */
	if (!name || pool_domain_name_parse(name, pool, sizeof(pool), &ev.desktop_id) < 0)
		return;
	sink->deliver(sink->opaque, &ev);
}

static int lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	enum pool_pause_reason why = POOL_PAUSE_NONE;
	enum pool_event_type type;

	(void)conn;
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		type = POOL_EVENT_DEFINED;
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		type = POOL_EVENT_UNDEFINED;
		break;
	case VIR_DOMAIN_EVENT_STARTED:
		type = POOL_EVENT_STARTED;
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		type = POOL_EVENT_SUSPENDED;
		why = suspended_reason(detail);
		break;
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		type = POOL_EVENT_SUSPENDED;
		why = POOL_PAUSE_ASLEEP;
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		type = POOL_EVENT_RESUMED;
		break;
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		type = POOL_EVENT_SHUTDOWN;
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		type = POOL_EVENT_STOPPED;
		break;
	case VIR_DOMAIN_EVENT_CRASHED:
		type = POOL_EVENT_CRASHED;
		break;
	default:
		return 0;
	}
	emit_domain(opaque, dom, type, detail, why, NULL);
	return 0;
}

/* A graphics event's client address, for logs: "ipv4 HOST:PORT", "ipv6 [HOST]:PORT", "unix". */
static void graphics_client(const virDomainEventGraphicsAddress *a, char *buf, size_t len)
{
	if (!a || a->family == VIR_DOMAIN_EVENT_GRAPHICS_ADDRESS_UNIX)
		snprintf(buf, len, "unix");
	else if (a->family == VIR_DOMAIN_EVENT_GRAPHICS_ADDRESS_IPV6)
		snprintf(buf, len, "ipv6 [%s]:%s", a->node ? a->node : "?", a->service ? a->service : "?");
	else
		snprintf(buf, len, "ipv4 %s:%s", a->node ? a->node : "?", a->service ? a->service : "?");
}

static void graphics_cb(virConnectPtr conn, virDomainPtr dom, int phase,
			const virDomainEventGraphicsAddress *local, const virDomainEventGraphicsAddress *remote,
			const char *auth_scheme, const virDomainEventGraphicsSubject *subject, void *opaque)
{
	enum pool_event_type type;
	char client[160];

	(void)conn;
	(void)local;
	(void)auth_scheme;
	(void)subject;
	switch (phase) {
	case VIR_DOMAIN_EVENT_GRAPHICS_CONNECT:
		type = POOL_EVENT_GRAPHICS_CONNECT;
		break;
	case VIR_DOMAIN_EVENT_GRAPHICS_INITIALIZE:
		type = POOL_EVENT_GRAPHICS_INITIALIZE;
		break;
	case VIR_DOMAIN_EVENT_GRAPHICS_DISCONNECT:
		type = POOL_EVENT_GRAPHICS_DISCONNECT;
		break;
	default:
		return;
	}
	graphics_client(remote, client, sizeof(client));
	emit_domain(opaque, dom, type, phase, POOL_PAUSE_NONE, client);
}

/* libvirt's freecb: the registration is gone, its hold on the sink's owner with it. */
static void registration_freed(void *opaque)
{
	const struct pool_event_sink *sink = opaque;

	sink->release(sink->opaque);
}

/* Registers one callback holding its own reference on the sink's owner. */
static int register_one(virConnectPtr conn, const struct pool_event_sink *sink, int event_id,
			virConnectDomainEventGenericCallback cb)
{
	int id;

	sink->hold(sink->opaque);
	id = virConnectDomainEventRegisterAny(conn, NULL, event_id, cb, (void *)sink, registration_freed);
	if (id < 0)
		sink->release(sink->opaque);
	return id;
}

int pool_events_register(virConnectPtr conn, const struct pool_event_sink *sink, int ret_ids[2])
{
	ret_ids[1] = -1;
	ret_ids[0] = register_one(conn, sink, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb));
	if (ret_ids[0] < 0)
		return -EIO;
	/* The test driver has no graphics events; lifecycle events still flow. */
	ret_ids[1] = register_one(conn, sink, VIR_DOMAIN_EVENT_ID_GRAPHICS, VIR_DOMAIN_EVENT_CALLBACK(graphics_cb));
	return 0;
}

void pool_events_deregister(virConnectPtr conn, const int ids[2])
{
	for (int i = 0; i < 2; i++)
		if (ids[i] >= 0)
			(void)virConnectDomainEventDeregisterAny(conn, ids[i]);
}
