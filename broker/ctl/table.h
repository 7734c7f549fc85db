/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vdictl's tables: a header row and rows of text cells, printed in columns
 * two blanks apart.  Widths count UTF-8 characters; control characters in a
 * cell (text from the broker) are shown as '?' so that a cell can neither
 * break a line nor send escape sequences to the terminal.  The last column
 * is not padded, so no line ends in blanks.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct ctl_column {
	const char *name;  /* header */
	bool right;        /* right-aligned (numbers) */
};

struct ctl_table;

/* A new table with n columns (columns borrowed: they must outlive the table). Returns 0 or -ENOMEM. */
int ctl_table_new(const struct ctl_column *columns, size_t n, struct ctl_table **ret);

/* Frees t; accepts NULL; returns NULL. */
struct ctl_table *ctl_table_free(struct ctl_table *t);

static inline void ctl_table_freep(struct ctl_table **t)
{
	ctl_table_free(*t);
}

/* Adds a row: cells has one string per column (borrowed, copied; NULL prints "-"). Returns 0 or -ENOMEM. */
int ctl_table_add_row(struct ctl_table *t, const char *const *cells);

/* The table as text, one line per row, each ending in '\n'; *ret is a new string. Returns 0 or -ENOMEM. */
int ctl_table_format(const struct ctl_table *t, char **ret);

/* Writes ctl_table_format()'s text to f. Returns 0, -ENOMEM or -EIO. */
int ctl_table_print(const struct ctl_table *t, FILE *f);
