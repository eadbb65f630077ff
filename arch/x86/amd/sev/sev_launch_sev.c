/* SEV and SEV-ES: LAUNCH_START, LAUNCH_UPDATE_DATA for every plan region, LAUNCH_UPDATE_VMSA,
 * LAUNCH_MEASURE and LAUNCH_SECRET (SEV API spec, chapter 6). LAUNCH_UPDATE_DATA encrypts the
 * bytes in place and measures them, so each region is first copied to its guest address. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sev_fw_error.h"
#include "sev_kvm_uapi.h"
#include "sev_launch_internal.h"

#define SEV_UPDATE_ALIGN 16 /* LAUNCH_UPDATE_DATA works in 16-byte blocks */

static int start(struct sev_launch *l, struct error *e)
{
	const struct sev_launch_config *c = &l->cfg;
	struct sev_kvm_launch_start start = {
		.policy = (uint32_t)c->policy,
		.dh_uaddr = (uint64_t)(uintptr_t)c->owner_pdh,
		.dh_len = c->owner_pdh ? c->owner_pdh_len : 0,
		.session_uaddr = (uint64_t)(uintptr_t)c->owner_session,
		.session_len = c->owner_session ? c->owner_session_len : 0,
	};
	char context[64];
	snprintf(context, sizeof(context), "policy 0x%llx", (unsigned long long)c->policy);
	if (sev_launch_cmd(l, SEV_KVM_SEV_LAUNCH_START, &start, context, e) < 0)
		return -1;
	l->handle = start.handle;
	return 0;
}

static int check_region(const struct sev_plan_region *r, struct error *e)
{
	if (r->type != SEV_PAGE_NORMAL || !r->data)
		return error_set(e, "%s: %s pages have no place in an SEV launch", r->what,
				 sev_page_type_name(r->type));
	if (!r->len || r->gpa % SEV_UPDATE_ALIGN || r->len % SEV_UPDATE_ALIGN ||
	    r->len > UINT32_MAX)
		return error_set(e, "%s at 0x%llx (%llu bytes) is not a whole number of the 16-byte "
				 "blocks LAUNCH_UPDATE_DATA takes", r->what,
				 (unsigned long long)r->gpa, (unsigned long long)r->len);
	return 0;
}

static int update_data(struct sev_launch *l, const struct sev_plan_region *r, struct error *e)
{
	if (check_region(r, e) < 0)
		return -1;
	uint8_t *host = sev_launch_host(l, r->what, r->gpa, r->len, e);
	if (!host)
		return -1;
	memmove(host, r->data, r->len);
	struct sev_kvm_launch_update_data update = {
		.uaddr = (uint64_t)(uintptr_t)host, .len = (uint32_t)r->len,
	};
	char context[160];
	snprintf(context, sizeof(context), "loading %s at 0x%llx (%llu bytes)", r->what,
		 (unsigned long long)r->gpa, (unsigned long long)r->len);
	return sev_launch_cmd(l, SEV_KVM_SEV_LAUNCH_UPDATE_DATA, &update, context, e);
}

int sev_launch_load_sev(struct sev_launch *l, struct error *e)
{
	if (start(l, e) < 0)
		return -1;
	for (size_t i = 0; i < l->plan->n_regions; i++)
		if (update_data(l, &l->plan->regions[i], e) < 0)
			return -1;
	if (sev_launch_load_vcpus(l, e) < 0)
		return -1;
	/* SEV-ES: KVM copies every vCPU's registers into its VMSA, then the PSP encrypts and
	 * measures them in vCPU order: the order of the plan's VMSAs. */
	if (l->cfg.mode == SEV_MODE_SEV_ES &&
	    sev_launch_cmd(l, SEV_KVM_SEV_LAUNCH_UPDATE_VMSA, NULL, NULL, e) < 0)
		return -1;
	return 0;
}

int sev_launch_measure(struct sev_launch *l, struct error *e)
{
	if (l->cfg.mode == SEV_MODE_SNP)
		return error_set(e, "SNP has no LAUNCH_MEASURE: the guest asks the PSP for a signed "
				 "attestation report instead");
	if (l->stage != SEV_STAGE_LOADED)
		return error_set(e, "LAUNCH_MEASURE comes once, after the launch is loaded");
	/* A zero length asks for the blob's size; the PSP answers with INVALID_LENGTH and KVM
	 * passes the size back, so the call's own result says nothing. */
	struct sev_kvm_launch_measure query = { 0 };
	struct sev_kvm_cmd cmd = {
		.id = SEV_KVM_SEV_LAUNCH_MEASURE, .data = (uint64_t)(uintptr_t)&query,
		.sev_fd = (uint32_t)l->sev_fd,
	};
	int rc = l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_MEMORY_ENCRYPT_OP, &cmd);
	if (query.len == 0 || query.len > SEV_LAUNCH_MEASURE_MAX) {
		if (rc < 0 && !cmd.error)
			error_errno(e, "LAUNCH_MEASURE failed (asking for the blob's size)");
		else
			error_set(e, "LAUNCH_MEASURE failed: the blob's size is %u bytes (firmware "
				  "error 0x%x, %s)", query.len, cmd.error,
				  sev_fw_error_name(cmd.error));
		return sev_launch_fail(l);
	}
	struct sev_kvm_launch_measure measure = {
		.uaddr = (uint64_t)(uintptr_t)l->measurement, .len = query.len,
	};
	if (sev_launch_cmd(l, SEV_KVM_SEV_LAUNCH_MEASURE, &measure, NULL, e) < 0)
		return -1;
	l->measurement_len = measure.len <= SEV_LAUNCH_MEASURE_MAX ? measure.len : query.len;
	l->stage = SEV_STAGE_MEASURED;
	return 0;
}

int sev_launch_inject_secret(struct sev_launch *l, const struct sev_launch_secret *secret,
			     struct error *e)
{
	if (l->cfg.mode == SEV_MODE_SNP)
		return error_set(e, "SNP has no LAUNCH_SECRET: an SNP guest gets its secrets after "
				 "attesting");
	if (l->stage != SEV_STAGE_MEASURED)
		return error_set(e, "LAUNCH_SECRET must follow LAUNCH_MEASURE");
	if (!secret->header || !secret->header_len || !secret->blob || !secret->blob_len)
		return error_set(e, "LAUNCH_SECRET needs the guest owner's packet header and secret");
	uint8_t *target = sev_launch_host(l, "the secret", secret->gpa, secret->blob_len, e);
	if (!target)
		return -1; /* bad input from the guest owner: the launch itself is intact */
	struct sev_kvm_launch_secret s = {
		.hdr_uaddr = (uint64_t)(uintptr_t)secret->header, .hdr_len = secret->header_len,
		.guest_uaddr = (uint64_t)(uintptr_t)target, .guest_len = secret->blob_len,
		.trans_uaddr = (uint64_t)(uintptr_t)secret->blob, .trans_len = secret->blob_len,
	};
	char context[96];
	snprintf(context, sizeof(context), "injecting %u bytes at 0x%llx", secret->blob_len,
		 (unsigned long long)secret->gpa);
	return sev_launch_cmd(l, SEV_KVM_SEV_LAUNCH_SECRET, &s, context, e);
}
