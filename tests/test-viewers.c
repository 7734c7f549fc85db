/* SPDX-License-Identifier: GPL-2.0-or-later */
/* broker/viewers.c's count: which graphics events open a desktop in a viewer, and which one is its last leaving. */
#include "cleanup.h"
#include "harness.h"
#include "viewers.h"

#define C POOL_EVENT_GRAPHICS_CONNECT
#define I POOL_EVENT_GRAPHICS_INITIALIZE
#define D POOL_EVENT_GRAPHICS_DISCONNECT

/* Feeds events; how many of them were a last leaving, and the count afterwards in *c. */
static int feed(struct broker_viewer_count *c, const enum pool_event_type *events, size_t n)
{
	int left = 0;

	for (size_t i = 0; i < n; i++)
		left += broker_viewers_count(c, events[i]);
	return left;
}

#define FEED(c, ...) feed(c, (const enum pool_event_type[]){ __VA_ARGS__ }, \
			  sizeof((const enum pool_event_type[]){ __VA_ARGS__ }) / sizeof(enum pool_event_type))

/* A client of four channels: open from the first login, left once, when the fourth closes. */
static void test_one_client(void)
{
	struct broker_viewer_count c = { 0 };

	check_int_eq(FEED(&c, C, I, C, I, C, I, C, I), 0);
	check_int_eq(c.channels, 4);
	check(c.logged_in);
	check_int_eq(FEED(&c, D, D, D), 0);
	check(c.logged_in);
	check_int_eq(FEED(&c, D), 1);
	check_int_eq(c.channels, 0);
	check(!c.logged_in);
	/* More disconnects than connects (events lost) leave it at none, and are no second leaving. */
	check_int_eq(FEED(&c, D, D), 0);
	check_int_eq(c.channels, 0);
}

/* A ticket refused: a connect and a disconnect without a login are no viewer, and no leaving. */
static void test_refused_ticket(void)
{
	struct broker_viewer_count c = { 0 };

	check_int_eq(FEED(&c, C, D), 0);
	check(!c.logged_in);
	/* ... nor while a viewer is open: it stays open. */
	check_int_eq(FEED(&c, C, I, C, I, C, D), 0);
	check_int_eq(c.channels, 2);
	check(c.logged_in);
	check_int_eq(FEED(&c, D, D), 1);
}

/* A takeover: the new viewer's channels open before the old one's close, so nobody has left. */
static void test_takeover(void)
{
	struct broker_viewer_count c = { 0 };

	check_int_eq(FEED(&c, C, I, C, I), 0);
	check_int_eq(FEED(&c, C, I, C, I, D, D), 0);
	check_int_eq(c.channels, 2);
	check_int_eq(FEED(&c, D, D), 1);
	/* Another session afterwards is counted afresh. */
	check_int_eq(FEED(&c, C, I, D), 1);
}

/* Connected before the broker listened: its login alone counts it open, and its first close is its leaving. */
static void test_connected_before_the_broker(void)
{
	struct broker_viewer_count c = { 0 };

	check_int_eq(FEED(&c, I), 0);
	check_int_eq(c.channels, 1);
	check_int_eq(FEED(&c, D), 1);
	/* Other events count nothing. */
	check_int_eq(FEED(&c, POOL_EVENT_STOPPED, POOL_EVENT_STARTED), 0);
	check_int_eq(c.channels, 0);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_one_client),
	VDI_TEST(test_refused_ticket),
	VDI_TEST(test_takeover),
	VDI_TEST(test_connected_before_the_broker),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
