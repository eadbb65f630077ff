/* The launch flow against the fake KVM: the exact ioctl sequence and arguments for SEV, SEV-ES
 * and SNP, and the "would agree" property: what the fake PSP measured from the bytes and
 * registers it was handed equals what sev_digest_compute predicts from the same plan (and, with
 * the shared vectors, the published known answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sev_bytes.h"
#include "sev_digest.h"
#include "sev_fake_vm.h"
#include "sev_test_vectors.h"

static void expect_log(const struct fake_kvm *f, const char *const *want, unsigned n)
{
	for (unsigned i = 0; i < n && i < f->n_log; i++)
		cr_assert_str_eq(f->log[i], want[i], "call %u: got '%s', want '%s'", i, f->log[i],
				 want[i]);
	cr_assert_eq(f->n_log, n, "%u calls, want %u (first extra or missing: '%s')", f->n_log, n,
		     f->n_log > n ? f->log[n] : want[f->n_log]);
}

static void launch_ok(struct fake_vm *vm)
{
	struct error e = { "" };
	cr_assert_eq(fake_vm_launch(vm, &e), 0, "launch failed: %s", e.msg);
	cr_assert_eq(vm->launch.stage, SEV_STAGE_FINISHED);
	cr_assert(vm->kvm.finished);
}

/* The fake's measurement equals the calculator's, and each VMSA the fake built from the vCPU's
 * registers is byte for byte the plan's. */
static void expect_digest_agrees(struct fake_vm *vm)
{
	uint8_t predicted[SEV_DIGEST_MAX];
	size_t len = 0;
	struct error e = { "" };
	cr_assert_eq(sev_digest_compute(&vm->plan, predicted, &len, &e), 0, "%s", e.msg);
	const uint8_t *measured = vm->cfg.mode == SEV_MODE_SNP ? vm->kvm.snp_ld : vm->kvm.sev_digest;
	cr_assert_eq(memcmp(measured, predicted, len), 0, "the fake PSP measured another digest");
	cr_assert_eq(vm->kvm.vmsas_measured, vm->plan.n_vmsas);
	for (unsigned i = 0; i < vm->plan.n_vmsas; i++)
		cr_assert_eq(memcmp(vm->kvm.vmsa_built[i], vm->plan.vmsas[i], SEV_VMSA_SIZE), 0,
			     "VMSA %u from the registers differs from the plan's", i);
}

static const char *const vcpu0_reset[] = {
	"vcpu0 GET_SREGS",
	"vcpu0 SET_SREGS cs=f000:ffff0000 cr0=0x10 efer=0x0 apic_base=0xfee00900",
	"vcpu0 SET_REGS rip=0xfff0 rdx=0x800f12",
	"kvm CHECK_EXTENSION 208",
	"vcpu0 GET_XSAVE2",
	"vcpu0 SET_XSAVE fcw=0x37f mxcsr=0x1f80 xstate_bv=0x3",
	"vcpu0 SET_XCRS xcr0=0x1",
	"vcpu0 SET_DEBUGREGS",
	"vcpu0 SET_MSRS n=1",
};

Test(sev_launch_fake, sev_exact_sequence_and_blob)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SEV, .vcpus = 1,
						   .cmdline = "console=ttyS0" });
	launch_ok(&vm);
	const char *want[] = {
		"open /dev/sev",
		"sev INIT2 vmsa_features=0x0 flags=0 ghcb=0",
		"vm SET_USER_MEMORY_REGION slot=0 gpa=0x0 size=0x1000000 uaddr=ram+0x0",
		"vm MEMORY_ENCRYPT_REG_REGION addr=ram+0x0 size=0x1000000",
		"vm SET_USER_MEMORY_REGION slot=1 gpa=0xffffc000 size=0x4000 uaddr=fw+0x0",
		"vm MEMORY_ENCRYPT_REG_REGION addr=fw+0x0 size=0x4000",
		"sev LAUNCH_START policy=0x1 dh_len=0 session_len=0",
		"sev LAUNCH_UPDATE_DATA uaddr=fw+0x0 len=0x4000",
		"sev LAUNCH_UPDATE_DATA uaddr=ram+0x810c00 len=0xb0",
		vcpu0_reset[0], vcpu0_reset[1], vcpu0_reset[2], vcpu0_reset[3], vcpu0_reset[4],
		vcpu0_reset[5], vcpu0_reset[6], vcpu0_reset[7], vcpu0_reset[8],
		"sev LAUNCH_MEASURE len=0",
		"sev LAUNCH_MEASURE len=48",
		"sev LAUNCH_FINISH",
	};
	expect_log(&vm.kvm, want, sizeof(want) / sizeof(want[0]));
	expect_digest_agrees(&vm);
	cr_assert_eq(vm.kvm.bytes_measured, FAKE_FW_SIZE + 176);

	/* The blob the guest owner receives is the one `ember sev measure --launch-blob` makes. */
	struct sev_launch_blob_input in = {
		.api_major = FAKE_API_MAJOR, .api_minor = FAKE_API_MINOR, .build = FAKE_BUILD,
		.policy = 1,
	};
	memcpy(in.tik, fake_tik, sizeof(in.tik));
	memcpy(in.nonce, fake_nonce, sizeof(in.nonce));
	size_t len;
	struct error e = { "" };
	uint8_t digest[SEV_DIGEST_MAX];
	cr_assert_eq(sev_digest_compute(&vm.plan, digest, &len, &e), 0);
	memcpy(in.digest, digest, sizeof(in.digest));
	uint8_t blob[SEV_LAUNCH_BLOB_LEN];
	cr_assert_eq(sev_launch_blob(&in, blob, &e), 0);
	cr_assert_eq(vm.launch.measurement_len, SEV_LAUNCH_BLOB_LEN);
	cr_assert_eq(memcmp(vm.launch.measurement, blob, SEV_LAUNCH_BLOB_LEN), 0);

	/* The guest sees the firmware and the hashes table where the plan put them. */
	cr_assert_eq(memcmp(vm.fw_mem, vm.firmware, FAKE_FW_SIZE), 0);
	cr_assert_eq(memcmp(vm.ram + FAKE_HASH_TABLE_GPA, vm.plan.hashes, 176), 0);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake, sev_es_one_vcpu_sequence)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SEV_ES, .vcpus = 1 });
	launch_ok(&vm);
	const char *want[] = {
		"open /dev/sev",
		"sev INIT2 vmsa_features=0x0 flags=0 ghcb=0",
		"vm SET_USER_MEMORY_REGION slot=0 gpa=0x0 size=0x1000000 uaddr=ram+0x0",
		"vm MEMORY_ENCRYPT_REG_REGION addr=ram+0x0 size=0x1000000",
		"vm SET_USER_MEMORY_REGION slot=1 gpa=0xffffc000 size=0x4000 uaddr=fw+0x0",
		"vm MEMORY_ENCRYPT_REG_REGION addr=fw+0x0 size=0x4000",
		"sev LAUNCH_START policy=0x5 dh_len=0 session_len=0",
		"sev LAUNCH_UPDATE_DATA uaddr=fw+0x0 len=0x4000",
		vcpu0_reset[0], vcpu0_reset[1], vcpu0_reset[2], vcpu0_reset[3], vcpu0_reset[4],
		vcpu0_reset[5], vcpu0_reset[6], vcpu0_reset[7], vcpu0_reset[8],
		"sev LAUNCH_UPDATE_VMSA",
		"sev LAUNCH_MEASURE len=0",
		"sev LAUNCH_MEASURE len=48",
		"sev LAUNCH_FINISH",
	};
	expect_log(&vm.kvm, want, sizeof(want) / sizeof(want[0]));
	expect_digest_agrees(&vm);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake, sev_es_four_vcpus)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SEV_ES, .vcpus = 4,
						   .cmdline = "" });
	launch_ok(&vm);
	/* Every vCPU is loaded, in order, before LAUNCH_UPDATE_VMSA measures them. */
	int vmsa = fake_kvm_find(&vm.kvm, "sev LAUNCH_UPDATE_VMSA", 0);
	cr_assert_gt(vmsa, 0);
	int at = 0;
	for (unsigned i = 0; i < 4; i++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "vcpu%u SET_SREGS", i);
		int found = fake_kvm_find(&vm.kvm, prefix, (unsigned)at);
		cr_assert(found > at && found < vmsa, "%s missing or out of order", prefix);
		at = found;
	}
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev LAUNCH_UPDATE_DATA"), 2);
	/* APs start at OVMF's SEV-ES reset block: CS base 0xffff0000, IP 0xf000. */
	cr_assert_eq(vm.kvm.vcpus[3].sregs.cs.base, 0xffff0000);
	cr_assert_eq(vm.kvm.vcpus[3].regs.rip, 0xf000);
	expect_digest_agrees(&vm);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake, snp_one_vcpu_exact_sequence)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SNP, .vcpus = 1,
						   .features = SEV_FEATURE_SNP_ACTIVE,
						   .cmdline = "console=ttyS0" });
	launch_ok(&vm);
	const char *want[] = {
		"vm CHECK_EXTENSION 233",
		"vm CHECK_EXTENSION 234",
		"vm CHECK_EXTENSION 201",
		"open /dev/sev",
		"sev INIT2 vmsa_features=0x0 flags=0 ghcb=0",
		"vm ENABLE_CAP cap=201 args0=0x1000",
		"vm CREATE_GUEST_MEMFD size=0x1000000 flags=0",
		"vm SET_USER_MEMORY_REGION2 slot=0 flags=0x4 gpa=0x0 size=0x1000000 uaddr=ram+0x0 "
		"gmem=200 offset=0x0",
		"vm SET_MEMORY_ATTRIBUTES gpa=0x0 size=0x1000000 attrs=0x8",
		"vm CREATE_GUEST_MEMFD size=0x4000 flags=0",
		"vm SET_USER_MEMORY_REGION2 slot=1 flags=0x4 gpa=0xffffc000 size=0x4000 uaddr=fw+0x0 "
		"gmem=201 offset=0x0",
		"vm SET_MEMORY_ATTRIBUTES gpa=0xffffc000 size=0x4000 attrs=0x8",
		"sev SNP_LAUNCH_START policy=0x30000 flags=0",
		"sev SNP_LAUNCH_UPDATE gfn=0xffffc uaddr=fw+0x0 len=0x4000 type=1",
		"sev SNP_LAUNCH_UPDATE gfn=0x800 uaddr=ram+0x800000 len=0x9000 type=3",
		"sev SNP_LAUNCH_UPDATE gfn=0x80a uaddr=ram+0x80a000 len=0x3000 type=3",
		"sev SNP_LAUNCH_UPDATE gfn=0x80d uaddr=ram+0x80d000 len=0x1000 type=5",
		"sev SNP_LAUNCH_UPDATE gfn=0x80e uaddr=ram+0x80e000 len=0x1000 type=6",
		"sev SNP_LAUNCH_UPDATE gfn=0x80f uaddr=ram+0x80f000 len=0x1000 type=3",
		"sev SNP_LAUNCH_UPDATE gfn=0x810 uaddr=ram+0x810000 len=0x1000 type=1",
		"sev SNP_LAUNCH_UPDATE gfn=0x811 uaddr=ram+0x811000 len=0xf000 type=3",
		vcpu0_reset[0], vcpu0_reset[1], vcpu0_reset[2], vcpu0_reset[3], vcpu0_reset[4],
		vcpu0_reset[5], vcpu0_reset[6], vcpu0_reset[7], vcpu0_reset[8],
		"sev SNP_LAUNCH_FINISH id_block_en=0 host_data[0]=0xab",
	};
	expect_log(&vm.kvm, want, sizeof(want) / sizeof(want[0]));
	expect_digest_agrees(&vm);
	cr_assert_eq(vm.kvm.hypercall_exits, 1u << 12);
	cr_assert(fake_kvm_is_private(&vm.kvm, 0x80e000));
	/* The CPUID page holds the vCPU's three leaves; the hashes page the table. */
	cr_assert_eq(sev_get_le32(vm.ram + 0x80e000), 3);
	cr_assert_eq(sev_get_le32(vm.ram + 0x80e000 + 16 + 2 * 48), 0x80000008);
	cr_assert_eq(memcmp(vm.ram + FAKE_HASH_TABLE_GPA, vm.plan.hashes + 0xc00, 176), 0);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake, snp_four_vcpus_with_debug_swap)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SNP, .vcpus = 4,
						   .features = 0x21 });
	launch_ok(&vm);
	/* KVM gets DebugSwap without SNPActive (it adds that itself), after checking it has it. */
	cr_assert_geq(fake_kvm_find(&vm.kvm, "kvm GET_DEVICE_ATTR group=1 attr=0", 0), 0);
	cr_assert_geq(fake_kvm_find(&vm.kvm, "sev INIT2 vmsa_features=0x20 ", 0), 0);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "sev SNP_LAUNCH_UPDATE"), 8);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "vcpu3 SET_REGS rip=0xf000 rdx=0x800f12"), 1);
	int finish = fake_kvm_find(&vm.kvm, "sev SNP_LAUNCH_FINISH", 0);
	cr_assert_gt(finish, fake_kvm_find(&vm.kvm, "vcpu3 SET_MSRS", 0));
	cr_assert_eq(vm.kvm.pages_measured, FAKE_FW_PAGES + 9 + 3 + 1 + 1 + 1 + 1 + 15);
	expect_digest_agrees(&vm);
	fake_vm_teardown(&vm);
}

/* KVM may take a range in several bites, or ask to be called again. */
Test(sev_launch_fake, snp_partial_updates_and_eagain)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SNP, .vcpus = 2,
						   .features = 0x1 });
	vm.kvm.max_pages_per_update = 2;
	vm.kvm.eagain_updates = 3;
	launch_ok(&vm);
	cr_assert_gt(fake_kvm_count(&vm.kvm, "sev SNP_LAUNCH_UPDATE"), 8 + 3);
	/* KVM moves on gfn_start and len; for ZERO pages it leaves uaddr alone. */
	cr_assert_geq(fake_kvm_find(&vm.kvm, "sev SNP_LAUNCH_UPDATE gfn=0x802 uaddr=ram+0x800000 "
					     "len=0x7000 type=3", 0), 0);
	cr_assert_geq(fake_kvm_find(&vm.kvm, "sev SNP_LAUNCH_UPDATE gfn=0xffffe uaddr=fw+0x2000 "
					     "len=0x2000 type=1", 0), 0);
	expect_digest_agrees(&vm);
	fake_vm_teardown(&vm);
}

/* With the shared vectors: the fake PSP reaches the published launch digests too. */
static void known_answer(enum sev_mode mode, uint64_t features, const char *cmdline,
			 const char *firmware, const char *hex)
{
	SEV_REQUIRE_VECTORS();
	size_t len;
	uint8_t *fw = sev_vector_read(firmware, &len);
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = mode, .vcpus = 1, .features = features,
						   .cmdline = cmdline, .firmware = fw,
						   .firmware_len = len });
	launch_ok(&vm);
	expect_digest_agrees(&vm);
	uint8_t want[48];
	size_t n = strlen(hex) / 2;
	sev_test_unhex(hex, want, n);
	const uint8_t *got = mode == SEV_MODE_SNP ? vm.kvm.snp_ld : vm.kvm.sev_digest;
	cr_assert_eq(memcmp(got, want, n), 0, "fake PSP digest differs from the known answer");
	fake_vm_teardown(&vm);
	free(fw);
}

#define AMDSEV "snp-measure/ovmf_AmdSev_suffix.bin"

Test(sev_launch_fake, snp_known_answer_debug_swap)
{
	known_answer(SEV_MODE_SNP, 0x21, NULL, AMDSEV,
		     "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf"
		     "281a9278a4a2ebe0eed9f22adbcd0e2b");
}

Test(sev_launch_fake, snp_known_answer_with_kernel_hashes)
{
	known_answer(SEV_MODE_SNP, 0x1, "console=ttyS0 loglevel=7", AMDSEV,
		     "6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362"
		     "f390ef83a92046c042e706363b4b08fa");
}

Test(sev_launch_fake, sev_es_known_answer)
{
	known_answer(SEV_MODE_SEV_ES, 0, "", AMDSEV,
		     "13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c");
}

Test(sev_launch_fake, sev_known_answer)
{
	known_answer(SEV_MODE_SEV, 0, "console=ttyS0 loglevel=7", AMDSEV,
		     "82a3ee5d537c3620628270c292ae30cb40c3c878666a7890ee7ef2a08fb535ff");
}

Test(sev_launch_fake, secret_after_measure)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SEV, .vcpus = 1 });
	struct sev_launch *l = &vm.launch;
	struct error e = { "" };
	cr_assert_eq(sev_launch_init(l, &vm.ops, &vm.plan, &vm.cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 0, 0, FAKE_RAM_SIZE, vm.ram, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_add_memory(l, 1, (1ull << 32) - FAKE_FW_SIZE, FAKE_FW_SIZE,
					   vm.fw_mem, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_load(l, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(sev_launch_measure(l, &e), 0, "%s", e.msg);
	uint8_t header[52] = { 1 }, secret[64] = { 2 };
	struct sev_launch_secret s = { header, sizeof(header), secret, sizeof(secret), 0x80b000 };
	cr_assert_eq(sev_launch_inject_secret(l, &s, &e), 0, "%s", e.msg);
	cr_assert_geq(fake_kvm_find(&vm.kvm, "sev LAUNCH_SECRET hdr_len=52 guest=ram+0x80b000 "
					     "guest_len=64 trans_len=64", 0), 0);
	cr_assert_eq(sev_launch_finish(l, &e), 0, "%s", e.msg);
	fake_vm_teardown(&vm);
}

Test(sev_launch_fake, destroy_closes_every_fd)
{
	struct fake_vm vm;
	fake_vm_setup(&vm, &(struct fake_vm_spec){ .mode = SEV_MODE_SNP, .vcpus = 1,
						   .features = 1 });
	launch_ok(&vm);
	sev_launch_destroy(&vm.launch);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "close 200"), 1);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "close 201"), 1);
	cr_assert_eq(fake_kvm_count(&vm.kvm, "close 100"), 1);
	sev_launch_destroy(&vm.launch); /* twice is harmless */
	cr_assert_eq(fake_kvm_count(&vm.kvm, "close"), 3);
	fake_vm_teardown(&vm);
}
