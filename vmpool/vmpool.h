/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vmpool: the only code in vdi that talks to libvirt.
 *
 * A pool_host is one libvirt connection (qemu:///system, qemu+ssh://...,
 * test:///default) that reconnects by itself after libvirtd restarts.  A
 * pool_template is a base QCOW2 volume plus a domain XML.  A desktop is a
 * QCOW2 overlay whose backing file is the template volume, created in the
 * host's storage pool, plus a domain named vdi-<pool>-<id> whose <metadata>
 * names its pool, id and template.
 *
 * Calls block on libvirt: callers with an event loop run them on worker
 * threads.  All functions are thread-safe for a given host.  They return
 * >= 0 on success and -errno on failure.  Functions never leave anything
 * half-created: a failed clone leaves neither overlay nor domain behind.
 *
 * Error messages (vdi's one convention, common/error.h; no global error
 * state): a function that can fail for a reason worth telling takes a struct
 * vdi_error *err as its last parameter, owned by the caller, which may be
 * NULL.  On failure it receives one line that names the object and the
 * reason (libvirt's, when libvirt said no), never a secret; on success its
 * content means nothing (a call that got past a failure on the way, such as
 * a host created with connect_later, may have written one).  Running out of
 * memory returns -ENOMEM without a message, so a caller starts from an empty
 * message ({0}) and, when it is still empty, tells strerror(-r).  The few
 * calls without err (the names, pool_desktop_spice_target) tell only -errno.
 *
 * Who owns what inside (vmpool/private.h has the map): host.c the
 * connection, its reconnects and the event handler; events.c libvirt's event
 * loop thread and the callbacks that turn libvirt's events into struct
 * pool_event; naming.c the names below; template.c templates and image
 * probes; base.c templates' base volumes; desktop.c and domxml.c desktops
 * (domxml.c the domain XML vdi writes); clone-devices.c the devices every
 * clone gets and its USB channels; domxml-read.c what vmpool reads from
 * libvirt's domain, volume and pool XML; data-disk.c their user data disks;
 * listing.c the lists of desktops and volumes; lookup.c finding a desktop or
 * volume by name; nic.c a desktop's network attachment and its <interface>;
 * subnet.c IPv4 subnets; network.c the host's libvirt networks;
 * desktop-net.c a running desktop's bandwidth limit and addresses;
 * agent.c its guest agent (shutdown through it, what it tells of the guest);
 * desktop-def.c a stopped desktop's NIC and USB channels as its pool says
 * them; xml.c the libxml2 steps shared by the XML files (parsing and writing
 * a domain among them); error.c the messages.
 *
 * Error codes used throughout:
 *   -EINVAL   bad argument, corrupt template disk, bad template XML
 *   -ENOENT   no such template file, domain or volume
 *   -EEXIST   a domain, overlay or base volume of that name exists already
 *   -EBUSY    a base volume is still used by a domain
 *   -ENOSPC   the storage pool has no room
 *   -EACCES, -EPERM, -EROFS   the storage pool refuses writes
 *   -ENOTCONN libvirtd does not answer (the host reconnects in the background)
 *   -EIO      another libvirt failure; the message says which
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* The XML namespace of the <metadata> element on vdi's domains. */
#define POOL_METADATA_NS "https://vdi.invalid/xmlns/desktop/1"
#define POOL_METADATA_PREFIX "vdi"

/*
 * What a template's generated XML records of its OS for its clones, in its own namespace (libvirt keeps one
 * <metadata> element per namespace, and vdi:desktop is the other): <vdihw:hardware os='win11'
 * nic-model='e1000e'/>.  Clones keep it; the NIC a pool's network setting attaches to a clone (at creation and
 * by pool_desktop_set_nic()) is of that model ("virtio", "e1000e", "e1000" or "rtl8139"; virtio when the
 * domain has no such element, as for hand-written templates, which may carry one).
 */
#define POOL_HARDWARE_NS "https://vdi.invalid/xmlns/hardware/1"
#define POOL_HARDWARE_PREFIX "vdihw"

/* Longest SPICE password QEMU accepts through libvirt. */
#define POOL_TICKET_MAX 60

/* ---- hosts --------------------------------------------------------------- */

struct pool_host;

struct pool_host_options {
	const char *uri;          /* libvirt URI, e.g. "qemu:///system" (borrowed) */
	const char *storage_pool; /* storage pool for overlays, created as a dir pool if missing */
	const char *storage_path; /* directory of that pool when vmpool creates it */
	const char *runtime_dir;  /* SPICE sockets live in <runtime_dir>/spice/ */
	const char *virt_type;    /* "auto" or NULL: kvm when the host offers it, else qemu; or "kvm", "qemu" */
	bool connect_later;       /* a host that does not answer yet is not an error: it connects in the
				   * background and announces itself with POOL_EVENT_HOST_BACK */
};

/*
 * Creates a host and connects to it: opens the connection, makes sure the
 * storage pool exists and is active, and detects the domain type.  Starts
 * libvirt's event loop thread on first use in the process.  With
 * opts->connect_later, a host that cannot be reached yet is returned all
 * the same (not alive, virt type "" until it connects).
 * opts is copied.  *ret is a new object: free it with pool_host_free().
 */
int pool_host_new(const struct pool_host_options *opts, struct pool_host **ret, struct vdi_error *err);

/* Disconnects and frees; accepts NULL; returns NULL. */
struct pool_host *pool_host_free(struct pool_host *host);

/* "kvm", "qemu" or (test driver) "test". Borrowed from host. */
const char *pool_host_virt_type(const struct pool_host *host);
const char *pool_host_uri(const struct pool_host *host);

/* True while the connection is open; after libvirtd went away the host
 * reconnects in the background, and the next call reconnects at once. */
bool pool_host_is_alive(struct pool_host *host);

/* How many times the host has reconnected since it was created. */
unsigned pool_host_reconnects(struct pool_host *host);

/* The host's free memory in bytes (virNodeGetFreeMemory).  Blocks on libvirt. */
int pool_host_free_memory(struct pool_host *host, uint64_t *ret, struct vdi_error *err);

/*
 * Whether the host can read path (a template's disk): through a volume of
 * one of its storage pools, or, for a host on this machine (a URI without a
 * server part), as a readable local file.  Returns 1, 0, or -errno when the
 * host cannot be asked.  Blocks on libvirt.
 */
int pool_host_has_file(struct pool_host *host, const char *path, struct vdi_error *err);

/* ---- events -------------------------------------------------------------- */

enum pool_event_type {
	POOL_EVENT_DEFINED,
	POOL_EVENT_UNDEFINED,
	POOL_EVENT_STARTED,
	POOL_EVENT_SUSPENDED,
	POOL_EVENT_RESUMED,
	POOL_EVENT_SHUTDOWN,  /* the guest began shutting down */
	POOL_EVENT_STOPPED,   /* the domain is no longer running (shut off, destroyed, failed) */
	POOL_EVENT_CRASHED,
	POOL_EVENT_GRAPHICS_CONNECT,
	POOL_EVENT_GRAPHICS_INITIALIZE, /* a SPICE client authenticated */
	POOL_EVENT_GRAPHICS_DISCONNECT,
	POOL_EVENT_HOST_LOST, /* the libvirt connection closed */
	POOL_EVENT_HOST_BACK, /* reconnected */
};

const char *pool_event_type_name(enum pool_event_type type);

/* Why a domain is paused (what libvirt's state reason or event detail says). */
enum pool_pause_reason {
	POOL_PAUSE_NONE,    /* not paused */
	POOL_PAUSE_NOSPACE, /* QEMU stopped it on a disk write that found no space (werror=enospc, QEMU's default) */
	POOL_PAUSE_IOERROR, /* QEMU stopped it on another disk error (or libvirt cannot say which) */
	POOL_PAUSE_USER,    /* someone paused it through libvirt (virsh suspend) */
	POOL_PAUSE_LIBVIRT, /* libvirt paused it for an operation of its own, which resumes it: start-up,
			     * migration, save, dump, snapshot */
	POOL_PAUSE_OTHER,   /* watchdog, guest panic, a failed operation, unknown */
	POOL_PAUSE_ASLEEP,  /* the guest suspended itself to RAM (S3, libvirt's PMSUSPENDED): its choice, not a
			     * fault; a SPICE client's input wakes it */
};

const char *pool_pause_reason_name(enum pool_pause_reason r);

struct pool_event {
	enum pool_event_type type;
	const char *domain; /* NULL for host events */
	const char *pool;   /* parsed from the domain name */
	int64_t desktop_id;
	int detail;         /* libvirt's event detail, for logs */
	enum pool_pause_reason pause_reason; /* POOL_EVENT_SUSPENDED: why (NOSPACE is never told here: IOERROR) */
	/* Graphics events, one per SPICE channel connection (a client opens several: main, display, inputs,
	 * ...): the client's address ("ipv4 127.0.0.1:40210", "unix" on a unix socket), for logs; NULL otherwise. */
	const char *client;
};

/*
 * Delivers lifecycle and graphics events of vdi's domains (those named
 * vdi-<pool>-<id>, as pool_domain_name() makes them) and host connection
 * events to fn, on every connection the host opens, reconnects included.
 * fn is called on libvirt's event thread (POOL_EVENT_HOST_BACK: on the
 * thread that reconnected), one call at a time: it must not block for long.
 * The event and its strings are borrowed for the duration of the call.
 * fn = NULL stops delivery; after this returns, fn is no longer running and
 * will not be called again.
 */
void pool_host_set_event_handler(struct pool_host *host,
				 void (*fn)(struct pool_host *host, const struct pool_event *ev, void *userdata),
				 void *userdata);

/* ---- IPv4 subnets (subnet.c): pure ------------------------------------------ */

struct pool_subnet {
	uint32_t network; /* the network address, host byte order */
	unsigned prefix;  /* 0..32 */
};

/*
 * Parses "a.b.c.d/prefix" (borrowed; dotted decimal, prefix 0..32, no host bits set) into *ret.
 * -EINVAL and a message naming what is wrong otherwise.
 */
int pool_subnet_parse(const char *cidr, struct pool_subnet *ret, struct vdi_error *err);

/* From an address and a netmask or prefix as a libvirt network's <ip> gives them (borrowed, either of
 * mask and prefix may be NULL; neither: a classful prefix as libvirt takes it): the subnet the address
 * is in.  -EINVAL: not IPv4, or a netmask that is not contiguous. */
int pool_subnet_from_ip(const char *address, const char *netmask, const char *prefix, struct pool_subnet *ret);

/* Writes "a.b.c.d/prefix" into buf (at least 19 bytes: -ENAMETOOLONG otherwise). */
int pool_subnet_format(const struct pool_subnet *s, char *buf, size_t len);

/* Whether a and b share an address. */
bool pool_subnet_overlaps(const struct pool_subnet *a, const struct pool_subnet *b);

/* Address i of s (0: the network address), host byte order, as "a.b.c.d" into buf (16 bytes). */
void pool_subnet_address(const struct pool_subnet *s, uint32_t i, char buf[16]);

/* ---- libvirt networks (network.c) ---------------------------------------------- */

struct pool_network_info {
	char *name;
	char *mode;   /* <forward mode>: "nat", "route", "open", "bridge", ...; "isolated" without <forward> */
	bool active;
	bool autostart;
	char *bridge; /* the bridge device (<bridge name>), or NULL */
	char *subnet; /* the first IPv4 <ip> as "a.b.c.d/prefix", or NULL */
};

/* The host's libvirt networks: *ret a new array of *ret_n entries; free it with pool_network_list_free(). */
int pool_network_list(struct pool_host *host, struct pool_network_info **ret, size_t *ret_n,
		      struct vdi_error *err);
void pool_network_list_free(struct pool_network_info *list, size_t n);

/*
 * Defines, starts and autostarts libvirt network name (see pool_network_name_is_valid()) on host:
 * mode "nat", "routed" (forward mode route) or "isolated" (no forward), on subnet (an IPv4 CIDR with
 * no host bits, prefix 8..30) with the first address as the host's gateway and a DHCP range of the
 * rest (but the broadcast address); libvirt picks the bridge device.  All arguments borrowed.
 * -EINVAL: a bad argument, or subnet overlaps one of the host's libvirt networks (the message names
 * it); -EEXIST: a network of that name exists.  On failure nothing is left defined.  Blocks on libvirt.
 */
int pool_network_add(struct pool_host *host, const char *name, const char *mode, const char *subnet,
		     struct vdi_error *err);

/* Stops (if active) and undefines libvirt network name.  -ENOENT when there is none.  Blocks on libvirt. */
int pool_network_remove(struct pool_host *host, const char *name, struct vdi_error *err);

/* How many NICs of running domains are attached to libvirt network name now (its ports; 0 when it is not
 * active, or when the host's driver has no ports to tell).  -ENOENT: no such network.  Blocks on libvirt. */
int pool_network_ports(struct pool_host *host, const char *name, struct vdi_error *err);

/* Whether the host has libvirt network name defined AND active: 1, 0 (also for an invalid name), or
 * -errno when the host cannot be asked.  Blocks on libvirt. */
int pool_host_has_network(struct pool_host *host, const char *name, struct vdi_error *err);

/* ---- OS profiles (osinfo.c): osinfo-db through libosinfo --------------------------- */

#define POOL_OS_ID_MAX 64

/* What osinfo-db recommends for an OS, as vdi's domain XML uses it (devices, drivers and resources inherited
 * along osinfo-db's derives-from). */
struct pool_os_profile {
	char id[POOL_OS_ID_MAX + 1]; /* osinfo-db's first short id, "win11" (also when asked by an alias) */
	char name[128];              /* "Microsoft Windows 11" */
	bool windows;                /* family winnt: Hyper-V enlightenments, a local-time clock */
	bool uefi_required;          /* x86_64 BIOS not supported (and UEFI listed) */
	bool uefi_supported;         /* UEFI listed (or required) */
	const char *disk_bus;        /* static: "virtio" when the OS has virtio-blk, natively or through the drivers
				      * osinfo-db lists for it; else "sata" */
	const char *nic_model;       /* static: "virtio" likewise; else "e1000e", "e1000", "rtl8139"; "e1000" when
				      * osinfo-db names no NIC for it */
	const char *video;           /* static: "virtio" (virtio-gpu) when native; else "qxl" (native or by drivers);
				      * else "vga" */
	const char *sound;           /* static: "ich9", "ich6", "ac97"; NULL: none the OS knows */
	unsigned min_memory_mib, min_vcpus; /* x86_64 (else "all") minimum resources; 0 unknown */
	unsigned rec_memory_mib, rec_vcpus; /* x86_64 (else "all") recommended, never below the minimum; 0 unknown */
};

/*
 * The profile of osinfo-db's OS id (borrowed; a short id such as "win11", any case) into *ret.  Loads osinfo-db
 * once per process (thread-safe; the first call blocks about half a second for the load, later ones a few ms:
 * call it on a worker, never on an event loop).  -ENOENT and a message naming up to 5 close matches ("unknown
 * OS 'debian12' (close matches: debian11, debian10, debiantesting, debian9, debian8)"), or "(vdictl os list
 * shows them)" when none is close; -EINVAL a malformed id (empty, over 64, not [A-Za-z0-9._-]); -EIO osinfo-db
 * could not be loaded.
 */
int pool_os_profile_get(const char *id, struct pool_os_profile *ret, struct vdi_error *err);

struct pool_os_entry {
	char *id, *name, *version, *family;
};

/* osinfo-db's OSes whose short id or name contains filter (borrowed; case-insensitive; NULL or "": all), sorted
 * by id: *ret a new array of *ret_n entries (free with pool_os_list_free()). */
int pool_os_list(const char *filter, struct pool_os_entry **ret, size_t *ret_n, struct vdi_error *err);
void pool_os_list_free(struct pool_os_entry *list, size_t n);

/* ---- desktop hardware (hardware.c): pure ------------------------------------------------ */

enum pool_firmware {
	POOL_FIRMWARE_AUTO, /* UEFI when the OS requires it, else BIOS */
	POOL_FIRMWARE_BIOS, /* SeaBIOS */
	POOL_FIRMWARE_UEFI, /* OVMF */
};

/* "auto", "bios", "uefi" (static). */
const char *pool_firmware_name(enum pool_firmware f);
/* "bios" or "uefi" (borrowed) into *ret; -EINVAL otherwise. */
int pool_firmware_parse(const char *s, enum pool_firmware *ret);

/* What a template's generated domain XML is made from. */
struct pool_hardware {
	const struct pool_os_profile *os; /* borrowed; NULL: vdi's generic desktop (virtio disk and NIC, qxl, ich9) */
	enum pool_firmware firmware;
	int secure_boot;                  /* -1: on when the OS requires UEFI; 0 off; 1 on (UEFI only) */
	int tpm;                          /* -1: on when the OS requires UEFI; 0 off; 1 a TPM 2.0 (swtpm) */
	unsigned memory_mib, vcpus;       /* 0: the OS's recommended, else its minimum, else 2048 MiB / 2 */
};

/*
 * in (borrowed) with every AUTO, -1 and 0 decided, into *out (out->os = in->os).  -EINVAL and a message that
 * starts with the field's name ("secure_boot: ...", "firmware: ...", "memory_mib: ...", "vcpus: ..."): Secure
 * Boot without UEFI, BIOS for an OS that requires UEFI, memory or vCPUs below the OS's minimum (named).
 */
int pool_hardware_resolve(const struct pool_hardware *in, struct pool_hardware *out, struct vdi_error *err);

/*
 * A template's domain XML for hw (borrowed; resolved here first): *ret a new string that passes
 * pool_domxml_check_template().  q35; the OS's disk bus (virtio vda or sata sda), video and sound; UEFI through
 * libvirt's firmware autoselection (<os firmware='efi'> with the secure-boot and enrolled-keys features on and
 * SMM on for Secure Boot, both off without) or SeaBIOS (no firmware attribute); a TPM 2.0 (tpm-crb, emulator)
 * when hw->tpm; for Windows the Hyper-V enlightenments, a local-time clock and hypervclock, else UTC; rtc
 * catchup, pit delay, no hpet; a pty serial console, a USB tablet, the SPICE agent and qemu-guest-agent
 * channels, SPICE audio, a SPICE display on 127.0.0.1 (so that the XML can be defined as it is to install the
 * OS; clones get their own), memballoon virtio.  No NIC: a pool's network setting attaches one to each clone,
 * of the OS's model, which the XML records in its vdihw:hardware element (POOL_HARDWARE_NS).
 */
int pool_domxml_for_hardware(const struct pool_hardware *hw, char **ret, struct vdi_error *err);

/* What a domain asks of its host, or what a host offers. */
struct pool_hw_features {
	bool uefi;        /* OVMF */
	bool secure_boot; /* OVMF with Secure Boot and enrolled keys */
	bool tpm;         /* swtpm */
};

/* What the domain XML xml (borrowed) needs of a host into *ret.  -EINVAL: not a domain. */
int pool_domxml_needs(const char *xml, struct pool_hw_features *ret);

/*
 * Which of them host offers, from its domain capabilities (x86_64, q35, its virt type) into *ret: uefi when
 * libvirt can autoselect an EFI firmware or lists an OVMF loader; secure_boot when it also lists a Secure
 * Boot loader (libvirt 9.0 does not show whether its keys are enrolled: Debian's ovmf ships them together);
 * tpm when it offers the swtpm emulator backend, TPM 2.0.  -EOPNOTSUPP for a driver without domain
 * capabilities (test:///); -ENOTCONN, -EIO.  Blocks on libvirt.
 */
int pool_host_hardware(struct pool_host *host, struct pool_hw_features *ret, struct vdi_error *err);

/* ---- monitors (clone-devices.c): pure -------------------------------------------------- */

/* The most monitors (heads) a desktop's video device gets: pool_desktop_options.heads. */
#define POOL_HEADS_MAX 4

/*
 * Whether a desktop of the domain XML xml (borrowed) can have heads monitors (1..POOL_HEADS_MAX): one always;
 * more when its first <video> is a qxl or virtio model (the clone's video gets heads='N' then: more than one
 * on any other model, or none, could not be shown).  0, or -EINVAL with a message starting "heads: ".
 */
int pool_domxml_heads_check(const char *xml, int heads, struct vdi_error *err);

/* ---- templates ----------------------------------------------------------- */

struct pool_template {
	char *name;
	char *disk_path;   /* absolute path of the base QCOW2 volume */
	uint64_t capacity; /* virtual size in bytes, from the QCOW2 header */
	char *xml;         /* domain XML clones are made from */
	bool validated;    /* internal: the first clone's definition passed libvirt's schema check */
};

struct pool_template_options {
	const char *name;      /* [A-Za-z0-9_.-], 1..64 */
	const char *disk_path; /* base QCOW2 volume; must exist and be QCOW2 */
	const char *xml;       /* domain XML, or NULL for a default desktop */
	unsigned memory_mib;   /* 0: from the XML, or 2048 for the default */
	unsigned vcpus;        /* 0: from the XML, or 2 for the default */
};

/*
 * Checks the disk (exists, readable, a sane QCOW2 header) and the XML
 * (well-formed <domain> with at most one disk), applies memory/vcpus, and
 * returns a new template in *ret.  Local files only: the template's disk
 * must be reachable at the same path on the host.
 *
 * A template does not change after this (but for its validated flag, which
 * vmpool reads and sets atomically), so threads may clone from one template
 * at once.  pool_desktop_create() asks libvirt to validate the definition
 * until one clone of this object has passed: keep one object per template
 * rather than making one per clone.
 */
int pool_template_new(const struct pool_template_options *opts, struct pool_template **ret,
		      struct vdi_error *err);
struct pool_template *pool_template_free(struct pool_template *t);

/* Reads a QCOW2 header: returns 0 and the virtual size, or -EINVAL (not QCOW2, corrupt), -errno. */
int pool_qcow2_probe(const char *path, uint64_t *ret_virtual_size, struct vdi_error *err);

/*
 * A source image (a local file: its header is read here): a readable regular file that is QCOW2
 * (sane header, any backing chain) or raw (any other regular file, size > 0, a multiple of 512).
 * *ret_format: "qcow2" or "raw" (static); *ret_virtual_size: bytes.  -EINVAL and a message otherwise
 * (missing, unreadable, not a regular file, corrupt or encrypted QCOW2, a size that is no disk's).
 * path: borrowed, absolute.
 */
int pool_image_probe(const char *path, const char **ret_format, uint64_t *ret_virtual_size, struct vdi_error *err);

/* ---- base volumes (template versions) -------------------------------------- */

/*
 * A version of a template that vdi makes (publish) is a base volume in the host's storage pool named
 * "vdi-template-<template>-v<version>.qcow2": QCOW2, flattened (no backing file), mode 0444.  Overlay
 * names never parse as base names and base names never as overlays (pool_overlay_list() skips them).
 */

/* Writes template_name's version's base volume name into buf.  -EINVAL: bad template name (see
 * pool_template_options) or version < 1; -ENAMETOOLONG: buf too small. */
int pool_base_name(const char *template_name, int64_t version, char *buf, size_t len);

/* Parses a volume name pool_base_name() makes into the template name (ret_template, len bytes) and the
 * version.  -EINVAL: not a base name (or ret_template too small). */
int pool_base_name_parse(const char *volume, char *ret_template, size_t len, int64_t *ret_version);

/*
 * Whether a domain on host (any domain, vdi's or not, running or not) has path (borrowed) as a disk
 * source or in a disk's backing chain: as its domain XML shows it (the inactive definition, and the
 * live one of a running domain), and, for a disk that is a volume of one of the host's storage pools,
 * as the volumes' XML shows their backing files (a stopped desktop's overlay names its base only
 * there).  Returns 1 and the domain's name in ret_domain (len bytes), or 0 when none.  Blocks on
 * libvirt.
 */
int pool_host_path_user(struct pool_host *host, const char *path, char *ret_domain, size_t len,
			struct vdi_error *err);

/*
 * Makes template_name/version's base volume in host's storage pool: a flattened QCOW2 copy of source
 * (borrowed; QCOW2 with any backing chain, or raw, checked with pool_image_probe()) through libvirt's
 * virStorageVolCreateXMLFrom.  A source outside every active storage pool of the host is reached
 * through a transient dir pool on its directory (named vdi-publish-<random>), destroyed afterwards.
 * Mode 0444.  Blocks for the copy (one copy at a time per host object; others wait).
 * *ret_path: new string, the base's path.  -EINVAL bad name or source; -EEXIST when that volume
 * exists; -ENOSPC and the others of the list above.  On failure nothing is left behind.
 */
int pool_base_create(struct pool_host *host, const char *template_name, int64_t version, const char *source,
		     char **ret_path, struct vdi_error *err);

/*
 * Deletes a base volume by path (borrowed; it must lie in host's storage pool and have a base name,
 * else -EINVAL).  Gone already is not an error.  -EBUSY (the message names the domain) when a domain
 * still uses it (pool_host_path_user()).
 */
int pool_base_delete(struct pool_host *host, const char *path, struct vdi_error *err);

/*
 * Removes the transient storage pools a publish of another process left (pool_base_create() makes
 * one on a source's directory and removes it after the copy; a process killed meanwhile leaves it
 * in libvirtd).  Call it when no other process publishes on host (at a broker's start).  0, or
 * -errno when one could not be removed yet (libvirtd may still be copying from it).
 */
int pool_base_sources_clean(struct pool_host *host, struct vdi_error *err);

/* The paths of the base volumes (base names) in host's storage pool, refreshed first: *ret is a new
 * NULL-terminated array of new strings; free it with pool_strv_free(). */
int pool_base_list(struct pool_host *host, char ***ret, struct vdi_error *err);

/* ---- desktops ------------------------------------------------------------ */

/* Pool names are [A-Za-z0-9_], 1..32 characters (no '-', so names parse back). */
bool pool_name_is_valid(const char *pool);

/* Writes "vdi-<pool>-<id>" into buf. Returns 0 or -EINVAL / -ENAMETOOLONG. */
int pool_domain_name(const char *pool, int64_t desktop_id, char *buf, size_t len);

/* Parses a domain name made by pool_domain_name(). Returns 0, or -EINVAL when it is not one of ours. */
int pool_domain_name_parse(const char *name, char *ret_pool, size_t pool_len, int64_t *ret_id);

/*
 * Creates desktop <pool>/<desktop_id> from template t: the overlay volume
 * "<domain>.qcow2" in the host's storage pool, backed by t->disk_path, and a
 * persistent domain defined from t->xml with a fresh name, UUID, MACs,
 * SPICE on <runtime_dir>/spice/<domain>.sock protected by a random ticket
 * nobody knows, and the vdi <metadata>.  The domain is not started.
 * On failure nothing is left behind.
 */
int pool_desktop_create(struct pool_host *host, const struct pool_template *t, const char *pool,
			int64_t desktop_id, struct vdi_error *err);

/* ---- network attachments (nic.c): pure ------------------------------------ */

/* How a desktop is attached to a network: the pool setting `network`. */
enum pool_nic_kind {
	POOL_NIC_TEMPLATE, /* the template's own <interface> elements, as they are */
	POOL_NIC_USER,     /* "user": QEMU user mode */
	POOL_NIC_NETWORK,  /* "network:NAME": a libvirt network of any mode */
	POOL_NIC_BRIDGE,   /* "bridge:IFACE": an existing Linux bridge on the host */
	POOL_NIC_OVS,      /* "ovs:BRIDGE[:VLAN]": an Open vSwitch bridge, optionally a VLAN tag */
};

/* Longest libvirt network name vdi takes; host interface names are 1..15 (Linux's IFNAMSIZ - 1). */
#define POOL_NETWORK_NAME_MAX 64
#define POOL_IFACE_NAME_MAX 15

struct pool_nic {
	enum pool_nic_kind kind;
	char name[POOL_NETWORK_NAME_MAX + 1]; /* NETWORK: the libvirt network; BRIDGE, OVS: the host bridge */
	unsigned vlan;                        /* OVS only: 1..4094; 0 none */
	bool isolated;                        /* <port isolated='yes'/> and nwfilter clean-traffic (MAC and
					       * DHCP-learned IP bound): NETWORK and BRIDGE only (libvirt has no
					       * port isolation for Open vSwitch or user mode) */
	uint32_t bandwidth_kbps;              /* inbound and outbound average, kilobits/s (inbound also its
					       * peak: Open vSwitch limits by that); 0 none; not in user
					       * mode (libvirt ignores it there) */
};

/* Libvirt network names vdi takes: [A-Za-z0-9_.-]{1,64}, not starting with '.' (NULL: no). */
bool pool_network_name_is_valid(const char *name);
/* Host interface (bridge) names vdi takes: [A-Za-z0-9_.-]{1,15}, not starting with '.' (NULL: no). */
bool pool_iface_name_is_valid(const char *name);

/*
 * Parses a `network` value (borrowed): "network:NAME", "bridge:IFACE", "ovs:BRIDGE[:VLAN]" or "user"
 * into *ret (isolated false, bandwidth 0).  -EINVAL with a message naming what is wrong: an unknown
 * kind, an empty or malformed name, a VLAN that is not an integer in 1..4094, a VLAN on anything but ovs.
 */
int pool_nic_parse(const char *value, struct pool_nic *ret, struct vdi_error *err);

/* Writes nic's `network` value (as pool_nic_parse() takes it; "" for POOL_NIC_TEMPLATE) into buf.
 * -EINVAL: nic does not pass pool_nic_check(); -ENAMETOOLONG: buf too small. */
int pool_nic_format(const struct pool_nic *nic, char *buf, size_t len);

/* Whether nic (borrowed) is whole and consistent: the name its kind needs (none for TEMPLATE and USER),
 * a VLAN on OVS only, isolation on NETWORK and BRIDGE only, bandwidth not in user mode, and neither
 * isolation nor bandwidth on the template's own NICs (vmpool leaves those as they are).  0 or -EINVAL. */
int pool_nic_check(const struct pool_nic *nic, struct vdi_error *err);

/* Whether desktops on kind can be isolated from each other (NETWORK, BRIDGE). */
bool pool_nic_can_isolate(enum pool_nic_kind kind);

/* kbps (kilobits/s) as libvirt's <bandwidth> counts it, KiB/s: ceil(kbps * 1000 / 8 / 1024), at least 1
 * for kbps > 0; 0 for 0. */
uint64_t pool_bandwidth_kib(uint32_t kbps);

/* What a desktop gets besides its overlay. */
struct pool_desktop_options {
	/* > 0: a user data disk of that virtual size (bytes): an empty QCOW2 volume
	 * "<domain>.data.qcow2" (no backing file, mode 0600) in the host's storage pool, attached as one
	 * more virtio disk (vdb, or the first free vdX).  pool_desktop_reset() keeps it;
	 * pool_desktop_delete() deletes it with the desktop. */
	uint64_t data_disk_bytes;
	/* NULL or POOL_NIC_TEMPLATE: the template's NICs as they are.  Otherwise every <interface> of the
	 * template is replaced by exactly one, virtio, with a fresh MAC, attached as nic says (borrowed;
	 * it must pass pool_nic_check()). */
	const struct pool_nic *nic;
	/* USB redirection channels (SPICE usbredir): POOL_USB_REDIRECT_TEMPLATE, the template's own <redirdev>
	 * elements as they are (also when opts is NULL); 0..POOL_USB_REDIRECT_MAX: exactly that many
	 * <redirdev bus='usb' type='spicevmc'/> (the template's go). */
	int usb_redirect;
	/* Monitors: 0 or 1, the template's <video> as it is (also when opts is NULL); 2..POOL_HEADS_MAX: its
	 * first <video>, qxl or virtio, gets heads='N' (pool_domxml_heads_check()), a qxl one also the video
	 * memory for N monitors of up to 1920x1080 each (what the template has when it has more). */
	int heads;
};

#define POOL_USB_REDIRECT_TEMPLATE (-1)
#define POOL_USB_REDIRECT_MAX 8

/* pool_desktop_create() with opts (borrowed; NULL: none of them).  On failure nothing is left
 * behind, the data disk neither. */
int pool_desktop_create_with(struct pool_host *host, const struct pool_template *t, const char *pool,
			     int64_t desktop_id, const struct pool_desktop_options *opts, struct vdi_error *err);

/*
 * Gives a defined desktop a user data disk of at least bytes (> 0): creates its
 * volume when there is none (as pool_desktop_create_with() does), grows it when it is smaller
 * (never shrinks it; its content stays), and attaches it to the domain's definition when that does
 * not name it (the desktop must be stopped then: -EBUSY otherwise; running desktops take the change
 * at their next boot only when it needs no attaching).  Returns 1 when it changed something, 0 when
 * the desktop had such a disk already.  Blocks on libvirt.
 */
int pool_desktop_data_disk(struct pool_host *host, const char *domain, uint64_t bytes, struct vdi_error *err);

int pool_desktop_start(struct pool_host *host, const char *domain, struct vdi_error *err);

/*
 * Asks the guest to shut down and waits up to timeout_ms in all for it to stop; then destroys it.  A desktop
 * whose guest agent answers (its org.qemu.guest_agent.0 channel connected: qemu-guest-agent runs in the guest)
 * is asked through the agent first (VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) and given half of timeout_ms; one
 * still running then, or without an agent, or whose agent refused, gets the ACPI power button for the rest.
 * Returns 1 when the guest stopped by itself, 0 when it had to be destroyed or was not running.
 */
int pool_desktop_shutdown(struct pool_host *host, const char *domain, unsigned timeout_ms,
			  struct vdi_error *err);

/* Powers off at once. Not running is not an error. */
int pool_desktop_destroy(struct pool_host *host, const char *domain, struct vdi_error *err);

/*
 * Resumes a paused desktop (virDomainResume) and watches it for a second:
 * QEMU retries the disk requests it stopped on, and stops again at once
 * when their cause (a full storage pool, say) is still there.  Returns 0
 * when it runs (also when it was running already), -EAGAIN when it paused
 * again (err says why), -ESRCH when it is not running at all, -ENOENT,
 * -ENOTCONN, -EIO.  Blocks on libvirt.
 */
int pool_desktop_resume(struct pool_host *host, const char *domain, struct vdi_error *err);

/*
 * A pooled reset: stops the desktop if running, discards its overlay and creates a fresh one backed by t
 * (which may be a newer publication of the template), and wipes its firmware state: a desktop with an NVRAM
 * or a TPM is undefined with both (VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_TPM) and defined again
 * from its own inactive definition (same name, UUID, MACs, SPICE ticket, metadata), so its next start has a
 * fresh NVRAM from the firmware's variables template and a fresh TPM.  One with neither keeps its definition.
 * The domain stays defined and stopped; its user data disk, if any, stays as it is.
 * pool_desktop_reset_flags(host, t, domain, 0, err).
 */
int pool_desktop_reset(struct pool_host *host, const struct pool_template *t, const char *domain,
		       struct vdi_error *err);

/* pool_desktop_reset_flags(): keep the desktop's NVRAM (EFI variables) and TPM state (a recompose). */
#define POOL_RESET_KEEP_FIRMWARE (1u << 0)

/*
 * pool_desktop_reset() with flags.  Without POOL_RESET_KEEP_FIRMWARE (a pooled reset, what
 * pool_desktop_reset() does): besides the fresh overlay, the desktop gets a fresh NVRAM (from its firmware's
 * variables template) and a fresh TPM state: nothing of the previous user's firmware or TPM reaches the next.
 * The domain keeps its name, UUID, MACs and metadata.  With POOL_RESET_KEEP_FIRMWARE (a recompose): the fresh
 * overlay only, the definition untouched.  -EINVAL: unknown flags.  When the definition cannot be made again
 * after the undefine (-EIO, err says so), the desktop is gone from libvirt and its overlay stays: the
 * broker's reconcile sees a missing domain.
 */
int pool_desktop_reset_flags(struct pool_host *host, const struct pool_template *t, const char *domain,
			     unsigned flags, struct vdi_error *err);

/* Destroys, undefines (with managed save, snapshot metadata, NVRAM and TPM state: no NVRAM file or swtpm
 * state directory stays) and deletes the overlay and the data disk. Parts already gone are not an error. */
int pool_desktop_delete(struct pool_host *host, const char *domain, struct vdi_error *err);

/*
 * Sets the SPICE ticket of a running desktop: password (1..60 characters)
 * valid until valid_to (UTC, seconds; 0 = no expiry).  New connections need
 * it; open ones stay.
 */
int pool_desktop_set_ticket(struct pool_host *host, const char *domain, const char *password,
			    time_t valid_to, struct vdi_error *err);

/* Writes the SPICE target for the gateway, "unix:<path>", into buf. */
int pool_desktop_spice_target(struct pool_host *host, const char *domain, char *buf, size_t len);

/*
 * Sets the inbound and outbound average limit (and the inbound peak) of every NIC of a desktop to
 * kbps (kilobits/s, as pool_bandwidth_kib() converts it; 0 removes the limit): in its persistent definition and, when it
 * runs, live (virDomainSetInterfaceParameters), without a restart.  The definition is changed first:
 * when the live change fails, the next boot has the limit and err says so.  -ENOENT: no such desktop,
 * or it has no NIC.  Blocks on libvirt.
 */
int pool_desktop_set_bandwidth(struct pool_host *host, const char *domain, uint32_t kbps, struct vdi_error *err);

/*
 * Attaches a stopped desktop's definition as nic (borrowed; NULL or POOL_NIC_TEMPLATE: nothing to do)
 * says: its <interface> elements are replaced by the one nic makes, which keeps the first one's MAC
 * (the desktop keeps its DHCP lease where the network stays).  -EBUSY: it runs; -ENOENT: no such
 * desktop; -EINVAL: nic does not pass pool_nic_check().  Blocks on libvirt.
 */
int pool_desktop_set_nic(struct pool_host *host, const char *domain, const struct pool_nic *nic, struct vdi_error *err);

/*
 * Gives a stopped desktop's definition exactly n USB redirection channels (0..POOL_USB_REDIRECT_MAX; as
 * pool_desktop_options.usb_redirect says them: POOL_USB_REDIRECT_TEMPLATE: nothing to do), so that a changed
 * pool setting reaches a desktop at its reset or recompose.  -EBUSY: it runs; -ENOENT: no such desktop; -EINVAL:
 * n out of range.  Blocks on libvirt.
 */
int pool_desktop_set_usb_redirect(struct pool_host *host, const char *domain, int n, struct vdi_error *err);

/*
 * A running desktop's IP addresses, IPv4 and IPv6 without prefix, each once, neither loopback nor IPv6
 * link-local: from the DHCP leases of its libvirt network, or, when those have none (a bridge, a
 * network without DHCP), from the guest agent where one answers.  *ret: a new NULL-terminated array of
 * new strings (free with pool_strv_free()), empty when none is known or the desktop is not running.
 * Blocks on libvirt (the agent: a few seconds at most).
 */
int pool_desktop_addresses(struct pool_host *host, const char *domain, char ***ret, struct vdi_error *err);

/* ---- the guest agent (agent.c) ---- */

/* What a running desktop's guest agent (qemu-guest-agent on its org.qemu.guest_agent.0 channel) tells. */
struct pool_guest_info {
	bool agent;        /* an agent answered; when false the rest is NULL */
	char *hostname;    /* the guest's host name; NULL when it told none */
	char **users;      /* the users logged in now, each once: a NULL-terminated array (empty: none) */
	char **addresses;  /* its interfaces' addresses, as pool_desktop_addresses() shows them */
};

/*
 * Asks the desktop's guest agent for its host name, logged-in users and addresses (virDomainGetGuestInfo:
 * USERS, HOSTNAME, INTERFACES; what the agent does not support stays empty).  A desktop that does not run,
 * has no agent channel or whose channel no agent opened: 0 with ret->agent false.  -EIO when the agent is
 * there and does not answer (vmpool sets the domain's agent response timeout to 10 s:
 * virDomainAgentSetResponseTimeout) or answers with an error.  Free *ret with pool_guest_info_finish() (also
 * after a failure).  Blocks on libvirt.
 */
int pool_desktop_guest_info(struct pool_host *host, const char *domain, struct pool_guest_info *ret,
			    struct vdi_error *err);
/* Frees info's contents and zeroes it. */
void pool_guest_info_finish(struct pool_guest_info *info);

enum pool_desktop_state {
	POOL_DESKTOP_STOPPED,
	POOL_DESKTOP_RUNNING,
	POOL_DESKTOP_PAUSED,
	POOL_DESKTOP_OTHER,
};

const char *pool_desktop_state_name(enum pool_desktop_state s);

struct pool_desktop_info {
	char *domain;
	char *uuid;
	char *pool;
	int64_t desktop_id;
	char *template_name;
	char *overlay_path;
	enum pool_desktop_state state;
	enum pool_pause_reason pause_reason; /* POOL_DESKTOP_PAUSED: why (NONE otherwise) */
};

/* Fills *ret with the state of one of vdi's domains. Free with pool_desktop_info_finish(). */
int pool_desktop_get_info(struct pool_host *host, const char *domain, struct pool_desktop_info *ret,
			  struct vdi_error *err);
void pool_desktop_info_finish(struct pool_desktop_info *info);

/*
 * Lists every domain on the host that carries vdi's metadata (the input of
 * reconcile).  *ret is a new array of *ret_n entries; free it with
 * pool_desktop_list_free().
 */
int pool_desktop_list(struct pool_host *host, struct pool_desktop_info **ret, size_t *ret_n,
		      struct vdi_error *err);
void pool_desktop_list_free(struct pool_desktop_info *list, size_t n);

/*
 * Lists the overlay volumes (names "<domain>.qcow2" whose stem parses as
 * one of vdi's domain names; never base volumes) and the user data disks
 * ("<domain>.data.qcow2") in the host's storage pool, whether or not a
 * domain uses them: reconcile finds leaked ones with this.  *ret is a
 * NULL-terminated array of new strings; free it with pool_strv_free().
 */
int pool_overlay_list(struct pool_host *host, char ***ret, struct vdi_error *err);

/* The domain an overlay's or a data disk's volume name (as pool_overlay_list() gives them) belongs to,
 * into ret_domain (len bytes): 0, or -EINVAL when volume is neither. */
int pool_volume_domain(const char *volume, char *ret_domain, size_t len);
char **pool_strv_free(char **strv);

/* ---- a program run by the guest agent (agent-exec.c; issue 18, helper viewers) ---------------- */

/*
 * Runs argv (borrowed, NULL-terminated; argv[0] the program's path in the guest, no shell) inside the
 * running desktop domain through its guest agent (guest-exec, then guest-exec-status every 100 ms) and
 * waits up to timeout_ms for it to exit: 0 and its exit status in *ret_exit_status (128 + the signal
 * that ended it).  -EOPNOTSUPP: the domain has no guest agent channel; -ENOTCONN: no agent answers on
 * it (none installed, not started yet); -ESRCH: the desktop does not run; -ETIMEDOUT: it still runs
 * (it is left running); -ENOENT: no such desktop; -EINVAL: argv empty.  Blocks on libvirt and the
 * agent (up to timeout_ms plus a few seconds): workers only.
 */
int pool_desktop_agent_exec(struct pool_host *host, const char *domain, const char *const *argv, int timeout_ms,
			    int *ret_exit_status, struct vdi_error *err);
