/* The kernel-hashes table for measured direct boot (OvmfPkg/AmdSev): SHA-256 of the command line,
 * initrd and kernel, which OVMF checks before it runs them. Its bytes become part of the launch
 * digest, so the guest owner's expected digest pins the kernel, initrd and command line. */
#ifndef EMBER_SEV_HASHES_H
#define EMBER_SEV_HASHES_H

#include <stddef.h>
#include <stdint.h>

#define SEV_HASH_TABLE_LEN 168	      /* header GUID+len, then 3 entries of GUID+len+SHA-256 */
#define SEV_HASH_TABLE_PADDED_LEN 176 /* padded to 16 bytes: LAUNCH_UPDATE_DATA's granule */

/* Builds the padded table. cmdline is hashed with its terminating NUL, as the VMM passes it to
 * the guest (NULL means an empty command line: the hash of a lone NUL). The kernel is hashed as
 * the whole file. */
void sev_hashes_build(uint8_t table[SEV_HASH_TABLE_PADDED_LEN], const uint8_t *kernel,
		      size_t kernel_len, const uint8_t *initrd, size_t initrd_len,
		      const char *cmdline);

#endif
