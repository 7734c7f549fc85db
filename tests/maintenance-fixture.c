/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A template's maintenance desktop for the tests: see maintenance-fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "broker-test.h"
#include "harness.h"
#include "maintenance-fixture.h"
#include "vmpool-test.h"

#define URI FIXTURE_URI

const char *fixture_template_path(const char *t, const char *suffix)
{
	static char path[256];

	snprintf(path, sizeof(path), "/api/v1/admin/templates/%s%s", t, suffix);
	return path;
}

void fixture_maintenance_start(struct fixture *f, const char *t, char *domain, size_t len)
{
	json_t *m = admin_json(&f->d, "POST", fixture_template_path(t, "/edit"), "{}", 201);

	check_str_eq(json_string_value(json_object_get(m, "state")), "running");
	check(startswith(json_string_value(json_object_get(m, "domain")), "vdi-" FIXTURE_MAINTENANCE_POOL "-"));
	snprintf(domain, len, "%s", json_string_value(json_object_get(m, "domain")));
	json_decref(m);
	check(test_domain_exists(URI, domain));
}

json_t *fixture_maintenance_of(struct fixture *f, const char *t)
{
	json_t *j = admin_json(&f->d, "GET", fixture_template_path(t, ""), NULL, 200);
	json_t *m = json_incref(json_object_get(j, "maintenance"));

	check(m);
	json_decref(j);
	return m;
}

bool fixture_wait_maintenance(struct fixture *f, const char *t, const char *state, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	for (;;) {
		json_t *m = fixture_maintenance_of(f, t);
		bool ok = state ? streq_ptr(json_string_value(json_object_get(m, "state")), state) : json_is_null(m);

		json_decref(m);
		if (ok)
			return true;
		if (vdi_test_now_ms() > end)
			return false;
		usleep(200 * 1000);
	}
}

bool fixture_wait_domain(const char *name, bool gone, unsigned ms)
{
	uint64_t end = vdi_test_now_ms() + ms;

	while (test_domain_exists(URI, name) == gone) {
		if (vdi_test_now_ms() > end)
			return false;
		usleep(200 * 1000);
	}
	return true;
}

void fixture_power_button(const char *domain)
{
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr d;

	check(c);
	check(d = virDomainLookupByName(c, domain));
	if (virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0)
		vdi_test_fail(__FILE__, __LINE__, "ACPI shutdown of %s: %s", domain, virGetLastErrorMessage());
	virDomainFree(d);
	virConnectClose(c);
}

void fixture_remove_maintenance_domains(struct fixture *f)
{
	virConnectPtr c = virConnectOpen(URI);
	virDomainPtr *doms = NULL;
	int n;

	check(c);
	n = virConnectListAllDomains(c, &doms, 0);
	for (int i = 0; i < n; i++) {
		char *xml = startswith(virDomainGetName(doms[i]), "vdi-" FIXTURE_MAINTENANCE_POOL "-") ?
				    virDomainGetXMLDesc(doms[i], 0) : NULL;

		if (xml && strstr(xml, f->images)) {
			(void)virDomainDestroy(doms[i]);
			(void)virDomainUndefine(doms[i]);
		}
		free(xml);
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(c);
}
