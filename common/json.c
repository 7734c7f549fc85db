/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static size_t depth_of(const json_t *j, size_t limit)
{
	size_t deepest = 0;

	if (limit == 0)
		return 1;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;

		json_object_foreach((json_t *)j, k, v) {
			size_t d = depth_of(v, limit - 1);

			deepest = d > deepest ? d : deepest;
		}
		return deepest + 1;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *v;

		json_array_foreach(j, i, v) {
			size_t d = depth_of(v, limit - 1);

			deepest = d > deepest ? d : deepest;
		}
		return deepest + 1;
	}
	return 0;
}

int vdi_json_parse(const char *buf, size_t len, bool want_object, json_t **ret, char *err, size_t errlen)
{
	json_error_t e;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!j) {
		snprintf(err, errlen, "malformed JSON at line %d, column %d: %s", e.line, e.column, e.text);
		return -EINVAL;
	}
	if (want_object && !json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "the request body must be a JSON object");
		return -EINVAL;
	}
	/* jansson itself stops at 2048 levels; an API needs far fewer. */
	if (depth_of(j, VDI_JSON_MAX_DEPTH + 1) > VDI_JSON_MAX_DEPTH) {
		json_decref(j);
		snprintf(err, errlen, "JSON nested deeper than %d levels", VDI_JSON_MAX_DEPTH);
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

int vdi_json_dump(const json_t *j, char **ret)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int member(const json_t *obj, const char *key, bool required, json_t **ret, char *err, size_t errlen)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "\"%s\" is required", key);
		return -ENOENT;
	}
	*ret = v;
	return 1;
}

int vdi_json_get_string(const json_t *obj, const char *key, bool required, const char **ret, char *err,
			size_t errlen)
{
	json_t *v = NULL;
	int r = member(obj, key, required, &v, err, errlen);

	if (r <= 0)
		return r;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	*ret = json_string_value(v);
	return 0;
}

int vdi_json_get_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *ret,
		     char *err, size_t errlen)
{
	json_t *v = NULL;
	json_int_t i;
	int r = member(obj, key, required, &v, err, errlen);

	if (r <= 0)
		return r;
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "\"%s\" must be a whole number", key);
		return -EINVAL;
	}
	i = json_integer_value(v);
	if (i < min || i > max) {
		snprintf(err, errlen, "\"%s\" must be between %lld and %lld", key, (long long)min, (long long)max);
		return -EINVAL;
	}
	*ret = i;
	return 0;
}

int vdi_json_get_bool(const json_t *obj, const char *key, bool required, bool *ret, char *err, size_t errlen)
{
	json_t *v = NULL;
	int r = member(obj, key, required, &v, err, errlen);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "\"%s\" must be true or false", key);
		return -EINVAL;
	}
	*ret = json_is_true(v);
	return 0;
}

int vdi_json_check_members(const json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;

		for (const char *const *a = allowed; *a && !ok; a++)
			ok = streq(*a, k);
		if (!ok) {
			snprintf(err, errlen, "unknown member \"%.64s\"", k);
			return -EINVAL;
		}
	}
	return 0;
}
