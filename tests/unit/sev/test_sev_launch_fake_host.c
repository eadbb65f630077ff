/* Before any VM exists, `ember run --sev MODE` asks the host for the VM type, kvm_amd's switch and
 * /dev/sev: against fake hosts that lack each, and against this machine's real /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sev_fake_kvm.h"
#include "sev_host.h"

static struct fake_kvm host;
static struct sev_kvm_ops ops;
static struct error e;

static void capable_host(void)
{
	fake_kvm_init(&host);
	ops = fake_kvm_ops(&host);
	memset(&e, 0, sizeof(e));
}

Test(sev_launch_fake_host, everything_present)
{
	capable_host();
	for (int m = SEV_MODE_SEV; m <= SEV_MODE_SNP; m++)
		cr_assert_eq(sev_host_check(&ops, m, &e), 0, "%s", e.msg);
	cr_assert_eq(fake_kvm_count(&host, "close 100"), 3, "/dev/sev is only probed");
}

/* This machine: Intel, nested KVM with only the default VM type, no kvm_amd, no /dev/sev. */
Test(sev_launch_fake_host, a_host_like_this_one)
{
	capable_host();
	host.vm_types = 1;
	for (int i = 0; i < 4; i++)
		host.kvm_amd[i] = -1;
	host.open_sev_errno = ENOENT;
	cr_assert_eq(sev_host_check(&ops, SEV_MODE_SNP, &e), -1);
	cr_assert_str_eq(e.msg, "this host's KVM offers no SEV-SNP VM type (KVM_CAP_VM_TYPES = 0x1: "
				"default only); also missing: kvm_amd (not loaded), /dev/sev (No "
				"such file or directory); needs an AMD EPYC with SEV-SNP enabled in "
				"firmware, Linux 6.11+ and kvm_amd sev_snp=1");
}

Test(sev_launch_fake_host, kernel_without_vm_types)
{
	capable_host();
	host.vm_types = 0;
	cr_assert_eq(sev_host_check(&ops, SEV_MODE_SEV, &e), -1);
	cr_assert_str_eq(e.msg, "this host's KVM has no VM types (no KVM_CAP_VM_TYPES: older than "
				"Linux 6.10); needs an AMD EPYC with SEV enabled in firmware, Linux "
				"6.10+ and kvm_amd sev=1");
}

Test(sev_launch_fake_host, sev_es_switched_off)
{
	capable_host();
	host.vm_types = 1 | 1 << 2; /* KVM offers SEV only */
	host.kvm_amd[1] = 0;
	cr_assert_eq(sev_host_check(&ops, SEV_MODE_SEV_ES, &e), -1);
	cr_assert_str_eq(e.msg, "this host's KVM offers no SEV-ES VM type (KVM_CAP_VM_TYPES = 0x5: "
				"default, sev); also missing: kvm_amd sev_es=N; needs an AMD EPYC "
				"with SEV-ES enabled in firmware, Linux 6.10+ and kvm_amd sev_es=1");
	cr_assert_eq(sev_host_check(&ops, SEV_MODE_SEV, &e), 0, "%s", e.msg);
}

Test(sev_launch_fake_host, only_dev_sev_missing)
{
	capable_host();
	host.open_sev_errno = EACCES;
	cr_assert_eq(sev_host_check(&ops, SEV_MODE_SNP, &e), -1);
	cr_assert_str_eq(e.msg, "missing /dev/sev (Permission denied); needs an AMD EPYC with "
				"SEV-SNP enabled in firmware, Linux 6.11+ and kvm_amd sev_snp=1");
}

/* The real thing: on a host without SNP this is the line `ember run --sev snp` prints, in one
 * line; on an SNP host the check passes and the launch may start. */
Test(sev_launch_fake_host, this_machine)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("no /dev/kvm");
	int rc = sev_run_check(kvm, SEV_MODE_SNP, 0, &e);
	close(kvm);
	if (rc == 0)
		cr_skip_test("this host offers SEV-SNP: nothing is refused");
	cr_assert_eq(rc, -1);
	cr_assert_eq(strncmp(e.msg, "--sev snp: ", 11), 0, "%s", e.msg);
	cr_assert_neq(strstr(e.msg, "SEV-SNP"), NULL, "%s", e.msg);
	cr_assert_eq(strchr(e.msg, '\n'), NULL);
}

Test(sev_launch_fake_host, bad_policy_is_named_first)
{
	cr_assert_eq(sev_run_check(-1, SEV_MODE_SEV_ES, 0x1, &e), -1);
	cr_assert_str_eq(e.msg, "--sev sev-es: SEV-ES policy 0x1 lacks the ES bit (0x4)");
}
