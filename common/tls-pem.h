/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Certificates as a remote-viewer file (.vv) carries them: the CA inline ("ca=", PEM) and the
 * gateway certificate's subject ("host-subject=") as spice-gtk spells it.
 */

#include <stddef.h>

#include "error.h"

/*
 * The certificates in the PEM file path, written again as PEM (a new string, free() it): only
 * certificates, never whatever else the file holds (a key by mistake).  -errno with a message
 * naming the file when it cannot be read or holds no certificate.
 */
int vdi_pem_certificates(const char *path, char **ret, struct vdi_error *err);

/*
 * The subject of the first certificate in path as spice-gtk's host-subject spells it: its entries
 * in the certificate's order, "KEY=value" joined by ",", with "\" and "," in values escaped by "\"
 * (e.g. "O=vdi test,CN=gateway").  -ENAMETOOLONG when it does not fit len bytes; -EINVAL for a
 * subject no .vv could match (an attribute without a short name, a multi-valued RDN, a value holding
 * a NUL, an empty subject); the -errno of fopen() when path cannot be read.  err names the file.
 */
int vdi_pem_subject(const char *path, char *buf, size_t len, struct vdi_error *err);
