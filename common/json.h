/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * JSON helpers on jansson for an HTTP API: parse a request body strictly,
 * read typed members with messages fit for a {"error": ...} reply, dump
 * compactly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

/* jansson (>= 2.9) provides json_decrefp for its json_auto_t. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* Deepest nesting vdi_json_parse() accepts. */
#define VDI_JSON_MAX_DEPTH 16

/*
 * Parses buf (len bytes, not NUL-terminated) into a new reference *ret.
 * Rejects invalid UTF-8, NUL bytes in strings, duplicate keys, nesting
 * deeper than VDI_JSON_MAX_DEPTH and, when want_object, anything but an
 * object at the top.  -EINVAL with a message in err on bad input.
 */
int vdi_json_parse(const char *buf, size_t len, bool want_object, json_t **ret, struct vdi_error *err);

/* Compact UTF-8 text of j into a new string *ret. Returns 0 or -ENOMEM. */
int vdi_json_dump(const json_t *j, char **ret);

/*
 * Typed members of an object.  A missing member is -ENOENT when required
 * (message: "\"key\" is required") and 0 otherwise, leaving *ret as it was;
 * a member of the wrong type or range is -EINVAL ("\"key\" must be ...").
 * Strings are borrowed from obj.
 */
int vdi_json_get_string(const json_t *obj, const char *key, bool required, const char **ret, struct vdi_error *err);
int vdi_json_get_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *ret,
		     struct vdi_error *err);
int vdi_json_get_bool(const json_t *obj, const char *key, bool required, bool *ret, struct vdi_error *err);

/* Fails with -EINVAL ("unknown member \"x\"") when obj has a member not in the NULL-terminated list. */
int vdi_json_check_members(const json_t *obj, const char *const *allowed, struct vdi_error *err);
