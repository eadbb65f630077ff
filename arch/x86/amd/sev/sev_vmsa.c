#include "sev_vmsa.h"

#include <stdbool.h>
#include <strings.h>
#include <string.h>

#include "sev_bytes.h"

/* VMCB segment attributes: the descriptor's access byte in bits 0-7, G/DB/L/AVL in bits 8-11. */
#define ATTR_DATA_RW 0x93   /* present, data, read/write, accessed */
#define ATTR_CODE_RX 0x9b   /* present, code, read/exec, accessed */
#define ATTR_LDT 0x82	    /* present, LDT */
#define ATTR_TSS_BUSY 0x8b  /* present, 32-bit busy TSS */

/* Reset values (APM vol. 2 "Processor initialization state"), as KVM/QEMU load them. */
#define RESET_CS_SELECTOR 0xf000
#define RESET_LIMIT 0xffff
#define RESET_CR0 0x10		    /* ET */
#define RESET_CR4 0x40		    /* MCE: QEMU sets it for a vCPU that advertises MCE */
#define RESET_EFER 0x1000	    /* SVME: required for an SEV-ES guest's VMSA */
#define RESET_DR6 0xffff0ff0
#define RESET_DR7 0x400
#define RESET_RFLAGS 0x2
#define RESET_G_PAT 0x0007040600070406ull
#define RESET_XCR0 0x1
#define RESET_MXCSR 0x1f80
#define RESET_X87_FCW 0x37f

static void put_segment(uint8_t *page, enum sev_vmsa_offset at, uint16_t selector,
			uint16_t attrib, uint32_t limit, uint64_t base)
{
	sev_put_le16(page + at, selector);
	sev_put_le16(page + at + 2, attrib);
	sev_put_le32(page + at + 4, limit);
	sev_put_le64(page + at + 8, base);
}

void sev_vmsa_build(uint8_t page[SEV_VMSA_SIZE], uint32_t eip, uint32_t cpuid_sig,
		    uint64_t sev_features)
{
	memset(page, 0, SEV_VMSA_SIZE);
	put_segment(page, SEV_VMSA_ES, 0, ATTR_DATA_RW, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_CS, RESET_CS_SELECTOR, ATTR_CODE_RX, RESET_LIMIT,
		    eip & 0xffff0000u);
	put_segment(page, SEV_VMSA_SS, 0, ATTR_DATA_RW, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_DS, 0, ATTR_DATA_RW, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_FS, 0, ATTR_DATA_RW, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_GS, 0, ATTR_DATA_RW, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_GDTR, 0, 0, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_LDTR, 0, ATTR_LDT, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_IDTR, 0, 0, RESET_LIMIT, 0);
	put_segment(page, SEV_VMSA_TR, 0, ATTR_TSS_BUSY, RESET_LIMIT, 0);

	sev_put_le64(page + SEV_VMSA_EFER, RESET_EFER);
	sev_put_le64(page + SEV_VMSA_CR4, RESET_CR4);
	sev_put_le64(page + SEV_VMSA_CR0, RESET_CR0);
	sev_put_le64(page + SEV_VMSA_DR7, RESET_DR7);
	sev_put_le64(page + SEV_VMSA_DR6, RESET_DR6);
	sev_put_le64(page + SEV_VMSA_RFLAGS, RESET_RFLAGS);
	sev_put_le64(page + SEV_VMSA_RIP, eip & 0xffffu);
	sev_put_le64(page + SEV_VMSA_G_PAT, RESET_G_PAT);
	sev_put_le64(page + SEV_VMSA_RDX, cpuid_sig); /* EDX holds the CPU signature at reset */
	sev_put_le64(page + SEV_VMSA_SEV_FEATURES, sev_features);
	sev_put_le64(page + SEV_VMSA_XCR0, RESET_XCR0);
	sev_put_le32(page + SEV_VMSA_MXCSR, RESET_MXCSR);
	sev_put_le16(page + SEV_VMSA_X87_FCW, RESET_X87_FCW);
}

uint32_t sev_cpuid_signature(unsigned family, unsigned model, unsigned stepping)
{
	uint32_t sig = stepping & 0xf;
	sig |= (model & 0xf) << 4 | ((model >> 4) & 0xf) << 16;
	if (family >= 0xf)
		sig |= 0xfu << 8 | ((family - 0xf) & 0xff) << 20;
	else
		sig |= (family & 0xf) << 8;
	return sig;
}

/* QEMU's AMD EPYC CPU models: display family, model, stepping (the same for all -vN). */
static const struct {
	const char *name;
	unsigned family, model, stepping;
	bool versioned;
} epyc_models[] = {
	{ "EPYC", 23, 1, 2, true },
	{ "EPYC-Rome", 23, 49, 0, true },
	{ "EPYC-Milan", 25, 1, 1, true },
	{ "EPYC-Genoa", 25, 17, 0, true },
};

/* "EPYC-v4" matches "EPYC" with a version suffix. */
static bool name_matches(const char *name, const char *base, bool versioned)
{
	size_t n = strlen(base);
	if (strncasecmp(name, base, n) != 0)
		return false;
	if (name[n] == '\0')
		return true;
	if (!versioned || (name[n] != '-') || (name[n + 1] != 'v' && name[n + 1] != 'V'))
		return false;
	const char *digits = name + n + 2;
	if (*digits < '1' || *digits > '9')
		return false;
	while (*digits >= '0' && *digits <= '9')
		digits++;
	return *digits == '\0';
}

int sev_vcpu_model_find(const char *name, uint32_t *cpuid_sig, struct error *e)
{
	for (size_t i = 0; i < sizeof(epyc_models) / sizeof(epyc_models[0]); i++) {
		if (name_matches(name, epyc_models[i].name, epyc_models[i].versioned)) {
			*cpuid_sig = sev_cpuid_signature(epyc_models[i].family,
							 epyc_models[i].model,
							 epyc_models[i].stepping);
			return 0;
		}
	}
	return error_set(e, "unknown vCPU type '%s' (known: EPYC[-vN], EPYC-Rome[-vN], "
			 "EPYC-Milan[-vN], EPYC-Genoa[-vN]; or give --vcpu-sig)", name);
}
