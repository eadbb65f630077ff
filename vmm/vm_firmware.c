/* --firmware for ordinary guests: see vm_firmware.h. */
#include "vm_firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../arch/x86/layout.h"
#include "../devices/legacy/acpi_pm_timer.h"
#include "../devices/legacy/q35_pm_control.h"
#include "../devices/pci/pci_q35.h"
#include "vm.h"

bool vm_boots_firmware(const struct vm_config *cfg)
{
	return cfg->firmware_path && cfg->sev == VM_SEV_OFF;
}

/* With Q35's ECAM at 0xB0000000, RAM below 4 GiB must end there (guest_mem ends it at the
 * 3 GiB hole). */
int vm_firmware_check_memory(const struct vm *vm, struct error *e)
{
	if (guest_mem_low_end(&vm->mem) > LAYOUT_Q35_ECAM_START)
		return error_set(e, "--firmware: guests with more than %llu MiB of memory are not "
				 "supported yet (RAM below 4 GiB would cover the Q35 ECAM at 0x%llx)",
				 (unsigned long long)(LAYOUT_Q35_ECAM_START >> 20),
				 (unsigned long long)LAYOUT_Q35_ECAM_START);
	return 0;
}

int vm_firmware_fill_fw_cfg(struct vm *vm, const struct cpu_model *model,
			    const struct fw_cfg_kernel *kernel, struct error *e)
{
	uint32_t *apic_ids = calloc(vm->cfg.ncpus, sizeof(*apic_ids));
	if (!apic_ids)
		return error_set(e, "firmware: out of memory");
	topology_apic_ids(&model->topo, apic_ids); /* the MADT lists what CPUID says */
	uint32_t max_id = 0;
	for (unsigned i = 0; i < vm->cfg.ncpus; i++)
		max_id = apic_ids[i] > max_id ? apic_ids[i] : max_id;
	/* Firmware boots always have a PCI bus: OVMF identifies the machine by its host bridge. */
	struct acpi_config acpi = { .ncpus = vm->cfg.ncpus, .apic_ids = apic_ids,
				    .pci_buses = PCI_ECAM_BUSES, .ecam_base = LAYOUT_Q35_ECAM_START };
	struct firmware_machine m = { .mem = &vm->mem, .ncpus = vm->cfg.ncpus,
				      .max_cpus = max_id + 1, .acpi = &acpi, .kernel = kernel };
	int rc = firmware_fw_cfg_setup(vm->firmware->fw_cfg, &m, e);
	free(apic_ids);
	return rc;
}

/* The kernel, initrd and command line for direct kernel boot; the blobs are freed once fw_cfg
 * has its copies. */
static int add_machine_items(struct vm *vm, const struct cpu_model *model, struct error *e)
{
	struct firmware_blob kernel = { 0 }, initrd = { 0 };
	struct fw_cfg_kernel k = { .cmdline = vm->cfg.cmdline };
	int rc = 0;
	if (vm->cfg.initrd_path && !vm->cfg.kernel_path)
		return error_set(e, "--firmware: --initrd needs --kernel (the firmware boots them "
				 "together)");
	if (vm->cfg.kernel_path) {
		rc = firmware_read_file("kernel", vm->cfg.kernel_path, &kernel, e);
		if (rc == 0 && vm->cfg.initrd_path)
			rc = firmware_read_file("initrd", vm->cfg.initrd_path, &initrd, e);
		k.kernel = kernel.data;
		k.kernel_size = kernel.size;
		k.initrd = initrd.data;
		k.initrd_size = initrd.size;
	}
	if (rc == 0)
		rc = vm_firmware_fill_fw_cfg(vm, model, vm->cfg.kernel_path ? &k : NULL, e);
	firmware_blob_free(&kernel);
	firmware_blob_free(&initrd);
	return rc;
}

int vm_firmware_prepare(struct vm *vm, const struct cpu_model *model, struct error *e)
{
	if (vm_firmware_check_memory(vm, e) < 0)
		return -1;
	struct vm_firmware *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return error_set(e, "firmware: out of memory");
	vm->firmware = fw;
	if (firmware_load(&fw->image, vm->cfg.firmware_path, e) < 0 ||
	    firmware_map(&fw->image, vm->vm_fd, e) < 0)
		return -1;
	if (!(fw->fw_cfg = fw_cfg_create(&vm->mem, e)))
		return -1;
	if (add_machine_items(vm, model, e) < 0)
		return -1;
	memset(&vm->boot, 0, sizeof(vm->boot));
	vm->boot.mode = BOOT_FIRMWARE;
	vm->boot.entry = LAYOUT_4G - 16; /* the reset vector, for messages */
	return 0;
}

struct pci_bus *vm_firmware_create_pci(struct vm *vm, struct error *e)
{
	struct pci_bus *bus = pci_bus_create_ecam(&vm->pio, &vm->mmio, vm->vm_fd,
						  LAYOUT_Q35_ECAM_START, e);
	if (bus && pci_q35_init(bus, &vm->firmware->lpc, e) < 0) {
		pci_bus_destroy(bus);
		return NULL;
	}
	return bus;
}

/* OVMF's debug builds print to port 0x402 (QEMU's "debugcon"). EMBER_FIRMWARE_DEBUGCON=1 copies
 * those bytes to stderr: the one way to see where a firmware boot stops. */
#define PORT_FIRMWARE_DEBUGCON 0x402
static void debugcon_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (is_write) {
		if (write(STDERR_FILENO, data, size) < 0) {
			/* nothing to do: the log is best effort */
		}
	} else {
		memset(data, 0xe9, size); /* what QEMU's debugcon reads as: "present" */
	}
}

int vm_firmware_attach(struct vm *vm, struct error *e)
{
	struct vm_firmware *fw = vm->firmware;
	const char *debugcon = getenv("EMBER_FIRMWARE_DEBUGCON");
	if (debugcon && strcmp(debugcon, "1") == 0 &&
	    io_bus_add(&vm->pio, PORT_FIRMWARE_DEBUGCON, 1, debugcon_io, NULL, "debugcon", e) < 0)
		return error_prefix(e, "firmware devices");
	if (fw_cfg_attach(fw->fw_cfg, &vm->pio, e) < 0 ||
	    !(fw->pm_timer = acpi_pm_timer_create(e)) ||
	    acpi_pm_timer_attach(fw->pm_timer, &vm->pio, PORT_ACPI_PM_TIMER, e) < 0 ||
	    !(fw->pm_control = q35_pm_control_create(&vm->power, e)) ||
	    q35_pm_control_attach(fw->pm_control, &vm->pio, PORT_Q35_PM1_CNT, e) < 0)
		return error_prefix(e, "firmware devices");
	return 0;
}

void vm_firmware_destroy(struct vm *vm)
{
	struct vm_firmware *fw = vm->firmware;
	if (!fw)
		return;
	pci_device_destroy(fw->lpc);
	fw_cfg_destroy(fw->fw_cfg);
	acpi_pm_timer_destroy(fw->pm_timer);
	q35_pm_control_destroy(fw->pm_control);
	firmware_release(&fw->image);
	free(fw);
	vm->firmware = NULL;
}
