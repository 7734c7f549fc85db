/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every API request body parser (broker/bodies.h) on the same bytes.
 * Invariants: a refusal has a message; what is accepted has its required
 * members and every number in its documented range, prestart within size,
 * groups made of names without separators, a network value pool_nic_parse()
 * takes, isolation and a bandwidth limit only where the body's own network
 * allows them; a new libvirt network's name, mode and subnet as vmpool takes
 * them; a template's hardware (os a short id without white space, firmware
 * bios/uefi/auto, secure_boot and tpm -1/0/1) only without xml, its heads 1..POOL_HEADS_MAX; a pool's
 * usb_redirect 0..POOL_USB_REDIRECT_MAX; a pool's lock_on_disconnect -1/0/1; a template's lock_command
 * printable, at most BROKER_LOCK_COMMAND_MAX bytes, words broker_lock_command_argv() splits; nothing leaks (ASan).
 */
#include <errno.h>
#include <string.h>

#include "bodies.h"
#include "fuzz.h"

static void check_groups(const char *g)
{
	if (!g)
		return;
	FUZZ_CHECK(!strpbrk(g, " \t\r\n"));
	FUZZ_CHECK(g[0] != ',' && (!*g || g[strlen(g) - 1] != ',') && !strstr(g, ",,"));
}

/* NULL, or a value pool_nic_parse() takes. */
static bool network_ok(const char *network)
{
	struct pool_nic nic;

	return !network || (*network && pool_nic_parse(network, &nic, NULL) == 0);
}

static void check_pool(const struct broker_pool_body *p)
{
	FUZZ_CHECK(network_ok(p->network));
	FUZZ_CHECK(p->isolate == BROKER_ISOLATE_DEFAULT || p->isolate == BROKER_ISOLATE_NO ||
		   p->isolate == BROKER_ISOLATE_YES);
	FUZZ_CHECK(p->bandwidth_kbps >= 0 && p->bandwidth_kbps <= BROKER_BANDWIDTH_KBPS_MAX);
	/* With its own network given, the settings go together. */
	if (p->network && json_object_get(p->json, "network"))
		FUZZ_CHECK(broker_pool_net_check(p->network, p->isolate, p->bandwidth_kbps, NULL) == 0);
	FUZZ_CHECK(p->size >= 0 && p->size <= 10000 && p->prestart >= 0 && p->prestart <= p->size);
	FUZZ_CHECK(p->max_per_user >= 1 && p->max_per_user <= 10000);
	FUZZ_CHECK(p->idle_timeout >= 0 && p->idle_timeout <= 30 * 86400);
	FUZZ_CHECK(p->usb_redirect >= 0 && p->usb_redirect <= POOL_USB_REDIRECT_MAX);
	FUZZ_CHECK(p->lock_on_disconnect >= -1 && p->lock_on_disconnect <= 1);
	check_groups(p->groups);
}

/* NULL, or a command broker_lock_command_argv() splits into words. */
static void check_lock_command(const char *command)
{
	const char *argv[BROKER_LOCK_ARGS_MAX + 1];
	char buf[BROKER_LOCK_COMMAND_MAX + 1];

	if (!command)
		return;
	FUZZ_CHECK(*command && strlen(command) <= BROKER_LOCK_COMMAND_MAX);
	for (const char *c = command; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	FUZZ_CHECK(broker_lock_command_argv(command, buf, sizeof(buf), argv) == 0 && argv[0] && *argv[0]);
}

/* A template's hardware as the parser took it: only without xml, each member in its range. */
static void check_template_hardware(const struct broker_template_body *b)
{
	FUZZ_CHECK(!b->os || (*b->os && strlen(b->os) <= POOL_OS_ID_MAX));
	for (const char *c = b->os; c && *c; c++)
		FUZZ_CHECK((unsigned char)*c > ' ' && *c != 0x7f);
	FUZZ_CHECK(b->firmware == POOL_FIRMWARE_AUTO || b->firmware == POOL_FIRMWARE_BIOS ||
		   b->firmware == POOL_FIRMWARE_UEFI);
	FUZZ_CHECK(b->secure_boot >= -1 && b->secure_boot <= 1 && b->tpm >= -1 && b->tpm <= 1);
	FUZZ_CHECK(b->heads >= 1 && b->heads <= POOL_HEADS_MAX);
	if (b->xml)
		FUZZ_CHECK(!b->os && b->firmware == POOL_FIRMWARE_AUTO && b->secure_boot == -1 && b->tpm == -1 &&
			   !json_object_get(b->json, "os") && !json_object_get(b->json, "firmware") &&
			   !json_object_get(b->json, "secure_boot") && !json_object_get(b->json, "tpm"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct vdi_error err = { 0 };
	bool want_new;
	int r;

	if (size > 64 * 1024)
		return 0;
	{
		struct broker_login_body b;

		err.message[0] = '\0';
		r = broker_parse_login(text, size, &b, &err);
		FUZZ_CHECK(r == 0 ? b.username && b.password : err.message[0] != '\0' || r == -ENOMEM);
		broker_login_body_finish(&b);
	}
	err.message[0] = '\0';
	r = broker_parse_assign(text, size, &want_new, &err);
	FUZZ_CHECK(r == 0 || err.message[0] || r == -ENOMEM);
	{
		struct broker_template_body b;

		err.message[0] = '\0';
		r = broker_parse_template(text, size, &b, &err);
		FUZZ_CHECK(r == 0 ? b.name && b.disk && b.disk[0] == '/' && b.memory_mib >= 0 && b.vcpus >= 0 &&
				    b.vcpus <= 512 && network_ok(b.network)
				  : err.message[0] != '\0' || r == -ENOMEM);
		if (r == 0) {
			check_template_hardware(&b);
			check_lock_command(b.lock_command);
		}
		broker_template_body_finish(&b);
	}
	{
		struct broker_template_body b;
		bool has_lock;

		err.message[0] = '\0';
		r = broker_parse_template_update(text, size, &b, &has_lock, &err);
		FUZZ_CHECK(r == 0 || err.message[0] || r == -ENOMEM);
		if (r == 0)
			check_lock_command(b.lock_command);
		broker_template_body_finish(&b);
	}
	{
		struct broker_pool_body b;

		err.message[0] = '\0';
		r = broker_parse_pool_create(text, size, &b, &err);
		FUZZ_CHECK(r == 0 || err.message[0] || r == -ENOMEM);
		if (r == 0) {
			FUZZ_CHECK(b.name && b.template_name);
			check_pool(&b);
		}
		broker_pool_body_finish(&b);
	}
	{
		json_t *j;
		const char *host;

		err.message[0] = '\0';
		r = broker_parse_host(text, size, &j, &host, &err);
		FUZZ_CHECK(r == 0 ? j && host : !j && !host && (err.message[0] != '\0' || r == -ENOMEM));
		json_decref(j);
	}
	{
		/* An update on top of a pool as it is now: size 3, prestart 2. */
		struct broker_pool_body b = { .size = 3, .prestart = 2, .max_per_user = 1 };

		err.message[0] = '\0';
		r = broker_parse_pool_update(text, size, &b, &err);
		FUZZ_CHECK(r == 0 || err.message[0] || r == -ENOMEM);
		if (r == 0)
			check_pool(&b);
		broker_pool_body_finish(&b);
	}
	{
		/* Exactly one source: an absolute disk, or the maintenance desktop; either may have a time. */
		struct broker_publish_body b;

		err.message[0] = '\0';
		r = broker_parse_publish(text, size, &b, &err);
		FUZZ_CHECK(r == 0 ? !b.disk != !b.from_maintenance && (!b.disk || b.disk[0] == '/') && b.at >= 0 &&
				    (!b.note || strlen(b.note) <= BROKER_NOTE_MAX)
				  : err.message[0] != '\0' || r == -ENOMEM);
		broker_publish_body_finish(&b);
	}
	{
		struct broker_network_body b;
		struct pool_subnet s;

		err.message[0] = '\0';
		r = broker_parse_network(text, size, &b, &err);
		FUZZ_CHECK(r == 0 ? pool_network_name_is_valid(b.name) && b.mode && b.subnet &&
				    pool_subnet_parse(b.subnet, &s, NULL) == 0 && s.prefix >= BROKER_SUBNET_PREFIX_MIN &&
				    s.prefix <= BROKER_SUBNET_PREFIX_MAX
				  : err.message[0] != '\0' || r == -ENOMEM);
		broker_network_body_finish(&b);
	}
	err.message[0] = '\0';
	r = broker_parse_empty(text, size, &err);
	FUZZ_CHECK(r == 0 || err.message[0] || r == -ENOMEM);
	return 0;
}
