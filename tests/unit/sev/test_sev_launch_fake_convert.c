/* SNP at run time against the fake KVM: the guest's KVM_HC_MAP_GPA_RANGE requests and
 * KVM_EXIT_MEMORY_FAULT exits become KVM_SET_MEMORY_ATTRIBUTES; every range the guest names is
 * checked against guest RAM first, and a bad one changes nothing. */
#include <errno.h>
#include <linux/kvm_para.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sev_convert.h"
#include "sev_fake_vm.h"
#include "sev_kvm_uapi.h"

#define ENCRYPTED (1ull << 4) /* KVM_MAP_GPA_RANGE_ENCRYPTED */
#define REFUSED_RET ((uint64_t)-EINVAL)

static struct fake_vm vm;
static struct error e;
static struct kvm_run run;

static void launched_snp(void)
{
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SNP, .vcpus = 1,
						   .features = 1 });
	memset(&e, 0, sizeof(e));
	cr_assert_eq(fake_vm_launch(&vm, &e), 0, "%s", e.msg);
}

static enum sev_convert_result map_gpa_range(uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_HYPERCALL;
	run.hypercall.nr = KVM_HC_MAP_GPA_RANGE;
	run.hypercall.args[0] = gpa;
	run.hypercall.args[1] = npages;
	run.hypercall.args[2] = attrs;
	return sev_handle_hypercall(&vm.launch, &run, &e);
}

static enum sev_convert_result memory_fault(uint64_t flags, uint64_t gpa, uint64_t size)
{
	memset(&run, 0, sizeof(run));
	run.exit_reason = SEV_KVM_EXIT_MEMORY_FAULT;
	struct sev_kvm_memory_fault *f = (struct sev_kvm_memory_fault *)
		sev_kvm_run_memory_fault(&run);
	*f = (struct sev_kvm_memory_fault){ .flags = flags, .gpa = gpa, .size = size };
	return sev_handle_memory_fault(&vm.launch, &run, &e);
}

Test(sev_launch_fake_convert, share_then_make_private_again)
{
	launched_snp();
	unsigned before = vm.kvm.n_log;
	cr_assert_eq(map_gpa_range(0x100000, 16, 0), SEV_CONVERT_DONE, "%s", e.msg);
	cr_assert_eq(run.hypercall.ret, 0);
	cr_assert_str_eq(vm.kvm.log[before], "vm SET_MEMORY_ATTRIBUTES gpa=0x100000 size=0x10000 "
					     "attrs=0x0");
	cr_assert_str_eq(vm.kvm.log[before + 1], "discard private gmem=200 offset=0x100000 "
						 "len=0x10000");
	cr_assert_not(fake_kvm_is_private(&vm.kvm, 0x100000));
	cr_assert_not(fake_kvm_is_private(&vm.kvm, 0x10f000));
	cr_assert(fake_kvm_is_private(&vm.kvm, 0x110000));

	cr_assert_eq(map_gpa_range(0x100000, 16, ENCRYPTED | 1 /* 2M hint */), SEV_CONVERT_DONE);
	cr_assert(fake_kvm_is_private(&vm.kvm, 0x100000));
	cr_assert_str_eq(vm.kvm.log[vm.kvm.n_log - 1], "discard shared ram+0x100000 len=0x10000");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_convert, memory_fault_follows_the_access)
{
	launched_snp();
	cr_assert_eq(memory_fault(0, 0x200000, 0x1000), SEV_CONVERT_DONE, "%s", e.msg);
	cr_assert_not(fake_kvm_is_private(&vm.kvm, 0x200000));
	cr_assert_eq(memory_fault(SEV_KVM_MEMORY_EXIT_FLAG_PRIVATE, 0x200000, 0x1000),
		     SEV_CONVERT_DONE, "%s", e.msg);
	cr_assert(fake_kvm_is_private(&vm.kvm, 0x200000));
	/* The firmware's slot converts too, with its own guest_memfd. */
	cr_assert_eq(memory_fault(0, 0xffffd000, 0x1000), SEV_CONVERT_DONE, "%s", e.msg);
	cr_assert_str_eq(vm.kvm.log[vm.kvm.n_log - 1], "discard private gmem=201 offset=0x1000 "
						      "len=0x1000");
	fake_vm_teardown(&vm);
}

/* Each bad request: refused, the guest told -EINVAL, nothing changed in KVM. */
static void refused(uint64_t gpa, uint64_t npages, uint64_t attrs, const char *msg)
{
	launched_snp();
	unsigned before = vm.kvm.n_log;
	cr_assert_eq(map_gpa_range(gpa, npages, attrs), SEV_CONVERT_REFUSED, "accepted: %s", msg);
	cr_assert_eq(run.hypercall.ret, REFUSED_RET);
	cr_assert_str_eq(e.msg, msg);
	cr_assert_eq(vm.kvm.n_log, before, "a refused request reached KVM: %s",
		     vm.kvm.log[before]);
	cr_assert(fake_kvm_is_private(&vm.kvm, 0xfff000));
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_convert, unaligned_gpa)
{
	refused(0x100800, 1, 0, "KVM_HC_MAP_GPA_RANGE refused: range 0x100800+0x1000 is not whole "
				"pages");
}

Test(sev_launch_fake_convert, beyond_ram)
{
	refused(0x2000000, 4, 0, "KVM_HC_MAP_GPA_RANGE refused: range 0x2000000+0x4000 is not all "
				 "guest RAM (0x2000000 is not)");
}

Test(sev_launch_fake_convert, running_off_the_end_of_ram)
{
	refused(0xfff000, 2, 0, "KVM_HC_MAP_GPA_RANGE refused: range 0xfff000+0x2000 is not all "
				"guest RAM (0x1000000 is not)");
}

Test(sev_launch_fake_convert, across_the_hole_to_the_firmware)
{
	refused(0xfff000, (0x100000000ull - 0xfff000) / 4096, 0,
		"KVM_HC_MAP_GPA_RANGE refused: range 0xfff000+0xff001000 is not all guest RAM "
		"(0x1000000 is not)");
}

Test(sev_launch_fake_convert, wrapping_around)
{
	refused(0xfffffffffffff000ull, 2, 0, "KVM_HC_MAP_GPA_RANGE refused: range "
		"0xfffffffffffff000+0x2000 wraps around");
}

Test(sev_launch_fake_convert, no_pages)
{
	refused(0x100000, 0, 0, "KVM_HC_MAP_GPA_RANGE of 0 pages refused");
}

Test(sev_launch_fake_convert, absurd_page_count)
{
	refused(0x100000, 1ull << 60, 0, "KVM_HC_MAP_GPA_RANGE of 1152921504606846976 pages "
		"refused");
}

Test(sev_launch_fake_convert, unknown_attributes)
{
	refused(0x100000, 1, 0x100, "KVM_HC_MAP_GPA_RANGE with unknown attributes 0x100 refused");
}

Test(sev_launch_fake_convert, bad_page_size_hint)
{
	refused(0x100000, 1, 3, "KVM_HC_MAP_GPA_RANGE with unknown attributes 0x3 refused");
}

Test(sev_launch_fake_convert, adjacent_slots_convert_as_one_range)
{
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SNP, .vcpus = 1,
						   .features = 1 });
	struct sev_launch *l = &vm.launch;
	uint64_t half = FAKE_RAM_SIZE / 2;
	cr_assert_eq(sev_launch_init(l, &vm.ops, &vm.plan, &vm.cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 0, 0, half, vm.ram, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 2, half, half, vm.ram + half, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 1, (1ull << 32) - FAKE_FW_SIZE, FAKE_FW_SIZE,
					   vm.fw_mem, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_load(l, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_finish(l, &e), 0, "%s", e.msg);
	cr_assert_eq(map_gpa_range(half - 0x1000, 2, 0), SEV_CONVERT_DONE, "%s", e.msg);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "discard private"), 2);
	cr_assert_geq(fake_kvm_find(&vm.kvm, "discard private gmem=200 offset=0x7ff000 len=0x1000",
				    0), 0);
	cr_assert_geq(fake_kvm_find(&vm.kvm, "discard private gmem=201 offset=0x0 len=0x1000", 0),
		      0);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_convert, host_failures_are_fatal)
{
	launched_snp();
	vm.kvm.fail_ioctl = SEV_KVM_SET_MEMORY_ATTRIBUTES;
	vm.kvm.fail_errno = ENOMEM;
	cr_assert_eq(map_gpa_range(0x100000, 1, 0), SEV_CONVERT_FATAL);
	cr_assert_str_eq(e.msg, "KVM_SET_MEMORY_ATTRIBUTES (0x100000+0x1000 shared): Cannot "
				"allocate memory");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_convert, bad_exits_are_fatal)
{
	launched_snp();
	cr_assert_eq(memory_fault(1ull << 7, 0x100000, 0x1000), SEV_CONVERT_FATAL);
	cr_assert_str_eq(e.msg, "memory fault at 0x100000 with unknown flags 0x80");
	cr_assert_eq(memory_fault(0, 0x3000000, 0x1000), SEV_CONVERT_FATAL);
	cr_assert_str_eq(e.msg, "memory fault: range 0x3000000+0x1000 is not all guest RAM "
				"(0x3000000 is not)");
	memset(&run, 0, sizeof(run));
	run.hypercall.nr = KVM_HC_KICK_CPU;
	cr_assert_eq(sev_handle_hypercall(&vm.launch, &run, &e), SEV_CONVERT_FATAL);
	cr_assert_str_eq(e.msg, "unexpected hypercall 5 from the guest");
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake_convert, only_for_a_running_snp_guest)
{
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SEV, .vcpus = 1 });
	cr_assert_eq(fake_vm_launch(&vm, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_convert_range(&vm.launch, 0x100000, 0x1000, false, &e), -1);
	cr_assert_str_eq(e.msg, "private/shared conversions need a running SNP guest");
	fake_vm_teardown(&vm);
}
