/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <syslog.h>

/*
 * Logging to stderr, one line per message, with the syslog priority as a
 * "<N>" prefix that journald understands.  Libraries log at debug level
 * only; top-level code (daemons, tools) logs errors.  Never pass secrets.
 */

/* Messages above this priority are dropped.  Default LOG_INFO. */
void vdi_log_set_max_priority(int prio);
int vdi_log_get_max_priority(void);

/*
 * Copies untrusted text (a user name from a request) into out for a log
 * line: control characters (C0, DEL, C1), Unicode line separators and bidi
 * controls, and bytes that are not well-formed UTF-8 become '?', so the
 * text cannot start lines of its own nor read differently than it is.
 * Truncates to len - 1 bytes, never inside a character.  Returns out.
 */
const char *vdi_log_safe(const char *in, char *out, size_t len);

void vdi_log_internal(int prio, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Logs with errno set to -r so that %m names the error; returns r. */
int vdi_log_errno_internal(int prio, int r, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define vdi_log(prio, ...) vdi_log_internal((prio), __FILE__, __LINE__, __VA_ARGS__)
#define vdi_log_errno(prio, r, ...) vdi_log_errno_internal((prio), (r), __FILE__, __LINE__, __VA_ARGS__)

#define vdi_debug(...) vdi_log(LOG_DEBUG, __VA_ARGS__)
#define vdi_info(...) vdi_log(LOG_INFO, __VA_ARGS__)
#define vdi_warn(...) vdi_log(LOG_WARNING, __VA_ARGS__)
#define vdi_error(...) vdi_log(LOG_ERR, __VA_ARGS__)
#define vdi_error_errno(r, ...) vdi_log_errno(LOG_ERR, (r), __VA_ARGS__)
#define vdi_debug_errno(r, ...) vdi_log_errno(LOG_DEBUG, (r), __VA_ARGS__)
