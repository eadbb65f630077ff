/* The KVM SEV / SEV-ES / SEV-SNP user-space ABI Ember's launch flow needs
 * (Documentation/virt/kvm/x86/amd-memory-encryption.rst, Documentation/virt/kvm/api.rst).
 * Debian 12's linux-libc-dev (6.1) predates SNP, KVM_SEV_INIT2, VM types and guest_memfd, so
 * Ember carries its own copy of the layouts, under its own names (sev_kvm_*, SEV_KVM_*) so it
 * can sit next to <linux/kvm.h> of any version. The _Static_asserts pin the ABI sizes. */
#ifndef EMBER_SEV_KVM_UAPI_H
#define EMBER_SEV_KVM_UAPI_H

#include <linux/ioctl.h>
#include <stddef.h>
#include <stdint.h>

#define SEV_KVMIO 0xAE

/* VM types for KVM_CREATE_VM (KVM_CAP_VM_TYPES lists the supported ones as a bit mask). */
#define SEV_KVM_X86_DEFAULT_VM 0
#define SEV_KVM_X86_SW_PROTECTED_VM 1
#define SEV_KVM_X86_SEV_VM 2
#define SEV_KVM_X86_SEV_ES_VM 3
#define SEV_KVM_X86_SNP_VM 4

/* Capabilities (KVM_CHECK_EXTENSION). */
#define SEV_KVM_CAP_USER_MEMORY2 231
#define SEV_KVM_CAP_MEMORY_ATTRIBUTES 233
#define SEV_KVM_CAP_GUEST_MEMFD 234
#define SEV_KVM_CAP_VM_TYPES 235

/* KVM_MEMORY_ENCRYPT_OP's sub-commands (enum sev_cmd_id). */
enum sev_kvm_cmd_id {
	SEV_KVM_SEV_INIT = 0,
	SEV_KVM_SEV_ES_INIT = 1,
	SEV_KVM_SEV_LAUNCH_START = 2,
	SEV_KVM_SEV_LAUNCH_UPDATE_DATA = 3,
	SEV_KVM_SEV_LAUNCH_UPDATE_VMSA = 4,
	SEV_KVM_SEV_LAUNCH_SECRET = 5,
	SEV_KVM_SEV_LAUNCH_MEASURE = 6,
	SEV_KVM_SEV_LAUNCH_FINISH = 7,
	SEV_KVM_SEV_GUEST_STATUS = 16,
	SEV_KVM_SEV_GET_ATTESTATION_REPORT = 20,
	SEV_KVM_SEV_INIT2 = 22,
	SEV_KVM_SEV_SNP_LAUNCH_START = 100,
	SEV_KVM_SEV_SNP_LAUNCH_UPDATE = 101,
	SEV_KVM_SEV_SNP_LAUNCH_FINISH = 102,
};

/* struct kvm_sev_cmd: the argument of KVM_MEMORY_ENCRYPT_OP. error gets the PSP's status. */
struct sev_kvm_cmd {
	uint32_t id;
	uint32_t pad0;
	uint64_t data; /* user address of the sub-command's struct */
	uint32_t error;
	uint32_t sev_fd; /* an open /dev/sev */
};

/* struct kvm_sev_init (KVM_SEV_INIT2, Linux 6.10+). */
struct sev_kvm_init {
	uint64_t vmsa_features; /* SEV_FEATURES for every VMSA: must match the measured VMSAs */
	uint32_t flags;
	uint16_t ghcb_version;
	uint16_t pad1;
	uint32_t pad2[8];
};

/* struct kvm_sev_launch_start. */
struct sev_kvm_launch_start {
	uint32_t handle;
	uint32_t policy;
	uint64_t dh_uaddr; /* guest owner's PDH certificate */
	uint32_t dh_len;
	uint32_t pad0;
	uint64_t session_uaddr; /* guest owner's session blob (wraps the TIK/TEK) */
	uint32_t session_len;
	uint32_t pad1;
};

/* struct kvm_sev_launch_update_data: uaddr and len 16-byte aligned. */
struct sev_kvm_launch_update_data {
	uint64_t uaddr;
	uint32_t len;
	uint32_t pad0;
};

/* struct kvm_sev_launch_measure: len 0 asks for the needed size. */
struct sev_kvm_launch_measure {
	uint64_t uaddr;
	uint32_t len;
	uint32_t pad0;
};

/* struct kvm_sev_launch_secret. */
struct sev_kvm_launch_secret {
	uint64_t hdr_uaddr;
	uint32_t hdr_len;
	uint32_t pad0;
	uint64_t guest_uaddr;
	uint32_t guest_len;
	uint32_t pad1;
	uint64_t trans_uaddr;
	uint32_t trans_len;
	uint32_t pad2;
};

/* struct kvm_sev_guest_status. */
struct sev_kvm_guest_status {
	uint32_t handle;
	uint32_t policy;
	uint32_t state;
};

/* struct kvm_sev_snp_launch_start. */
struct sev_kvm_snp_launch_start {
	uint64_t policy;
	uint8_t gosvw[16];
	uint16_t flags;
	uint8_t pad0[6];
	uint64_t pad1[4];
};

/* Page types for SNP_LAUNCH_UPDATE (same numbers as the SNP ABI's PAGE_INFO.PAGE_TYPE). */
#define SEV_KVM_SNP_PAGE_TYPE_NORMAL 0x1
#define SEV_KVM_SNP_PAGE_TYPE_ZERO 0x3
#define SEV_KVM_SNP_PAGE_TYPE_UNMEASURED 0x4
#define SEV_KVM_SNP_PAGE_TYPE_SECRETS 0x5
#define SEV_KVM_SNP_PAGE_TYPE_CPUID 0x6

/* struct kvm_sev_snp_launch_update: the range must be private guest_memfd memory. On return KVM
 * has advanced gfn_start/uaddr and shrunk len by what it processed. */
struct sev_kvm_snp_launch_update {
	uint64_t gfn_start;
	uint64_t uaddr;
	uint64_t len;
	uint8_t type;
	uint8_t pad0;
	uint16_t flags;
	uint32_t pad1;
	uint64_t pad2[4];
};

#define SEV_KVM_SNP_ID_BLOCK_SIZE 96
#define SEV_KVM_SNP_ID_AUTH_SIZE 4096
#define SEV_KVM_SNP_FINISH_DATA_SIZE 32

/* struct kvm_sev_snp_launch_finish: KVM measures the vCPUs' VMSAs here (SNP_LAUNCH_UPDATE of
 * type VMSA at GPA 0xFFFFFFFFF000), then finishes the launch. */
struct sev_kvm_snp_launch_finish {
	uint64_t id_block_uaddr;
	uint64_t id_auth_uaddr;
	uint8_t id_block_en;
	uint8_t auth_key_en;
	uint8_t vcek_disabled;
	uint8_t host_data[SEV_KVM_SNP_FINISH_DATA_SIZE];
	uint8_t pad0[3];
	uint16_t flags;
	uint64_t pad1[4];
};

/* guest_memfd and private memory (Linux 6.8+). */
struct sev_kvm_create_guest_memfd {
	uint64_t size;
	uint64_t flags;
	uint64_t reserved[6];
};

struct sev_kvm_userspace_memory_region2 {
	uint32_t slot;
	uint32_t flags; /* SEV_KVM_MEM_GUEST_MEMFD */
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t guest_memfd_offset;
	uint32_t guest_memfd;
	uint32_t pad1;
	uint64_t pad2[14];
};

struct sev_kvm_memory_attributes {
	uint64_t address;
	uint64_t size;
	uint64_t attributes; /* SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE */
	uint64_t flags;
};

#define SEV_KVM_MEM_GUEST_MEMFD (1u << 2)
#define SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE (1ull << 3)

/* KVM_GET_DEVICE_ATTR on /dev/kvm: the SEV_FEATURES bits KVM_SEV_INIT2 accepts. */
#define SEV_KVM_X86_GRP_SEV 1
#define SEV_KVM_X86_SEV_VMSA_FEATURES 0

/* ioctls. KVM_MEMORY_ENCRYPT_OP's declared argument type is unsigned long: the number encodes
 * that size, while the real argument is a struct sev_kvm_cmd. */
#define SEV_KVM_MEMORY_ENCRYPT_OP _IOWR(SEV_KVMIO, 0xba, unsigned long)
#define SEV_KVM_SET_USER_MEMORY_REGION2 \
	_IOW(SEV_KVMIO, 0x49, struct sev_kvm_userspace_memory_region2)
#define SEV_KVM_SET_MEMORY_ATTRIBUTES _IOW(SEV_KVMIO, 0xd2, struct sev_kvm_memory_attributes)
#define SEV_KVM_CREATE_GUEST_MEMFD _IOWR(SEV_KVMIO, 0xd4, struct sev_kvm_create_guest_memfd)

_Static_assert(sizeof(struct sev_kvm_cmd) == 24, "kvm_sev_cmd");
_Static_assert(sizeof(struct sev_kvm_init) == 48, "kvm_sev_init");
_Static_assert(sizeof(struct sev_kvm_launch_start) == 40, "kvm_sev_launch_start");
_Static_assert(sizeof(struct sev_kvm_launch_update_data) == 16, "kvm_sev_launch_update_data");
_Static_assert(sizeof(struct sev_kvm_launch_measure) == 16, "kvm_sev_launch_measure");
_Static_assert(sizeof(struct sev_kvm_launch_secret) == 48, "kvm_sev_launch_secret");
_Static_assert(sizeof(struct sev_kvm_guest_status) == 12, "kvm_sev_guest_status");
_Static_assert(sizeof(struct sev_kvm_snp_launch_start) == 64, "kvm_sev_snp_launch_start");
_Static_assert(sizeof(struct sev_kvm_snp_launch_update) == 64, "kvm_sev_snp_launch_update");
_Static_assert(sizeof(struct sev_kvm_snp_launch_finish) == 88, "kvm_sev_snp_launch_finish");
_Static_assert(offsetof(struct sev_kvm_snp_launch_finish, host_data) == 19, "host_data");
_Static_assert(offsetof(struct sev_kvm_snp_launch_finish, flags) == 54, "flags");
_Static_assert(sizeof(struct sev_kvm_create_guest_memfd) == 64, "kvm_create_guest_memfd");
_Static_assert(sizeof(struct sev_kvm_userspace_memory_region2) == 160,
	       "kvm_userspace_memory_region2");
_Static_assert(sizeof(struct sev_kvm_memory_attributes) == 32, "kvm_memory_attributes");

#endif
