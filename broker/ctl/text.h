/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdictl's conversions between text and values: strict numbers, times given
 * on the command line, URL encoding of path segments and query values, and
 * the cells of its tables made from the broker's JSON.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

/*
 * Parses s, a whole decimal number without sign or blanks, into *ret.
 * Returns 0, -EINVAL when s is not such a number, -ERANGE when it is outside
 * min..max.
 */
int ctl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Latest time ctl_parse_time() accepts: 9999-12-31 23:59:59 UTC. */
#define CTL_TIME_MAX INT64_C(253402300799)

/*
 * Parses a time given by a person into unix seconds: a whole number of unix
 * seconds, or local time as YYYY-MM-DD, YYYY-MM-DDTHH:MM or
 * YYYY-MM-DDTHH:MM:SS (a blank instead of the T is accepted too, as the
 * tables print it).  A date or time that does not exist (February 30, the
 * hour skipped when clocks go forward) is -EINVAL, like any other bad text.
 */
int ctl_parse_time(const char *s, int64_t *ret);

/*
 * Parses the TIME of "template publish --at" into unix seconds, given the
 * time now (unix seconds; local time is the process's TZ):
 *   "YYYY-MM-DD HH:MM[:SS]"  local time (a T instead of the blank too);
 *   "HH:MM"                  the next time the local clock reads that: today,
 *                            or tomorrow when it has passed (a day on which
 *                            clocks going forward skip it is passed over);
 *   "@SECONDS"               unix seconds.
 * A time before now is refused.  Returns 0, or -EINVAL with err (borrowed,
 * may be NULL) saying what is wrong with s, in words for the command line.
 */
int ctl_parse_at(const char *s, int64_t now, int64_t *ret, struct vdi_error *err);

/* Writes t as local "YYYY-MM-DD HH:MM:SS" into buf (at least 20 bytes useful); returns buf. */
const char *ctl_format_time(int64_t t, char *buf, size_t len);

/*
 * Percent-encodes s for a URL path segment or query value: every byte but
 * A-Z a-z 0-9 - . _ ~ becomes %XX.  *ret is a new string.  Returns 0 or -ENOMEM.
 */
int ctl_url_encode(const char *s, char **ret);

/*
 * Appends "?key=value" (the first time) or "&key=value" to *target, a
 * string allocated with malloc that this may replace; value is URL-encoded,
 * key is used as it is.  Returns 0 or -ENOMEM (then *target is unchanged).
 */
int ctl_query_append(char **target, const char *key, const char *value);

/*
 * Table cells from JSON values; each writes into buf (len bytes, cut when
 * longer) and returns buf.
 *
 * ctl_cell(): a string as it is, a number in decimal, true/false as yes/no,
 * null or a missing value (v == NULL) as "-", an array as its elements
 * joined by commas ("-" when empty), an object as compact JSON.
 */
const char *ctl_cell(const json_t *v, char *buf, size_t len);

/* A desktop's "guest" ({hostname, users}: what its guest agent tells) as "HOST (USER,USER)": "HOST" without
 * users, "?" for a host name it did not tell; null or missing (no agent) as "-". */
const char *ctl_cell_guest(const json_t *v, char *buf, size_t len);

/* A time in unix seconds as ctl_format_time() writes it; null, missing or 0 as "-". */
const char *ctl_cell_time(const json_t *v, char *buf, size_t len);

/*
 * A template version's state (the element v of "versions"): "making",
 * "ready", "deleted", or "scheduled <time>" with its "at" as
 * ctl_format_time() writes it; "-" when the broker gives none.
 */
const char *ctl_cell_version_state(const json_t *v, char *buf, size_t len);

/*
 * A template's "versions" array (newest first) summarised for a list:
 * every version that is not deleted as "v<N> <state>" (as
 * ctl_cell_version_state() writes it, left out when unknown), with
 * " (not owned)" for a disk that is not vdi's, comma-separated, then
 * "+<count> deleted" for the deleted ones; "-" when there are none.
 */
const char *ctl_cell_versions(const json_t *versions, char *buf, size_t len);

/*
 * A pool's {state: count} object summarised as "free 3, assigned 2": states
 * in lifecycle order, then any others in the object's order; counts of 0
 * left out; "none" when nothing is left.
 */
const char *ctl_cell_counts(const json_t *v, char *buf, size_t len);
