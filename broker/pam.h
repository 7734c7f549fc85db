/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Logins through PAM: a full conversation (pam_authenticate, then
 * pam_acct_mgmt so that expired or locked accounts are refused), the user's
 * groups (getgrouplist) and whether the user is an admin.  These calls
 * block: the daemon runs them on worker threads.
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct broker_login {
	char *user;     /* the name PAM settled on (PAM_USER) */
	char **groups;  /* NULL-terminated group names, primary group first */
	bool admin;     /* member of the admin group */
};

/*
 * Authenticates user with password through PAM service.  Returns 0 and
 * fills *ret; -EACCES for an unknown user or a wrong password (one answer
 * for both); -EPERM when the credentials are right but the account may not
 * log in (expired, locked, password change required); -EIO when PAM
 * itself failed.  err gets a message fit for the log, without secrets.
 */
int broker_pam_login(const char *service, const char *user, const char *password, const char *admin_group,
		     struct broker_login *ret, struct vdi_error *err);

/* Frees what login holds; accepts a zeroed struct. */
void broker_login_finish(struct broker_login *login);
