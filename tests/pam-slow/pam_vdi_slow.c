/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pam_vdi_slow: a PAM module for bench/broker's login storm that takes a
 * fixed time per authentication, like a slow directory or a password hash
 * with a high work factor. Never install it: its passwords are public.
 *
 *   auth     required /abs/path/pam_vdi_slow.so [delay_ms=200]
 *   account  required /abs/path/pam_vdi_slow.so
 *
 * pam_sm_authenticate sleeps delay_ms (default 200, 0..60000) and then
 * accepts when the password equals the user name followed by "-pw"
 * (user "u007", password "u007-pw"); anything else is PAM_AUTH_ERR.
 * Account management and credentials always succeed. No global mutable
 * state: every call reads its arguments afresh, so any number of threads
 * may authenticate at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#include <security/pam_modules.h>
#include <security/pam_ext.h>

#define DEFAULT_DELAY_MS 200L
#define MAX_DELAY_MS 60000L
#define PASSWORD_SUFFIX "-pw"

/* The delay_ms=N module argument, or the default; a bad value is PAM_SERVICE_ERR. */
static int parse_delay(int argc, const char **argv, long *ret)
{
	long delay = DEFAULT_DELAY_MS;

	for (int i = 0; i < argc; i++) {
		const char *v;
		char *end;

		if (strncmp(argv[i], "delay_ms=", strlen("delay_ms=")) != 0)
			return PAM_SERVICE_ERR; /* an unknown argument is a mistake in the service file */
		v = argv[i] + strlen("delay_ms=");
		errno = 0;
		delay = strtol(v, &end, 10);
		if (errno || end == v || *end || delay < 0 || delay > MAX_DELAY_MS)
			return PAM_SERVICE_ERR;
	}
	*ret = delay;
	return PAM_SUCCESS;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *user = NULL, *password = NULL;
	size_t ulen;
	long delay;
	int r;

	(void)flags;
	r = parse_delay(argc, argv, &delay);
	if (r != PAM_SUCCESS)
		return r;
	r = pam_get_user(pamh, &user, NULL);
	if (r != PAM_SUCCESS || !user || !*user)
		return PAM_USER_UNKNOWN;
	r = pam_get_authtok(pamh, PAM_AUTHTOK, &password, NULL);
	if (r != PAM_SUCCESS || !password)
		return PAM_AUTH_ERR;

	sleep_ms(delay);

	/* The password is the user name + "-pw". */
	ulen = strlen(user);
	if (strncmp(password, user, ulen) == 0 && strcmp(password + ulen, PASSWORD_SUFFIX) == 0)
		return PAM_SUCCESS;
	return PAM_AUTH_ERR;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
