#include "sev_fake_vm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>

#include "sev_guid.h"
#include "sev_hashes.h"
#include "sev_vmsa.h"

#define ENTRY_HEADER 18
#define RESET_TAIL 0x20
#define METADATA_AT 0x100

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes one footer entry ending at *end (data, then length and GUID) and moves *end back. */
static void put_entry(uint8_t *image, size_t *end, struct sev_guid guid, const uint8_t *data,
		      size_t len)
{
	size_t total = len + ENTRY_HEADER;
	memcpy(image + *end - 16, guid.b, 16);
	image[*end - 18] = (uint8_t)total;
	image[*end - 17] = (uint8_t)(total >> 8);
	memcpy(image + *end - total, data, len);
	*end -= total;
}

/* The AmdSev build's SNP ranges, as Ember's plan turns them into regions. */
static const uint32_t sections[][3] = {
	{ 0x800000, 0x9000, 1 },  /* SNP_SEC_MEM */
	{ 0x80a000, 0x3000, 1 },  /* SNP_SEC_MEM */
	{ 0x80d000, 0x1000, 2 },  /* SNP_SECRETS */
	{ 0x80e000, 0x1000, 3 },  /* CPUID */
	{ 0x80f000, 0x1000, 4 },  /* SVSM_CAA */
	{ 0x810000, 0x1000, 0x10 }, /* SNP_KERNEL_HASHES */
	{ 0x811000, 0xf000, 1 },  /* SNP_SEC_MEM */
};

uint8_t *fake_ovmf_build(size_t *len)
{
	size_t size = FAKE_FW_SIZE;
	uint8_t *image = malloc(size);
	cr_assert_not_null(image);
	for (size_t i = 0; i < size; i++)
		image[i] = (uint8_t)(i * 7 + (i >> 12));
	size_t n = sizeof(sections) / sizeof(sections[0]);
	uint8_t *meta = image + METADATA_AT;
	le32(meta, 0x56455341); /* "ASEV" */
	le32(meta + 4, (uint32_t)(16 + n * 12));
	le32(meta + 8, 1);
	le32(meta + 12, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		for (int f = 0; f < 3; f++)
			le32(meta + 16 + i * 12 + f * 4, sections[i][f]);

	size_t footer = size - RESET_TAIL - ENTRY_HEADER, end = footer;
	uint8_t data[8];
	le32(data, FAKE_HASH_TABLE_GPA);
	le32(data + 4, 0x400);
	put_entry(image, &end, (struct sev_guid)SEV_GUID_HASH_TABLE_RV, data, 8);
	le32(data, FAKE_SECRET_GPA);
	le32(data + 4, FAKE_SECRET_SIZE);
	put_entry(image, &end, (struct sev_guid)SEV_GUID_SECRET_BLOCK, data, 8);
	le32(data, FAKE_AP_RESET_EIP);
	put_entry(image, &end, (struct sev_guid)SEV_GUID_ES_RESET_BLOCK, data, 4);
	le32(data, (uint32_t)(size - METADATA_AT));
	put_entry(image, &end, (struct sev_guid)SEV_GUID_OVMF_SEV_METADATA, data, 4);
	size_t table_len = footer + ENTRY_HEADER - end;
	image[footer] = (uint8_t)table_len;
	image[footer + 1] = (uint8_t)(table_len >> 8);
	memcpy(image + footer + 2, ((struct sev_guid)SEV_GUID_OVMF_TABLE_FOOTER).b, 16);
	*len = size;
	return image;
}

static uint8_t *map(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	return p;
}

void fake_vm_setup(struct fake_vm *vm, const struct fake_vm_spec *spec)
{
	enum sev_mode mode = spec->mode;
	memset(vm, 0, sizeof(*vm));
	fake_kvm_init(&vm->kvm);
	vm->kvm.vm_type = sev_launch_vm_type(mode);
	vm->kvm.n_vcpus = spec->vcpus;
	vm->ops = fake_kvm_ops(&vm->kvm);
	if (spec->firmware) {
		vm->firmware = (uint8_t *)spec->firmware;
		vm->firmware_len = spec->firmware_len;
	} else {
		vm->firmware = fake_ovmf_build(&vm->firmware_len);
		vm->own_firmware = true;
	}
	vm->ram = map(FAKE_RAM_SIZE);
	vm->fw_mem = map(vm->firmware_len);
	fake_kvm_name_buffer(&vm->kvm, "ram", vm->ram, FAKE_RAM_SIZE);
	fake_kvm_name_buffer(&vm->kvm, "fw", vm->fw_mem, vm->firmware_len);

	struct sev_plan_input in = {
		.mode = mode, .firmware = vm->firmware, .firmware_len = vm->firmware_len,
		.kernel_hashes = spec->cmdline != NULL, .vcpus = spec->vcpus,
		.cpuid_sig = 0x00800f12, .guest_features = spec->features,
	};
	if (spec->cmdline)
		sev_hashes_build(in.hash_table, (const uint8_t *)"", 0, (const uint8_t *)"", 0,
				 spec->cmdline);
	struct error e = { "" };
	cr_assert_eq(sev_plan_build(&vm->plan, &in, &e), 0, "plan: %s", e.msg);

	vm->cpuid[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x10, .ebx = 0x68747541 };
	vm->cpuid[1] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x00800f12 };
	vm->cpuid[2] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030 };
	vm->cfg = (struct sev_launch_config){
		.mode = mode, .policy = sev_launch_default_policy(mode), .cpuid_sig = 0x00800f12,
		.cpuid = vm->cpuid, .n_cpuid = 3, .host_data = { 0xab },
	};
}

int fake_vm_launch(struct fake_vm *vm, struct error *e)
{
	struct sev_launch *l = &vm->launch;
	if (sev_launch_init(l, &vm->ops, &vm->plan, &vm->cfg, e) < 0 ||
	    sev_launch_add_memory(l, 0, 0, FAKE_RAM_SIZE, vm->ram, e) < 0 ||
	    sev_launch_add_memory(l, 1, (1ull << 32) - vm->firmware_len, vm->firmware_len,
				  vm->fw_mem, e) < 0 ||
	    sev_launch_load(l, vm->kvm.n_vcpus, e) < 0)
		return -1;
	if (vm->cfg.mode != SEV_MODE_SNP && sev_launch_measure(l, e) < 0)
		return -1;
	return sev_launch_finish(l, e);
}

void fake_vm_teardown(struct fake_vm *vm)
{
	sev_launch_destroy(&vm->launch);
	sev_plan_free(&vm->plan);
	fake_kvm_free(&vm->kvm);
	munmap(vm->ram, FAKE_RAM_SIZE);
	munmap(vm->fw_mem, vm->firmware_len);
	if (vm->own_firmware)
		free(vm->firmware);
}
