/* The launch's set-up (KVM_SEV_INIT2), its memory, and the steps both families share. */
#include "sev_launch_internal.h"

#include <errno.h>
#include <linux/kvm_para.h>
#include <stdio.h>
#include <string.h>

#include "sev_bytes.h"
#include "sev_fw_error.h"
#include "sev_kvm_uapi.h"
#include "sev_vcpu_state.h"

#define SEV_POLICY_BITS_MAX 0xffffffffull /* SEV / SEV-ES policies are 32 bits */

unsigned long sev_launch_vm_type(enum sev_mode mode)
{
	switch (mode) {
	case SEV_MODE_SEV:
		return SEV_KVM_X86_SEV_VM;
	case SEV_MODE_SEV_ES:
		return SEV_KVM_X86_SEV_ES_VM;
	case SEV_MODE_SNP:
		return SEV_KVM_X86_SNP_VM;
	}
	return SEV_KVM_X86_DEFAULT_VM;
}

uint64_t sev_launch_default_policy(enum sev_mode mode)
{
	switch (mode) {
	case SEV_MODE_SEV:
		return SEV_POLICY_DEFAULT_SEV;
	case SEV_MODE_SEV_ES:
		return SEV_POLICY_DEFAULT_SEV_ES;
	case SEV_MODE_SNP:
		return SEV_POLICY_DEFAULT_SNP;
	}
	return 0;
}

int sev_launch_policy_check(enum sev_mode mode, uint64_t policy, struct error *e)
{
	unsigned long long p = policy;
	if (mode == SEV_MODE_SNP) {
		if (!(policy & SEV_SNP_POLICY_RESERVED_1))
			return error_set(e, "SNP policy 0x%llx lacks bit 17, which the SNP ABI requires "
					 "to be set (for example 0x30000)", p);
		return 0;
	}
	if (policy > SEV_POLICY_BITS_MAX)
		return error_set(e, "policy 0x%llx does not fit the 32 bits of an SEV policy", p);
	if (mode == SEV_MODE_SEV_ES && !(policy & SEV_POLICY_ES))
		return error_set(e, "SEV-ES policy 0x%llx lacks the ES bit (0x4)", p);
	if (mode == SEV_MODE_SEV && (policy & SEV_POLICY_ES))
		return error_set(e, "policy 0x%llx has the ES bit (0x4): that is an SEV-ES policy", p);
	return 0;
}

const char *sev_launch_cmd_name(uint32_t id)
{
	switch (id) {
	case SEV_KVM_SEV_INIT2:
		return "INIT2";
	case SEV_KVM_SEV_LAUNCH_START:
		return "LAUNCH_START";
	case SEV_KVM_SEV_LAUNCH_UPDATE_DATA:
		return "LAUNCH_UPDATE_DATA";
	case SEV_KVM_SEV_LAUNCH_UPDATE_VMSA:
		return "LAUNCH_UPDATE_VMSA";
	case SEV_KVM_SEV_LAUNCH_SECRET:
		return "LAUNCH_SECRET";
	case SEV_KVM_SEV_LAUNCH_MEASURE:
		return "LAUNCH_MEASURE";
	case SEV_KVM_SEV_LAUNCH_FINISH:
		return "LAUNCH_FINISH";
	case SEV_KVM_SEV_SNP_LAUNCH_START:
		return "SNP_LAUNCH_START";
	case SEV_KVM_SEV_SNP_LAUNCH_UPDATE:
		return "SNP_LAUNCH_UPDATE";
	case SEV_KVM_SEV_SNP_LAUNCH_FINISH:
		return "SNP_LAUNCH_FINISH";
	}
	return "SEV command";
}

int sev_launch_fail(struct sev_launch *l)
{
	l->stage = SEV_STAGE_FAILED;
	return -1;
}

int sev_launch_cmd(struct sev_launch *l, uint32_t id, void *data, const char *context,
		   struct error *e)
{
	struct sev_kvm_cmd cmd = {
		.id = id, .data = (uint64_t)(uintptr_t)data, .sev_fd = (uint32_t)l->sev_fd,
	};
	if (l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_MEMORY_ENCRYPT_OP, &cmd) == 0)
		return 0;
	int err = errno;
	char where[320] = "";
	if (context)
		snprintf(where, sizeof(where), ", %s", context);
	if (cmd.error)
		error_set(e, "%s failed: firmware error 0x%x (%s)%s", sev_launch_cmd_name(id),
			  cmd.error, sev_fw_error_name(cmd.error), where);
	else
		error_set(e, "%s failed: %s%s", sev_launch_cmd_name(id), strerror(err), where);
	return sev_launch_fail(l);
}

/* KVM_SEV_INIT2 takes one SEV_FEATURES for every vCPU; the plan's VMSAs must agree on it. */
static int choose_vmsa_features(struct sev_launch *l, struct error *e)
{
	const struct sev_launch_plan *plan = l->plan;
	if (l->cfg.mode == SEV_MODE_SEV) {
		if (plan->n_vmsas)
			return error_set(e, "an SEV launch plan cannot hold VMSAs");
		l->vmsa_features = 0;
		return 0;
	}
	if (!plan->n_vmsas)
		return error_set(e, "the launch plan has no VMSAs: %s needs one per vCPU",
				 sev_mode_name(l->cfg.mode));
	uint64_t features = sev_get_le64(plan->vmsas[0] + SEV_VMSA_SEV_FEATURES);
	for (unsigned i = 1; i < plan->n_vmsas; i++) {
		uint64_t other = sev_get_le64(plan->vmsas[i] + SEV_VMSA_SEV_FEATURES);
		if (other != features)
			return error_set(e, "VMSA %u has SEV_FEATURES 0x%llx but VMSA 0 has 0x%llx; "
					 "KVM_SEV_INIT2 gives every vCPU the same", i,
					 (unsigned long long)other, (unsigned long long)features);
	}
	bool snp_active = features & SEV_FEATURE_SNP_ACTIVE;
	if (l->cfg.mode == SEV_MODE_SNP && !snp_active)
		return error_set(e, "the plan's VMSAs lack SNPActive: not an SNP plan");
	if (l->cfg.mode == SEV_MODE_SEV_ES && snp_active)
		return error_set(e, "the plan's VMSAs have SNPActive: not an SEV-ES plan");
	/* KVM sets SNPActive itself for a KVM_X86_SNP_VM (and the kernels that first supported SNP
	 * refuse it in vmsa_features), so INIT2 gets the other bits. */
	l->vmsa_features = features & ~SEV_FEATURE_SNP_ACTIVE;
	return 0;
}

static int check_kvm_vmsa_features(struct sev_launch *l, struct error *e)
{
	if (!l->vmsa_features)
		return 0;
	uint64_t supported = 0;
	struct kvm_device_attr attr = {
		.group = SEV_KVM_X86_GRP_SEV,
		.attr = SEV_KVM_X86_SEV_VMSA_FEATURES,
		.addr = (uint64_t)(uintptr_t)&supported,
	};
	if (l->ops.kvm_ioctl(l->ops.ctx, KVM_GET_DEVICE_ATTR, &attr) < 0)
		return error_errno(e, "KVM does not say which SEV_FEATURES it supports "
				   "(KVM_GET_DEVICE_ATTR needs Linux 6.10 or later)");
	uint64_t missing = l->vmsa_features & ~supported;
	if (missing)
		return error_set(e, "the VMSAs ask for SEV_FEATURES 0x%llx; this KVM offers 0x%llx "
				 "(missing 0x%llx)", (unsigned long long)l->vmsa_features,
				 (unsigned long long)supported, (unsigned long long)missing);
	return 0;
}

static int vm_capability(struct sev_launch *l, long cap)
{
	return l->ops.vm_ioctl(l->ops.ctx, KVM_CHECK_EXTENSION, (void *)(uintptr_t)cap);
}

/* SNP keeps private pages in guest_memfd and lets the guest convert pages with
 * KVM_HC_MAP_GPA_RANGE, which KVM forwards to Ember only when asked to. */
static int check_snp_vm(struct sev_launch *l, struct error *e)
{
	int attrs = vm_capability(l, SEV_KVM_CAP_MEMORY_ATTRIBUTES);
	if (attrs < 0 || !(attrs & SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return error_set(e, "this VM cannot have private memory (KVM_CAP_MEMORY_ATTRIBUTES "
				 "= 0x%x)", attrs < 0 ? 0 : attrs);
	if (vm_capability(l, SEV_KVM_CAP_GUEST_MEMFD) <= 0)
		return error_set(e, "this KVM has no guest_memfd (KVM_CAP_GUEST_MEMFD)");
	int exits = vm_capability(l, KVM_CAP_EXIT_HYPERCALL);
	if (exits < 0 || !(exits & (1 << KVM_HC_MAP_GPA_RANGE)))
		return error_set(e, "this KVM cannot forward KVM_HC_MAP_GPA_RANGE to the VMM "
				 "(KVM_CAP_EXIT_HYPERCALL = 0x%x)", exits < 0 ? 0 : exits);
	return 0;
}

static int enable_map_gpa_range_exits(struct sev_launch *l, struct error *e)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_HYPERCALL, .args = { 1ull << KVM_HC_MAP_GPA_RANGE },
	};
	if (l->ops.vm_ioctl(l->ops.ctx, KVM_ENABLE_CAP, &cap) < 0)
		return error_errno(e, "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)");
	return 0;
}

int sev_launch_init(struct sev_launch *l, const struct sev_kvm_ops *ops,
		    const struct sev_launch_plan *plan, const struct sev_launch_config *cfg,
		    struct error *e)
{
	memset(l, 0, sizeof(*l));
	l->ops = *ops;
	l->plan = plan;
	l->cfg = *cfg;
	l->sev_fd = -1;
	l->stage = SEV_STAGE_FAILED; /* until INIT2 succeeds */
	if (plan->mode != cfg->mode)
		return error_set(e, "the launch plan is for %s, the VM is %s",
				 sev_mode_name(plan->mode), sev_mode_name(cfg->mode));
	if (sev_launch_policy_check(cfg->mode, cfg->policy, e) < 0 ||
	    choose_vmsa_features(l, e) < 0 || check_kvm_vmsa_features(l, e) < 0)
		return -1;
	if (cfg->mode == SEV_MODE_SNP && check_snp_vm(l, e) < 0)
		return -1;
	l->sev_fd = ops->open_sev(ops->ctx);
	if (l->sev_fd < 0)
		return error_errno(e, "cannot open /dev/sev (the PSP driver, ccp)");
	struct sev_kvm_init init = { .vmsa_features = l->vmsa_features };
	if (sev_launch_cmd(l, SEV_KVM_SEV_INIT2, &init, NULL, e) < 0)
		return -1;
	if (cfg->mode == SEV_MODE_SNP && enable_map_gpa_range_exits(l, e) < 0)
		return -1;
	l->stage = SEV_STAGE_INITIALIZED;
	return 0;
}

struct sev_mem_slot *sev_launch_slot_for(struct sev_launch *l, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return NULL;
	for (unsigned i = 0; i < l->n_slots; i++) {
		struct sev_mem_slot *s = &l->slots[i];
		if (gpa >= s->gpa && gpa - s->gpa < s->size && len <= s->size - (gpa - s->gpa))
			return s;
	}
	return NULL;
}

uint8_t *sev_launch_host(struct sev_launch *l, const char *what, uint64_t gpa, uint64_t len,
			 struct error *e)
{
	struct sev_mem_slot *s = sev_launch_slot_for(l, gpa, len);
	if (!s) {
		error_set(e, "%s at 0x%llx (%llu bytes) is not inside guest memory", what,
			  (unsigned long long)gpa, (unsigned long long)len);
		return NULL;
	}
	return s->host + (gpa - s->gpa);
}

static int check_new_slot(const struct sev_launch *l, uint64_t gpa, uint64_t size,
			  const void *host, struct error *e)
{
	if (l->n_slots == SEV_LAUNCH_MAX_SLOTS)
		return error_set(e, "more than %d guest memory ranges", SEV_LAUNCH_MAX_SLOTS);
	if (!size || gpa % SEV_PAGE_SIZE || size % SEV_PAGE_SIZE ||
	    (uintptr_t)host % SEV_PAGE_SIZE || gpa + size < gpa)
		return error_set(e, "guest memory at 0x%llx (0x%llx bytes) is not whole pages",
				 (unsigned long long)gpa, (unsigned long long)size);
	for (unsigned i = 0; i < l->n_slots; i++) {
		const struct sev_mem_slot *s = &l->slots[i];
		if (gpa < s->gpa + s->size && s->gpa < gpa + size)
			return error_set(e, "guest memory at 0x%llx overlaps the range at 0x%llx",
					 (unsigned long long)gpa, (unsigned long long)s->gpa);
	}
	return 0;
}

/* SEV / SEV-ES: an ordinary memslot, registered as encrypted (KVM pins its pages). */
static int add_encrypted_memory(struct sev_launch *l, struct sev_mem_slot *s, struct error *e)
{
	struct kvm_userspace_memory_region region = {
		.slot = s->slot, .guest_phys_addr = s->gpa, .memory_size = s->size,
		.userspace_addr = (uint64_t)(uintptr_t)s->host,
	};
	if (l->ops.vm_ioctl(l->ops.ctx, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return error_errno(e, "KVM_SET_USER_MEMORY_REGION (slot %u)", s->slot);
	struct kvm_enc_region enc = { .addr = (uint64_t)(uintptr_t)s->host, .size = s->size };
	if (l->ops.vm_ioctl(l->ops.ctx, KVM_MEMORY_ENCRYPT_REG_REGION, &enc) < 0)
		return error_errno(e, "KVM_MEMORY_ENCRYPT_REG_REGION (slot %u)", s->slot);
	return 0;
}

/* SNP: shared pages in the host mapping, private ones in a guest_memfd; everything starts
 * private, and the guest converts what it shares (sev_convert.h). */
static int add_private_memory(struct sev_launch *l, struct sev_mem_slot *s, struct error *e)
{
	struct sev_kvm_create_guest_memfd gmem = { .size = s->size };
	s->gmem_fd = l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_CREATE_GUEST_MEMFD, &gmem);
	if (s->gmem_fd < 0)
		return error_errno(e, "KVM_CREATE_GUEST_MEMFD (0x%llx bytes)",
				   (unsigned long long)s->size);
	struct sev_kvm_userspace_memory_region2 region = {
		.slot = s->slot, .flags = SEV_KVM_MEM_GUEST_MEMFD, .guest_phys_addr = s->gpa,
		.memory_size = s->size, .userspace_addr = (uint64_t)(uintptr_t)s->host,
		.guest_memfd_offset = 0, .guest_memfd = (uint32_t)s->gmem_fd,
	};
	if (l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_SET_USER_MEMORY_REGION2, &region) < 0)
		return error_errno(e, "KVM_SET_USER_MEMORY_REGION2 (slot %u)", s->slot);
	struct sev_kvm_memory_attributes attrs = {
		.address = s->gpa, .size = s->size, .attributes = SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	if (l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_SET_MEMORY_ATTRIBUTES, &attrs) < 0)
		return error_errno(e, "KVM_SET_MEMORY_ATTRIBUTES (private, 0x%llx)",
				   (unsigned long long)s->gpa);
	return 0;
}

int sev_launch_add_memory(struct sev_launch *l, uint32_t slot, uint64_t gpa, uint64_t size,
			  void *host, struct error *e)
{
	if (l->stage != SEV_STAGE_INITIALIZED)
		return error_set(e, "guest memory must be added after KVM_SEV_INIT2 and before the "
				 "launch is loaded");
	if (check_new_slot(l, gpa, size, host, e) < 0)
		return sev_launch_fail(l);
	/* Recorded first, so that sev_launch_destroy closes its guest_memfd whatever fails. */
	struct sev_mem_slot *s = &l->slots[l->n_slots++];
	*s = (struct sev_mem_slot){ .slot = slot, .gpa = gpa, .size = size, .host = host,
				    .gmem_fd = -1 };
	int rc = l->cfg.mode == SEV_MODE_SNP ? add_private_memory(l, s, e)
					     : add_encrypted_memory(l, s, e);
	return rc < 0 ? sev_launch_fail(l) : 0;
}

int sev_launch_load_vcpus(struct sev_launch *l, struct error *e)
{
	struct sev_vcpu_state state;
	if (l->cfg.mode == SEV_MODE_SEV) {
		/* Not measured: only the BSP needs its reset state; the APs wait for INIT/SIPI. */
		uint8_t vmsa[SEV_VMSA_SIZE];
		sev_vmsa_build(vmsa, SEV_RESET_EIP, l->cfg.cpuid_sig, 0);
		sev_vcpu_state_from_vmsa(&state, vmsa);
		return sev_vcpu_state_apply(&l->ops, 0, &state, e) < 0 ? sev_launch_fail(l) : 0;
	}
	for (unsigned i = 0; i < l->plan->n_vmsas; i++) {
		sev_vcpu_state_from_vmsa(&state, l->plan->vmsas[i]);
		if (sev_vcpu_state_apply(&l->ops, i, &state, e) < 0)
			return sev_launch_fail(l);
	}
	return 0;
}

int sev_launch_load(struct sev_launch *l, unsigned nvcpus, struct error *e)
{
	if (l->stage != SEV_STAGE_INITIALIZED)
		return error_set(e, "the launch cannot be loaded now (after KVM_SEV_INIT2, once)");
	if (!l->n_slots)
		return error_set(e, "the launch has no guest memory");
	if (l->cfg.mode != SEV_MODE_SEV && nvcpus != l->plan->n_vmsas)
		return error_set(e, "the VM has %u vCPUs but the launch plan measures %u VMSAs",
				 nvcpus, l->plan->n_vmsas);
	if (nvcpus < 1)
		return error_set(e, "the VM has no vCPUs");
	int rc = l->cfg.mode == SEV_MODE_SNP ? sev_launch_load_snp(l, e)
					     : sev_launch_load_sev(l, e);
	if (rc < 0)
		return sev_launch_fail(l);
	l->stage = SEV_STAGE_LOADED;
	return 0;
}

int sev_launch_finish(struct sev_launch *l, struct error *e)
{
	if (l->stage != SEV_STAGE_LOADED && l->stage != SEV_STAGE_MEASURED)
		return error_set(e, "the launch cannot finish now (it must be loaded first)");
	int rc = l->cfg.mode == SEV_MODE_SNP
			 ? sev_launch_finish_snp(l, e)
			 : sev_launch_cmd(l, SEV_KVM_SEV_LAUNCH_FINISH, NULL, NULL, e);
	if (rc < 0)
		return sev_launch_fail(l);
	l->stage = SEV_STAGE_FINISHED;
	return 0;
}

void sev_launch_destroy(struct sev_launch *l)
{
	if (!l->ops.close_fd)
		return; /* never initialised */
	for (unsigned i = 0; i < l->n_slots; i++)
		if (l->slots[i].gmem_fd >= 0)
			l->ops.close_fd(l->ops.ctx, l->slots[i].gmem_fd);
	if (l->sev_fd >= 0)
		l->ops.close_fd(l->ops.ctx, l->sev_fd);
	l->n_slots = 0;
	l->sev_fd = -1;
}
