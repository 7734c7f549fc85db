/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>
#include <libxml/entities.h>

#include "log.h"
#include "private.h"
#include "random.h"

#define SHUTDOWN_POLL_MS 100

static int spice_socket_path(struct pool_host *host, const char *domain, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.sock", host->spice_dir, domain);

	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int create_overlay(struct pool_host *host, virConnectPtr conn, const struct pool_template *t,
			  const char *volname, virStorageVolPtr *ret, struct vdi_error *err)
{
	_cleanup_spool_ virStoragePoolPtr sp = NULL;
	_cleanup_free_ char *xml = NULL;
	xmlChar *esc_path;
	int n;

	n = pool_storage_pool(host, conn, &sp, err);
	if (n < 0)
		return n;

	/* The template path is the only string from outside: escape it for XML. */
	esc_path = xmlEncodeSpecialChars(NULL, (const xmlChar *)t->disk_path);
	if (!esc_path)
		return -ENOMEM;
	n = asprintf(&xml,
		     "<volume><name>%s</name>"
		     "<capacity unit='bytes'>%" PRIu64 "</capacity>"
		     "<target><format type='qcow2'/><compat>1.1</compat>"
		     "<permissions><mode>0600</mode></permissions></target>"
		     "<backingStore><path>%s</path><format type='qcow2'/></backingStore>"
		     "</volume>",
		     volname, t->capacity, (const char *)esc_path);
	xmlFree(esc_path);
	if (n < 0) {
		xml = NULL;
		return -ENOMEM;
	}

	*ret = virStorageVolCreateXML(sp, xml, 0);
	if (!*ret)
		return pool_libvirt_error(err, "cannot create overlay %s on template %s", volname, t->disk_path);
	return 0;
}

static int delete_overlay(struct pool_host *host, virConnectPtr conn, const char *domain, struct vdi_error *err)
{
	char volname[256];

	pool_overlay_name(domain, volname, sizeof(volname));
	return pool_volume_delete(host, conn, volname, "overlay", err);
}

/* The volumes of a desktop being made: its overlay and maybe its data disk, with their paths. */
struct new_disks {
	virStorageVolPtr overlay, data;
	char *path, *data_path;
};

/* Deletes the volumes made (unless keep) and frees nd's contents. */
static void new_disks_finish(struct new_disks *nd, bool keep)
{
	virStorageVolPtr vols[] = { nd->overlay, nd->data };

	for (size_t i = 0; i < ELEMENTSOF(vols); i++) {
		if (!vols[i])
			continue;
		if (!keep && virStorageVolDelete(vols[i], 0) < 0)
			vdi_debug("cannot remove volume %s after a failed create: %s", virStorageVolGetName(vols[i]),
				  virGetLastErrorMessage());
		virStorageVolFree(vols[i]);
	}
	free(nd->path);
	free(nd->data_path);
	*nd = (struct new_disks){ 0 };
}

/* Makes domain's overlay on t and, when data_bytes > 0, its data disk; on failure nd holds what was made. */
static int make_disks(struct pool_host *host, virConnectPtr conn, const struct pool_template *t, const char *domain,
		      uint64_t data_bytes, struct new_disks *nd, struct vdi_error *err)
{
	char volname[160];
	int r;

	pool_overlay_name(domain, volname, sizeof(volname));
	r = create_overlay(host, conn, t, volname, &nd->overlay, err);
	if (r < 0)
		return r;
	nd->path = virStorageVolGetPath(nd->overlay);
	if (!nd->path)
		return pool_libvirt_error(err, "cannot find the path of overlay %s", volname);
	if (data_bytes == 0)
		return 0;
	pool_data_disk_name(domain, volname, sizeof(volname));
	r = pool_data_volume_create(host, conn, volname, data_bytes, &nd->data, err);
	if (r < 0)
		return r;
	nd->data_path = virStorageVolGetPath(nd->data);
	return nd->data_path ? 0 : pool_libvirt_error(err, "cannot find the path of data disk %s", volname);
}

int pool_desktop_create(struct pool_host *host, const struct pool_template *t, const char *pool,
			int64_t desktop_id, struct vdi_error *err)
{
	return pool_desktop_create_with(host, t, pool, desktop_id, NULL, err);
}

int pool_desktop_create_with(struct pool_host *host, const struct pool_template *t, const char *pool,
			     int64_t desktop_id, const struct pool_desktop_options *opts, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	_cleanup_free_ char *xml = NULL;
	char name[128], uuid[37], password[33], socket[256];
	struct new_disks nd = { 0 };
	struct pool_domxml_params p;
	bool validated;
	int r;

	if (!t)
		return vdi_error_set(err, -EINVAL, "no template");
	if (!pool_name_is_valid(pool))
		return vdi_error_set(err, -EINVAL, "pool name must be 1-%d characters of [A-Za-z0-9_]", POOL_NAME_MAX);
	if (opts && opts->nic && (r = pool_nic_check(opts->nic, err)) < 0)
		return r;
	r = pool_domain_name(pool, desktop_id, name, sizeof(name));
	if (r < 0)
		return vdi_error_set(err, r, "invalid desktop id %" PRId64, desktop_id);
	r = spice_socket_path(host, name, socket, sizeof(socket));
	if (r < 0)
		return vdi_error_set(err, r, "SPICE socket path under %s is too long for a unix socket", host->spice_dir);

	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;

	dom = virDomainLookupByName(conn, name);
	if (dom)
		return vdi_error_set(err, -EEXIST, "desktop %s exists already", name);
	if (virGetLastError() && virGetLastError()->code != VIR_ERR_NO_DOMAIN)
		return pool_libvirt_error(err, "cannot look up desktop %s", name);

	r = make_disks(host, conn, t, name, opts ? opts->data_disk_bytes : 0, &nd, err);
	if (r < 0)
		goto fail;
	if ((r = vdi_random_uuid(uuid)) < 0 || (r = vdi_random_id(password, 32)) < 0) {
		vdi_error_set(err, r, "no randomness for desktop %s", name);
		goto fail;
	}

	p = (struct pool_domxml_params){
		.name = name,
		.uuid = uuid,
		.virt_type = host->virt_type,
		.disk_path = nd.path,
		.data_disk_path = nd.data_path,
		.spice_socket = socket,
		.spice_address = host->spice_address[0] ? host->spice_address : NULL,
		.spice_password = password,
		.pool = pool,
		.desktop_id = desktop_id,
		.template_name = t->name,
		.nic = opts ? opts->nic : NULL,
		.usb_redirect = opts ? opts->usb_redirect : POOL_USB_REDIRECT_TEMPLATE,
		.heads = opts ? opts->heads : 0,
	};
	r = pool_domxml_for_clone(t->xml, &p, &xml, err);
	if (r < 0)
		goto fail;

	/*
	 * Schema validation costs libvirtd ~9 ms, a third of a clone.  A clone
	 * differs from its template only in what vmpool writes, so the first
	 * clone of each template is validated and the others are not.
	 */
	validated = __atomic_load_n(&((struct pool_template *)t)->validated, __ATOMIC_ACQUIRE);
	dom = virDomainDefineXMLFlags(conn, xml, validated ? 0 : VIR_DOMAIN_DEFINE_VALIDATE);
	if (!dom) {
		r = pool_libvirt_error(err, "cannot define desktop %s", name);
		goto fail;
	}
	if (!validated)
		__atomic_store_n(&((struct pool_template *)t)->validated, true, __ATOMIC_RELEASE);
	explicit_bzero(password, sizeof(password));
	new_disks_finish(&nd, true);
	return 0;

fail:
	/* Leave nothing half-created: the overlay and data disk go with the failed definition. */
	explicit_bzero(password, sizeof(password));
	new_disks_finish(&nd, false);
	return r;
}

int pool_desktop_start(struct pool_host *host, const char *domain, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	if (virDomainIsActive(dom) == 1)
		return 0;
	if (virDomainCreate(dom) < 0) {
		r = pool_libvirt_error(err, "cannot start desktop %s", domain);
		/* Started meanwhile by someone else: that is what the caller wanted. */
		return virDomainIsActive(dom) == 1 ? 0 : r;
	}
	return 0;
}

/* QEMU leaves its SPICE socket behind when it stops: a stopped desktop has none (a host on this machine). */
static void forget_socket(struct pool_host *host, const char *domain)
{
	char socket[256];

	if (!host->spice_address[0] && spice_socket_path(host, domain, socket, sizeof(socket)) >= 0)
		(void)unlink(socket);
}

static int destroy_dom(struct pool_host *host, virDomainPtr dom, const char *domain, struct vdi_error *err)
{
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
		int r = pool_libvirt_error(err, "cannot power off desktop %s", domain);

		if (virDomainIsActive(dom) != 0)
			return r;
	}
	if (virDomainIsActive(dom) == 0)
		forget_socket(host, domain);
	return 0;
}

int pool_desktop_destroy(struct pool_host *host, const char *domain, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	return destroy_dom(host, dom, domain, err);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until deadline (now_ms()) for dom to stop: 1 when it did, 0 when it still runs, -errno. */
static int wait_stopped(struct pool_host *host, virDomainPtr dom, const char *domain, uint64_t deadline,
			struct vdi_error *err)
{
	for (;;) {
		int active = virDomainIsActive(dom);

		if (active == 0) {
			forget_socket(host, domain);
			return 1;
		}
		if (active < 0)
			return pool_libvirt_error(err, "cannot query desktop %s", domain);
		if (now_ms() >= deadline)
			return 0;
		usleep(SHUTDOWN_POLL_MS * 1000);
	}
}

int pool_desktop_shutdown(struct pool_host *host, const char *domain, unsigned timeout_ms,
			  struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	uint64_t start, deadline;
	int r;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	if (virDomainIsActive(dom) != 1)
		return 0;

	start = now_ms();
	deadline = start + timeout_ms;
	/* The guest agent first (a clean shutdown of the guest's OS, where ACPI may ask a user), half the time. */
	if (pool_agent_shutdown(dom, domain)) {
		r = wait_stopped(host, dom, domain, start + timeout_ms / 2, err);
		if (r != 0)
			return r;
		vdi_debug("%s still runs %u ms after its guest agent was asked to shut it down: ACPI", domain,
			  timeout_ms / 2);
	}
	if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0)
		vdi_debug("ACPI shutdown of %s refused: %s", domain, virGetLastErrorMessage());
	r = wait_stopped(host, dom, domain, deadline, err);
	if (r != 0)
		return r;
	r = destroy_dom(host, dom, domain, err);
	return r < 0 ? r : 0;
}

/* What an undefine removes besides the definition: managed save, snapshot metadata, NVRAM, TPM state. */
#define UNDEFINE_ALL                                                                                              \
	(VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM |  \
	 VIR_DOMAIN_UNDEFINE_TPM)

/* Frees a string that holds a secret, wiped first. */
static void secret_freep(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
}

/* dom's (borrowed) inactive definition with its secrets (the SPICE ticket) into *ret (new; wipe it) when it has
 * an NVRAM or a TPM; *ret NULL when it has neither. */
static int firmware_def(virDomainPtr dom, const char *domain, char **ret, struct vdi_error *err)
{
	_cleanup_(secret_freep) char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE);
	int r;

	*ret = NULL;
	if (!xml)
		return pool_libvirt_error(err, "cannot read the definition of desktop %s", domain);
	r = pool_domxml_firmware_state(xml);
	if (r < 0)
		return vdi_error_set(err, r, "desktop %s has a definition vdi cannot read", domain);
	if (r > 0)
		*ret = TAKE_PTR(xml);
	return 0;
}

/*
 * Undefines dom (borrowed, stopped) with its NVRAM and TPM state and defines it again from xml (borrowed; its
 * own inactive definition: the same name, UUID, MACs, SPICE ticket, metadata), so that libvirt makes a fresh
 * NVRAM from the firmware's variables template at the next start and swtpm a fresh TPM state.
 */
static int wipe_firmware(virConnectPtr conn, virDomainPtr dom, const char *domain, const char *xml,
			 struct vdi_error *err)
{
	virDomainPtr again;

	/* A driver that keeps no NVRAM or TPM state (test:///) takes none of these flags: nothing to wipe there. */
	if (virDomainUndefineFlags(dom, UNDEFINE_ALL) < 0 &&
	    (!virGetLastError() || virGetLastError()->code != VIR_ERR_INVALID_ARG || virDomainUndefine(dom) < 0))
		return pool_libvirt_error(err, "cannot undefine desktop %s to wipe its NVRAM and TPM state", domain);
	again = virDomainDefineXML(conn, xml);
	if (!again) {
		pool_libvirt_error(err, "desktop %s is gone from libvirt: undefined to wipe its NVRAM and TPM state, "
					"it could not be defined again (its overlay stays)", domain);
		return -EIO;
	}
	virDomainFree(again);
	return 0;
}

int pool_desktop_reset(struct pool_host *host, const struct pool_template *t, const char *domain,
		       struct vdi_error *err)
{
	return pool_desktop_reset_flags(host, t, domain, 0, err);
}

int pool_desktop_reset_flags(struct pool_host *host, const struct pool_template *t, const char *domain,
			     unsigned flags, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	_cleanup_vol_ virStorageVolPtr vol = NULL;
	_cleanup_(secret_freep) char *def = NULL;
	char volname[256];
	int r;

	if (!t)
		return vdi_error_set(err, -EINVAL, "no template");
	if (flags & ~POOL_RESET_KEEP_FIRMWARE)
		return vdi_error_set(err, -EINVAL, "unknown reset flags %#x", flags);
	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	r = destroy_dom(host, dom, domain, err);
	if (r < 0)
		return r;
	if (!(flags & POOL_RESET_KEEP_FIRMWARE) && (r = firmware_def(dom, domain, &def, err)) < 0)
		return r;
	r = delete_overlay(host, conn, domain, err);
	if (r >= 0) {
		pool_overlay_name(domain, volname, sizeof(volname));
		r = create_overlay(host, conn, t, volname, &vol, err);
	}
	/* A domain without NVRAM or TPM keeps its definition: nothing to wipe. */
	if (r >= 0 && def)
		r = wipe_firmware(conn, dom, domain, def, err);
	return r;
}

int pool_desktop_delete(struct pool_host *host, const char *domain, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	char socket[256];
	int r;

	if (!pool_domain_name_is_ours(domain))
		return vdi_error_set(err, -EINVAL, "'%s' is not the name of a vdi desktop", domain ? domain : "(null)");
	r = pool_host_conn(host, &conn, err);
	if (r < 0)
		return r;

	dom = virDomainLookupByName(conn, domain);
	if (dom) {
		r = destroy_dom(host, dom, domain, err);
		if (r < 0)
			return r;
		if (virDomainUndefineFlags(dom, UNDEFINE_ALL) < 0 && virDomainUndefine(dom) < 0)
			return pool_libvirt_error(err, "cannot undefine desktop %s", domain);
	} else if (virGetLastError() && virGetLastError()->code != VIR_ERR_NO_DOMAIN) {
		return pool_libvirt_error(err, "cannot look up desktop %s", domain);
	}

	r = delete_overlay(host, conn, domain, err);
	if (r >= 0)
		r = pool_data_disk_delete(host, conn, domain, err);
	if (r < 0)
		return r;
	if (spice_socket_path(host, domain, socket, sizeof(socket)) >= 0)
		(void)unlink(socket);
	return 0;
}

static bool is_valid_ticket(const char *password)
{
	size_t len = password ? strlen(password) : 0;

	if (len == 0 || len > POOL_TICKET_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (password[i] < 0x21 || password[i] > 0x7e)
			return false;
	return true;
}

int pool_desktop_set_ticket(struct pool_host *host, const char *domain, const char *password,
			    time_t valid_to, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	_cleanup_free_ char *live = NULL, *gxml = NULL;
	char when[32];
	int r;

	if (!is_valid_ticket(password))
		return vdi_error_set(err, -EINVAL, "a SPICE ticket is 1-%d printable ASCII characters", POOL_TICKET_MAX);
	if (valid_to) {
		struct tm tm;

		if (!gmtime_r(&valid_to, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm))
			return vdi_error_set(err, -EINVAL, "invalid ticket expiry");
	}

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	if (virDomainIsActive(dom) != 1)
		return vdi_error_set(err, -EAGAIN, "desktop %s is not running", domain);

	live = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE);
	if (!live)
		return pool_libvirt_error(err, "cannot read desktop %s", domain);
	r = pool_domxml_spice_ticket(live, password, valid_to ? when : NULL, &gxml, err);
	explicit_bzero(live, strlen(live));
	if (r < 0)
		return r;
	r = virDomainUpdateDeviceFlags(dom, gxml, VIR_DOMAIN_AFFECT_LIVE);
	explicit_bzero(gxml, strlen(gxml));
	if (r < 0)
		return pool_libvirt_error(err, "cannot set the SPICE ticket of desktop %s", domain);
	return 0;
}

int pool_desktop_spice_target(struct pool_host *host, const char *domain, char *buf, size_t len)
{
	char path[256];
	int r, n;

	if (!pool_domain_name_is_ours(domain))
		return -EINVAL;
	if (host->spice_address[0]) {
		/* A remote host: the port libvirt gave the running desktop, on the host's address. */
		_cleanup_conn_ virConnectPtr conn = NULL;
		_cleanup_domain_ virDomainPtr dom = NULL;
		_cleanup_free_ char *xml = NULL;
		unsigned port;

		r = pool_desktop_open(host, domain, &conn, &dom, NULL);
		if (r < 0)
			return r;
		xml = virDomainGetXMLDesc(dom, 0);
		if (!xml)
			return pool_libvirt_error(NULL, "desktop %s", domain);
		r = pool_domxml_spice_port(xml, &port);
		if (r < 0)
			return r;
		n = snprintf(buf, len, strchr(host->spice_address, ':') ? "tcp:[%s]:%u" : "tcp:%s:%u", host->spice_address,
			     port);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	r = spice_socket_path(host, domain, path, sizeof(path));
	if (r < 0)
		return r;
	n = snprintf(buf, len, "unix:%s", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pool_desktop_resume(struct pool_host *host, const char *domain, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	int state, reason, r;
	uint64_t end;

	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return pool_libvirt_error(err, "cannot query desktop %s", domain);
	if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED)
		return 0;
	if (state != VIR_DOMAIN_PAUSED)
		return vdi_error_set(err, -ESRCH, "desktop %s is not running", domain);
	if (virDomainResume(dom) < 0)
		return pool_libvirt_error(err, "cannot resume desktop %s", domain);
	/* QEMU retries the requests it stopped on when it runs again, and fails them at once when
	 * their cause is still there. */
	for (end = now_ms() + 1000; now_ms() < end; usleep(50 * 1000)) {
		if (virDomainGetState(dom, &state, &reason, 0) < 0)
			return pool_libvirt_error(err, "cannot query desktop %s", domain);
		if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_BLOCKED)
			return vdi_error_set(err, -EAGAIN, "desktop %s paused again: %s", domain,
					      pool_pause_reason_name(pool_pause_reason_of(dom, state, reason)));
	}
	return 0;
}
