/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A template's recorded hardware (firmware, Secure Boot, TPM: what placement asks of hosts) kept true to its XML. */

struct broker_store;

/*
 * For each template without an OS (its XML an admin's or vdi's generic one), records what its XML asks of a host
 * (pool_domxml_needs()) where the store says otherwise: templates added before schema 12 have 'bios' and no TPM
 * whatever their XML.  Returns how many it changed, or -errno.  At the broker's start, before its loop runs (no
 * libvirt: a parse of each XML).
 */
int broker_templates_hardware_check(struct broker_store *store);
