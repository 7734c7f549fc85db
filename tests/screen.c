/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "screen.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

pid_t screen_spawn(const char *log, char *const argv[], const char *display)
{
	pid_t pid = fork();

	check(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (display)
			setenv("DISPLAY", display, 1);
		/* Clients are no business of the tests' PAM and NSS wrappers (chromium hangs under them). */
		unsetenv("LD_PRELOAD");
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

pid_t screen_spawn_trusting(const char *log, char *const argv[], const char *display, const char *ca_file)
{
	static const char system_ca[] = "/etc/ssl/certs/ca-certificates.crt";
	char bundle[600], cmd[1400], *wrapped[64] = { "/usr/bin/unshare", "-m", "/bin/sh", "-c",
						    "mount --bind \"$0\" /etc/ssl/certs/ca-certificates.crt && exec \"$@\"",
						    bundle };
	size_t n = 6;

	if (access(system_ca, R_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s is needed (ca-certificates)", system_ca);
	snprintf(bundle, sizeof(bundle), "%s/system-and-test-ca.crt", vdi_test_tmpdir());
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", system_ca, ca_file, bundle);
	if (system(cmd) != 0)
		vdi_test_fail(__FILE__, __LINE__, "cannot write %s", bundle);
	for (size_t i = 0; argv[i]; i++) {
		if (n + 1 >= sizeof(wrapped) / sizeof(wrapped[0]))
			vdi_test_fail(__FILE__, __LINE__, "too many arguments");
		wrapped[n++] = argv[i];
	}
	wrapped[n] = NULL;
	return screen_spawn(log, wrapped, display);
}

void screen_start(struct screen *s, const char *dir, const char *log)
{
	char fdtext[16];
	int dfd[2];
	ssize_t n;

	if (access("/usr/bin/Xvfb", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "Xvfb is needed: tools/install-deps installs it");
	memset(s, 0, sizeof(*s));
	check(mkdir(dir, 0755) == 0 || errno == EEXIST);
	snprintf(s->xwd, sizeof(s->xwd), "%s/Xvfb_screen0", dir);
	check(pipe(dfd) == 0);
	snprintf(fdtext, sizeof(fdtext), "%d", dfd[1]);
	/* Xvfb writes the display number it took to -displayfd. */
	s->xvfb = screen_spawn(log, (char *[]){ "/usr/bin/Xvfb", "-displayfd", fdtext, "-screen", "0", "1024x768x24",
						"-fbdir", (char *)dir, "-nolisten", "tcp", NULL },
			       NULL);
	close(dfd[1]);
	n = read(dfd[0], s->display + 1, sizeof(s->display) - 2);
	close(dfd[0]);
	check(n > 0);
	s->display[0] = ':';
	s->display[strcspn(s->display, "\n")] = '\0';
}

void screen_stop(struct screen *s)
{
	if (s->xvfb > 0) {
		kill(s->xvfb, SIGTERM);
		waitpid(s->xvfb, NULL, 0);
		s->xvfb = 0;
	}
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Calls fn for every pixel (0xRRGGBB) of the XWD file; false when it is not 32-bit LSBFirst. */
static bool each_pixel(const char *xwd, void (*fn)(uint32_t x, uint32_t y, uint32_t rgb, void *data), void *data,
		       uint32_t *ret_w, uint32_t *ret_h)
{
	FILE *f = fopen(xwd, "re");
	uint8_t head[100], *row = NULL;
	uint32_t hsize, width, height, bpl, ncolors;
	bool ok = false;

	if (!f || fread(head, 1, sizeof(head), f) != sizeof(head))
		goto out;
	hsize = be32(head), width = be32(head + 16), height = be32(head + 20);
	bpl = be32(head + 48), ncolors = be32(head + 76);
	if (be32(head + 44) != 32 || be32(head + 28) != 0 || bpl < width * 4 ||
	    fseek(f, (long)hsize + (long)ncolors * 12, SEEK_SET) != 0)
		goto out;
	if (ret_w)
		*ret_w = width;
	if (ret_h)
		*ret_h = height;
	row = malloc(bpl);
	check(row);
	for (uint32_t y = 0; y < height; y++) {
		if (fread(row, 1, bpl, f) != bpl)
			goto out;
		for (uint32_t x = 0; x < width; x++)
			fn(x, y, (uint32_t)row[4 * x] | (uint32_t)row[4 * x + 1] << 8 | (uint32_t)row[4 * x + 2] << 16, data);
	}
	ok = true;
out:
	free(row);
	if (f)
		fclose(f);
	return ok;
}

struct colour_sums {
	struct screen_colour *c;
	size_t n;
	double *sx, *sy;
};

static void count_colour(uint32_t x, uint32_t y, uint32_t rgb, void *data)
{
	struct colour_sums *s = data;

	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].rgb == rgb) {
			s->c[i].count++;
			s->sx[i] += x;
			s->sy[i] += y;
		}
}

bool screen_colours(const struct screen *s, struct screen_colour *c, size_t n)
{
	double sx[16] = { 0 }, sy[16] = { 0 };
	struct colour_sums sums = { .c = c, .n = n < 16 ? n : 16, .sx = sx, .sy = sy };

	for (size_t i = 0; i < n; i++)
		c[i].count = 0;
	if (!each_pixel(s->xwd, count_colour, &sums, NULL, NULL))
		return false;
	for (size_t i = 0; i < sums.n; i++) {
		c[i].x = c[i].count ? sx[i] / (double)c[i].count : -1;
		c[i].y = c[i].count ? sy[i] / (double)c[i].count : -1;
	}
	return true;
}

static void write_ppm_pixel(uint32_t x, uint32_t y, uint32_t rgb, void *data)
{
	uint8_t px[3] = { (uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb };

	(void)x;
	(void)y;
	(void)fwrite(px, 1, 3, data);
}

char *screen_text(const struct screen *s)
{
	char ppm[700];
	uint32_t w = 0, h = 0;
	FILE *f;

	snprintf(ppm, sizeof(ppm), "%s.ppm", s->xwd);
	f = fopen(ppm, "we");
	check(f);
	/* The header is rewritten once the size is known. */
	fprintf(f, "P6\n%5u %5u\n255\n", 0u, 0u);
	if (!each_pixel(s->xwd, write_ppm_pixel, f, &w, &h)) {
		fclose(f);
		return NULL;
	}
	rewind(f);
	fprintf(f, "P6\n%5u %5u\n255\n", w, h);
	fclose(f);
	return image_text(ppm);
}

char *image_text(const char *path)
{
	char cmd[1600], *text = NULL;
	size_t len = 0;
	FILE *p;

	if (access("/usr/bin/tesseract", X_OK) != 0)
		vdi_test_fail(__FILE__, __LINE__, "tesseract is needed: tools/install-deps installs it");
	if (access(path, R_OK) != 0)
		return NULL;
	snprintf(cmd, sizeof(cmd), "tesseract '%s' - 2>/dev/null", path);
	p = popen(cmd, "r");
	check(p);
	if (getdelim(&text, &len, '\0', p) < 0) {
		free(text);
		text = NULL;
	}
	pclose(p);
	return text;
}
