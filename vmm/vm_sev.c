/* Ember's VM around the confidential launch: reads the firmware, kernel, initrd and the guest
 * owner's session, allocates guest RAM, and gives sev_vm_build (arch/x86/amd/sev/sev_vm.h) the
 * three things only the VM knows: its CPU model, its devices (fw_cfg serves OVMF the very kernel,
 * initrd and command line bytes the launch hashed) and its vCPUs. */
#include "vm_sev.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../arch/x86/amd/sev/sev_owner.h"
#include "../arch/x86/amd/sev/sev_vm.h"
#include "../arch/x86/cpuid.h"
#include "../arch/x86/layout.h"
#include "../arch/x86/topology.h"
#include "../devices/legacy/fw_cfg.h"
#include "../devices/pci/pci.h"
#include "cpu_model.h"
#include "firmware.h"
#include "vcpu.h"
#include "vm.h"
#include "vm_firmware.h"

/* A guest can make KVM_HC_MAP_GPA_RANGE requests by the million: only the first few refusals are
 * logged. */
#define REFUSALS_LOGGED 10

struct vm_sev {
	struct sev_vm launch;
	struct sev_kvm_real real;
	struct cpu_model model;
	bool model_ready;
	struct kvm_cpuid2 *bsp_cpuid; /* vCPU 0's CPUID: the signature and SNP's CPUID page */
	struct firmware_blob kernel, initrd;
	uint8_t *owner_pdh, *owner_session;
	size_t owner_pdh_len, owner_session_len;
	atomic_uint refusals;
};

static enum sev_mode sev_mode_of(enum vm_sev_mode m)
{
	return m == VM_SEV_SNP ? SEV_MODE_SNP : m == VM_SEV_ES ? SEV_MODE_SEV_ES : SEV_MODE_SEV;
}

/* Everything read before any VM exists, so that a bad file costs nothing. The machine is a
 * firmware boot's (vm_firmware.h: Q35 bus, PM timer, fw_cfg), with the image not mapped read-only
 * but handed to the launch, which encrypts it into the range ending at 4 GiB. */
static int read_files(struct vm *vm, struct vm_sev *s, struct error *e)
{
	const struct vm_config *cfg = &vm->cfg;
	const struct vm_sev_owner *o = &cfg->sev_owner;
	if (!(vm->firmware = calloc(1, sizeof(*vm->firmware))))
		return error_set(e, "out of memory");
	if (firmware_load(&vm->firmware->image, cfg->firmware_path, e) < 0 ||
	    (cfg->kernel_path && firmware_read_file("kernel", cfg->kernel_path, &s->kernel, e) < 0) ||
	    (cfg->initrd_path && firmware_read_file("initrd", cfg->initrd_path, &s->initrd, e) < 0))
		return -1;
	if (o->dh_cert && (sev_owner_read_base64(o->dh_cert, &s->owner_pdh, &s->owner_pdh_len, e) < 0 ||
			   sev_owner_read_base64(o->session, &s->owner_session, &s->owner_session_len,
						 e) < 0))
		return -1;
	return 0;
}

/* vCPU 0's CPUID exactly as vcpu_create will hand it to KVM_SET_CPUID2. */
static int bsp_cpuid(struct vm_sev *s, const struct kvm_cpuid2 *vm_cpuid, struct sev_vm_cpu *cpu,
		     struct error *e)
{
	/* Room to append topology leaves, as cpuid_apply makes. */
	uint32_t cap = vm_cpuid->nent > CPUID_MAX_ENTRIES ? vm_cpuid->nent : CPUID_MAX_ENTRIES;
	s->bsp_cpuid = calloc(1, sizeof(struct kvm_cpuid2) + cap * sizeof(struct kvm_cpuid_entry2));
	if (!s->bsp_cpuid)
		return error_set(e, "out of memory for CPUID");
	memcpy(s->bsp_cpuid, vm_cpuid,
	       sizeof(*vm_cpuid) + vm_cpuid->nent * sizeof(vm_cpuid->entries[0]));
	struct cpuid_topology topo;
	cpu_model_plain_topology(&s->model, &topo);
	cpuid_normalize(s->bsp_cpuid, &topo, 0);
	if (s->model.full_topology) /* what cpu_model_setup_vcpu then sets (L3, padded ids) */
		topology_write_cpuid(s->bsp_cpuid, &s->model.topo, 0);
	struct kvm_cpuid_entry2 *leaf1 = cpuid_find(s->bsp_cpuid, 1, 0);
	if (!leaf1)
		return error_set(e, "the vCPU has no CPUID leaf 1");
	*cpu = (struct sev_vm_cpu){ .signature = leaf1->eax, .cpuid = s->bsp_cpuid->entries,
				    .n_cpuid = s->bsp_cpuid->nent };
	return 0;
}

static int hook_prepare(void *opaque, int vm_fd, struct sev_vm_cpu *cpu, struct error *e)
{
	struct vm *vm = opaque;
	struct vm_sev *s = vm->sev;
	vm->vm_fd = vm_fd;
	if (cpu_model_prepare(&s->model, &vm->cfg, vm->kvm_fd, vm_fd, &vm->cpuid, e) < 0)
		return -1;
	s->model_ready = true;
	return bsp_cpuid(s, vm->cpuid, cpu, e);
}

/* fw_cfg tells OVMF the machine (memory map, CPUs, ACPI tables) and serves the kernel, initrd
 * and command line: nothing is written into the guest's (encrypted) RAM. The items are a
 * firmware boot's (vm_firmware.c), so OVMF finds the same machine either way. */
static int fill_fw_cfg(struct vm *vm, struct vm_sev *s, struct error *e)
{
	struct fw_cfg_kernel kernel = {
		.kernel = s->kernel.data, .kernel_size = s->kernel.size,
		.initrd = s->initrd.data, .initrd_size = s->initrd.size, .cmdline = vm->cfg.cmdline,
	};
	/* DMA requests name shared pages: they are in the host mapping of guest RAM. */
	if (!(vm->firmware->fw_cfg = fw_cfg_create(&vm->mem, e)))
		return -1;
	return vm_firmware_fill_fw_cfg(vm, &s->model, vm->cfg.kernel_path ? &kernel : NULL, e);
}

static int hook_devices(void *opaque, struct error *e)
{
	struct vm *vm = opaque;
	if (fill_fw_cfg(vm, vm->sev, e) < 0)
		return -1;
	/* fw_cfg holds its own copies now. */
	firmware_blob_free(&vm->sev->kernel);
	firmware_blob_free(&vm->sev->initrd);
	/* The common devices, and a firmware boot's: fw_cfg's ports, the PM timer, the Q35 bus. */
	return vm_create_devices(vm, e);
}

static int hook_create_vcpus(void *opaque, int *vcpu_fds, unsigned n, struct error *e)
{
	struct vm *vm = opaque;
	if (vm_create_vcpus(vm, &vm->sev->model, e) < 0)
		return -1;
	for (unsigned i = 0; i < n && i < vm->nvcpus; i++)
		vcpu_fds[i] = vm->vcpus[i].fd;
	return 0;
}

static int build(struct vm *vm, struct vm_sev *s,
		 struct sev_kvm_ops (*ops_for)(struct sev_kvm_real *real), struct error *e)
{
	const struct vm_config *cfg = &vm->cfg;
	if (read_files(vm, s, e) < 0 ||
	    guest_mem_init_backed(&vm->mem, cfg->mem_size, &cfg->memory, e) < 0)
		return -1;
	if (vm_firmware_check_memory(vm, e) < 0)
		return -1;
	vm->boot.mode = BOOT_FIRMWARE; /* vCPU 0 at the reset vector; the launch loads the rest */
	sev_kvm_real_init(&s->real, vm->kvm_fd, -1);
	struct sev_kvm_ops ops = ops_for(&s->real);
	struct sev_vm_input in = {
		.mode = sev_mode_of(cfg->sev), .policy = cfg->sev_policy,
		.guest_features = cfg->sev_owner.features,
		.firmware = vm->firmware->image.image, .firmware_len = vm->firmware->image.size,
		.direct_boot = cfg->kernel_path != NULL,
		.kernel = s->kernel.data, .kernel_len = s->kernel.size,
		.initrd = s->initrd.data, .initrd_len = s->initrd.size, .cmdline = cfg->cmdline,
		.vcpus = cfg->ncpus, .mem = &vm->mem,
		.owner_pdh = s->owner_pdh, .owner_pdh_len = s->owner_pdh_len,
		.owner_session = s->owner_session, .owner_session_len = s->owner_session_len,
		.measurement_out = cfg->sev_owner.measurement_out,
		.secret_in = cfg->sev_owner.secret, .real = &s->real,
	};
	struct sev_vm_hooks hooks = { .opaque = vm, .prepare = hook_prepare,
				      .devices = hook_devices, .create_vcpus = hook_create_vcpus };
	int rc = sev_vm_build(&s->launch, &in, &ops, &hooks, e);
	if (vm->vm_fd < 0)
		vm->vm_fd = s->launch.vm_fd; /* created, then failed before the CPU model: close it */
	return rc;
}

int vm_sev_create_with(struct vm *vm, struct sev_kvm_ops (*ops_for)(struct sev_kvm_real *real),
		       struct error *e)
{
	struct vm_sev *s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(e, "out of memory");
	s->launch.vm_fd = -1;
	vm->sev = s;
	if (build(vm, s, ops_for, e) < 0)
		return error_prefix(e, "--sev %s", sev_mode_name(sev_mode_of(vm->cfg.sev)));
	return 0;
}

int vm_sev_create(struct vm *vm, struct error *e)
{
	return vm_sev_create_with(vm, sev_kvm_real_ops, e);
}

bool vm_sev_exit(struct vcpu *v, int run_rc, int run_errno, bool *run_on)
{
	struct vm_sev *s = v->vm->sev;
	if (!s)
		return false;
	struct error e = { "" };
	switch (sev_vm_handle_exit(&s->launch, v->run, run_rc, run_errno, &e)) {
	case SEV_VM_EXIT_NOT_MINE:
		return false;
	case SEV_VM_EXIT_REENTER:
		*run_on = true;
		return true;
	case SEV_VM_EXIT_REFUSED:
		if (atomic_fetch_add(&s->refusals, 1) < REFUSALS_LOGGED)
			fprintf(stderr, "ember: vCPU %u: %s\n", v->index, e.msg);
		*run_on = true;
		return true;
	case SEV_VM_EXIT_FATAL:
		break;
	}
	atomic_fetch_add_explicit(&v->exits.failures, 1, memory_order_relaxed);
	fprintf(stderr, "ember: vCPU %u: %s\n", v->index, e.msg);
	vm_request_stop(v->vm, 1);
	*run_on = false;
	return true;
}

bool vm_sev_state_encrypted(const struct vm *vm)
{
	return vm->sev && sev_vm_state_protected(&vm->sev->launch);
}

void vm_sev_destroy(struct vm_sev *s)
{
	if (!s)
		return;
	sev_vm_destroy(&s->launch);
	if (s->model_ready)
		cpu_model_free(&s->model);
	free(s->bsp_cpuid);
	firmware_blob_free(&s->kernel);
	firmware_blob_free(&s->initrd);
	free(s->owner_pdh);
	free(s->owner_session);
	free(s);
}
