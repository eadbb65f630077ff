/* Launch digests against the known answers in sev-vectors/README.md, and the launch plan. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sev_codec.h"
#include "sev_digest.h"
#include "sev_hashes.h"
#include "sev_launch_plan.h"
#include "sev_vmsa.h"
#include "sev_test_vectors.h"

#define AMDSEV "snp-measure/ovmf_AmdSev_suffix.bin"
#define OVMFX64 "snp-measure/ovmf_OvmfX64_suffix.bin"
#define EPYC_V4_SIG 0x00800F12u

struct measure_case {
	enum sev_mode mode;
	const char *firmware;
	bool empty_kernel; /* zero-length kernel and initrd with cmdline */
	const char *cmdline;
	unsigned vcpus;
	uint64_t features;
};

/* Builds the plan and digest for c; returns the digest as hex (static buffer). */
static const char *measure(const struct measure_case *c)
{
	size_t fw_len = 0;
	uint8_t *fw = sev_vector_read(c->firmware, &fw_len);
	struct sev_plan_input in = {
		.mode = c->mode, .firmware = fw, .firmware_len = fw_len, .vcpus = c->vcpus,
		.cpuid_sig = EPYC_V4_SIG, .guest_features = c->features,
	};
	if (c->empty_kernel) {
		static const uint8_t none[1];
		in.kernel_hashes = true;
		sev_hashes_build(in.hash_table, none, 0, none, 0, c->cmdline);
	}
	struct sev_launch_plan plan;
	struct error e = { "" };
	cr_assert_eq(sev_plan_build(&plan, &in, &e), 0, "plan: %s", e.msg);
	uint8_t digest[SEV_DIGEST_MAX];
	size_t len = 0;
	cr_assert_eq(sev_digest_compute(&plan, digest, &len, &e), 0, "digest: %s", e.msg);
	sev_plan_free(&plan);
	free(fw);
	static char hex[2 * SEV_DIGEST_MAX + 1];
	sev_hex_encode(digest, len, hex);
	return hex;
}

Test(sev_measure, snp_amdsev_no_kernel_features_0x21)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = { SEV_MODE_SNP, AMDSEV, false, NULL, 1, 0x21 };
	cr_assert_str_eq(measure(&c), "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af"
				      "9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b");
}

Test(sev_measure, snp_amdsev_no_kernel_features_0x1)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = { SEV_MODE_SNP, AMDSEV, false, NULL, 1, 0x1 };
	cr_assert_str_eq(measure(&c), "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6"
				      "013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d");
}

Test(sev_measure, snp_amdsev_empty_kernel_features_0x21)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = { SEV_MODE_SNP, AMDSEV, true, "console=ttyS0 loglevel=7", 1, 0x21 };
	cr_assert_str_eq(measure(&c), "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb2"
				      "8c653360fe4b3aba7e534442e7e1e17895dfe778d0228977");
}

Test(sev_measure, snp_amdsev_empty_kernel_features_0x1)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = { SEV_MODE_SNP, AMDSEV, true, "console=ttyS0 loglevel=7", 1, 0x1 };
	cr_assert_str_eq(measure(&c), "6d287813eb5222d770f75005c664e34c204f385ce832cc2c"
				      "e7d0d6f354454362f390ef83a92046c042e706363b4b08fa");
}

Test(sev_measure, sev_es_amdsev_empty_kernel_empty_cmdline)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = { SEV_MODE_SEV_ES, AMDSEV, true, "", 1, 0 };
	cr_assert_str_eq(measure(&c),
			 "13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c");
}

Test(sev_measure, sev_amdsev_empty_kernel)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = { SEV_MODE_SEV, AMDSEV, true, "console=ttyS0 loglevel=7", 1, 0 };
	cr_assert_str_eq(measure(&c),
			 "82a3ee5d537c3620628270c292ae30cb40c3c878666a7890ee7ef2a08fb535ff");
}

Test(sev_measure, sevctl_launch_blob_firmware_only)
{
	SEV_REQUIRE_VECTORS();
	struct measure_case c = {
		SEV_MODE_SEV, "sevctl/OVMF.amdsev.fd_trimmed_edk2-ovmf-20220126gitbb1bba3d77-4.el9",
		false, NULL, 1, 0,
	};
	struct sev_launch_blob_input in = { .api_major = 1, .api_minor = 40, .build = 40,
					    .policy = 0x03 };
	sev_test_unhex(measure(&c), in.digest, sizeof(in.digest));
	size_t tik_len = 0;
	uint8_t *tik = sev_vector_read("sevctl/tik1.bin", &tik_len);
	cr_assert_eq(tik_len, SEV_TIK_LEN);
	memcpy(in.tik, tik, SEV_TIK_LEN);
	free(tik);
	size_t nonce_len = 0;
	struct error e = { "" };
	cr_assert_eq(sev_base64_decode("wxP6tRHCFrFQWxsuqZA8QA==", in.nonce, sizeof(in.nonce),
				       &nonce_len, &e), 0);
	uint8_t blob[SEV_LAUNCH_BLOB_LEN];
	cr_assert_eq(sev_launch_blob(&in, blob, &e), 0, "%s", e.msg);
	char b64[80];
	sev_base64_encode(blob, sizeof(blob), b64);
	cr_assert_str_eq(b64, "oMDewIouJSpbpNRHj7Mk3p08H2dPZQdsZMU14qIymBnDE/q1EcIWsVBbGy6pkDxA");
}

/* The plan's order is the launch order: firmware, then OVMF's metadata sections as listed. */
Test(sev_measure, snp_plan_lists_firmware_then_metadata_sections)
{
	SEV_REQUIRE_VECTORS();
	size_t fw_len = 0;
	uint8_t *fw = sev_vector_read(AMDSEV, &fw_len);
	struct sev_plan_input in = { .mode = SEV_MODE_SNP, .firmware = fw, .firmware_len = fw_len,
				     .vcpus = 4, .cpuid_sig = EPYC_V4_SIG, .guest_features = 1 };
	struct sev_launch_plan plan;
	struct error e = { "" };
	cr_assert_eq(sev_plan_build(&plan, &in, &e), 0, "%s", e.msg);
	cr_assert_eq(plan.regions[0].gpa, 0xfffff000);
	cr_assert_eq(plan.regions[0].type, SEV_PAGE_NORMAL);
	bool secrets = false, cpuid = false;
	for (size_t i = 1; i < plan.n_regions; i++) {
		secrets |= plan.regions[i].type == SEV_PAGE_SECRETS;
		cpuid |= plan.regions[i].type == SEV_PAGE_CPUID;
		cr_assert_null(plan.regions[i].data, "no kernel: no normal pages after firmware");
	}
	cr_assert(secrets && cpuid);
	cr_assert_eq(plan.n_vmsas, 4);
	/* APs start at the SEV-ES reset block: CS base from its top half, RIP its low 16 bits. */
	cr_assert_eq(plan.ovmf.has_es_reset, true);
	uint64_t cs_base = 0, rip = 0;
	memcpy(&cs_base, plan.vmsas[1] + SEV_VMSA_CS + 8, 8);
	memcpy(&rip, plan.vmsas[1] + SEV_VMSA_RIP, 8);
	cr_assert_eq(cs_base | rip, plan.ovmf.es_reset_eip);
	sev_plan_free(&plan);
	free(fw);
}

Test(sev_measure, standard_ovmf_cannot_verify_a_kernel)
{
	SEV_REQUIRE_VECTORS();
	size_t fw_len = 0;
	uint8_t *fw = sev_vector_read(OVMFX64, &fw_len);
	struct sev_plan_input in = { .mode = SEV_MODE_SNP, .firmware = fw, .firmware_len = fw_len,
				     .vcpus = 1, .cpuid_sig = EPYC_V4_SIG, .guest_features = 1,
				     .kernel_hashes = true };
	struct sev_launch_plan plan;
	struct error e = { "" };
	cr_assert_eq(sev_plan_build(&plan, &in, &e), -1);
	cr_assert(strstr(e.msg, "kernel"), "message: %s", e.msg);
	sev_plan_free(&plan);
	in.kernel_hashes = false;
	cr_assert_eq(sev_plan_build(&plan, &in, &e), 0, "%s", e.msg);
	sev_plan_free(&plan);
	free(fw);
}

Test(sev_measure, snp_without_snp_active_is_refused)
{
	SEV_REQUIRE_VECTORS();
	size_t fw_len = 0;
	uint8_t *fw = sev_vector_read(AMDSEV, &fw_len);
	struct sev_plan_input in = { .mode = SEV_MODE_SNP, .firmware = fw, .firmware_len = fw_len,
				     .vcpus = 1, .cpuid_sig = EPYC_V4_SIG, .guest_features = 0x20 };
	struct sev_launch_plan plan;
	struct error e = { "" };
	cr_assert_eq(sev_plan_build(&plan, &in, &e), -1);
	cr_assert(strstr(e.msg, "SNPActive"), "message: %s", e.msg);
	sev_plan_free(&plan);
	in.guest_features = 1;
	in.vcpus = 0;
	cr_assert_eq(sev_plan_build(&plan, &in, &e), -1);
	cr_assert(strstr(e.msg, "out of range"), "message: %s", e.msg);
	sev_plan_free(&plan);
	free(fw);
}

/* sevctl's VMSAs were captured from KVM before Linux 6.10, which left MXCSR and the x87 control
 * word zero; every other byte must match Ember's reset-state VMSA (Milan signature). */
static void check_vmsa_against(const char *rel, uint32_t eip)
{
	size_t len = 0;
	uint8_t *want = sev_vector_read(rel, &len);
	cr_assert_eq(len, SEV_VMSA_SIZE);
	uint8_t page[SEV_VMSA_SIZE];
	sev_vmsa_build(page, eip, 0x00A00F11, 0);
	memset(page + SEV_VMSA_MXCSR, 0, 4);
	memset(page + SEV_VMSA_X87_FCW, 0, 2);
	for (size_t i = 0; i < SEV_VMSA_SIZE; i++)
		cr_assert_eq(page[i], want[i], "%s: byte 0x%zx is 0x%02x, expected 0x%02x", rel, i,
			     page[i], want[i]);
	free(want);
}

Test(sev_measure, vmsa_matches_captured_kvm_vmsas)
{
	SEV_REQUIRE_VECTORS();
	check_vmsa_against("sevctl/vmsa0.bin", SEV_RESET_EIP);
	check_vmsa_against("sevctl/vmsa1.bin", 0x0080b004);
}

Test(sev_measure, vcpu_models_give_cpuid_signatures)
{
	uint32_t sig = 0;
	struct error e = { "" };
	cr_assert_eq(sev_vcpu_model_find("EPYC-v4", &sig, &e), 0);
	cr_assert_eq(sig, EPYC_V4_SIG);
	cr_assert_eq(sev_vcpu_model_find("epyc", &sig, &e), 0);
	cr_assert_eq(sig, EPYC_V4_SIG);
	cr_assert_eq(sev_vcpu_model_find("EPYC-Milan-v2", &sig, &e), 0);
	cr_assert_eq(sig, 0x00A00F11);
	cr_assert_eq(sev_vcpu_model_find("EPYC-Rome", &sig, &e), 0);
	cr_assert_eq(sig, 0x00830F10);
	cr_assert_eq(sev_vcpu_model_find("EPYC-Genoa", &sig, &e), 0);
	cr_assert_eq(sig, 0x00A10F10);
	cr_assert_eq(sev_vcpu_model_find("EPYC-v", &sig, &e), -1);
	cr_assert_eq(sev_vcpu_model_find("Skylake-Server", &sig, &e), -1);
	cr_assert(strstr(e.msg, "unknown vCPU type"), "message: %s", e.msg);
}

Test(sev_measure, hash_table_layout)
{
	uint8_t table[SEV_HASH_TABLE_PADDED_LEN];
	sev_hashes_build(table, NULL, 0, NULL, 0, NULL);
	cr_assert_eq(table[16] | table[17] << 8, SEV_HASH_TABLE_LEN);
	/* First entry: the command line's SHA-256 covers its NUL: SHA-256("\0"). */
	uint8_t want[32];
	sev_test_unhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want,
		       sizeof(want));
	cr_assert_eq(table[18 + 16] | table[18 + 17] << 8, 50);
	cr_assert_eq(memcmp(table + 18 + 18, want, 32), 0);
	for (size_t i = SEV_HASH_TABLE_LEN; i < SEV_HASH_TABLE_PADDED_LEN; i++)
		cr_assert_eq(table[i], 0);
}
