/* SNP attestation-report verification with OpenSSL: the report's ECDSA P-384 signature against
 * the VCEK, the VCEK's TCB/chip-id extensions against the report, and AMD's certificate chain
 * ARK (self-signed) -> ASK -> VCEK, all RSA-PSS with SHA-384 and a 48-byte salt. */
#ifndef EMBER_SEV_VERIFY_H
#define EMBER_SEV_VERIFY_H

#include <openssl/x509.h>

#include "../../../../vmm/error.h"
#include "sev_report.h"

/* Loads a certificate in PEM or DER (detected from the contents). */
int sev_cert_load(const char *path, X509 **cert, struct error *e);

/* Verifies the signature over bytes 0x000-0x29F of raw with the VCEK's P-384 key. */
int sev_verify_report_signature(const uint8_t raw[SEV_REPORT_SIZE], X509 *vcek,
				struct error *e);

/* Checks that the VCEK was issued for the report's REPORTED_TCB and CHIP_ID (AMD's VCEK
 * extensions 1.3.6.1.4.1.3704.1.3.x and .1.4); extensions the certificate lacks are skipped. */
int sev_verify_vcek_matches(const struct sev_report *r, X509 *vcek, struct error *e);

/* ARK self-signature, ARK -> ASK, ASK -> VCEK (issuer names and RSA-PSS/SHA-384 signatures). */
int sev_verify_chain(X509 *ark, X509 *ask, X509 *vcek, struct error *e);

#endif
