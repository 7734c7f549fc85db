/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

struct broker_desks;

/*
 * At start (and again while one is left): the publishes a stopped broker left "making" are
 * undone once their partial base is removed from every host (libvirtd may still be writing it),
 * and the storage pools they read their source through are removed.
 */
void broker_publish_recover(struct broker_desks *d);
