/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pam.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "alloc.h"
#include "cleanup.h"

/* Longest user name or password passed to PAM; longer ones are refused before PAM sees them. */
#define LOGIN_FIELD_MAX 1024

struct conv_data {
	const char *user;
	const char *password;
};

static void free_responses(struct pam_response *r, int n)
{
	for (int i = 0; r && i < n; i++) {
		if (r[i].resp) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
}

/* Answers password prompts with the password and echoed prompts with the user name; shows nothing. */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
	const struct conv_data *d = appdata;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *answer = NULL;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			answer = d->password;
			break;
		case PAM_PROMPT_ECHO_ON:
			answer = d->user;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			free_responses(r, n);
			return PAM_CONV_ERR;
		}
		r[i].resp = strdup(answer);
		if (!r[i].resp) {
			free_responses(r, n);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

void broker_login_finish(struct broker_login *login)
{
	if (!login)
		return;
	free(login->user);
	for (char **g = login->groups; g && *g; g++)
		free(*g);
	free(login->groups);
	memset(login, 0, sizeof(*login));
}

/* Fills login->groups and login->admin from the user's group list. */
static int read_groups(struct broker_login *login, const char *admin_group, struct vdi_error *err)
{
	struct passwd pw, *pwp = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ gid_t *gids = NULL;
	long bufsize = sysconf(_SC_GETPW_R_SIZE_MAX);
	int n = 32, r;

	if (bufsize < 16384)
		bufsize = 16384;
	buf = malloc((size_t)bufsize);
	if (!buf)
		return -ENOMEM;
	r = getpwnam_r(login->user, &pw, buf, (size_t)bufsize, &pwp);
	if (r != 0 || !pwp)
		return vdi_error_set(err, -ENOENT, "user \"%s\" passed PAM but has no passwd entry", login->user);

	for (;;) {
		int want = n;

		free(gids);
		gids = calloc((size_t)want, sizeof(*gids));
		if (!gids)
			return -ENOMEM;
		if (getgrouplist(login->user, pw.pw_gid, gids, &n) >= 0)
			break;
		if (n <= want || n > 65536)
			return -EIO;
	}

	login->groups = calloc((size_t)n + 1, sizeof(*login->groups));
	if (!login->groups)
		return -ENOMEM;
	for (int i = 0, k = 0; i < n; i++) {
		struct group gr, *grp = NULL;
		char gbuf[16384];

		if (getgrgid_r(gids[i], &gr, gbuf, sizeof(gbuf), &grp) != 0 || !grp)
			continue;
		login->groups[k] = strdup(grp->gr_name);
		if (!login->groups[k])
			return -ENOMEM;
		if (admin_group && streq(grp->gr_name, admin_group))
			login->admin = true;
		k++;
	}
	return 0;
}

int broker_pam_login(const char *service, const char *user, const char *password, const char *admin_group,
		     struct broker_login *ret, struct vdi_error *err)
{
	struct conv_data data = { .user = user, .password = password };
	struct pam_conv conv = { .conv = conversation, .appdata_ptr = &data };
	struct broker_login login = { 0 };
	pam_handle_t *pamh = NULL;
	const void *pam_user = NULL;
	int rc, r;

	if (!service || !user || !password || !*user || strlen(user) > LOGIN_FIELD_MAX ||
	    strlen(password) > LOGIN_FIELD_MAX) {
		return vdi_error_set(err, -EACCES, "invalid user name or password");
	}

	rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS)
		return vdi_error_set(err, -EIO, "PAM service \"%s\" cannot start: %s", service, pam_strerror(NULL, rc));

	rc = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc != PAM_SUCCESS) {
		/* Unknown user and wrong password look the same from outside. */
		r = rc == PAM_ABORT || rc == PAM_BUF_ERR || rc == PAM_SYSTEM_ERR ? -EIO : -EACCES;
		vdi_error_set(err, r, "authentication of \"%s\" failed: %s", user, pam_strerror(pamh, rc));
		goto out;
	}
	rc = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc != PAM_SUCCESS) {
		r = vdi_error_set(err, -EPERM, "account \"%s\" may not log in: %s", user, pam_strerror(pamh, rc));
		goto out;
	}

	rc = pam_get_item(pamh, PAM_USER, &pam_user);
	login.user = strdup(rc == PAM_SUCCESS && pam_user ? (const char *)pam_user : user);
	if (!login.user) {
		r = -ENOMEM;
		goto out;
	}
	r = read_groups(&login, admin_group, err);
	if (r < 0)
		goto out;
	*ret = login;
	memset(&login, 0, sizeof(login));
	r = 0;
out:
	broker_login_finish(&login);
	pam_end(pamh, rc);
	return r;
}
