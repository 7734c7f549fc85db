/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* vdi-broker as a daemon in a test's temp dir, and requests to it (PAM through pam_wrapper). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "http-client.h"

struct daemon {
	pid_t pid;
	int port;
	char db[512];
	char conf[512];
	char admin_socket[512];
	char log_path[512]; /* what it wrote to stderr, also copied to the test's stderr */
};

/* Writes vdi.conf (with extra [broker] lines) and starts the broker on libvirt's test:///default. */
void start_broker(struct daemon *d, const char *extra_conf);
/* The same with the given [libvirt] lines (NULL: hosts = test:///default). */
void start_broker_with(struct daemon *d, const char *extra_conf, const char *libvirt_section);
/* Starts the broker again with the same configuration and database. */
void run_broker(struct daemon *d);
/* Whether the broker's log has needle; waiting (10 s at most) for it: fails the test without it. */
bool broker_log_has(struct daemon *d, const char *needle);
void broker_wait_log(struct daemon *d, const char *needle);
/* SIGTERM; checks that it exits 0. */
void stop_broker(struct daemon *d);
/* SIGKILL, as a crash would. */
void kill_broker(struct daemon *d);

/*
 * libfaketime under the daemons this process starts (vdi-broker, vdi-gateway): their wall clock
 * only, read from a file at every call; the monotonic clock is left alone, as with NTP stepping
 * a clock.  The thread-safe variant: libfaketime.so.1 hands threads that ask at once the real
 * time now and then.
 */
/* Sets the faked wall clock to real time + offset seconds. */
void fake_clock_set(long offset);
/* From now on, daemons started run under libfaketime (after the libraries already in
 * LD_PRELOAD), on the clock fake_clock_set() sets; fails the test when libfaketime is missing.
 * Returns the LD_PRELOAD to put back (new, may be NULL) for faketime_end(). */
char *faketime_begin(void);
/* Daemons started from now on run on the real clock again; saved: taken. */
void faketime_end(char *saved);

struct http_reply req(struct daemon *d, const char *method, const char *path, const char *headers, const char *body);
json_t *body_json(const struct http_reply *r);

/*
 * Requests on the web port, checked as they come back.  Each fails the test unless the reply's
 * status is want, naming the request and quoting the reply, at the caller's file:line (the
 * macros pass it to the *_at functions).  headers: extra header lines, each ending in \r\n (NULL:
 * none); body: the request's JSON (NULL: none); all borrowed.
 */
/* The reply itself, for checks of its headers; the caller finishes it (http_reply_finish). */
#define req_status(d, method, path, headers, body, want) \
	req_status_at(__FILE__, __LINE__, d, method, path, headers, body, want)
/* Also fails unless the body contains part (NULL: any body). */
#define expect_reply(d, method, path, headers, body, want, part) \
	expect_reply_at(__FILE__, __LINE__, d, method, path, headers, body, want, part)
/* Also fails unless the body is exactly text. */
#define expect_body(d, method, path, headers, body, want, text) \
	expect_body_at(__FILE__, __LINE__, d, method, path, headers, body, want, text)
/* The body as a new string (free it). */
#define req_text(d, method, path, headers, body, want) \
	req_text_at(__FILE__, __LINE__, d, method, path, headers, body, want)
/* The body as JSON, a new reference; also fails unless it is JSON. */
#define req_json(d, method, path, headers, body, want) \
	req_json_at(__FILE__, __LINE__, d, method, path, headers, body, want)

struct http_reply req_status_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
				const char *headers, const char *body, int want);
void expect_reply_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		     const char *headers, const char *body, int want, const char *part);
void expect_body_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		    const char *headers, const char *body, int want, const char *text);
char *req_text_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		  const char *headers, const char *body, int want);
json_t *req_json_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		    const char *headers, const char *body, int want);

/* Logs in; on 200 fills cookie ("vdi_session=...") and csrf. Returns the status. */
int login(struct daemon *d, const char *user, const char *pw, char *cookie, size_t clen, char *csrf, size_t slen);

/* A request on the admin socket. */
struct http_reply admin_req(struct daemon *d, const char *method, const char *path, const char *body);
/* The same, failing the test (at the caller's file:line) unless the status is want_status; the reply's JSON. */
#define admin_json(d, method, path, body, want_status) \
	admin_json_at(__FILE__, __LINE__, d, method, path, body, want_status)
json_t *admin_json_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		      const char *body, int want_status);
/* The same for a reply of any body: fails unless the status is want_status. */
#define admin_status(d, method, path, body, want_status) \
	admin_status_at(__FILE__, __LINE__, d, method, path, body, want_status)
void admin_status_at(const char *file, int line, struct daemon *d, const char *method, const char *path,
		     const char *body, int want_status);

/* The length of the array member in what GET path answers with 200 on the admin socket (failing at the caller's
 * file:line otherwise). */
#define admin_count(d, path, member) admin_count_at(__FILE__, __LINE__, d, path, member)
size_t admin_count_at(const char *file, int line, struct daemon *d, const char *path, const char *member);

/* GET /healthz answers 200. */
void check_alive(struct daemon *d);

/* A logged-in user: the cookie, the CSRF token and both as request headers. */
struct user {
	char cookie[256], csrf[128], hdr[512];
};

/* Logs name in (the test fails unless the answer is 200). */
void user_login(struct daemon *d, struct user *u, const char *name, const char *pw);
/* A request as user u (NULL: nobody); returns the status and, when ret is not NULL, the JSON reply (failing at the
 * caller's file:line unless it is JSON). */
#define user_req(d, u, method, path, body, ret) user_req_at(__FILE__, __LINE__, d, u, method, path, body, ret)
int user_req_at(const char *file, int line, struct daemon *d, struct user *u, const char *method, const char *path,
		const char *body, json_t **ret);
/* The same as admin_count as user u (NULL: nobody) on the web port. */
#define user_count(d, u, path, member) user_count_at(__FILE__, __LINE__, d, u, path, member)
size_t user_count_at(const char *file, int line, struct daemon *d, struct user *u, const char *path,
		     const char *member);
/* Fails (at the caller's file:line) unless the reply is status with {"error": ...} containing text. */
#define expect_error(d, u, method, path, body, status, text) \
	expect_error_at(__FILE__, __LINE__, d, u, method, path, body, status, text)
void expect_error_at(const char *file, int line, struct daemon *d, struct user *u, const char *method,
		     const char *path, const char *body, int status, const char *text);
/* Waits until the user's desktop id is in state want; false after timeout_ms. */
bool wait_desktop_state(struct daemon *d, struct user *u, int64_t id, const char *want, unsigned timeout_ms);
/* Waits until the admin view of desktop id has the given state and owner (NULL: nobody); false after timeout_ms. */
bool wait_admin_state(struct daemon *d, int64_t id, const char *state, const char *owner, unsigned timeout_ms);
