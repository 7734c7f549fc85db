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

int vdi_json_parse(const char *buf, size_t len, bool want_object, json_t **ret, struct vdi_error *err)
{
	json_error_t e;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!j)
		return vdi_error_set(err, -EINVAL, "malformed JSON at line %d, column %d: %s", e.line, e.column,
				     e.text);
	if (want_object && !json_is_object(j)) {
		json_decref(j);
		return vdi_error_set(err, -EINVAL, "the request body must be a JSON object");
	}
	/* jansson itself stops at 2048 levels; an API needs far fewer. */
	if (depth_of(j, VDI_JSON_MAX_DEPTH + 1) > VDI_JSON_MAX_DEPTH) {
		json_decref(j);
		return vdi_error_set(err, -EINVAL, "JSON nested deeper than %d levels", VDI_JSON_MAX_DEPTH);
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

static int member(const json_t *obj, const char *key, bool required, json_t **ret, struct vdi_error *err)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		return vdi_error_set(err, -ENOENT, "\"%s\" is required", key);
	}
	*ret = v;
	return 1;
}

int vdi_json_get_string(const json_t *obj, const char *key, bool required, const char **ret, struct vdi_error *err)
{
	json_t *v = NULL;
	int r = member(obj, key, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return vdi_error_set(err, -EINVAL, "\"%s\" must be a string", key);
	*ret = json_string_value(v);
	return 0;
}

int vdi_json_get_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *ret,
		     struct vdi_error *err)
{
	json_t *v = NULL;
	json_int_t i;
	int r = member(obj, key, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_integer(v))
		return vdi_error_set(err, -EINVAL, "\"%s\" must be a whole number", key);
	i = json_integer_value(v);
	if (i < min || i > max)
		return vdi_error_set(err, -EINVAL, "\"%s\" must be between %lld and %lld", key, (long long)min,
				     (long long)max);
	*ret = i;
	return 0;
}

int vdi_json_get_bool(const json_t *obj, const char *key, bool required, bool *ret, struct vdi_error *err)
{
	json_t *v = NULL;
	int r = member(obj, key, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return vdi_error_set(err, -EINVAL, "\"%s\" must be true or false", key);
	*ret = json_is_true(v);
	return 0;
}

int vdi_json_check_members(const json_t *obj, const char *const *allowed, struct vdi_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;

		for (const char *const *a = allowed; *a && !ok; a++)
			ok = streq(*a, k);
		if (!ok)
			return vdi_error_set(err, -EINVAL, "unknown member \"%.64s\"", k);
	}
	return 0;
}
