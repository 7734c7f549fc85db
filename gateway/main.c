/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "gateway.h"
#include "log.h"

static struct gw *running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		gw_stop(running);
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
	struct gw *gw = NULL;
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
		fprintf(stderr, "vdi-gateway: %s\n", err);
		return 1;
	}
	if (check_only) {
		vdi_config_finish(&cfg);
		printf("%s: configuration OK\n", path);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	r = gw_new(&cfg, &gw, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vdi-gateway: %s\n", err);
		vdi_config_finish(&cfg);
		return 1;
	}
	running = gw;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	vdi_info("vdi-gateway listening on port %d", gw_port(gw));
	r = gw_run(gw);
	running = NULL;
	gw_free(gw);
	vdi_config_finish(&cfg);
	return r < 0 ? 1 : 0;
}
