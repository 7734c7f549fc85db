/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "daemon.h"
#include "gateway.h"
#include "log.h"

static struct gw *running;

static void on_signal(int sig)
{
	if (running && sig == SIGHUP)
		gw_reload(running);
	else if (running)
		gw_stop(running);
}

int main(int argc, char **argv)
{
	struct vdi_config cfg;
	struct gw *gw = NULL;
	struct vdi_error err = { 0 };
	int r;

	vdi_daemon_signals_hold();
	r = vdi_daemon_config(argc, argv, "vdi-gateway", "gateway", &cfg);
	if (r <= 0)
		return -r;

	signal(SIGPIPE, SIG_IGN); /* also while it starts */
	r = gw_new(&cfg, &gw, &err);
	if (r < 0) {
		fprintf(stderr, "vdi-gateway: %s\n", err.message);
		vdi_config_finish(&cfg);
		return 1;
	}
	running = gw;
	vdi_daemon_signals_take(on_signal);
	vdi_info("vdi-gateway listening on port %d at %s", gw_port(gw), gw_address(gw));
	r = gw_run(gw);
	running = NULL;
	gw_free(gw);
	vdi_config_finish(&cfg);
	return r < 0 ? 1 : 0;
}
