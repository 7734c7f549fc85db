/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
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

int broker_vv_write(const struct broker_vv *vv, char **ret, size_t *ret_len)
{
	char gw[256];
	int n;

	if (vv->desktop <= 0 || !vv->password || !vv->token || !vv->public_url || !vv->title ||
	    !word(vv->password, "") || !word(vv->token, ":@/?#%") || !no_controls(vv->title) ||
	    authority(vv->public_url, gw, sizeof(gw)) < 0)
		return -EINVAL;
	n = asprintf(ret,
		     "[virt-viewer]\n"
		     "type=spice\n"
		     "host=desktop-%lld\n"
		     "port=5900\n"
		     "password=%s\n"
		     "proxy=http://token:%s@%s\n"
		     "delete-this-file=1\n"
		     "title=%s\n"
		     "%s",
		     (long long)vv->desktop, vv->password, vv->token, gw, vv->title,
		     vv->usb_redirect ? "enable-usbredir=1\nenable-usb-autoshare=0\n" : "");
	if (n < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	*ret_len = (size_t)n;
	return 0;
}
