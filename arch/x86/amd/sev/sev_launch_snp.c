/* SEV-SNP: SNP_LAUNCH_START, SNP_LAUNCH_UPDATE for every plan region with its page type, and
 * SNP_LAUNCH_FINISH, where KVM measures each vCPU's VMSA (SNP ABI spec, chapter 8; KVM's
 * amd-memory-encryption.rst). KVM copies each region from a source buffer into the private
 * guest_memfd page: Ember uses the region's own bytes in the shared mapping as that source. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sev_cpuid_page.h"
#include "sev_fw_error.h"
#include "sev_kvm_uapi.h"
#include "sev_launch_internal.h"

/* SNP_LAUNCH_UPDATE may stop early and ask to be called again (-EAGAIN, or a shorter len):
 * this bounds the calls that make no progress at all. */
#define SNP_UPDATE_MAX_STALLS 1000

static int start(struct sev_launch *l, struct error *e)
{
	struct sev_kvm_snp_launch_start start = { .policy = l->cfg.policy };
	char context[64];
	snprintf(context, sizeof(context), "policy 0x%llx", (unsigned long long)l->cfg.policy);
	return sev_launch_cmd(l, SEV_KVM_SEV_SNP_LAUNCH_START, &start, context, e);
}

/* What the source page holds for each type: the plan's bytes for NORMAL pages, the vCPU's
 * CPUID table for the CPUID page, zeros otherwise (the PSP fills the secrets page). */
static int fill_source(struct sev_launch *l, const struct sev_plan_region *r, uint8_t *host,
		       struct error *e)
{
	switch (r->type) {
	case SEV_PAGE_NORMAL:
		if (!r->data)
			return error_set(e, "%s: normal pages without contents", r->what);
		memmove(host, r->data, r->len);
		return 0;
	case SEV_PAGE_CPUID:
		if (r->len != SEV_CPUID_PAGE_SIZE)
			return error_set(e, "%s: a CPUID region is one page, not %llu bytes", r->what,
					 (unsigned long long)r->len);
		return sev_cpuid_page_build(host, l->cfg.cpuid, l->cfg.n_cpuid, e);
	case SEV_PAGE_UNMEASURED:
		if (r->data) {
			memmove(host, r->data, r->len);
			return 0;
		}
		/* fall through */
	case SEV_PAGE_ZERO:
	case SEV_PAGE_SECRETS:
		memset(host, 0, r->len);
		return 0;
	case SEV_PAGE_VMSA:
		break;
	}
	return error_set(e, "%s: %s pages are not loaded as regions (KVM measures the VMSAs at "
			 "SNP_LAUNCH_FINISH)", r->what, sev_page_type_name(r->type));
}

static void describe(char *out, size_t n, const struct sev_plan_region *r)
{
	snprintf(out, n, "loading %s at 0x%llx (%llu pages, %s)", r->what,
		 (unsigned long long)r->gpa, (unsigned long long)(r->len / SEV_PAGE_SIZE),
		 sev_page_type_name(r->type));
}

/* The PSP rejected a CPUID page and (through KVM) wrote back what it would accept. */
static int cpuid_rejected(struct sev_launch *l, const struct sev_plan_region *r,
			  const uint8_t *sent, const uint8_t *fixed, uint32_t fw, struct error *e)
{
	char diff[128] = "no entry differs";
	sev_cpuid_page_diff(sent, fixed, diff, sizeof(diff));
	error_set(e, "SNP_LAUNCH_UPDATE failed: firmware error 0x%x (%s), the PSP rejected %s at "
		  "0x%llx (first difference: %s)", fw, sev_fw_error_name(fw), r->what,
		  (unsigned long long)r->gpa, diff);
	return sev_launch_fail(l);
}

static int update_failed(struct sev_launch *l, const struct sev_plan_region *r, uint32_t fw,
			 int err, struct error *e)
{
	char context[200];
	describe(context, sizeof(context), r);
	if (fw)
		error_set(e, "SNP_LAUNCH_UPDATE failed: firmware error 0x%x (%s), %s", fw,
			  sev_fw_error_name(fw), context);
	else
		error_set(e, "SNP_LAUNCH_UPDATE failed: %s, %s", strerror(err), context);
	return sev_launch_fail(l);
}

/* Issues SNP_LAUNCH_UPDATE until KVM has taken the whole range. */
static int update_range(struct sev_launch *l, const struct sev_plan_region *r, uint8_t *host,
			struct error *e)
{
	uint8_t sent[SEV_CPUID_PAGE_SIZE];
	if (r->type == SEV_PAGE_CPUID)
		memcpy(sent, host, sizeof(sent));
	struct sev_kvm_snp_launch_update update = {
		.gfn_start = r->gpa / SEV_PAGE_SIZE, .uaddr = (uint64_t)(uintptr_t)host,
		.len = r->len, .type = (uint8_t)r->type,
	};
	unsigned stalls = 0;
	while (update.len) {
		uint64_t before = update.len;
		struct sev_kvm_cmd cmd = {
			.id = SEV_KVM_SEV_SNP_LAUNCH_UPDATE, .data = (uint64_t)(uintptr_t)&update,
			.sev_fd = (uint32_t)l->sev_fd,
		};
		int rc = l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_MEMORY_ENCRYPT_OP, &cmd);
		int err = errno;
		if (rc < 0 && !cmd.error && (err == EAGAIN || err == EINTR)) {
			if (++stalls > SNP_UPDATE_MAX_STALLS)
				return update_failed(l, r, 0, err, e);
			continue;
		}
		if (rc < 0 && r->type == SEV_PAGE_CPUID && cmd.error == SEV_FW_INVALID_PARAM)
			return cpuid_rejected(l, r, sent, host, cmd.error, e);
		if (rc < 0)
			return update_failed(l, r, cmd.error, err, e);
		if (update.len > before || update.len % SEV_PAGE_SIZE)
			return update_failed(l, r, 0, EPROTO, e);
		if (update.len == before) {
			if (++stalls > SNP_UPDATE_MAX_STALLS)
				return update_failed(l, r, 0, EPROTO, e);
			continue;
		}
		stalls = 0;
	}
	return 0;
}

static int update_region(struct sev_launch *l, const struct sev_plan_region *r, struct error *e)
{
	if (!r->len || r->gpa % SEV_PAGE_SIZE || r->len % SEV_PAGE_SIZE)
		return error_set(e, "%s at 0x%llx (%llu bytes) is not whole pages, as "
				 "SNP_LAUNCH_UPDATE needs", r->what, (unsigned long long)r->gpa,
				 (unsigned long long)r->len);
	uint8_t *host = sev_launch_host(l, r->what, r->gpa, r->len, e);
	if (!host || fill_source(l, r, host, e) < 0)
		return -1;
	return update_range(l, r, host, e);
}

int sev_launch_load_snp(struct sev_launch *l, struct error *e)
{
	if (start(l, e) < 0)
		return -1;
	for (size_t i = 0; i < l->plan->n_regions; i++)
		if (update_region(l, &l->plan->regions[i], e) < 0)
			return -1;
	/* Measured at SNP_LAUNCH_FINISH, from these registers, in vCPU order. */
	return sev_launch_load_vcpus(l, e);
}

int sev_launch_finish_snp(struct sev_launch *l, struct error *e)
{
	/* No ID block: the guest owner checks the measurement in the attestation report. */
	struct sev_kvm_snp_launch_finish finish = { 0 };
	memcpy(finish.host_data, l->cfg.host_data, sizeof(finish.host_data));
	return sev_launch_cmd(l, SEV_KVM_SEV_SNP_LAUNCH_FINISH, &finish, NULL, e);
}
