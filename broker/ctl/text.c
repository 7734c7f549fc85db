/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"

int ctl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	bool overflow = false;
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		d = (unsigned)(*p - '0');
		/* Past UINT64_MAX it is out of any range: keep reading to tell bad text from big numbers. */
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* Reads exactly n digits at *p into *ret and moves *p past them. */
static bool read_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool read_char(const char **p, const char *choices)
{
	if (!**p || !strchr(choices, **p))
		return false;
	(*p)++;
	return true;
}

int ctl_parse_time(const char *s, int64_t *ret)
{
	int year, mon, day, hour = 0, min = 0, sec = 0;
	const char *p = s;
	struct tm tm;
	time_t t;

	if (*s && strspn(s, "0123456789") == strlen(s)) {
		uint64_t v;
		int r = ctl_parse_uint(s, 0, (uint64_t)CTL_TIME_MAX, &v);

		if (r < 0)
			return -EINVAL;
		*ret = (int64_t)v;
		return 0;
	}

	if (!read_digits(&p, 4, &year) || !read_char(&p, "-") || !read_digits(&p, 2, &mon) || !read_char(&p, "-") ||
	    !read_digits(&p, 2, &day))
		return -EINVAL;
	if (*p) {
		if (!read_char(&p, "T ") || !read_digits(&p, 2, &hour) || !read_char(&p, ":") ||
		    !read_digits(&p, 2, &min))
			return -EINVAL;
		if (*p && (!read_char(&p, ":") || !read_digits(&p, 2, &sec)))
			return -EINVAL;
		if (*p)
			return -EINVAL;
	}
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
		return -EINVAL;

	tm = (struct tm){ .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
			  .tm_hour = hour, .tm_min = min, .tm_sec = sec, .tm_isdst = -1 };
	errno = 0;
	t = mktime(&tm);
	if (t == (time_t)-1 && errno)
		return -EINVAL;
	/* mktime() moves a day or hour that does not exist to one that does: refuse those. */
	if (tm.tm_year != year - 1900 || tm.tm_mon != mon - 1 || tm.tm_mday != day || tm.tm_hour != hour ||
	    tm.tm_min != min || tm.tm_sec != sec)
		return -EINVAL;
	if (t < 0 || (int64_t)t > CTL_TIME_MAX)
		return -EINVAL;
	*ret = (int64_t)t;
	return 0;
}

/* Whether s has the shape of pattern, where '#' is a digit and ' ' a blank or a T. */
static bool shaped(const char *s, const char *pattern)
{
	for (; *pattern; s++, pattern++) {
		bool ok;

		if (*pattern == '#')
			ok = *s >= '0' && *s <= '9';
		else if (*pattern == ' ')
			ok = *s == ' ' || *s == 'T';
		else
			ok = *s == *pattern;
		if (!ok)
			return false;
	}
	return *s == '\0';
}

/* The first local time at or after now at which the clock reads hour:min, within three days. */
static int next_local(int64_t now, int hour, int min, int64_t *ret)
{
	time_t tnow = (time_t)now;
	struct tm today;

	if (!localtime_r(&tnow, &today))
		return -EINVAL;
	for (int day = 0; day < 3; day++) {
		struct tm tm = { .tm_year = today.tm_year, .tm_mon = today.tm_mon, .tm_mday = today.tm_mday + day,
				 .tm_hour = hour, .tm_min = min, .tm_isdst = -1 };
		time_t t = mktime(&tm);

		/* mktime() moves a time the clocks skip that day: then it is not that day's. */
		if (t == (time_t)-1 || tm.tm_hour != hour || tm.tm_min != min)
			continue;
		if ((int64_t)t >= now) {
			*ret = (int64_t)t;
			return 0;
		}
	}
	return -EINVAL;
}

#define AT_FORMS "YYYY-MM-DD HH:MM[:SS] or HH:MM (local time), or @SECONDS (unix time)"

int ctl_parse_at(const char *s, int64_t now, int64_t *ret, struct vdi_error *err)
{
	int64_t t;
	uint64_t v;

	if (s[0] == '@') {
		if (ctl_parse_uint(s + 1, 0, (uint64_t)CTL_TIME_MAX, &v) < 0)
			return vdi_error_set(err, -EINVAL,
					     "\"%s\": @ takes unix seconds, a whole number up to %" PRId64, s,
					     CTL_TIME_MAX);
		t = (int64_t)v;
	} else if (shaped(s, "##:##")) {
		int hour = (s[0] - '0') * 10 + (s[1] - '0'), min = (s[3] - '0') * 10 + (s[4] - '0');

		if (hour > 23 || min > 59)
			return vdi_error_set(err, -EINVAL, "\"%s\" is not a time of day (00:00 to 23:59)", s);
		if (next_local(now, hour, min, &t) < 0)
			return vdi_error_set(err, -EINVAL, "cannot place \"%s\" in local time", s);
		*ret = t;
		return 0;
	} else if (shaped(s, "####-##-## ##:##") || shaped(s, "####-##-## ##:##:##")) {
		if (ctl_parse_time(s, &t) < 0)
			return vdi_error_set(err, -EINVAL,
					     "there is no \"%s\" in local time (no such day or time of day, or an "
					     "hour the clocks skip)", s);
	} else if (shaped(s, "####-##-##")) {
		return vdi_error_set(err, -EINVAL, "\"%s\" has no time of day: give YYYY-MM-DD HH:MM", s);
	} else if (*s && strspn(s, "0123456789") == strlen(s)) {
		return vdi_error_set(err, -EINVAL, "\"%s\" is not a time: unix seconds are written @%s", s, s);
	} else {
		return vdi_error_set(err, -EINVAL, "\"%s\" is not a time: give " AT_FORMS, s);
	}
	if (t < now)
		return vdi_error_set(err, -EINVAL, "\"%s\" is in the past", s);
	*ret = t;
	return 0;
}

const char *ctl_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
	return buf;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

int ctl_url_encode(const char *s, char **ret)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	if (n > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	out = malloc(n * 3 + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	*ret = out;
	return 0;
}

int ctl_query_append(char **target, const char *key, const char *value)
{
	_cleanup_free_ char *enc = NULL;
	char *joined;
	int r;

	r = ctl_url_encode(value, &enc);
	if (r < 0)
		return r;
	if (asprintf(&joined, "%s%c%s=%s", *target, strchr(*target, '?') ? '&' : '?', key, enc) < 0)
		return -ENOMEM;
	free(*target);
	*target = joined;
	return 0;
}

/* Appends s to buf (len bytes, *pos used) as far as it fits, never splitting a UTF-8 sequence. */
static void append(char *buf, size_t len, size_t *pos, const char *s)
{
	size_t n = strlen(s), room = len - 1 - *pos;

	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(buf + *pos, s, n);
	*pos += n;
	buf[*pos] = '\0';
}

const char *ctl_cell(const json_t *v, char *buf, size_t len)
{
	size_t pos = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		append(buf, len, &pos, json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		append(buf, len, &pos, "yes");
		break;
	case JSON_FALSE:
		append(buf, len, &pos, "no");
		break;
	case JSON_NULL:
		append(buf, len, &pos, "-");
		break;
	case JSON_ARRAY: {
		char item[1024];
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			if (i > 0)
				append(buf, len, &pos, ",");
			append(buf, len, &pos, ctl_cell(e, item, sizeof(item)));
		}
		if (json_array_size(v) == 0)
			append(buf, len, &pos, "-");
		break;
	}
	case JSON_OBJECT: {
		_cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);

		append(buf, len, &pos, text ? text : "?");
		break;
	}
	}
	return buf;
}

const char *ctl_cell_guest(const json_t *v, char *buf, size_t len)
{
	const json_t *users = json_object_get(v, "users");
	char list[1024];
	size_t pos = 0;

	if (!json_is_object(v))
		return ctl_cell(NULL, buf, len);
	if (len == 0)
		return buf;
	buf[0] = '\0';
	append(buf, len, &pos, json_is_string(json_object_get(v, "hostname")) ?
				       json_string_value(json_object_get(v, "hostname")) : "?");
	if (json_array_size(users) > 0) {
		append(buf, len, &pos, " (");
		append(buf, len, &pos, ctl_cell(users, list, sizeof(list)));
		append(buf, len, &pos, ")");
	}
	return buf;
}

const char *ctl_cell_time(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v) && json_integer_value(v) != 0)
		return ctl_format_time((int64_t)json_integer_value(v), buf, len);
	if (json_is_integer(v))
		v = NULL; /* 0: never */
	return ctl_cell(v, buf, len);
}

const char *ctl_cell_version_state(const json_t *v, char *buf, size_t len)
{
	const char *state = json_string_value(json_object_get(v, "state"));
	char at[32];

	if (len == 0)
		return buf;
	if (!state)
		return ctl_cell(NULL, buf, len);
	if (!streq(state, "scheduled"))
		return ctl_cell(json_object_get(v, "state"), buf, len);
	snprintf(buf, len, "scheduled %s", ctl_cell_time(json_object_get(v, "at"), at, sizeof(at)));
	return buf;
}

const char *ctl_cell_versions(const json_t *versions, char *buf, size_t len)
{
	size_t i, pos = 0, deleted = 0;
	char item[128], state[64];
	json_t *v;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	json_array_foreach(versions, i, v) {
		const char *s = json_string_value(json_object_get(v, "state"));

		if (streq_ptr(s, "deleted")) {
			deleted++;
			continue;
		}
		snprintf(item, sizeof(item), "%sv%" JSON_INTEGER_FORMAT "%s%s%s", pos ? ", " : "",
			 json_integer_value(json_object_get(v, "version")), s ? " " : "",
			 s ? ctl_cell_version_state(v, state, sizeof(state)) : "",
			 json_is_false(json_object_get(v, "owned")) ? " (not owned)" : "");
		append(buf, len, &pos, item);
	}
	if (deleted) {
		snprintf(item, sizeof(item), "%s+%zu deleted", pos ? ", " : "", deleted);
		append(buf, len, &pos, item);
	}
	if (pos == 0)
		append(buf, len, &pos, "-");
	return buf;
}

static const char *const state_order[] = {
	"provisioning", "stopped", "starting", "free", "assigned", "connected",
	"disconnected", "resetting", "error", "deleting",
};

static bool known_state(const char *state)
{
	for (size_t i = 0; i < ELEMENTSOF(state_order); i++)
		if (streq(state_order[i], state))
			return true;
	return false;
}

static void append_count(char *buf, size_t len, size_t *pos, const char *state, const json_t *count)
{
	char num[32];

	if (!json_is_integer(count) || json_integer_value(count) == 0)
		return;
	if (*pos > 0)
		append(buf, len, pos, ", ");
	append(buf, len, pos, state);
	snprintf(num, sizeof(num), " %" JSON_INTEGER_FORMAT, json_integer_value(count));
	append(buf, len, pos, num);
}

const char *ctl_cell_counts(const json_t *v, char *buf, size_t len)
{
	const char *state;
	size_t pos = 0;
	json_t *count;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (json_is_object(v)) {
		for (size_t i = 0; i < ELEMENTSOF(state_order); i++)
			append_count(buf, len, &pos, state_order[i], json_object_get(v, state_order[i]));
		json_object_foreach((json_t *)v, state, count) {
			if (!known_state(state))
				append_count(buf, len, &pos, state, count);
		}
	}
	if (pos == 0)
		append(buf, len, &pos, "none");
	return buf;
}
