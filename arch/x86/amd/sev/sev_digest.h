/* Launch digests: what the PSP computes while it measures a launch plan.
 *   SEV, SEV-ES: SHA-256 over the LAUNCH_UPDATE_DATA bytes in order, then (SEV-ES) every VMSA
 *                (SEV API spec, LAUNCH_UPDATE_DATA / LAUNCH_UPDATE_VMSA / LAUNCH_MEASURE).
 *   SNP:         a SHA-384 chain, one PAGE_INFO per page (SNP ABI spec, SNP_LAUNCH_UPDATE):
 *                LD' = SHA-384(PAGE_INFO{ LD, SHA-384(page) or zeros, 0x70, type, 0, 0, gpa }). */
#ifndef EMBER_SEV_DIGEST_H
#define EMBER_SEV_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_launch_plan.h"

#define SEV_DIGEST_MAX 48
#define SEV_SNP_DIGEST_LEN 48
#define SEV_SEV_DIGEST_LEN 32
#define SEV_PAGE_INFO_LEN 0x70
#define SEV_NONCE_LEN 16
#define SEV_TIK_LEN 16
#define SEV_LAUNCH_BLOB_LEN (32 + SEV_NONCE_LEN) /* HMAC-SHA-256 || nonce */

/* The digest the PSP will report for plan: 32 bytes (SEV, SEV-ES) or 48 (SNP) in *len. */
int sev_digest_compute(const struct sev_launch_plan *plan, uint8_t out[SEV_DIGEST_MAX],
		       size_t *len, struct error *e);

/* One SNP_LAUNCH_UPDATE step: ld becomes SHA-384 of the PAGE_INFO built from it. contents is the
 * SHA-384 of the page for NORMAL and VMSA pages, all zeros for the others. */
void sev_snp_extend(uint8_t ld[SEV_SNP_DIGEST_LEN], const uint8_t contents[SEV_SNP_DIGEST_LEN],
		    enum sev_page_type type, uint64_t gpa);

/* The LAUNCH_MEASURE blob a guest owner checks (SEV API spec, LAUNCH_MEASURE):
 * HMAC-SHA-256 keyed with the TIK over 0x04 || API major || minor || build || policy (LE32) ||
 * digest || nonce, followed by the nonce. */
struct sev_launch_blob_input {
	uint8_t tik[SEV_TIK_LEN];
	uint8_t api_major, api_minor, build;
	uint32_t policy;
	uint8_t digest[SEV_SEV_DIGEST_LEN];
	uint8_t nonce[SEV_NONCE_LEN];
};
int sev_launch_blob(const struct sev_launch_blob_input *in, uint8_t out[SEV_LAUNCH_BLOB_LEN],
		    struct error *e);

#endif
