/* The launch plan: everything the PSP will measure while an SEV / SEV-ES / SEV-SNP guest is
 * launched, in order. The digest calculator (sev_digest.h) hashes it; the KVM launch flow
 * (sev_launch.h) walks the same list with LAUNCH_UPDATE_DATA / SNP_LAUNCH_UPDATE, so the digest
 * Ember predicts is the one the firmware computes. */
#ifndef EMBER_SEV_LAUNCH_PLAN_H
#define EMBER_SEV_LAUNCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_hashes.h"
#include "sev_ovmf.h"
#include "sev_vmsa.h"

enum sev_mode {
	SEV_MODE_SEV,
	SEV_MODE_SEV_ES,
	SEV_MODE_SNP,
};

/* SNP page types (SNP ABI, PAGE_INFO.PAGE_TYPE; same numbers as KVM_SEV_SNP_PAGE_TYPE_*). SEV and
 * SEV-ES plans only hold NORMAL regions (LAUNCH_UPDATE_DATA). */
enum sev_page_type {
	SEV_PAGE_NORMAL = 1,
	SEV_PAGE_VMSA = 2,
	SEV_PAGE_ZERO = 3,
	SEV_PAGE_UNMEASURED = 4,
	SEV_PAGE_SECRETS = 5,
	SEV_PAGE_CPUID = 6,
};

#define SEV_PLAN_MAX_REGIONS (SEV_OVMF_MAX_SECTIONS + 2)
#define SEV_PLAN_MAX_VCPUS 512

struct sev_plan_region {
	const char *what;	  /* "firmware", "kernel hashes", "SNP_SEC_MEM", ... */
	uint64_t gpa;		  /* SEV: any alignment of 16; SNP: page aligned */
	uint64_t len;		  /* SEV: multiple of 16; SNP: multiple of 4 KiB */
	enum sev_page_type type;
	const uint8_t *data;	  /* NORMAL: the len bytes the guest sees at gpa; else NULL */
};

struct sev_plan_input {
	enum sev_mode mode;
	const uint8_t *firmware; /* borrowed: must outlive the plan */
	size_t firmware_len;
	bool kernel_hashes;	 /* measured direct boot: place hash_table */
	uint8_t hash_table[SEV_HASH_TABLE_PADDED_LEN];
	unsigned vcpus;		 /* SEV-ES / SNP: one VMSA each */
	uint32_t cpuid_sig;	 /* CPUID(1).EAX of the vCPU model */
	uint64_t guest_features; /* SNP: the VMSA's SEV_FEATURES */
};

/* Regions may point into the plan itself (hashes): build it in place and do not copy it. */
struct sev_launch_plan {
	enum sev_mode mode;
	struct sev_ovmf ovmf;
	struct sev_plan_region regions[SEV_PLAN_MAX_REGIONS];
	size_t n_regions;
	/* The bytes of the kernel-hashes region (SEV: the padded table; SNP: its whole page). */
	uint8_t hashes[4096];
	/* SEV-ES / SNP: n_vmsas pages, vCPU 0 (the BSP) first; measured after all regions. */
	uint8_t (*vmsas)[SEV_VMSA_SIZE];
	unsigned n_vmsas;
};

/* Builds the plan for a QEMU-style VMM: the firmware pages (mapped to end at 4 GiB), then for
 * SEV/SEV-ES the kernel-hashes table at OVMF's hash-table address, for SNP each OVMF metadata
 * section (the hashes page is NORMAL when kernel hashes are used, ZERO otherwise), then the VMSAs.
 * Free with sev_plan_free (also safe after a failed build). */
int sev_plan_build(struct sev_launch_plan *plan, const struct sev_plan_input *in,
		   struct error *e);
void sev_plan_free(struct sev_launch_plan *plan);

const char *sev_mode_name(enum sev_mode mode);
int sev_mode_parse(const char *text, enum sev_mode *mode, struct error *e);
const char *sev_page_type_name(enum sev_page_type type);

#endif
