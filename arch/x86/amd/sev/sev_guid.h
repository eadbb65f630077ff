/* GUIDs of OVMF's SEV footer table and of the kernel-hashes table, stored the way they appear in
 * the image: the first three fields little-endian, the last eight bytes as written. */
#ifndef EMBER_SEV_GUID_H
#define EMBER_SEV_GUID_H

#include <stdint.h>
#include <string.h>

struct sev_guid {
	uint8_t b[16];
};

#define SEV_GUID(a, b_, c, d0, d1, d2, d3, d4, d5, d6, d7)                                     \
	{ { (uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16), (uint8_t)((a) >> 24),     \
	    (uint8_t)(b_), (uint8_t)((b_) >> 8), (uint8_t)(c), (uint8_t)((c) >> 8), d0, d1, d2, \
	    d3, d4, d5, d6, d7 } }

/* OvmfPkg ResetVector: the GUIDed table that ends just before the last 0x20 bytes of the image. */
#define SEV_GUID_OVMF_TABLE_FOOTER                                                             \
	SEV_GUID(0x96b582de, 0x1fb2, 0x45f7, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d)
/* Where QEMU places the kernel-hashes table (base, size). */
#define SEV_GUID_HASH_TABLE_RV                                                                 \
	SEV_GUID(0x7255371f, 0x3a3b, 0x4b04, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54)
/* The SEV-ES AP reset vector (a 32-bit address: CS base from its top, IP from its low 16 bits). */
#define SEV_GUID_ES_RESET_BLOCK                                                                \
	SEV_GUID(0x00f771de, 0x1a7e, 0x4fcb, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e)
/* Where the guest expects an SEV / SEV-ES LAUNCH_SECRET (base, size). */
#define SEV_GUID_SECRET_BLOCK                                                                  \
	SEV_GUID(0x4c2eb361, 0x7d9b, 0x4cc3, 0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94)
/* Offset from the end of the image to the "ASEV" SEV metadata (the SNP pre-validated ranges). */
#define SEV_GUID_OVMF_SEV_METADATA                                                             \
	SEV_GUID(0xdc886566, 0x984a, 0x4798, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc)

/* The kernel-hashes table (OvmfPkg/AmdSev BlobVerifierLibSevHashes) and its three entries. */
#define SEV_GUID_HASH_TABLE                                                                    \
	SEV_GUID(0x9438d606, 0x4f22, 0x4cc9, 0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21)
#define SEV_GUID_HASH_CMDLINE                                                                  \
	SEV_GUID(0x97d02dd8, 0xbd20, 0x4c94, 0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a)
#define SEV_GUID_HASH_INITRD                                                                   \
	SEV_GUID(0x44baf731, 0x3a2f, 0x4bd7, 0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d)
#define SEV_GUID_HASH_KERNEL                                                                   \
	SEV_GUID(0x4de79437, 0xabd2, 0x427f, 0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b)

static inline int sev_guid_equal(const uint8_t *bytes, struct sev_guid g)
{
	return memcmp(bytes, g.b, sizeof(g.b)) == 0;
}

#endif
