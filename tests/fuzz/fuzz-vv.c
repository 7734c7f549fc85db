/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The remote-viewer file writer (broker/vv.h).  The input is its values
 * separated by NUL bytes: desktop id (a 'u' in it: USB redirection on),
 * ticket, token, public_url, title.
 * Invariant: a file that is written is exactly one [virt-viewer] group with
 * exactly its seven keys, once each (and enable-usbredir=1 and
 * enable-usb-autoshare=0 once each with USB redirection, never without), and
 * the proxy is the gateway named by public_url with the token as password: no
 * value can add a line or a key.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "vv.h"

static const char *const keys[] = { "type",	  "host",  "port",	      "password",	     "proxy",
				    "delete-this-file", "title", "enable-usbredir", "enable-usb-autoshare" };
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size), *field[5] = { 0 }, *out = NULL, *line, *save = NULL, *p = in;
	struct broker_vv vv;
	unsigned seen[N_KEYS] = { 0 };
	size_t len = 0, nf = 0;
	int r;

	if (size > 8192)
		goto done;
	while (nf < 5 && p <= in + size) {
		field[nf++] = p;
		p += strlen(p) + 1;
	}
	if (nf < 5)
		goto done;
	vv = (struct broker_vv){ .desktop = strtoll(field[0], NULL, 10), .password = field[1], .token = field[2],
				 .public_url = field[3], .title = field[4], .usb_redirect = strchr(field[0], 'u') != NULL };
	r = broker_vv_write(&vv, &out, &len);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0)
		goto done;
	FUZZ_CHECK(strlen(out) == len && len > 0 && out[len - 1] == '\n');
	line = strtok_r(out, "\n", &save);
	FUZZ_CHECK(line && strcmp(line, "[virt-viewer]") == 0);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *eq = strchr(line, '=');
		size_t k;

		FUZZ_CHECK(eq && !strchr(line, '\r'));
		*eq = '\0';
		for (k = 0; k < N_KEYS && strcmp(line, keys[k]) != 0; k++)
			;
		FUZZ_CHECK(k < N_KEYS);
		seen[k]++;
		if (k == 7)
			FUZZ_CHECK(strcmp(eq + 1, "1") == 0);
		if (k == 8)
			FUZZ_CHECK(strcmp(eq + 1, "0") == 0);
		if (k == 4) {
			FUZZ_CHECK(strncmp(eq + 1, "http://token:", 13) == 0);
			FUZZ_CHECK(strncmp(eq + 14, vv.token, strlen(vv.token)) == 0 && eq[14 + strlen(vv.token)] == '@');
			FUZZ_CHECK(!strchr(eq + 15 + strlen(vv.token), '@') && !strchr(eq + 15 + strlen(vv.token), '/'));
		}
	}
	for (size_t k = 0; k < N_KEYS; k++)
		FUZZ_CHECK(seen[k] == (k < 7 || vv.usb_redirect ? 1u : 0u));
done:
	free(out);
	free(in);
	return 0;
}
