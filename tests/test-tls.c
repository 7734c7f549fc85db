/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bad TLS configuration ([broker] and [gateway] tls_cert, tls_key, tls_ca) as a user meets it: each
 * daemon's --check-config and its start refuse it, exit 1 and name the key and the file (a missing
 * file, a file that is not PEM, the key of another certificate, one of the pair alone, a tls_ca that
 * did not sign tls_cert); a good configuration passes.  Certificates from tests/tls/make-certs.
 * And common/tls-pem's reading of them for a .vv: its real errno, subjects no .vv could match.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "cleanup.h"
#include "harness.h"
#include "tls-client.h"
#include "tls-pem.h"

static char dir[512], other_ca_dir[512];

static void make_files(void)
{
	char path[700];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/tls", vdi_test_tmpdir());
	snprintf(other_ca_dir, sizeof(other_ca_dir), "%s/other-ca", vdi_test_tmpdir());
	tls_make_certs(dir, "srv other");
	tls_make_certs(other_ca_dir, "stranger");
	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	check(f = fopen(path, "we"));
	fputs("this is not PEM\n", f);
	fclose(f);
}

/* Runs bin (VDI_BROKER_BIN or VDI_GATEWAY_BIN) on a configuration with [section] lines, with
 * --check-config or without (a start); its exit status, and what it printed into out. */
static int run(const char *bin_env, const char *section, const char *lines, bool check_only, char *out,
	       size_t outlen)
{
	const char *bin = getenv(bin_env);
	char conf[600], cmd[1600];
	FILE *f, *p;
	size_t n;
	int status;

	if (!bin)
		vdi_test_fail(__FILE__, __LINE__, "run through meson (%s)", bin_env);
	snprintf(conf, sizeof(conf), "%s/vdi.conf", vdi_test_tmpdir());
	check(f = fopen(conf, "we"));
	fprintf(f, "[%s]\nlisten = 127.0.0.1:0\n%s[database]\npath = %s/vdi.db\n[tokens]\nkey_file = %s/no.key\n",
		section, lines, vdi_test_tmpdir(), vdi_test_tmpdir());
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s'%s 2>&1", bin, conf, check_only ? " --check-config" : "");
	check(p = popen(cmd, "re"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	status = pclose(p);
	check(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* in with each "@" replaced by dir, into out. */
static void with_dir(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 1 < len; in++) {
		if (*in == '@')
			o += (size_t)snprintf(out + o, len - o, "%s", dir);
		else
			out[o++] = *in;
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

/* Both ways, both daemons' own section [section] lines (fmt, "@" is dir): exit 1 and a message with each
 * of want ("@" is dir; NULL-ended). */
static void expect_refused(const char *what, const char *fmt, const char *const *want)
{
	static const struct {
		const char *bin, *section;
	} daemons[] = { { "VDI_GATEWAY_BIN", "gateway" }, { "VDI_BROKER_BIN", "broker" } };

	for (size_t d = 0; d < ELEMENTSOF(daemons); d++)
		for (int check_only = 1; check_only >= 0; check_only--) {
			char lines[2048], out[4096], section_key[64];

			with_dir(fmt, lines, sizeof(lines));
			if (run(daemons[d].bin, daemons[d].section, lines, check_only, out, sizeof(out)) != 1)
				vdi_test_fail(__FILE__, __LINE__, "%s, %s%s: not refused: %s", what, daemons[d].section,
					      check_only ? " --check-config" : "", out);
			snprintf(section_key, sizeof(section_key), "[%s] ", daemons[d].section);
			check_str_contains(out, section_key);
			for (const char *const *w = want; *w; w++) {
				char text[700];

				with_dir(*w, text, sizeof(text));
				if (!strstr(out, text))
					vdi_test_fail(__FILE__, __LINE__, "%s, %s%s: no \"%s\" in: %s", what,
						      daemons[d].section, check_only ? " --check-config" : "", text, out);
			}
		}
}

static void test_bad_pairs(void)
{
	make_files();
	expect_refused("missing certificate", "tls_cert = @/missing.pem\ntls_key = @/srv.key\n",
		       (const char *const[]){ "tls_cert: cannot read @/missing.pem: No such file", NULL });
	expect_refused("missing key", "tls_cert = @/srv.pem\ntls_key = @/missing.key\n",
		       (const char *const[]){ "tls_key: cannot read @/missing.key", NULL });
	expect_refused("certificate not PEM", "tls_cert = @/junk.pem\ntls_key = @/srv.key\n",
		       (const char *const[]){ "tls_cert: @/junk.pem is not a PEM certificate", NULL });
	expect_refused("key not PEM", "tls_cert = @/srv.pem\ntls_key = @/junk.pem\n",
		       (const char *const[]){ "tls_key: @/junk.pem is not a PEM private key", NULL });
	expect_refused("a certificate as the key", "tls_cert = @/srv.pem\ntls_key = @/srv.pem\n",
		       (const char *const[]){ "tls_key: @/srv.pem is not a PEM private key", NULL });
	expect_refused("the key of another certificate", "tls_cert = @/srv.pem\ntls_key = @/other.key\n",
		       (const char *const[]){ "tls_key: @/other.key is not the key of the certificate in",
					      "@/srv.pem", NULL });
	expect_refused("a key alone", "tls_key = @/srv.key\n", (const char *const[]){ "tls_key: set tls_cert too", NULL });
	expect_refused("a certificate alone", "tls_cert = @/srv.pem\n",
		       (const char *const[]){ "tls_cert: set tls_key too", NULL });
}

static void test_ca_and_good(void)
{
	char lines[2048], out[4096];

	make_files();
	/* tls_ca: the CA of another test CA's directory did not sign srv.pem; junk is no certificate. */
	for (int check_only = 1; check_only >= 0; check_only--) {
		char bad[2048];

		snprintf(bad, sizeof(bad), "tls_cert = %s/srv.pem\ntls_key = %s/srv.key\ntls_ca = %s/ca.pem\n", dir, dir,
			 other_ca_dir);
		check_int_eq(run("VDI_GATEWAY_BIN", "gateway", bad, check_only, out, sizeof(out)), 1);
		check_str_contains(out, "[gateway] tls_ca: the certificate in ");
		check_str_contains(out, "/tls/srv.pem does not verify against ");
		check_str_contains(out, "/other-ca/ca.pem");
		snprintf(bad, sizeof(bad), "tls_cert = %s/srv.pem\ntls_key = %s/srv.key\ntls_ca = %s/junk.pem\n", dir, dir,
			 dir);
		check_int_eq(run("VDI_GATEWAY_BIN", "gateway", bad, check_only, out, sizeof(out)), 1);
		check_str_contains(out, "[gateway] tls_ca: ");
		check_str_contains(out, "/tls/junk.pem is not a PEM certificate");
	}
	/* The same files, right: OK for both daemons. */
	snprintf(lines, sizeof(lines), "tls_cert = %s/srv.pem\ntls_key = %s/srv.key\ntls_ca = %s/ca.pem\n", dir, dir, dir);
	check_int_eq(run("VDI_GATEWAY_BIN", "gateway", lines, true, out, sizeof(out)), 0);
	check_str_contains(out, "configuration OK");
	snprintf(lines, sizeof(lines), "tls_cert = %s/srv.pem\ntls_key = %s/srv.key\n", dir, dir);
	check_int_eq(run("VDI_BROKER_BIN", "broker", lines, true, out, sizeof(out)), 0);
	check_str_contains(out, "configuration OK");
}

/* A self-signed certificate in dir/file whose subject is name (taken). */
static void write_cert(const char *file, X509_NAME *name)
{
	char path[700];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	check(key && x);
	check(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	check(X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	check(X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1);
	check(X509_set_pubkey(x, key) == 1 && X509_sign(x, key, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	check(f = fopen(path, "we"));
	check(PEM_write_X509(f, x) == 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
}

/* The subject of dir/file is refused with -EINVAL and why, naming the file. */
static void expect_subject_refused(const char *file, const char *why)
{
	char path[700], buf[256];
	struct vdi_error err = { 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	check_err(vdi_pem_subject(path, buf, sizeof(buf), &err), EINVAL);
	check_str_contains(err.message, path);
	check_str_contains(err.message, why);
}

static X509_NAME *name_of(const char *o, const char *field, const unsigned char *value, int len, int set)
{
	X509_NAME *n = X509_NAME_new();

	check(n);
	check(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)o, -1, -1, 0) == 1);
	check(X509_NAME_add_entry_by_txt(n, field, MBSTRING_ASC, value, len, -1, set) == 1);
	return n;
}

/* What a .vv carries: the subject as spice-gtk spells it, refused when no .vv could match it; the
 * certificates alone; and fopen()'s own errno when the file cannot be read. */
static void test_pem_for_vv(void)
{
	char path[700], buf[256];
	struct vdi_error err = { 0 };
	_cleanup_free_ char *pem = NULL;

	make_files();
	write_cert("good.pem", name_of("vdi, test", "CN", (const unsigned char *)"a\\b", -1, 0));
	snprintf(path, sizeof(path), "%s/good.pem", dir);
	check_ok(vdi_pem_subject(path, buf, sizeof(buf), &err));
	check_str_eq(buf, "O=vdi\\, test,CN=a\\\\b");
	check_err(vdi_pem_subject(path, buf, 12, &err), ENAMETOOLONG);
	check_ok(vdi_pem_certificates(path, &pem, &err));
	check(startswith(pem, "-----BEGIN CERTIFICATE-----\n"));

	write_cert("nul.pem", name_of("vdi", "CN", (const unsigned char *)"gate\0way", 8, 0));
	expect_subject_refused("nul.pem", "holds a NUL");
	write_cert("oid.pem", name_of("vdi", "1.2.3.4.5", (const unsigned char *)"x", -1, 0));
	expect_subject_refused("oid.pem", "without a short name");
	write_cert("multi.pem", name_of("vdi", "CN", (const unsigned char *)"gateway", -1, -1));
	expect_subject_refused("multi.pem", "multi-valued RDN");

	/* Not -ENOENT for every failure: the file's own reason (a path through a regular file). */
	snprintf(path, sizeof(path), "%s/good.pem/x.pem", dir);
	check_err(vdi_pem_subject(path, buf, sizeof(buf), &err), ENOTDIR);
	check_str_contains(err.message, "Not a directory");
	check_err(vdi_pem_certificates(path, &pem, &err), ENOTDIR);
	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	check_err(vdi_pem_certificates(path, &pem, &err), ENOENT);
	check_str_contains(err.message, path);
}

static const struct vdi_test tests[] = {
	VDI_TEST(test_bad_pairs),
	VDI_TEST(test_ca_and_good),
	VDI_TEST(test_pem_for_vv),
};

int main(int argc, char **argv)
{
	return vdi_test_main(argc, argv, tests, ELEMENTSOF(tests));
}
