#include "sev_verify.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "sev_file.h"

#define CERT_FILE_MAX (64u << 10)
#define AMD_OID_TCB_PREFIX "1.3.6.1.4.1.3704.1.3."
#define AMD_OID_HWID "1.3.6.1.4.1.3704.1.4"
#define AMD_CHIP_ID_LEN 64
#define PSS_SALT_LEN 48

int sev_cert_load(const char *path, X509 **cert, struct error *e)
{
	uint8_t *data = NULL;
	size_t len = 0;
	if (sev_read_file(path, CERT_FILE_MAX, &data, &len, e) < 0)
		return -1;
	X509 *x = NULL;
	static const char pem_marker[] = "-----BEGIN";
	if (memmem(data, len, pem_marker, sizeof(pem_marker) - 1)) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);
		if (bio)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = data;
		x = d2i_X509(NULL, &p, (long)len);
	}
	free(data);
	if (!x)
		return error_set(e, "%s: not a PEM or DER X.509 certificate", path);
	*cert = x;
	return 0;
}

/* The report stores r and s as 72-byte little-endian integers; OpenSSL wants a DER
 * ECDSA-Sig-Value. */
static int signature_to_der(const uint8_t raw[SEV_REPORT_SIZE], unsigned char **der, int *der_len)
{
	BIGNUM *r = BN_lebin2bn(raw + SEV_REPORT_SIG_R, SEV_REPORT_SIG_COMPONENT, NULL);
	BIGNUM *s = BN_lebin2bn(raw + SEV_REPORT_SIG_S, SEV_REPORT_SIG_COMPONENT, NULL);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	if (!r || !s || !sig || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return -1;
	}
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(sig, der);
	ECDSA_SIG_free(sig); /* frees r and s too */
	return *der_len > 0 ? 0 : -1;
}

static bool is_p384_key(EVP_PKEY *key)
{
	char curve[32] = "";
	size_t n = 0;
	return key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), &n) &&
	       strcmp(curve, "secp384r1") == 0;
}

int sev_verify_report_signature(const uint8_t raw[SEV_REPORT_SIZE], X509 *vcek,
				struct error *e)
{
	uint32_t algo = (uint32_t)raw[0x34] | (uint32_t)raw[0x35] << 8 |
			(uint32_t)raw[0x36] << 16 | (uint32_t)raw[0x37] << 24;
	if (algo != SEV_SIG_ALGO_ECDSA_P384_SHA384)
		return error_set(e, "report signature algorithm %u is not ECDSA P-384/SHA-384",
				 algo);
	EVP_PKEY *key = X509_get0_pubkey(vcek);
	if (!is_p384_key(key))
		return error_set(e, "VCEK public key is not an EC P-384 key");
	unsigned char *der = NULL;
	int der_len = 0;
	if (signature_to_der(raw, &der, &der_len) < 0)
		return error_set(e, "report signature (r, s) cannot be encoded");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, key) == 1 &&
		 EVP_DigestVerify(ctx, der, (size_t)der_len, raw, SEV_REPORT_SIGNED_LEN) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	if (!ok)
		return error_set(e, "report signature does not verify with the VCEK "
				 "(report altered, or signed by another chip/TCB)");
	return 0;
}

/* The DER contents of the extension with this dotted OID, or NULL when absent. */
static const ASN1_OCTET_STRING *find_extension(X509 *cert, const char *oid)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return NULL;
	int at = X509_get_ext_by_OBJ(cert, obj, -1);
	ASN1_OBJECT_free(obj);
	X509_EXTENSION *ext = at >= 0 ? X509_get_ext(cert, at) : NULL;
	return ext ? X509_EXTENSION_get_data(ext) : NULL;
}

/* AMD's SPL extensions hold a DER INTEGER. Returns -1 when absent, -2 when malformed. */
static int extension_spl(X509 *cert, int index)
{
	char oid[64];
	snprintf(oid, sizeof(oid), AMD_OID_TCB_PREFIX "%d", index);
	const ASN1_OCTET_STRING *data = find_extension(cert, oid);
	if (!data)
		return -1;
	const unsigned char *p = ASN1_STRING_get0_data(data);
	ASN1_INTEGER *v = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(data));
	long value = v ? ASN1_INTEGER_get(v) : -2;
	ASN1_INTEGER_free(v);
	return value < 0 || value > 255 ? -2 : (int)value;
}

static int check_spl(X509 *vcek, int index, const char *name, uint8_t reported,
		     struct error *e)
{
	int spl = extension_spl(vcek, index);
	if (spl == -2)
		return error_set(e, "VCEK's %s extension is malformed", name);
	if (spl >= 0 && spl != reported)
		return error_set(e, "VCEK was issued for %s SPL %d but the report's reported_tcb "
				 "has %u", name, spl, reported);
	return 0;
}

int sev_verify_vcek_matches(const struct sev_report *r, X509 *vcek, struct error *e)
{
	const struct sev_tcb *t = &r->reported_tcb;
	if (check_spl(vcek, 1, "bootloader", t->bootloader, e) < 0 ||
	    check_spl(vcek, 2, "TEE", t->tee, e) < 0 || check_spl(vcek, 3, "SNP", t->snp, e) < 0 ||
	    check_spl(vcek, 8, "microcode", t->microcode, e) < 0)
		return -1;
	if (t->has_fmc && check_spl(vcek, 9, "FMC", t->fmc, e) < 0)
		return -1;
	const ASN1_OCTET_STRING *hwid = find_extension(vcek, AMD_OID_HWID);
	if (!hwid || r->mask_chip_key)
		return 0;
	if (ASN1_STRING_length(hwid) != AMD_CHIP_ID_LEN ||
	    memcmp(ASN1_STRING_get0_data(hwid), r->chip_id, AMD_CHIP_ID_LEN) != 0)
		return error_set(e, "VCEK was issued for another chip (hwID differs from the "
				 "report's chip_id)");
	return 0;
}

/* Checks that cert's signature algorithm is RSASSA-PSS with SHA-384 and a 48-byte salt. */
static int check_pss_params(X509 *cert, const char *name, struct error *e)
{
	const X509_ALGOR *alg = NULL;
	X509_get0_signature(NULL, &alg, cert);
	const ASN1_OBJECT *oid = NULL;
	int ptype = 0;
	const void *pval = NULL;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if (OBJ_obj2nid(oid) != NID_rsassaPss || ptype != V_ASN1_SEQUENCE)
		return error_set(e, "%s is not signed with RSA-PSS", name);
	RSA_PSS_PARAMS *pss = ASN1_item_unpack(pval, ASN1_ITEM_rptr(RSA_PSS_PARAMS));
	int hash = pss && pss->hashAlgorithm ? OBJ_obj2nid(pss->hashAlgorithm->algorithm)
					     : NID_sha1;
	long salt = pss && pss->saltLength ? ASN1_INTEGER_get(pss->saltLength) : 20;
	RSA_PSS_PARAMS_free(pss);
	if (hash != NID_sha384 || salt != PSS_SALT_LEN)
		return error_set(e, "%s is signed with RSA-PSS %s, salt %ld (expected SHA-384, "
				 "salt %d)", name, OBJ_nid2sn(hash), salt, PSS_SALT_LEN);
	return 0;
}

static int check_signed_by(X509 *child, const char *child_name, X509 *parent,
			   const char *parent_name, struct error *e)
{
	if (X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) != 0) {
		if (child == parent)
			return error_set(e, "%s is not self-signed (issuer differs from subject)",
					 child_name);
		return error_set(e, "%s's issuer is not %s's subject", child_name, parent_name);
	}
	if (check_pss_params(child, child_name, e) < 0)
		return -1;
	EVP_PKEY *key = X509_get0_pubkey(parent);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return error_set(e, "%s's key is not an RSA key", parent_name);
	if (X509_verify(child, key) != 1)
		return error_set(e, "%s's signature does not verify with %s's key", child_name,
				 parent_name);
	return 0;
}

int sev_verify_chain(X509 *ark, X509 *ask, X509 *vcek, struct error *e)
{
	if (check_signed_by(ark, "ARK", ark, "ARK", e) < 0 ||
	    check_signed_by(ask, "ASK", ark, "ARK", e) < 0 ||
	    check_signed_by(vcek, "VCEK", ask, "ASK", e) < 0)
		return -1;
	return 0;
}
