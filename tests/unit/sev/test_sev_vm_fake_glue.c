/* vmm/vm_sev.c's side of `ember run --sev` on this host's real KVM, with the fake PSP behind
 * the SEV calls: the KVM VM, irqchip and PIT, the CPU model, the firmware machine's devices,
 * fw_cfg and the vCPUs are real (an ordinary VM: this host has no SEV); the VM type, memslots,
 * guest_memfds, vCPU state loading and every launch command go to the fake. So the hooks vm_sev.c
 * gives sev_vm_build run for real, and the end-to-end property holds on real code: the bytes
 * fw_cfg serves OVMF are the bytes the kernel-hashes table in guest RAM was built from. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm_para.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../../arch/x86/cpuid.h"
#include "../../../devices/legacy/fw_cfg.h"
#include "../../../vmm/vcpu.h"
#include "../../../vmm/vm.h"
#include "../../../vmm/vm_firmware.h"
#include "../../../vmm/vm_sev.h"
#include "sev_convert.h"
#include "sev_fake_kvm.h"
#include "sev_fake_psp.h"
#include "sev_fake_vm.h"
#include "sev_hashes.h"

#define FIRMWARE_SIZE (64u << 10) /* the smallest image Ember maps */

/* The fake over the real host: KVM_CREATE_VM (as a default VM), the irqchip and the PIT reach
 * this host's KVM; everything else is the fake's. */
static struct {
	struct fake_kvm fake;
	struct sev_kvm_ops fake_ops;
	struct sev_kvm_real *real;
} h;

static int hybrid_kvm_ioctl(void *ctx, unsigned long request, void *arg)
{
	(void)ctx;
	if (request != KVM_CREATE_VM)
		return h.fake_ops.kvm_ioctl(&h.fake, request, arg);
	fake_log(&h.fake, "kvm CREATE_VM type=%lu", (unsigned long)(uintptr_t)arg);
	return ioctl(h.real->kvm_fd, KVM_CREATE_VM, 0UL);
}

static int hybrid_vm_ioctl(void *ctx, unsigned long request, void *arg)
{
	(void)ctx;
	if (request != KVM_CREATE_IRQCHIP && request != KVM_CREATE_PIT2)
		return h.fake_ops.vm_ioctl(&h.fake, request, arg);
	fake_log(&h.fake, "vm %s (real)", request == KVM_CREATE_IRQCHIP ? "CREATE_IRQCHIP"
									: "CREATE_PIT2");
	return ioctl(h.real->vm_fd, request, arg);
}

static struct sev_kvm_ops hybrid_ops(struct sev_kvm_real *real)
{
	h.real = real;
	struct sev_kvm_ops ops = h.fake_ops;
	ops.ctx = &h.fake;
	ops.kvm_ioctl = hybrid_kvm_ioctl;
	ops.vm_ioctl = hybrid_vm_ioctl;
	return ops;
}

static char dir[] = "/tmp/ember-sev-glue-XXXXXX";
static char path_fw[64], path_kernel[64], path_initrd[64];
static const char kernel[] = "a kernel the firmware loads: served, and hashed, unchanged";
static const char initrd[] = "an initrd";

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* The fake OVMF image, padded at the front to 64 KiB (its footer and metadata count from the
 * end of the image, so they stay valid). */
static void write_files(void)
{
	cr_assert_not_null(mkdtemp(dir));
	size_t len;
	uint8_t *small = fake_ovmf_build(&len);
	uint8_t *image = calloc(1, FIRMWARE_SIZE);
	memcpy(image + FIRMWARE_SIZE - len, small, len);
	snprintf(path_fw, sizeof(path_fw), "%s/OVMF.fd", dir);
	snprintf(path_kernel, sizeof(path_kernel), "%s/vmlinuz", dir);
	snprintf(path_initrd, sizeof(path_initrd), "%s/initrd", dir);
	write_file(path_fw, image, FIRMWARE_SIZE);
	write_file(path_kernel, kernel, sizeof(kernel) - 1);
	write_file(path_initrd, initrd, sizeof(initrd) - 1);
	free(small);
	free(image);
}

static void remove_files(void)
{
	unlink(path_fw);
	unlink(path_kernel);
	unlink(path_initrd);
	rmdir(dir);
}

/* What vm_create does before it hands a --sev VM to vm_sev_create (minus the host check, which
 * this host fails, and the control loop). */
static int vm_setup(struct vm *vm, enum vm_sev_mode mode, unsigned ncpus)
{
	memset(vm, 0, sizeof(*vm));
	vm_config_defaults(&vm->cfg);
	vm->cfg.sev = mode;
	vm->cfg.firmware_path = path_fw;
	vm->cfg.kernel_path = path_kernel;
	vm->cfg.initrd_path = path_initrd;
	vm->cfg.cmdline = "console=ttyS0";
	vm->cfg.ncpus = ncpus;
	vm->cfg.mem_size = 256ull << 20;
	pthread_mutex_init(&vm->pause.lock, NULL);
	pthread_cond_init(&vm->pause.cond, NULL);
	vm->vm_fd = vm->stop_fd = vm->signal_fd = vm->console.wake_fd = -1;
	io_bus_init(&vm->pio, "pio");
	io_bus_init(&vm->mmio, "mmio");
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -1;
	vm->run_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	fake_kvm_init(&h.fake);
	h.fake.n_vcpus = ncpus; /* the real vCPUs are created with real ioctls */
	h.fake.vm_type = mode == VM_SEV_SNP ? 4 : mode == VM_SEV_ES ? 3 : 2;
	h.fake_ops = fake_kvm_ops(&h.fake);
	return 0;
}

/* fw_cfg's kernel, initrd and command line items, hashed as OVMF checks them. */
static void hash_served(const struct fw_cfg *f, uint8_t table[SEV_HASH_TABLE_PADDED_LEN])
{
	uint32_t setup_len = 0, kernel_len = 0, initrd_len = 0, cmdline_len = 0;
	const uint8_t *setup = fw_cfg_item(f, FW_CFG_SETUP_DATA, &setup_len);
	const uint8_t *k = fw_cfg_item(f, FW_CFG_KERNEL_DATA, &kernel_len);
	const uint8_t *i = fw_cfg_item(f, FW_CFG_INITRD_DATA, &initrd_len);
	const uint8_t *c = fw_cfg_item(f, FW_CFG_CMDLINE_DATA, &cmdline_len);
	cr_assert_not_null(k);
	cr_assert_not_null(c);
	uint8_t *whole = malloc(setup_len + kernel_len + 1);
	if (setup_len)
		memcpy(whole, setup, setup_len);
	memcpy(whole + setup_len, k, kernel_len);
	cr_assert_eq(c[cmdline_len - 1], 0, "the command line is served with its NUL");
	sev_hashes_build(table, whole, setup_len + kernel_len, i, initrd_len, (const char *)c);
	free(whole);
}

static struct vm vm;

static void create(enum vm_sev_mode mode, unsigned ncpus)
{
	write_files();
	if (vm_setup(&vm, mode, ncpus) < 0) {
		remove_files();
		cr_skip_test("no /dev/kvm");
	}
	struct error e = { "" };
	int rc = vm_sev_create_with(&vm, hybrid_ops, &e);
	cr_assert_eq(rc, 0, "vm_sev_create: %s", e.msg);
}

static void destroy(void)
{
	vm_destroy(&vm);
	fake_kvm_free(&h.fake);
	remove_files();
}

Test(sev_vm_fake_glue, sev_es_on_this_hosts_kvm)
{
	create(VM_SEV_ES, 2);
	cr_assert_eq(vm.nvcpus, 2);
	cr_assert(h.fake.finished, "the launch did not finish");
	cr_assert_not_null(vm.pci, "a firmware machine has its Q35 bus");
	cr_assert_not_null(vm.firmware);
	cr_assert_eq(vm.boot.mode, BOOT_FIRMWARE);
	const char *order[] = {
		"kvm CREATE_VM type=3", "vm CREATE_IRQCHIP (real)", "vm CREATE_PIT2 (real)",
		"open /dev/sev", "sev INIT2",
		"vm SET_USER_MEMORY_REGION slot=0 gpa=0x0 size=0x10000000",
		"vm SET_USER_MEMORY_REGION slot=1 gpa=0xffff0000 size=0x10000",
		"sev LAUNCH_START policy=0x5", "sev LAUNCH_UPDATE_DATA uaddr=slot1+0x0 len=0x10000",
		"sev LAUNCH_UPDATE_DATA uaddr=slot0+0x810c00 len=0xb0", "vcpu0 SET_SREGS",
		"vcpu1 SET_SREGS",
		"sev LAUNCH_UPDATE_VMSA", "sev LAUNCH_MEASURE len=48", "sev LAUNCH_FINISH",
	};
	int at = -1;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int found = fake_kvm_find(&h.fake, order[i], (unsigned)(at + 1));
		cr_assert_gt(found, at, "'%s' missing or out of order", order[i]);
		at = found;
	}
	/* The table the PSP measured, in guest RAM, is over exactly what fw_cfg serves OVMF. */
	uint8_t served[SEV_HASH_TABLE_PADDED_LEN];
	hash_served(vm.firmware->fw_cfg, served);
	cr_assert_eq(memcmp(vm.mem.host + FAKE_HASH_TABLE_GPA, served, sizeof(served)), 0,
		     "OVMF would refuse the kernel: served bytes differ from the hashed ones");
	uint32_t len;
	cr_assert_not_null(fw_cfg_item(vm.firmware->fw_cfg, FW_CFG_KERNEL_DATA, &len));
	cr_assert_eq(len, sizeof(kernel) - 1);
	cr_assert_geq(fw_cfg_file_key(vm.firmware->fw_cfg, "etc/e820"), 0);
	cr_assert_geq(fw_cfg_file_key(vm.firmware->fw_cfg, "etc/table-loader"), 0);

	/* The VMSAs carry this host's vCPU signature: the real CPUID's leaf 1 for vCPU 0. */
	struct kvm_cpuid_entry2 *leaf1 = cpuid_find(vm.cpuid, 1, 0);
	cr_assert_not_null(leaf1);
	cr_assert_eq(h.fake.vcpus[0].regs.rdx, leaf1->eax);
	cr_assert_eq(h.fake.vcpus[1].regs.rdx, leaf1->eax);
	cr_assert(vm_sev_state_encrypted(&vm));
	destroy();
}

/* SNP: the conversion exits through vcpu.c's entry point, on a real vCPU's kvm_run. */
Test(sev_vm_fake_glue, snp_exits_through_the_vcpu)
{
	create(VM_SEV_SNP, 1);
	cr_assert(h.fake.finished);
	struct vcpu *v = &vm.vcpus[0];
	struct kvm_run *run = v->run;
	bool run_on = false;
	run->exit_reason = KVM_EXIT_HYPERCALL;
	run->hypercall.nr = KVM_HC_MAP_GPA_RANGE;
	run->hypercall.args[0] = 0x200000;
	run->hypercall.args[1] = 4;
	run->hypercall.args[2] = 0; /* shared */
	cr_assert(vm_sev_exit(v, 0, 0, &run_on));
	cr_assert(run_on);
	cr_assert_eq(run->hypercall.ret, 0);
	cr_assert_not(fake_kvm_is_private(&h.fake, 0x200000));
	run->exit_reason = SEV_KVM_EXIT_MEMORY_FAULT;
	struct sev_kvm_memory_fault *f = (void *)sev_kvm_run_memory_fault(run);
	*f = (struct sev_kvm_memory_fault){ .flags = SEV_KVM_MEMORY_EXIT_FLAG_PRIVATE,
					    .gpa = 0x200000, .size = 0x4000 };
	cr_assert(vm_sev_exit(v, -1, EFAULT, &run_on));
	cr_assert(run_on);
	cr_assert(fake_kvm_is_private(&h.fake, 0x200000));
	/* Not SEV's: an I/O exit, an EINTR. */
	run->exit_reason = KVM_EXIT_IO;
	cr_assert_not(vm_sev_exit(v, 0, 0, &run_on));
	cr_assert_not(vm_sev_exit(v, -1, EINTR, &run_on));
	/* A fault outside RAM: reported, the VM asked to stop. */
	run->exit_reason = SEV_KVM_EXIT_MEMORY_FAULT;
	*f = (struct sev_kvm_memory_fault){ .gpa = 0xd0000000, .size = 0x1000 };
	cr_assert(vm_sev_exit(v, -1, EFAULT, &run_on));
	cr_assert_not(run_on);
	cr_assert_eq(atomic_load(&vm.stop_requested), 1);
	cr_assert_eq(vm.exit_status, 1);
	destroy();
}

/* vm_sev_create fails cleanly: the firmware is not an image Ember maps. */
Test(sev_vm_fake_glue, bad_firmware_is_named)
{
	write_files();
	if (vm_setup(&vm, VM_SEV_SNP, 1) < 0) {
		remove_files();
		cr_skip_test("no /dev/kvm");
	}
	write_file(path_fw, "short", 5);
	struct error e = { "" };
	cr_assert_eq(vm_sev_create_with(&vm, hybrid_ops, &e), -1);
	cr_assert_eq(strncmp(e.msg, "--sev snp: firmware '", 21), 0, "%s", e.msg);
	cr_assert_eq(h.fake.n_log, 0, "nothing reached KVM");
	destroy();
}
