/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the console requests share (api/desktops.c: a user's desktop; api/maintenance.c: an
 * admin's maintenance desktop): a fresh SPICE ticket set on the running domain on a worker, then
 * the reply: a console token and URL through vdi-gateway (JSON), or a remote-viewer file (.vv).
 */

#include <stdbool.h>
#include <stdint.h>

struct broker;
struct broker_req;
struct pool_host;

struct broker_console_target {
	const char *user;     /* the token's subject, the audit's actor */
	int64_t id;           /* the token's desktop id, > 0 (the .vv's host "desktop-<id>") */
	struct pool_host *host;
	const char *domain;
	const char *what;     /* for messages: "desktop 7" */
	const char *title;    /* the .vv's title */
	const char *filename; /* the .vv's file name */
	const char *object;   /* the audit record's object ("desktop:7") */
	int64_t usb_redirect; /* its USB redirection channels (its pool's): > 0 turns them on in the .vv */
};

/* Starts the console of t (its strings borrowed, copied here); the reply comes from the worker's end. */
void broker_api_console_open(struct broker_req *req, struct broker *b, const struct broker_console_target *t, bool vv);
