/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/scale's memory peer: a process of its own that holds N domains and N volumes on its own
 * libvirt test:///default, as vdi-broker's desktops do on the test driver inside the broker.
 * Prints its VmRSS (KiB) after WARM of them and after all N, as "warm KIB" and "full KIB".
 *
 *   bench-scale-peer N WARM
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	virConnectPtr c;
	virStoragePoolPtr sp;
	long n, warm;

	if (argc != 3 || (n = strtol(argv[1], NULL, 10)) < 1 || (warm = strtol(argv[2], NULL, 10)) < 1 || warm > n) {
		fprintf(stderr, "usage: bench-scale-peer N WARM\n");
		return 2;
	}
	c = virConnectOpen("test:///default");
	sp = c ? virStoragePoolLookupByName(c, "default-pool") : NULL;
	if (!sp) {
		fprintf(stderr, "bench-scale-peer: no test:///default or its default-pool\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		char vol[512], dom[2048];
		virStorageVolPtr v;
		virDomainPtr d;

		snprintf(vol, sizeof(vol),
			 "<volume><name>peer-%ld.qcow2</name><capacity unit='KiB'>1024</capacity>"
			 "<target><format type='qcow2'/></target></volume>", i);
		snprintf(dom, sizeof(dom),
			 "<domain type='test'><name>vdi-p%03ld-%ld</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
			 "<os><type arch='x86_64'>hvm</type></os><metadata><vdi:desktop"
			 " xmlns:vdi='https://vdi.invalid/xmlns/desktop/1' pool='p%03ld' id='%ld' template='scale'/>"
			 "</metadata><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
			 "<source file='/default-pool/peer-%ld.qcow2'/><target dev='vda' bus='virtio'/></disk>"
			 "<graphics type='spice' autoport='no' passwd='0123456789abcdef0123456789abcdef'>"
			 "<listen type='socket' socket='/run/vdi/spice/vdi-p%03ld-%ld.sock'/></graphics>"
			 "<video><model type='qxl'/></video></devices></domain>",
			 i % 100, i, i % 100, i, i, i % 100, i);
		v = virStorageVolCreateXML(sp, vol, 0);
		d = virDomainDefineXML(c, dom);
		if (!v || !d || virDomainCreate(d) < 0) {
			fprintf(stderr, "bench-scale-peer: failed at %ld\n", i);
			return 1;
		}
		virStorageVolFree(v);
		virDomainFree(d);
		if (i == warm - 1)
			printf("warm %ld\n", rss_kib());
	}
	printf("full %ld\n", rss_kib());
	virStoragePoolFree(sp);
	virConnectClose(c);
	return 0;
}
