/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpool-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "harness.h"
#include "private.h"

bool test_domain_exists(const char *uri, const char *name)
{
	virConnectPtr c = virConnectOpen(uri);
	virDomainPtr d;

	check(c);
	d = virDomainLookupByName(c, name);
	if (d)
		virDomainFree(d);
	virConnectClose(c);
	return d != NULL;
}

char *test_domain_definition(const char *uri, const char *name, unsigned flags)
{
	virConnectPtr c = virConnectOpen(uri);
	virDomainPtr d;
	char *xml;

	check(c);
	d = virDomainLookupByName(c, name);
	check(d);
	xml = virDomainGetXMLDesc(d, flags);
	check(xml);
	virDomainFree(d);
	virConnectClose(c);
	return xml;
}

char *test_xpath(const char *xml, const char *expr)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, XML_PARSE_NONET);
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr obj;
	char *out = NULL;

	check(doc);
	ctx = xmlXPathNewContext(doc);
	xmlXPathRegisterNs(ctx, (const xmlChar *)"vdi", (const xmlChar *)POOL_METADATA_NS);
	xmlXPathRegisterNs(ctx, (const xmlChar *)"vdihw", (const xmlChar *)POOL_HARDWARE_NS);
	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	check(obj);
	if (obj->type == XPATH_NODESET && obj->nodesetval && obj->nodesetval->nodeNr > 0) {
		xmlChar *s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);

		out = strdup((const char *)s);
		xmlFree(s);
	} else if (obj->type == XPATH_NUMBER) {
		check(asprintf(&out, "%g", obj->floatval) > 0);
	} else if (obj->type == XPATH_STRING) {
		out = strdup((const char *)obj->stringval);
	} else if (obj->type == XPATH_BOOLEAN) {
		out = strdup(obj->boolval ? "true" : "false");
	}
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return out;
}

void test_event_record(struct pool_host *host, const struct pool_event *ev, void *userdata)
{
	struct test_event_log *log = userdata;
	char line[320];

	(void)host;
	snprintf(line, sizeof(line), "%s:%s:%s:%lld%s%s\n", pool_event_type_name(ev->type), ev->domain ? ev->domain : "-",
		 ev->pool ? ev->pool : "-", (long long)ev->desktop_id, ev->client ? ":client=" : "",
		 ev->client ? ev->client : "");
	pthread_mutex_lock(&log->lock);
	if (strlen(log->text) + strlen(line) < sizeof(log->text))
		strcat(log->text, line);
	pthread_mutex_unlock(&log->lock);
}

bool test_event_wait(struct test_event_log *log, const char *needle, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	do {
		bool found;

		pthread_mutex_lock(&log->lock);
		found = strstr(log->text, needle) != NULL;
		pthread_mutex_unlock(&log->lock);
		if (found)
			return true;
		usleep(10 * 1000);
	} while (vdi_test_now_ms() < end);
	pthread_mutex_lock(&log->lock);
	vdi_test_log("no event \"%s\" within %u ms; events so far:\n%s", needle, ms, log->text);
	pthread_mutex_unlock(&log->lock);
	return false;
}

const char *test_env_or_fail(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		vdi_test_fail(__FILE__, __LINE__, "%s is not set: run this test through meson", name);
	return v;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	check(f);
	check(getdelim(&buf, &len, '\0', f) > 0);
	fclose(f);
	return buf;
}

/* Replaces every occurrence of key in s (a new string is returned, s freed). */
static char *replace(char *s, const char *key, const char *value)
{
	size_t from = 0;
	char *p;

	/* Resume after the inserted value: it may contain key itself. */
	while ((p = strstr(s + from, key))) {
		size_t at = (size_t)(p - s);
		char *n;

		check(asprintf(&n, "%.*s%s%s", (int)at, s, value, p + strlen(key)) > 0);
		free(s);
		s = n;
		from = at + strlen(value);
	}
	return s;
}

char *test_guest_path(const char *file)
{
	char *p;

	check(asprintf(&p, "%s/%s", test_env_or_fail("VDI_TEST_GUEST_DIR"), file) > 0);
	return p;
}

/* The guest's domain XML with kernel, initrd and extra kernel arguments filled in. */
char *test_guest_xml(const char *extra_cmdline)
{
	_cleanup_free_ char *xml_path = test_guest_path("guest.xml"), *kernel = test_guest_path("vmlinuz"),
			    *initrd = test_guest_path("initrd.img");
	char *xml = read_text(xml_path);

	xml = replace(xml, "@KERNEL@", kernel);
	xml = replace(xml, "@INITRD@", initrd);
	if (extra_cmdline) {
		char *with;

		check(asprintf(&with, "%s</cmdline>", extra_cmdline) > 0);
		check(strstr(xml, "</cmdline>"));
		xml = replace(xml, "</cmdline>", with);
		free(with);
	}
	return xml;
}

char *test_guest_graphical_xml(void)
{
	_cleanup_free_ char *xml_path = test_guest_path("guest-graphical.xml"), *kernel = test_guest_path("vmlinuz"),
			    *initrd = test_guest_path("initrd-graphical.img");
	char *xml = read_text(xml_path);

	xml = replace(xml, "@KERNEL@", kernel);
	return replace(xml, "@INITRD@", initrd);
}

/*
 * Reads the desktop's serial console until needle appears (true) or the
 * timeout passes (false).  The guest prints its banner every 2 s, so a
 * console opened late still sees it.  The text read goes to out.
 */
/* Writes text (a command and its newline) to the console stream st of domain, within end. */
static void console_send(virStreamPtr st, const char *domain, const char *text, uint64_t end)
{
	size_t sent = 0;

	while (sent < strlen(text) && vdi_test_now_ms() < end) {
		int n = virStreamSend(st, text + sent, strlen(text) - sent);

		if (n == -2) {
			usleep(20 * 1000);
			continue;
		}
		if (n < 0)
			vdi_test_fail(__FILE__, __LINE__, "cannot write to the console of %s: %s", domain,
				      virGetLastErrorMessage());
		sent += (size_t)n;
	}
}

/* How long the guest's tty may take to echo a command before it counts as lost, and how often it is typed. */
#define ECHO_MS 5000
#define ECHO_TRIES 3

/* What runs on a thread of its own once the console is open (test_console_during()). */
struct console_action {
	void (*fn)(void *arg);
	void *arg;
	pthread_t thread;
};

static void *console_action_run(void *data)
{
	struct console_action *a = data;

	a->fn(a->arg);
	return NULL;
}

/* The console of domain: line typed (NULL: none) and action started (NULL: none) once it is open, read until
 * needle or timeout_ms; the action is joined before it returns. */
static bool console_session(const char *uri, const char *domain, const char *line, struct console_action *action,
			    const char *needle, unsigned timeout_ms, char *out, size_t outlen)
{
	virConnectPtr c;
	virDomainPtr d;
	virStreamPtr st;
	uint64_t end = vdi_test_now_ms() + timeout_ms, typed = 0;
	_cleanup_free_ char *text = NULL;
	size_t used = 0;
	bool found = false, echoed = !line;
	const char *at;
	int tries = 0;

	/* A non-blocking stream only gets data while libvirt's event loop runs (vmpool's thread). */
	pool_events_init_once();
	c = virConnectOpen(uri);
	check(c);
	d = virDomainLookupByName(c, domain);
	check(d);
	st = virStreamNew(c, VIR_STREAM_NONBLOCK);
	check(st);
	if (virDomainOpenConsole(d, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0)
		vdi_test_fail(__FILE__, __LINE__, "cannot open the console of %s: %s", domain, virGetLastErrorMessage());

	out[0] = '\0';
	if (line)
		check(asprintf(&text, "%s\n", line) > 0);
	if (action)
		check_int_eq(pthread_create(&action->thread, NULL, console_action_run, action), 0);
	while (!found && vdi_test_now_ms() < end) {
		char buf[4096];
		int n;

		/* The guest's tty echoes what it receives at once, whatever its shell is doing: no echo means the
		 * bytes were lost (a console stream just taken over from another), and typing again is safe. */
		if (!echoed && tries < ECHO_TRIES && (tries == 0 || vdi_test_now_ms() >= typed + ECHO_MS)) {
			if (tries > 0)
				vdi_test_log("%s: no echo of \"%s\" within %d ms; typing it again", domain, line, ECHO_MS);
			console_send(st, domain, text, end);
			typed = vdi_test_now_ms();
			tries++;
		}
		n = virStreamRecv(st, buf, sizeof(buf));
		if (n == -2) {
			usleep(20 * 1000);
			continue;
		}
		if (n <= 0) {
			size_t left = outlen - used;

			snprintf(out + used, left, "\n[the console stream ended: %s]\n",
				 n == 0 ? "end of stream" : virGetLastErrorMessage());
			break;
		}
		/* Keep the tail: the banner repeats. */
		if (used + (size_t)n >= outlen) {
			size_t keep = outlen / 2;

			memmove(out, out + used - keep, keep);
			used = keep;
		}
		memcpy(out + used, buf, (size_t)n < outlen - used - 1 ? (size_t)n : outlen - used - 1);
		used += (size_t)n < outlen - used - 1 ? (size_t)n : outlen - used - 1;
		out[used] = '\0';
		echoed = echoed || strstr(out, line);
		/* The line the needle is in, whole: the rest of it may come in the next read (a guest slowed down by
		 * others on the CPUs), and callers read what follows the needle. */
		at = strstr(out, needle);
		found = at && strchr(at + strlen(needle), '\n');
	}
	if (action)
		check_int_eq(pthread_join(action->thread, NULL), 0);
	(void)virStreamAbort(st);
	virStreamFree(st);
	virDomainFree(d);
	virConnectClose(c);
	return found;
}

bool test_console_command(const char *uri, const char *domain, const char *line, const char *needle,
			  unsigned timeout_ms, char *out, size_t outlen)
{
	return console_session(uri, domain, line, NULL, needle, timeout_ms, out, outlen);
}

bool test_console_during(const char *uri, const char *domain, void (*fn)(void *arg), void *arg, const char *needle,
			 unsigned timeout_ms, char *out, size_t outlen)
{
	struct console_action a = { .fn = fn, .arg = arg };

	return console_session(uri, domain, NULL, &a, needle, timeout_ms, out, outlen);
}

bool test_console_wait(const char *uri, const char *domain, const char *needle, unsigned timeout_ms, char *out,
		       size_t outlen)
{
	return test_console_command(uri, domain, NULL, needle, timeout_ms, out, outlen);
}

void test_cleanup_stale_runs(const char *uri)
{
	virConnectPtr c = virConnectOpen(uri);
	virStoragePoolPtr *pools = NULL;
	int n;

	check(c);
	n = virConnectListAllStoragePools(c, &pools, 0);
	for (int i = 0; i < n; i++) {
		const char *name = virStoragePoolGetName(pools[i]);
		int run = 0;

		if (sscanf(name, "vdi-test-%d-", &run) == 1 && run > 0 && kill(run, 0) < 0 && errno == ESRCH) {
			_cleanup_free_ char *xml = virStoragePoolGetXMLDesc(pools[i], 0);
			char *p = xml ? strstr(xml, "<path>") : NULL, *e = p ? strstr(p, "</path>") : NULL;
			virDomainPtr *doms = NULL;
			int nd;

			if (p && e) {
				*e = '\0';
				p += strlen("<path>");
				nd = virConnectListAllDomains(c, &doms, 0);
				for (int j = 0; j < nd; j++) {
					_cleanup_free_ char *dx = virDomainGetXMLDesc(doms[j], 0);

					if (dx && strstr(dx, p)) {
						(void)virDomainDestroy(doms[j]);
						(void)virDomainUndefine(doms[j]);
					}
					virDomainFree(doms[j]);
				}
				free(doms);
			}
			(void)virStoragePoolDestroy(pools[i]);
			(void)virStoragePoolUndefine(pools[i]);
		}
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	virConnectClose(c);
}

struct pool_host *test_host_in_tmpdir(const char *uri, const char *storage_pool)
{
	_cleanup_free_ char *images = NULL, *run = NULL;
	struct pool_host_options o = { .uri = uri, .virt_type = getenv("VDI_TEST_VIRT_TYPE"),
				       .storage_pool = storage_pool };
	struct vdi_error err = { { 0 } };
	struct pool_host *host = NULL;

	check(asprintf(&images, "%s/images", vdi_test_tmpdir()) > 0);
	check(asprintf(&run, "%s/run", vdi_test_tmpdir()) > 0);
	o.storage_path = images;
	o.runtime_dir = run;
	if (pool_host_new(&o, &host, &err) < 0)
		vdi_test_fail(__FILE__, __LINE__, "pool_host_new: %s", err.message);
	return host;
}

void test_require_libvirt(const char *uri)
{
	virConnectPtr c = virConnectOpen(uri);

	if (c) {
		virConnectClose(c);
		return;
	}
	if (getenv("VDI_SKIP_INTEGRATION"))
		vdi_test_skip("no libvirtd answers on %s", uri);
	vdi_test_fail(__FILE__, __LINE__, "no libvirtd answers on %s: run tools/libvirt-host first", uri);
}

char *test_make_qcow2(const char *name, const char *size)
{
	char *path, cmd[1024];
	int r;

	check(asprintf(&path, "%s/%s", vdi_test_tmpdir(), name) > 0);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' %s", path, size);
	r = system(cmd);
	/* Only a missing qemu-img (the shell's 127) is a reason to skip; its failures are failures. */
	if (r != -1 && WIFEXITED(r) && WEXITSTATUS(r) == 127)
		vdi_test_skip("qemu-img (Debian qemu-utils) is needed to make a QCOW2 file");
	if (r != 0)
		vdi_test_fail(__FILE__, __LINE__, "%s: status %d", cmd, r);
	return path;
}
