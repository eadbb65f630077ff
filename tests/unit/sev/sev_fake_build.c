#include "sev_fake_build.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sev_fake_psp.h"
#include "sev_fake_vm.h"

#define FAKE_SIGNATURE 0x00800f12 /* EPYC-v4 */

static int hook_prepare(void *opaque, int vm_fd, struct sev_vm_cpu *cpu, struct error *e)
{
	struct fake_build *t = opaque;
	(void)e;
	fake_log(&t->kvm, "hook prepare vm_fd=%d", vm_fd);
	*cpu = (struct sev_vm_cpu){ .signature = FAKE_SIGNATURE, .cpuid = t->cpuid, .n_cpuid = 3 };
	return 0;
}

static int hook_devices(void *opaque, struct error *e)
{
	struct fake_build *t = opaque;
	(void)e;
	fake_log(&t->kvm, "hook devices");
	return 0;
}

static int hook_create_vcpus(void *opaque, int *fds, unsigned n, struct error *e)
{
	struct fake_build *t = opaque;
	for (unsigned i = 0; i < n; i++) {
		if (t->fail_vcpus && i == 1)
			return error_set(e, "vCPU 1: no more vCPUs today");
		fds[i] = t->ops.vm_ioctl(t->ops.ctx, KVM_CREATE_VCPU, (void *)(uintptr_t)i);
		if (fds[i] < 0)
			return error_errno(e, "KVM_CREATE_VCPU %u", i);
	}
	return 0;
}

void fake_build_setup(struct fake_build *t, enum sev_mode mode, unsigned vcpus, uint64_t mem_size)
{
	memset(t, 0, sizeof(*t));
	fake_kvm_init(&t->kvm);
	t->kvm.n_vcpus = 0; /* KVM_CREATE_VCPU makes them */
	t->ops = fake_kvm_ops(&t->kvm);
	struct error e = { "" };
	cr_assert_eq(guest_mem_init(&t->mem, mem_size, &e), 0, "%s", e.msg);
	fake_kvm_name_buffer(&t->kvm, "ram", t->mem.host, t->mem.size);
	t->firmware = fake_ovmf_build(&t->firmware_len);
	t->cpuid[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x10, .ebx = 0x68747541 };
	t->cpuid[1] = (struct kvm_cpuid_entry2){ .function = 1, .eax = FAKE_SIGNATURE };
	t->cpuid[2] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030 };
	t->in = (struct sev_vm_input){
		.mode = mode, .firmware = t->firmware, .firmware_len = t->firmware_len,
		.vcpus = vcpus, .mem = &t->mem,
	};
	t->hooks = (struct sev_vm_hooks){ .opaque = t, .prepare = hook_prepare,
					  .devices = hook_devices,
					  .create_vcpus = hook_create_vcpus };
	snprintf(t->dir, sizeof(t->dir), "/tmp/ember-sev-fake-XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
}

int fake_build_run(struct fake_build *t, struct error *e)
{
	return sev_vm_build(&t->vm, &t->in, &t->ops, &t->hooks, e);
}

const char *fake_build_path(struct fake_build *t, const char *name)
{
	static char path[sizeof(t->dir) + 256 + 2];
	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	return path;
}

void fake_build_teardown(struct fake_build *t)
{
	sev_vm_destroy(&t->vm);
	fake_kvm_free(&t->kvm);
	guest_mem_destroy(&t->mem);
	free(t->firmware);
	DIR *d = opendir(t->dir);
	for (struct dirent *ent; d && (ent = readdir(d));)
		if (ent->d_name[0] != '.')
			unlink(fake_build_path(t, ent->d_name));
	if (d)
		closedir(d);
	rmdir(t->dir);
}
