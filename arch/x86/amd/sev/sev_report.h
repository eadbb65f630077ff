/* The SEV-SNP attestation report (SNP ABI spec, table "ATTESTATION_REPORT Structure"): 1184
 * bytes, signed by the chip's VCEK (or a VLEK) over bytes 0x000-0x29F. */
#ifndef EMBER_SEV_REPORT_H
#define EMBER_SEV_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../../../vmm/error.h"

#define SEV_REPORT_SIZE 1184
#define SEV_REPORT_SIGNED_LEN 0x2a0 /* the signature covers everything before it */
#define SEV_REPORT_SIG_R 0x2a0	     /* r and s: 72-byte little-endian integers */
#define SEV_REPORT_SIG_S 0x2e8
#define SEV_REPORT_SIG_COMPONENT 72
#define SEV_SIG_ALGO_ECDSA_P384_SHA384 1

/* A TCB version split into its security patch levels. Milan and Genoa: bootloader, TEE, SNP,
 * microcode in bytes 0, 1, 6, 7; Turin adds FMC: fmc, bootloader, TEE, SNP in bytes 0-3. */
struct sev_tcb {
	uint64_t raw;
	bool has_fmc;
	uint8_t fmc, bootloader, tee, snp, microcode;
};

struct sev_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	struct sev_tcb current_tcb;
	uint64_t platform_info;
	bool author_key_en;
	bool mask_chip_key;
	uint8_t signing_key; /* 0: VCEK, 1: VLEK, 7: none */
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	struct sev_tcb reported_tcb;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* version >= 3 */
	uint8_t chip_id[64];
	struct sev_tcb committed_tcb;
	uint8_t current_major, current_minor, current_build;
	uint8_t committed_major, committed_minor, committed_build;
	struct sev_tcb launch_tcb;
	uint8_t sig_r[SEV_REPORT_SIG_COMPONENT]; /* little-endian, as stored */
	uint8_t sig_s[SEV_REPORT_SIG_COMPONENT];
};

/* Parses exactly SEV_REPORT_SIZE bytes. Rejects other sizes and versions below 2. */
int sev_report_parse(struct sev_report *r, const uint8_t *raw, size_t len, struct error *e);

/* Reads a report file: raw binary (1184 bytes) or hex text (whitespace allowed). */
int sev_report_load(const char *path, uint8_t raw[SEV_REPORT_SIZE], struct error *e);

/* Decodes a TCB version; Turin (CPUID family 0x1A) has a different byte layout. */
struct sev_tcb sev_tcb_decode(uint64_t raw, bool turin);

/* Prints the main fields as "name: value" lines. */
void sev_report_print(const struct sev_report *r, FILE *out);

#endif
