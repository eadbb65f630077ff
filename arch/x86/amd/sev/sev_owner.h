/* The guest owner's side of a confidential launch, exchanged as files (docs/sev.md):
 *
 *   --sev-dh-cert, --sev-session  the owner's PDH certificate and launch session blob for
 *                                 LAUNCH_START (SEV / SEV-ES), base64 as `sevctl session` writes
 *                                 them: with them the owner knows the keys (TIK, TEK) that sign
 *                                 the measurement and wrap the secret;
 *   --sev-measurement-out         what the owner checks before trusting the guest: "key: value"
 *                                 lines named after `ember sev measure`'s flags;
 *   --sev-secret                  the owner's answer (LAUNCH_SECRET's packet header and secret,
 *                                 base64, optionally the guest address). It is read only once the
 *                                 measurement is written, so with a FIFO the launch waits for the
 *                                 owner to check the measurement and answer. */
#ifndef EMBER_SEV_OWNER_H
#define EMBER_SEV_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_launch_plan.h"

#define SEV_OWNER_SECRET_MAX (64u << 10) /* far above OVMF's 4 KiB secret area */
#define SEV_OWNER_FILE_MAX (1u << 20)

struct sev_owner_measurement {
	enum sev_mode mode;
	uint64_t policy;
	unsigned vcpus;
	uint32_t vcpu_sig;	 /* CPUID(1).EAX: `ember sev measure --vcpu-sig` */
	uint64_t guest_features; /* the VMSAs' SEV_FEATURES */
	bool have_api;		 /* the PSP's PLATFORM_STATUS answered */
	uint8_t api_major, api_minor, build;
	const uint8_t *blob;	 /* SEV / SEV-ES: the LAUNCH_MEASURE blob (HMAC || nonce) */
	uint32_t blob_len;
	const uint8_t *digest;	 /* the digest this host computed from the launch plan */
	size_t digest_len;
};

/* Writes m to path (created or truncated). */
int sev_owner_write_measurement(const char *path, const struct sev_owner_measurement *m,
				struct error *e);

struct sev_owner_secret {
	uint8_t *header;
	size_t header_len;
	uint8_t *blob;
	size_t blob_len;
	bool has_gpa; /* else: OVMF's SEV secret area */
	uint64_t gpa;
};

/* Reads "header: BASE64", "secret: BASE64" and optionally "gpa: ADDRESS" lines ('#' starts a
 * comment). Each problem is named with the line it is on. */
int sev_owner_read_secret(const char *path, struct sev_owner_secret *s, struct error *e);
void sev_owner_secret_free(struct sev_owner_secret *s);

/* A file holding base64 text (line breaks allowed), decoded into *data (malloc'd). */
int sev_owner_read_base64(const char *path, uint8_t **data, size_t *len, struct error *e);

#endif
