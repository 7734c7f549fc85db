/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A virtual X screen whose pixels are a file (Xvfb -fbdir, XWD format), for
 * tests of real desktop clients (remote-viewer): start it, count colours,
 * and read the text on it with tesseract.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct screen {
	pid_t xvfb;
	char display[16];   /* ":N" */
	char xwd[600];      /* the screen's pixels */
};

/* Starts Xvfb (1024x768x24) with its files under dir, output to log; fails the test when it cannot. */
void screen_start(struct screen *s, const char *dir, const char *log);
void screen_stop(struct screen *s);

/* Starts argv[0] with DISPLAY set (display may be NULL), output appended to log; killed with the test. */
pid_t screen_spawn(const char *log, char *const argv[], const char *display);

/*
 * As screen_spawn, with the CA certificate ca_file trusted as a system CA: argv runs in a mount
 * namespace of its own whose /etc/ssl/certs/ca-certificates.crt (the store GLib's TLS checks an
 * https proxy against) also holds ca_file.  The test runs as root (unshare, mount).
 */
pid_t screen_spawn_trusting(const char *log, char *const argv[], const char *display, const char *ca_file);

struct screen_colour {
	uint32_t rgb;      /* 0xRRGGBB */
	uint64_t count;    /* filled: pixels of that colour */
	double x, y;       /* filled: their centroid */
};

/* Counts the pixels of each colour; false when the screen cannot be read. */
bool screen_colours(const struct screen *s, struct screen_colour *c, size_t n);

/* The text tesseract reads on the screen (a new string), or NULL. */
char *screen_text(const struct screen *s);

/* The text tesseract reads in an image file (PNG, PPM), or NULL. */
char *image_text(const char *path);
