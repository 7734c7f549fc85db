/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Static files for http.c (only): the pages under [broker] web_root and the
 * system's spice-html5 under /spice-html5/, with no way out of either root
 * (symbolic links included).
 */

#include <stddef.h>

struct lws;

struct broker_static {
	char *web_root;    /* realpath, or NULL */
	char *spice_html5; /* realpath of the system's spice-html5, served under /spice-html5/, or NULL */
};

/*
 * Resolves the roots (borrowed; each may be NULL).  A missing directory is no
 * error: it serves nothing.
 */
void broker_static_init(struct broker_static *s, const char *web_root, const char *spice_html5);
void broker_static_finish(struct broker_static *s);

/*
 * The file a GET of the unrouted path (borrowed) serves: 1 and its real path
 * in real (len bytes), or 0 when there is none (the caller answers 404).
 */
int broker_static_find(const struct broker_static *s, const char *path, char *real, size_t len);

/* Has lws serve the file at real (borrowed) on wsi (borrowed): 0, or -1 to close. */
int broker_static_send(struct lws *wsi, const char *real);
