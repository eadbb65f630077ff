/* OVMF's SEV description of itself: the GUIDed footer table at the end of the firmware volume
 * and, for SNP, the "ASEV" metadata that lists the ranges the VMM must pre-validate. */
#ifndef EMBER_SEV_OVMF_H
#define EMBER_SEV_OVMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"

#define SEV_OVMF_MAX_SECTIONS 32
#define SEV_OVMF_MAX_SIZE (64u << 20) /* a flash image mapped just below 4 GiB */

/* OVMF_SEV_METADATA section types (OvmfPkg ResetVector). */
enum sev_ovmf_section_type {
	SEV_SECTION_SNP_SEC_MEM = 1,	       /* pre-validated, zero-filled RAM */
	SEV_SECTION_SNP_SECRETS = 2,	       /* the PSP's secrets page */
	SEV_SECTION_CPUID = 3,		       /* the CPUID page the PSP checks */
	SEV_SECTION_SVSM_CAA = 4,	       /* SVSM calling area: zero-filled */
	SEV_SECTION_SNP_KERNEL_HASHES = 0x10, /* the page holding the kernel-hashes table */
};

struct sev_ovmf_section {
	uint32_t gpa;
	uint32_t size;
	uint32_t type;
};

struct sev_ovmf {
	size_t size;	     /* image size; a multiple of 4 KiB */
	uint64_t gpa;	     /* where the image is mapped: it ends at 4 GiB */
	bool has_hash_table; /* SEV_HASH_TABLE_RV_GUID present */
	uint32_t hash_table_gpa;
	uint32_t hash_table_size;
	bool has_secret; /* SEV_SECRET_GUID present: where LAUNCH_SECRET goes by default */
	uint32_t secret_gpa;
	uint32_t secret_size;
	bool has_es_reset; /* SEV_ES_RESET_BLOCK_GUID present */
	uint32_t es_reset_eip;
	bool has_metadata; /* OVMF_SEV_METADATA_GUID present and valid */
	struct sev_ovmf_section sections[SEV_OVMF_MAX_SECTIONS];
	size_t n_sections;
};

/* Parses image (not kept). Fails with a one-line message on a truncated image, a missing footer
 * table or an entry that runs outside the image. */
int sev_ovmf_parse(struct sev_ovmf *o, const uint8_t *image, size_t size, struct error *e);

const char *sev_ovmf_section_name(uint32_t type);

#endif
