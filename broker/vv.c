/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No byte a client could read as the end of a line or of the file. */
static bool no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Printable ASCII without spaces, and none of delims. */
static bool word(const char *s, const char *delims)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || strchr(delims, *s))
			return false;
	return true;
}

/* host[:port] of a ws:// or wss:// URL (anything after it — path, query — left out). */
static int authority(const char *url, char *buf, size_t len)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p ? p + 3 : url;
	n = strcspn(p, "/?#");
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return word(buf, "@\\") ? 0 : -EINVAL;
}

/* s as a .vv (GKeyFile) value: "\\" and "\n" for backslashes and newlines; NULL when it holds another
 * control character (or out of memory). */
static char *keyfile_value(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *p = out;

	for (; out && *s; s++) {
		if (*s == '\\' || *s == '\n') {
			*p++ = '\\';
			*p++ = *s == '\n' ? 'n' : '\\';
		} else if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			free(out);
			return NULL;
		} else {
			*p++ = *s;
		}
	}
	if (out)
		*p = '\0';
	return out;
}

/* The lines that say how SPICE goes: in the clear on 5900, or over TLS on 5901 (into *ret, free() it). */
static int spice_lines(const struct broker_vv *vv, char **ret)
{
	char *subject, *ca = NULL;
	int n;

	if (!vv->host_subject)
		return (*ret = strdup("port=5900\n")) ? 0 : -ENOMEM;
	subject = keyfile_value(vv->host_subject);
	if (!subject || !*subject || (vv->ca && (!(ca = keyfile_value(vv->ca)) || !*ca))) {
		free(subject);
		free(ca);
		return -EINVAL;
	}
	n = asprintf(ret, "tls-port=5901\nsecure-channels=all\nhost-subject=%s\n%s%s%s", subject, ca ? "ca=" : "",
		     ca ? ca : "", ca ? "\n" : "");
	free(subject);
	free(ca);
	if (n < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

int broker_vv_write(const struct broker_vv *vv, char **ret, size_t *ret_len)
{
	char gw[256], *spice = NULL;
	int n;

	if (vv->desktop <= 0 || !vv->password || !vv->token || !vv->public_url || !vv->title ||
	    !word(vv->password, "") || !word(vv->token, ":@/?#%") || !no_controls(vv->title) ||
	    authority(vv->public_url, gw, sizeof(gw)) < 0)
		return -EINVAL;
	n = spice_lines(vv, &spice);
	if (n < 0)
		return n;
	n = asprintf(ret,
		     "[virt-viewer]\n"
		     "type=spice\n"
		     "host=desktop-%lld\n"
		     "%s"
		     "password=%s\n"
		     "proxy=%s://token:%s@%s\n"
		     "delete-this-file=1\n"
		     "title=%s\n"
		     "%s",
		     (long long)vv->desktop, spice, vv->password, vv->host_subject ? "https" : "http", vv->token, gw,
		     vv->title, vv->usb_redirect ? "enable-usbredir=1\nenable-usb-autoshare=0\n" : "");
	free(spice);
	if (n < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	*ret_len = (size_t)n;
	return 0;
}
