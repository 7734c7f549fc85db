/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What vdi's daemons share on the command line: --config FILE, --check-config, --help. */

#include "config.h"

/*
 * Parses argv and loads the configuration into cfg.  Returns 1 when the
 * daemon should go on (cfg is loaded: vdi_config_finish() it), or 0 minus
 * the exit status when it is done: after --help or --check-config (0), a
 * bad option (2), or a configuration error (1, printed as "name: message").
 * --check-config also resolves the daemon's own listen address (listen_key:
 * "broker" or "gateway") and checks that this machine has it, as the daemon
 * does when it starts.  Both ways it checks the daemon's TLS certificates ([broker] or
 * [gateway] tls_cert + tls_key, and [gateway] tls_ca, which the broker reads for .vv files too):
 * a daemon with a bad pair does not start.
 */
int vdi_daemon_config(int argc, char **argv, const char *name, const char *listen_key, struct vdi_config *cfg);

/*
 * The daemons' signals: SIGINT, SIGTERM (stop) and SIGHUP (reload).  vdi_daemon_signals_hold(), first
 * thing in main(), blocks them, so that every thread made afterwards (workers, libvirt's) never runs a
 * handler and a SIGHUP while the daemon starts waits instead of killing it.  vdi_daemon_signals_take()
 * installs handler for the three (and ignores SIGPIPE) and unblocks them in the calling thread only,
 * the event loop's: a pending one is delivered then.
 */
void vdi_daemon_signals_hold(void);
void vdi_daemon_signals_take(void (*handler)(int sig));
