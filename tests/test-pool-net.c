/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A pool's network settings: the bodies that carry them, their effective values, the NIC a job builds. */
#include <errno.h>
#include <string.h>

#include "bodies.h"
#include "harness.h"
#include "pool-net.h"

/* A literal body and its length. */
#define TEXT(s) s, strlen(s)

/* A job row's network settings, as the store gives them. */
static json_t *row(const char *network, bool persistent, int isolate, int64_t kbps)
{
	json_t *r = json_pack("{s:s?, s:i, s:I}", "network", network, "persistent", persistent, "bandwidth_kbps",
			      (json_int_t)kbps);

	check(r);
	json_object_set_new(r, "isolate_desktops", isolate < 0 ? json_null() : json_integer(isolate));
	return r;
}

static void check_nic(json_t *r, int want, enum pool_nic_kind kind, const char *name, bool isolated, uint32_t kbps)
{
	struct pool_nic nic;
	struct vdi_error err = { 0 };

	if (want < 0) {
		check_err(broker_pool_nic_from_row(r, &nic, &err), -want);
		check(err.message[0]);
	} else {
		check_ok(broker_pool_nic_from_row(r, &nic, &err));
		check_int_eq(nic.kind, kind);
		check_str_eq(nic.name, name);
		check_int_eq(nic.isolated, isolated);
		check_int_eq(nic.bandwidth_kbps, kbps);
	}
	json_decref(r);
}

static void test_nic_from_row(void)
{
	/* No network: the template's NICs, neither isolated nor limited. */
	check_nic(row(NULL, false, -1, 0), 0, POOL_NIC_TEMPLATE, "", false, 0);
	/* Pooled on a libvirt network: isolated by default; persistent: not. */
	check_nic(row("network:lan", false, -1, 5000), 0, POOL_NIC_NETWORK, "lan", true, 5000);
	check_nic(row("network:lan", true, -1, 0), 0, POOL_NIC_NETWORK, "lan", false, 0);
	check_nic(row("network:lan", true, 1, 0), 0, POOL_NIC_NETWORK, "lan", true, 0);
	check_nic(row("bridge:br0", false, 0, 0), 0, POOL_NIC_BRIDGE, "br0", false, 0);
	/* Open vSwitch and user mode cannot be isolated: the default leaves them so. */
	check_nic(row("ovs:br-lan:42", false, -1, 100), 0, POOL_NIC_OVS, "br-lan", false, 100);
	check_nic(row("user", false, -1, 0), 0, POOL_NIC_USER, "", false, 0);
	/* Stored values that do not go together. */
	check_nic(row("ovs:br-lan", false, 1, 0), -EINVAL, 0, NULL, false, 0);
	check_nic(row("user", false, -1, 10), -EINVAL, 0, NULL, false, 0);
	check_nic(row(NULL, false, -1, 10), -EINVAL, 0, NULL, false, 0);
	check_nic(row("nope:x", false, -1, 0), -EINVAL, 0, NULL, false, 0);
}

static void test_effective(void)
{
	check(broker_isolate_effective(BROKER_ISOLATE_DEFAULT, false, POOL_NIC_NETWORK));
	check(broker_isolate_effective(BROKER_ISOLATE_DEFAULT, false, POOL_NIC_BRIDGE));
	check(!broker_isolate_effective(BROKER_ISOLATE_DEFAULT, false, POOL_NIC_OVS));
	check(!broker_isolate_effective(BROKER_ISOLATE_DEFAULT, false, POOL_NIC_TEMPLATE));
	check(!broker_isolate_effective(BROKER_ISOLATE_DEFAULT, true, POOL_NIC_NETWORK));
	check(!broker_isolate_effective(BROKER_ISOLATE_NO, false, POOL_NIC_NETWORK));
	check(broker_isolate_effective(BROKER_ISOLATE_YES, true, POOL_NIC_BRIDGE));
	check_str_eq(broker_network_libvirt_name("network:default"), "default");
	check(!broker_network_libvirt_name("bridge:br0"));
	check(!broker_network_libvirt_name(NULL));
}

static void check_refused(const char *body, bool update, const char *needle)
{
	struct broker_pool_body b = { .size = 3, .max_per_user = 1 };
	struct vdi_error err = { 0 };
	int r = update ? broker_parse_pool_update(body, strlen(body), &b, &err)
		       : broker_parse_pool_create(body, strlen(body), &b, &err);

	if (r != -EINVAL)
		vdi_test_fail(__FILE__, __LINE__, "%s: %d, not -EINVAL", body, r);
	check_str_contains(err.message, needle);
	broker_pool_body_finish(&b);
}

static void test_pool_bodies(void)
{
	static const char base[] = "{\"name\":\"p\",\"template\":\"t\",\"size\":2";
	struct broker_pool_body b;
	struct vdi_error err = { 0 };
	char text[512];

	snprintf(text, sizeof(text), "%s,\"network\":\"network:lan\",\"isolate_desktops\":false,\"bandwidth_kbps\":700}",
		 base);
	check_ok(broker_parse_pool_create(text, strlen(text), &b, &err));
	check_str_eq(b.network, "network:lan");
	check_int_eq(b.isolate, BROKER_ISOLATE_NO);
	check_int_eq(b.bandwidth_kbps, 700);
	broker_pool_body_finish(&b);
	snprintf(text, sizeof(text), "%s,\"network\":\"\",\"isolate_desktops\":null}", base);
	check_ok(broker_parse_pool_create(text, strlen(text), &b, &err));
	check(!b.network);
	check_int_eq(b.isolate, BROKER_ISOLATE_DEFAULT);
	broker_pool_body_finish(&b);

	/* An update keeps what it does not name, and clears with null or "". */
	b = (struct broker_pool_body){ .size = 3, .max_per_user = 1, .network = "bridge:br0",
				       .isolate = BROKER_ISOLATE_YES, .bandwidth_kbps = 9 };
	check_ok(broker_parse_pool_update(TEXT("{\"size\":4}"), &b, &err));
	check_str_eq(b.network, "bridge:br0");
	check_int_eq(b.isolate, BROKER_ISOLATE_YES);
	check_int_eq(b.bandwidth_kbps, 9);
	broker_pool_body_finish(&b);
	b = (struct broker_pool_body){ .size = 3, .max_per_user = 1, .network = "bridge:br0",
				       .isolate = BROKER_ISOLATE_YES };
	check_ok(broker_parse_pool_update(TEXT("{\"network\":null,\"isolate_desktops\":null}"), &b, &err));
	check(!b.network);
	check_int_eq(b.isolate, BROKER_ISOLATE_DEFAULT);
	broker_pool_body_finish(&b);

	check_refused("{\"network\":\"bogus\"}", true, "\"network\"");
	check_refused("{\"network\":\"network:\"}", true, "\"network\"");
	check_refused("{\"network\":\"ovs:br0:4095\"}", true, "\"network\"");
	check_refused("{\"network\":7}", true, "\"network\"");
	check_refused("{\"network\":\"ovs:br0:5\",\"isolate_desktops\":true}", true, "Open vSwitch");
	check_refused("{\"network\":\"user\",\"isolate_desktops\":true}", true, "isolate_desktops");
	check_refused("{\"network\":\"user\",\"bandwidth_kbps\":5}", true, "bandwidth_kbps");
	check_refused("{\"isolate_desktops\":\"yes\"}", true, "isolate_desktops");
	check_refused("{\"bandwidth_kbps\":100000001}", true, "bandwidth_kbps");
	check_refused("{\"bandwidth_kbps\":-1}", true, "bandwidth_kbps");
	snprintf(text, sizeof(text), "%s,\"network\":\"bridge:this-name-is-too-long\"}", base);
	check_refused(text, false, "\"network\"");
}

static void test_template_body(void)
{
	static const char with[] = "{\"name\":\"t\",\"disk\":\"/d.qcow2\",\"network\":\"ovs:br0:12\"}";
	static const char bad[] = "{\"name\":\"t\",\"disk\":\"/d.qcow2\",\"network\":\"network:a b\"}";
	struct broker_template_body b;
	struct vdi_error err = { 0 };

	check_ok(broker_parse_template(with, strlen(with), &b, &err));
	check_str_eq(b.network, "ovs:br0:12");
	broker_template_body_finish(&b);
	check_ok(broker_parse_template(TEXT("{\"name\":\"t\",\"disk\":\"/d\"}"), &b, &err));
	check(!b.network);
	broker_template_body_finish(&b);
	check_err(broker_parse_template(bad, strlen(bad), &b, &err), EINVAL);
	check_str_contains(err.message, "\"network\"");
	broker_template_body_finish(&b);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_nic_from_row),
	VDI_TEST(test_effective),
	VDI_TEST(test_pool_bodies),
	VDI_TEST(test_template_body),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
