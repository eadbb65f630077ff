/* Human-readable dump of an SNP attestation report. */
#include <inttypes.h>

#include "sev_codec.h"
#include "sev_report.h"

/* Guest policy bits (SNP ABI, table "Guest Policy Structure"). */
#define POLICY_SMT (1ull << 16)
#define POLICY_MIGRATE_MA (1ull << 18)
#define POLICY_DEBUG (1ull << 19)
#define POLICY_SINGLE_SOCKET (1ull << 20)

static void print_hex_field(FILE *out, const char *name, const uint8_t *bytes, size_t len)
{
	char text[2 * 64 + 1];
	sev_hex_encode(bytes, len, text);
	fprintf(out, "%-18s %s\n", name, text);
}

static void print_tcb(FILE *out, const char *name, const struct sev_tcb *t)
{
	fprintf(out, "%-18s 0x%016" PRIx64 " (", name, t->raw);
	if (t->has_fmc)
		fprintf(out, "fmc %u, ", t->fmc);
	fprintf(out, "bootloader %u, tee %u, snp %u, microcode %u)\n", t->bootloader, t->tee,
		t->snp, t->microcode);
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static const char *signing_key_name(uint8_t key)
{
	switch (key) {
	case 0:
		return "VCEK";
	case 1:
		return "VLEK";
	case 7:
		return "none";
	default:
		return "reserved";
	}
}

static void print_policy(FILE *out, uint64_t p)
{
	fprintf(out, "%-18s 0x%" PRIx64 " (abi %u.%u, smt %s, migrate_ma %s, debug %s, "
		"single_socket %s)\n", "policy:", p, (unsigned)((p >> 8) & 0xff),
		(unsigned)(p & 0xff), yes_no(p & POLICY_SMT), yes_no(p & POLICY_MIGRATE_MA),
		yes_no(p & POLICY_DEBUG), yes_no(p & POLICY_SINGLE_SOCKET));
}

void sev_report_print(const struct sev_report *r, FILE *out)
{
	fprintf(out, "%-18s %u\n", "version:", r->version);
	fprintf(out, "%-18s %u\n", "guest_svn:", r->guest_svn);
	print_policy(out, r->policy);
	print_hex_field(out, "family_id:", r->family_id, sizeof(r->family_id));
	print_hex_field(out, "image_id:", r->image_id, sizeof(r->image_id));
	fprintf(out, "%-18s %u\n", "vmpl:", r->vmpl);
	fprintf(out, "%-18s %u%s\n", "signature_algo:", r->signature_algo,
		r->signature_algo == SEV_SIG_ALGO_ECDSA_P384_SHA384 ? " (ECDSA P-384 with SHA-384)"
								     : " (unknown)");
	print_tcb(out, "current_tcb:", &r->current_tcb);
	fprintf(out, "%-18s 0x%" PRIx64 " (smt %s, tsme %s)\n", "platform_info:",
		r->platform_info, yes_no(r->platform_info & 1), yes_no(r->platform_info & 2));
	fprintf(out, "%-18s %s (author_key_en %s, mask_chip_key %s)\n", "signing_key:",
		signing_key_name(r->signing_key), yes_no(r->author_key_en),
		yes_no(r->mask_chip_key));
	print_hex_field(out, "report_data:", r->report_data, sizeof(r->report_data));
	print_hex_field(out, "measurement:", r->measurement, sizeof(r->measurement));
	print_hex_field(out, "host_data:", r->host_data, sizeof(r->host_data));
	print_hex_field(out, "id_key_digest:", r->id_key_digest, sizeof(r->id_key_digest));
	print_hex_field(out, "author_key_digest:", r->author_key_digest,
			sizeof(r->author_key_digest));
	print_hex_field(out, "report_id:", r->report_id, sizeof(r->report_id));
	print_hex_field(out, "report_id_ma:", r->report_id_ma, sizeof(r->report_id_ma));
	print_tcb(out, "reported_tcb:", &r->reported_tcb);
	if (r->version >= 3)
		fprintf(out, "%-18s family 0x%x, model 0x%x, stepping 0x%x\n", "cpuid:",
			r->cpuid_fam_id, r->cpuid_mod_id, r->cpuid_step);
	print_hex_field(out, "chip_id:", r->chip_id, sizeof(r->chip_id));
	print_tcb(out, "committed_tcb:", &r->committed_tcb);
	fprintf(out, "%-18s %u.%u build %u\n", "current_version:", r->current_major,
		r->current_minor, r->current_build);
	fprintf(out, "%-18s %u.%u build %u\n", "committed_version:", r->committed_major,
		r->committed_minor, r->committed_build);
	print_tcb(out, "launch_tcb:", &r->launch_tcb);
}
