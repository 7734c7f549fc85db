/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

static struct broker *running;

static void on_signal(int sig)
{
	if (running && sig == SIGHUP)
		broker_reload(running);
	else if (running)
		broker_stop(running);
}

int main(int argc, char **argv)
{
	struct vdi_config cfg;
	struct broker *b = NULL;
	struct vdi_error err = { 0 };
	int r;

	r = vdi_daemon_config(argc, argv, "vdi-broker", "broker", &cfg);
	if (r <= 0)
		return -r;

	signal(SIGPIPE, SIG_IGN);
	r = broker_new(&cfg, &b, &err);
	if (r < 0) {
		fprintf(stderr, "vdi-broker: %s\n", err.message);
		vdi_config_finish(&cfg);
		return 1;
	}
	running = b;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	vdi_info("vdi-broker listening on port %d at %s", broker_port(b), broker_address(b));
	r = broker_run(b);
	running = NULL;
	broker_free(b);
	vdi_config_finish(&cfg);
	return r < 0 ? 1 : 0;
}
