/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OS profiles from osinfo-db through libosinfo: everything comes from the database (its firmware, devices,
 * drivers and resources, inherited along derives-from), nothing from a table of OSes here.  The only table
 * is the one of PCI ids (the devices osinfo-db names) to the libvirt models vdi's domain XML uses.
 *
 * The default osinfo-db is loaded once per process, on the first call, and stays loaded: db_lock guards the
 * load and every query (libosinfo's objects are not documented as safe to share between threads).  The load
 * reads hundreds of XML files (about half a second): callers run these functions on worker threads, never on
 * an event loop.  A failed load is tried again by the next call.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osinfo/osinfo.h>
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "cleanup.h"
#include "vmpool.h"

#define ARCH "x86_64"
#define LINEAGE_MAX 64 /* an OS and the OSes it derives from, nearest first */
#define SUGGEST_MAX 5
#define SUGGEST_TYPOS 2 /* the nearest misspellings first, then the newest of the same distro */
#define TYPO_MAX 2      /* edit distance */
#define STEM_MIN 3      /* leading letters ("win", "debian") that name a distro */
#define MIB (1024 * 1024)

static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static OsinfoLoader *db_loader; /* under db_lock; once loaded, for the process's life (owns the db) */

static void unrefp(void *p)
{
	GObject **o = p;

	if (*o)
		g_object_unref(*o);
}
#define _cleanup_unref_ _cleanup_(unrefp)

/*
 * libosinfo 1.10's loader leaks the node array of each OS's <firmware> elements (19 blocks, 184 bytes with
 * osinfo-db 0.20221130; none with the <firmware> lines taken out of a copy of the db), once, at the load.
 * Under ASan, LeakSanitizer is told to ignore what this thread allocates during the load (a suppression
 * cannot match it: with the default fast unwinder its stack ends in glib's g_malloc0).  What the loader
 * keeps stays reachable from db_loader; our own queries are checked as everything else.
 */
static void loader_load(OsinfoLoader *loader, GError **gerr)
{
#ifdef HAVE_LSAN
	__lsan_disable();
#endif
	osinfo_loader_process_default_path(loader, gerr);
#ifdef HAVE_LSAN
	__lsan_enable();
#endif
}

static void unlockp(pthread_mutex_t **m)
{
	if (*m)
		pthread_mutex_unlock(*m);
}

/* A new loader of the default osinfo-db (the system's, OSINFO_SYSTEM_DIR, the local and user ones), or NULL. */
static OsinfoLoader *db_load(struct vdi_error *err, int *ret_r)
{
	_cleanup_unref_ OsinfoLoader *loader = osinfo_loader_new();
	_cleanup_unref_ OsinfoOsList *all = NULL;
	GError *gerr = NULL;

	loader_load(loader, &gerr);
	if (gerr) {
		*ret_r = vdi_error_set(err, -EIO, "osinfo-db could not be loaded: %s", gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	all = osinfo_db_get_os_list(osinfo_loader_get_db(loader));
	if (osinfo_list_get_length(OSINFO_LIST(all)) == 0) {
		*ret_r = vdi_error_set(err, -EIO, "osinfo-db holds no OS (is the osinfo-db package installed?)");
		return NULL;
	}
	return TAKE_PTR(loader);
}

/* Locks db_lock, loading osinfo-db when it is not yet: *ret borrowed, valid while *locked is held (the
 * caller's _cleanup_(unlockp) variable, set here). */
static int db_get(pthread_mutex_t **locked, OsinfoDb **ret, struct vdi_error *err)
{
	int r = 0;

	pthread_mutex_lock(&db_lock);
	*locked = &db_lock;
	if (!db_loader)
		db_loader = db_load(err, &r);
	if (!db_loader)
		return r;
	*ret = osinfo_loader_get_db(db_loader);
	return 0;
}

/* ---- ids ------------------------------------------------------------------------------------------------ */

/* Whether id (borrowed) is well-formed (osinfo-db's short ids are compared case-insensitively: most are lower
 * case, a few not, "dragonflybsd1.0A"), or -EINVAL. */
static int os_id_check(const char *id, struct vdi_error *err)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > POOL_OS_ID_MAX)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)id[i]);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			goto bad;
	}
	return 0;
bad:
	return vdi_error_set(err, -EINVAL, "OS id must be 1 to %d characters of a-z, 0-9, '.', '_' and '-' "
			     "(an osinfo-db short id such as win11; vdictl os list shows them)", POOL_OS_ID_MAX);
}

static bool os_has_short_id(OsinfoOs *os, const char *key)
{
	GList *ids = osinfo_product_get_short_id_list(OSINFO_PRODUCT(os)); /* the list new, its strings not */
	bool found = false;

	for (GList *i = ids; i && !found; i = i->next)
		found = strcasecmp(i->data, key) == 0;
	g_list_free(ids);
	return found;
}

/* The OS one of whose short ids (the first, or an alias: "debianbullseye") is key: borrowed from db. */
static OsinfoOs *os_find(OsinfoDb *db, const char *key)
{
	_cleanup_unref_ OsinfoOsList *all = osinfo_db_get_os_list(db);
	gint n = osinfo_list_get_length(OSINFO_LIST(all));

	for (gint i = 0; i < n; i++) {
		OsinfoOs *os = OSINFO_OS(osinfo_list_get_nth(OSINFO_LIST(all), i));

		if (os_has_short_id(os, key))
			return os;
	}
	return NULL;
}

/* ---- suggestions for an unknown id ------------------------------------------------------------------------ */

struct candidate {
	const char *id;   /* borrowed from the db */
	const char *date; /* release date "YYYY-MM-DD", borrowed; NULL: undated (testing, rolling, unknown) */
	unsigned dist;    /* edit distance to the id asked */
	bool stem;        /* starts with the leading letters of the id asked */
	bool picked;
};

/* Levenshtein distance of a and b (each at most POOL_OS_ID_MAX characters), ignoring case. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	unsigned row[POOL_OS_ID_MAX + 1];

	for (size_t j = 0; j <= nb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= nb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[nb];
}

/* Newer first; undated ones (testing, rolling) before every dated one. */
static int cmp_date(const struct candidate *a, const struct candidate *b)
{
	if (!a->date || !b->date)
		return (a->date != NULL) - (b->date != NULL);
	return -strcmp(a->date, b->date);
}

/* Nearest first, then newer, then by id. */
static int cmp_typo(const void *pa, const void *pb)
{
	const struct candidate *a = pa, *b = pb;
	int r;

	if (a->dist != b->dist)
		return a->dist < b->dist ? -1 : 1;
	r = cmp_date(a, b);
	return r ? r : strcmp(a->id, b->id);
}

/* Same distro first, then newer, then by id. */
static int cmp_newest(const void *pa, const void *pb)
{
	const struct candidate *a = pa, *b = pb;
	int r;

	if (a->stem != b->stem)
		return a->stem ? -1 : 1;
	r = cmp_date(a, b);
	return r ? r : strcmp(a->id, b->id);
}

static bool is_typo(const struct candidate *c)
{
	return c->dist <= TYPO_MAX;
}

static bool is_stem(const struct candidate *c)
{
	return c->stem;
}

/* Appends to out (*n_out so far) the candidates want() takes, in c's order, until max. */
static void pick(struct candidate *c, size_t n, bool (*want)(const struct candidate *), size_t max,
		 const char **out, size_t *n_out)
{
	for (size_t i = 0; i < n && *n_out < max; i++)
		if (!c[i].picked && want(&c[i])) {
			c[i].picked = true;
			out[(*n_out)++] = c[i].id;
		}
}

static size_t stem_len(const char *key)
{
	size_t n = 0;

	while (isalpha((unsigned char)key[n]))
		n++;
	return n >= STEM_MIN ? n : 0;
}

/* The first short ids of db's OSes that may be what key meant: *ret a new array of *ret_n. */
static int candidates_collect(OsinfoDb *db, const char *key, struct candidate **ret, size_t *ret_n)
{
	_cleanup_unref_ OsinfoOsList *all = osinfo_db_get_os_list(db);
	gint n = osinfo_list_get_length(OSINFO_LIST(all));
	size_t stem = stem_len(key), k = 0;
	struct candidate *c = calloc((size_t)n + 1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (gint i = 0; i < n; i++) {
		OsinfoProduct *p = OSINFO_PRODUCT(osinfo_list_get_nth(OSINFO_LIST(all), i));
		const char *id = osinfo_product_get_short_id(p);

		if (!id || strlen(id) > POOL_OS_ID_MAX)
			continue;
		c[k] = (struct candidate){ .id = id, .date = osinfo_product_get_release_date_string(p),
					   .dist = edit_distance(key, id), .stem = stem && !strncasecmp(id, key, stem) };
		if (is_typo(&c[k]) || c[k].stem)
			k++;
	}
	*ret = c;
	*ret_n = k;
	return 0;
}

/* -ENOENT with a message naming up to SUGGEST_MAX ids close to key: the SUGGEST_TYPOS nearest misspellings,
 * then the newest OSes of the same distro (same leading letters: "debian12" → debiantesting, debian11, ...),
 * then more misspellings. */
static int os_unknown(OsinfoDb *db, const char *key, struct vdi_error *err)
{
	_cleanup_free_ struct candidate *c = NULL;
	const char *out[SUGGEST_MAX];
	char list[SUGGEST_MAX * (POOL_OS_ID_MAX + 2) + 1] = "";
	size_t n = 0, n_out = 0;

	if (candidates_collect(db, key, &c, &n) < 0)
		return vdi_error_set(err, -ENOENT, "unknown OS '%s'", key);
	qsort(c, n, sizeof(*c), cmp_typo);
	pick(c, n, is_typo, SUGGEST_TYPOS, out, &n_out);
	qsort(c, n, sizeof(*c), cmp_newest);
	pick(c, n, is_stem, SUGGEST_MAX, out, &n_out);
	qsort(c, n, sizeof(*c), cmp_typo);
	pick(c, n, is_typo, SUGGEST_MAX, out, &n_out);
	if (n_out == 0)
		return vdi_error_set(err, -ENOENT, "unknown OS '%s' (vdictl os list shows them)", key);
	for (size_t i = 0; i < n_out; i++) {
		if (i)
			strcat(list, ", ");
		strcat(list, out[i]);
	}
	return vdi_error_set(err, -ENOENT, "unknown OS '%s' (close matches: %s)", key, list);
}

/* ---- the profile -------------------------------------------------------------------------------------------- */

/* The OS and those it derives from (osinfo-db's inheritance), nearest first: borrowed from the db. */
struct lineage {
	OsinfoOs *os[LINEAGE_MAX];
	size_t n;
};

static bool lineage_has(const struct lineage *l, OsinfoOs *os)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->os[i] == os)
			return true;
	return false;
}

static void lineage_build(OsinfoOs *os, struct lineage *l)
{
	l->os[0] = os;
	l->n = 1;
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_unref_ OsinfoProductList *up =
			osinfo_product_get_related(OSINFO_PRODUCT(l->os[i]), OSINFO_PRODUCT_RELATIONSHIP_DERIVES_FROM);
		gint n = osinfo_list_get_length(OSINFO_LIST(up));

		for (gint j = 0; j < n && l->n < LINEAGE_MAX; j++) {
			OsinfoOs *parent = OSINFO_OS(osinfo_list_get_nth(OSINFO_LIST(up), j));

			if (!lineage_has(l, parent))
				l->os[l->n++] = parent;
		}
	}
}

static bool arch_ours(const char *arch)
{
	return arch && (!strcmp(arch, ARCH) || !strcmp(arch, "all"));
}

enum {
	DEV_VIRTIO_BLK = 1u << 0,
	DEV_VIRTIO_NET = 1u << 1,
	DEV_VIRTIO_GPU = 1u << 2,
	DEV_QXL = 1u << 3,
	DEV_E1000E = 1u << 4,
	DEV_E1000 = 1u << 5,
	DEV_RTL8139 = 1u << 6,
	DEV_ICH9 = 1u << 7,
	DEV_ICH6 = 1u << 8,
	DEV_AC97 = 1u << 9,
};

/* The PCI devices osinfo-db names that vdi's domain XML has a model for. */
static const struct {
	const char *vendor, *product;
	unsigned bit;
} known_devices[] = {
	{ "1af4", "1001", DEV_VIRTIO_BLK }, /* virtio-block (legacy) */
	{ "1af4", "1042", DEV_VIRTIO_BLK }, /* virtio1.0-block */
	{ "1af4", "1000", DEV_VIRTIO_NET }, /* virtio-net (legacy) */
	{ "1af4", "1041", DEV_VIRTIO_NET }, /* virtio1.0-net */
	{ "1af4", "1050", DEV_VIRTIO_GPU }, /* virtio1.0-gpu */
	{ "1b36", "0100", DEV_QXL },
	{ "8086", "10d3", DEV_E1000E },
	{ "8086", "100e", DEV_E1000 },
	{ "10ec", "8139", DEV_RTL8139 },
	{ "8086", "293e", DEV_ICH9 },       /* ich9-hda */
	{ "8086", "2668", DEV_ICH6 },       /* ich6 (intel-hda) */
	{ "8086", "2415", DEV_AC97 },
};

/* The known_devices bits of list's devices (borrowed). */
static unsigned devices_mask(OsinfoDeviceList *list)
{
	gint n = osinfo_list_get_length(OSINFO_LIST(list));
	unsigned mask = 0;

	for (gint i = 0; i < n; i++) {
		OsinfoDevice *d = OSINFO_DEVICE(osinfo_list_get_nth(OSINFO_LIST(list), i));
		const char *bus = osinfo_device_get_bus_type(d);
		const char *vendor = osinfo_device_get_vendor_id(d), *product = osinfo_device_get_product_id(d);

		if (!bus || strcmp(bus, "pci") || !vendor || !product)
			continue;
		for (size_t k = 0; k < ELEMENTSOF(known_devices); k++)
			if (!strcasecmp(vendor, known_devices[k].vendor) && !strcasecmp(product, known_devices[k].product))
				mask |= known_devices[k].bit;
	}
	return mask;
}

/* The devices of the x86_64 drivers (pre- and post-installable) osinfo-db lists for os, or else for the
 * nearest OS it derives from that has some (win11 has the drivers of win10: virtio-win). */
static unsigned drivers_mask(const struct lineage *l)
{
	for (size_t i = 0; i < l->n; i++) {
		OsinfoDeviceDriverList *drivers = osinfo_os_get_device_drivers(l->os[i]); /* borrowed */
		gint n = drivers ? osinfo_list_get_length(OSINFO_LIST(drivers)) : 0;
		unsigned mask = 0;
		bool any = false;

		for (gint j = 0; j < n; j++) {
			OsinfoDeviceDriver *d = OSINFO_DEVICE_DRIVER(osinfo_list_get_nth(OSINFO_LIST(drivers), j));

			if (!arch_ours(osinfo_device_driver_get_architecture(d)))
				continue;
			any = true;
			mask |= devices_mask(osinfo_device_driver_get_devices(d)); /* borrowed */
		}
		if (any)
			return mask;
	}
	return 0;
}

static void profile_devices(OsinfoOs *os, const struct lineage *l, struct pool_os_profile *p)
{
	_cleanup_unref_ OsinfoDeviceList *devices = osinfo_os_get_all_devices(os, NULL); /* inherited too */
	unsigned native = devices_mask(devices);
	unsigned all = native | drivers_mask(l);

	p->disk_bus = all & DEV_VIRTIO_BLK ? "virtio" : "sata";
	p->nic_model = all & DEV_VIRTIO_NET ? "virtio"
		     : all & DEV_E1000E     ? "e1000e"
		     : all & DEV_E1000      ? "e1000"
		     : all & DEV_RTL8139    ? "rtl8139"
					    : "e1000"; /* osinfo-db names none: the NIC most OSes drive */
	/* A virtio-gpu that only a driver brings stays qxl: virtio video only when the OS has it itself. */
	p->video = native & DEV_VIRTIO_GPU ? "virtio" : all & DEV_QXL ? "qxl" : "vga";
	p->sound = all & DEV_ICH9 ? "ich9" : all & DEV_ICH6 ? "ich6" : all & DEV_AC97 ? "ac97" : NULL;
}

static void profile_firmware(OsinfoOs *os, struct pool_os_profile *p)
{
	_cleanup_unref_ OsinfoFirmwareList *list = osinfo_os_get_complete_firmware_list(os, NULL); /* inherited */
	gint n = osinfo_list_get_length(OSINFO_LIST(list));
	bool no_bios = false;

	for (gint i = 0; i < n; i++) {
		OsinfoFirmware *f = OSINFO_FIRMWARE(osinfo_list_get_nth(OSINFO_LIST(list), i));
		const char *type = osinfo_firmware_get_firmware_type(f);
		bool supported = osinfo_firmware_is_supported(f);

		if (!arch_ours(osinfo_firmware_get_architecture(f)) || !type)
			continue;
		if (!strcmp(type, "efi") && supported)
			p->uefi_supported = true;
		else if (!strcmp(type, "bios") && !supported)
			no_bios = true;
	}
	p->uefi_required = p->uefi_supported && no_bios;
}

/* Fills *memory_mib and *vcpus when still 0 from list's (taken) x86_64 entries, else its "all" ones. */
static void resources_pick(OsinfoResourcesList *list, unsigned *memory_mib, unsigned *vcpus)
{
	_cleanup_unref_ OsinfoResourcesList *owned = list;
	gint n = osinfo_list_get_length(OSINFO_LIST(owned));

	for (int pass = 0; pass < 2; pass++)
		for (gint i = 0; i < n; i++) {
			OsinfoResources *r = OSINFO_RESOURCES(osinfo_list_get_nth(OSINFO_LIST(owned), i));
			const char *arch = osinfo_resources_get_architecture(r);
			gint64 ram = osinfo_resources_get_ram(r);
			gint cpus = osinfo_resources_get_n_cpus(r);

			if (!arch || strcmp(arch, pass == 0 ? ARCH : "all"))
				continue;
			if (!*memory_mib && ram > 0 && ram / MIB < UINT32_MAX)
				*memory_mib = (unsigned)((ram + MIB - 1) / MIB);
			if (!*vcpus && cpus > 0)
				*vcpus = (unsigned)cpus;
		}
}

/* Each value from the nearest OS of the lineage that says it (trisquel9's minimum is ubuntu18.04's). */
static void profile_resources(const struct lineage *l, struct pool_os_profile *p)
{
	for (size_t i = 0; i < l->n; i++) {
		resources_pick(osinfo_os_get_minimum_resources(l->os[i]), &p->min_memory_mib, &p->min_vcpus);
		resources_pick(osinfo_os_get_recommended_resources(l->os[i]), &p->rec_memory_mib, &p->rec_vcpus);
	}
	/* A recommendation below the minimum (one of them inherited: trisquel9) is raised to it. */
	if (p->rec_memory_mib && p->rec_memory_mib < p->min_memory_mib)
		p->rec_memory_mib = p->min_memory_mib;
	if (p->rec_vcpus && p->rec_vcpus < p->min_vcpus)
		p->rec_vcpus = p->min_vcpus;
}

/* src (borrowed) into dst[size], cut at a character boundary when too long. */
static void copy_utf8(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void profile_fill(OsinfoOs *os, struct pool_os_profile *p)
{
	struct lineage l;

	memset(p, 0, sizeof(*p));
	lineage_build(os, &l);
	copy_utf8(p->id, sizeof(p->id), osinfo_product_get_short_id(OSINFO_PRODUCT(os)));
	copy_utf8(p->name, sizeof(p->name), osinfo_product_get_name(OSINFO_PRODUCT(os)));
	p->windows = g_strcmp0(osinfo_os_get_family(os), "winnt") == 0;
	profile_firmware(os, p);
	profile_devices(os, &l, p);
	profile_resources(&l, p);
}

int pool_os_profile_get(const char *id, struct pool_os_profile *ret, struct vdi_error *err)
{
	_cleanup_(unlockp) pthread_mutex_t *locked = NULL;
	OsinfoDb *db;
	OsinfoOs *os;
	int r;

	r = os_id_check(id, err);
	if (r < 0)
		return r;
	r = db_get(&locked, &db, err);
	if (r < 0)
		return r;
	os = os_find(db, id);
	if (!os)
		return os_unknown(db, id, err);
	profile_fill(os, ret);
	return 0;
}

/* ---- the list --------------------------------------------------------------------------------------------- */

static int entry_fill(struct pool_os_entry *e, OsinfoOs *os, const char *id, const char *name)
{
	const char *version = osinfo_product_get_version(OSINFO_PRODUCT(os));
	const char *family = osinfo_os_get_family(os);

	e->id = strdup(id);
	e->name = strdup(name);
	e->version = strdup(version ? version : "");
	e->family = strdup(family ? family : "");
	return e->id && e->name && e->version && e->family ? 0 : -ENOMEM;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct pool_os_entry *a = pa, *b = pb;

	return strcmp(a->id, b->id);
}

int pool_os_list(const char *filter, struct pool_os_entry **ret, size_t *ret_n, struct vdi_error *err)
{
	_cleanup_(unlockp) pthread_mutex_t *locked = NULL;
	_cleanup_unref_ OsinfoOsList *all = NULL;
	struct pool_os_entry *list;
	size_t k = 0;
	OsinfoDb *db;
	gint n;
	int r;

	r = db_get(&locked, &db, err);
	if (r < 0)
		return r;
	all = osinfo_db_get_os_list(db);
	n = osinfo_list_get_length(OSINFO_LIST(all));
	list = calloc((size_t)n + 1, sizeof(*list));
	if (!list)
		return vdi_error_set(err, -ENOMEM, "out of memory listing osinfo-db's OSes");
	for (gint i = 0; i < n; i++) {
		OsinfoOs *os = OSINFO_OS(osinfo_list_get_nth(OSINFO_LIST(all), i));
		const char *id = osinfo_product_get_short_id(OSINFO_PRODUCT(os));
		const char *name = osinfo_product_get_name(OSINFO_PRODUCT(os));

		if (!id)
			continue;
		if (!name)
			name = "";
		if (filter && *filter && !strcasestr(id, filter) && !strcasestr(name, filter))
			continue;
		if (entry_fill(&list[k++], os, id, name) < 0) {
			pool_os_list_free(list, k);
			return vdi_error_set(err, -ENOMEM, "out of memory listing osinfo-db's OSes");
		}
	}
	qsort(list, k, sizeof(*list), cmp_entry);
	*ret = list;
	*ret_n = k;
	return 0;
}

void pool_os_list_free(struct pool_os_entry *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].id);
		free(list[i].name);
		free(list[i].version);
		free(list[i].family);
	}
	free(list);
}
