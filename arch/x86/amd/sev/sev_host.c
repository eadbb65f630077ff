#include "sev_host.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sev_kvm_uapi.h"
#include "sev_launch.h"

struct mode_needs {
	const char *label; /* as AMD names the feature */
	const char *param; /* kvm_amd's switch for it */
	const char *kernel;
};

static const struct mode_needs needs[] = {
	[SEV_MODE_SEV] = { "SEV", "sev", "Linux 6.10+" },
	[SEV_MODE_SEV_ES] = { "SEV-ES", "sev_es", "Linux 6.10+" },
	[SEV_MODE_SNP] = { "SEV-SNP", "sev_snp", "Linux 6.11+" },
};

static void describe_vm_types(int types, char *out, size_t n)
{
	static const char *const names[] = { "default", "sw-protected", "sev", "sev-es", "snp",
					     "tdx" };
	size_t at = 0;
	out[0] = '\0';
	for (unsigned bit = 0; bit < sizeof(names) / sizeof(names[0]); bit++)
		if (types & (1 << bit))
			at += (size_t)snprintf(out + at, n > at ? n - at : 0, "%s%s",
					       at ? ", " : "", names[bit]);
	if (types == 1)
		snprintf(out, n, "default only");
}

/* Appends "what (why)" to a comma-separated list. */
static void add_missing(char *list, size_t n, const char *what)
{
	size_t at = strlen(list);
	snprintf(list + at, n - at, "%s%s", at ? ", " : "", what);
}

int sev_host_check(const struct sev_kvm_ops *ops, enum sev_mode mode, struct error *e)
{
	const struct mode_needs *need = &needs[mode];
	int types = ops->kvm_ioctl(ops->ctx, KVM_CHECK_EXTENSION,
				   (void *)(uintptr_t)SEV_KVM_CAP_VM_TYPES);
	bool has_type = types > 0 && (types & (1 << sev_launch_vm_type(mode)));
	int param = ops->module_param(ops->ctx, "kvm_amd", need->param);
	bool kvm_amd_loaded = param >= 0 || ops->module_param(ops->ctx, "kvm_amd", "npt") >= 0;
	int sev_fd = ops->open_sev(ops->ctx);
	int sev_errno = errno;
	if (sev_fd >= 0)
		ops->close_fd(ops->ctx, sev_fd);
	if (has_type && param == 1 && sev_fd >= 0)
		return 0;

	char first[200], also[300] = "", item[160];
	if (!has_type && types <= 0) {
		snprintf(first, sizeof(first), "this host's KVM has no VM types (no "
			 "KVM_CAP_VM_TYPES: older than Linux 6.10)");
	} else if (!has_type) {
		char list[96];
		describe_vm_types(types, list, sizeof(list));
		snprintf(first, sizeof(first), "this host's KVM offers no %s VM type "
			 "(KVM_CAP_VM_TYPES = 0x%x: %s)", need->label, (unsigned)types, list);
	} else {
		first[0] = '\0';
	}
	if (param != 1) {
		if (!kvm_amd_loaded)
			snprintf(item, sizeof(item), "kvm_amd (not loaded)");
		else
			snprintf(item, sizeof(item), "kvm_amd %s=%s", need->param,
				 param == 0 ? "N" : "(no such parameter)");
		add_missing(first[0] ? also : first, first[0] ? sizeof(also) : sizeof(first), item);
	}
	if (sev_fd < 0) {
		snprintf(item, sizeof(item), "/dev/sev (%s)", strerror(sev_errno));
		add_missing(first[0] ? also : first, first[0] ? sizeof(also) : sizeof(first), item);
	}
	return error_set(e, "%s%s%s%s; needs an AMD EPYC with %s enabled in firmware, %s and "
			 "kvm_amd %s=1", has_type ? "missing " : "", first,
			 also[0] ? "; also missing: " : "", also, need->label, need->kernel,
			 need->param);
}

int sev_run_check(int kvm_fd, enum sev_mode mode, uint64_t policy, struct error *e)
{
	const char *name = sev_mode_name(mode);
	if (policy && sev_launch_policy_check(mode, policy, e) < 0)
		return error_prefix(e, "--sev %s", name);
	struct sev_kvm_real real;
	sev_kvm_real_init(&real, kvm_fd, -1);
	struct sev_kvm_ops ops = sev_kvm_real_ops(&real);
	if (sev_host_check(&ops, mode, e) < 0)
		return error_prefix(e, "--sev %s", name);
	return 0;
}
