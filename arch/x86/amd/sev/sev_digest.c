#include "sev_digest.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sev_bytes.h"

#define PAGE_SIZE 4096u
#define MEASURE_CONTEXT_ID 0x04 /* the first byte of the LAUNCH_MEASURE HMAC input */

void sev_snp_extend(uint8_t ld[SEV_SNP_DIGEST_LEN], const uint8_t contents[SEV_SNP_DIGEST_LEN],
		    enum sev_page_type type, uint64_t gpa)
{
	/* PAGE_INFO: DIGEST_CUR, CONTENTS, LENGTH, PAGE_TYPE, IMI_PAGE, VMPL3/2/1_PERMS, reserved,
	 * GPA. Ember launches no IMI pages and grants lower VMPLs nothing up front. */
	uint8_t info[SEV_PAGE_INFO_LEN] = { 0 };
	memcpy(info, ld, SEV_SNP_DIGEST_LEN);
	memcpy(info + 0x30, contents, SEV_SNP_DIGEST_LEN);
	sev_put_le16(info + 0x60, SEV_PAGE_INFO_LEN);
	info[0x62] = (uint8_t)type;
	sev_put_le64(info + 0x68, gpa);
	SHA384(info, sizeof(info), ld);
}

static int snp_region(uint8_t ld[SEV_SNP_DIGEST_LEN], const struct sev_plan_region *r,
		      struct error *e)
{
	static const uint8_t zeros[SEV_SNP_DIGEST_LEN];
	if (r->gpa % PAGE_SIZE || r->len % PAGE_SIZE)
		return error_set(e, "%s (0x%llx, %llu bytes) is not whole pages", r->what,
				 (unsigned long long)r->gpa, (unsigned long long)r->len);
	if (r->type == SEV_PAGE_NORMAL && !r->data)
		return error_set(e, "%s: normal pages without contents", r->what);
	for (uint64_t off = 0; off < r->len; off += PAGE_SIZE) {
		uint8_t contents[SEV_SNP_DIGEST_LEN];
		if (r->type == SEV_PAGE_NORMAL)
			SHA384(r->data + off, PAGE_SIZE, contents);
		else
			memcpy(contents, zeros, sizeof(contents));
		sev_snp_extend(ld, contents, r->type, r->gpa + off);
	}
	return 0;
}

static int snp_digest(const struct sev_launch_plan *plan, uint8_t out[SEV_DIGEST_MAX],
		      struct error *e)
{
	uint8_t ld[SEV_SNP_DIGEST_LEN] = { 0 };
	for (size_t i = 0; i < plan->n_regions; i++)
		if (snp_region(ld, &plan->regions[i], e) < 0)
			return -1;
	for (unsigned i = 0; i < plan->n_vmsas; i++) {
		uint8_t contents[SEV_SNP_DIGEST_LEN];
		SHA384(plan->vmsas[i], SEV_VMSA_SIZE, contents);
		sev_snp_extend(ld, contents, SEV_PAGE_VMSA, SEV_VMSA_GPA);
	}
	memcpy(out, ld, sizeof(ld));
	return 0;
}

static int sev_sha256_digest(const struct sev_launch_plan *plan, uint8_t out[SEV_DIGEST_MAX],
			     struct error *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return error_set(e, "cannot set up SHA-256");
	}
	int ok = 1;
	for (size_t i = 0; i < plan->n_regions && ok; i++) {
		const struct sev_plan_region *r = &plan->regions[i];
		if (r->type != SEV_PAGE_NORMAL || !r->data) {
			EVP_MD_CTX_free(ctx);
			return error_set(e, "%s: %s regions have no place in an SEV launch",
					 r->what, sev_page_type_name(r->type));
		}
		ok = EVP_DigestUpdate(ctx, r->data, r->len);
	}
	for (unsigned i = 0; i < plan->n_vmsas && ok; i++)
		ok = EVP_DigestUpdate(ctx, plan->vmsas[i], SEV_VMSA_SIZE);
	unsigned int n = 0;
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : error_set(e, "SHA-256 failed");
}

int sev_digest_compute(const struct sev_launch_plan *plan, uint8_t out[SEV_DIGEST_MAX],
		       size_t *len, struct error *e)
{
	if (plan->mode == SEV_MODE_SNP) {
		*len = SEV_SNP_DIGEST_LEN;
		return snp_digest(plan, out, e);
	}
	*len = SEV_SEV_DIGEST_LEN;
	return sev_sha256_digest(plan, out, e);
}

int sev_launch_blob(const struct sev_launch_blob_input *in, uint8_t out[SEV_LAUNCH_BLOB_LEN],
		    struct error *e)
{
	uint8_t msg[1 + 3 + 4 + SEV_SEV_DIGEST_LEN + SEV_NONCE_LEN];
	size_t at = 0;
	msg[at++] = MEASURE_CONTEXT_ID;
	msg[at++] = in->api_major;
	msg[at++] = in->api_minor;
	msg[at++] = in->build;
	sev_put_le32(msg + at, in->policy);
	at += 4;
	memcpy(msg + at, in->digest, SEV_SEV_DIGEST_LEN);
	at += SEV_SEV_DIGEST_LEN;
	memcpy(msg + at, in->nonce, SEV_NONCE_LEN);
	at += SEV_NONCE_LEN;

	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha256(), in->tik, SEV_TIK_LEN, msg, at, out, &mac_len) || mac_len != 32)
		return error_set(e, "HMAC-SHA-256 failed");
	memcpy(out + 32, in->nonce, SEV_NONCE_LEN);
	return 0;
}
