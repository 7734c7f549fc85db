/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bodies.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "store-catalog.h"

/* A `network` member (null or "": *ret NULL) as pool_nic_parse() takes it; absent: *ret as it is. */
static int network_member(json_t *json, const char **ret, struct pool_nic *ret_nic, struct vdi_error *err)
{
	json_t *v = json_object_get(json, "network");
	struct vdi_error why = { 0 };
	const char *value;

	if (!v)
		return 0;
	if (json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	value = json_string_value(v);
	if (!value)
		return vdi_error_set(err, -EINVAL, "\"network\" must be a string or null");
	*ret = *value ? value : NULL;
	if (*value && pool_nic_parse(value, ret_nic, &why) < 0)
		return vdi_error_set(err, -EINVAL, "\"network\": %s", why.message);
	return 0;
}

/* The body as an object with only the allowed members. */
static int object(const char *text, size_t len, const char *const *allowed, json_t **ret, struct vdi_error *err)
{
	int r = vdi_json_parse(text, len, true, ret, err);

	return r < 0 ? r : vdi_json_check_members(*ret, allowed, err);
}

int broker_parse_login(const char *text, size_t len, struct broker_login_body *ret, struct vdi_error *err)
{
	static const char *const members[] = { "username", "password", NULL };
	int r;

	*ret = (struct broker_login_body){ 0 };
	if ((r = object(text, len, members, &ret->json, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "username", true, &ret->username, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "password", true, &ret->password, err)) < 0)
		return r;
	return 0;
}

void broker_login_body_finish(struct broker_login_body *b)
{
	json_decref(b->json);
	*b = (struct broker_login_body){ 0 };
}

int broker_parse_assign(const char *text, size_t len, bool *ret_new, struct vdi_error *err)
{
	static const char *const members[] = { "new", NULL };
	json_t *body = NULL;
	int r;

	*ret_new = false;
	if (len == 0)
		return 0;
	if ((r = object(text, len, members, &body, err)) >= 0)
		r = vdi_json_get_bool(body, "new", false, ret_new, err);
	json_decref(body);
	return r;
}

int broker_parse_host(const char *text, size_t len, json_t **ret_json, const char **ret, struct vdi_error *err)
{
	static const char *const members[] = { "host", NULL };
	int r;

	*ret_json = NULL;
	*ret = NULL;
	if ((r = object(text, len, members, ret_json, err)) < 0 ||
	    (r = vdi_json_get_string(*ret_json, "host", true, ret, err)) < 0) {
		json_decref(*ret_json);
		*ret_json = NULL;
		*ret = NULL;
		return r;
	}
	return 0;
}

/* true 1, false 0, null or absent -1 (the OS's default). */
static int tristate_member(json_t *json, const char *name, int *ret, struct vdi_error *err)
{
	json_t *v = json_object_get(json, name);

	*ret = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return vdi_error_set(err, -EINVAL, "\"%s\" must be true, false or null", name);
	*ret = json_is_true(v);
	return 0;
}

/* os: an osinfo-db short id (which ones there are is osinfo-db's to say, on a worker); null or "": none. */
static int os_member(json_t *json, const char **ret, struct vdi_error *err)
{
	json_t *v = json_object_get(json, "os");
	const char *value;

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	value = json_string_value(v);
	if (!value)
		return vdi_error_set(err, -EINVAL, "\"os\" must be a string or null");
	if (strlen(value) > POOL_OS_ID_MAX)
		return vdi_error_set(err, -EINVAL, "os: an osinfo-db short id is at most %d characters", POOL_OS_ID_MAX);
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return vdi_error_set(err, -EINVAL, "os: an osinfo-db short id (\"vdictl os list\" shows them)");
	*ret = *value ? value : NULL;
	return 0;
}

/* firmware: "bios" or "uefi"; null or absent: POOL_FIRMWARE_AUTO. */
static int firmware_member(json_t *json, enum pool_firmware *ret, struct vdi_error *err)
{
	json_t *v = json_object_get(json, "firmware");

	*ret = POOL_FIRMWARE_AUTO;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || pool_firmware_parse(json_string_value(v), ret) < 0)
		return vdi_error_set(err, -EINVAL, "firmware: \"bios\" or \"uefi\"");
	return 0;
}

/* The hardware members of a template; with xml, none of them (the XML decides). */
static int template_hardware(struct broker_template_body *ret, struct vdi_error *err)
{
	static const char *const hardware[] = { "os", "firmware", "secure_boot", "tpm", NULL };
	int r;

	if ((r = os_member(ret->json, &ret->os, err)) < 0 || (r = firmware_member(ret->json, &ret->firmware, err)) < 0 ||
	    (r = tristate_member(ret->json, "secure_boot", &ret->secure_boot, err)) < 0 ||
	    (r = tristate_member(ret->json, "tpm", &ret->tpm, err)) < 0)
		return r;
	for (size_t i = 0; ret->xml && hardware[i]; i++)
		if (json_object_get(ret->json, hardware[i]))
			return vdi_error_set(err, -EINVAL, "xml: the template XML decides the hardware; drop \"%s\" "
					     "(os, firmware, secure_boot and tpm are for the XML vdi writes)", hardware[i]);
	return 0;
}

/* The words of a lock command (borrowed) into argv, pointing into buf (a copy). */
int broker_lock_command_argv(const char *command, char *buf, size_t len, const char *argv[BROKER_LOCK_ARGS_MAX + 1])
{
	char *save = NULL;
	size_t n = 0;

	if (!command || strlen(command) >= len)
		return -EINVAL;
	memcpy(buf, command, strlen(command) + 1);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n == BROKER_LOCK_ARGS_MAX)
			return -EINVAL;
		argv[n++] = w;
	}
	argv[n] = NULL;
	return n ? 0 : -EINVAL;
}

/* lock_command: printable text of words (null or "": *ret NULL, the default); absent: *ret as it is. */
static int lock_command_member(json_t *json, const char **ret, struct vdi_error *err)
{
	json_t *v = json_object_get(json, "lock_command");
	const char *argv[BROKER_LOCK_ARGS_MAX + 1];
	char buf[BROKER_LOCK_COMMAND_MAX + 1];
	const char *value;

	if (!v)
		return 0;
	*ret = NULL;
	if (json_is_null(v))
		return 0;
	value = json_string_value(v);
	if (!value)
		return vdi_error_set(err, -EINVAL, "\"lock_command\" must be a string or null");
	if (!*value)
		return 0;
	if (strlen(value) > BROKER_LOCK_COMMAND_MAX)
		return vdi_error_set(err, -EINVAL, "lock_command: at most %d bytes", BROKER_LOCK_COMMAND_MAX);
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return vdi_error_set(err, -EINVAL, "lock_command: one line of text (a program and its arguments)");
	if (broker_lock_command_argv(value, buf, sizeof(buf), argv) < 0)
		return vdi_error_set(err, -EINVAL, "lock_command: a program and at most %d arguments, separated by spaces",
				     BROKER_LOCK_ARGS_MAX - 1);
	*ret = value;
	return 0;
}

int broker_parse_template_update(const char *text, size_t len, struct broker_template_body *ret,
				 bool *has_lock_command, struct vdi_error *err)
{
	static const char *const members[] = { "lock_command", NULL };
	int r;

	*ret = (struct broker_template_body){ .secure_boot = -1, .tpm = -1 };
	*has_lock_command = false;
	if ((r = object(text, len, members, &ret->json, err)) < 0 ||
	    (r = lock_command_member(ret->json, &ret->lock_command, err)) < 0)
		return r;
	*has_lock_command = json_object_get(ret->json, "lock_command") != NULL;
	return 0;
}

int broker_parse_template(const char *text, size_t len, struct broker_template_body *ret, struct vdi_error *err)
{
	static const char *const members[] = { "name", "disk", "xml", "memory_mib", "vcpus", "network",
					       "os", "firmware", "secure_boot", "tpm", "lock_command", "heads", NULL };
	struct pool_nic nic;
	int r;

	*ret = (struct broker_template_body){ .secure_boot = -1, .tpm = -1, .heads = 1 };
	if ((r = object(text, len, members, &ret->json, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "name", true, &ret->name, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "disk", true, &ret->disk, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "xml", false, &ret->xml, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "memory_mib", false, 0, 1024 * 1024, &ret->memory_mib, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "vcpus", false, 0, 512, &ret->vcpus, err)) < 0 ||
	    (r = network_member(ret->json, &ret->network, &nic, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "heads", false, 1, POOL_HEADS_MAX, &ret->heads, err)) < 0 ||
	    (r = template_hardware(ret, err)) < 0 || (r = lock_command_member(ret->json, &ret->lock_command, err)) < 0)
		return r;
	if (ret->disk[0] != '/')
		return vdi_error_set(err, -EINVAL, "\"disk\" must be an absolute path on the host");
	return 0;
}

void broker_template_body_finish(struct broker_template_body *b)
{
	json_decref(b->json);
	*b = (struct broker_template_body){ 0 };
}

int broker_parse_publish(const char *text, size_t len, struct broker_publish_body *ret, struct vdi_error *err)
{
	static const char *const members[] = { "disk", "from_maintenance", "note", "at", NULL };
	int r;

	*ret = (struct broker_publish_body){ 0 };
	if ((r = object(text, len, members, &ret->json, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "disk", false, &ret->disk, err)) < 0 ||
	    (r = vdi_json_get_bool(ret->json, "from_maintenance", false, &ret->from_maintenance, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "note", false, &ret->note, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "at", false, 0, INT64_MAX / 2, &ret->at, err)) < 0)
		return r;
	if (!ret->disk == !ret->from_maintenance)
		return vdi_error_set(err, -EINVAL, "give exactly one of \"disk\" and \"from_maintenance\": true");
	if (ret->disk && ret->disk[0] != '/')
		return vdi_error_set(err, -EINVAL, "\"disk\" must be an absolute path on the host");
	if (ret->note && strlen(ret->note) > BROKER_NOTE_MAX)
		return vdi_error_set(err, -EINVAL, "\"note\" is longer than %d bytes", BROKER_NOTE_MAX);
	for (const char *c = ret->note; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return vdi_error_set(err, -EINVAL, "\"note\" must be one line of text");
	return 0;
}

void broker_publish_body_finish(struct broker_publish_body *b)
{
	json_decref(b->json);
	*b = (struct broker_publish_body){ 0 };
}

int broker_parse_empty(const char *text, size_t len, struct vdi_error *err)
{
	static const char *const members[] = { NULL };
	json_t *json = NULL;
	int r;

	if (len == 0)
		return 0;
	r = object(text, len, members, &json, err);
	json_decref(json);
	return r;
}

int broker_parse_rollback(const char *text, size_t len, int64_t *ret_to, struct vdi_error *err)
{
	static const char *const members[] = { "to", NULL };
	_cleanup_json_ json_t *json = NULL;
	int r;

	*ret_to = 0;
	if (len == 0)
		return 0;
	r = object(text, len, members, &json, err);
	if (r >= 0)
		r = vdi_json_get_int(json, "to", false, 1, INT64_MAX / 2, ret_to, err);
	return r;
}

/* "groups": a list of group names, joined with commas. */
static int groups_string(json_t *groups, char **ret, struct vdi_error *err)
{
	size_t i, len = 1;
	json_t *g;
	char *s;

	if (!json_is_array(groups))
		return vdi_error_set(err, -EINVAL, "\"groups\" must be a list of group names");
	json_array_foreach(groups, i, g) {
		const char *v = json_string_value(g);

		if (!v || !*v || strlen(v) > 64 || strpbrk(v, ", \t\r\n"))
			return vdi_error_set(err, -EINVAL,
					     "\"groups\" must be a list of group names (1-64 characters, no commas or spaces)");
		len += strlen(v) + 1;
	}
	s = calloc(1, len);
	if (!s)
		return -ENOMEM;
	json_array_foreach(groups, i, g) {
		if (i)
			strcat(s, ",");
		strcat(s, json_string_value(g));
	}
	*ret = s;
	return 0;
}

/* isolate_desktops: true, false, or null (the default); absent: *ret as it is. */
static int isolate_member(json_t *json, enum broker_isolate *ret, struct vdi_error *err)
{
	json_t *v = json_object_get(json, "isolate_desktops");

	if (!v)
		return 0;
	if (!json_is_boolean(v) && !json_is_null(v))
		return vdi_error_set(err, -EINVAL, "\"isolate_desktops\" must be true, false or null");
	*ret = json_is_null(v) ? BROKER_ISOLATE_DEFAULT : json_is_true(v) ? BROKER_ISOLATE_YES : BROKER_ISOLATE_NO;
	return 0;
}

/* lock_on_disconnect: true, false, null (the default); second_viewer: "takeover" or "refuse"; absent: as they are. */
static int viewer_settings(struct broker_pool_body *ret, struct vdi_error *err)
{
	json_t *lock = json_object_get(ret->json, "lock_on_disconnect");
	json_t *second = json_object_get(ret->json, "second_viewer");

	if (lock && !json_is_boolean(lock) && !json_is_null(lock))
		return vdi_error_set(err, -EINVAL, "\"lock_on_disconnect\" must be true, false or null");
	if (lock)
		ret->lock_on_disconnect = json_is_null(lock) ? BROKER_LOCK_DEFAULT : json_is_true(lock);
	if (second && !streq_ptr(json_string_value(second), "takeover") && !streq_ptr(json_string_value(second), "refuse"))
		return vdi_error_set(err, -EINVAL, "\"second_viewer\" must be \"takeover\" or \"refuse\"");
	if (second)
		ret->refuse_second_viewer = streq_ptr(json_string_value(second), "refuse");
	return 0;
}

/* network, isolate_desktops, bandwidth_kbps; isolation on a network given here that cannot have it. */
static int pool_net_settings(struct broker_pool_body *ret, struct vdi_error *err)
{
	struct pool_nic nic = { .kind = POOL_NIC_TEMPLATE };
	int r;

	if ((r = network_member(ret->json, &ret->network, &nic, err)) < 0 ||
	    (r = isolate_member(ret->json, &ret->isolate, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "bandwidth_kbps", false, 0, BROKER_BANDWIDTH_KBPS_MAX,
				  &ret->bandwidth_kbps, err)) < 0)
		return r;
	/* With its own network given, what the body says alone must go together (the template's is not known here). */
	if (ret->network && json_object_get(ret->json, "network"))
		return broker_pool_net_check(ret->network, ret->isolate, ret->bandwidth_kbps, err);
	return 0;
}

/* The members a pool's creation and update share. */
static int pool_settings(struct broker_pool_body *ret, bool size_required, struct vdi_error *err)
{
	json_t *groups = json_object_get(ret->json, "groups");
	int r;

	if ((r = vdi_json_get_int(ret->json, "size", size_required, 0, 10000, &ret->size, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "prestart", false, 0, 10000, &ret->prestart, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "max_per_user", false, 1, 10000, &ret->max_per_user, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "idle_timeout", false, 0, 30 * 86400, &ret->idle_timeout, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "data_disk_mib", false, 0, INT64_MAX / 2, &ret->data_disk_mib, err)) < 0 ||
	    (r = vdi_json_get_int(ret->json, "usb_redirect", false, 0, POOL_USB_REDIRECT_MAX, &ret->usb_redirect,
				  err)) < 0 ||
	    (groups && (r = groups_string(groups, &ret->groups, err)) < 0) || (r = pool_net_settings(ret, err)) < 0 ||
	    (r = viewer_settings(ret, err)) < 0)
		return r;
	if (ret->prestart > ret->size)
		return vdi_error_set(err, -EINVAL, "\"prestart\" (%lld) must not exceed \"size\" (%lld)",
				     (long long)ret->prestart, (long long)ret->size);
	return 0;
}

int broker_parse_pool_create(const char *text, size_t len, struct broker_pool_body *ret, struct vdi_error *err)
{
	static const char *const members[] = { "name",		"template", "type",	    "size", "prestart",
					       "max_per_user", "idle_timeout", "groups", "data_disk_mib", "network",
					       "isolate_desktops", "bandwidth_kbps", "usb_redirect", "lock_on_disconnect",
					       "second_viewer", NULL };
	const char *type = "pooled";
	int r;

	*ret = (struct broker_pool_body){ .max_per_user = 1, .usb_redirect = BROKER_USB_REDIRECT_DEFAULT,
					  .lock_on_disconnect = BROKER_LOCK_DEFAULT };
	if ((r = object(text, len, members, &ret->json, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "name", true, &ret->name, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "template", true, &ret->template_name, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "type", false, &type, err)) < 0)
		return r;
	if (!streq(type, "pooled") && !streq(type, "persistent"))
		return vdi_error_set(err, -EINVAL, "\"type\" must be \"pooled\" or \"persistent\"");
	ret->persistent = streq(type, "persistent");
	return pool_settings(ret, true, err);
}

int broker_parse_pool_update(const char *text, size_t len, struct broker_pool_body *ret, struct vdi_error *err)
{
	static const char *const members[] = { "size",	     "prestart",	  "max_per_user",   "idle_timeout",
					       "groups",     "data_disk_mib",	  "network",	    "isolate_desktops",
					       "bandwidth_kbps", "usb_redirect", "lock_on_disconnect", "second_viewer", NULL };
	int r;

	ret->json = NULL;
	ret->groups = NULL;
	ret->name = ret->template_name = NULL;
	if ((r = object(text, len, members, &ret->json, err)) < 0)
		return r;
	return pool_settings(ret, false, err);
}

void broker_pool_body_finish(struct broker_pool_body *b)
{
	json_decref(b->json);
	free(b->groups);
	*b = (struct broker_pool_body){ 0 };
}

int broker_parse_network(const char *text, size_t len, struct broker_network_body *ret, struct vdi_error *err)
{
	static const char *const members[] = { "name", "mode", "subnet", NULL };
	struct vdi_error why = { 0 };
	struct pool_subnet s;
	int r;

	*ret = (struct broker_network_body){ 0 };
	if ((r = object(text, len, members, &ret->json, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "name", true, &ret->name, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "mode", true, &ret->mode, err)) < 0 ||
	    (r = vdi_json_get_string(ret->json, "subnet", true, &ret->subnet, err)) < 0)
		return r;
	if (!pool_network_name_is_valid(ret->name))
		return vdi_error_set(err, -EINVAL, "name: a libvirt network name is 1 to %d of A-Z a-z 0-9 _ . -, "
				     "not starting with \".\"", POOL_NETWORK_NAME_MAX);
	if (!streq(ret->mode, "nat") && !streq(ret->mode, "isolated") && !streq(ret->mode, "routed"))
		return vdi_error_set(err, -EINVAL, "mode: nat, isolated or routed");
	if (pool_subnet_parse(ret->subnet, &s, &why) < 0)
		return vdi_error_set(err, -EINVAL, "subnet: %s", why.message);
	if (s.prefix < BROKER_SUBNET_PREFIX_MIN || s.prefix > BROKER_SUBNET_PREFIX_MAX)
		return vdi_error_set(err, -EINVAL, "subnet: the prefix is %d to %d", BROKER_SUBNET_PREFIX_MIN,
				     BROKER_SUBNET_PREFIX_MAX);
	return 0;
}

void broker_network_body_finish(struct broker_network_body *b)
{
	json_decref(b->json);
	*b = (struct broker_network_body){ 0 };
}
