/* The SNP CPUID page (SEV-SNP ABI spec, "CPUID Reporting"): the CPUID values the guest will
 * trust, which the PSP checks against what the hardware allows during SNP_LAUNCH_UPDATE. Its
 * contents are not part of the launch digest (a CPUID page is measured as zeros), but a guest
 * whose page the PSP rejects never launches. */
#ifndef EMBER_SEV_CPUID_PAGE_H
#define EMBER_SEV_CPUID_PAGE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"

#define SEV_CPUID_PAGE_SIZE 4096
#define SEV_CPUID_PAGE_MAX_ENTRIES 64
#define SEV_CPUID_ENTRY_SIZE 48  /* eax_in, ecx_in, xcr0_in, xss_in, eax..edx, reserved */
#define SEV_CPUID_TABLE_HEADER 16 /* count, reserved */

/* Fills page from the vCPU's CPUID entries (KVM's struct, as set with KVM_SET_CPUID2), leaving
 * out all-zero entries (the guest reads a missing in-range leaf as zeros). Leaf 0xD sub-leaves 0
 * and 1 depend on XCR0: they are described for XCR0 = x87 (the reset value). Fails when there
 * are more entries than the page holds. */
int sev_cpuid_page_build(uint8_t page[SEV_CPUID_PAGE_SIZE], const struct kvm_cpuid_entry2 *entries,
			 size_t n, struct error *e);

/* After the PSP rejected a CPUID page it writes back the values it would accept: describes the
 * first entry where `fixed` differs from `sent` ("CPUID 0x80000008.0: ebx 0x... -> 0x..."), into
 * out. Returns 0 when they differ, -1 when they are identical. */
int sev_cpuid_page_diff(const uint8_t sent[SEV_CPUID_PAGE_SIZE],
			const uint8_t fixed[SEV_CPUID_PAGE_SIZE], char *out, size_t out_len);

#endif
