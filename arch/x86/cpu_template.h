/* CPU templates: what a guest's CPUID (and some MSRs) may show, so that a fleet of different
 * hosts presents one CPU to its guests and guests can migrate between them.
 *
 *   --cpu-template host         KVM's CPUID as it is (the default)
 *   --cpu-template epyc-milan   Zen 3 feature set (hides AVX-512, GFNI, LA57, Zen 4/5 additions)
 *   --cpu-template epyc-genoa   Zen 4 feature set (hides Zen 5 additions: AVX-VNNI, MOVDIRI, ...)
 *   --cpu-template epyc-turin   Zen 5 feature set (hides features newer than Zen 5)
 *   --cpu-template FILE.json    Firecracker's custom CPU template format
 *
 * Every template is a list of modifiers: for a CPUID (leaf, subleaf, register) or an MSR, the new
 * value is (old & keep) | set. A Firecracker bitmap "0b...01x..." (most significant bit first)
 * means: '0' clear, '1' set, 'x' keep. The built-in EPYC templates keep only the features of their
 * generation in the feature registers they list (docs/epyc.md has the lists) and report the CPU
 * signature (family/model/stepping) of that generation. Templates apply to the VM-wide CPUID
 * before per-vCPU normalization, so topology, the hypervisor bit and x2APIC stay Ember's. */
#ifndef EMBER_X86_CPU_TEMPLATE_H
#define EMBER_X86_CPU_TEMPLATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"

enum cpuid_reg { CPUID_REG_EAX, CPUID_REG_EBX, CPUID_REG_ECX, CPUID_REG_EDX };

struct cpu_template_cpuid {
	uint32_t leaf, subleaf;
	uint32_t flags;          /* KVM_CPUID_FLAG_* of an entry the template has to add */
	enum cpuid_reg reg;
	uint32_t keep, set;      /* new = (old & keep) | set */
	uint32_t expect;         /* bits the template expects the host to offer (for warnings) */
};

struct cpu_template_msr {
	uint32_t index;
	uint64_t keep, set;
};

#define CPU_TEMPLATE_MAX_KVM_CAPS 32

struct cpu_template {
	char name[64];            /* "host", "epyc-milan", or the file name */
	unsigned ncpuid, nmsr;
	struct cpu_template_cpuid *cpuid;
	struct cpu_template_msr *msr;
	unsigned nkvm_caps;
	int kvm_caps[CPU_TEMPLATE_MAX_KVM_CAPS]; /* KVM capabilities the template requires */
	bool amd_only;            /* built-in EPYC templates: refuse other vendors */
};

/* "host", a built-in name, or a path to a Firecracker JSON template. */
int cpu_template_load(const char *name_or_path, struct cpu_template *t, struct error *e);
/* Parses Firecracker's custom CPU template JSON; `origin` names it in errors. */
int cpu_template_parse_json(const char *text, const char *origin, struct cpu_template *t,
			    struct error *e);
void cpu_template_free(struct cpu_template *t);

/* NULL-terminated list of the built-in names (without "host"). */
const char *const *cpu_template_builtin_names(void);

/* Checks the host side: the vendor (built-ins are AMD-only) and required KVM capabilities. */
int cpu_template_check_host(const struct cpu_template *t, const struct kvm_cpuid2 *supported,
			    int kvm_fd, struct error *e);

/* Applies the CPUID modifiers to `c` (room for CPUID_MAX_ENTRIES entries). A modifier for an
 * entry `c` lacks adds the entry only if it sets bits. */
int cpu_template_apply_cpuid(const struct cpu_template *t, struct kvm_cpuid2 *c, struct error *e);

/* Counts the bits the template expects that `supported` lacks; describes them in buf
 * ("7.0 EBX 0x00010000, ..."). 0: the host offers everything the template shows. */
unsigned cpu_template_missing(const struct cpu_template *t, const struct kvm_cpuid2 *supported,
			      char *buf, size_t size);

/* Applies the MSR modifiers to one vCPU (after its MSRs have their boot values). */
int cpu_template_apply_msrs(const struct cpu_template *t, int vcpu_fd, struct error *e);

#endif
