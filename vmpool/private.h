/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Internal to vmpool: shared between its files, not part of the API.
 * Each section names the file that owns it.  Calls go one way, no circles:
 *
 *   desktop.c ──▶ data-disk.c ──▶ listing.c ──▶ lookup.c ──▶ host.c ──▶ events.c ──▶ naming.c
 *   desktop.c, data-disk.c, listing.c ──▶ lookup.c, naming.c, domxml-read.c;   desktop.c, listing.c ──▶ host.c
 *   desktop.c, data-disk.c ──▶ domxml.c;   lookup.c ──▶ naming.c;   template.c ──▶ naming.c, domxml.c
 *   base.c ──▶ listing.c, lookup.c, host.c, naming.c, domxml-read.c, template.c;   all ──▶ error.c
 *   domxml-read.c (pure) ──▶ domxml.c (pure) ──▶ clone-devices.c (pure), nic.c (pure), naming.c, xml.c (pure)
 *   domxml-read.c, clone-devices.c ──▶ xml.c;   network.c ──▶ host.c, subnet.c (pure), xml.c
 *   hardware.c (pure) ──▶ domxml.c, xml.c
 *   desktop-net.c ──▶ lookup.c, listing.c, domxml-read.c, nic.c
 *   desktop-def.c ──▶ lookup.c, domxml.c, clone-devices.c
 *   desktop.c ──▶ firmware.c ──▶ host.c, xml.c (pool_domcaps_read, pool_domxml_firmware_state: pure)
 *   desktop.c ──▶ agent.c ──▶ lookup.c, xml.c, desktop-net.c
 *
 * host.c owns struct pool_host and its event handler; events.c registers
 * libvirt's callbacks on a connection it is given and hands what they say
 * to a sink it is given (struct pool_event_sink), never calling back into
 * host.c by name; naming.c is pure.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "cleanup.h"
#include "vmpool.h"

/* ---- libxml2 helpers (xml.c): pure ------------------------------------------------ */

/* libxml2's global set-up, done once before any worker parses or validates (pool_host_new()). */
void pool_xml_init_once(void);

/* Whether n is an element called name (in no namespace). */
bool pool_xml_is_elem(const xmlNode *n, const char *name);

/* parent's first child element called name, or NULL (parent may be NULL). */
xmlNode *pool_xml_child(xmlNode *parent, const char *name);

/* n's attribute name as a new string; NULL when n is NULL, it has none, or no memory. */
char *pool_xml_prop(const xmlNode *n, const char *name);

/* Whether n (borrowed, may be NULL) has attribute name (borrowed) with exactly value (borrowed). */
bool pool_xml_prop_is(const xmlNode *n, const char *name, const char *value);

/* A new child element name appended to parent (borrowed, may be NULL): NULL when parent is NULL or no memory. */
xmlNode *pool_xml_add(xmlNode *parent, const char *name);

/* Sets n's (borrowed, may be NULL) attribute name to value (both borrowed, copied; escaped on output); false
 * when n is NULL or no memory. */
bool pool_xml_set(xmlNode *n, const char *name, const char *value);

/* parent's (borrowed, may be NULL) first child element called name in the namespace href, or NULL. */
xmlNode *pool_xml_ns_child(xmlNode *parent, const char *href, const char *name);

/* Template XML is small; anything bigger than this many bytes is not a domain definition (nor a storage
 * volume's or pool's XML). */
#define POOL_XML_MAX (1024 * 1024)

/* parent's (borrowed, may be NULL) first child element called name, appended when it has none: NULL when
 * parent is NULL or no memory. */
xmlNode *pool_xml_ensure_child(xmlNode *parent, const char *name);

/* Unlinks n (taken) from its document and frees it. */
void pool_xml_remove(xmlNode *n);

/* Unlinks and frees every child element of parent (borrowed, may be NULL) called name. */
void pool_xml_remove_children(xmlNode *parent, const char *name);

/* Parses xml (borrowed), a <domain> of at most POOL_XML_MAX bytes: *ret_doc new, *ret_devices its <devices>
 * (borrowed from *ret_doc; added when it has none).  -EINVAL with a message (err may be NULL), -ENOMEM. */
int pool_xml_parse_domain(const char *xml, xmlDocPtr *ret_doc, xmlNode **ret_devices, struct vdi_error *err);

/* doc (borrowed) as indented UTF-8 text: *ret a new string. */
int pool_xml_dump(xmlDocPtr doc, char **ret);

/* ---- names (naming.c): pure ---------------------------------------------- */

#define POOL_NAME_MAX 32

/* Whether domain is a name pool_domain_name() makes (NULL: no). */
bool pool_domain_name_is_ours(const char *domain);
/* Writes the overlay volume's name of a domain, "<domain>.qcow2", into buf (truncated to len). */
void pool_overlay_name(const char *domain, char *buf, size_t len);
/* Whether a volume's name is one of vdi's overlays ("<domain>.qcow2" whose stem pool_domain_name_is_ours();
 * NULL: no).  A base volume's name never is. */
bool pool_overlay_name_is_ours(const char *volume);
/* Writes the user data disk volume's name of a domain, "<domain>.data.qcow2", into buf (truncated to len). */
void pool_data_disk_name(const char *domain, char *buf, size_t len);
/* Whether a volume's name is one of vdi's data disks ("<domain>.data.qcow2" whose domain is ours; NULL: no).
 * Never an overlay's nor a base's name. */
bool pool_data_disk_name_is_ours(const char *volume);
/* Template names: [A-Za-z0-9_.-]{1,64}, not starting with '.' (NULL: no). */
bool pool_template_name_is_valid(const char *name);

/* ---- events (events.c) ----------------------------------------------------- */

/*
 * Where events.c sends the events of one connection.  Borrowed by the
 * registrations: it must stay where it is until libvirt released the last
 * of them.  Each registration holds the owner (hold(opaque)) and libvirt
 * releases it (release(opaque)) once the callback can no longer run, which
 * may be after deregistration returned.  deliver runs on libvirt's event thread.
 */
struct pool_event_sink {
	void (*deliver)(void *opaque, const struct pool_event *ev);
	void (*hold)(void *opaque);
	void (*release)(void *opaque);
	void *opaque;
};

/* Starts libvirt's event loop thread, once per process; aborts when it cannot. */
void pool_events_init_once(void);
/*
 * Registers lifecycle and graphics callbacks on conn (borrowed) that deliver
 * vdi's domains' events to sink (borrowed, see above); ret_ids receives their
 * ids (-1: none; a driver without graphics events has only the first).
 * Returns 0, or -EIO when not even the lifecycle callback could be registered.
 */
int pool_events_register(virConnectPtr conn, const struct pool_event_sink *sink, int ret_ids[2]);
void pool_events_deregister(virConnectPtr conn, const int ids[2]);

/* ---- hosts (host.c) -------------------------------------------------------- */

struct pool_host {
	/* One reference for the owner, one per libvirt callback registration:
	 * libvirt may still run a callback after deregistration returns. */
	atomic_int refs;
	struct pool_host_options opts; /* strings owned */
	char *spice_dir;
	struct pool_event_sink sink;   /* set once: events.c's view of this host (opaque = the host) */

	pthread_mutex_t lock;          /* guards everything below */
	pthread_cond_t cond;
	virConnectPtr conn;            /* NULL while disconnected */
	bool dead;                     /* close callback fired; conn awaits replacement */
	bool stopping;
	bool connecting;               /* one thread is opening a connection */
	bool ever_connected;
	unsigned reconnects;
	char virt_type[16];
	/* Where desktops of a remote host listen for SPICE: the numeric address of the URI's server
	 * (IPv6 without brackets); empty for a host on this machine (unix sockets). */
	char spice_address[64];
	int cb_ids[2];                 /* event callbacks registered on conn */

	pthread_t monitor;             /* reconnects after libvirtd went away */
	bool monitor_started;

	pthread_mutex_t publish_lock;  /* base.c: held for a base's copy (and its transient source pool: two
					* pools on one directory conflict) */

	pthread_mutex_t event_lock;    /* held while the handler runs */
	void (*event_fn)(struct pool_host *host, const struct pool_event *ev, void *userdata);
	void *event_userdata;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct pool_host *, pool_host_free)

/* Takes a reference to the host's connection, reconnecting when it died.  Release with virConnectClose(). */
int pool_host_conn(struct pool_host *host, virConnectPtr *ret, struct vdi_error *err);

/*
 * From a host's capabilities XML: the domain type to use for wanted ("auto",
 * "kvm", "qemu") and the uid:gid QEMU runs as ((uid_t)-1 when unknown).
 */
int pool_caps_parse(const char *caps, const char *wanted, char *ret_type, size_t type_len, uid_t *ret_uid,
		    gid_t *ret_gid, struct vdi_error *err);

/* ---- lookups (lookup.c) ---------------------------------------------------- */

/* Takes a reference to the host's connection (*ret_conn, new) and looks up one of vdi's domains in it
 * (*ret_dom, new; domain borrowed).  Release both even on failure (NULL when not set). */
int pool_desktop_open(struct pool_host *host, const char *domain, virConnectPtr *ret_conn, virDomainPtr *ret_dom,
		      struct vdi_error *err);
/* The host's storage pool on conn (borrowed): *ret a new reference. */
int pool_storage_pool(struct pool_host *host, virConnectPtr conn, virStoragePoolPtr *ret, struct vdi_error *err);
/* Deletes volume volname (borrowed; what: "overlay", "data disk", for messages) of the host's storage pool on
 * conn (borrowed); gone is fine. */
int pool_volume_delete(struct pool_host *host, virConnectPtr conn, const char *volname, const char *what,
		       struct vdi_error *err);

/* ---- user data disks (data-disk.c) ----------------------------------------- */

/* An empty QCOW2 volume volname (borrowed) of bytes in the host's storage pool on conn (borrowed): a user
 * data disk; *ret a new reference. */
int pool_data_volume_create(struct pool_host *host, virConnectPtr conn, const char *volname, uint64_t bytes,
			    virStorageVolPtr *ret, struct vdi_error *err);
/* Deletes the data disk of domain (borrowed) on conn (borrowed); none is fine. */
int pool_data_disk_delete(struct pool_host *host, virConnectPtr conn, const char *domain, struct vdi_error *err);

/* ---- listing (listing.c) --------------------------------------------------- */

/* Why dom (borrowed) is paused, from its state and state reason (virDomainGetState). */
enum pool_pause_reason pool_pause_reason_of(virDomainPtr dom, int state, int reason);

/* ---- a desktop's network at run time (desktop-net.c) ---------------------------- */

/* The addresses of n interfaces (borrowed) as libvirt reports them: IPv4 and IPv6 strings without
 * prefix, each once, without loopback (127.0.0.0/8, ::1) and IPv6 link-local (fe80::/10) ones.  *ret a
 * new NULL-terminated array of new strings (empty when there are none). */
int pool_addresses_collect(virDomainInterfacePtr *ifaces, size_t n, char ***ret);

/* Whether addr (borrowed) of type (VIR_IP_ADDR_TYPE_IPV4 or _IPV6) is one vdi shows: neither loopback
 * (127.0.0.0/8, ::1) nor IPv6 link-local (fe80::/10), and well formed. */
bool pool_address_is_shown(int type, const char *addr);

/* ---- the guest agent (agent.c) ------------------------------------------------------------ */

#define POOL_AGENT_CHANNEL "org.qemu.guest_agent.0"

enum {
	POOL_AGENT_NONE,         /* the domain has no guest agent channel */
	POOL_AGENT_DISCONNECTED, /* it has one, and no agent in the guest opened it (or libvirt does not say) */
	POOL_AGENT_CONNECTED,    /* an agent in the guest has the port open (libvirt's state='connected') */
};

/* From a domain's live XML (borrowed): one of POOL_AGENT_*; -EINVAL: not a domain.  Pure. */
int pool_domxml_agent_state(const char *xml);
/* The same of dom (borrowed) as libvirt has it now: -EIO (libvirt's error is set) when it cannot say. */
int pool_agent_state(virDomainPtr dom);

/* From virDomainGetGuestInfo()'s n typed parameters (borrowed; hostname, user.*, if.*): *ret (agent true;
 * finish it), users and addresses each once, the addresses as pool_address_is_shown() filters them.  Pure. */
int pool_guest_info_from_params(virTypedParameterPtr params, int n, struct pool_guest_info *ret);

/* Asks the agent of running dom (borrowed; domain its name, for messages) to power the guest off
 * (VIR_DOMAIN_SHUTDOWN_GUEST_AGENT): true when an agent is connected and took the request. */
bool pool_agent_shutdown(virDomainPtr dom, const char *domain);

/* ---- firmware and TPM (firmware.c) ------------------------------------------------------ */

/*
 * From a host's domain capabilities XML (borrowed; virConnectGetDomainCapabilities for x86_64, q35): which
 * of OVMF, OVMF with Secure Boot, swtpm it offers, into *ret (firmware.c's comments say what each is read
 * from).  Pure.  -EINVAL: not a <domainCapabilities>.
 */
int pool_domcaps_read(const char *xml, struct pool_hw_features *ret);

/* Whether the domain XML xml (borrowed) has firmware state of its own that libvirt keeps beside the domain:
 * an NVRAM (<os firmware='efi'>, <loader type='pflash'> or <nvram>) or a TPM (<tpm>).  1, 0, or -EINVAL:
 * not a domain.  Pure. */
int pool_domxml_firmware_state(const char *xml);

/* ---- errors (error.c) ------------------------------------------------------ */

/*
 * Turns libvirt's last error in this thread into an -errno and a message
 * "<what>: <libvirt's message>".  Returns the -errno.
 */
int pool_libvirt_error(struct vdi_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- network attachments (nic.c): pure --------------------------------------- */

/* The one <interface> element (new, unlinked: free it with xmlFreeNode() unless linked into a document)
 * nic (borrowed; not POOL_NIC_TEMPLATE) gives a clone, without a MAC, its model model (borrowed; NULL:
 * "virtio"; else "virtio", "e1000e", "e1000" or "rtl8139").  -EINVAL when nic fails pool_nic_check() or
 * model is none of those. */
int pool_nic_interface_xml(const struct pool_nic *nic, const char *model, xmlNode **ret, struct vdi_error *err);

/* ---- libvirt networks' XML (network.c): pure ------------------------------------ */

/*
 * From a libvirt network's XML (borrowed): info's mode, bridge and subnet (name, active, autostart are
 * left 0; free the strings with pool_network_list_free() or by hand), and up to max of its IPv4 subnets
 * into subnets (may be NULL when max is 0), their number into *ret_n (may be NULL).  -EINVAL: not a
 * network's XML.
 */
int pool_netxml_read(const char *xml, struct pool_network_info *info, struct pool_subnet *subnets, size_t max,
		     size_t *ret_n);

/* The XML pool_network_add() defines: name, mode "nat" | "routed" | "isolated", subnet s (prefix 8..30),
 * gateway the first address, DHCP the rest but the broadcast.  *ret a new string.  -EINVAL, a message. */
int pool_netxml_new(const char *name, const char *mode, const struct pool_subnet *s, char **ret,
		    struct vdi_error *err);

/* ---- domain XML (domxml.c): pure, unit-testable ---------------------------- */

/* Domain XML for a clone. */
struct pool_domxml_params {
	const char *name;
	const char *uuid;
	const char *virt_type;
	const char *disk_path;
	const char *data_disk_path; /* the user data disk (a second virtio disk), or NULL */
	const char *spice_socket;   /* a unix socket, or */
	const char *spice_address;  /* a TCP address (any port libvirt picks) */
	const char *spice_password;
	const char *pool;
	int64_t desktop_id;
	const char *template_name;
	const struct pool_nic *nic; /* NULL or POOL_NIC_TEMPLATE: the template's NICs; else the one NIC (of the
				     * model the template's vdihw:hardware names, see POOL_HARDWARE_NS) */
	int usb_redirect;           /* POOL_USB_REDIRECT_TEMPLATE: the template's <redirdev>s; 0..MAX: that many */
	int heads;                  /* 0, 1: the template's <video>; 2..POOL_HEADS_MAX: that many monitors */
};

/*
 * The domain XML of a clone of template_xml (borrowed) with p (borrowed): *ret a new string.  Besides what p
 * names, every clone gets (each only when the template has none of its kind) the SPICE agent channel, the
 * qemu-guest-agent channel, an ich9 sound device and SPICE audio; its <nvram> keeps only its template
 * attribute (libvirt makes each domain its own); on virt_type "qemu" (TCG) the Hyper-V enlightenments and the
 * hypervclock timer go (QEMU refuses them without KVM).
 */
int pool_domxml_for_clone(const char *template_xml, const struct pool_domxml_params *p, char **ret,
			  struct vdi_error *err);

/*
 * xml (borrowed) with a user data disk on path (borrowed; a data disk's name, "<domain>.data.qcow2") as one
 * more virtio disk after the system disk, on the first free target of vdb..vdz; *ret xml as it was (a copy)
 * when a disk has that source already.  The system disk of a domain is never its data disk: a disk whose
 * source is a data disk's name is skipped wherever vmpool looks for the system disk
 * (pool_domxml_is_system_disk()).
 */
int pool_domxml_add_data_disk(const char *xml, const char *path, char **ret, struct vdi_error *err);

/* Checks that xml is a <domain> with at most one system disk and at most one TPM, an emulated one (a
 * passthrough TPM would be shared by every desktop); optionally sets memory and vcpus. */
int pool_domxml_check_template(const char *xml, unsigned memory_mib, unsigned vcpus, char **ret,
			       struct vdi_error *err);

/* A default desktop's domain XML. */
int pool_domxml_default(unsigned memory_mib, unsigned vcpus, char **ret, struct vdi_error *err);

/*
 * A domain XML (borrowed) whose <interface> elements are replaced by the one nic (borrowed; not
 * POOL_NIC_TEMPLATE) makes, keeping the first one's MAC address (a fresh one when it had none): a new
 * string.  -EINVAL: not a domain, or a nic that pool_nic_check() refuses.
 */
int pool_domxml_set_nic(const char *xml, const struct pool_nic *nic, char **ret, struct vdi_error *err);

/* Whether n (borrowed, may be NULL) is a system disk: a <disk> device (device 'disk' or none) whose source
 * is not a data disk's name (pool_data_disk_name_is_ours()). */
bool pool_domxml_is_system_disk(xmlNode *n);

/* ---- devices every clone gets (clone-devices.c): pure ------------------------------ */

/*
 * Gives the clone's domain root (borrowed) and its devices (borrowed) what pool_domxml_for_clone() says every
 * clone gets, in this order: p's (borrowed) usb_redirect USB channels, the SPICE and guest agent channels,
 * sound and SPICE audio, p's heads monitors, the <nvram> template only, and on virt_type "qemu" no Hyper-V.
 * -EINVAL, -ENOMEM.
 */
int pool_clone_devices(xmlNode *root, xmlNode *devices, const struct pool_domxml_params *p,
		       struct vdi_error *err);

/* A domain XML (borrowed) with exactly n USB redirection channels (0..POOL_USB_REDIRECT_MAX; the clone's rules:
 * a USB controller added when there is none, none at all when its controller is model 'none'): a new string. */
int pool_domxml_set_usb_redirect(const char *xml, int n, char **ret, struct vdi_error *err);

/* ---- readers of libvirt's XML (domxml-read.c): pure ------------------------------- */

/* Finds the SPICE <graphics> of a live domain XML and returns it with passwd/passwdValidTo set. */
int pool_domxml_spice_ticket(const char *live_xml, const char *password, const char *valid_to, char **ret,
			     struct vdi_error *err);

/* The TCP port of the SPICE <graphics> of a live domain XML (-ENOENT: none, or not on TCP). */
int pool_domxml_spice_port(const char *live_xml, unsigned *ret);

/* From a domain XML: our metadata's pool/id/template and the system disk's path. */
int pool_domxml_read_desktop(const char *xml, struct pool_desktop_info *info);

/* From a domain XML (borrowed): the MAC addresses of its <interface> elements, a new NULL-terminated array
 * of new strings (empty when none).  -EINVAL when the XML is not a domain. */
int pool_domxml_interface_macs(const char *xml, char ***ret);

/*
 * From a domain XML (borrowed): the paths its disks name, as <source file=...> or <source dev=...> of a
 * <disk> or of any <backingStore> nested in one.  *ret: a new NULL-terminated array of new strings (free
 * with pool_strv_free()), empty when there are none.  -EINVAL when the XML is not a domain.
 */
int pool_domxml_disk_paths(const char *xml, char ***ret);

/* From a storage volume's XML (borrowed): its backing file's path (<backingStore><path>), a new string.
 * -ENOENT: none; -EINVAL: not a volume's XML. */
int pool_volxml_backing_path(const char *xml, char **ret);

/* From a storage pool's XML (borrowed): its target directory (<target><path>), a new string.
 * -ENOENT: none; -EINVAL: not a pool's XML. */
int pool_poolxml_target_path(const char *xml, char **ret);

/* ---- cleanup helpers for libxml2 and libvirt objects ---------------------- */

static inline void xmlFreeDocp(xmlDocPtr *d)
{
	if (*d)
		xmlFreeDoc(*d);
}
#define _cleanup_xmldoc_ _cleanup_(xmlFreeDocp)

static inline void xmlXPathFreeContextp(xmlXPathContextPtr *p)
{
	if (*p)
		xmlXPathFreeContext(*p);
}

static inline void xmlXPathFreeObjectp(xmlXPathObjectPtr *p)
{
	if (*p)
		xmlXPathFreeObject(*p);
}

static inline void virConnectClosep(virConnectPtr *c)
{
	if (*c)
		virConnectClose(*c);
}
#define _cleanup_conn_ _cleanup_(virConnectClosep)

static inline void virDomainFreep(virDomainPtr *d)
{
	if (*d)
		virDomainFree(*d);
}
#define _cleanup_domain_ _cleanup_(virDomainFreep)

static inline void virStoragePoolFreep(virStoragePoolPtr *p)
{
	if (*p)
		virStoragePoolFree(*p);
}
#define _cleanup_spool_ _cleanup_(virStoragePoolFreep)

static inline void virStorageVolFreep(virStorageVolPtr *v)
{
	if (*v)
		virStorageVolFree(*v);
}
#define _cleanup_vol_ _cleanup_(virStorageVolFreep)
