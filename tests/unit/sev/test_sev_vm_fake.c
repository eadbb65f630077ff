/* The whole confidential VM against the fake KVM: sev_vm_build from KVM_CREATE_VM to
 * LAUNCH_FINISH for SEV, SEV-ES and SNP, every call in order with its arguments (VM type,
 * irqchip, memslots and guest_memfds, memory attributes, vCPUs, the launch, the guest owner's
 * measurement and secret), then the run-time exits sev_vm_handle_exit routes to sev_convert. */
#include <errno.h>
#include <linux/kvm_para.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sev_codec.h"
#include "sev_convert.h"
#include "sev_digest.h"
#include "sev_fake_build.h"
#include "sev_fake_vm.h"
#include "sev_hashes.h"
#include "sev_vmsa.h"

#define GIB (1ull << 30)
#define ENCRYPTED (1ull << 4) /* KVM_MAP_GPA_RANGE_ENCRYPTED */

static struct fake_build t;
static struct error e;

static void expect_log(const struct fake_kvm *f, const char *const *want, unsigned n)
{
	for (unsigned i = 0; i < n && i < f->n_log; i++)
		cr_assert_str_eq(f->log[i], want[i], "call %u: got '%s', want '%s'", i, f->log[i],
				 want[i]);
	cr_assert_eq(f->n_log, n, "%u calls, want %u (first extra or missing: '%s')", f->n_log, n,
		     f->n_log > n ? f->log[n] : want[f->n_log]);
}

static void build_ok(void)
{
	memset(&e, 0, sizeof(e));
	cr_assert_eq(fake_build_run(&t, &e), 0, "build failed: %s", e.msg);
	cr_assert_eq(t.vm.launch.stage, SEV_STAGE_FINISHED);
	cr_assert(t.kvm.finished);
}

/* What the fake PSP measured is what the host predicted, and the VMSAs it built from the vCPUs'
 * registers are the plan's. */
static void expect_digest_agrees(void)
{
	const uint8_t *measured = t.in.mode == SEV_MODE_SNP ? t.kvm.snp_ld : t.kvm.sev_digest;
	cr_assert_eq(t.vm.digest_len, t.in.mode == SEV_MODE_SNP ? 48u : 32u);
	cr_assert_eq(memcmp(measured, t.vm.digest, t.vm.digest_len), 0,
		     "the fake PSP measured another digest than the host predicted");
	cr_assert_eq(t.kvm.vmsas_measured, t.vm.plan.n_vmsas);
	for (unsigned i = 0; i < t.vm.plan.n_vmsas; i++)
		cr_assert_eq(memcmp(t.kvm.vmsa_built[i], t.vm.plan.vmsas[i], SEV_VMSA_SIZE), 0,
			     "VMSA %u differs from the plan's", i);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s missing", path);
	char *buf = calloc(1, 8192);
	size_t n = fread(buf, 1, 8191, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* The value of "key: value" in text, or NULL. */
static const char *value_of(const char *text, const char *key)
{
	static char out[256];
	size_t klen = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			const char *v = line + klen + 2;
			size_t n = strcspn(v, "\n");
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
	}
	return NULL;
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

static const char kernel[] = "not really a bzImage, but hashed and served all the same";
static const char initrd[] = "an initrd";

/* SEV with measured direct boot and the guest owner's session: the full sequence, the
 * measurement file, and a secret read after it. */
Test(sev_vm_fake, sev_full_sequence_with_owner)
{
	fake_build_setup(&t, SEV_MODE_SEV, 1, 64ull << 20);
	uint8_t pdh[3] = { 1, 2, 3 }, session[7] = { 4 };
	t.in.direct_boot = true;
	t.in.kernel = (const uint8_t *)kernel;
	t.in.kernel_len = sizeof(kernel) - 1;
	t.in.initrd = (const uint8_t *)initrd;
	t.in.initrd_len = sizeof(initrd) - 1;
	t.in.cmdline = "console=ttyS0";
	t.in.owner_pdh = pdh;
	t.in.owner_pdh_len = sizeof(pdh);
	t.in.owner_session = session;
	t.in.owner_session_len = sizeof(session);
	char measurement_path[128], secret_path[128];
	snprintf(measurement_path, sizeof(measurement_path), "%s", fake_build_path(&t, "measure"));
	snprintf(secret_path, sizeof(secret_path), "%s", fake_build_path(&t, "secret"));
	t.in.measurement_out = measurement_path;
	t.in.secret_in = secret_path;
	/* 52-byte packet header and a 64-byte secret, base64 ("ESIz..." and "q7vL..."). */
	uint8_t header[52], secret[64];
	memset(header, 0x11, sizeof(header));
	memset(secret, 0xab, sizeof(secret));
	char h64[80], s64[96], text[256];
	sev_base64_encode(header, sizeof(header), h64);
	sev_base64_encode(secret, sizeof(secret), s64);
	snprintf(text, sizeof(text), "# from the guest owner\nheader: %s\nsecret: %s\n", h64, s64);
	write_text(secret_path, text);

	build_ok();
	const char *want[] = {
		"kvm CREATE_VM type=2",
		"vm CREATE_IRQCHIP",
		"vm CREATE_PIT2 flags=0x1",
		"hook prepare vm_fd=30",
		"open /dev/sev",
		"sev INIT2 vmsa_features=0x0 flags=0 ghcb=0",
		"vm SET_USER_MEMORY_REGION slot=0 gpa=0x0 size=0x4000000 uaddr=ram+0x0",
		"vm MEMORY_ENCRYPT_REG_REGION addr=ram+0x0 size=0x4000000",
		"vm SET_USER_MEMORY_REGION slot=1 gpa=0xffffc000 size=0x4000 uaddr=slot1+0x0",
		"vm MEMORY_ENCRYPT_REG_REGION addr=slot1+0x0 size=0x4000",
		"hook devices",
		"vm CREATE_VCPU id=0",
		"sev LAUNCH_START policy=0x1 dh_len=3 session_len=7",
		"sev LAUNCH_UPDATE_DATA uaddr=slot1+0x0 len=0x4000",
		"sev LAUNCH_UPDATE_DATA uaddr=ram+0x810c00 len=0xb0",
		vcpu0_reset[0], vcpu0_reset[1], vcpu0_reset[2], vcpu0_reset[3], vcpu0_reset[4],
		vcpu0_reset[5], vcpu0_reset[6], vcpu0_reset[7], vcpu0_reset[8],
		"sev LAUNCH_MEASURE len=0",
		"sev LAUNCH_MEASURE len=48",
		"sev ioctl cmd=1",
		"sev LAUNCH_SECRET hdr_len=52 guest=ram+0x80d000 guest_len=64 trans_len=64",
		"sev LAUNCH_FINISH",
	};
	expect_log(&t.kvm, want, sizeof(want) / sizeof(want[0]));
	expect_digest_agrees();
	cr_assert_eq(t.kvm.secrets_injected, 1);

	/* OVMF finds the firmware at the top of 4 GiB and the table over the bytes fw_cfg serves. */
	cr_assert_eq(memcmp(t.vm.fw_mem, t.firmware, t.firmware_len), 0);
	uint8_t table[SEV_HASH_TABLE_PADDED_LEN];
	sev_hashes_build(table, t.in.kernel, t.in.kernel_len, t.in.initrd, t.in.initrd_len,
			 t.in.cmdline);
	cr_assert_eq(memcmp(t.mem.host + FAKE_HASH_TABLE_GPA, table, sizeof(table)), 0);

	/* The owner's check: the HMAC they compute with their TIK over the digest they predict
	 * and the values in the file is the measurement in the file. */
	char *file = read_text(measurement_path);
	cr_assert_str_eq(value_of(file, "mode"), "sev");
	cr_assert_str_eq(value_of(file, "policy"), "0x1");
	cr_assert_str_eq(value_of(file, "api-major"), "1");
	cr_assert_str_eq(value_of(file, "api-minor"), "55");
	cr_assert_str_eq(value_of(file, "build"), "21");
	struct sev_launch_blob_input in = { .api_major = 1, .api_minor = 55, .build = 21,
					    .policy = 1 };
	memcpy(in.tik, fake_tik, sizeof(in.tik));
	memcpy(in.digest, t.vm.digest, sizeof(in.digest));
	size_t n;
	cr_assert_eq(sev_base64_decode(value_of(file, "nonce"), in.nonce, sizeof(in.nonce), &n,
				       &e), 0, "%s", e.msg);
	cr_assert_eq(n, SEV_NONCE_LEN);
	uint8_t blob[SEV_LAUNCH_BLOB_LEN], got[64];
	cr_assert_eq(sev_launch_blob(&in, blob, &e), 0);
	cr_assert_eq(sev_base64_decode(value_of(file, "measurement"), got, sizeof(got), &n, &e), 0);
	cr_assert_eq(n, SEV_LAUNCH_BLOB_LEN);
	cr_assert_eq(memcmp(got, blob, n), 0, "the measurement does not verify");
	char hex[2 * 32 + 1];
	sev_hex_encode(t.vm.digest, 32, hex);
	cr_assert_str_eq(value_of(file, "launch-digest"), hex);
	cr_assert_null(value_of(file, "vcpus"), "SEV measures no vCPU state");
	cr_assert_null(value_of(file, "vcpu-sig"));
	free(file);
	cr_assert_not(sev_vm_state_protected(&t.vm), "SEV's registers stay readable");
	fake_build_teardown(&t);
}

Test(sev_vm_fake, sev_es_two_vcpus_created_before_the_launch)
{
	fake_build_setup(&t, SEV_MODE_SEV_ES, 2, 64ull << 20);
	char path[128];
	snprintf(path, sizeof(path), "%s", fake_build_path(&t, "measure"));
	t.in.measurement_out = path;
	build_ok();
	const char *order[] = {
		"kvm CREATE_VM type=3", "vm CREATE_IRQCHIP", "vm CREATE_PIT2", "hook prepare",
		"open /dev/sev", "sev INIT2 vmsa_features=0x0",
		"vm SET_USER_MEMORY_REGION slot=0 gpa=0x0 size=0x4000000 uaddr=ram+0x0",
		"vm SET_USER_MEMORY_REGION slot=1 gpa=0xffffc000",
		"hook devices", "vm CREATE_VCPU id=0", "vm CREATE_VCPU id=1",
		"sev LAUNCH_START policy=0x5", "sev LAUNCH_UPDATE_DATA uaddr=slot1+0x0 len=0x4000",
		"vcpu0 SET_SREGS", "vcpu1 SET_SREGS", "sev LAUNCH_UPDATE_VMSA",
		"sev LAUNCH_MEASURE len=48", "sev ioctl cmd=1", "sev LAUNCH_FINISH",
	};
	int at = -1;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int found = fake_kvm_find(&t.kvm, order[i], (unsigned)(at + 1));
		cr_assert_gt(found, at, "'%s' missing or out of order", order[i]);
		at = found;
	}
	cr_assert_eq(fake_kvm_count(&t.kvm, "sev LAUNCH_UPDATE_DATA"), 1, "no kernel: no hashes");
	/* The AP starts at OVMF's SEV-ES reset block. */
	cr_assert_eq(t.kvm.vcpus[1].sregs.cs.base, 0xffff0000);
	cr_assert_eq(t.kvm.vcpus[1].regs.rip, 0xf000);
	expect_digest_agrees();
	char *file = read_text(path);
	cr_assert_str_eq(value_of(file, "mode"), "sev-es");
	cr_assert_str_eq(value_of(file, "vcpus"), "2");
	cr_assert_str_eq(value_of(file, "vcpu-sig"), "0x00800f12");
	cr_assert_str_eq(value_of(file, "guest-features"), "0x0");
	free(file);
	cr_assert(sev_vm_state_protected(&t.vm));
	fake_build_teardown(&t);
}

static void launched_snp(void)
{
	/* 4 GiB: RAM below the 32-bit hole and above 4 GiB, two guest_memfd slots. */
	fake_build_setup(&t, SEV_MODE_SNP, 1, 4 * GIB);
	t.in.direct_boot = true;
	t.in.kernel = (const uint8_t *)kernel;
	t.in.kernel_len = sizeof(kernel) - 1;
	t.in.cmdline = "console=ttyS0";
	build_ok();
}

Test(sev_vm_fake, snp_exact_sequence_with_guest_memfd_slots)
{
	launched_snp();
	const char *want[] = {
		"kvm CREATE_VM type=4",
		"vm CREATE_IRQCHIP",
		"vm CREATE_PIT2 flags=0x1",
		"hook prepare vm_fd=30",
		"vm CHECK_EXTENSION 233",
		"vm CHECK_EXTENSION 234",
		"vm CHECK_EXTENSION 201",
		"open /dev/sev",
		"sev INIT2 vmsa_features=0x0 flags=0 ghcb=0",
		"vm ENABLE_CAP cap=201 args0=0x1000",
		"vm CREATE_GUEST_MEMFD size=0xc0000000 flags=0",
		"vm SET_USER_MEMORY_REGION2 slot=0 flags=0x4 gpa=0x0 size=0xc0000000 uaddr=ram+0x0 "
		"gmem=200 offset=0x0",
		"vm SET_MEMORY_ATTRIBUTES gpa=0x0 size=0xc0000000 attrs=0x8",
		"vm CREATE_GUEST_MEMFD size=0x40000000 flags=0",
		"vm SET_USER_MEMORY_REGION2 slot=1 flags=0x4 gpa=0x100000000 size=0x40000000 "
		"uaddr=ram+0xc0000000 gmem=201 offset=0x0",
		"vm SET_MEMORY_ATTRIBUTES gpa=0x100000000 size=0x40000000 attrs=0x8",
		"vm CREATE_GUEST_MEMFD size=0x4000 flags=0",
		"vm SET_USER_MEMORY_REGION2 slot=2 flags=0x4 gpa=0xffffc000 size=0x4000 "
		"uaddr=slot2+0x0 gmem=202 offset=0x0",
		"vm SET_MEMORY_ATTRIBUTES gpa=0xffffc000 size=0x4000 attrs=0x8",
		"hook devices",
		"vm CREATE_VCPU id=0",
		"sev SNP_LAUNCH_START policy=0x30000 flags=0",
		"sev SNP_LAUNCH_UPDATE gfn=0xffffc uaddr=slot2+0x0 len=0x4000 type=1",
		"sev SNP_LAUNCH_UPDATE gfn=0x800 uaddr=ram+0x800000 len=0x9000 type=3",
		"sev SNP_LAUNCH_UPDATE gfn=0x80a uaddr=ram+0x80a000 len=0x3000 type=3",
		"sev SNP_LAUNCH_UPDATE gfn=0x80d uaddr=ram+0x80d000 len=0x1000 type=5",
		"sev SNP_LAUNCH_UPDATE gfn=0x80e uaddr=ram+0x80e000 len=0x1000 type=6",
		"sev SNP_LAUNCH_UPDATE gfn=0x80f uaddr=ram+0x80f000 len=0x1000 type=3",
		"sev SNP_LAUNCH_UPDATE gfn=0x810 uaddr=ram+0x810000 len=0x1000 type=1",
		"sev SNP_LAUNCH_UPDATE gfn=0x811 uaddr=ram+0x811000 len=0xf000 type=3",
		vcpu0_reset[0], vcpu0_reset[1], vcpu0_reset[2], vcpu0_reset[3], vcpu0_reset[4],
		vcpu0_reset[5], vcpu0_reset[6], vcpu0_reset[7], vcpu0_reset[8],
		"sev SNP_LAUNCH_FINISH id_block_en=0 host_data[0]=0x00",
	};
	expect_log(&t.kvm, want, sizeof(want) / sizeof(want[0]));
	expect_digest_agrees();
	cr_assert(fake_kvm_is_private(&t.kvm, 0));
	cr_assert(fake_kvm_is_private(&t.kvm, 0x13ffff000));
	cr_assert(fake_kvm_is_private(&t.kvm, 0xfffff000));
	cr_assert_eq(t.kvm.hypercall_exits, 1u << KVM_HC_MAP_GPA_RANGE);
	cr_assert(sev_vm_state_protected(&t.vm));
	fake_build_teardown(&t);
}

static enum sev_vm_exit memory_fault(struct kvm_run *run, uint64_t flags, uint64_t gpa,
				     uint64_t size)
{
	memset(run, 0, sizeof(*run));
	run->exit_reason = SEV_KVM_EXIT_MEMORY_FAULT;
	struct sev_kvm_memory_fault *f =
		(struct sev_kvm_memory_fault *)sev_kvm_run_memory_fault(run);
	*f = (struct sev_kvm_memory_fault){ .flags = flags, .gpa = gpa, .size = size };
	/* KVM_RUN returned -1 with errno EFAULT. */
	return sev_vm_handle_exit(&t.vm, run, -1, EFAULT, &e);
}

static enum sev_vm_exit map_gpa_range(struct kvm_run *run, uint64_t nr, uint64_t gpa,
				      uint64_t npages, uint64_t attrs)
{
	memset(run, 0, sizeof(*run));
	run->exit_reason = KVM_EXIT_HYPERCALL;
	run->hypercall.nr = nr;
	run->hypercall.args[0] = gpa;
	run->hypercall.args[1] = npages;
	run->hypercall.args[2] = attrs;
	return sev_vm_handle_exit(&t.vm, run, 0, 0, &e);
}

/* A fake KVM_EXIT_MEMORY_FAULT and a fake KVM_HC_MAP_GPA_RANGE exit reach sev_convert: the
 * attribute changes, the other side is discarded, and the vCPU re-enters. */
Test(sev_vm_fake, snp_exits_reach_the_conversions)
{
	launched_snp();
	struct kvm_run run;
	unsigned before = t.kvm.n_log;
	cr_assert_eq(memory_fault(&run, 0, 4 * GIB, 0x200000), SEV_VM_EXIT_REENTER, "%s", e.msg);
	cr_assert_str_eq(t.kvm.log[before], "vm SET_MEMORY_ATTRIBUTES gpa=0x100000000 "
					    "size=0x200000 attrs=0x0");
	cr_assert_str_eq(t.kvm.log[before + 1], "discard private gmem=201 offset=0x0 len=0x200000");
	cr_assert_not(fake_kvm_is_private(&t.kvm, 4 * GIB));
	cr_assert_eq(run.exit_reason, KVM_EXIT_UNKNOWN, "a stale reason must not repeat");

	cr_assert_eq(map_gpa_range(&run, KVM_HC_MAP_GPA_RANGE, 4 * GIB, 0x200, ENCRYPTED),
		     SEV_VM_EXIT_REENTER, "%s", e.msg);
	cr_assert_eq(run.hypercall.ret, 0);
	cr_assert(fake_kvm_is_private(&t.kvm, 4 * GIB));
	cr_assert_str_eq(t.kvm.log[t.kvm.n_log - 1], "discard shared ram+0xc0000000 len=0x200000");

	/* Low RAM shares through its own guest_memfd. */
	cr_assert_eq(map_gpa_range(&run, KVM_HC_MAP_GPA_RANGE, 0x100000, 16, 0),
		     SEV_VM_EXIT_REENTER, "%s", e.msg);
	cr_assert_str_eq(t.kvm.log[t.kvm.n_log - 1], "discard private gmem=200 offset=0x100000 "
						     "len=0x10000");
	cr_assert_not(fake_kvm_is_private(&t.kvm, 0x10f000));
	cr_assert(fake_kvm_is_private(&t.kvm, 0x110000));
	fake_build_teardown(&t);
}

Test(sev_vm_fake, snp_bad_requests_and_other_exits)
{
	launched_snp();
	struct kvm_run run;
	unsigned before = t.kvm.n_log;
	/* Across the 32-bit hole: refused, the guest told, nothing changed, the vCPU goes on. */
	cr_assert_eq(map_gpa_range(&run, KVM_HC_MAP_GPA_RANGE, 3 * GIB - 0x1000, 2, 0),
		     SEV_VM_EXIT_REFUSED);
	cr_assert_eq(run.hypercall.ret, (uint64_t)-KVM_EINVAL);
	cr_assert_neq(strstr(e.msg, "not all guest RAM"), NULL, "%s", e.msg);
	cr_assert_eq(t.kvm.n_log, before);
	/* Another hypercall: KVM forwards only what Ember enabled, so this is a host bug. */
	cr_assert_eq(map_gpa_range(&run, KVM_HC_KICK_CPU, 0, 0, 0), SEV_VM_EXIT_FATAL);
	/* Not the launch's business: I/O exits, other KVM_RUN errors. */
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_IO;
	cr_assert_eq(sev_vm_handle_exit(&t.vm, &run, 0, 0, &e), SEV_VM_EXIT_NOT_MINE);
	cr_assert_eq(sev_vm_handle_exit(&t.vm, &run, -1, EFAULT, &e), SEV_VM_EXIT_NOT_MINE);
	run.exit_reason = SEV_KVM_EXIT_MEMORY_FAULT;
	cr_assert_eq(sev_vm_handle_exit(&t.vm, &run, -1, EINTR, &e), SEV_VM_EXIT_NOT_MINE);
	/* A fault KVM reports outside guest RAM cannot happen: fatal. */
	cr_assert_eq(memory_fault(&run, 0, 0xd0000000, 0x1000), SEV_VM_EXIT_FATAL);
	cr_assert_eq(t.kvm.n_log, before);
	cr_assert_eq(sev_vm_handle_exit(NULL, &run, -1, EFAULT, &e), SEV_VM_EXIT_NOT_MINE);
	fake_build_teardown(&t);
}

/* SEV and SEV-ES have no private memory: their exits are all the VMM's own. */
Test(sev_vm_fake, sev_exits_are_not_conversions)
{
	fake_build_setup(&t, SEV_MODE_SEV, 1, 64ull << 20);
	build_ok();
	struct kvm_run run;
	cr_assert_eq(map_gpa_range(&run, KVM_HC_MAP_GPA_RANGE, 0, 1, 0), SEV_VM_EXIT_NOT_MINE);
	cr_assert_eq(memory_fault(&run, 0, 0, 0x1000), SEV_VM_EXIT_NOT_MINE);
	cr_assert_eq(fake_kvm_count(&t.kvm, "vm SET_MEMORY_ATTRIBUTES"), 0);
	fake_build_teardown(&t);
}

Test(sev_vm_fake, snp_guest_features_and_vcpus)
{
	fake_build_setup(&t, SEV_MODE_SNP, 4, 64ull << 20);
	t.in.guest_features = 0x21; /* DebugSwap */
	build_ok();
	cr_assert_geq(fake_kvm_find(&t.kvm, "sev INIT2 vmsa_features=0x20 ", 0), 0);
	cr_assert_eq(fake_kvm_count(&t.kvm, "vm CREATE_VCPU"), 4);
	cr_assert_eq(fake_kvm_count(&t.kvm, "vcpu3 SET_REGS rip=0xf000 rdx=0x800f12"), 1);
	expect_digest_agrees();
	fake_build_teardown(&t);
}
