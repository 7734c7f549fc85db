/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "listen.h"
#include "paths.h"
#include "tls.h"

/* The daemon's listen address as it would start: resolved, and one of this machine's. */
static int check_listen(const char *name, const char *listen_key, const struct vdi_config *cfg)
{
	const char *listen = streq(listen_key, "gateway") ? cfg->gateway.listen : cfg->broker.listen;
	struct vdi_listen where;
	struct vdi_error msg = { 0 };

	if (vdi_listen_resolve(listen ? listen : "", &where, &msg) < 0) {
		fprintf(stderr, "%s: [%s] listen: %s\n", name, listen_key, msg.message);
		return -1;
	}
	return 0;
}

/* The daemon's certificates as it would load them: [SECTION] tls_cert + tls_key, the gateway's tls_ca. */
static int check_tls(const char *name, const char *section, const struct vdi_config *cfg)
{
	bool gateway = streq(section, "gateway");
	struct vdi_error msg = { 0 };
	int r;

	r = vdi_tls_check_pair(section, gateway ? cfg->gateway.tls_cert : cfg->broker.tls_cert,
			       gateway ? cfg->gateway.tls_key : cfg->broker.tls_key, &msg);
	if (r >= 0)
		r = vdi_tls_check_ca("gateway", cfg->gateway.tls_ca, cfg->gateway.tls_cert, &msg);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", name, msg.message[0] ? msg.message : strerror(-r));
	return r;
}

int vdi_daemon_config(int argc, char **argv, const char *name, const char *listen_key, struct vdi_config *cfg)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = VDI_CONFIG_FILE;
	bool check_only = false;
	struct vdi_error err = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check_only = true; break;
		case 'h':
			printf("usage: %s [--config FILE] [--check-config]\n", argv[0]);
			return 0;
		default:
			return -2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", name, argv[optind]);
		return -2;
	}
	if (vdi_config_load(path, cfg, &err) < 0) {
		fprintf(stderr, "%s: %s\n", name, err.message);
		return -1;
	}
	if (check_tls(name, listen_key, cfg) < 0) {
		vdi_config_finish(cfg);
		return -1;
	}
	if (check_only) {
		if (check_listen(name, listen_key, cfg) < 0) {
			vdi_config_finish(cfg);
			return -1;
		}
		printf("configuration OK, read in this order:\n");
		for (char **f = cfg->files; f && *f; f++)
			printf("  %s\n", *f);
		vdi_config_finish(cfg);
		return 0;
	}
	return 1;
}

static void daemon_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

void vdi_daemon_signals_hold(void)
{
	sigset_t set;

	daemon_signals(&set);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void vdi_daemon_signals_take(void (*handler)(int sig))
{
	struct sigaction sa = { .sa_handler = handler };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	daemon_signals(&set);
	(void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
