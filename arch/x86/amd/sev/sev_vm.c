#include "sev_vm.h"

#include <errno.h>
#include <linux/psp-sev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../layout.h"
#include "sev_codec.h"
#include "sev_convert.h"
#include "sev_digest.h"
#include "sev_hashes.h"
#include "sev_owner.h"
#include "sev_vmsa.h"

/* The local APIC's 1 MiB window ends here; the firmware range must sit above it. */
#define FIRMWARE_LOWEST_GPA (LAYOUT_LAPIC + 0x100000ull)

/* The VMSAs' SEV_FEATURES: SNP always has SNPActive, SEV-ES never, SEV has no VMSA. */
static int choose_features(struct sev_vm *s, const struct sev_vm_input *in, struct error *e)
{
	unsigned long long f = in->guest_features;
	switch (in->mode) {
	case SEV_MODE_SEV:
		if (f)
			return error_set(e, "SEV has no VMSA: guest features 0x%llx do not apply", f);
		break;
	case SEV_MODE_SEV_ES:
		if (f & SEV_FEATURE_SNP_ACTIVE)
			return error_set(e, "guest features 0x%llx have SNPActive (bit 0), which is "
					 "SNP's", f);
		break;
	case SEV_MODE_SNP:
		if (!f)
			f = SEV_FEATURE_SNP_ACTIVE;
		if (!(f & SEV_FEATURE_SNP_ACTIVE))
			return error_set(e, "guest features 0x%llx lack SNPActive (bit 0)", f);
		break;
	}
	s->guest_features = f;
	return 0;
}

static int check_input(struct sev_vm *s, const struct sev_vm_input *in, struct error *e)
{
	if (!in->firmware || !in->firmware_len)
		return error_set(e, "a confidential guest needs its firmware (--firmware)");
	if (!in->mem || !in->mem->nregions)
		return error_set(e, "no guest memory");
	if (in->vcpus < 1 || in->vcpus > SEV_PLAN_MAX_VCPUS || in->vcpus > SEV_KVM_MAX_VCPUS)
		return error_set(e, "%u vCPUs is out of range for a confidential guest (1-%d)",
				 in->vcpus, SEV_PLAN_MAX_VCPUS);
	if (in->direct_boot && (!in->kernel || !in->kernel_len))
		return error_set(e, "measured direct boot needs a kernel");
	if (in->mode == SEV_MODE_SNP && (in->owner_pdh || in->owner_session || in->secret_in))
		return error_set(e, "SNP has no launch session or LAUNCH_SECRET: its guest owner "
				 "attests with a report");
	if (in->secret_in && !in->owner_session)
		return error_set(e, "a launch secret needs the owner's launch session (its keys wrap "
				 "the secret)");
	return choose_features(s, in, e);
}

/* KVM_CREATE_VM with the mode's VM type, then the in-kernel PIC, IOAPIC, LAPICs and PIT (SEV-ES
 * needs the in-kernel LAPIC: KVM starts the APs). */
static int create_vm(struct sev_vm *s, struct error *e)
{
	unsigned long type = sev_launch_vm_type(s->mode);
	int fd;
	/* KVM_CREATE_VM may fail with EINTR under load (vm.c says more); retrying is safe. */
	do
		fd = s->ops.kvm_ioctl(s->ops.ctx, KVM_CREATE_VM, (void *)(uintptr_t)type);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return error_errno(e, "KVM_CREATE_VM (type %lu, %s)", type, sev_mode_name(s->mode));
	s->vm_fd = fd;
	if (s->real)
		s->real->vm_fd = fd;
	if (s->ops.vm_ioctl(s->ops.ctx, KVM_CREATE_IRQCHIP, NULL) < 0)
		return error_errno(e, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (s->ops.vm_ioctl(s->ops.ctx, KVM_CREATE_PIT2, &pit) < 0)
		return error_errno(e, "KVM_CREATE_PIT2");
	return 0;
}

static int build_plan(struct sev_vm *s, const struct sev_vm_input *in, struct error *e)
{
	struct sev_plan_input p = {
		.mode = in->mode, .firmware = in->firmware, .firmware_len = in->firmware_len,
		.kernel_hashes = in->direct_boot, .vcpus = in->vcpus,
		.cpuid_sig = s->cpu.signature, .guest_features = s->guest_features,
	};
	/* The very bytes fw_cfg serves: OVMF hashes what it reads and compares with this table. */
	if (in->direct_boot)
		sev_hashes_build(p.hash_table, in->kernel, in->kernel_len, in->initrd,
				 in->initrd_len, in->cmdline);
	s->plan_built = true; /* sev_plan_free is safe after a failed build */
	if (sev_plan_build(&s->plan, &p, e) < 0)
		return error_prefix(e, "firmware");
	if (s->plan.ovmf.gpa < FIRMWARE_LOWEST_GPA)
		return error_set(e, "firmware is %zu bytes: mapped to end at 4 GiB it would cover "
				 "the local APIC (at most %llu bytes fit)", s->plan.ovmf.size,
				 (unsigned long long)(LAYOUT_4G - FIRMWARE_LOWEST_GPA));
	return sev_digest_compute(&s->plan, s->digest, &s->digest_len, e);
}

static int init_launch(struct sev_vm *s, const struct sev_vm_input *in, struct error *e)
{
	struct sev_launch_config cfg = {
		.mode = in->mode,
		.policy = in->policy ? in->policy : sev_launch_default_policy(in->mode),
		.owner_pdh = in->owner_pdh, .owner_pdh_len = (uint32_t)in->owner_pdh_len,
		.owner_session = in->owner_session,
		.owner_session_len = (uint32_t)in->owner_session_len,
		.cpuid_sig = s->cpu.signature, .cpuid = s->cpu.cpuid, .n_cpuid = s->cpu.n_cpuid,
	};
	if (in->owner_pdh_len > UINT32_MAX || in->owner_session_len > UINT32_MAX)
		return error_set(e, "the owner's launch session is too large");
	return sev_launch_init(&s->launch, &s->ops, &s->plan, &cfg, e);
}

/* Guest RAM as slots 0..n-1, then the firmware range (its own anonymous memory: the launch
 * copies the image in and the PSP encrypts it there) as slot n. */
static int add_memory(struct sev_vm *s, const struct sev_vm_input *in, struct error *e)
{
	const struct guest_mem *mem = in->mem;
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];
		if (sev_launch_add_memory(&s->launch, i, r->gpa, r->size, r->host, e) < 0)
			return error_prefix(e, "guest RAM at 0x%llx", (unsigned long long)r->gpa);
	}
	s->fw_len = s->plan.ovmf.size;
	void *fw = mmap(NULL, s->fw_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fw == MAP_FAILED)
		return error_errno(e, "cannot map %zu bytes for the firmware", s->fw_len);
	s->fw_mem = fw;
	if (sev_launch_add_memory(&s->launch, mem->nregions, s->plan.ovmf.gpa, s->fw_len, fw, e) < 0)
		return error_prefix(e, "firmware range");
	return 0;
}

static int create_vcpus(struct sev_vm *s, unsigned n, const struct sev_vm_hooks *hooks,
			struct error *e)
{
	s->vcpu_fds = calloc(n, sizeof(*s->vcpu_fds));
	if (!s->vcpu_fds)
		return error_set(e, "out of memory for %u vCPUs", n);
	for (unsigned i = 0; i < n; i++)
		s->vcpu_fds[i] = -1;
	if (hooks->create_vcpus(hooks->opaque, s->vcpu_fds, n, e) < 0)
		return -1;
	s->nvcpus = n;
	if (s->real)
		sev_kvm_real_set_vcpus(s->real, s->vcpu_fds, n);
	return 0;
}

/* The PSP's API version and build are part of the LAUNCH_MEASURE HMAC: the owner needs them. */
static void platform_status(struct sev_vm *s, struct sev_owner_measurement *m)
{
	struct sev_user_data_status status = { 0 };
	struct sev_issue_cmd cmd = { .cmd = SEV_PLATFORM_STATUS,
				     .data = (uint64_t)(uintptr_t)&status };
	if (!s->ops.sev_ioctl ||
	    s->ops.sev_ioctl(s->ops.ctx, s->launch.sev_fd, SEV_ISSUE_CMD, &cmd) < 0)
		return;
	m->have_api = true;
	m->api_major = status.api_major;
	m->api_minor = status.api_minor;
	m->build = status.build;
}

static void print_measurement(const struct sev_owner_measurement *m)
{
	char text[2 * SEV_LAUNCH_MEASURE_MAX + 4];
	if (m->blob) {
		sev_base64_encode(m->blob, m->blob_len, text);
		fprintf(stderr, "ember: %s launch measurement %s (policy 0x%llx, API %u.%u build %u, "
			"vCPU signature 0x%08x)\n", sev_mode_name(m->mode), text,
			(unsigned long long)m->policy, m->api_major, m->api_minor, m->build,
			m->vcpu_sig);
		return;
	}
	sev_hex_encode(m->digest, m->digest_len, text);
	fprintf(stderr, "ember: %s launch digest %s (policy 0x%llx, %u vCPU%s, vCPU signature "
		"0x%08x, guest features 0x%llx)\n", sev_mode_name(m->mode), text,
		(unsigned long long)m->policy, m->vcpus, m->vcpus == 1 ? "" : "s", m->vcpu_sig,
		(unsigned long long)m->guest_features);
}

static int inject_secret(struct sev_vm *s, const char *path, struct error *e)
{
	struct sev_owner_secret secret;
	if (sev_owner_read_secret(path, &secret, e) < 0)
		return error_prefix(e, "--sev-secret");
	const struct sev_ovmf *o = &s->plan.ovmf;
	int rc = 0;
	if (!secret.has_gpa && !o->has_secret)
		rc = error_set(e, "--sev-secret: the firmware names no secret area; give 'gpa:'");
	else if (!secret.has_gpa && secret.blob_len > o->secret_size)
		rc = error_set(e, "--sev-secret: %zu bytes do not fit the firmware's %u-byte secret "
			       "area", secret.blob_len, o->secret_size);
	else if (secret.header_len > UINT32_MAX || secret.blob_len > UINT32_MAX)
		rc = error_set(e, "--sev-secret: too large");
	if (rc == 0) {
		struct sev_launch_secret ls = {
			.header = secret.header, .header_len = (uint32_t)secret.header_len,
			.blob = secret.blob, .blob_len = (uint32_t)secret.blob_len,
			.gpa = secret.has_gpa ? secret.gpa : o->secret_gpa,
		};
		rc = sev_launch_inject_secret(&s->launch, &ls, e) < 0
			     ? error_prefix(e, "--sev-secret")
			     : 0;
	}
	sev_owner_secret_free(&secret);
	return rc;
}

/* SEV / SEV-ES: LAUNCH_MEASURE, handed to the owner, then their secret. SNP: the plan's digest
 * (the guest proves the real one with a report). */
static int owner_exchange(struct sev_vm *s, const struct sev_vm_input *in, struct error *e)
{
	struct sev_owner_measurement m = {
		.mode = in->mode, .policy = s->launch.cfg.policy, .vcpus = in->vcpus,
		.vcpu_sig = s->cpu.signature, .guest_features = s->guest_features,
		.digest = s->digest, .digest_len = s->digest_len,
	};
	if (in->mode != SEV_MODE_SNP) {
		if (sev_launch_measure(&s->launch, e) < 0)
			return -1;
		m.blob = s->launch.measurement;
		m.blob_len = s->launch.measurement_len;
		platform_status(s, &m);
	}
	if (!in->measurement_out)
		print_measurement(&m);
	else if (sev_owner_write_measurement(in->measurement_out, &m, e) < 0)
		return error_prefix(e, "--sev-measurement-out");
	return in->secret_in ? inject_secret(s, in->secret_in, e) : 0;
}

int sev_vm_build(struct sev_vm *s, const struct sev_vm_input *in, const struct sev_kvm_ops *ops,
		 const struct sev_vm_hooks *hooks, struct error *e)
{
	memset(s, 0, sizeof(*s));
	s->ops = *ops;
	s->real = in->real;
	s->mode = in->mode;
	s->vm_fd = -1;
	s->launch.sev_fd = -1;
	if (check_input(s, in, e) < 0 || create_vm(s, e) < 0 ||
	    hooks->prepare(hooks->opaque, s->vm_fd, &s->cpu, e) < 0 || build_plan(s, in, e) < 0 ||
	    init_launch(s, in, e) < 0 || add_memory(s, in, e) < 0 ||
	    hooks->devices(hooks->opaque, e) < 0 || create_vcpus(s, in->vcpus, hooks, e) < 0 ||
	    sev_launch_load(&s->launch, in->vcpus, e) < 0 || owner_exchange(s, in, e) < 0)
		return -1;
	return sev_launch_finish(&s->launch, e);
}

static enum sev_vm_exit from_convert(enum sev_convert_result r)
{
	switch (r) {
	case SEV_CONVERT_DONE:
		return SEV_VM_EXIT_REENTER;
	case SEV_CONVERT_REFUSED:
		return SEV_VM_EXIT_REFUSED;
	case SEV_CONVERT_FATAL:
		break;
	}
	return SEV_VM_EXIT_FATAL;
}

enum sev_vm_exit sev_vm_handle_exit(struct sev_vm *s, struct kvm_run *run, int run_rc,
				    int run_errno, struct error *e)
{
	/* Only SNP has private memory; KVM forwards neither exit for SEV and SEV-ES. */
	if (!s || s->mode != SEV_MODE_SNP)
		return SEV_VM_EXIT_NOT_MINE;
	if (run_rc < 0) {
		if (run_errno != EFAULT || run->exit_reason != SEV_KVM_EXIT_MEMORY_FAULT)
			return SEV_VM_EXIT_NOT_MINE;
		enum sev_vm_exit r = from_convert(sev_handle_memory_fault(&s->launch, run, e));
		/* A later EFAULT of another kind must not find this reason still there. */
		run->exit_reason = KVM_EXIT_UNKNOWN;
		return r;
	}
	if (run->exit_reason != KVM_EXIT_HYPERCALL)
		return SEV_VM_EXIT_NOT_MINE;
	return from_convert(sev_handle_hypercall(&s->launch, run, e));
}

bool sev_vm_state_protected(const struct sev_vm *s)
{
	if (!s || s->mode == SEV_MODE_SEV)
		return false;
	enum sev_launch_stage st = s->launch.stage;
	return st == SEV_STAGE_LOADED || st == SEV_STAGE_MEASURED || st == SEV_STAGE_FINISHED;
}

void sev_vm_destroy(struct sev_vm *s)
{
	sev_launch_destroy(&s->launch);
	if (s->fw_mem)
		munmap(s->fw_mem, s->fw_len);
	s->fw_mem = NULL;
	if (s->plan_built)
		sev_plan_free(&s->plan);
	s->plan_built = false;
	free(s->vcpu_fds);
	s->vcpu_fds = NULL;
	s->nvcpus = 0;
}
