/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A template's maintenance desktop (docs/templates.md) for the tests with real desktops
 * (test-maintenance, test-golden): started through the admin socket, watched in the template's
 * GET, shut down through ACPI, and what a failed run left removed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "desktop-fixture.h"

/* The broker's pool name of maintenance desktops: their domains are "vdi-_maintenance-<id>". */
#define FIXTURE_MAINTENANCE_POOL "_maintenance"

/* "/api/v1/admin/templates/<t><suffix>" (t, suffix borrowed) in a static buffer. */
const char *fixture_template_path(const char *t, const char *suffix);
/* Starts t's maintenance desktop (201, running); its domain's name into domain. */
void fixture_maintenance_start(struct fixture *f, const char *t, char *domain, size_t len);
/* The template's maintenance desktop as the template's GET shows it (new; JSON null when none). */
json_t *fixture_maintenance_of(struct fixture *f, const char *t);
/* Waits until the maintenance desktop of t is in state (borrowed; NULL: gone); false after ms. */
bool fixture_wait_maintenance(struct fixture *f, const char *t, const char *state, unsigned ms);
/* Waits until libvirt has (or, gone, has not) a domain of that name (borrowed); false after ms. */
bool fixture_wait_domain(const char *name, bool gone, unsigned ms);
/* Presses the domain's ACPI power button (the test guest powers off). */
void fixture_power_button(const char *domain);
/* Destroys and undefines the maintenance domains a failed run left: those with their overlay in f->images. */
void fixture_remove_maintenance_domains(struct fixture *f);
