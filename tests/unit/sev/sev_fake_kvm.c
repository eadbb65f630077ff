/* The fake KVM: host side (capabilities, memslots, attributes, vCPU registers). The PSP's side
 * (the launch commands and their measurement) is in sev_fake_psp.c. */
#include "sev_fake_kvm.h"

#include <errno.h>
#include <linux/psp-sev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sev_fake_psp.h"
#include "sev_kvm_uapi.h"

#define PAGE 4096ull

void fake_log(struct fake_kvm *f, const char *fmt, ...)
{
	if (f->n_log == FAKE_LOG_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->log[f->n_log++], FAKE_LOG_LINE, fmt, ap);
	va_end(ap);
}

const char *fake_addr(const struct fake_kvm *f, uint64_t addr)
{
	static char text[4][64];
	static unsigned next;
	char *out = text[next++ % 4];
	for (unsigned i = 0; i < f->n_buffers; i++) {
		const struct fake_buffer *b = &f->buffers[i];
		uint64_t base = (uint64_t)(uintptr_t)b->base;
		if (addr >= base && addr - base < b->size) {
			snprintf(out, 64, "%s+0x%llx", b->name, (unsigned long long)(addr - base));
			return out;
		}
	}
	snprintf(out, 64, addr ? "?0x%llx" : "0", (unsigned long long)addr);
	return out;
}

void fake_kvm_name_buffer(struct fake_kvm *f, const char *name, const void *base, uint64_t size)
{
	if (f->n_buffers < FAKE_MAX_BUFFERS)
		f->buffers[f->n_buffers++] = (struct fake_buffer){ name, base, size };
}

void fake_kvm_init(struct fake_kvm *f)
{
	memset(f, 0, sizeof(*f));
	f->vm_type = SEV_KVM_X86_SNP_VM;
	f->vm_types = 1 << 0 | 1 << 2 | 1 << 3 | 1 << 4;
	f->mem_attributes = (int)SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE;
	f->guest_memfd = 1;
	f->exit_hypercall = 1 << 12;
	f->vmsa_features = SEV_FEATURE_DEBUG_SWAP;
	for (int i = 0; i < 4; i++)
		f->kvm_amd[i] = 1;
	f->n_vcpus = 1;
	f->xsave2_size = (int)sizeof(struct kvm_xsave);
	for (unsigned i = 0; i < FAKE_MAX_VCPUS; i++)
		f->vcpus[i].fcw = 0x37f;
	f->fail_cmd = ~0u;
	f->reject_cpuid_function = ~0u;
}

void fake_kvm_free(struct fake_kvm *f)
{
	for (unsigned i = 0; i < f->n_slots; i++)
		free(f->slots[i].private_pages);
	EVP_MD_CTX_free(f->sha256);
	f->sha256 = NULL;
	f->n_slots = 0;
}

struct fake_slot *fake_slot_at(struct fake_kvm *f, uint64_t gpa)
{
	for (unsigned i = 0; i < f->n_slots; i++)
		if (gpa >= f->slots[i].gpa && gpa - f->slots[i].gpa < f->slots[i].size)
			return &f->slots[i];
	return NULL;
}

bool fake_host_in_slots(const struct fake_kvm *f, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < f->n_slots; i++) {
		uint64_t base = (uint64_t)(uintptr_t)f->slots[i].host;
		if (addr >= base && len <= f->slots[i].size && addr - base <= f->slots[i].size - len)
			return true;
	}
	return false;
}

bool fake_kvm_is_private(const struct fake_kvm *f, uint64_t gpa)
{
	struct fake_slot *s = fake_slot_at((struct fake_kvm *)f, gpa);
	return s && s->private_pages && s->private_pages[(gpa - s->gpa) / PAGE];
}

static int fail(int err)
{
	errno = err;
	return -1;
}

static int check_extension(struct fake_kvm *f, const char *who, long cap)
{
	fake_log(f, "%s CHECK_EXTENSION %ld", who, cap);
	switch (cap) {
	case SEV_KVM_CAP_VM_TYPES:
		return f->vm_types;
	case SEV_KVM_CAP_MEMORY_ATTRIBUTES:
		return f->mem_attributes;
	case SEV_KVM_CAP_GUEST_MEMFD:
		return f->guest_memfd;
	case KVM_CAP_EXIT_HYPERCALL:
		return f->exit_hypercall;
	case KVM_CAP_XSAVE2:
		return f->xsave2_size;
	}
	return 0;
}

static int kvm_ioctl(void *ctx, unsigned long request, void *arg)
{
	struct fake_kvm *f = ctx;
	if (request == KVM_CHECK_EXTENSION)
		return check_extension(f, "kvm", (long)(uintptr_t)arg);
	if (request == KVM_CREATE_VM) {
		unsigned long type = (unsigned long)(uintptr_t)arg;
		fake_log(f, "kvm CREATE_VM type=%lu", type);
		if (type >= 32 || !(f->vm_types & (1 << type)))
			return fail(EINVAL);
		f->vm_type = type;
		return FAKE_VM_FD;
	}
	if (request == KVM_GET_DEVICE_ATTR) {
		struct kvm_device_attr *a = arg;
		fake_log(f, "kvm GET_DEVICE_ATTR group=%u attr=%llu", a->group,
			 (unsigned long long)a->attr);
		if (a->group != SEV_KVM_X86_GRP_SEV || a->attr != SEV_KVM_X86_SEV_VMSA_FEATURES)
			return fail(ENXIO);
		memcpy((void *)(uintptr_t)a->addr, &f->vmsa_features, sizeof(uint64_t));
		return 0;
	}
	fake_log(f, "kvm ioctl 0x%lx", request);
	return fail(ENOTTY);
}

/* The name log lines use for a memslot's host memory the test did not name itself. */
static void name_slot(struct fake_kvm *f, uint32_t slot, uint64_t host, uint64_t size)
{
	static char names[FAKE_MAX_BUFFERS][16];
	if (strncmp(fake_addr(f, host), "?", 1) != 0 || f->n_buffers == FAKE_MAX_BUFFERS)
		return;
	char *name = names[f->n_buffers];
	snprintf(name, sizeof(names[0]), "slot%u", slot);
	fake_kvm_name_buffer(f, name, (const void *)(uintptr_t)host, size);
}

static int add_slot(struct fake_kvm *f, uint32_t slot, uint64_t gpa, uint64_t size, uint64_t host,
		    int gmem_fd)
{
	if (f->n_slots == FAKE_MAX_SLOTS || size % PAGE || gpa % PAGE)
		return fail(EINVAL);
	struct fake_slot *s = &f->slots[f->n_slots++];
	*s = (struct fake_slot){ .slot = slot, .gpa = gpa, .size = size,
				 .host = (uint8_t *)(uintptr_t)host, .gmem_fd = gmem_fd };
	if (gmem_fd >= 0)
		s->private_pages = calloc(size / PAGE, sizeof(bool));
	return 0;
}

static int set_attributes(struct fake_kvm *f, const struct sev_kvm_memory_attributes *a)
{
	fake_log(f, "vm SET_MEMORY_ATTRIBUTES gpa=0x%llx size=0x%llx attrs=0x%llx",
		 (unsigned long long)a->address, (unsigned long long)a->size,
		 (unsigned long long)a->attributes);
	if (!a->size || a->address % PAGE || a->size % PAGE || a->flags ||
	    (a->attributes & ~SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE) ||
	    a->address + a->size < a->address)
		return fail(EINVAL);
	for (uint64_t gpa = a->address; gpa < a->address + a->size; gpa += PAGE) {
		struct fake_slot *s = fake_slot_at(f, gpa);
		if (s && s->private_pages)
			s->private_pages[(gpa - s->gpa) / PAGE] = a->attributes != 0;
	}
	return 0;
}

static int memory_ioctl(struct fake_kvm *f, unsigned long request, void *arg)
{
	if (request == KVM_SET_USER_MEMORY_REGION) {
		struct kvm_userspace_memory_region *r = arg;
		name_slot(f, r->slot, r->userspace_addr, r->memory_size);
		fake_log(f, "vm SET_USER_MEMORY_REGION slot=%u gpa=0x%llx size=0x%llx uaddr=%s",
			 r->slot, (unsigned long long)r->guest_phys_addr,
			 (unsigned long long)r->memory_size, fake_addr(f, r->userspace_addr));
		return add_slot(f, r->slot, r->guest_phys_addr, r->memory_size, r->userspace_addr,
				-1);
	}
	if (request == KVM_MEMORY_ENCRYPT_REG_REGION) {
		struct kvm_enc_region *r = arg;
		fake_log(f, "vm MEMORY_ENCRYPT_REG_REGION addr=%s size=0x%llx",
			 fake_addr(f, r->addr), (unsigned long long)r->size);
		return 0;
	}
	if (request == SEV_KVM_CREATE_GUEST_MEMFD) {
		struct sev_kvm_create_guest_memfd *g = arg;
		fake_log(f, "vm CREATE_GUEST_MEMFD size=0x%llx flags=%llu",
			 (unsigned long long)g->size, (unsigned long long)g->flags);
		if (g->flags || !g->size || g->size % PAGE || f->vm_type != SEV_KVM_X86_SNP_VM)
			return fail(EINVAL);
		return FAKE_GMEM_FD_BASE + (int)f->gmem_created++;
	}
	if (request == SEV_KVM_SET_USER_MEMORY_REGION2) {
		struct sev_kvm_userspace_memory_region2 *r = arg;
		name_slot(f, r->slot, r->userspace_addr, r->memory_size);
		fake_log(f, "vm SET_USER_MEMORY_REGION2 slot=%u flags=0x%x gpa=0x%llx size=0x%llx "
			 "uaddr=%s gmem=%u offset=0x%llx", r->slot, r->flags,
			 (unsigned long long)r->guest_phys_addr, (unsigned long long)r->memory_size,
			 fake_addr(f, r->userspace_addr), r->guest_memfd,
			 (unsigned long long)r->guest_memfd_offset);
		if (!(r->flags & SEV_KVM_MEM_GUEST_MEMFD) || r->guest_memfd < FAKE_GMEM_FD_BASE)
			return fail(EINVAL);
		return add_slot(f, r->slot, r->guest_phys_addr, r->memory_size, r->userspace_addr,
				(int)r->guest_memfd);
	}
	return set_attributes(f, arg);
}

static int vm_ioctl(void *ctx, unsigned long request, void *arg)
{
	struct fake_kvm *f = ctx;
	if (f->fail_ioctl && request == f->fail_ioctl) {
		fake_log(f, "vm ioctl 0x%lx -> errno %d", request, f->fail_errno);
		return fail(f->fail_errno);
	}
	switch (request) {
	case KVM_CHECK_EXTENSION:
		return check_extension(f, "vm", (long)(uintptr_t)arg);
	case KVM_ENABLE_CAP: {
		struct kvm_enable_cap *c = arg;
		fake_log(f, "vm ENABLE_CAP cap=%u args0=0x%llx", c->cap,
			 (unsigned long long)c->args[0]);
		if (c->cap == KVM_CAP_EXIT_HYPERCALL)
			f->hypercall_exits = c->args[0];
		return 0;
	}
	case KVM_SET_USER_MEMORY_REGION:
	case KVM_MEMORY_ENCRYPT_REG_REGION:
	case SEV_KVM_CREATE_GUEST_MEMFD:
	case SEV_KVM_SET_USER_MEMORY_REGION2:
	case SEV_KVM_SET_MEMORY_ATTRIBUTES:
		return memory_ioctl(f, request, arg);
	case SEV_KVM_MEMORY_ENCRYPT_OP:
		return fake_psp_command(f, arg);
	case KVM_CREATE_IRQCHIP:
		fake_log(f, "vm CREATE_IRQCHIP");
		return 0;
	case KVM_CREATE_PIT2:
		fake_log(f, "vm CREATE_PIT2 flags=0x%x", ((struct kvm_pit_config *)arg)->flags);
		return 0;
	case KVM_CREATE_VCPU: {
		unsigned long id = (unsigned long)(uintptr_t)arg;
		fake_log(f, "vm CREATE_VCPU id=%lu", id);
		if (id != f->n_vcpus || f->n_vcpus == FAKE_MAX_VCPUS)
			return fail(EINVAL);
		f->n_vcpus++;
		return FAKE_VCPU_FD_BASE + (int)id;
	}
	}
	fake_log(f, "vm ioctl 0x%lx", request);
	return fail(ENOTTY);
}

static void reset_sregs(struct kvm_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->apic_base = 0xfee00900; /* what KVM reports for a BSP: a value SET_SREGS must keep */
	s->cr0 = 0x60000010;
}

static int vcpu_ioctl(void *ctx, unsigned index, unsigned long request, void *arg)
{
	struct fake_kvm *f = ctx;
	if (index >= f->n_vcpus || index >= FAKE_MAX_VCPUS)
		return fail(ENOENT);
	struct fake_vcpu *v = &f->vcpus[index];
	switch (request) {
	case KVM_GET_SREGS:
		fake_log(f, "vcpu%u GET_SREGS", index);
		if (!v->sregs_set)
			reset_sregs(&v->sregs);
		memcpy(arg, &v->sregs, sizeof(v->sregs));
		return 0;
	case KVM_SET_SREGS:
		memcpy(&v->sregs, arg, sizeof(v->sregs));
		v->sregs_set = true;
		fake_log(f, "vcpu%u SET_SREGS cs=%x:%llx cr0=0x%llx efer=0x%llx apic_base=0x%llx",
			 index, v->sregs.cs.selector, (unsigned long long)v->sregs.cs.base,
			 (unsigned long long)v->sregs.cr0, (unsigned long long)v->sregs.efer,
			 (unsigned long long)v->sregs.apic_base);
		return 0;
	case KVM_SET_REGS:
		memcpy(&v->regs, arg, sizeof(v->regs));
		v->regs_set = true;
		fake_log(f, "vcpu%u SET_REGS rip=0x%llx rdx=0x%llx", index,
			 (unsigned long long)v->regs.rip, (unsigned long long)v->regs.rdx);
		return 0;
	case KVM_SET_FPU: {
		const struct kvm_fpu *fpu = arg;
		fake_log(f, "vcpu%u SET_FPU fcw=0x%x", index, fpu->fcw);
		v->fcw = fpu->fcw; /* KVM ignores fpu->mxcsr */
		return 0;
	}
	case KVM_GET_XSAVE:
	case KVM_GET_XSAVE2: {
		fake_log(f, "vcpu%u %s", index, request == KVM_GET_XSAVE ? "GET_XSAVE" : "GET_XSAVE2");
		uint8_t *x = arg;
		memset(x, 0, sizeof(struct kvm_xsave));
		memcpy(x, &v->fcw, 2);
		memcpy(x + 24, &v->mxcsr, 4);
		return 0;
	}
	case KVM_SET_XSAVE: {
		const uint8_t *x = arg;
		uint16_t fcw;
		uint32_t mxcsr;
		uint64_t bv;
		memcpy(&fcw, x, 2);
		memcpy(&mxcsr, x + 24, 4);
		memcpy(&bv, x + 512, 8);
		fake_log(f, "vcpu%u SET_XSAVE fcw=0x%x mxcsr=0x%x xstate_bv=0x%llx", index, fcw,
			 mxcsr, (unsigned long long)bv);
		if (bv & 1)
			v->fcw = fcw;
		if (bv & 7)
			v->mxcsr = mxcsr;
		return 0;
	}
	case KVM_SET_XCRS:
		memcpy(&v->xcrs, arg, sizeof(v->xcrs));
		v->xcrs_set = true;
		fake_log(f, "vcpu%u SET_XCRS xcr0=0x%llx", index,
			 (unsigned long long)v->xcrs.xcrs[0].value);
		return 0;
	case KVM_SET_DEBUGREGS:
		memcpy(&v->dbg, arg, sizeof(v->dbg));
		v->dbg_set = true;
		fake_log(f, "vcpu%u SET_DEBUGREGS", index);
		return 0;
	case KVM_SET_MSRS: {
		const struct kvm_msrs *m = arg;
		fake_log(f, "vcpu%u SET_MSRS n=%u", index, m->nmsrs);
		if (m->nmsrs == 1 && m->entries[0].index == 0x277) {
			v->pat = m->entries[0].data;
			v->pat_set = true;
		}
		return (int)m->nmsrs;
	}
	}
	fake_log(f, "vcpu%u ioctl 0x%lx", index, request);
	return fail(ENOTTY);
}

static int open_sev(void *ctx)
{
	struct fake_kvm *f = ctx;
	fake_log(f, "open /dev/sev");
	if (f->open_sev_errno)
		return fail(f->open_sev_errno);
	f->sev_open = true;
	return FAKE_SEV_FD;
}

static int module_param(void *ctx, const char *module, const char *param)
{
	struct fake_kvm *f = ctx;
	static const char *const names[4] = { "sev", "sev_es", "sev_snp", "npt" };
	if (strcmp(module, "kvm_amd") != 0)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(param, names[i]) == 0)
			return f->kvm_amd[i];
	return -1;
}

static int discard_private(void *ctx, int gmem_fd, uint64_t offset, uint64_t len)
{
	struct fake_kvm *f = ctx;
	fake_log(f, "discard private gmem=%d offset=0x%llx len=0x%llx", gmem_fd,
		 (unsigned long long)offset, (unsigned long long)len);
	f->discards_private++;
	return 0;
}

static int discard_shared(void *ctx, void *host, uint64_t len)
{
	struct fake_kvm *f = ctx;
	fake_log(f, "discard shared %s len=0x%llx", fake_addr(f, (uint64_t)(uintptr_t)host),
		 (unsigned long long)len);
	f->discards_shared++;
	return 0;
}

static void close_fd(void *ctx, int fd)
{
	fake_log(ctx, "close %d", fd);
}

/* /dev/sev: only PLATFORM_STATUS, with the version the fake PSP signs its measurements with. */
static int sev_ioctl(void *ctx, int sev_fd, unsigned long request, void *arg)
{
	struct fake_kvm *f = ctx;
	struct sev_issue_cmd *cmd = arg;
	fake_log(f, "sev ioctl cmd=%u", request == SEV_ISSUE_CMD ? cmd->cmd : ~0u);
	if (sev_fd != FAKE_SEV_FD || !f->sev_open)
		return fail(EBADF);
	if (request != SEV_ISSUE_CMD || cmd->cmd != SEV_PLATFORM_STATUS)
		return fail(ENOTTY);
	struct sev_user_data_status *st = (void *)(uintptr_t)cmd->data;
	*st = (struct sev_user_data_status){ .api_major = FAKE_API_MAJOR,
					     .api_minor = FAKE_API_MINOR, .build = FAKE_BUILD };
	return 0;
}

struct sev_kvm_ops fake_kvm_ops(struct fake_kvm *f)
{
	return (struct sev_kvm_ops){
		.ctx = f, .kvm_ioctl = kvm_ioctl, .vm_ioctl = vm_ioctl, .vcpu_ioctl = vcpu_ioctl,
		.open_sev = open_sev, .module_param = module_param,
		.discard_private = discard_private, .discard_shared = discard_shared,
		.close_fd = close_fd, .sev_ioctl = sev_ioctl,
	};
}

int fake_kvm_find(const struct fake_kvm *f, const char *prefix, unsigned from)
{
	for (unsigned i = from; i < f->n_log; i++)
		if (strncmp(f->log[i], prefix, strlen(prefix)) == 0)
			return (int)i;
	return -1;
}

unsigned fake_kvm_count(const struct fake_kvm *f, const char *prefix)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->n_log; i++)
		n += strncmp(f->log[i], prefix, strlen(prefix)) == 0;
	return n;
}
