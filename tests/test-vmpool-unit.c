/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpool on libvirt's test:///default driver (an in-memory hypervisor):
 * names, template checks, domain XML rewriting, metadata, listing, events
 * and every error path that needs no real QEMU.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "alloc.h"
#include "harness.h"
#include "private.h"
#include "vmpool.h"
#include "vmpool-test.h"

#define TEST_URI "test:///default"

/* ---- helpers -------------------------------------------------------------- */

static char *write_file(const char *name, const void *data, size_t len)
{
	char *path;
	int fd;

	check(asprintf(&path, "%s/%s", vdi_test_tmpdir(), name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	check(write(fd, data, len) == (ssize_t)len);
	close(fd);
	return path;
}

static const char guest_xml[] =
	"<domain type='kvm' id='7'>"
	"<name>golden</name><uuid>11111111-2222-3333-4444-555555555555</uuid>"
	"<memory unit='KiB'>131072</memory><currentMemory unit='KiB'>131072</currentMemory><vcpu>1</vcpu>"
	"<os><type arch='x86_64'>hvm</type></os>"
	"<devices>"
	"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/golden.img'/>"
	"<backingStore/><target dev='vda' bus='virtio'/></disk>"
	"<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>"
	"<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>"
	"<interface type='user'/>"
	"<graphics type='vnc' port='5900' listen='0.0.0.0'/>"
	"</devices></domain>";

static struct pool_host *test_host(void)
{
	struct pool_host_options o = {
		.uri = TEST_URI,
		.storage_pool = "vdi",
		.storage_path = "/vdi-images",
		.runtime_dir = vdi_test_tmpdir(),
	};
	struct vdi_error err = { { 0 } };
	struct pool_host *host = NULL;
	int r = pool_host_new(&o, &host, &err);

	if (r < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_new: %s", err.message);
	return host;
}

static struct pool_template *test_template(const char *xml)
{
	_cleanup_free_ char *disk = test_make_qcow2("base.qcow2", "1G");
	struct pool_template_options o = { .name = "golden", .disk_path = disk, .xml = xml };
	struct vdi_error err = { { 0 } };
	struct pool_template *t = NULL;
	int r = pool_template_new(&o, &t, &err);

	if (r < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_template_new: %s", err.message);
	return t;
}

static bool domain_exists(const char *name)
{
	return test_domain_exists(TEST_URI, name);
}

static size_t count_overlays(struct pool_host *host)
{
	char **names = NULL;
	size_t n = 0;

	check_ok(pool_overlay_list(host, &names, NULL));
	while (names[n])
		n++;
	pool_strv_free(names);
	return n;
}

/* ---- names ---------------------------------------------------------------- */

static void test_domain_names(void)
{
	char buf[64], pool[64];
	int64_t id;

	check_ok(pool_domain_name("sales", 12, buf, sizeof(buf)));
	check_str_eq(buf, "vdi-sales-12");
	check_ok(pool_domain_name_parse(buf, pool, sizeof(pool), &id));
	check_str_eq(pool, "sales");
	check_int_eq(id, 12);

	check_err(pool_domain_name("bad-name", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_domain_name("", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_domain_name("ok", -1, buf, sizeof(buf)), EINVAL);
	check_err(pool_domain_name("ok", 1, buf, 6), ENAMETOOLONG);
	check_err(pool_domain_name("a23456789012345678901234567890123", 1, buf, sizeof(buf)), EINVAL);

	check_err(pool_domain_name_parse("golden", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi-sales", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi--3", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi-sales-", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi-sales-01", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi-sales-1x", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi-sa les-1", pool, sizeof(pool), &id), EINVAL);
	check_err(pool_domain_name_parse("vdi-sales-99999999999999999999", pool, sizeof(pool), &id), EINVAL);
	check_ok(pool_domain_name_parse("vdi-sales-0", pool, sizeof(pool), &id));
	check_int_eq(id, 0);
}

static void base_round_trip(const char *tmpl, int64_t version, const char *want)
{
	char buf[160], back[80];
	int64_t v = 0;

	check_ok(pool_base_name(tmpl, version, buf, sizeof(buf)));
	check_str_eq(buf, want);
	check_ok(pool_base_name_parse(buf, back, sizeof(back), &v));
	check_str_eq(back, tmpl);
	check_int_eq(v, version);
	/* A base is never an overlay (reconcile would take it for a leaked one). */
	check(!pool_overlay_name_is_ours(buf));
}

static void test_base_names(void)
{
	char buf[160], tmpl[80], long_name[66];
	int64_t v;

	base_round_trip("golden", 1, "vdi-template-golden-v1.qcow2");
	base_round_trip("win11", 42, "vdi-template-win11-v42.qcow2");
	/* '-' and 'v' and digits in a template name: the version is what follows the last "-v". */
	base_round_trip("a-v2", 3, "vdi-template-a-v2-v3.qcow2");
	base_round_trip("x.y_Z-1", 7, "vdi-template-x.y_Z-1-v7.qcow2");
	base_round_trip("0", INT64_MAX, "vdi-template-0-v9223372036854775807.qcow2");
	memset(long_name, 'n', 64);
	long_name[64] = '\0';
	check_ok(pool_base_name(long_name, 1, buf, sizeof(buf)));
	check_ok(pool_base_name_parse(buf, tmpl, sizeof(tmpl), &v));
	check_str_eq(tmpl, long_name);

	/* Bad template names and versions. */
	long_name[64] = 'n';
	long_name[65] = '\0';
	check_err(pool_base_name(long_name, 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name(NULL, 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name(".hidden", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("a/b", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("a b", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("a<b", 1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("golden", 0, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("golden", -1, buf, sizeof(buf)), EINVAL);
	check_err(pool_base_name("golden", 1, buf, 10), ENAMETOOLONG);
	check_err(pool_base_name("golden", 1, buf, strlen("vdi-template-golden-v1.qcow2")), ENAMETOOLONG);

	/* What does not parse as a base name. */
	static const char *const not_bases[] = {
		"vdi-sales-1.qcow2",          /* an overlay */
		"vdi-template-5.qcow2",       /* the overlay of desktop 5 of a pool named "template" */
		"vdi-template-golden-v0.qcow2",
		"vdi-template-golden-v01.qcow2",
		"vdi-template-golden-v.qcow2",
		"vdi-template-golden-v-1.qcow2",
		"vdi-template-golden-1.qcow2",
		"vdi-template-golden-vx.qcow2",
		"vdi-template-golden-v99999999999999999999.qcow2",
		"vdi-template--v1.qcow2",
		"vdi-template-.hidden-v1.qcow2",
		"vdi-template-a b-v1.qcow2",
		"vdi-template-golden-v1",
		"vdi-template-golden-v1.img",
		"vdi-template-golden-v1.qcow2.qcow2",
		"template-golden-v1.qcow2",
		"vdi-template-v1.qcow2",
		".qcow2",
		"",
	};
	for (size_t i = 0; i < ELEMENTSOF(not_bases); i++) {
		if (pool_base_name_parse(not_bases[i], tmpl, sizeof(tmpl), &v) != -EINVAL)
			vdi_test_fail(__FILE__, __LINE__, "\"%s\" parsed as a base name", not_bases[i]);
	}
	check_err(pool_base_name_parse(NULL, tmpl, sizeof(tmpl), &v), EINVAL);
	/* A template name longer than 64 characters is not one. */
	snprintf(buf, sizeof(buf), "vdi-template-%s-v1.qcow2", long_name);
	check_err(pool_base_name_parse(buf, tmpl, sizeof(tmpl), &v), EINVAL);
	/* ret_template too small. */
	check_err(pool_base_name_parse("vdi-template-golden-v1.qcow2", tmpl, 6, &v), EINVAL);
	check_ok(pool_base_name_parse("vdi-template-golden-v1.qcow2", tmpl, 7, &v));
	check_str_eq(tmpl, "golden");
}

/* Overlays are "<domain>.qcow2" of vdi's domain names only. */
static void test_overlay_names(void)
{
	check(pool_overlay_name_is_ours("vdi-sales-1.qcow2"));
	check(pool_overlay_name_is_ours("vdi-template-5.qcow2"));
	check(pool_overlay_name_is_ours("vdi-a_b-0.qcow2"));
	check(!pool_overlay_name_is_ours("vdi-template-golden-v1.qcow2"));
	check(!pool_overlay_name_is_ours("vdi-template-a-v2-v3.qcow2"));
	check(!pool_overlay_name_is_ours("vdi-sales.qcow2"));
	check(!pool_overlay_name_is_ours("vdi-sales-01.qcow2"));
	check(!pool_overlay_name_is_ours("vdi-sales-1"));
	check(!pool_overlay_name_is_ours("vdi-sales-1.img"));
	check(!pool_overlay_name_is_ours("vdi-.qcow2"));
	check(!pool_overlay_name_is_ours(".qcow2"));
	check(!pool_overlay_name_is_ours("golden.qcow2"));
	check(!pool_overlay_name_is_ours(NULL));
}

/* Data disks: "<domain>.data.qcow2", never an overlay's or a base's name; both give their domain back. */
static void test_data_disk_names(void)
{
	char buf[128];

	pool_data_disk_name("vdi-sales-1", buf, sizeof(buf));
	check_str_eq(buf, "vdi-sales-1.data.qcow2");
	check(pool_data_disk_name_is_ours("vdi-sales-1.data.qcow2"));
	check(!pool_overlay_name_is_ours("vdi-sales-1.data.qcow2"));
	check(!pool_data_disk_name_is_ours("vdi-sales-1.qcow2"));
	check(!pool_data_disk_name_is_ours("vdi-template-golden-v1.data.qcow2"));
	check(!pool_data_disk_name_is_ours("vdi-sales.data.qcow2"));
	check(!pool_data_disk_name_is_ours(".data.qcow2"));
	check(!pool_data_disk_name_is_ours(NULL));
	{
		char tmpl[80];
		int64_t v;

		check_err(pool_base_name_parse("vdi-sales-1.data.qcow2", tmpl, sizeof(tmpl), &v), EINVAL);
	}
	check_ok(pool_volume_domain("vdi-sales-1.data.qcow2", buf, sizeof(buf)));
	check_str_eq(buf, "vdi-sales-1");
	check_ok(pool_volume_domain("vdi-sales-12.qcow2", buf, sizeof(buf)));
	check_str_eq(buf, "vdi-sales-12");
	check_err(pool_volume_domain("vdi-template-golden-v1.qcow2", buf, sizeof(buf)), EINVAL);
	check_err(pool_volume_domain("vdi-sales-1.img", buf, sizeof(buf)), EINVAL);
	check_err(pool_volume_domain("vdi-sales-1.qcow2", buf, 5), EINVAL);
}

/* ---- QCOW2 probe and templates --------------------------------------------- */

static void test_qcow2_probe(void)
{
	_cleanup_free_ char *good = test_make_qcow2("good.qcow2", "16G");
	struct vdi_error err = { { 0 } };
	char raw[4096] = { 0 }, buf[512];
	uint64_t size = 0;
	_cleanup_free_ char *rawp = NULL, *trunc = NULL, *bad = NULL;
	int fd;

	check_ok(pool_qcow2_probe(good, &size, &err));
	check_int_eq(size, 16ULL << 30);

	rawp = write_file("raw.img", raw, sizeof(raw));
	check_err(pool_qcow2_probe(rawp, &size, &err), EINVAL);
	check_str_contains(err.message, "is not a QCOW2 image");
	check_str_contains(err.message, "raw.img");

	trunc = write_file("trunc.qcow2", "QFI\xfb\0\0\0\3", 8);
	check_err(pool_qcow2_probe(trunc, &size, &err), EINVAL);

	/* A real header with its cluster size scribbled over. */
	fd = open(good, O_RDONLY);
	check(fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	close(fd);
	buf[20] = 0; buf[21] = 0; buf[22] = 0; buf[23] = 40;
	bad = write_file("bad.qcow2", buf, sizeof(buf));
	check_err(pool_qcow2_probe(bad, &size, &err), EINVAL);
	check_str_contains(err.message, "corrupt");

	check_err(pool_qcow2_probe("/nonexistent/disk.qcow2", &size, &err), ENOENT);
	check_str_contains(err.message, "/nonexistent/disk.qcow2");
	check_err(pool_qcow2_probe(vdi_test_tmpdir(), &size, &err), EINVAL);
	check_str_contains(err.message, "not a regular file");
}

/* The source images publish takes: QCOW2 (any chain) or raw; nothing else. */
static void test_image_probe(void)
{
	_cleanup_free_ char *good = test_make_qcow2("good.qcow2", "16G"), *top = NULL, *rawp = NULL, *odd = NULL,
			    *empty = NULL, *trunc = NULL, *bad = NULL, *fifo = NULL;
	struct vdi_error err = { { 0 } };
	static const char zeros[4096];
	const char *format = NULL;
	char buf[512], cmd[2048];
	uint64_t size = 0;
	int fd;

	check_ok(pool_image_probe(good, &format, &size, &err));
	check_str_eq(format, "qcow2");
	check_int_eq(size, 16ULL << 30);

	/* An overlay with a backing file is a source like any other. */
	check(asprintf(&top, "%s/top.qcow2", vdi_test_tmpdir()) > 0);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -b '%s' -F qcow2 '%s' 8G", good, top);
	check_int_eq(system(cmd), 0);
	check_ok(pool_image_probe(top, &format, &size, &err));
	check_str_eq(format, "qcow2");
	check_int_eq(size, 8ULL << 30);

	rawp = write_file("disk.img", zeros, sizeof(zeros));
	check_ok(pool_image_probe(rawp, &format, &size, &err));
	check_str_eq(format, "raw");
	check_int_eq(size, sizeof(zeros));

	/* Raw images are whole sectors, and not empty. */
	odd = write_file("odd.img", zeros, 1000);
	check_err(pool_image_probe(odd, &format, &size, &err), EINVAL);
	check_str_contains(err.message, "odd.img");
	check_str_contains(err.message, "neither QCOW2 nor a raw image");
	empty = write_file("empty.img", zeros, 0);
	check_err(pool_image_probe(empty, &format, &size, &err), EINVAL);
	check_str_contains(err.message, "empty.img");

	/* QCOW2's magic makes it QCOW2: a bad header is not taken for raw. */
	trunc = write_file("trunc.qcow2", "QFI\xfb\0\0\0\3", 8);
	check_err(pool_image_probe(trunc, &format, &size, &err), EINVAL);
	check_str_contains(err.message, "cut short");
	fd = open(good, O_RDONLY);
	check(fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	close(fd);
	buf[23] = 40; /* cluster_bits */
	bad = write_file("bad.qcow2", buf, sizeof(buf));
	check_err(pool_image_probe(bad, &format, &size, &err), EINVAL);
	check_str_contains(err.message, "corrupt");

	/* Not there, not a file, not absolute: all -EINVAL, with the path in the message. */
	check_err(pool_image_probe("/nonexistent/disk.qcow2", &format, &size, &err), EINVAL);
	check_str_contains(err.message, "/nonexistent/disk.qcow2");
	check_err(pool_image_probe(vdi_test_tmpdir(), &format, &size, &err), EINVAL);
	check_str_contains(err.message, "not a regular file");
	check_err(pool_image_probe("disk.img", &format, &size, &err), EINVAL);
	check_str_contains(err.message, "absolute");
	check_err(pool_image_probe(NULL, &format, &size, &err), EINVAL);
	/* A FIFO is refused without waiting for a writer. */
	check(asprintf(&fifo, "%s/fifo", vdi_test_tmpdir()) > 0);
	check(mkfifo(fifo, 0644) == 0);
	check_err(pool_image_probe(fifo, &format, &size, &err), EINVAL);
	check_str_contains(err.message, "not a regular file");
	/* Unreadable (root reads everything: only checked for others). */
	if (geteuid() != 0) {
		check(chmod(rawp, 0) == 0);
		check_err(pool_image_probe(rawp, &format, &size, &err), EINVAL);
		check_str_contains(err.message, "cannot open");
	}
}

static void test_template_errors(void)
{
	_cleanup_free_ char *disk = test_make_qcow2("base.qcow2", "1G");
	struct vdi_error err = { { 0 } };
	struct pool_template *t = NULL;
	struct pool_template_options o = { .name = "golden", .disk_path = disk };

	o.name = "bad name";
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "template name");
	o.name = "golden";

	o.disk_path = "relative.qcow2";
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	o.disk_path = "/missing/base.qcow2";
	check_err(pool_template_new(&o, &t, &err), ENOENT);
	o.disk_path = disk;

	o.xml = "<domain><name>x</name";
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "not well-formed");
	o.xml = "<network/>";
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "<domain>");
	o.xml = "<domain><memory>1</memory><os/><devices><disk/><disk device='disk'/></devices></domain>";
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "2 disks");
	o.xml = "<domain><os/></domain>";
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check_str_contains(err.message, "<memory>");
	o.xml = NULL;
	o.vcpus = 100000;
	check_err(pool_template_new(&o, &t, &err), EINVAL);
	check(t == NULL);
}

static void test_template_default_and_overrides(void)
{
	_cleanup_free_ char *disk = test_make_qcow2("base.qcow2", "3G");
	struct pool_template_options o = { .name = "win11", .disk_path = disk, .memory_mib = 4096, .vcpus = 4 };
	struct pool_template *t = NULL;
	_cleanup_free_ char *mem = NULL, *unit = NULL, *vcpu = NULL, *video = NULL;

	check_ok(pool_template_new(&o, &t, NULL));
	check_int_eq(t->capacity, 3ULL << 30);
	mem = test_xpath(t->xml, "/domain/memory");
	unit = test_xpath(t->xml, "/domain/memory/@unit");
	vcpu = test_xpath(t->xml, "/domain/vcpu");
	video = test_xpath(t->xml, "/domain/devices/video/model/@type");
	check_str_eq(mem, "4096");
	check_str_eq(unit, "MiB");
	check_str_eq(vcpu, "4");
	check_str_eq(video, "qxl");
	pool_template_free(t);

	/* Overrides apply to a given XML too; currentMemory goes so that it cannot exceed memory. */
	o.xml = guest_xml;
	o.memory_mib = 256;
	o.vcpus = 0;
	check_ok(pool_template_new(&o, &t, NULL));
	free(mem);
	mem = test_xpath(t->xml, "/domain/memory");
	check_str_eq(mem, "256");
	check(test_xpath(t->xml, "/domain/currentMemory") == NULL);
	free(vcpu);
	vcpu = test_xpath(t->xml, "/domain/vcpu");
	check_str_eq(vcpu, "1");
	pool_template_free(t);
}

/* ---- domain XML rewriting ---------------------------------------------------- */

static void test_domxml_for_clone(void)
{
	struct pool_domxml_params p = {
		.name = "vdi-sales-3",
		.uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
		.virt_type = "qemu",
		.disk_path = "/images/vdi-sales-3.qcow2",
		.spice_socket = "/run/vdi/spice/vdi-sales-3.sock",
		.spice_password = "s3cret",
		.pool = "sales",
		.desktop_id = 3,
		.template_name = "golden",
	};
	_cleanup_free_ char *xml = NULL, *xml2 = NULL;
	char *v;

	check_ok(pool_domxml_for_clone(guest_xml, &p, &xml, NULL));

	XP_EQ(xml, "/domain/@type", "qemu");
	check(test_xpath(xml, "/domain/@id") == NULL);
	XP_EQ(xml, "/domain/name", "vdi-sales-3");
	XP_EQ(xml, "/domain/uuid", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	XP_EQ(xml, "count(/domain/metadata/vdi:desktop)", "1");
	XP_EQ(xml, "/domain/metadata/vdi:desktop/@pool", "sales");
	XP_EQ(xml, "/domain/metadata/vdi:desktop/@id", "3");
	XP_EQ(xml, "/domain/metadata/vdi:desktop/@template", "golden");
	XP_EQ(xml, "/domain/devices/disk[@device='disk']/@type", "file");
	XP_EQ(xml, "/domain/devices/disk[@device='disk']/driver/@type", "qcow2");
	XP_EQ(xml, "/domain/devices/disk[@device='disk']/source/@file", "/images/vdi-sales-3.qcow2");
	XP_EQ(xml, "count(/domain/devices/disk[@device='disk']/backingStore)", "0");
	XP_EQ(xml, "/domain/devices/disk[@device='cdrom']/target/@dev", "sda");
	XP_EQ(xml, "count(/domain/devices/graphics)", "1");
	XP_EQ(xml, "/domain/devices/graphics/@type", "spice");
	XP_EQ(xml, "/domain/devices/graphics/@passwd", "s3cret");
	XP_EQ(xml, "/domain/devices/graphics/listen/@type", "socket");
	XP_EQ(xml, "/domain/devices/graphics/listen/@socket", "/run/vdi/spice/vdi-sales-3.sock");
	XP_EQ(xml, "/domain/devices/video/model/@type", "qxl");
	XP_EQ(xml, "count(/domain/devices/interface/mac)", "2");

	/* Fresh MACs: not the template's, different between interfaces and between clones. */
	{
		_cleanup_free_ char *m1 = test_xpath(xml, "/domain/devices/interface[1]/mac/@address");
		_cleanup_free_ char *m2 = test_xpath(xml, "/domain/devices/interface[2]/mac/@address");
		_cleanup_free_ char *m3 = NULL;

		check(m1 && m2);
		check(strcmp(m1, "52:54:00:00:00:01") != 0);
		check(strncmp(m1, "52:54:00:", 9) == 0);
		check(strcmp(m1, m2) != 0);
		check_ok(pool_domxml_for_clone(guest_xml, &p, &xml2, NULL));
		m3 = test_xpath(xml2, "/domain/devices/interface[1]/mac/@address");
		check(strcmp(m1, m3) != 0);
	}

	/* A clone of a clone keeps one metadata element, the new one. */
	free(xml2);
	p.pool = "eng";
	check_ok(pool_domxml_for_clone(xml, &p, &xml2, NULL));
	v = test_xpath(xml2, "count(/domain/metadata/vdi:desktop)");
	check_str_eq(v, "1");
	free(v);
	v = test_xpath(xml2, "/domain/metadata/vdi:desktop/@pool");
	check_str_eq(v, "eng");
	free(v);
}

/* A user data disk: a second virtio disk after the system disk, on a free target; the system disk stays the first. */
static void test_domxml_data_disk(void)
{
	struct pool_domxml_params p = {
		.name = "vdi-home-3",
		.uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
		.virt_type = "qemu",
		.disk_path = "/images/vdi-home-3.qcow2",
		.data_disk_path = "/images/vdi-home-3.data.qcow2",
		.spice_socket = "/run/vdi/spice/vdi-home-3.sock",
		.spice_password = "s3cret",
		.pool = "home",
		.desktop_id = 3,
		.template_name = "golden",
	};
	_cleanup_free_ char *xml = NULL, *xml2 = NULL, *xml3 = NULL, *xml4 = NULL;
	struct pool_desktop_info info = { 0 };

	check_ok(pool_domxml_for_clone(guest_xml, &p, &xml, NULL));
	XP_EQ(xml, "count(/domain/devices/disk[@device='disk'])", "2");
	XP_EQ(xml, "/domain/devices/disk[1]/source/@file", "/images/vdi-home-3.qcow2");
	XP_EQ(xml, "/domain/devices/disk[1]/target/@dev", "vda");
	XP_EQ(xml, "/domain/devices/disk[2]/@type", "file");
	XP_EQ(xml, "/domain/devices/disk[2]/@device", "disk");
	XP_EQ(xml, "/domain/devices/disk[2]/driver/@type", "qcow2");
	XP_EQ(xml, "/domain/devices/disk[2]/source/@file", "/images/vdi-home-3.data.qcow2");
	XP_EQ(xml, "/domain/devices/disk[2]/target/@dev", "vdb");
	XP_EQ(xml, "/domain/devices/disk[2]/target/@bus", "virtio");
	XP_EQ(xml, "/domain/devices/disk[@device='cdrom']/target/@dev", "sda");
	/* The system disk is read back as the overlay, not the data disk. */
	check_ok(pool_domxml_read_desktop(xml, &info));
	check_str_eq(info.overlay_path, "/images/vdi-home-3.qcow2");
	pool_desktop_info_finish(&info);
	/* A clone made from it: one system disk (the data disk is not one), rewritten; one data disk. */
	p.data_disk_path = NULL;
	p.disk_path = "/images/vdi-home-4.qcow2";
	check_ok(pool_domxml_for_clone(xml, &p, &xml2, NULL));
	XP_EQ(xml2, "/domain/devices/disk[1]/source/@file", "/images/vdi-home-4.qcow2");
	XP_EQ(xml2, "count(/domain/devices/disk[@device='disk'])", "2");
	/* Added later: the same, and once only; vdb taken: the next free target. */
	check_ok(pool_domxml_add_data_disk(xml, "/images/vdi-home-3.data.qcow2", &xml3, NULL));
	XP_EQ(xml3, "count(/domain/devices/disk[@device='disk'])", "2");
	free(xml3);
	xml3 = NULL;
	p.disk_path = "/images/vdi-home-3.qcow2";
	check_ok(pool_domxml_for_clone(guest_xml, &p, &xml3, NULL));
	check_ok(pool_domxml_add_data_disk(xml3, "/images/vdi-home-3.data.qcow2", &xml4, NULL));
	XP_EQ(xml4, "/domain/devices/disk[2]/source/@file", "/images/vdi-home-3.data.qcow2");
	XP_EQ(xml4, "/domain/devices/disk[2]/target/@dev", "vdb");
	free(xml4);
	xml4 = NULL;
	{
		static const char vdb_taken[] =
			"<domain><memory>1</memory><os/><devices>"
			"<disk device='disk'><source file='/a.qcow2'/><target dev='vda' bus='virtio'/></disk>"
			"<disk device='cdrom'><target dev='vdb' bus='virtio'/></disk></devices></domain>";

		check_ok(pool_domxml_add_data_disk(vdb_taken, "/images/vdi-home-3.data.qcow2", &xml4, NULL));
		XP_EQ(xml4, "/domain/devices/disk[source/@file='/images/vdi-home-3.data.qcow2']/target/@dev", "vdc");
	}
	check_err(pool_domxml_add_data_disk("<domain", "/x.data.qcow2", &xml4, NULL), EINVAL);
}

/* A remote host's desktop: SPICE on the host's address, a port libvirt picks, still a ticket. */
static void test_domxml_spice_on_tcp(void)
{
	struct pool_domxml_params p = {
		.name = "vdi-sales-4", .uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeef", .virt_type = "kvm",
		.disk_path = "/images/vdi-sales-4.qcow2", .spice_socket = "/run/vdi/spice/vdi-sales-4.sock",
		.spice_address = "10.203.0.2", .spice_password = "s3cret", .pool = "sales", .desktop_id = 4,
		.template_name = "golden",
	};
	_cleanup_free_ char *xml = NULL;
	unsigned port = 0;

	check_ok(pool_domxml_for_clone(guest_xml, &p, &xml, NULL));
	XP_EQ(xml, "count(/domain/devices/graphics)", "1");
	XP_EQ(xml, "/domain/devices/graphics/@autoport", "yes");
	XP_EQ(xml, "/domain/devices/graphics/@passwd", "s3cret");
	XP_EQ(xml, "/domain/devices/graphics/listen/@type", "address");
	XP_EQ(xml, "/domain/devices/graphics/listen/@address", "10.203.0.2");
	XP_EQ(xml, "count(/domain/devices/graphics/listen/@socket)", "0");
	/* Not running: no port yet. */
	check_err(pool_domxml_spice_port(xml, &port), ENOENT);
	check_ok(pool_domxml_spice_port("<domain><devices><graphics type='vnc' port='5900'/>"
					"<graphics type='spice' port='5907' autoport='yes'/></devices></domain>",
					&port));
	check_int_eq(port, 5907);
	check_err(pool_domxml_spice_port("<domain><devices><graphics type='spice' port='-1'/></devices></domain>", &port),
		  ENOENT);
	check_err(pool_domxml_spice_port("<domain><devices><graphics type='spice' port='99999'/></devices></domain>",
					 &port), ENOENT);
	check_err(pool_domxml_spice_port("<domain><devices/></domain>", &port), ENOENT);
}

static void test_domxml_escaping_and_missing_parts(void)
{
	struct pool_domxml_params p = {
		.name = "vdi-a-1", .uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", .virt_type = "kvm",
		.disk_path = "/img/it's <odd> & \"quoted\".qcow2", .spice_socket = "/run/s.sock",
		.spice_password = "p'\"<&>", .pool = "a", .desktop_id = 1, .template_name = "t",
	};
	_cleanup_free_ char *xml = NULL, *src = NULL, *pw = NULL, *dev = NULL;
	struct vdi_error err = { { 0 } };

	/* No devices, no disk, no name: all added. */
	check_ok(pool_domxml_for_clone("<domain><memory>1</memory><os/></domain>", &p, &xml, NULL));
	src = test_xpath(xml, "/domain/devices/disk/source/@file");
	pw = test_xpath(xml, "/domain/devices/graphics/@passwd");
	dev = test_xpath(xml, "/domain/devices/disk/target/@dev");
	check_str_eq(src, p.disk_path);
	check_str_eq(pw, p.spice_password);
	check_str_eq(dev, "vda");

	check_err(pool_domxml_for_clone("<domain", &p, &xml, &err), EINVAL);
	p.uuid = NULL;
	check_err(pool_domxml_for_clone(guest_xml, &p, &xml, &err), EINVAL);
}

static void test_domxml_spice_ticket(void)
{
	static const char live[] =
		"<domain type='qemu' id='4'><name>vdi-a-1</name><devices>"
		"<graphics type='vnc' port='5901'/>"
		"<graphics type='spice' passwd='old'><listen type='socket' socket='/run/s.sock'/></graphics>"
		"</devices></domain>";
	_cleanup_free_ char *g = NULL, *g2 = NULL;
	char *v;

	check_ok(pool_domxml_spice_ticket(live, "n3w", "2030-01-02T03:04:05", &g, NULL));
	v = test_xpath(g, "/graphics/@passwd");
	check_str_eq(v, "n3w");
	free(v);
	v = test_xpath(g, "/graphics/@passwdValidTo");
	check_str_eq(v, "2030-01-02T03:04:05");
	free(v);
	v = test_xpath(g, "/graphics/listen/@socket");
	check_str_eq(v, "/run/s.sock");
	free(v);

	check_ok(pool_domxml_spice_ticket(live, "n3w", NULL, &g2, NULL));
	check(test_xpath(g2, "/graphics/@passwdValidTo") == NULL);

	check_err(pool_domxml_spice_ticket("<domain><devices/></domain>", "x", NULL, &g2, NULL), ENOENT);
}

/* ---- network attachments ------------------------------------------------------------ */

static void nic_ok(const char *value, enum pool_nic_kind kind, const char *name, unsigned vlan)
{
	struct pool_nic nic;
	struct vdi_error err = { { 0 } };
	char back[96];

	if (pool_nic_parse(value, &nic, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "'%s' did not parse: %s", value, err.message);
	check_int_eq(nic.kind, kind);
	check_str_eq(nic.name, name);
	check_int_eq(nic.vlan, vlan);
	check(!nic.isolated && nic.bandwidth_kbps == 0);
	check_ok(pool_nic_format(&nic, back, sizeof(back)));
	check_str_eq(back, value);
}

static void nic_bad(const char *value, const char *why)
{
	struct pool_nic nic = { .kind = POOL_NIC_BRIDGE, .name = "untouched" };
	struct vdi_error err = { { 0 } };

	if (pool_nic_parse(value, &nic, &err) != -EINVAL)
		vdi_test_fail(__FILE__, __LINE__, "'%s' parsed", value ? value : "(null)");
	check_str_contains(err.message, why);
	check_str_eq(nic.name, "untouched");
}

static void test_nic_parse(void)
{
	char name64[80], buf[96];
	struct pool_nic nic;
	struct vdi_error err = { { 0 } };

	nic_ok("network:default", POOL_NIC_NETWORK, "default", 0);
	nic_ok("network:lab_2.a-b", POOL_NIC_NETWORK, "lab_2.a-b", 0);
	nic_ok("bridge:br0", POOL_NIC_BRIDGE, "br0", 0);
	nic_ok("bridge:vmbr0.100", POOL_NIC_BRIDGE, "vmbr0.100", 0);
	nic_ok("bridge:abcdefghijklmno", POOL_NIC_BRIDGE, "abcdefghijklmno", 0);
	nic_ok("ovs:ovsbr0", POOL_NIC_OVS, "ovsbr0", 0);
	nic_ok("ovs:ovsbr0:1", POOL_NIC_OVS, "ovsbr0", 1);
	nic_ok("ovs:ovsbr0:4094", POOL_NIC_OVS, "ovsbr0", 4094);
	nic_ok("user", POOL_NIC_USER, "", 0);
	memset(name64, 'n', 64);
	name64[64] = '\0';
	snprintf(buf, sizeof(buf), "network:%s", name64);
	nic_ok(buf, POOL_NIC_NETWORK, name64, 0);

	/* What is wrong is named. */
	nic_bad(NULL, "empty network value");
	nic_bad("", "empty network value");
	nic_bad("network:", "empty network name");
	nic_bad("bridge:", "empty bridge name");
	nic_bad("ovs:", "empty bridge name");
	nic_bad("ovs::5", "empty bridge name");
	strcat(buf, "x");
	nic_bad(buf, "longer than 64");
	nic_bad("bridge:abcdefghijklmnop", "longer than 15");
	nic_bad("network:a b", "[A-Za-z0-9_.-]");
	nic_bad("network:a/b", "[A-Za-z0-9_.-]");
	nic_bad("network:.hidden", "not starting with '.'");
	nic_bad("network:<x>", "[A-Za-z0-9_.-]");
	nic_bad("bridge:br 0", "[A-Za-z0-9_.-]");
	nic_bad("bridge:br\t0", "[A-Za-z0-9_.-]");
	nic_bad("bridge:../x", "[A-Za-z0-9_.-]");
	nic_bad("ovs:br0:", "empty VLAN");
	nic_bad("ovs:br0:0", "outside 1-4094");
	nic_bad("ovs:br0:4095", "outside 1-4094");
	nic_bad("ovs:br0:99999", "not an integer");
	nic_bad("ovs:br0:-1", "not an integer");
	nic_bad("ovs:br0:+5", "not an integer");
	nic_bad("ovs:br0:5x", "not an integer");
	nic_bad("ovs:br0: 5", "not an integer");
	nic_bad("ovs:br0:5:6", "not an integer");
	nic_bad("network:default:5", "VLAN tag is only for ovs");
	nic_bad("bridge:br0:5", "VLAN tag is only for ovs");
	nic_bad("user:x", "user takes no name");
	nic_bad("vlan:5", "unknown network kind 'vlan'");
	nic_bad("bridged", "unknown network kind 'bridged'");
	nic_bad("Network:default", "unknown network kind 'Network'");

	/* The whole attachment: what libvirt can do with each kind. */
	check_ok(pool_nic_parse("network:default", &nic, &err));
	nic.isolated = true;
	nic.bandwidth_kbps = 1000;
	check_ok(pool_nic_check(&nic, &err));
	check_ok(pool_nic_parse("ovs:br0:7", &nic, &err));
	nic.isolated = true;
	check_err(pool_nic_check(&nic, &err), EINVAL);
	check_str_contains(err.message, "cannot be isolated");
	check_err(pool_nic_interface_xml(&nic, NULL, &(xmlNode *){ NULL }, &err), EINVAL);
	nic.isolated = false;
	nic.bandwidth_kbps = 5;
	check_ok(pool_nic_check(&nic, &err));
	check_ok(pool_nic_parse("user", &nic, &err));
	nic.isolated = true;
	check_err(pool_nic_check(&nic, &err), EINVAL);
	nic.isolated = false;
	nic.bandwidth_kbps = 5;
	check_err(pool_nic_check(&nic, &err), EINVAL);
	check_str_contains(err.message, "user mode");
	nic = (struct pool_nic){ .kind = POOL_NIC_TEMPLATE };
	check_ok(pool_nic_check(&nic, &err));
	check_ok(pool_nic_format(&nic, buf, sizeof(buf)));
	check_str_eq(buf, "");
	nic.bandwidth_kbps = 5;
	check_err(pool_nic_check(&nic, &err), EINVAL);
	check_str_contains(err.message, "template's own NICs");
	nic = (struct pool_nic){ .kind = POOL_NIC_BRIDGE, .name = "br0", .vlan = 3 };
	check_err(pool_nic_check(&nic, &err), EINVAL);
	check_err(pool_nic_format(&nic, buf, sizeof(buf)), EINVAL);
	nic = (struct pool_nic){ .kind = POOL_NIC_OVS, .name = "br0", .vlan = 4095 };
	check_err(pool_nic_check(&nic, &err), EINVAL);
	nic = (struct pool_nic){ .kind = POOL_NIC_NETWORK, .name = "" };
	check_err(pool_nic_check(&nic, &err), EINVAL);
	nic = (struct pool_nic){ .kind = POOL_NIC_USER, .name = "x" };
	check_err(pool_nic_check(&nic, &err), EINVAL);
	nic = (struct pool_nic){ .kind = (enum pool_nic_kind)42 };
	check_err(pool_nic_check(&nic, &err), EINVAL);
	check_err(pool_nic_check(NULL, &err), EINVAL);
	nic = (struct pool_nic){ .kind = POOL_NIC_OVS, .name = "ovsbr0", .vlan = 12 };
	check_err(pool_nic_format(&nic, buf, 10), ENAMETOOLONG);

	check(pool_nic_can_isolate(POOL_NIC_NETWORK) && pool_nic_can_isolate(POOL_NIC_BRIDGE));
	check(!pool_nic_can_isolate(POOL_NIC_OVS) && !pool_nic_can_isolate(POOL_NIC_USER));
}

/* libvirt's <bandwidth> counts KiB/s: ceil(kbps * 1000 / 8 / 1024), at least 1. */
static void test_bandwidth_kib(void)
{
	check_int_eq(pool_bandwidth_kib(0), 0);
	check_int_eq(pool_bandwidth_kib(1), 1);
	check_int_eq(pool_bandwidth_kib(8), 1);
	check_int_eq(pool_bandwidth_kib(9), 2); /* 1125 B/s */
	check_int_eq(pool_bandwidth_kib(8192), 1000);
	check_int_eq(pool_bandwidth_kib(8000), 977);
	check_int_eq(pool_bandwidth_kib(1000000), 122071); /* 1 Gbit/s: 122070.3 */
	check_int_eq(pool_bandwidth_kib(UINT32_MAX), 524288000); /* ceil(4294967295 * 125 / 1024) */
}

static struct pool_domxml_params nic_params(const struct pool_nic *nic)
{
	return (struct pool_domxml_params){
		.name = "vdi-net-1", .uuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", .virt_type = "qemu",
		.disk_path = "/images/vdi-net-1.qcow2", .spice_socket = "/run/vdi/spice/vdi-net-1.sock",
		.spice_password = "s3cret", .pool = "net", .desktop_id = 1, .template_name = "golden", .nic = nic,
	};
}

/* A clone's XML for nic: exactly one interface, virtio, a fresh MAC; *ret the XML. */
static char *nic_clone(const char *value, bool isolated, uint32_t kbps)
{
	struct pool_nic nic;
	struct pool_domxml_params p;
	struct vdi_error err = { { 0 } };
	char *xml = NULL, *v;

	check_ok(pool_nic_parse(value, &nic, &err));
	nic.isolated = isolated;
	nic.bandwidth_kbps = kbps;
	p = nic_params(&nic);
	if (pool_domxml_for_clone(guest_xml, &p, &xml, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "clone on %s: %s", value, err.message);
	v = test_xpath(xml, "count(/domain/devices/interface)");
	check_str_eq(v, "1");
	free(v);
	v = test_xpath(xml, "/domain/devices/interface/model/@type");
	check_str_eq(v, "virtio");
	free(v);
	v = test_xpath(xml, "/domain/devices/interface/mac/@address");
	check(v && strncmp(v, "52:54:00:", 9) == 0 && strcmp(v, "52:54:00:00:00:01") != 0);
	free(v);
	return xml;
}

static void test_domxml_nic(void)
{
	char *xml;

	xml = nic_clone("network:default", false, 0);
	XP_EQ(xml, "/domain/devices/interface/@type", "network");
	XP_EQ(xml, "/domain/devices/interface/source/@network", "default");
	XP_NONE(xml, "/domain/devices/interface/port");
	XP_NONE(xml, "/domain/devices/interface/filterref");
	XP_NONE(xml, "/domain/devices/interface/bandwidth");
	XP_NONE(xml, "/domain/devices/interface/virtualport");
	/* The interface took the template's first one's place: before the graphics the template had. */
	XP_EQ(xml, "count(/domain/devices/interface/following-sibling::graphics)", "1");
	free(xml);

	xml = nic_clone("bridge:br0", false, 0);
	XP_EQ(xml, "/domain/devices/interface/@type", "bridge");
	XP_EQ(xml, "/domain/devices/interface/source/@bridge", "br0");
	XP_NONE(xml, "/domain/devices/interface/virtualport");
	XP_NONE(xml, "/domain/devices/interface/vlan");
	free(xml);

	xml = nic_clone("ovs:ovsbr0", false, 0);
	XP_EQ(xml, "/domain/devices/interface/@type", "bridge");
	XP_EQ(xml, "/domain/devices/interface/source/@bridge", "ovsbr0");
	XP_EQ(xml, "/domain/devices/interface/virtualport/@type", "openvswitch");
	XP_NONE(xml, "/domain/devices/interface/vlan");
	free(xml);

	xml = nic_clone("ovs:ovsbr0:42", false, 0);
	XP_EQ(xml, "/domain/devices/interface/virtualport/@type", "openvswitch");
	XP_EQ(xml, "count(/domain/devices/interface/vlan/tag)", "1");
	XP_EQ(xml, "/domain/devices/interface/vlan/tag/@id", "42");
	free(xml);

	xml = nic_clone("user", false, 0);
	XP_EQ(xml, "/domain/devices/interface/@type", "user");
	XP_NONE(xml, "/domain/devices/interface/source");
	free(xml);

	/* Isolated: an isolated port, and clean-traffic learning the desktop's IP from DHCP. */
	xml = nic_clone("network:lab", true, 0);
	XP_EQ(xml, "/domain/devices/interface/port/@isolated", "yes");
	XP_EQ(xml, "/domain/devices/interface/filterref/@filter", "clean-traffic");
	XP_EQ(xml, "count(/domain/devices/interface/filterref/parameter)", "1");
	XP_EQ(xml, "/domain/devices/interface/filterref/parameter/@name", "CTRL_IP_LEARNING");
	XP_EQ(xml, "/domain/devices/interface/filterref/parameter/@value", "dhcp");
	free(xml);
	xml = nic_clone("bridge:br0", true, 0);
	XP_EQ(xml, "/domain/devices/interface/port/@isolated", "yes");
	XP_EQ(xml, "/domain/devices/interface/filterref/@filter", "clean-traffic");
	free(xml);

	/* Bandwidth in KiB/s, both ways. */
	xml = nic_clone("network:default", false, 8000);
	XP_EQ(xml, "/domain/devices/interface/bandwidth/inbound/@average", "977");
	XP_EQ(xml, "/domain/devices/interface/bandwidth/outbound/@average", "977");
	/* Inbound also as peak: Open vSwitch limits only by that (libvirt's average is its min-rate). */
	XP_EQ(xml, "/domain/devices/interface/bandwidth/inbound/@peak", "977");
	free(xml);
	xml = nic_clone("ovs:br1:9", false, 1);
	XP_EQ(xml, "/domain/devices/interface/bandwidth/inbound/@average", "1");
	XP_EQ(xml, "/domain/devices/interface/bandwidth/outbound/@average", "1");
	XP_EQ(xml, "/domain/devices/interface/bandwidth/inbound/@peak", "1");
	free(xml);

	/* A template without NICs gets one. */
	{
		struct pool_nic nic = { .kind = POOL_NIC_NETWORK, .name = "default" };
		struct pool_domxml_params p = nic_params(&nic);

		check_ok(pool_domxml_for_clone("<domain><memory>1</memory><os/></domain>", &p, &xml, NULL));
		XP_EQ(xml, "count(/domain/devices/interface)", "1");
		XP_EQ(xml, "/domain/devices/interface/source/@network", "default");
		free(xml);
		/* The template kind keeps the template's NICs (two, new MACs); a bad NIC is refused. */
		nic = (struct pool_nic){ .kind = POOL_NIC_TEMPLATE };
		check_ok(pool_domxml_for_clone(guest_xml, &p, &xml, NULL));
		XP_EQ(xml, "count(/domain/devices/interface)", "2");
		XP_EQ(xml, "count(/domain/devices/interface[@type='user']/mac)", "2");
		free(xml);
		nic = (struct pool_nic){ .kind = POOL_NIC_OVS, .name = "br0", .isolated = true };
		xml = NULL;
		check_err(pool_domxml_for_clone(guest_xml, &p, &xml, NULL), EINVAL);
		check(xml == NULL);
	}
}

/* A desktop made on test:///default with each kind: libvirt's schema takes what vmpool writes. */
static void test_desktop_nic(void)
{
	static const char *const values[] = { "network:default", "bridge:br0", "ovs:ovsbr0:12", "user" };
	struct pool_host *host = test_host();
	struct vdi_error err = { { 0 } };

	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		struct pool_template *t = test_template(guest_xml);
		struct pool_nic nic;
		struct pool_desktop_options o = { .nic = &nic };
		virConnectPtr c;
		virDomainPtr d;
		char *xml, *v, name[32];

		check_ok(pool_nic_parse(values[i], &nic, &err));
		nic.isolated = pool_nic_can_isolate(nic.kind);
		nic.bandwidth_kbps = nic.kind == POOL_NIC_USER ? 0 : 8000;
		/* The template's first clone is validated against libvirt's schema. */
		check(!t->validated);
		if (pool_desktop_create_with(host, t, "net", (int64_t)i, &o, &err) < 0)
			vdi_test_fail(__FILE__, __LINE__, "desktop on %s: %s", values[i], err.message);
		check(t->validated);
		c = virConnectOpen(TEST_URI);
		check(c);
		snprintf(name, sizeof(name), "vdi-net-%zu", i);
		d = virDomainLookupByName(c, name);
		check(d);
		xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
		v = test_xpath(xml, "count(/domain/devices/interface)");
		check_str_eq(v, "1");
		free(v);
		if (nic.bandwidth_kbps) {
			v = test_xpath(xml, "/domain/devices/interface/bandwidth/inbound/@average");
			check_str_eq(v, "977");
			free(v);
		}
		free(xml);
		virDomainFree(d);
		virConnectClose(c);
		pool_template_free(t);
	}
	/* A NIC libvirt cannot give: refused before anything is made. */
	{
		struct pool_template *t = test_template(guest_xml);
		struct pool_nic nic = { .kind = POOL_NIC_OVS, .name = "ovsbr0", .isolated = true };
		struct pool_desktop_options o = { .nic = &nic };

		check_err(pool_desktop_create_with(host, t, "net", 9, &o, &err), EINVAL);
		check_str_contains(err.message, "cannot be isolated");
		check(!domain_exists("vdi-net-9"));
		check_int_eq(count_overlays(host), ELEMENTSOF(values));
		pool_template_free(t);
	}
	pool_host_free(host);
}

/* ---- IPv4 subnets and libvirt networks -------------------------------------------------- */

static struct pool_subnet subnet(const char *cidr)
{
	struct pool_subnet s = { 0 };
	struct vdi_error err = { { 0 } };

	if (pool_subnet_parse(cidr, &s, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: %s", cidr, err.message);
	return s;
}

static void subnet_bad(const char *cidr, const char *why)
{
	struct pool_subnet s = { 0 };
	struct vdi_error err = { { 0 } };

	if (pool_subnet_parse(cidr, &s, &err) != -EINVAL)
		vdi_test_fail(__FILE__, __LINE__, "'%s' parsed", cidr ? cidr : "(null)");
	check_str_contains(err.message, why);
}

static void test_subnets(void)
{
	struct pool_subnet s, t;
	char buf[20], a[16];

	s = subnet("10.213.4.0/24");
	check_int_eq(s.network, 0x0ad50400);
	check_int_eq(s.prefix, 24);
	check_ok(pool_subnet_format(&s, buf, sizeof(buf)));
	check_str_eq(buf, "10.213.4.0/24");
	check_err(pool_subnet_format(&s, buf, 10), ENAMETOOLONG);
	pool_subnet_address(&s, 1, a);
	check_str_eq(a, "10.213.4.1");
	pool_subnet_address(&s, 255, a);
	check_str_eq(a, "10.213.4.255");
	s = subnet("0.0.0.0/0");
	check_int_eq(s.prefix, 0);
	s = subnet("192.168.1.7/32");
	check_int_eq(s.network, 0xc0a80107);

	subnet_bad(NULL, "empty subnet");
	subnet_bad("", "empty subnet");
	subnet_bad("10.0.0.0", "not an IPv4 CIDR");
	subnet_bad("10.0.0/24", "not an IPv4 address");
	subnet_bad("10.0.0.256/24", "not an IPv4 address");
	subnet_bad("010.0.0.0/24", "not an IPv4 address");
	subnet_bad("fd00::/64", "not an IPv4 address");
	subnet_bad("10.0.0.0/33", "prefix length");
	subnet_bad("10.0.0.0/", "prefix length");
	subnet_bad("10.0.0.0/2x", "prefix length");
	subnet_bad("10.0.0.0/-8", "prefix length");
	subnet_bad("10.0.0.0/024", "prefix length");
	subnet_bad("10.0.0.1/24", "host bits set: its network is 10.0.0.0/24");
	subnet_bad("10.213.5.0/16", "its network is 10.213.0.0/16");

	/* Overlap: one contains the other. */
	s = subnet("10.213.4.0/24");
	t = subnet("10.213.4.128/25");
	check(pool_subnet_overlaps(&s, &t) && pool_subnet_overlaps(&t, &s));
	t = subnet("10.213.5.0/24");
	check(!pool_subnet_overlaps(&s, &t));
	t = subnet("10.0.0.0/8");
	check(pool_subnet_overlaps(&s, &t) && pool_subnet_overlaps(&t, &s));
	t = subnet("10.213.3.252/30");
	check(!pool_subnet_overlaps(&s, &t));
	t = subnet("0.0.0.0/0");
	check(pool_subnet_overlaps(&s, &t));
	t = subnet("10.213.4.255/32");
	check(pool_subnet_overlaps(&s, &t));
	t = subnet("10.213.5.0/32");
	check(!pool_subnet_overlaps(&s, &t));

	/* What a network's <ip> says: netmask, prefix, or the address's class. */
	check_ok(pool_subnet_from_ip("192.168.122.1", "255.255.255.0", NULL, &s));
	check_ok(pool_subnet_format(&s, buf, sizeof(buf)));
	check_str_eq(buf, "192.168.122.0/24");
	check_ok(pool_subnet_from_ip("10.1.2.3", NULL, "20", &s));
	check_ok(pool_subnet_format(&s, buf, sizeof(buf)));
	check_str_eq(buf, "10.1.0.0/20");
	check_ok(pool_subnet_from_ip("172.16.3.1", NULL, NULL, &s));
	check_int_eq(s.prefix, 16);
	check_ok(pool_subnet_from_ip("10.3.3.1", NULL, NULL, &s));
	check_int_eq(s.prefix, 8);
	check_ok(pool_subnet_from_ip("192.0.2.1", NULL, NULL, &s));
	check_int_eq(s.prefix, 24);
	check_err(pool_subnet_from_ip("224.0.0.1", NULL, NULL, &s), EINVAL);
	check_err(pool_subnet_from_ip("10.0.0.1", "255.0.255.0", NULL, &s), EINVAL);
	check_err(pool_subnet_from_ip("fd00::1", NULL, "64", &s), EINVAL);
	check_err(pool_subnet_from_ip(NULL, NULL, "24", &s), EINVAL);
}

static void test_netxml(void)
{
	static const char two_ips[] =
		"<network><name>lab</name><forward mode='route' dev='eth0'/><bridge name='virbr7'/>"
		"<ip family='ipv6' address='fd00::1' prefix='64'/>"
		"<ip address='10.213.7.1' netmask='255.255.255.0'/><ip address='10.213.8.1' prefix='23'/></network>";
	struct pool_network_info info;
	struct pool_subnet subnets[4], s = subnet("10.213.9.0/24");
	size_t n = 0;
	char *xml = NULL;
	struct vdi_error err = { { 0 } };

	check_ok(pool_netxml_read(two_ips, &info, subnets, ELEMENTSOF(subnets), &n));
	check_str_eq(info.mode, "route");
	check_str_eq(info.bridge, "virbr7");
	check_str_eq(info.subnet, "10.213.7.0/24");
	check_int_eq(n, 2);
	check_int_eq(subnets[1].network, 0x0ad50800);
	check_int_eq(subnets[1].prefix, 23);
	free(info.mode), free(info.bridge), free(info.subnet);
	/* No <forward>: isolated; <forward/>: libvirt's nat; no IPv4: no subnet. */
	check_ok(pool_netxml_read("<network><name>i</name><ip family='ipv6' address='fd00::1' prefix='64'/></network>",
				  &info, NULL, 0, NULL));
	check_str_eq(info.mode, "isolated");
	check(!info.bridge && !info.subnet);
	free(info.mode);
	check_ok(pool_netxml_read("<network><forward/></network>", &info, NULL, 0, NULL));
	check_str_eq(info.mode, "nat");
	free(info.mode);
	check_ok(pool_netxml_read("<network><forward mode='bridge'/><bridge name='br0'/></network>", &info, NULL, 0, NULL));
	check_str_eq(info.mode, "bridge");
	check_str_eq(info.bridge, "br0");
	free(info.mode), free(info.bridge);
	check_err(pool_netxml_read("<domain/>", &info, NULL, 0, NULL), EINVAL);
	check_err(pool_netxml_read("<network", &info, NULL, 0, NULL), EINVAL);

	check_ok(pool_netxml_new("vdi-t16-nat", "nat", &s, &xml, &err));
	XP_EQ(xml, "/network/name", "vdi-t16-nat");
	XP_EQ(xml, "/network/forward/@mode", "nat");
	XP_EQ(xml, "/network/ip/@address", "10.213.9.1");
	XP_EQ(xml, "/network/ip/@prefix", "24");
	XP_EQ(xml, "/network/ip/dhcp/range/@start", "10.213.9.2");
	XP_EQ(xml, "/network/ip/dhcp/range/@end", "10.213.9.254");
	free(xml);
	s = subnet("10.213.10.0/30");
	check_ok(pool_netxml_new("r", "routed", &s, &xml, &err));
	XP_EQ(xml, "/network/forward/@mode", "route");
	XP_EQ(xml, "/network/ip/dhcp/range/@start", "10.213.10.2");
	XP_EQ(xml, "/network/ip/dhcp/range/@end", "10.213.10.2");
	free(xml);
	s = subnet("10.0.0.0/8");
	check_ok(pool_netxml_new("i", "isolated", &s, &xml, &err));
	XP_EQ(xml, "count(/network/forward)", "0");
	XP_EQ(xml, "/network/ip/dhcp/range/@end", "10.255.255.254");
	free(xml);
	check_err(pool_netxml_new("i", "bridge", &s, &xml, &err), EINVAL);
	check_str_contains(err.message, "none of nat, isolated, routed");
	check_err(pool_netxml_new("a b", "nat", &s, &xml, &err), EINVAL);
	check_str_contains(err.message, "network name");
	s = subnet("10.213.0.0/31");
	check_err(pool_netxml_new("i", "nat", &s, &xml, &err), EINVAL);
	check_str_contains(err.message, "/31 is outside /8-/30");
	s = subnet("10.0.0.0/7");
	check_err(pool_netxml_new("i", "nat", &s, &xml, &err), EINVAL);
}

static const struct pool_network_info *find_network(const struct pool_network_info *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(list[i].name, name))
			return &list[i];
	return NULL;
}

/* Networks on test:///default: it ships "default" (NAT, 192.168.122.0/24, active). */
static void test_networks(void)
{
	struct pool_host *host = test_host();
	struct pool_network_info *list = NULL;
	const struct pool_network_info *ni;
	struct vdi_error err = { { 0 } };
	size_t n = 0;

	check_ok(pool_network_list(host, &list, &n, &err));
	check_int_eq(n, 1);
	check_str_eq(list[0].name, "default");
	check_str_eq(list[0].mode, "nat");
	check(list[0].active);
	check_str_eq(list[0].bridge, "virbr0");
	check_str_eq(list[0].subnet, "192.168.122.0/24");
	pool_network_list_free(list, n);
	/* Ports: the test driver has none to tell (qemu's: tests/test-pool-networks); no such network, or a bad name. */
	check_int_eq(pool_network_ports(host, "default", &err), 0);
	check_err(pool_network_ports(host, "nosuchnet", &err), ENOENT);
	check_err(pool_network_ports(host, "../x", &err), EINVAL);
	check_int_eq(pool_host_has_network(host, "default", &err), 1);
	check_int_eq(pool_host_has_network(host, "nowhere", &err), 0);
	check_int_eq(pool_host_has_network(host, "a/b", &err), 0);

	/* Added: defined, active, autostarted, gateway and DHCP as asked. */
	check_ok(pool_network_add(host, "vdi-t16-nat", "nat", "10.213.1.0/24", &err));
	check_ok(pool_network_add(host, "vdi-t16-iso", "isolated", "10.213.2.0/24", &err));
	check_ok(pool_network_add(host, "vdi-t16-rt", "routed", "10.213.3.0/25", &err));
	check_ok(pool_network_list(host, &list, &n, &err));
	check_int_eq(n, 4);
	ni = find_network(list, n, "vdi-t16-nat");
	check(ni && ni->active && ni->autostart);
	check_str_eq(ni->mode, "nat");
	check_str_eq(ni->subnet, "10.213.1.0/24");
	ni = find_network(list, n, "vdi-t16-iso");
	check(ni && ni->active);
	check_str_eq(ni->mode, "isolated");
	ni = find_network(list, n, "vdi-t16-rt");
	check(ni);
	check_str_eq(ni->mode, "route");
	check_str_eq(ni->subnet, "10.213.3.0/25");
	pool_network_list_free(list, n);
	check_int_eq(pool_host_has_network(host, "vdi-t16-iso", &err), 1);

	/* Refused: a name taken, a subnet overlapping another network's (named), bad input. Nothing added. */
	check_err(pool_network_add(host, "vdi-t16-nat", "nat", "10.213.9.0/24", &err), EEXIST);
	check_str_contains(err.message, "vdi-t16-nat");
	check_err(pool_network_add(host, "vdi-t16-x", "nat", "10.213.1.128/25", &err), EINVAL);
	check_str_contains(err.message, "overlaps 10.213.1.0/24 of network vdi-t16-nat");
	check_err(pool_network_add(host, "vdi-t16-x", "nat", "10.213.0.0/16", &err), EINVAL);
	check_str_contains(err.message, "overlaps");
	check_err(pool_network_add(host, "vdi-t16-x", "nat", "192.168.0.0/16", &err), EINVAL);
	check_str_contains(err.message, "network default");
	check_err(pool_network_add(host, "vdi-t16-x", "nat", "10.213.9.1/24", &err), EINVAL);
	check_str_contains(err.message, "host bits");
	check_err(pool_network_add(host, "vdi-t16-x", "nat", "10.213.9.0/31", &err), EINVAL);
	check_err(pool_network_add(host, "vdi-t16-x", "open", "10.213.9.0/24", &err), EINVAL);
	check_err(pool_network_add(host, "vdi t16", "nat", "10.213.9.0/24", &err), EINVAL);
	check_err(pool_network_add(host, "vdi-t16-x", "nat", NULL, &err), EINVAL);
	check_int_eq(pool_host_has_network(host, "vdi-t16-x", &err), 0);

	/* Defined but not active counts as missing. */
	{
		virConnectPtr c = virConnectOpen(TEST_URI);
		virNetworkPtr net = virNetworkLookupByName(c, "vdi-t16-iso");

		check(net && virNetworkDestroy(net) == 0);
		check_int_eq(pool_host_has_network(host, "vdi-t16-iso", &err), 0);
		check_ok(pool_network_list(host, &list, &n, &err));
		ni = find_network(list, n, "vdi-t16-iso");
		check(ni && !ni->active);
		pool_network_list_free(list, n);
		virNetworkFree(net);
		virConnectClose(c);
	}

	/* Removed, active or not; then gone. */
	check_ok(pool_network_remove(host, "vdi-t16-nat", &err));
	check_ok(pool_network_remove(host, "vdi-t16-iso", &err));
	check_err(pool_network_remove(host, "vdi-t16-nat", &err), ENOENT);
	check_str_contains(err.message, "vdi-t16-nat");
	check_err(pool_network_remove(host, "a/b", &err), EINVAL);
	check_ok(pool_network_list(host, &list, &n, &err));
	check_int_eq(n, 2);
	check(!find_network(list, n, "vdi-t16-nat") && find_network(list, n, "vdi-t16-rt"));
	pool_network_list_free(list, n);
	/* Its subnet is free again. */
	check_ok(pool_network_add(host, "vdi-t16-nat2", "nat", "10.213.1.0/24", &err));
	pool_host_free(host);
}

/* The inbound average of a desktop's first NIC in its live or inactive XML ("none" when unlimited). */
static char *nic_average(const char *domain, bool live)
{
	virConnectPtr c = virConnectOpen(TEST_URI);
	virDomainPtr d = c ? virDomainLookupByName(c, domain) : NULL;
	char *xml, *v;

	check(d);
	xml = virDomainGetXMLDesc(d, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
	v = test_xpath(xml, "/domain/devices/interface[1]/bandwidth/inbound/@average");
	if (v) {
		_cleanup_free_ char *out = test_xpath(xml, "/domain/devices/interface[1]/bandwidth/outbound/@average");

		check_str_eq(out, v);
	}
	free(xml);
	virDomainFree(d);
	virConnectClose(c);
	return v ? v : strdup("none");
}

/* A limit changed on a running desktop: live and in its definition; 0 takes it away. */
static void test_desktop_bandwidth(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct pool_nic nic = { .kind = POOL_NIC_NETWORK, .name = "default", .bandwidth_kbps = 8000 };
	struct pool_desktop_options o = { .nic = &nic };
	struct vdi_error err = { { 0 } };
	char *v;

	check_ok(pool_desktop_create_with(host, t, "bw", 1, &o, &err));
	check_ok(pool_desktop_start(host, "vdi-bw-1", &err));
#define AVG_EQ(live, want) do { v = nic_average("vdi-bw-1", live); check_str_eq(v, want); free(v); } while (0)
	AVG_EQ(true, "977");
	check_ok(pool_desktop_set_bandwidth(host, "vdi-bw-1", 16000, &err));
	AVG_EQ(true, "1954");
	AVG_EQ(false, "1954");
	{
		virConnectPtr c = virConnectOpen(TEST_URI);
		virDomainPtr d = virDomainLookupByName(c, "vdi-bw-1");
		_cleanup_free_ char *xml = virDomainGetXMLDesc(d, 0);

		v = test_xpath(xml, "/domain/devices/interface[1]/bandwidth/inbound/@peak");
		check_str_eq(v, "1954");
		free(v);
		virDomainFree(d);
		virConnectClose(c);
	}
	check_ok(pool_desktop_set_bandwidth(host, "vdi-bw-1", 0, &err));
	AVG_EQ(true, "none");
	AVG_EQ(false, "none");
	/* Stopped: the definition only. */
	check_ok(pool_desktop_destroy(host, "vdi-bw-1", &err));
	check_ok(pool_desktop_set_bandwidth(host, "vdi-bw-1", 1, &err));
	AVG_EQ(false, "1");
#undef AVG_EQ
	/* A template's own two NICs: both get it. */
	check_ok(pool_desktop_create(host, t, "bw", 2, &err));
	check_ok(pool_desktop_set_bandwidth(host, "vdi-bw-2", 8000, &err));
	{
		virConnectPtr c = virConnectOpen(TEST_URI);
		virDomainPtr d = virDomainLookupByName(c, "vdi-bw-2");
		_cleanup_free_ char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);

		v = test_xpath(xml, "count(/domain/devices/interface/bandwidth/outbound[@average='977'])");
		check_str_eq(v, "2");
		free(v);
		virDomainFree(d);
		virConnectClose(c);
	}
	check_err(pool_desktop_set_bandwidth(host, "vdi-bw-9", 8000, &err), ENOENT);
	check_err(pool_desktop_set_bandwidth(host, "test", 8000, &err), EINVAL);
	/* No NIC at all. */
	{
		struct pool_template *bare = test_template("<domain><memory unit='MiB'>128</memory><os><type>hvm</type></os>"
							   "</domain>");

		check_ok(pool_desktop_create(host, bare, "bw", 3, &err));
		check_err(pool_desktop_set_bandwidth(host, "vdi-bw-3", 8000, &err), ENOENT);
		check_str_contains(err.message, "has no NIC");
		pool_template_free(bare);
	}
	pool_template_free(t);
	pool_host_free(host);
}

/* expr (an XPath expression) on domain's definition: a new string. */
static char *nic_xpath(const char *domain, const char *expr)
{
	virConnectPtr c = virConnectOpen(TEST_URI);
	virDomainPtr d = c ? virDomainLookupByName(c, domain) : NULL;
	char *xml, *v;

	check(d);
	xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	v = test_xpath(xml, expr);
	free(xml);
	virDomainFree(d);
	virConnectClose(c);
	check(v);
	return v;
}

/* A stopped desktop's NIC changed: one interface as the new nic says, the first one's MAC kept; refused while
 * it runs; nothing to do for the template's own NICs. */
static void test_desktop_set_nic(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct pool_nic nic = { .kind = POOL_NIC_NETWORK, .name = "default" }, bridge;
	struct pool_desktop_options o = { .nic = &nic };
	struct vdi_error err = { { 0 } };
	char *before, *after, *v;

	check_ok(pool_desktop_create_with(host, t, "setnic", 1, &o, &err));
	before = nic_xpath("vdi-setnic-1", "string(/domain/devices/interface/mac/@address)");
	check(strlen(before) == 17);
	check_ok(pool_nic_parse("bridge:br7", &bridge, &err));
	bridge.isolated = true;
	bridge.bandwidth_kbps = 8000;
	check_ok(pool_desktop_set_nic(host, "vdi-setnic-1", &bridge, &err));
	after = nic_xpath("vdi-setnic-1", "string(/domain/devices/interface/mac/@address)");
	check_str_eq(after, before);
	free(after);
	v = nic_xpath("vdi-setnic-1", "count(/domain/devices/interface)");
	check_str_eq(v, "1");
	free(v);
	v = nic_xpath("vdi-setnic-1", "concat(/domain/devices/interface/@type, ' ',"
				      " /domain/devices/interface/source/@bridge, ' ',"
				      " /domain/devices/interface/port/@isolated, ' ',"
				      " /domain/devices/interface/bandwidth/inbound/@average)");
	check_str_eq(v, "bridge br7 yes 977");
	free(v);
	/* The template's own NICs: nothing to do (they were made at the clone). */
	nic.kind = POOL_NIC_TEMPLATE;
	check_ok(pool_desktop_set_nic(host, "vdi-setnic-1", &nic, &err));
	check_ok(pool_desktop_set_nic(host, "vdi-setnic-1", NULL, &err));
	v = nic_xpath("vdi-setnic-1", "string(/domain/devices/interface/source/@bridge)");
	check_str_eq(v, "br7");
	free(v);
	/* Running: refused, the definition as it was. */
	check_ok(pool_desktop_start(host, "vdi-setnic-1", &err));
	nic = (struct pool_nic){ .kind = POOL_NIC_USER };
	check_err(pool_desktop_set_nic(host, "vdi-setnic-1", &nic, &err), EBUSY);
	check_str_contains(err.message, "must be stopped");
	v = nic_xpath("vdi-setnic-1", "string(/domain/devices/interface/@type)");
	check_str_eq(v, "bridge");
	free(v);
	check_err(pool_desktop_set_nic(host, "vdi-setnic-9", &nic, &err), ENOENT);
	free(before);
	pool_template_free(t);
	pool_host_free(host);
}

/* Addresses: none while stopped; the test driver's made-up lease while running. */
static void test_desktop_addresses(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct pool_nic nic = { .kind = POOL_NIC_NETWORK, .name = "default" };
	struct pool_desktop_options o = { .nic = &nic };
	struct vdi_error err = { { 0 } };
	char **addrs = NULL;

	check_ok(pool_desktop_create_with(host, t, "ad", 1, &o, &err));
	check_ok(pool_desktop_addresses(host, "vdi-ad-1", &addrs, &err));
	check(addrs && addrs[0] == NULL);
	pool_strv_free(addrs);
	check_ok(pool_desktop_start(host, "vdi-ad-1", &err));
	check_ok(pool_desktop_addresses(host, "vdi-ad-1", &addrs, &err));
	check(addrs[0] && !addrs[1]);
	check(startswith(addrs[0], "192.168.122."));
	check(!strchr(addrs[0], '/'));
	pool_strv_free(addrs);
	check_err(pool_desktop_addresses(host, "vdi-ad-2", &addrs, &err), ENOENT);
	pool_template_free(t);
	pool_host_free(host);
}

/* A program through the guest agent: the test driver has none (the real one: test-broker-vms); the refusals. */
static void test_agent_exec_refusals(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct vdi_error err = { { 0 } };
	const char *lock[] = { "/bin/vdi-lock", NULL }, *none[] = { NULL };
	int status = -1;

	check_ok(pool_desktop_create(host, t, "ax", 1, &err));
	check_ok(pool_desktop_start(host, "vdi-ax-1", &err));
	check_err(pool_desktop_agent_exec(host, "vdi-ax-1", lock, 1000, &status, &err), EOPNOTSUPP);
	check_str_contains(err.message, "vdi-ax-1");
	check_int_eq(status, -1);
	check_err(pool_desktop_agent_exec(host, "vdi-ax-1", none, 1000, &status, &err), EINVAL);
	check_err(pool_desktop_agent_exec(host, "vdi-ax-2", lock, 1000, &status, &err), ENOENT);
	check_err(pool_desktop_agent_exec(host, "not-ours", lock, 1000, &status, &err), EINVAL);
	pool_template_free(t);
	pool_host_free(host);
}

/* What is shown of what libvirt reports: no loopback, no link-local, each address once. */
static void test_addresses_collect(void)
{
	virDomainIPAddress a1[] = {
		{ .type = VIR_IP_ADDR_TYPE_IPV4, .addr = (char *)"127.0.0.1", .prefix = 8 },
		{ .type = VIR_IP_ADDR_TYPE_IPV6, .addr = (char *)"::1", .prefix = 128 },
	};
	virDomainIPAddress a2[] = {
		{ .type = VIR_IP_ADDR_TYPE_IPV4, .addr = (char *)"10.213.1.17", .prefix = 24 },
		{ .type = VIR_IP_ADDR_TYPE_IPV6, .addr = (char *)"fe80::5054:ff:fe12:3456", .prefix = 64 },
		{ .type = VIR_IP_ADDR_TYPE_IPV6, .addr = (char *)"fd00:213::17", .prefix = 64 },
		{ .type = VIR_IP_ADDR_TYPE_IPV4, .addr = (char *)"10.213.1.17", .prefix = 24 },
		{ .type = VIR_IP_ADDR_TYPE_IPV4, .addr = (char *)"not an address", .prefix = 24 },
	};
	struct _virDomainInterface lo = { .name = (char *)"lo", .naddrs = 2, .addrs = a1 };
	struct _virDomainInterface eth = { .name = (char *)"eth0", .naddrs = 5, .addrs = a2 };
	virDomainInterfacePtr ifaces[] = { &lo, &eth };
	char **strv = NULL;

	check_ok(pool_addresses_collect(ifaces, 2, &strv));
	check_str_eq(strv[0], "10.213.1.17");
	check_str_eq(strv[1], "fd00:213::17");
	check(strv[2] == NULL);
	pool_strv_free(strv);
	check_ok(pool_addresses_collect(ifaces, 0, &strv));
	check(strv[0] == NULL);
	pool_strv_free(strv);
}

/* What a guest agent tells (virDomainGetGuestInfo's typed parameters, as libvirt names them): host name, users
 * each once, addresses filtered as pool_addresses_collect() filters them. */
static void test_guest_info_from_params(void)
{
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0;
	struct pool_guest_info info;

	check_ok(virInitialize()); /* libvirt's error state, which virTypedParamsAdd*() reset */
	check_ok(virTypedParamsAddString(&p, &n, &max, "hostname", "vdi-guest"));
	check_ok(virTypedParamsAddUInt(&p, &n, &max, "user.count", 3));
	check_ok(virTypedParamsAddString(&p, &n, &max, "user.0.name", "vdiuser"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "user.1.name", "ann"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "user.2.name", "vdiuser"));
	check_ok(virTypedParamsAddUInt(&p, &n, &max, "if.count", 2));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.0.name", "lo"));
	check_ok(virTypedParamsAddUInt(&p, &n, &max, "if.0.addr.count", 2));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.0.addr.0.type", "ipv4"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.0.addr.0.addr", "127.0.0.1"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.0.addr.1.type", "ipv6"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.0.addr.1.addr", "::1"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.name", "eth0"));
	check_ok(virTypedParamsAddUInt(&p, &n, &max, "if.1.addr.count", 3));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.addr.0.type", "ipv4"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.addr.0.addr", "10.0.2.15"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.addr.1.type", "ipv6"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.addr.1.addr", "fe80::5054:ff:fe12:3456"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.addr.2.type", "ipv6"));
	check_ok(virTypedParamsAddString(&p, &n, &max, "if.1.addr.2.addr", "fec0::5054:ff:fe12:3456"));
	check_ok(pool_guest_info_from_params(p, n, &info));
	check(info.agent);
	check_str_eq(info.hostname, "vdi-guest");
	check_str_eq(info.users[0], "vdiuser");
	check_str_eq(info.users[1], "ann");
	check(info.users[2] == NULL);
	check_str_eq(info.addresses[0], "10.0.2.15");
	check_str_eq(info.addresses[1], "fec0::5054:ff:fe12:3456");
	check(info.addresses[2] == NULL);
	pool_guest_info_finish(&info);
	check(!info.agent && !info.hostname && !info.users);
	virTypedParamsFree(p, n);

	/* An agent that supports none of them (an old one): it answered, with nothing. */
	check_ok(pool_guest_info_from_params(NULL, 0, &info));
	check(info.agent && !info.hostname && info.users && !info.users[0] && info.addresses && !info.addresses[0]);
	pool_guest_info_finish(&info);
}

/* Whether a domain's live XML has the guest agent channel, and whether libvirt says an agent opened it. */
static void test_domxml_agent_state(void)
{
	static const char *const with = "<domain type='qemu'><devices><channel type='unix'>"
					"<target type='virtio' name='org.qemu.guest_agent.0' state='%s'/></channel>"
					"</devices></domain>";
	char xml[512];

	snprintf(xml, sizeof(xml), with, "connected");
	check_int_eq(pool_domxml_agent_state(xml), POOL_AGENT_CONNECTED);
	snprintf(xml, sizeof(xml), with, "disconnected");
	check_int_eq(pool_domxml_agent_state(xml), POOL_AGENT_DISCONNECTED);
	check_int_eq(pool_domxml_agent_state("<domain><devices><channel type='unix'>"
					     "<target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>"),
		     POOL_AGENT_DISCONNECTED);
	/* The SPICE agent's channel is not the guest agent's. */
	check_int_eq(pool_domxml_agent_state("<domain><devices><channel type='spicevmc'>"
					     "<target type='virtio' name='com.redhat.spice.0' state='connected'/></channel>"
					     "</devices></domain>"),
		     POOL_AGENT_NONE);
	check_int_eq(pool_domxml_agent_state("<domain/>"), POOL_AGENT_NONE);
	check_int_eq(pool_domxml_agent_state("<network/>"), -EINVAL);
}

/* ---- capabilities: which domain type "auto" picks ------------------------------ */

static char *caps_xml(const char *arch, const char *feature, const char *domains)
{
	char *xml;

	check(asprintf(&xml,
		       "<capabilities><host><cpu><arch>%s</arch>%s</cpu>"
		       "<secmodel><model>dac</model><doi>0</doi>"
		       "<baselabel type='kvm'>+64055:+107</baselabel><baselabel type='qemu'>+64055:+108</baselabel>"
		       "</secmodel></host>"
		       "<guest><os_type>hvm</os_type><arch name='%s'>%s</arch></guest></capabilities>",
		       arch, feature, arch, domains) > 0);
	return xml;
}

/* The paths a domain's disks name, for pool_host_path_user(). */
static void test_domxml_disk_paths(void)
{
	static const char xml[] =
		"<domain type='kvm'><name>d</name><devices>"
		"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a/top.qcow2'/>"
		"<backingStore type='file' index='1'><format type='qcow2'/><source file='/a/mid.qcow2'/>"
		"<backingStore type='file' index='2'><format type='raw'/><source file='/b/base.img'/>"
		"<backingStore/></backingStore></backingStore>"
		"<target dev='vda' bus='virtio'/></disk>"
		"<disk type='block' device='disk'><source dev='/dev/vg/lv'/><target dev='vdb'/></disk>"
		"<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sda'/><readonly/></disk>"
		"<disk type='file' device='cdrom'><target dev='sdb'/></disk>"
		"<disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h'/></source>"
		"<target dev='vdc'/></disk>"
		"<filesystem type='mount'><source dir='/not/a/disk'/><target dir='t'/></filesystem>"
		"<interface type='user'/>"
		"</devices></domain>";
	static const char *const want[] = { "/a/top.qcow2", "/a/mid.qcow2", "/b/base.img", "/dev/vg/lv", "/iso/x.iso" };
	char **paths = NULL;
	size_t n = 0;

	check_ok(pool_domxml_disk_paths(xml, &paths));
	while (paths[n])
		n++;
	check_int_eq(n, ELEMENTSOF(want));
	for (size_t i = 0; i < n; i++)
		check_str_eq(paths[i], want[i]);
	pool_strv_free(paths);

	check_ok(pool_domxml_disk_paths("<domain><name>x</name></domain>", &paths));
	check(paths[0] == NULL);
	pool_strv_free(paths);
	check_ok(pool_domxml_disk_paths(guest_xml, &paths));
	check_str_eq(paths[0], "/golden.img");
	check(paths[1] == NULL);
	pool_strv_free(paths);

	check_err(pool_domxml_disk_paths("<domain>", &paths), EINVAL);
	check_err(pool_domxml_disk_paths("<pool/>", &paths), EINVAL);
	check_err(pool_domxml_disk_paths("", &paths), EINVAL);
	check_err(pool_domxml_disk_paths(NULL, &paths), EINVAL);
}

/* A volume's backing file and a pool's directory, from their XML. */
static void test_volxml_and_poolxml(void)
{
	char *s = NULL;

	check_ok(pool_volxml_backing_path("<volume type='file'><name>o.qcow2</name><target><path>/p/o.qcow2</path>"
					  "</target><backingStore><path>/t/base.qcow2</path><format type='qcow2'/>"
					  "</backingStore></volume>", &s));
	check_str_eq(s, "/t/base.qcow2");
	free(s);
	check_err(pool_volxml_backing_path("<volume><name>b</name><target><path>/p/b</path></target></volume>", &s),
		  ENOENT);
	check_err(pool_volxml_backing_path("<volume><backingStore><path></path></backingStore></volume>", &s), ENOENT);
	check_err(pool_volxml_backing_path("<pool><backingStore><path>/x</path></backingStore></pool>", &s), EINVAL);
	check_err(pool_volxml_backing_path("<volume", &s), EINVAL);

	check_ok(pool_poolxml_target_path("<pool type='dir'><name>p</name><source/><target><path>/var/lib/x</path>"
					  "<permissions><mode>0711</mode></permissions></target></pool>", &s));
	check_str_eq(s, "/var/lib/x");
	free(s);
	check_err(pool_poolxml_target_path("<pool type='rbd'><name>p</name></pool>", &s), ENOENT);
	check_err(pool_poolxml_target_path("<volume><target><path>/x</path></target></volume>", &s), EINVAL);
}

static void test_caps_pick_domain_type(void)
{
	static const char both[] = "<domain type='qemu'/><domain type='kvm'/>";
	struct vdi_error err = { { 0 } };
	char type[16];
	uid_t uid;
	gid_t gid;
	char *x;

	/* A real KVM host: kvm offered, and the CPU has svm (or vmx). */
	x = caps_xml("x86_64", "<feature name='svm'/>", both);
	check_ok(pool_caps_parse(x, "auto", type, sizeof(type), &uid, &gid, &err));
	check_str_eq(type, "kvm");
	check_int_eq(uid, 64055);
	check_int_eq(gid, 107);
	check_ok(pool_caps_parse(x, "qemu", type, sizeof(type), &uid, &gid, &err));
	check_str_eq(type, "qemu");
	check_int_eq(gid, 108);
	free(x);

	/* /dev/kvm passed through by a hypervisor without vmx/svm: guests would hang, so TCG. */
	x = caps_xml("x86_64", "<feature name='hypervisor'/>", both);
	check_ok(pool_caps_parse(x, "auto", type, sizeof(type), &uid, &gid, &err));
	check_str_eq(type, "qemu");
	/* Asked for explicitly, kvm is still used. */
	check_ok(pool_caps_parse(x, "kvm", type, sizeof(type), &uid, &gid, &err));
	check_str_eq(type, "kvm");
	free(x);

	/* No /dev/kvm at all. */
	x = caps_xml("x86_64", "<feature name='vmx'/>", "<domain type='qemu'/>");
	check_ok(pool_caps_parse(x, NULL, type, sizeof(type), &uid, &gid, &err));
	check_str_eq(type, "qemu");
	check_err(pool_caps_parse(x, "kvm", type, sizeof(type), &uid, &gid, &err), EOPNOTSUPP);
	check_str_contains(err.message, "kvm");
	free(x);

	/* Other architectures have no vmx/svm flags: kvm when offered. */
	x = caps_xml("aarch64", "", both);
	check_ok(pool_caps_parse(x, "auto", type, sizeof(type), &uid, &gid, &err));
	check_str_eq(type, "kvm");
	free(x);

	x = caps_xml("x86_64", "", "");
	check_err(pool_caps_parse(x, "auto", type, sizeof(type), &uid, &gid, &err), EOPNOTSUPP);
	free(x);
	check_err(pool_caps_parse("<capabilities", "auto", type, sizeof(type), &uid, &gid, &err), EIO);
}

/* ---- hosts and desktops on test:///default -------------------------------------- */

static void test_host_basics(void)
{
	struct pool_host *host = test_host();

	check_str_eq(pool_host_virt_type(host), "test");
	check_str_eq(pool_host_uri(host), TEST_URI);
	check(pool_host_is_alive(host));
	check_int_eq(pool_host_reconnects(host), 0);
	check_int_eq(count_overlays(host), 0);
	/* A second host on the same storage pool finds it instead of failing. */
	pool_host_free(test_host());
	pool_host_free(host);
}

static void test_host_errors(void)
{
	struct pool_host_options o = { .uri = TEST_URI, .storage_pool = "vdi", .runtime_dir = "/run/vdi" };
	struct vdi_error err = { { 0 } };
	struct pool_host *host = NULL;

	o.runtime_dir = "relative";
	check_err(pool_host_new(&o, &host, &err), EINVAL);
	o.runtime_dir = "/run/vdi";
	o.virt_type = "xen";
	check_err(pool_host_new(&o, &host, &err), EINVAL);
	check_str_contains(err.message, "xen");
	o.virt_type = "kvm";
	check_err(pool_host_new(&o, &host, &err), EOPNOTSUPP);
	check_str_contains(err.message, "kvm");
	o.virt_type = NULL;
	/* No pool and no path to create one at. */
	check_err(pool_host_new(&o, &host, &err), ENOENT);
	check_str_contains(err.message, "storage pool 'vdi'");

	/* libvirtd down: nothing listens on that socket. */
	o.uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";
	o.storage_path = "/var/lib/vdi/images";
	check_err(pool_host_new(&o, &host, &err), ENOTCONN);
	check_str_contains(err.message, "cannot connect to qemu+unix:///system");
	check(host == NULL);
}

static void test_desktop_lifecycle(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct pool_desktop_info info;
	struct pool_desktop_info *list = NULL;
	struct vdi_error err = { { 0 } };
	size_t n = 0;
	char target[256];

	check_ok(pool_desktop_create(host, t, "sales", 1, &err));
	check_ok(pool_desktop_create(host, t, "sales", 2, &err));
	check(domain_exists("vdi-sales-1"));
	check_int_eq(count_overlays(host), 2);

	check_ok(pool_desktop_get_info(host, "vdi-sales-1", &info, &err));
	check_str_eq(info.pool, "sales");
	check_int_eq(info.desktop_id, 1);
	check_str_eq(info.template_name, "golden");
	check_str_eq(info.overlay_path, "/vdi-images/vdi-sales-1.qcow2");
	check_int_eq(info.state, POOL_DESKTOP_STOPPED);
	check_int_eq(strlen(info.uuid), 36);
	pool_desktop_info_finish(&info);

	/* Listing finds ours only: test:///default ships a domain "test" of its own. */
	check(domain_exists("test"));
	check_ok(pool_desktop_list(host, &list, &n, &err));
	check_int_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		check(strncmp(list[i].domain, "vdi-sales-", 10) == 0);
	pool_desktop_list_free(list, n);

	check_ok(pool_desktop_start(host, "vdi-sales-1", &err));
	check_ok(pool_desktop_start(host, "vdi-sales-1", &err)); /* already running: fine */
	check_ok(pool_desktop_get_info(host, "vdi-sales-1", &info, &err));
	check_int_eq(info.state, POOL_DESKTOP_RUNNING);
	pool_desktop_info_finish(&info);

	check_ok(pool_desktop_spice_target(host, "vdi-sales-1", target, sizeof(target)));
	check(startswith(target, "unix:"));
	check(strstr(target, "/spice/vdi-sales-1.sock"));

	/* No guest agent answers on the test driver (its channel is never connected): no guest info, no agent
	 * shutdown.  The test driver ignores ACPI: shutdown falls back to destroy. */
	{
		struct pool_guest_info gi;

		check_ok(pool_desktop_guest_info(host, "vdi-sales-1", &gi, &err));
		check(!gi.agent && !gi.hostname && !gi.users && !gi.addresses);
		pool_guest_info_finish(&gi);
		check_err(pool_desktop_guest_info(host, "test", &gi, &err), EINVAL);
		pool_guest_info_finish(&gi);
	}
	check_int_eq(pool_desktop_shutdown(host, "vdi-sales-1", 300, &err), 0);
	check_ok(pool_desktop_get_info(host, "vdi-sales-1", &info, &err));
	check_int_eq(info.state, POOL_DESKTOP_STOPPED);
	pool_desktop_info_finish(&info);

	check_ok(pool_desktop_reset(host, t, "vdi-sales-2", &err));
	check_int_eq(count_overlays(host), 2);

	check_ok(pool_desktop_delete(host, "vdi-sales-1", &err));
	check(!domain_exists("vdi-sales-1"));
	check_int_eq(count_overlays(host), 1);
	/* Deleting what is gone is not an error. */
	check_ok(pool_desktop_delete(host, "vdi-sales-1", &err));

	pool_template_free(t);
	pool_host_free(host);
}

static void test_desktop_errors(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct vdi_error err = { { 0 } };

	check_ok(pool_desktop_create(host, t, "sales", 1, &err));

	/* Duplicate: refused, and nothing more created. */
	check_err(pool_desktop_create(host, t, "sales", 1, &err), EEXIST);
	check_str_contains(err.message, "vdi-sales-1");
	check_int_eq(count_overlays(host), 1);

	check_err(pool_desktop_create(host, t, "no-dash", 1, &err), EINVAL);
	check_err(pool_desktop_create(host, t, "sales", -4, &err), EINVAL);
	check_err(pool_desktop_create(host, NULL, "sales", 4, &err), EINVAL);

	check_err(pool_desktop_start(host, "vdi-sales-9", &err), ENOENT);
	check_str_contains(err.message, "vdi-sales-9");
	check_err(pool_desktop_start(host, "test", &err), EINVAL);
	check_err(pool_desktop_destroy(host, "vdi-sales-9", &err), ENOENT);
	check_err(pool_desktop_reset(host, t, "vdi-sales-9", &err), ENOENT);
	check_err(pool_desktop_set_ticket(host, "vdi-sales-1", "", 0, &err), EINVAL);
	check_err(pool_desktop_set_ticket(host, "vdi-sales-1",
					  "0123456789012345678901234567890123456789012345678901234567890", 0, &err),
		  EINVAL);
	check_err(pool_desktop_set_ticket(host, "vdi-sales-1", "has space", 0, &err), EINVAL);
	check_err(pool_desktop_set_ticket(host, "vdi-sales-1", "ok", 0, &err), EAGAIN);
	check_str_contains(err.message, "not running");

	/* A template XML libvirt rejects: the overlay made before the define goes too. */
	{
		struct pool_template bad = *t;

		bad.xml = (char *)"<domain><memory>1</memory><os><type>hvm</type></os>"
				  "<devices><controller type='nonsense'/></devices></domain>";
		check(pool_desktop_create(host, &bad, "sales", 2, &err) < 0);
		check_str_contains(err.message, "vdi-sales-2");
		check(!domain_exists("vdi-sales-2"));
		check_int_eq(count_overlays(host), 1);
	}

	pool_template_free(t);
	pool_host_free(host);
}

/* Makes a volume in the test driver's storage pool "vdi" (at /vdi-images), optionally backed by backing. */
static void make_volume(const char *name, const char *backing)
{
	virConnectPtr c = virConnectOpen(TEST_URI);
	virStoragePoolPtr sp = c ? virStoragePoolLookupByName(c, "vdi") : NULL;
	virStorageVolPtr v;
	char xml[1024];

	check(sp);
	snprintf(xml, sizeof(xml),
		 "<volume><name>%s</name><capacity>1048576</capacity><target><format type='qcow2'/></target>"
		 "%s%s%s</volume>", name, backing ? "<backingStore><path>" : "", backing ? backing : "",
		 backing ? "</path><format type='qcow2'/></backingStore>" : "");
	v = virStorageVolCreateXML(sp, xml, 0);
	if (!v)
		vdi_test_fail(__FILE__, __LINE__, "cannot make volume %s: %s", name, virGetLastErrorMessage());
	virStorageVolFree(v);
	virStoragePoolFree(sp);
	virConnectClose(c);
}

static virDomainPtr define_user(const char *name, const char *disk)
{
	virConnectPtr c = virConnectOpen(TEST_URI);
	virDomainPtr d;
	char xml[1024];

	check(c);
	snprintf(xml, sizeof(xml),
		 "<domain type='test'><name>%s</name><memory>131072</memory><os><type>hvm</type></os><devices>"
		 "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk></devices></domain>",
		 name, disk);
	d = virDomainDefineXML(c, xml);
	if (!d)
		vdi_test_fail(__FILE__, __LINE__, "cannot define %s: %s", name, virGetLastErrorMessage());
	virConnectClose(c);
	return d;
}

static size_t strv_len(char **strv)
{
	size_t n = 0;

	while (strv && strv[n])
		n++;
	return n;
}

/* Base volumes on the test driver: listed apart from overlays, and deleted only when unused. */
/* The path of a volume of the test host's storage pool, or NULL when there is none. */
static char *volume_path(struct pool_host *host, const char *name)
{
	virConnectPtr c = virConnectOpen(TEST_URI);
	virStoragePoolPtr sp;
	virStorageVolPtr vol;
	char *path = NULL;

	(void)host;
	check(c);
	sp = virStoragePoolLookupByName(c, "vdi");
	check(sp);
	vol = virStorageVolLookupByName(sp, name);
	if (vol) {
		path = virStorageVolGetPath(vol);
		virStorageVolFree(vol);
	}
	virStoragePoolFree(sp);
	virConnectClose(c);
	return path;
}

/* A desktop with a data disk: made with it, attached; reset keeps it, delete takes it; leftovers listed. */
static void test_desktop_data_disk(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct pool_desktop_options o = { .data_disk_bytes = 64 << 20 };
	struct pool_desktop_info info;
	struct vdi_error err = { { 0 } };
	_cleanup_free_ char *path = NULL;
	char **list = NULL;

	check_ok(pool_desktop_create_with(host, t, "home", 1, &o, &err));
	path = volume_path(host, "vdi-home-1.data.qcow2");
	check_str_eq(path, "/vdi-images/vdi-home-1.data.qcow2");
	check_ok(pool_desktop_get_info(host, "vdi-home-1", &info, &err));
	check_str_eq(info.overlay_path, "/vdi-images/vdi-home-1.qcow2");
	pool_desktop_info_finish(&info);
	/* Reconcile's listing has both volumes. */
	check_ok(pool_overlay_list(host, &list, &err));
	check_int_eq(strv_len(list), 2);
	pool_strv_free(list);
	/* A reset replaces the overlay only; asking for the disk again changes nothing. */
	check_ok(pool_desktop_reset(host, t, "vdi-home-1", &err));
	free(path);
	path = volume_path(host, "vdi-home-1.data.qcow2");
	check(path);
	check_int_eq(pool_desktop_data_disk(host, "vdi-home-1", 64 << 20, &err), 0);
	/* A desktop made without one gets one, attached to its definition. */
	check_ok(pool_desktop_create(host, t, "home", 2, &err));
	check_int_eq(pool_desktop_data_disk(host, "vdi-home-2", 32 << 20, &err), 1);
	free(path);
	path = volume_path(host, "vdi-home-2.data.qcow2");
	check(path);
	{
		virConnectPtr c = virConnectOpen(TEST_URI);
		virDomainPtr d = virDomainLookupByName(c, "vdi-home-2");
		_cleanup_free_ char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);

		check(strstr(xml, "/vdi-images/vdi-home-2.data.qcow2"));
		/* The redefinition kept the SPICE ticket. */
		check(strstr(xml, "passwd="));
		virDomainFree(d);
		virConnectClose(c);
	}
	check_int_eq(pool_desktop_data_disk(host, "vdi-home-2", 32 << 20, &err), 0);
	check_int_eq(pool_desktop_data_disk(host, "vdi-home-2", 16 << 20, &err), 0); /* never shrunk */
	check_err(pool_desktop_data_disk(host, "vdi-home-2", 0, &err), EINVAL);
	/* Growing it: the test driver has no resize, so libvirt's refusal is what comes back. */
	check(pool_desktop_data_disk(host, "vdi-home-2", 64 << 20, &err) < 0);
	check_str_contains(err.message, "cannot grow the data disk of desktop vdi-home-2");
	/* Running: no attaching. */
	check_ok(pool_desktop_create(host, t, "home", 3, &err));
	check_ok(pool_desktop_start(host, "vdi-home-3", &err));
	check_err(pool_desktop_data_disk(host, "vdi-home-3", 32 << 20, &err), EBUSY);
	check_str_contains(err.message, "stopped");
	free(path);
	path = volume_path(host, "vdi-home-3.data.qcow2");
	check(!path);
	/* Delete takes both volumes. */
	check_ok(pool_desktop_delete(host, "vdi-home-1", &err));
	free(path);
	path = volume_path(host, "vdi-home-1.data.qcow2");
	check(!path);
	check(!volume_path(host, "vdi-home-1.qcow2"));
	/* A data disk its desktop lost is listed, as an overlay is. */
	check_ok(pool_desktop_delete(host, "vdi-home-3", &err));
	make_volume("vdi-home-9.data.qcow2", NULL);
	check_ok(pool_overlay_list(host, &list, &err));
	check_int_eq(strv_len(list), 3);
	pool_strv_free(list);
	pool_template_free(t);
	pool_host_free(host);
}

static void test_base_list_and_delete(void)
{
	struct pool_host *host = test_host();
	struct vdi_error err = { { 0 } };
	char **list = NULL, user[64];
	virDomainPtr d;

	make_volume("vdi-template-golden-v1.qcow2", NULL);
	make_volume("vdi-template-golden-v2.qcow2", NULL);
	make_volume("vdi-sales-1.qcow2", "/vdi-images/vdi-template-golden-v2.qcow2");
	make_volume("admin-own.qcow2", NULL);

	check_ok(pool_base_list(host, &list, &err));
	check_int_eq(strv_len(list), 2);
	check(streq(list[0], "/vdi-images/vdi-template-golden-v1.qcow2") ||
	      streq(list[1], "/vdi-images/vdi-template-golden-v1.qcow2"));
	check(streq(list[0], "/vdi-images/vdi-template-golden-v2.qcow2") ||
	      streq(list[1], "/vdi-images/vdi-template-golden-v2.qcow2"));
	pool_strv_free(list);
	/* Reconcile's list has the overlay only. */
	check_ok(pool_overlay_list(host, &list, &err));
	check_int_eq(strv_len(list), 1);
	check_str_eq(list[0], "vdi-sales-1.qcow2");
	pool_strv_free(list);

	/* v1 is a domain's disk, v2 the backing file of a (stopped) domain's disk volume. */
	d = define_user("user1", "/vdi-images/vdi-template-golden-v1.qcow2");
	check_int_eq(pool_host_path_user(host, "/vdi-images/vdi-template-golden-v1.qcow2", user, sizeof(user), &err), 1);
	check_str_eq(user, "user1");
	{
		virDomainPtr d2 = define_user("user2", "/vdi-images/vdi-sales-1.qcow2");

		check_int_eq(pool_host_path_user(host, "/vdi-images/vdi-template-golden-v2.qcow2", user, sizeof(user),
						 &err), 1);
		check_str_eq(user, "user2");
		check_err(pool_base_delete(host, "/vdi-images/vdi-template-golden-v2.qcow2", &err), EBUSY);
		check_str_contains(err.message, "user2");
		check_ok(virDomainUndefine(d2));
		virDomainFree(d2);
	}
	check_int_eq(pool_host_path_user(host, "/vdi-images/vdi-template-golden-v2.qcow2", user, sizeof(user), &err), 0);
	check_int_eq(pool_host_path_user(host, "/nowhere.qcow2", user, sizeof(user), &err), 0);
	check_err(pool_host_path_user(host, "relative.qcow2", user, sizeof(user), &err), EINVAL);

	check_err(pool_base_delete(host, "/vdi-images/vdi-template-golden-v1.qcow2", &err), EBUSY);
	check_str_contains(err.message, "user1");
	check_str_contains(err.message, "vdi-template-golden-v1.qcow2");
	check_ok(virDomainUndefine(d));
	virDomainFree(d);
	check_ok(pool_base_delete(host, "/vdi-images/vdi-template-golden-v1.qcow2", &err));
	/* Gone already: not an error. */
	check_ok(pool_base_delete(host, "/vdi-images/vdi-template-golden-v1.qcow2", &err));
	check_ok(pool_base_list(host, &list, &err));
	check_int_eq(strv_len(list), 1);
	check_str_eq(list[0], "/vdi-images/vdi-template-golden-v2.qcow2");
	pool_strv_free(list);

	/* Not a base, or not in the host's storage pool: refused, and nothing is deleted. */
	check_err(pool_base_delete(host, "/vdi-images/vdi-sales-1.qcow2", &err), EINVAL);
	check_err(pool_base_delete(host, "/vdi-images/admin-own.qcow2", &err), EINVAL);
	check_err(pool_base_delete(host, "/elsewhere/vdi-template-golden-v2.qcow2", &err), EINVAL);
	check_str_contains(err.message, "not in storage pool 'vdi'");
	check_err(pool_base_delete(host, "/vdi-images/sub/vdi-template-golden-v2.qcow2", &err), EINVAL);
	check_err(pool_base_delete(host, "vdi-template-golden-v2.qcow2", &err), EINVAL);
	check_err(pool_base_delete(host, NULL, &err), EINVAL);
	check_int_eq(count_overlays(host), 1);

	/* A base is made from a real file: the test driver has none, but the checks come first. */
	{
		char *path = NULL;

		check_err(pool_base_create(host, ".bad", 1, "/x.qcow2", &path, &err), EINVAL);
		check_err(pool_base_create(host, "golden", 0, "/x.qcow2", &path, &err), EINVAL);
		check_err(pool_base_create(host, "golden", 3, "/nonexistent.qcow2", &path, &err), EINVAL);
		check_str_contains(err.message, "/nonexistent.qcow2");
		check(path == NULL);
	}
	pool_host_free(host);
}

/* A stopped desktop names its template's disk only through its overlay volume's backing file. */
static void test_path_user_through_overlay(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct vdi_error err = { { 0 } };
	char user[64];

	check_int_eq(pool_host_path_user(host, t->disk_path, user, sizeof(user), &err), 0);
	check_ok(pool_desktop_create(host, t, "sales", 1, &err));
	check_int_eq(pool_host_path_user(host, t->disk_path, user, sizeof(user), &err), 1);
	check_str_eq(user, "vdi-sales-1");
	check_int_eq(pool_host_path_user(host, "/vdi-images/vdi-sales-1.qcow2", user, sizeof(user), &err), 1);
	check_ok(pool_desktop_delete(host, "vdi-sales-1", &err));
	check_int_eq(pool_host_path_user(host, t->disk_path, user, sizeof(user), &err), 0);
	pool_template_free(t);
	pool_host_free(host);
}

static void test_first_clone_validates_template(void)
{
	static const char typo_xml[] =
		"<domain><memory unit='MiB'>128</memory><os><type arch='i686'>hvm</type></os>"
		"<devices><disk type='file' device='disk'><target dev='vda'/></disk>"
		"<tablet-typo/></devices></domain>";
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(typo_xml);
	struct pool_template *good = test_template(guest_xml);
	struct vdi_error err = { { 0 } };

	/* libvirt's parser alone would ignore the unknown element; the schema check refuses it. */
	check(!t->validated);
	check(pool_desktop_create(host, t, "val", 1, &err) < 0);
	check_str_contains(err.message, "vdi-val-1");
	check(!t->validated);
	check(pool_desktop_create(host, t, "val", 2, &err) < 0);
	check(!domain_exists("vdi-val-1") && !domain_exists("vdi-val-2"));
	check_int_eq(count_overlays(host), 0);

	check_ok(pool_desktop_create(host, good, "val", 3, &err));
	check(good->validated);
	check_ok(pool_desktop_create(host, good, "val", 4, &err));
	check_int_eq(count_overlays(host), 2);

	pool_template_free(good);
	pool_template_free(t);
	pool_host_free(host);
}

/* A desktop paused through libvirt: why, resumed, and what resume says of one that is not running. */
static void test_desktop_pause_and_resume(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct pool_desktop_info info;
	struct vdi_error err = { { 0 } };
	virConnectPtr c;
	virDomainPtr d;

	check_ok(pool_desktop_create(host, t, "sales", 7, &err));
	check_ok(pool_desktop_start(host, "vdi-sales-7", &err));
	check_ok(pool_desktop_get_info(host, "vdi-sales-7", &info, &err));
	check_int_eq(info.pause_reason, POOL_PAUSE_NONE);
	pool_desktop_info_finish(&info);

	c = virConnectOpen(TEST_URI);
	check(c);
	d = virDomainLookupByName(c, "vdi-sales-7");
	check(d);
	check(virDomainSuspend(d) == 0);
	check_ok(pool_desktop_get_info(host, "vdi-sales-7", &info, &err));
	check_int_eq(info.state, POOL_DESKTOP_PAUSED);
	check_int_eq(info.pause_reason, POOL_PAUSE_USER);
	pool_desktop_info_finish(&info);

	check_ok(pool_desktop_resume(host, "vdi-sales-7", &err));
	check_ok(pool_desktop_get_info(host, "vdi-sales-7", &info, &err));
	check_int_eq(info.state, POOL_DESKTOP_RUNNING);
	check_int_eq(info.pause_reason, POOL_PAUSE_NONE);
	pool_desktop_info_finish(&info);
	check_ok(pool_desktop_resume(host, "vdi-sales-7", &err)); /* running already: fine */

	check_ok(pool_desktop_destroy(host, "vdi-sales-7", &err));
	check_int_eq(pool_desktop_resume(host, "vdi-sales-7", &err), -ESRCH);
	check_str_contains(err.message, "not running");
	check_int_eq(pool_desktop_resume(host, "vdi-sales-8", &err), -ENOENT);

	virDomainFree(d);
	virConnectClose(c);
	check_ok(pool_desktop_delete(host, "vdi-sales-7", &err));
	pool_template_free(t);
	pool_host_free(host);
}

static void test_events(void)
{
	struct pool_host *host = test_host();
	struct pool_template *t = test_template(guest_xml);
	struct test_event_log log = TEST_EVENT_LOG_INIT;
	virConnectPtr c;
	virDomainPtr d;

	pool_host_set_event_handler(host, test_event_record, &log);
	check_ok(pool_desktop_create(host, t, "ev", 5, NULL));
	check_ok(pool_desktop_start(host, "vdi-ev-5", NULL));
	check_ok(pool_desktop_destroy(host, "vdi-ev-5", NULL));
	check_ok(pool_desktop_delete(host, "vdi-ev-5", NULL));

	check(test_event_wait(&log, "defined:vdi-ev-5:ev:5", 5000));
	check(test_event_wait(&log, "started:vdi-ev-5:ev:5", 5000));
	check(test_event_wait(&log, "stopped:vdi-ev-5:ev:5", 5000));
	check(test_event_wait(&log, "undefined:vdi-ev-5:ev:5", 5000));

	/* Domains that are not ours make no events. */
	c = virConnectOpen(TEST_URI);
	d = virDomainLookupByName(c, "test");
	check(d && virDomainSuspend(d) == 0 && virDomainResume(d) == 0);
	virDomainFree(d);
	virConnectClose(c);
	/* libvirt delivers a driver's events in order: once a later event of ours arrived, the
	 * earlier ones of "test" were handled, and none of them reached the handler. */
	check_ok(pool_desktop_create(host, t, "ev", 6, NULL));
	check(test_event_wait(&log, "defined:vdi-ev-6:ev:6", 5000));
	check(strstr(log.text, ":test:") == NULL);
	check(strstr(log.text, "suspended:") == NULL && strstr(log.text, "resumed:") == NULL);

	/* Once set_event_handler() returns, the old handler is never called again: not for vdi-ev-7,
	 * defined while there was none, nor for vdi-ev-8, defined under a new handler, whose arrival
	 * there says that libvirt has delivered everything before it.  (vdi-ev-7's own event may
	 * reach the new handler: libvirt dispatches it after it was queued.) */
	pool_host_set_event_handler(host, NULL, NULL);
	pthread_mutex_lock(&log.lock);
	log.text[0] = '\0';
	pthread_mutex_unlock(&log.lock);
	check_ok(pool_desktop_create(host, t, "ev", 7, NULL));
	{
		struct test_event_log later = TEST_EVENT_LOG_INIT;

		pool_host_set_event_handler(host, test_event_record, &later);
		check_ok(pool_desktop_create(host, t, "ev", 8, NULL));
		check(test_event_wait(&later, "defined:vdi-ev-8:ev:8", 5000));
		pool_host_set_event_handler(host, NULL, NULL);
	}
	check_str_eq(log.text, "");

	pool_template_free(t);
	pool_host_free(host);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_domain_names),
	VDI_TEST(test_base_names),
	VDI_TEST(test_overlay_names),
	VDI_TEST(test_data_disk_names),
	VDI_TEST(test_qcow2_probe),
	VDI_TEST(test_image_probe),
	VDI_TEST(test_template_errors),
	VDI_TEST(test_template_default_and_overrides),
	VDI_TEST(test_domxml_for_clone),
	VDI_TEST(test_domxml_data_disk),
	VDI_TEST(test_domxml_spice_on_tcp),
	VDI_TEST(test_domxml_escaping_and_missing_parts),
	VDI_TEST(test_domxml_spice_ticket),
	VDI_TEST(test_nic_parse),
	VDI_TEST(test_bandwidth_kib),
	VDI_TEST(test_domxml_nic),
	VDI_TEST(test_subnets),
	VDI_TEST(test_netxml),
	VDI_TEST(test_domxml_disk_paths),
	VDI_TEST(test_volxml_and_poolxml),
	VDI_TEST(test_caps_pick_domain_type),
	VDI_TEST(test_host_basics),
	VDI_TEST(test_host_errors),
	VDI_TEST(test_desktop_lifecycle),
	VDI_TEST(test_desktop_errors),
	VDI_TEST(test_desktop_data_disk),
	VDI_TEST(test_desktop_nic),
	VDI_TEST(test_networks),
	VDI_TEST(test_desktop_bandwidth),
	VDI_TEST(test_desktop_set_nic),
	VDI_TEST(test_desktop_addresses),
	VDI_TEST(test_agent_exec_refusals),
	VDI_TEST(test_addresses_collect),
	VDI_TEST(test_guest_info_from_params),
	VDI_TEST(test_domxml_agent_state),
	VDI_TEST(test_base_list_and_delete),
	VDI_TEST(test_path_user_through_overlay),
	VDI_TEST(test_first_clone_validates_template),
	VDI_TEST(test_desktop_pause_and_resume),
	VDI_TEST(test_events),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
