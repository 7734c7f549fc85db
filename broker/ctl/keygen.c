/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl keygen PATH: a new console token key, written here (no broker involved). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "token.h"

int ctl_cmd_keygen(const struct ctl *ctl, int argc, char **argv)
{
	_cleanup_json_ json_t *done = NULL;
	struct vdi_error err = { 0 };
	const char *path;
	int r;

	r = ctl_parse_plain(ctl, argc, argv, 1, "the PATH of the key file to write");
	if (r <= 0)
		return ctl_parse_exit(r);
	path = argv[optind];
	r = vdi_token_key_generate(path, &err);
	if (r < 0) {
		if (!err.message[0])
			vdi_error_set(&err, r, "token key %s: %s", path, strerror(-r));
		return ctl_error(CTL_EXIT_FAILED, "%s", err.message);
	}
	/* Never the key itself: only where it is. */
	if (ctl->json) {
		done = json_pack("{s:s}", "key_file", path);
		return done ? ctl_print_json(done) : ctl_error(CTL_EXIT_FAILED, "out of memory");
	}
	printf("token key written to %s\n", path);
	return CTL_EXIT_OK;
}
