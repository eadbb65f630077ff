#include "sev_cpuid_page.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sev_bytes.h"

#define XCR0_X87 1u

/* Entry layout: 0 eax_in, 4 ecx_in, 8 xcr0_in, 16 xss_in, 24 eax, 28 ebx, 32 ecx, 36 edx. */
enum { IN_EAX = 0, IN_ECX = 4, IN_XCR0 = 8, IN_XSS = 16, OUT_EAX = 24 };

static uint8_t *entry_at(uint8_t *page, size_t i)
{
	return page + SEV_CPUID_TABLE_HEADER + i * SEV_CPUID_ENTRY_SIZE;
}

/* A guest reads a leaf missing from the page as all zeros (within the ranges the page's leaves
 * 0, 0x40000000 and 0x80000000 declare), so all-zero entries need no room. */
static bool all_zero(const struct kvm_cpuid_entry2 *c)
{
	return !c->eax && !c->ebx && !c->ecx && !c->edx;
}

int sev_cpuid_page_build(uint8_t page[SEV_CPUID_PAGE_SIZE], const struct kvm_cpuid_entry2 *entries,
			 size_t n, struct error *e)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		kept += !all_zero(&entries[i]);
	if (kept > SEV_CPUID_PAGE_MAX_ENTRIES)
		return error_set(e, "the vCPU has %zu CPUID entries (not counting all-zero ones); an "
				 "SNP CPUID page holds %d: use a CPU template with fewer leaves", kept,
				 SEV_CPUID_PAGE_MAX_ENTRIES);
	memset(page, 0, SEV_CPUID_PAGE_SIZE);
	sev_put_le32(page, (uint32_t)kept);
	for (size_t i = 0, at = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *c = &entries[i];
		if (all_zero(c))
			continue;
		uint8_t *p = entry_at(page, at++);
		sev_put_le32(p + IN_EAX, c->function);
		sev_put_le32(p + IN_ECX, c->index);
		if (c->function == 0xd && c->index <= 1)
			sev_put_le64(p + IN_XCR0, XCR0_X87);
		sev_put_le32(p + OUT_EAX, c->eax);
		sev_put_le32(p + OUT_EAX + 4, c->ebx);
		sev_put_le32(p + OUT_EAX + 8, c->ecx);
		sev_put_le32(p + OUT_EAX + 12, c->edx);
	}
	return 0;
}

int sev_cpuid_page_diff(const uint8_t sent[SEV_CPUID_PAGE_SIZE],
			const uint8_t fixed[SEV_CPUID_PAGE_SIZE], char *out, size_t out_len)
{
	static const char *const regs[4] = { "eax", "ebx", "ecx", "edx" };
	uint32_t count = sev_get_le32(sent);
	if (count > SEV_CPUID_PAGE_MAX_ENTRIES)
		count = SEV_CPUID_PAGE_MAX_ENTRIES;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *a = sent + SEV_CPUID_TABLE_HEADER + i * SEV_CPUID_ENTRY_SIZE;
		const uint8_t *b = fixed + SEV_CPUID_TABLE_HEADER + i * SEV_CPUID_ENTRY_SIZE;
		for (int r = 0; r < 4; r++) {
			uint32_t want = sev_get_le32(a + OUT_EAX + 4 * r);
			uint32_t got = sev_get_le32(b + OUT_EAX + 4 * r);
			if (want != got) {
				snprintf(out, out_len, "CPUID 0x%x.%u: %s 0x%x -> 0x%x",
					 sev_get_le32(a + IN_EAX), sev_get_le32(a + IN_ECX),
					 regs[r], want, got);
				return 0;
			}
		}
	}
	if (memcmp(sent, fixed, SEV_CPUID_PAGE_SIZE) != 0) {
		snprintf(out, out_len, "the CPUID table header or inputs");
		return 0;
	}
	return -1;
}
