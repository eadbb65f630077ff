/* The launch against a fake KVM that fails: firmware errors stop the launch with one line naming
 * the command and the PSP's code; hostile plans (regions outside RAM, unaligned) and calls out of
 * order are refused before anything reaches the PSP. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sev_bytes.h"
#include "sev_cpuid_page.h"
#include "sev_fake_vm.h"
#include "sev_fw_error.h"
#include "sev_kvm_uapi.h"

static struct fake_vm vm;
static struct error e;

static void setup(enum sev_mode mode, unsigned vcpus, uint64_t features, const char *cmdline)
{
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = mode, .vcpus = vcpus,
						   .features = features, .cmdline = cmdline });
	memset(&e, 0, sizeof(e));
}

static void fail_cmd(uint32_t id, unsigned nth, uint32_t fw, int err)
{
	vm.kvm.fail_cmd = id;
	vm.kvm.fail_on_nth = nth;
	vm.kvm.fail_fw_error = fw;
	vm.kvm.fail_errno = err;
}

/* The launch fails with exactly `msg`, is FAILED, and the guest never got to run. */
static void expect_failure(const char *msg)
{
	cr_assert_eq(fake_vm_launch(&vm, &e), -1, "the launch should have failed");
	cr_assert_str_eq(e.msg, msg);
	cr_assert_eq(vm.launch.stage, SEV_STAGE_FAILED);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev LAUNCH_FINISH"), 0);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev SNP_LAUNCH_FINISH"), 0);
	cr_assert_eq(strchr(e.msg, '\n'), NULL);
}

Test(sev_launch_fake_errors, snp_launch_update_firmware_error)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	fail_cmd(SEV_KVM_SEV_SNP_LAUNCH_UPDATE, 2, 0x1a, EIO);
	expect_failure("SNP_LAUNCH_UPDATE failed: firmware error 0x1a (INVALID_PAGE_STATE), loading "
		       "SNP_SEC_MEM at 0x800000 (9 pages, zero)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, snp_launch_update_kvm_error)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	fail_cmd(SEV_KVM_SEV_SNP_LAUNCH_UPDATE, 1, 0, EINVAL);
	expect_failure("SNP_LAUNCH_UPDATE failed: Invalid argument, loading firmware at 0xffffc000 "
		       "(4 pages, normal)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, snp_launch_start_policy_failure)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	fail_cmd(SEV_KVM_SEV_SNP_LAUNCH_START, 1, 0x07, EIO);
	expect_failure("SNP_LAUNCH_START failed: firmware error 0x7 (POLICY_FAILURE), policy "
		       "0x30000");
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev SNP_LAUNCH_UPDATE"), 0);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, snp_launch_finish_firmware_error)
{
	setup(SEV_MODE_SNP, 2, 1, NULL);
	fail_cmd(SEV_KVM_SEV_SNP_LAUNCH_FINISH, 1, 0x10, EIO);
	cr_assert_eq(fake_vm_launch(&vm, &e), -1);
	cr_assert_str_eq(e.msg, "SNP_LAUNCH_FINISH failed: firmware error 0x10 (INVALID_GUEST)");
	cr_assert_eq(vm.launch.stage, SEV_STAGE_FAILED);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, snp_cpuid_page_rejected_names_the_leaf)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	vm.kvm.reject_cpuid_function = 0x80000008;
	expect_failure("SNP_LAUNCH_UPDATE failed: firmware error 0x16 (INVALID_PARAM), the PSP "
		       "rejected CPUID at 0x80e000 (first difference: CPUID 0x80000008.0: ebx 0x0 "
		       "-> 0x1)");
	fake_vm_teardown(&vm);
}

/* All-zero leaves take no room (the guest reads a missing in-range leaf as zeros); 65 others do
 * not fit. */
Test(sev_launch_fake_errors, snp_cpuid_page_size)
{
	static struct kvm_cpuid_entry2 entries[80];
	static uint8_t page[SEV_CPUID_PAGE_SIZE];
	memset(entries, 0, sizeof(entries));
	for (unsigned i = 0; i < 80; i++)
		entries[i] = (struct kvm_cpuid_entry2){ .function = 0xd, .index = i,
							.eax = i < 64 ? i + 1 : 0 };
	cr_assert_eq(sev_cpuid_page_build(page, entries, 80, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_get_le32(page), 64);
	/* The last entry kept is sub-leaf 63, right after sub-leaf 62. */
	cr_assert_eq(sev_get_le32(page + 16 + 63 * 48 + 4), 63);
	entries[70].ebx = 1;
	cr_assert_eq(sev_cpuid_page_build(page, entries, 80, &e), -1);
	cr_assert_str_eq(e.msg, "the vCPU has 65 CPUID entries (not counting all-zero ones); an SNP "
				"CPUID page holds 64: use a CPU template with fewer leaves");
}

Test(sev_launch_fake_errors, sev_launch_update_data_on_the_hashes)
{
	setup(SEV_MODE_SEV, 1, 0, "console=ttyS0");
	fail_cmd(SEV_KVM_SEV_LAUNCH_UPDATE_DATA, 2, 0x09, EIO);
	expect_failure("LAUNCH_UPDATE_DATA failed: firmware error 0x9 (INVALID_ADDRESS), loading "
		       "kernel hashes at 0x810c00 (176 bytes)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, sev_launch_start_firmware_error)
{
	setup(SEV_MODE_SEV_ES, 1, 0, NULL);
	fail_cmd(SEV_KVM_SEV_LAUNCH_START, 1, 0x03, EIO);
	expect_failure("LAUNCH_START failed: firmware error 0x3 (INVALID_CONFIG), policy 0x5");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, sev_es_update_vmsa_firmware_error)
{
	setup(SEV_MODE_SEV_ES, 2, 0, NULL);
	fail_cmd(SEV_KVM_SEV_LAUNCH_UPDATE_VMSA, 1, 0x12, EIO);
	expect_failure("LAUNCH_UPDATE_VMSA failed: firmware error 0x12 (ACTIVE)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, sev_measure_firmware_error)
{
	setup(SEV_MODE_SEV, 1, 0, NULL);
	fail_cmd(SEV_KVM_SEV_LAUNCH_MEASURE, 2, 0x02, EIO);
	expect_failure("LAUNCH_MEASURE failed: firmware error 0x2 (INVALID_GUEST_STATE)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, init2_rejected_by_kvm)
{
	setup(SEV_MODE_SEV, 1, 0, NULL);
	fail_cmd(SEV_KVM_SEV_INIT2, 1, 0, EINVAL);
	expect_failure("INIT2 failed: Invalid argument");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, unknown_firmware_code)
{
	setup(SEV_MODE_SEV, 1, 0, NULL);
	fail_cmd(SEV_KVM_SEV_LAUNCH_FINISH, 1, 0xbeef, EIO);
	cr_assert_eq(fake_vm_launch(&vm, &e), -1);
	cr_assert_str_eq(e.msg, "LAUNCH_FINISH failed: firmware error 0xbeef (unknown)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, no_dev_sev)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	vm.kvm.open_sev_errno = EACCES;
	expect_failure("cannot open /dev/sev (the PSP driver, ccp): Permission denied");
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev "), 0);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, kvm_lacks_debug_swap)
{
	setup(SEV_MODE_SNP, 1, 0x21, NULL);
	vm.kvm.vmsa_features = 0;
	expect_failure("the VMSAs ask for SEV_FEATURES 0x20; this KVM offers 0x0 (missing 0x20)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, vm_without_private_memory)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	vm.kvm.mem_attributes = 0;
	expect_failure("this VM cannot have private memory (KVM_CAP_MEMORY_ATTRIBUTES = 0x0)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, vm_without_map_gpa_range_exits)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	vm.kvm.exit_hypercall = 0;
	expect_failure("this KVM cannot forward KVM_HC_MAP_GPA_RANGE to the VMM "
		       "(KVM_CAP_EXIT_HYPERCALL = 0x0)");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, memory_attributes_ioctl_fails)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	vm.kvm.fail_ioctl = SEV_KVM_SET_MEMORY_ATTRIBUTES;
	vm.kvm.fail_errno = ENOMEM;
	expect_failure("KVM_SET_MEMORY_ATTRIBUTES (private, 0x0): Cannot allocate memory");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, vcpu_count_must_match_the_plan)
{
	setup(SEV_MODE_SNP, 4, 1, NULL);
	struct sev_launch *l = &vm.launch;
	cr_assert_eq(sev_launch_init(l, &vm.ops, &vm.plan, &vm.cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 0, 0, FAKE_RAM_SIZE, vm.ram, &e), 0);
	cr_assert_eq(sev_launch_load(l, 2, &e), -1);
	cr_assert_str_eq(e.msg, "the VM has 2 vCPUs but the launch plan measures 4 VMSAs");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, plan_and_vm_modes_must_agree)
{
	setup(SEV_MODE_SEV_ES, 1, 0, NULL);
	vm.cfg.mode = SEV_MODE_SNP;
	vm.cfg.policy = SEV_POLICY_DEFAULT_SNP;
	expect_failure("the launch plan is for sev-es, the VM is snp");
	fake_vm_teardown(&vm);
}

/* Hostile plans: OVMF's metadata is a file from outside; a range it names must be whole pages of
 * guest RAM, or the launch stops before the PSP sees it. */
static void hostile_region(enum sev_mode mode, unsigned index, uint64_t gpa, uint64_t len,
			   const char *msg)
{
	setup(mode, 1, mode == SEV_MODE_SNP ? 1 : 0, mode == SEV_MODE_SNP ? NULL : "x");
	cr_assert_lt(index, vm.plan.n_regions);
	vm.plan.regions[index].gpa = gpa;
	vm.plan.regions[index].len = len;
	expect_failure(msg);
	const char *update = mode == SEV_MODE_SNP ? "sev SNP_LAUNCH_UPDATE" : "sev LAUNCH_UPDATE_DATA";
	cr_assert_eq(fake_kvm_count(&vm.kvm, update), index, "the bad region reached the PSP");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, snp_region_outside_ram)
{
	hostile_region(SEV_MODE_SNP, 1, 0x2000000, 0x9000,
		       "SNP_SEC_MEM at 0x2000000 (36864 bytes) is not inside guest memory");
}

Test(sev_launch_fake_errors, snp_region_running_past_ram)
{
	hostile_region(SEV_MODE_SNP, 2, 0xffe000, 0x3000,
		       "SNP_SEC_MEM at 0xffe000 (12288 bytes) is not inside guest memory");
}

Test(sev_launch_fake_errors, snp_region_wrapping_around)
{
	hostile_region(SEV_MODE_SNP, 1, 0xfffffffffffff000ull, 0x2000,
		       "SNP_SEC_MEM at 0xfffffffffffff000 (8192 bytes) is not inside guest memory");
}

Test(sev_launch_fake_errors, snp_region_unaligned)
{
	hostile_region(SEV_MODE_SNP, 3, 0x80d800, 0x1000,
		       "SNP_SECRETS at 0x80d800 (4096 bytes) is not whole pages, as "
		       "SNP_LAUNCH_UPDATE needs");
}

Test(sev_launch_fake_errors, sev_region_unaligned)
{
	hostile_region(SEV_MODE_SEV, 1, 0x810c08, 176,
		       "kernel hashes at 0x810c08 (176 bytes) is not a whole number of the 16-byte "
		       "blocks LAUNCH_UPDATE_DATA takes");
}

Test(sev_launch_fake_errors, sev_region_in_the_hole_below_firmware)
{
	hostile_region(SEV_MODE_SEV, 1, 0xfff00000, 176,
		       "kernel hashes at 0xfff00000 (176 bytes) is not inside guest memory");
}

Test(sev_launch_fake_errors, steps_out_of_order)
{
	setup(SEV_MODE_SNP, 1, 1, NULL);
	struct sev_launch *l = &vm.launch;
	cr_assert_eq(sev_launch_init(l, &vm.ops, &vm.plan, &vm.cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_load(l, 1, &e), -1);
	cr_assert_str_eq(e.msg, "the launch has no guest memory");
	cr_assert_eq(sev_launch_finish(l, &e), -1);
	cr_assert_str_eq(e.msg, "the launch cannot finish now (it must be loaded first)");
	cr_assert_eq(sev_launch_add_memory(l, 0, 0, FAKE_RAM_SIZE, vm.ram, &e), 0);
	cr_assert_eq(sev_launch_add_memory(l, 1, 0x1000, 0x1000, vm.fw_mem, &e), -1);
	cr_assert_str_eq(e.msg, "guest memory at 0x1000 overlaps the range at 0x0");
	cr_assert_eq(sev_launch_measure(l, &e), -1);
	cr_assert_str_eq(e.msg, "SNP has no LAUNCH_MEASURE: the guest asks the PSP for a signed "
			 "attestation report instead");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, unaligned_memory_refused)
{
	setup(SEV_MODE_SEV, 1, 0, NULL);
	struct sev_launch *l = &vm.launch;
	cr_assert_eq(sev_launch_init(l, &vm.ops, &vm.plan, &vm.cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 0, 0x800, 0x1000, vm.ram, &e), -1);
	cr_assert_str_eq(e.msg, "guest memory at 0x800 (0x1000 bytes) is not whole pages");
	cr_assert_eq(vm.launch.stage, SEV_STAGE_FAILED);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, secret_checks)
{
	setup(SEV_MODE_SEV, 1, 0, NULL);
	struct sev_launch *l = &vm.launch;
	uint8_t header[52] = { 0 }, blob[32] = { 0 };
	struct sev_launch_secret s = { header, sizeof(header), blob, sizeof(blob), 0x1000 };
	cr_assert_eq(sev_launch_init(l, &vm.ops, &vm.plan, &vm.cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 0, 0, FAKE_RAM_SIZE, vm.ram, &e), 0);
	cr_assert_eq(sev_launch_add_memory(l, 1, (1ull << 32) - FAKE_FW_SIZE, FAKE_FW_SIZE,
					   vm.fw_mem, &e), 0);
	cr_assert_eq(sev_launch_load(l, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_inject_secret(l, &s, &e), -1);
	cr_assert_str_eq(e.msg, "LAUNCH_SECRET must follow LAUNCH_MEASURE");
	cr_assert_eq(sev_launch_measure(l, &e), 0, "%s", e.msg);
	s.gpa = FAKE_RAM_SIZE - 16; /* runs past the end of RAM */
	cr_assert_eq(sev_launch_inject_secret(l, &s, &e), -1);
	cr_assert_str_eq(e.msg, "the secret at 0xfffff0 (32 bytes) is not inside guest memory");
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev LAUNCH_SECRET"), 0);
	cr_assert_eq(sev_launch_finish(l, &e), 0, "a refused secret leaves the launch intact");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_errors, policies)
{
	cr_assert_eq(sev_launch_policy_check(SEV_MODE_SNP, 0x10000, &e), -1);
	cr_assert_str_eq(e.msg, "SNP policy 0x10000 lacks bit 17, which the SNP ABI requires to "
			 "be set (for example 0x30000)");
	cr_assert_eq(sev_launch_policy_check(SEV_MODE_SEV_ES, 0x1, &e), -1);
	cr_assert_str_eq(e.msg, "SEV-ES policy 0x1 lacks the ES bit (0x4)");
	cr_assert_eq(sev_launch_policy_check(SEV_MODE_SEV, 0x5, &e), -1);
	cr_assert_str_eq(e.msg, "policy 0x5 has the ES bit (0x4): that is an SEV-ES policy");
	cr_assert_eq(sev_launch_policy_check(SEV_MODE_SEV, 0x100000001ull, &e), -1);
	cr_assert_str_eq(e.msg, "policy 0x100000001 does not fit the 32 bits of an SEV policy");
	for (int m = SEV_MODE_SEV; m <= SEV_MODE_SNP; m++)
		cr_assert_eq(sev_launch_policy_check(m, sev_launch_default_policy(m), &e), 0);
}

Test(sev_launch_fake_errors, firmware_error_names)
{
	cr_assert_str_eq(sev_fw_error_name(0x16), "INVALID_PARAM");
	cr_assert_str_eq(sev_fw_error_name(0x20), "RMP_INIT_REQUIRED");
	cr_assert_str_eq(sev_fw_error_name(0x1e), "unknown");
	cr_assert_str_eq(sev_fw_error_name(0xffffffff), "unknown");
}
