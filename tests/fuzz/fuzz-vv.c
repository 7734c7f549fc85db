/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The remote-viewer file writer (broker/vv.h).  The input is its values
 * separated by NUL bytes: desktop id (a 'u' in it: USB redirection on; a 't':
 * SPICE over TLS), ticket, token, public_url, title, then with TLS the
 * host-subject and the CA's PEM (an empty one: none).
 * Invariant: a file that is written is exactly one [virt-viewer] group with
 * exactly its seven keys, once each (and enable-usbredir=1 and
 * enable-usb-autoshare=0 once each with USB redirection, never without; with
 * TLS tls-port=5901, secure-channels=all and host-subject instead of port,
 * and ca once when there is one), and the proxy is the gateway named by
 * public_url with the token as password (https:// with TLS): no value can
 * add a line or a key, and host-subject and ca read back (GKeyFile's
 * escapes undone) as they were given.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vv.h"

static const char *const keys[] = { "type",	  "host",  "port",	      "password",	     "proxy",
				    "delete-this-file", "title", "enable-usbredir", "enable-usb-autoshare",
				    "tls-port", "secure-channels", "host-subject", "ca" };
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* A GKeyFile value with its escapes undone (in place): false when one is not "\\\\" or "\\n". */
static bool unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '\\') {
			s++;
			if (*s != '\\' && *s != 'n')
				return false;
			*o++ = *s == 'n' ? '\n' : '\\';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return true;
}

static unsigned wanted(size_t k, const struct broker_vv *vv)
{
	bool tls = vv->host_subject != NULL;

	switch (k) {
	case 2:
		return !tls;
	case 7:
	case 8:
		return vv->usb_redirect;
	case 9:
	case 10:
	case 11:
		return tls;
	case 12:
		return tls && vv->ca;
	default:
		return 1;
	}
}

static void check_value(size_t k, char *value, const struct broker_vv *vv)
{
	const char *scheme = vv->host_subject ? "https://token:" : "http://token:";
	size_t sl = strlen(scheme), tl = strlen(vv->token);

	if (k == 7)
		FUZZ_CHECK(strcmp(value, "1") == 0);
	if (k == 8)
		FUZZ_CHECK(strcmp(value, "0") == 0);
	if (k == 9)
		FUZZ_CHECK(strcmp(value, "5901") == 0);
	if (k == 10)
		FUZZ_CHECK(strcmp(value, "all") == 0);
	if (k == 11)
		FUZZ_CHECK(unescape(value) && strcmp(value, vv->host_subject) == 0);
	if (k == 12)
		FUZZ_CHECK(unescape(value) && strcmp(value, vv->ca) == 0);
	if (k == 4) {
		FUZZ_CHECK(strncmp(value, scheme, sl) == 0);
		FUZZ_CHECK(strncmp(value + sl, vv->token, tl) == 0 && value[sl + tl] == '@');
		FUZZ_CHECK(!strchr(value + sl + tl + 1, '@') && !strchr(value + sl + tl + 1, '/'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size), *field[7] = { 0 }, *out = NULL, *line, *save = NULL, *p = in;
	struct broker_vv vv;
	unsigned seen[N_KEYS] = { 0 };
	size_t len = 0, nf = 0;
	int r;

	if (size > 8192)
		goto done;
	while (nf < 7 && p <= in + size) {
		field[nf++] = p;
		p += strlen(p) + 1;
	}
	if (nf < 5)
		goto done;
	vv = (struct broker_vv){ .desktop = strtoll(field[0], NULL, 10), .password = field[1], .token = field[2],
				 .public_url = field[3], .title = field[4], .usb_redirect = strchr(field[0], 'u') != NULL };
	if (strchr(field[0], 't')) {
		vv.host_subject = field[5] ? field[5] : "";
		vv.ca = field[6] && *field[6] ? field[6] : NULL;
	}
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
		check_value(k, eq + 1, &vv);
	}
	for (size_t k = 0; k < N_KEYS; k++)
		FUZZ_CHECK(seen[k] == wanted(k, &vv));
done:
	free(out);
	free(in);
	return 0;
}
