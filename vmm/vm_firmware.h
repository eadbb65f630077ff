/* `ember run --firmware` for ordinary (non-confidential) guests: what vm.c does instead of
 * loading a kernel. The firmware (OVMF) is mapped to end at 4 GiB, the BSP starts at its reset
 * vector, and the firmware learns the machine, and for direct kernel boot the kernel, initrd and
 * command line, over fw_cfg. The PCI bus takes the Q35 identity OVMF knows (devices/pci/pci_q35.h)
 * and the ACPI PM timer it times delays with. docs/firmware.md. */
#ifndef EMBER_VM_FIRMWARE_H
#define EMBER_VM_FIRMWARE_H

#include <stdbool.h>

#include "cpu_model.h"
#include "error.h"
#include "firmware.h"
#include "vm_config.h"

struct vm;
struct pci_bus;
struct pci_device;
struct acpi_pm_timer;
struct q35_pm_control;

struct vm_firmware {
	struct firmware image;
	struct fw_cfg *fw_cfg;
	struct acpi_pm_timer *pm_timer;
	struct q35_pm_control *pm_control;
	struct pci_device *lpc;  /* the Q35 LPC function at 00:1f.0 */
};

/* True for --firmware without --sev (confidential guests boot OVMF through the SEV launch). */
bool vm_boots_firmware(const struct vm_config *cfg);

/* Instead of ACPI in RAM and a kernel loader: reads and maps the image, builds the fw_cfg items,
 * sets vm->boot to BOOT_FIRMWARE. After guest memory exists, before devices and vCPUs. */
int vm_firmware_prepare(struct vm *vm, const struct cpu_model *model, struct error *e);
/* Shared with the confidential launch (vm_sev.c), so OVMF finds the same machine either way:
 * RAM below 4 GiB must end at the Q35 ECAM; */
int vm_firmware_check_memory(const struct vm *vm, struct error *e);
/* and the fw_cfg items describing the machine (memory map, CPUs, ACPI tables) to vm's fw_cfg,
 * plus the kernel, initrd and command line when `kernel` is not NULL. */
int vm_firmware_fill_fw_cfg(struct vm *vm, const struct cpu_model *model,
			    const struct fw_cfg_kernel *kernel, struct error *e);
/* The PCI bus of a firmware boot: ECAM at LAYOUT_Q35_ECAM_START, Q35 host bridge and LPC. */
struct pci_bus *vm_firmware_create_pci(struct vm *vm, struct error *e);
/* Claims the ports of fw_cfg, the PM timer and the PM1 control register. */
int vm_firmware_attach(struct vm *vm, struct error *e);
/* Before pci_bus_destroy (the LPC function is on the bus); NULL-safe. */
void vm_firmware_destroy(struct vm *vm);

#endif
