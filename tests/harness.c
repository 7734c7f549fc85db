/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP 77

static char tmpdir[4096];
static pid_t tmpdir_owner;
static void (*sweeper)(void);

void vdi_test_set_sweeper(void (*fn)(void))
{
	sweeper = fn;
}

/* The forked test writes why it skipped or failed here; the parent reads it back. */
static void write_reason(const char *text)
{
	const char *path = getenv("VDI_TEST_REASON_FILE");
	FILE *f;

	if (!path)
		return;
	f = fopen(path, "we");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

uint64_t vdi_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vdi_test_log(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* TAP diagnostics go to stdout; keep each line prefixed. */
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		printf("# %s\n", line);
	fflush(stdout);
}

void vdi_test_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vdi_test_log("%s:%d: %s", file, line, buf);
	{
		char reason[4200];

		snprintf(reason, sizeof(reason), "%s:%d: %s", file, line, buf);
		write_reason(reason);
	}
	fflush(stderr);
	_exit(1);
}

void vdi_test_skip(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	write_reason(buf);
	vdi_test_log("skip: %s", buf);
	_exit(EXIT_SKIP);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void tmpdir_cleanup(void)
{
	if (tmpdir[0] && getpid() == tmpdir_owner && !getenv("VDI_TEST_KEEP"))
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *vdi_test_tmpdir(void)
{
	const char *base;

	if (tmpdir[0])
		return tmpdir;
	base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/vdi-test-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		vdi_test_fail(__FILE__, __LINE__, "mkdtemp: %m");
	}
	chmod(tmpdir, 0755);
	tmpdir_owner = getpid();
	atexit(tmpdir_cleanup);
	return tmpdir;
}

static int run_one(const struct vdi_test *t, char *reason, size_t reason_len)
{
	char reason_file[] = "/tmp/vdi-test-reason-XXXXXX";
	int fd, status;
	pid_t pid;

	reason[0] = '\0';
	if (getenv("VDI_TEST_NOFORK")) {
		t->fn();
		return 0;
	}

	fd = mkstemp(reason_file);
	if (fd < 0)
		return -errno;
	close(fd);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setenv("VDI_TEST_REASON_FILE", reason_file, 1);
		/* Each test gets its own tmpdir, removed when the test's process exits. */
		tmpdir[0] = '\0';
		setpgid(0, 0);
		alarm(t->timeout_s ? t->timeout_s : 120);
		t->fn();
		fflush(stdout);
		exit(0);
	}

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	/* Anything the test left running in its process group goes with it. */
	kill(-pid, SIGKILL);
	if (sweeper)
		sweeper();

	{
		FILE *f = fopen(reason_file, "re");

		if (f) {
			size_t n = fread(reason, 1, reason_len - 1, f);

			reason[n] = '\0';
			fclose(f);
		}
		unlink(reason_file);
	}

	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		snprintf(reason, reason_len, "killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGALRM ? ": timed out" : "");
		vdi_test_log("%s: %s", t->name, reason);
	}
	return 1;
}

int vdi_test_main(int argc, char **argv, const struct vdi_test *tests, size_t n)
{
	const char *filter = getenv("VDI_TEST_FILTER");
	size_t passed = 0, failed = 0, skipped = 0, planned = 0, idx = 0;
	/* The failures again at the very end: a long log is often shown only by its tail. */
	char *summary = NULL;
	size_t summary_len = 0;
	FILE *sf = open_memstream(&summary, &summary_len);

	if (argc > 1)
		filter = argv[1];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < n; i++)
		if (!filter || strstr(tests[i].name, filter))
			planned++;
	printf("1..%zu\n", planned);

	for (size_t i = 0; i < n; i++) {
		char reason[1024];
		uint64_t t0;
		int r;

		if (filter && !strstr(tests[i].name, filter))
			continue;
		idx++;
		t0 = vdi_test_now_ms();
		r = run_one(&tests[i], reason, sizeof(reason));
		if (r == 0) {
			passed++;
			printf("ok %zu - %s (%" PRIu64 " ms)\n", idx, tests[i].name, vdi_test_now_ms() - t0);
		} else if (r == EXIT_SKIP) {
			skipped++;
			printf("ok %zu - %s # SKIP %s\n", idx, tests[i].name, reason);
		} else {
			failed++;
			printf("not ok %zu - %s\n", idx, tests[i].name);
			if (sf)
				fprintf(sf, "# failed: %s: %s\n", tests[i].name, reason[0] ? reason : "(no message)");
		}
	}

	if (sf) {
		fclose(sf);
		fputs(summary ? summary : "", stdout);
		free(summary);
	}
	printf("# %zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
	/* Skips travel in the TAP stream ("# SKIP"): meson marks a file whose tests all skipped as SKIP. */
	return failed ? 1 : 0;
}

bool vdi_test_file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}
