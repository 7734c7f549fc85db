/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "http-static.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "alloc.h"
#include "cleanup.h"

void broker_static_init(struct broker_static *s, const char *web_root, const char *spice_html5)
{
	/* A missing web root is no error: the API still works (the pages come with the package). */
	s->web_root = web_root ? realpath(web_root, NULL) : NULL;
	s->spice_html5 = spice_html5 ? realpath(spice_html5, NULL) : NULL;
}

void broker_static_finish(struct broker_static *s)
{
	free(s->web_root);
	free(s->spice_html5);
	s->web_root = s->spice_html5 = NULL;
}

static const char *mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },   { ".json", "application/json" },
		{ ".png", "image/png" },                 { ".svg", "image/svg+xml" },
		{ ".ico", "image/x-icon" },              { ".txt", "text/plain; charset=utf-8" },
		{ ".woff2", "font/woff2" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* The regular file path (starting with '/') names under the directory root: 1 and real, or 0. */
static int find_in(const char *root, const char *path, char *real, size_t len)
{
	char want[PATH_MAX], found[PATH_MAX];
	size_t root_len;
	struct stat st;

	if (!root || path[0] != '/' || strstr(path, "/.") || strchr(path, '\\'))
		return 0;
	if (snprintf(want, sizeof(want), "%s%s%s", root, path, path[strlen(path) - 1] == '/' ? "index.html" : "") >=
	    (int)sizeof(want))
		return 0;
	/* No way out of root, also not through symbolic links. */
	if (!realpath(want, found))
		return 0;
	root_len = strlen(root);
	if (strncmp(found, root, root_len) != 0 || found[root_len] != '/')
		return 0;
	if (stat(found, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (snprintf(real, len, "%s", found) >= (int)len)
		return 0;
	return 1;
}

int broker_static_find(const struct broker_static *s, const char *path, char *real, size_t len)
{
	if (startswith(path, "/api/"))
		return 0;
	if (startswith(path, "/spice-html5/"))
		return find_in(s->spice_html5, path + strlen("/spice-html5"), real, len);
	return find_in(s->web_root, path, real, len);
}

int broker_static_send(struct lws *wsi, const char *real)
{
	int r = lws_serve_http_file(wsi, real, mime_type(real), "x-content-type-options: nosniff\r\n", 33);

	if (r < 0)
		return -1;
	if (r > 0 && lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}
