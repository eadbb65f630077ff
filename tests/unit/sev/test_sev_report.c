/* SNP attestation reports: parsing, signature and certificate-chain verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sev_report.h"
#include "sev_verify.h"
#include "sev_test_vectors.h"

#define REPORT "attestation/report_milan.hex"

static void load_report(uint8_t raw[SEV_REPORT_SIZE])
{
	struct error e = { "" };
	cr_assert_eq(sev_report_load(sev_vector_path(REPORT), raw, &e), 0, "%s", e.msg);
}

static X509 *load_cert(const char *rel)
{
	X509 *x = NULL;
	struct error e = { "" };
	cr_assert_eq(sev_cert_load(sev_vector_path(rel), &x, &e), 0, "%s", e.msg);
	return x;
}

/* Writes data to a temporary file and returns its path (static buffer). */
static const char *temp_file(const void *data, size_t len)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/ember-sev-test-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(sev_report, parses_milan_report)
{
	SEV_REQUIRE_VECTORS();
	uint8_t raw[SEV_REPORT_SIZE];
	load_report(raw);
	struct sev_report r;
	struct error e = { "" };
	cr_assert_eq(sev_report_parse(&r, raw, sizeof(raw), &e), 0, "%s", e.msg);
	cr_assert_eq(r.version, 2);
	cr_assert_eq(r.signature_algo, SEV_SIG_ALGO_ECDSA_P384_SHA384);
	cr_assert_eq(r.policy, 0x30000);
	cr_assert_eq(r.reported_tcb.bootloader, 3);
	cr_assert_eq(r.reported_tcb.snp, 8);
	cr_assert_eq(r.reported_tcb.microcode, 0x73);
	cr_assert_eq(r.signing_key, 0);
	cr_assert_eq(r.measurement[0], 0x7a);
	cr_assert_eq(r.chip_id[0], 0xd4);
}

Test(sev_report, milan_report_verifies_with_full_chain)
{
	SEV_REQUIRE_VECTORS();
	uint8_t raw[SEV_REPORT_SIZE];
	load_report(raw);
	struct sev_report r;
	struct error e = { "" };
	cr_assert_eq(sev_report_parse(&r, raw, sizeof(raw), &e), 0, "%s", e.msg);
	X509 *vcek = load_cert("attestation/vcek_milan.der");
	X509 *ask = load_cert("attestation/ask_milan.pem");
	X509 *ark = load_cert("attestation/ark_milan.pem");
	cr_assert_eq(sev_verify_report_signature(raw, vcek, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_verify_vcek_matches(&r, vcek, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_verify_chain(ark, ask, vcek, &e), 0, "%s", e.msg);
	X509_free(vcek);
	X509_free(ask);
	X509_free(ark);
}

Test(sev_report, flipped_bit_fails_signature)
{
	SEV_REQUIRE_VECTORS();
	uint8_t raw[SEV_REPORT_SIZE];
	load_report(raw);
	X509 *vcek = load_cert("attestation/vcek_milan.der");
	struct error e = { "" };
	raw[21] ^= 0x80;
	cr_assert_eq(sev_verify_report_signature(raw, vcek, &e), -1);
	cr_assert(strstr(e.msg, "does not verify"), "%s", e.msg);
	raw[21] ^= 0x80;
	raw[SEV_REPORT_SIG_R] ^= 1; /* a damaged signature fails too */
	cr_assert_eq(sev_verify_report_signature(raw, vcek, &e), -1);
	X509_free(vcek);
}

Test(sev_report, wrong_chain_order_fails)
{
	SEV_REQUIRE_VECTORS();
	X509 *vcek = load_cert("attestation/vcek_milan.der");
	X509 *ask = load_cert("attestation/ask_milan.pem");
	X509 *ark = load_cert("attestation/ark_milan.pem");
	struct error e = { "" };
	cr_assert_eq(sev_verify_chain(ask, ark, vcek, &e), -1);
	cr_assert(strstr(e.msg, "self-signed"), "%s", e.msg);
	cr_assert_eq(sev_verify_chain(ark, ask, ask, &e), -1);
	X509_free(vcek);
	X509_free(ask);
	X509_free(ark);
}

Test(sev_report, vcek_must_match_reported_tcb_and_chip)
{
	SEV_REQUIRE_VECTORS();
	uint8_t raw[SEV_REPORT_SIZE];
	load_report(raw);
	X509 *vcek = load_cert("attestation/vcek_milan.der");
	struct sev_report r;
	struct error e = { "" };
	cr_assert_eq(sev_report_parse(&r, raw, sizeof(raw), &e), 0);
	r.reported_tcb.snp++;
	cr_assert_eq(sev_verify_vcek_matches(&r, vcek, &e), -1);
	cr_assert(strstr(e.msg, "SNP SPL"), "%s", e.msg);
	r.reported_tcb.snp--;
	r.chip_id[5] ^= 1;
	cr_assert_eq(sev_verify_vcek_matches(&r, vcek, &e), -1);
	cr_assert(strstr(e.msg, "another chip"), "%s", e.msg);
	X509_free(vcek);
}

Test(sev_report, signature_needs_an_ec_p384_vcek)
{
	SEV_REQUIRE_VECTORS();
	uint8_t raw[SEV_REPORT_SIZE];
	load_report(raw);
	X509 *ask = load_cert("attestation/ask_milan.pem");
	struct error e = { "" };
	cr_assert_eq(sev_verify_report_signature(raw, ask, &e), -1);
	cr_assert(strstr(e.msg, "P-384"), "%s", e.msg);
	raw[0x34] = 2;
	cr_assert_eq(sev_verify_report_signature(raw, ask, &e), -1);
	cr_assert(strstr(e.msg, "algorithm 2"), "%s", e.msg);
	X509_free(ask);
}

Test(sev_report, truncated_report_is_refused)
{
	uint8_t raw[SEV_REPORT_SIZE] = { 2 };
	struct sev_report r;
	struct error e = { "" };
	cr_assert_eq(sev_report_parse(&r, raw, 1000, &e), -1);
	cr_assert(strstr(e.msg, "1184"), "%s", e.msg);
	raw[0] = 1;
	cr_assert_eq(sev_report_parse(&r, raw, sizeof(raw), &e), -1);
	cr_assert(strstr(e.msg, "version 1"), "%s", e.msg);
}

Test(sev_report, report_files_hex_binary_truncated_and_bad)
{
	SEV_REQUIRE_VECTORS();
	uint8_t raw[SEV_REPORT_SIZE], again[SEV_REPORT_SIZE];
	load_report(raw);
	struct error e = { "" };
	const char *path = temp_file(raw, sizeof(raw));
	cr_assert_eq(sev_report_load(path, again, &e), 0, "%s", e.msg);
	unlink(path);
	cr_assert_eq(memcmp(raw, again, sizeof(raw)), 0, "binary report reads back");

	size_t len = 0;
	uint8_t *hex = sev_vector_read(REPORT, &len);
	path = temp_file(hex, 1000);
	cr_assert_eq(sev_report_load(path, again, &e), -1);
	cr_assert(strstr(e.msg, "truncated"), "%s", e.msg);
	unlink(path);
	hex[10] = 'z';
	path = temp_file(hex, len);
	cr_assert_eq(sev_report_load(path, again, &e), -1);
	cr_assert(strstr(e.msg, "bad hex"), "%s", e.msg);
	unlink(path);
	path = temp_file(raw, 500);
	cr_assert_eq(sev_report_load(path, again, &e), -1);
	unlink(path);
	free(hex);
}

Test(sev_report, certificates_must_parse)
{
	X509 *x = NULL;
	struct error e = { "" };
	const char *path = temp_file("not a certificate", 17);
	cr_assert_eq(sev_cert_load(path, &x, &e), -1);
	cr_assert(strstr(e.msg, "not a PEM or DER"), "%s", e.msg);
	unlink(path);
	cr_assert_eq(sev_cert_load("/nonexistent/vcek.der", &x, &e), -1);
	cr_assert(strstr(e.msg, "No such file"), "%s", e.msg);
}
