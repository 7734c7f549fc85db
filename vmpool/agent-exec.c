/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "clock.h"
#include "json.h"
#include "private.h"

/*
 * A program run inside a desktop by its guest agent (qemu-guest-agent, or the
 * SPICE guest tools' on Windows): guest-exec, then guest-exec-status until it
 * has exited, through virDomainQemuAgentCommand (libvirt-qemu).  Calls
 * lookup.c, error.c.
 */

/* Seconds libvirt waits for one agent reply. */
#define AGENT_REPLY_SECONDS 5
/* Between two looks at a running program. */
#define AGENT_POLL_NS (100 * 1000 * 1000L)

/* What libvirt said when the agent could not be asked: no channel, or nobody answering on it. */
static int agent_error(struct vdi_error *err, const char *domain)
{
	const virError *e = virGetLastError();

	if (e && e->code == VIR_ERR_ARGUMENT_UNSUPPORTED)
		return vdi_error_set(err, -EOPNOTSUPP, "desktop %s has no guest agent channel", domain);
	if (e && (e->code == VIR_ERR_AGENT_UNRESPONSIVE || e->code == VIR_ERR_AGENT_UNSYNCED))
		return vdi_error_set(err, -ENOTCONN, "no guest agent answers in desktop %s", domain);
	if (e && e->code == VIR_ERR_OPERATION_INVALID)
		return vdi_error_set(err, -ESRCH, "desktop %s is not running", domain);
	return pool_libvirt_error(err, "guest agent of desktop %s", domain);
}

/* One agent command (cmd borrowed): its "return" member as a new reference in *ret. */
static int agent_call(virDomainPtr dom, const char *domain, json_t *cmd, json_t **ret, struct vdi_error *err)
{
	_cleanup_free_ char *text = json_dumps(cmd, JSON_COMPACT), *reply = NULL;
	_cleanup_json_ json_t *j = NULL;
	json_t *v;

	if (!text)
		return -ENOMEM;
	reply = virDomainQemuAgentCommand(dom, text, AGENT_REPLY_SECONDS, 0);
	if (!reply)
		return agent_error(err, domain);
	j = json_loads(reply, 0, NULL);
	v = json_object_get(j, "return");
	if (!v)
		return vdi_error_set(err, -EPROTO, "the guest agent of desktop %s gave no answer to %s", domain,
				     json_string_value(json_object_get(cmd, "execute")));
	*ret = json_incref(v);
	return 0;
}

/* guest-exec of argv: the program's pid in the guest. */
static int exec_start(virDomainPtr dom, const char *domain, const char *const *argv, int64_t *ret_pid,
		      struct vdi_error *err)
{
	_cleanup_json_ json_t *args = json_array(), *cmd = NULL, *ret = NULL;
	int r;

	if (!args)
		return -ENOMEM;
	for (size_t i = 1; argv[i]; i++)
		if (json_array_append_new(args, json_string(argv[i])) < 0)
			return -ENOMEM;
	cmd = json_pack("{s:s, s:{s:s, s:O, s:b}}", "execute", "guest-exec", "arguments", "path", argv[0], "arg", args,
			"capture-output", 0);
	if (!cmd)
		return -ENOMEM;
	r = agent_call(dom, domain, cmd, &ret, err);
	if (r < 0)
		return r;
	if (!json_is_integer(json_object_get(ret, "pid")))
		return vdi_error_set(err, -EPROTO, "the guest agent of desktop %s did not start %s", domain, argv[0]);
	*ret_pid = json_integer_value(json_object_get(ret, "pid"));
	return 0;
}

/* guest-exec-status of pid: 1 and its exit status (or 128 + the signal that ended it) once exited, else 0. */
static int exec_status(virDomainPtr dom, const char *domain, int64_t pid, int *ret_status, struct vdi_error *err)
{
	_cleanup_json_ json_t *cmd = json_pack("{s:s, s:{s:I}}", "execute", "guest-exec-status", "arguments", "pid",
					       (json_int_t)pid), *ret = NULL;
	int r;

	if (!cmd)
		return -ENOMEM;
	r = agent_call(dom, domain, cmd, &ret, err);
	if (r < 0)
		return r;
	if (!json_is_true(json_object_get(ret, "exited")))
		return 0;
	if (json_is_integer(json_object_get(ret, "signal")))
		*ret_status = 128 + (int)json_integer_value(json_object_get(ret, "signal"));
	else
		*ret_status = (int)json_integer_value(json_object_get(ret, "exitcode"));
	return 1;
}

int pool_desktop_agent_exec(struct pool_host *host, const char *domain, const char *const *argv, int timeout_ms,
			    int *ret_exit_status, struct vdi_error *err)
{
	_cleanup_conn_ virConnectPtr conn = NULL;
	_cleanup_domain_ virDomainPtr dom = NULL;
	double end = vdi_clock_mono() + timeout_ms / 1000.0;
	int64_t pid;
	int r;

	if (!argv || !argv[0] || argv[0][0] == '\0')
		return vdi_error_set(err, -EINVAL, "no program to run in desktop %s", domain ? domain : "(null)");
	r = pool_desktop_open(host, domain, &conn, &dom, err);
	if (r < 0)
		return r;
	r = exec_start(dom, domain, argv, &pid, err);
	if (r < 0)
		return r;
	while ((r = exec_status(dom, domain, pid, ret_exit_status, err)) == 0) {
		if (vdi_clock_mono() >= end)
			return vdi_error_set(err, -ETIMEDOUT, "%s (pid %lld in desktop %s) still runs after %d ms", argv[0],
					     (long long)pid, domain, timeout_ms);
		nanosleep(&(struct timespec){ .tv_nsec = AGENT_POLL_NS }, NULL);
	}
	return r < 0 ? r : 0;
}
