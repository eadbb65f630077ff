/* A fake KVM and PSP behind struct sev_kvm_ops, for the launch tests. It records every call as a
 * line of text (host addresses shown as "name+0xoffset" of the buffers the test registered), keeps
 * the state the real kernel keeps (memslots, private/shared attributes, vCPU registers), and
 * measures what it is fed the way the firmware does, with its own code: SHA-256 over
 * LAUNCH_UPDATE_DATA bytes and VMSAs, or the SNP PAGE_INFO chain (SNP ABI spec,
 * SNP_LAUNCH_UPDATE). Its VMSAs come from the vCPU registers the way KVM's sev_es_sync_vmsa
 * builds them. So a test can check that what the launch handed over is what sev_digest computes.
 * Failures can be injected: a firmware error on the n-th use of a command, an errno on an ioctl. */
#ifndef EMBER_SEV_FAKE_KVM_H
#define EMBER_SEV_FAKE_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sev_kvm_ops.h"
#include "sev_vmsa.h"

#define FAKE_LOG_MAX 1024
#define FAKE_LOG_LINE 192
#define FAKE_MAX_BUFFERS 8
#define FAKE_MAX_SLOTS 8
#define FAKE_MAX_VCPUS 8
#define FAKE_SEV_FD 100
#define FAKE_GMEM_FD_BASE 200
#define FAKE_VM_FD 30
#define FAKE_VCPU_FD_BASE 300

/* The TIK and nonce the fake PSP uses for LAUNCH_MEASURE, and the version it reports. */
#define FAKE_API_MAJOR 1
#define FAKE_API_MINOR 55
#define FAKE_BUILD 21
extern const uint8_t fake_tik[16];
extern const uint8_t fake_nonce[16];

struct fake_buffer {
	const char *name;
	const uint8_t *base;
	uint64_t size;
};

struct fake_slot {
	uint32_t slot;
	uint64_t gpa, size;
	uint8_t *host;
	int gmem_fd; /* -1: not private-capable */
	bool *private_pages;
};

/* The x87/SSE state as KVM keeps it: the raw legacy XSAVE area sev_es_sync_vmsa reads.
 * KVM_SET_FPU writes FCW but never MXCSR; KVM_SET_XSAVE writes them for the features xstate_bv
 * marks in use. A new vCPU's raw MXCSR is whatever KVM's fpstate set-up left (0x1f80 today):
 * the fake starts it at 0, so only a launch that sets it explicitly measures right. */
struct fake_vcpu {
	bool sregs_set, regs_set, xcrs_set, dbg_set, pat_set;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint16_t fcw;
	uint32_t mxcsr;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dbg;
	uint64_t pat;
};

struct fake_kvm {
	/* What the host offers (tests change these before running). */
	unsigned long vm_type;	  /* the VM's KVM_CREATE_VM type (sev_launch_vm_type) */
	int vm_types;		  /* KVM_CAP_VM_TYPES */
	int xsave2_size;	  /* KVM_CAP_XSAVE2 */
	int mem_attributes;	  /* KVM_CAP_MEMORY_ATTRIBUTES on the VM */
	int guest_memfd;	  /* KVM_CAP_GUEST_MEMFD */
	int exit_hypercall;	  /* KVM_CAP_EXIT_HYPERCALL mask */
	uint64_t vmsa_features;	  /* KVM_X86_SEV_VMSA_FEATURES */
	int kvm_amd[4];		  /* sev, sev_es, sev_snp, npt: 1, 0, -1 absent */
	int open_sev_errno;	  /* nonzero: /dev/sev does not open */
	unsigned n_vcpus;	  /* vCPUs the VM has (KVM_CREATE_VCPU adds one) */
	unsigned max_pages_per_update; /* SNP_LAUNCH_UPDATE takes at most this many (0: all) */
	unsigned eagain_updates;       /* the first N SNP_LAUNCH_UPDATE calls return EAGAIN */

	/* Injected failures. */
	uint32_t fail_cmd;	 /* KVM_SEV_* id to fail, or ~0u */
	unsigned fail_on_nth;	 /* fail its n-th use (1 = first) */
	uint32_t fail_fw_error;	 /* firmware error to report (0: only errno) */
	int fail_errno;
	unsigned long fail_ioctl; /* another ioctl to fail with fail_errno, or 0 */
	uint32_t reject_cpuid_function; /* the PSP corrects this CPUID leaf's ebx, or ~0u */

	/* What happened. */
	char log[FAKE_LOG_MAX][FAKE_LOG_LINE];
	unsigned n_log;
	struct fake_buffer buffers[FAKE_MAX_BUFFERS];
	unsigned n_buffers;
	struct fake_slot slots[FAKE_MAX_SLOTS];
	unsigned n_slots;
	struct fake_vcpu vcpus[FAKE_MAX_VCPUS];
	unsigned cmd_uses[256];
	unsigned gmem_created;
	bool sev_open, initialized, started, finished;
	unsigned sev_type;	       /* 0 SEV/SEV-ES (SHA-256), 1 SNP */
	uint64_t init_vmsa_features;   /* from INIT2 */
	uint64_t hypercall_exits;      /* from KVM_ENABLE_CAP */
	uint64_t snp_policy;
	uint32_t sev_policy;
	EVP_MD_CTX *sha256;	       /* SEV / SEV-ES running measurement */
	uint8_t sev_digest[32];	       /* SEV / SEV-ES: at LAUNCH_MEASURE */
	uint8_t snp_ld[48];	       /* SNP: the launch digest so far */
	uint8_t vmsa_built[FAKE_MAX_VCPUS][SEV_VMSA_SIZE]; /* the VMSAs the fake measured */
	unsigned vmsas_measured;
	uint64_t pages_measured;
	uint64_t bytes_measured;
	unsigned discards_private, discards_shared;
	unsigned secrets_injected;
};

/* A host that has everything (SNP-capable EPYC, Linux 6.11+). */
void fake_kvm_init(struct fake_kvm *f);
void fake_kvm_free(struct fake_kvm *f);
struct sev_kvm_ops fake_kvm_ops(struct fake_kvm *f);

/* Names a host buffer so that log lines show addresses inside it as "name+0x...". A memslot
 * whose host memory has no name yet is named "slotN" when it is added. */
void fake_kvm_name_buffer(struct fake_kvm *f, const char *name, const void *base, uint64_t size);

/* Index of the first log line starting with prefix at or after `from`, or -1. */
int fake_kvm_find(const struct fake_kvm *f, const char *prefix, unsigned from);
/* How many log lines start with prefix. */
unsigned fake_kvm_count(const struct fake_kvm *f, const char *prefix);
/* Is the page at gpa private (attribute set, in a guest_memfd slot)? */
bool fake_kvm_is_private(const struct fake_kvm *f, uint64_t gpa);

/* Builds the VMSA KVM would measure for vCPU i from its registers (sev_es_sync_vmsa). */
void fake_kvm_vmsa_from_vcpu(const struct fake_kvm *f, unsigned i, uint8_t out[SEV_VMSA_SIZE]);

#endif
