/* The confidential-VM launch: walks the launch plan (sev_launch_plan.h) in order and hands every
 * region to the PSP through KVM, so that what the firmware measures is, region for region and
 * byte for byte, what sev_digest_compute hashed.
 *
 *   SEV, SEV-ES: KVM_SEV_INIT2, LAUNCH_START, LAUNCH_UPDATE_DATA per region, (SEV-ES) the vCPUs'
 *                registers from the plan's VMSAs then LAUNCH_UPDATE_VMSA, LAUNCH_MEASURE,
 *                optionally LAUNCH_SECRET, LAUNCH_FINISH.
 *   SEV-SNP:     KVM_SEV_INIT2, guest_memfd-backed private memory, SNP_LAUNCH_START,
 *                SNP_LAUNCH_UPDATE per region with its page type, the vCPUs' registers from the
 *                plan's VMSAs, SNP_LAUNCH_FINISH (where KVM measures the VMSAs).
 *
 * Everything goes through a struct sev_kvm_ops, so the same code runs against real KVM or a fake.
 * Usage, in this order: sev_launch_init (after KVM_CREATE_VM with sev_launch_vm_type, before the
 * vCPUs exist), sev_launch_add_memory for each RAM range, create the vCPUs, sev_launch_load,
 * sev_launch_measure (SEV/SEV-ES), sev_launch_inject_secret (optional), sev_launch_finish. */
#ifndef EMBER_SEV_LAUNCH_H
#define EMBER_SEV_LAUNCH_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_kvm_ops.h"
#include "sev_launch_plan.h"

#define SEV_LAUNCH_MAX_SLOTS 8
#define SEV_LAUNCH_MEASURE_MAX 256 /* the LAUNCH_MEASURE blob is 48 bytes today */
#define SEV_HOST_DATA_LEN 32

/* Guest policies (SEV API spec "Guest Policy"; SNP ABI spec "Guest Policy"). */
#define SEV_POLICY_NODBG (1ull << 0)
#define SEV_POLICY_ES (1ull << 2)
#define SEV_SNP_POLICY_SMT (1ull << 16)
#define SEV_SNP_POLICY_RESERVED_1 (1ull << 17) /* must be set */
#define SEV_POLICY_DEFAULT_SEV SEV_POLICY_NODBG
#define SEV_POLICY_DEFAULT_SEV_ES (SEV_POLICY_NODBG | SEV_POLICY_ES)
#define SEV_POLICY_DEFAULT_SNP (SEV_SNP_POLICY_SMT | SEV_SNP_POLICY_RESERVED_1)

struct sev_launch_config {
	enum sev_mode mode;
	uint64_t policy;
	/* SEV / SEV-ES: the guest owner's PDH certificate and session blob for LAUNCH_START
	 * (`sevctl session`); without them the PSP creates a launch no guest owner can check. */
	const uint8_t *owner_pdh;
	uint32_t owner_pdh_len;
	const uint8_t *owner_session;
	uint32_t owner_session_len;
	uint32_t cpuid_sig; /* SEV: the BSP's RDX at reset (SEV-ES / SNP read it from the VMSAs) */
	/* SNP: the vCPUs' CPUID (as given to KVM_SET_CPUID2), written to the plan's CPUID page. */
	const struct kvm_cpuid_entry2 *cpuid;
	size_t n_cpuid;
	uint8_t host_data[SEV_HOST_DATA_LEN]; /* SNP: copied into every attestation report */
};

/* A range of guest RAM. For SNP its private pages live in gmem_fd (a guest_memfd). */
struct sev_mem_slot {
	uint32_t slot;
	uint64_t gpa, size;
	uint8_t *host;
	int gmem_fd;
};

enum sev_launch_stage {
	SEV_STAGE_NEW,
	SEV_STAGE_INITIALIZED, /* INIT2 done: memory may be added, vCPUs created */
	SEV_STAGE_LOADED,      /* every plan region and VMSA handed to the PSP */
	SEV_STAGE_MEASURED,    /* SEV/SEV-ES: LAUNCH_MEASURE done */
	SEV_STAGE_FINISHED,    /* the guest may run */
	SEV_STAGE_FAILED,      /* a step failed: the VM must be torn down */
};

struct sev_launch {
	struct sev_kvm_ops ops;
	const struct sev_launch_plan *plan; /* borrowed: outlives the launch */
	struct sev_launch_config cfg;
	enum sev_launch_stage stage;
	int sev_fd;
	uint64_t vmsa_features; /* what KVM_SEV_INIT2 got (SNP: without SNPActive) */
	uint32_t handle;	/* SEV / SEV-ES: the PSP's guest handle from LAUNCH_START */
	struct sev_mem_slot slots[SEV_LAUNCH_MAX_SLOTS];
	unsigned n_slots;
	uint8_t measurement[SEV_LAUNCH_MEASURE_MAX]; /* SEV / SEV-ES: the LAUNCH_MEASURE blob */
	uint32_t measurement_len;
};

/* What the guest owner sends once the measurement checks out (SEV API spec, LAUNCH_SECRET). */
struct sev_launch_secret {
	const uint8_t *header; /* packet header */
	uint32_t header_len;
	const uint8_t *blob; /* the encrypted secret */
	uint32_t blob_len;
	uint64_t gpa; /* where the guest expects it, e.g. OVMF's SEV secret area */
};

/* KVM_CREATE_VM's type for a mode. */
unsigned long sev_launch_vm_type(enum sev_mode mode);
uint64_t sev_launch_default_policy(enum sev_mode mode);
/* Refuses a policy the mode cannot launch with (SEV-ES without the ES bit, SNP without its
 * must-be-one bit 17, an SEV policy wider than 32 bits), naming the bit. */
int sev_launch_policy_check(enum sev_mode mode, uint64_t policy, struct error *e);

/* Opens /dev/sev, checks the VM offers what the mode needs, issues KVM_SEV_INIT2 with the
 * SEV_FEATURES the plan's VMSAs carry and, for SNP, enables KVM_HC_MAP_GPA_RANGE exits. On
 * failure the launch is FAILED; sev_launch_destroy is still needed. */
int sev_launch_init(struct sev_launch *l, const struct sev_kvm_ops *ops,
		    const struct sev_launch_plan *plan, const struct sev_launch_config *cfg,
		    struct error *e);

/* Registers guest RAM [gpa, gpa+size) backed by host as memslot `slot`: SEV / SEV-ES as a plain
 * memslot plus KVM_MEMORY_ENCRYPT_REG_REGION, SNP with a guest_memfd and every page private. */
int sev_launch_add_memory(struct sev_launch *l, uint32_t slot, uint64_t gpa, uint64_t size,
			  void *host, struct error *e);

/* LAUNCH_START, then every plan region in plan order, then each vCPU's registers from its VMSA
 * (SEV: the BSP's reset state) and, for SEV-ES, LAUNCH_UPDATE_VMSA. nvcpus must match the plan. */
int sev_launch_load(struct sev_launch *l, unsigned nvcpus, struct error *e);

/* SEV / SEV-ES: LAUNCH_MEASURE into l->measurement (the guest owner compares it with
 * `ember sev measure --launch-blob`). */
int sev_launch_measure(struct sev_launch *l, struct error *e);

/* SEV / SEV-ES, after sev_launch_measure: LAUNCH_SECRET into guest memory at secret->gpa. */
int sev_launch_inject_secret(struct sev_launch *l, const struct sev_launch_secret *secret,
			     struct error *e);

/* LAUNCH_FINISH / SNP_LAUNCH_FINISH: afterwards the vCPUs may run. */
int sev_launch_finish(struct sev_launch *l, struct error *e);

/* Closes /dev/sev and the guest_memfds (safe after any failure, and on a zeroed struct). */
void sev_launch_destroy(struct sev_launch *l);

/* The slot holding all of [gpa, gpa+len), or NULL (also for len 0 or a wrapping range). */
struct sev_mem_slot *sev_launch_slot_for(struct sev_launch *l, uint64_t gpa, uint64_t len);

/* "LAUNCH_UPDATE_DATA", "SNP_LAUNCH_FINISH", ...: KVM's sub-command names without KVM_SEV_. */
const char *sev_launch_cmd_name(uint32_t id);

#endif
