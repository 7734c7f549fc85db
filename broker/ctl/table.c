/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"

struct ctl_table {
	const struct ctl_column *columns;  /* borrowed */
	size_t ncols;
	char **cells;                      /* nrows * ncols, row after row */
	size_t nrows, cap;                 /* cap in cells */
	size_t *widths;                    /* per column, headers included */
};

/* Characters a terminal shows: UTF-8 lead bytes and ASCII, not continuation bytes. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			w++;
	return w;
}

/* A copy of s with C0 and C1 control characters (and DEL) replaced by '?'. */
static char *sanitized(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7F) {
			*o++ = '?';
		} else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			/* U+0080..U+009F: some terminals take U+009B for CSI. */
			*o++ = '?';
			p++;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

int ctl_table_new(const struct ctl_column *columns, size_t n, struct ctl_table **ret)
{
	_cleanup_(ctl_table_freep) struct ctl_table *t = vdi_new0(struct ctl_table);

	if (!t)
		return -ENOMEM;
	t->columns = columns;
	t->ncols = n;
	t->widths = vdi_calloc(n, sizeof(*t->widths));
	if (!t->widths)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t->widths[i] = text_width(columns[i].name);
	*ret = TAKE_PTR(t);
	return 0;
}

struct ctl_table *ctl_table_free(struct ctl_table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->widths);
	free(t);
	return NULL;
}

int ctl_table_add_row(struct ctl_table *t, const char *const *cells)
{
	size_t base = t->nrows * t->ncols;

	if (vdi_grow((void **)&t->cells, &t->cap, base + t->ncols, sizeof(*t->cells)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[base + i] = sanitized(cells[i] ? cells[i] : "-");
		if (!t->cells[base + i]) {
			for (size_t j = 0; j < i; j++)
				free(t->cells[base + j]);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < t->ncols; i++) {
		size_t w = text_width(t->cells[base + i]);

		if (w > t->widths[i])
			t->widths[i] = w;
	}
	t->nrows++;
	return 0;
}

/* Writes one row to f, using *line (*cap bytes) as scratch. Returns 0 or -ENOMEM. */
static int format_row(const struct ctl_table *t, const char *const *cells, FILE *f, char **line, size_t *cap)
{
	size_t len = 0;

	for (size_t i = 0; i < t->ncols; i++) {
		size_t w = text_width(cells[i]), pad = t->widths[i] - w, n = strlen(cells[i]);
		size_t need = len + 2 + pad + n + 1;

		if (vdi_grow((void **)line, cap, need, 1) < 0)
			return -ENOMEM;
		if (i > 0) {
			memcpy(*line + len, "  ", 2);
			len += 2;
		}
		if (t->columns[i].right) {
			memset(*line + len, ' ', pad);
			len += pad;
		}
		memcpy(*line + len, cells[i], n);
		len += n;
		if (!t->columns[i].right) {
			memset(*line + len, ' ', pad);
			len += pad;
		}
	}
	while (len > 0 && (*line)[len - 1] == ' ')
		len--;
	fwrite(*line, 1, len, f);
	fputc('\n', f);
	return 0;
}

int ctl_table_format(const struct ctl_table *t, char **ret)
{
	_cleanup_free_ const char **headers = vdi_calloc(t->ncols, sizeof(*headers));
	_cleanup_free_ char *line = NULL, *text = NULL;
	size_t cap = 0, size = 0;
	int r = 0;
	FILE *f;

	if (!headers)
		return -ENOMEM;
	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < t->ncols; i++)
		headers[i] = t->columns[i].name;
	r = format_row(t, headers, f, &line, &cap);
	for (size_t i = 0; r >= 0 && i < t->nrows; i++)
		r = format_row(t, (const char *const *)t->cells + i * t->ncols, f, &line, &cap);
	if (ferror(f))
		r = -ENOMEM;
	if (fclose(f) != 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(text);
	return 0;
}

int ctl_table_print(const struct ctl_table *t, FILE *f)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = ctl_table_format(t, &text);
	if (r < 0)
		return r;
	if (fputs(text, f) < 0)
		return -EIO;
	return 0;
}
