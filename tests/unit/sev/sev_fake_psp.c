/* The fake PSP: the launch commands as KVM and the firmware carry them out, measured with this
 * file's own code (SEV API spec chapter 6, SNP ABI spec SNP_LAUNCH_UPDATE / PAGE_INFO), and the
 * VMSA that KVM's sev_es_sync_vmsa builds from a vCPU's registers. Nothing here calls Ember's
 * calculators: the tests compare the two. */
#include <errno.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sev_fake_psp.h"

#define PAGE 4096ull
#define FW_INVALID_LENGTH 0x04
#define FW_POLICY_FAILURE 0x07
#define FW_INVALID_PARAM 0x16
#define VMSA_GPA 0xFFFFFFFFF000ull
#define SNP_ACTIVE 1ull

const uint8_t fake_tik[16] = { 0x54, 0x49, 0x4b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
const uint8_t fake_nonce[16] = { 0x6e, 0x6f, 0x6e, 0x63, 0x65, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				 14, 15 };

static void le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_segment(uint8_t *vmsa, unsigned at, const struct kvm_segment *s)
{
	uint16_t attrib = (uint16_t)(s->type | s->s << 4 | s->dpl << 5 | s->present << 7 |
				     s->avl << 8 | s->l << 9 | s->db << 10 | s->g << 11);
	le(vmsa + at, s->selector, 2);
	le(vmsa + at + 2, attrib, 2);
	le(vmsa + at + 4, s->limit, 4);
	le(vmsa + at + 8, s->base, 8);
}

static void put_dtable(uint8_t *vmsa, unsigned at, const struct kvm_dtable *d)
{
	le(vmsa + at + 4, d->limit, 4);
	le(vmsa + at + 8, d->base, 8);
}

/* KVM (svm.c, sev.c): the VMCB save area always has EFER.SVME, CR4.MCE as the host has it
 * (always set on EPYC), CR0 without CD/NW; SEV_FEATURES comes from KVM_SEV_INIT2 (plus
 * SNPActive for an SNP VM); PAT defaults to the power-on value when userspace leaves it. */
void fake_kvm_vmsa_from_vcpu(const struct fake_kvm *f, unsigned i, uint8_t out[SEV_VMSA_SIZE])
{
	const struct fake_vcpu *v = &f->vcpus[i];
	memset(out, 0, SEV_VMSA_SIZE);
	put_segment(out, SEV_VMSA_ES, &v->sregs.es);
	put_segment(out, SEV_VMSA_CS, &v->sregs.cs);
	put_segment(out, SEV_VMSA_SS, &v->sregs.ss);
	put_segment(out, SEV_VMSA_DS, &v->sregs.ds);
	put_segment(out, SEV_VMSA_FS, &v->sregs.fs);
	put_segment(out, SEV_VMSA_GS, &v->sregs.gs);
	put_dtable(out, SEV_VMSA_GDTR, &v->sregs.gdt);
	put_segment(out, SEV_VMSA_LDTR, &v->sregs.ldt);
	put_dtable(out, SEV_VMSA_IDTR, &v->sregs.idt);
	put_segment(out, SEV_VMSA_TR, &v->sregs.tr);
	le(out + SEV_VMSA_EFER, v->sregs.efer | (1ull << 12), 8);
	le(out + SEV_VMSA_CR4, v->sregs.cr4 | (1ull << 6), 8);
	le(out + SEV_VMSA_CR3, v->sregs.cr3, 8);
	le(out + SEV_VMSA_CR0, v->sregs.cr0 & ~((1ull << 29) | (1ull << 30)), 8);
	le(out + SEV_VMSA_DR7, v->dbg_set ? v->dbg.dr7 : 0x400, 8);
	le(out + SEV_VMSA_DR6, v->dbg_set ? v->dbg.dr6 : 0xffff0ff0, 8);
	le(out + SEV_VMSA_RFLAGS, v->regs.rflags, 8);
	le(out + SEV_VMSA_RIP, v->regs.rip, 8);
	le(out + SEV_VMSA_RSP, v->regs.rsp, 8);
	le(out + SEV_VMSA_RAX, v->regs.rax, 8);
	le(out + SEV_VMSA_G_PAT, v->pat_set ? v->pat : 0x0007040600070406ull, 8);
	le(out + SEV_VMSA_RDX, v->regs.rdx, 8);
	uint64_t features = f->init_vmsa_features;
	if (f->vm_type == SEV_KVM_X86_SNP_VM)
		features |= SNP_ACTIVE;
	le(out + SEV_VMSA_SEV_FEATURES, features, 8);
	le(out + SEV_VMSA_XCR0, v->xcrs_set ? v->xcrs.xcrs[0].value : 1, 8);
	le(out + SEV_VMSA_MXCSR, v->mxcsr, 4);
	le(out + SEV_VMSA_X87_FCW, v->fcw, 2);
}

static const char *cmd_name(uint32_t id)
{
	switch (id) {
	case SEV_KVM_SEV_INIT2: return "INIT2";
	case SEV_KVM_SEV_LAUNCH_START: return "LAUNCH_START";
	case SEV_KVM_SEV_LAUNCH_UPDATE_DATA: return "LAUNCH_UPDATE_DATA";
	case SEV_KVM_SEV_LAUNCH_UPDATE_VMSA: return "LAUNCH_UPDATE_VMSA";
	case SEV_KVM_SEV_LAUNCH_SECRET: return "LAUNCH_SECRET";
	case SEV_KVM_SEV_LAUNCH_MEASURE: return "LAUNCH_MEASURE";
	case SEV_KVM_SEV_LAUNCH_FINISH: return "LAUNCH_FINISH";
	case SEV_KVM_SEV_SNP_LAUNCH_START: return "SNP_LAUNCH_START";
	case SEV_KVM_SEV_SNP_LAUNCH_UPDATE: return "SNP_LAUNCH_UPDATE";
	case SEV_KVM_SEV_SNP_LAUNCH_FINISH: return "SNP_LAUNCH_FINISH";
	}
	return "?";
}

static int fw_error(struct sev_kvm_cmd *cmd, uint32_t code)
{
	cmd->error = code;
	errno = EIO;
	return -1;
}

static int kvm_error(int err)
{
	errno = err;
	return -1;
}

/* LD' = SHA-384(PAGE_INFO): LD, contents digest, length 0x70, type, IMI 0, VMPL perms 0, GPA. */
static void snp_measure(struct fake_kvm *f, const uint8_t contents[48], uint8_t type, uint64_t gpa)
{
	uint8_t info[0x70] = { 0 };
	memcpy(info, f->snp_ld, 48);
	memcpy(info + 48, contents, 48);
	le(info + 96, 0x70, 2);
	info[98] = type;
	le(info + 104, gpa, 8);
	SHA384(info, sizeof(info), f->snp_ld);
}

static int init2(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_init *in = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev INIT2 vmsa_features=0x%llx flags=%u ghcb=%u",
		 (unsigned long long)in->vmsa_features, in->flags, in->ghcb_version);
	uint64_t allowed = f->vm_type == SEV_KVM_X86_SEV_VM ? 0 : f->vmsa_features;
	if (f->initialized || in->flags || (in->vmsa_features & ~allowed))
		return kvm_error(EINVAL);
	f->init_vmsa_features = in->vmsa_features;
	f->initialized = true;
	return 0;
}

static int launch_start(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_launch_start *s = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev LAUNCH_START policy=0x%x dh_len=%u session_len=%u", s->policy, s->dh_len,
		 s->session_len);
	if (!f->initialized || f->vm_type == SEV_KVM_X86_SNP_VM || f->started)
		return kvm_error(EINVAL);
	if ((f->vm_type == SEV_KVM_X86_SEV_ES_VM) != !!(s->policy & 4))
		return fw_error(cmd, FW_POLICY_FAILURE);
	f->sev_policy = s->policy;
	s->handle = 1;
	f->started = true;
	f->sha256 = EVP_MD_CTX_new();
	EVP_DigestInit_ex(f->sha256, EVP_sha256(), NULL);
	return 0;
}

static int update_data(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_launch_update_data *u = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev LAUNCH_UPDATE_DATA uaddr=%s len=0x%x", fake_addr(f, u->uaddr), u->len);
	if (!f->started || u->uaddr % 16 || u->len % 16 || !u->len ||
	    !fake_host_in_slots(f, u->uaddr, u->len))
		return kvm_error(EINVAL);
	EVP_DigestUpdate(f->sha256, (const void *)(uintptr_t)u->uaddr, u->len);
	f->bytes_measured += u->len;
	return 0;
}

static int update_vmsa(struct fake_kvm *f)
{
	fake_log(f, "sev LAUNCH_UPDATE_VMSA");
	if (!f->started || f->vm_type != SEV_KVM_X86_SEV_ES_VM)
		return kvm_error(EINVAL);
	for (unsigned i = 0; i < f->n_vcpus; i++) {
		fake_kvm_vmsa_from_vcpu(f, i, f->vmsa_built[i]);
		EVP_DigestUpdate(f->sha256, f->vmsa_built[i], SEV_VMSA_SIZE);
	}
	f->vmsas_measured = f->n_vcpus;
	return 0;
}

static int measure(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_launch_measure *m = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev LAUNCH_MEASURE len=%u", m->len);
	if (!f->started)
		return kvm_error(EINVAL);
	if (m->len < 48) {
		m->len = 48;
		return fw_error(cmd, FW_INVALID_LENGTH);
	}
	unsigned n = 0;
	EVP_DigestFinal_ex(f->sha256, f->sev_digest, &n);
	uint8_t msg[1 + 3 + 4 + 32 + 16] = { 0x04, FAKE_API_MAJOR, FAKE_API_MINOR, FAKE_BUILD };
	le(msg + 4, f->sev_policy, 4);
	memcpy(msg + 8, f->sev_digest, 32);
	memcpy(msg + 40, fake_nonce, 16);
	uint8_t *out = (uint8_t *)(uintptr_t)m->uaddr;
	HMAC(EVP_sha256(), fake_tik, sizeof(fake_tik), msg, sizeof(msg), out, &n);
	memcpy(out + 32, fake_nonce, 16);
	m->len = 48;
	return 0;
}

static int secret(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_launch_secret *s = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev LAUNCH_SECRET hdr_len=%u guest=%s guest_len=%u trans_len=%u", s->hdr_len,
		 fake_addr(f, s->guest_uaddr), s->guest_len, s->trans_len);
	if (!f->started || !fake_host_in_slots(f, s->guest_uaddr, s->guest_len))
		return kvm_error(EINVAL);
	f->secrets_injected++;
	return 0;
}

static int snp_start(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_snp_launch_start *s = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev SNP_LAUNCH_START policy=0x%llx flags=%u", (unsigned long long)s->policy,
		 s->flags);
	if (!f->initialized || f->vm_type != SEV_KVM_X86_SNP_VM || f->started || s->flags)
		return kvm_error(EINVAL);
	if (!(s->policy & (1ull << 17)))
		return fw_error(cmd, FW_POLICY_FAILURE);
	f->snp_policy = s->policy;
	memset(f->snp_ld, 0, sizeof(f->snp_ld));
	f->started = true;
	return 0;
}

/* The PSP checks the CPUID page; this one objects to one leaf's EBX and writes back the value it
 * wants, as the firmware does. */
static bool cpuid_page_rejected(struct fake_kvm *f, uint8_t *page)
{
	uint32_t count;
	memcpy(&count, page, 4);
	for (uint32_t i = 0; i < count && i < 64; i++) {
		uint8_t *entry = page + 16 + i * 48;
		uint32_t function;
		memcpy(&function, entry, 4);
		if (function == f->reject_cpuid_function) {
			entry[28] ^= 0x01; /* EBX */
			return true;
		}
	}
	return false;
}

static int snp_page(struct fake_kvm *f, struct sev_kvm_cmd *cmd, uint64_t gfn, uint8_t *src,
		    uint8_t type)
{
	static const uint8_t zeros[48];
	uint64_t gpa = gfn * PAGE;
	struct fake_slot *slot = fake_slot_at(f, gpa);
	if (!slot || slot->gmem_fd < 0 || !fake_kvm_is_private(f, gpa))
		return kvm_error(EINVAL); /* KVM: not a private guest_memfd page */
	if (type == SEV_KVM_SNP_PAGE_TYPE_CPUID && cpuid_page_rejected(f, src))
		return fw_error(cmd, FW_INVALID_PARAM);
	uint8_t contents[48];
	if (type == SEV_KVM_SNP_PAGE_TYPE_NORMAL)
		SHA384(src, PAGE, contents);
	else
		memcpy(contents, zeros, sizeof(contents));
	snp_measure(f, contents, type, gpa);
	f->pages_measured++;
	return 0;
}

static int snp_update(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_snp_launch_update *u = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev SNP_LAUNCH_UPDATE gfn=0x%llx uaddr=%s len=0x%llx type=%u",
		 (unsigned long long)u->gfn_start, fake_addr(f, u->uaddr),
		 (unsigned long long)u->len, u->type);
	bool known = u->type == 1 || (u->type >= 3 && u->type <= 6);
	if (!f->started || f->finished || u->len % PAGE || !u->len || u->flags || !known)
		return kvm_error(EINVAL);
	if (f->eagain_updates) {
		f->eagain_updates--;
		return kvm_error(EAGAIN);
	}
	uint64_t pages = u->len / PAGE;
	if (f->max_pages_per_update && pages > f->max_pages_per_update)
		pages = f->max_pages_per_update;
	for (uint64_t i = 0; i < pages; i++) {
		uint8_t *src = (uint8_t *)(uintptr_t)(u->uaddr + i * PAGE);
		if (snp_page(f, cmd, u->gfn_start + i, src, u->type) < 0)
			return -1;
	}
	u->gfn_start += pages;
	u->len -= pages * PAGE;
	if (u->type != SEV_KVM_SNP_PAGE_TYPE_ZERO)
		u->uaddr += pages * PAGE;
	return 0;
}

static int snp_finish(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	struct sev_kvm_snp_launch_finish *fin = (void *)(uintptr_t)cmd->data;
	fake_log(f, "sev SNP_LAUNCH_FINISH id_block_en=%u host_data[0]=0x%02x", fin->id_block_en,
		 fin->host_data[0]);
	if (!f->started || f->finished || fin->flags || fin->id_block_en)
		return kvm_error(EINVAL);
	for (unsigned i = 0; i < f->n_vcpus; i++) {
		uint8_t contents[48];
		fake_kvm_vmsa_from_vcpu(f, i, f->vmsa_built[i]);
		SHA384(f->vmsa_built[i], SEV_VMSA_SIZE, contents);
		snp_measure(f, contents, 2, VMSA_GPA);
	}
	f->vmsas_measured = f->n_vcpus;
	f->finished = true;
	return 0;
}

int fake_psp_command(struct fake_kvm *f, struct sev_kvm_cmd *cmd)
{
	if (cmd->sev_fd != FAKE_SEV_FD || !f->sev_open) {
		fake_log(f, "sev %s with a bad sev_fd %u", cmd_name(cmd->id), cmd->sev_fd);
		return kvm_error(EBADF);
	}
	if (cmd->id < 256 && cmd->id == f->fail_cmd && ++f->cmd_uses[cmd->id] == f->fail_on_nth) {
		fake_log(f, "sev %s -> fails (firmware error 0x%x)", cmd_name(cmd->id),
			 f->fail_fw_error);
		cmd->error = f->fail_fw_error;
		return kvm_error(f->fail_errno ? f->fail_errno : EIO);
	}
	switch (cmd->id) {
	case SEV_KVM_SEV_INIT2:
		return init2(f, cmd);
	case SEV_KVM_SEV_LAUNCH_START:
		return launch_start(f, cmd);
	case SEV_KVM_SEV_LAUNCH_UPDATE_DATA:
		return update_data(f, cmd);
	case SEV_KVM_SEV_LAUNCH_UPDATE_VMSA:
		return update_vmsa(f);
	case SEV_KVM_SEV_LAUNCH_MEASURE:
		return measure(f, cmd);
	case SEV_KVM_SEV_LAUNCH_SECRET:
		return secret(f, cmd);
	case SEV_KVM_SEV_LAUNCH_FINISH:
		fake_log(f, "sev LAUNCH_FINISH");
		if (!f->started || f->finished)
			return kvm_error(EINVAL);
		f->finished = true;
		return 0;
	case SEV_KVM_SEV_SNP_LAUNCH_START:
		return snp_start(f, cmd);
	case SEV_KVM_SEV_SNP_LAUNCH_UPDATE:
		return snp_update(f, cmd);
	case SEV_KVM_SEV_SNP_LAUNCH_FINISH:
		return snp_finish(f, cmd);
	}
	fake_log(f, "sev command %u", cmd->id);
	return kvm_error(EINVAL);
}
