#include "sev_launch_plan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAGE_SIZE 4096u

static int add_region(struct sev_launch_plan *plan, const char *what, uint64_t gpa, uint64_t len,
		      enum sev_page_type type, const uint8_t *data, struct error *e)
{
	if (plan->n_regions == SEV_PLAN_MAX_REGIONS)
		return error_set(e, "launch plan has more than %d regions", SEV_PLAN_MAX_REGIONS);
	for (size_t i = 0; i < plan->n_regions; i++) {
		const struct sev_plan_region *r = &plan->regions[i];
		if (gpa < r->gpa + r->len && r->gpa < gpa + len)
			return error_set(e, "%s at 0x%llx overlaps %s at 0x%llx", what,
					 (unsigned long long)gpa, r->what,
					 (unsigned long long)r->gpa);
	}
	plan->regions[plan->n_regions++] = (struct sev_plan_region){
		.what = what, .gpa = gpa, .len = len, .type = type, .data = data,
	};
	return 0;
}

/* SEV / SEV-ES: QEMU writes the padded table at OVMF's hash-table address and measures it with
 * LAUNCH_UPDATE_DATA right after the firmware. */
static int add_sev_hashes(struct sev_launch_plan *plan, const struct sev_plan_input *in,
			  struct error *e)
{
	const struct sev_ovmf *o = &plan->ovmf;
	if (!o->has_hash_table)
		return error_set(e, "firmware has no SEV hash-table entry: it cannot verify a "
				 "kernel (use an OvmfPkg/AmdSev build for --kernel)");
	if (o->hash_table_size < SEV_HASH_TABLE_PADDED_LEN || o->hash_table_gpa % 16)
		return error_set(e, "firmware's hash-table area (0x%x, %u bytes) cannot hold the "
				 "%d-byte table", o->hash_table_gpa, o->hash_table_size,
				 SEV_HASH_TABLE_PADDED_LEN);
	memcpy(plan->hashes, in->hash_table, SEV_HASH_TABLE_PADDED_LEN);
	return add_region(plan, "kernel hashes", o->hash_table_gpa, SEV_HASH_TABLE_PADDED_LEN,
			  SEV_PAGE_NORMAL, plan->hashes, e);
}

/* SNP: the hashes page is the metadata section's page with the table at OVMF's address in it. */
static int add_snp_hashes(struct sev_launch_plan *plan, const struct sev_plan_input *in,
			  const struct sev_ovmf_section *s, struct error *e)
{
	const struct sev_ovmf *o = &plan->ovmf;
	if (!in->kernel_hashes)
		return add_region(plan, "kernel hashes (unused)", s->gpa, s->size, SEV_PAGE_ZERO,
				  NULL, e);
	if (!o->has_hash_table)
		return error_set(e, "firmware has an SNP kernel-hashes section but no hash-table "
				 "entry");
	if (s->size != PAGE_SIZE || o->hash_table_gpa < s->gpa ||
	    o->hash_table_gpa - s->gpa > PAGE_SIZE - SEV_HASH_TABLE_PADDED_LEN)
		return error_set(e, "firmware's hash table at 0x%x does not fit its one-page SNP "
				 "kernel-hashes section at 0x%x (%u bytes)", o->hash_table_gpa,
				 s->gpa, s->size);
	memset(plan->hashes, 0, sizeof(plan->hashes));
	memcpy(plan->hashes + (o->hash_table_gpa - s->gpa), in->hash_table,
	       SEV_HASH_TABLE_PADDED_LEN);
	return add_region(plan, "kernel hashes", s->gpa, PAGE_SIZE, SEV_PAGE_NORMAL, plan->hashes,
			  e);
}

static int add_snp_sections(struct sev_launch_plan *plan, const struct sev_plan_input *in,
			    struct error *e)
{
	const struct sev_ovmf *o = &plan->ovmf;
	bool hashes_placed = false;
	if (!o->has_metadata)
		return error_set(e, "firmware has no SEV metadata (OVMF_SEV_METADATA_GUID): it "
				 "cannot be launched as SNP");
	for (size_t i = 0; i < o->n_sections; i++) {
		const struct sev_ovmf_section *s = &o->sections[i];
		const char *name = sev_ovmf_section_name(s->type);
		int rc;
		switch (s->type) {
		case SEV_SECTION_SNP_SEC_MEM:
		case SEV_SECTION_SVSM_CAA:
			rc = add_region(plan, name, s->gpa, s->size, SEV_PAGE_ZERO, NULL, e);
			break;
		case SEV_SECTION_SNP_SECRETS:
			rc = add_region(plan, name, s->gpa, s->size, SEV_PAGE_SECRETS, NULL, e);
			break;
		case SEV_SECTION_CPUID:
			rc = add_region(plan, name, s->gpa, s->size, SEV_PAGE_CPUID, NULL, e);
			break;
		case SEV_SECTION_SNP_KERNEL_HASHES:
			rc = add_snp_hashes(plan, in, s, e);
			hashes_placed = true;
			break;
		default:
			return error_set(e, "firmware's SEV metadata has section type 0x%x, which "
					 "Ember does not know how to launch", s->type);
		}
		if (rc < 0)
			return -1;
	}
	if (in->kernel_hashes && !hashes_placed)
		return error_set(e, "firmware has no SNP kernel-hashes section: it cannot verify a "
				 "kernel (use an OvmfPkg/AmdSev build for --kernel)");
	return 0;
}

static int add_vmsas(struct sev_launch_plan *plan, const struct sev_plan_input *in,
		     struct error *e)
{
	if (in->vcpus < 1 || in->vcpus > SEV_PLAN_MAX_VCPUS)
		return error_set(e, "%u vCPUs is out of range (1-%d)", in->vcpus,
				 SEV_PLAN_MAX_VCPUS);
	if (in->vcpus > 1 && !plan->ovmf.has_es_reset)
		return error_set(e, "firmware has no SEV-ES reset block: its APs cannot start, so "
				 "only 1 vCPU is possible");
	if (in->mode == SEV_MODE_SNP && !(in->guest_features & SEV_FEATURE_SNP_ACTIVE))
		return error_set(e, "guest features 0x%llx lack SNPActive (bit 0)",
				 (unsigned long long)in->guest_features);
	plan->vmsas = calloc(in->vcpus, SEV_VMSA_SIZE);
	if (!plan->vmsas)
		return error_set(e, "out of memory for %u VMSAs", in->vcpus);
	plan->n_vmsas = in->vcpus;
	for (unsigned i = 0; i < in->vcpus; i++) {
		uint32_t eip = i == 0 ? SEV_RESET_EIP : plan->ovmf.es_reset_eip;
		sev_vmsa_build(plan->vmsas[i], eip, in->cpuid_sig, in->guest_features);
	}
	return 0;
}

int sev_plan_build(struct sev_launch_plan *plan, const struct sev_plan_input *in,
		   struct error *e)
{
	memset(plan, 0, sizeof(*plan));
	plan->mode = in->mode;
	if (sev_ovmf_parse(&plan->ovmf, in->firmware, in->firmware_len, e) < 0)
		return -1;
	if (add_region(plan, "firmware", plan->ovmf.gpa, plan->ovmf.size, SEV_PAGE_NORMAL,
		       in->firmware, e) < 0)
		return -1;
	if (in->mode == SEV_MODE_SNP) {
		if (add_snp_sections(plan, in, e) < 0)
			return -1;
	} else if (in->kernel_hashes && add_sev_hashes(plan, in, e) < 0) {
		return -1;
	}
	if (in->mode != SEV_MODE_SEV && add_vmsas(plan, in, e) < 0)
		return -1;
	return 0;
}

void sev_plan_free(struct sev_launch_plan *plan)
{
	free(plan->vmsas);
	plan->vmsas = NULL;
	plan->n_vmsas = 0;
}

const char *sev_mode_name(enum sev_mode mode)
{
	switch (mode) {
	case SEV_MODE_SEV:
		return "sev";
	case SEV_MODE_SEV_ES:
		return "sev-es";
	case SEV_MODE_SNP:
		return "snp";
	}
	return "?";
}

int sev_mode_parse(const char *text, enum sev_mode *mode, struct error *e)
{
	if (strcasecmp(text, "sev") == 0)
		*mode = SEV_MODE_SEV;
	else if (strcasecmp(text, "sev-es") == 0 || strcasecmp(text, "seves") == 0)
		*mode = SEV_MODE_SEV_ES;
	else if (strcasecmp(text, "snp") == 0 || strcasecmp(text, "sev-snp") == 0)
		*mode = SEV_MODE_SNP;
	else
		return error_set(e, "unknown mode '%s' (expected sev, sev-es or snp)", text);
	return 0;
}

const char *sev_page_type_name(enum sev_page_type type)
{
	switch (type) {
	case SEV_PAGE_NORMAL:
		return "normal";
	case SEV_PAGE_VMSA:
		return "vmsa";
	case SEV_PAGE_ZERO:
		return "zero";
	case SEV_PAGE_UNMEASURED:
		return "unmeasured";
	case SEV_PAGE_SECRETS:
		return "secrets";
	case SEV_PAGE_CPUID:
		return "cpuid";
	}
	return "?";
}
