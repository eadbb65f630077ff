/* Ember's copy of the KVM SEV ABI agrees with the system's <linux/kvm.h> wherever the latter has
 * the same definition (Debian 12's 6.1 headers lack the SNP ones; newer ones are checked too). */
#include <linux/kvm.h>

#include <criterion/criterion.h>

#include "sev_kvm_uapi.h"
#include "sev_launch_plan.h"

Test(sev_uapi, matches_system_headers)
{
	cr_assert_eq(sizeof(struct sev_kvm_cmd), sizeof(struct kvm_sev_cmd));
	cr_assert_eq(sizeof(struct sev_kvm_launch_start), sizeof(struct kvm_sev_launch_start));
	cr_assert_eq(sizeof(struct sev_kvm_launch_update_data),
		     sizeof(struct kvm_sev_launch_update_data));
	cr_assert_eq(sizeof(struct sev_kvm_launch_measure), sizeof(struct kvm_sev_launch_measure));
	cr_assert_eq(sizeof(struct sev_kvm_launch_secret), sizeof(struct kvm_sev_launch_secret));
	cr_assert_eq(sizeof(struct sev_kvm_guest_status), sizeof(struct kvm_sev_guest_status));
	cr_assert_eq(SEV_KVM_MEMORY_ENCRYPT_OP, KVM_MEMORY_ENCRYPT_OP);
	cr_assert_eq(SEV_KVM_SEV_LAUNCH_START, KVM_SEV_LAUNCH_START);
	cr_assert_eq(SEV_KVM_SEV_LAUNCH_UPDATE_DATA, KVM_SEV_LAUNCH_UPDATE_DATA);
	cr_assert_eq(SEV_KVM_SEV_LAUNCH_UPDATE_VMSA, KVM_SEV_LAUNCH_UPDATE_VMSA);
	cr_assert_eq(SEV_KVM_SEV_LAUNCH_MEASURE, KVM_SEV_LAUNCH_MEASURE);
	cr_assert_eq(SEV_KVM_SEV_LAUNCH_FINISH, KVM_SEV_LAUNCH_FINISH);
	cr_assert_eq(SEV_KVM_SEV_GET_ATTESTATION_REPORT, KVM_SEV_GET_ATTESTATION_REPORT);
#ifdef KVM_X86_SNP_VM
	cr_assert_eq(SEV_KVM_X86_SNP_VM, KVM_X86_SNP_VM);
	cr_assert_eq(SEV_KVM_SEV_SNP_LAUNCH_UPDATE, KVM_SEV_SNP_LAUNCH_UPDATE);
	cr_assert_eq(sizeof(struct sev_kvm_snp_launch_finish),
		     sizeof(struct kvm_sev_snp_launch_finish));
	cr_assert_eq(SEV_KVM_CREATE_GUEST_MEMFD, KVM_CREATE_GUEST_MEMFD);
	cr_assert_eq(SEV_KVM_SET_MEMORY_ATTRIBUTES, KVM_SET_MEMORY_ATTRIBUTES);
	cr_assert_eq(SEV_KVM_SET_USER_MEMORY_REGION2, KVM_SET_USER_MEMORY_REGION2);
#endif
}

/* The launch plan's page types are the numbers SNP_LAUNCH_UPDATE takes. */
Test(sev_uapi, page_types_match_launch_plan)
{
	cr_assert_eq(SEV_KVM_SNP_PAGE_TYPE_NORMAL, SEV_PAGE_NORMAL);
	cr_assert_eq(SEV_KVM_SNP_PAGE_TYPE_ZERO, SEV_PAGE_ZERO);
	cr_assert_eq(SEV_KVM_SNP_PAGE_TYPE_UNMEASURED, SEV_PAGE_UNMEASURED);
	cr_assert_eq(SEV_KVM_SNP_PAGE_TYPE_SECRETS, SEV_PAGE_SECRETS);
	cr_assert_eq(SEV_KVM_SNP_PAGE_TYPE_CPUID, SEV_PAGE_CPUID);
}
