/* A small confidential VM for the launch tests: an OVMF-like image built here (footer table
 * with the kernel-hashes area, the SEV-ES AP reset block and SNP metadata laid out like the
 * AmdSev build's), its launch plan, 16 MiB of "RAM" and the firmware's memory, all run against
 * the fake KVM. */
#ifndef EMBER_SEV_FAKE_VM_H
#define EMBER_SEV_FAKE_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sev_fake_kvm.h"
#include "sev_launch.h"
#include "sev_launch_plan.h"

#define FAKE_RAM_SIZE (16ull << 20)
#define FAKE_FW_PAGES 4
#define FAKE_FW_SIZE (FAKE_FW_PAGES * 4096ull)
#define FAKE_HASH_TABLE_GPA 0x810c00u
#define FAKE_AP_RESET_EIP 0xfffff000u
#define FAKE_SECRET_GPA 0x80d000u /* the SEV secret area (the SNP_SECRETS page for SNP) */
#define FAKE_SECRET_SIZE 0x1000u

struct fake_vm {
	struct fake_kvm kvm;
	struct sev_kvm_ops ops;
	uint8_t *firmware;
	size_t firmware_len;
	struct sev_launch_plan plan;
	struct sev_launch_config cfg;
	struct sev_launch launch;
	uint8_t *ram; /* guest [0, 16 MiB) */
	uint8_t *fw_mem; /* guest [4 GiB - firmware size, 4 GiB) */
	bool own_firmware; /* firmware was built here (freed at teardown) */
	struct kvm_cpuid_entry2 cpuid[3];
};

struct fake_vm_spec {
	enum sev_mode mode;
	unsigned vcpus;
	uint64_t features;	 /* the VMSAs' SEV_FEATURES (SNP: include 0x1) */
	const char *cmdline;	 /* measured direct boot with empty kernel and initrd; NULL: none */
	const uint8_t *firmware; /* NULL: the image fake_ovmf_build makes */
	size_t firmware_len;
};

/* Builds the firmware image (FAKE_FW_PAGES pages) with the SEV footer entries. */
uint8_t *fake_ovmf_build(size_t *len);

/* Everything up to (not including) sev_launch_init; the plan uses EPYC-v4's signature. */
void fake_vm_setup(struct fake_vm *vm, const struct fake_vm_spec *spec);

/* init, add RAM (slot 0) and firmware memory (slot 1), load, measure (SEV/SEV-ES), finish. */
int fake_vm_launch(struct fake_vm *vm, struct error *e);

void fake_vm_teardown(struct fake_vm *vm);

#endif
