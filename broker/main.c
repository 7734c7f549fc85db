/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "config.h"
#include "log.h"

static struct broker *running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		broker_stop(running);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = "/etc/vdi/vdi.conf";
	struct vdi_config cfg;
	struct broker *b = NULL;
	bool check_only = false;
	char err[1024] = "";
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check_only = true; break;
		case 'h':
			printf("usage: %s [--config FILE] [--check-config]\n", argv[0]);
			return 0;
		default:
			return 2;
		}
	}

	r = vdi_config_load(path, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vdi-broker: %s\n", err);
		return 1;
	}
	if (check_only) {
		vdi_config_finish(&cfg);
		printf("%s: configuration OK\n", path);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	r = broker_new(&cfg, &b, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vdi-broker: %s\n", err);
		return 1;
	}
	running = b;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	vdi_info("vdi-broker listening on port %d", broker_port(b));
	r = broker_run(b);
	running = NULL;
	broker_free(b);
	return r < 0 ? 1 : 0;
}
