/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration parser (vdi.conf and the files of vdi.conf.d) on any text.
 * Invariants: a refusal says where (the file's name and line); what is
 * accepted holds the bounds the code relies on.
 */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdi_config cfg;
	struct vdi_error err = { 0 };
	char *text;
	int r;

	if (size > 64 * 1024)
		return 0;
	text = fuzz_string(data, size);
	FUZZ_CHECK(vdi_config_init(&cfg) == 0);
	r = vdi_config_apply_string(&cfg, text, "fuzz.conf", &err);
	if (r < 0) {
		FUZZ_CHECK(r == -ENOMEM || strncmp(err.message, "fuzz.conf", 9) == 0);
	} else {
		FUZZ_CHECK(cfg.broker.listen && cfg.broker.admin_socket && cfg.database.path && cfg.pam.service);
		FUZZ_CHECK(cfg.broker.session_ttl >= 60 && cfg.broker.session_ttl <= 7 * 86400);
		FUZZ_CHECK(cfg.tokens.ttl >= 5 && cfg.tokens.ttl <= 3600);
		FUZZ_CHECK(cfg.libvirt.hosts && cfg.libvirt.hosts[0] && cfg.gateway.allowed_targets);
		FUZZ_CHECK(strcmp(cfg.libvirt.virt_type, "auto") == 0 || strcmp(cfg.libvirt.virt_type, "kvm") == 0 ||
			   strcmp(cfg.libvirt.virt_type, "qemu") == 0);
		FUZZ_CHECK(strncmp(cfg.gateway.public_url, "ws://", 5) == 0 ||
			   strncmp(cfg.gateway.public_url, "wss://", 6) == 0);
	}
	vdi_config_finish(&cfg);
	free(text);
	return 0;
}
