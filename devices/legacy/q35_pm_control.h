/* Firmware boot: the PM1a control register of the Q35 power-management block (ICH9 datasheet,
 * PMBASE + 4), which OVMF's ResetSystem(EfiResetShutdown) writes to power off: SLP_TYP 0 (S5 in
 * QEMU's Q35 encoding) with SLP_EN. Linux on Ember never uses it (its FADT is HW-reduced and
 * points at the sleep registers at 0x600/0x601), but under UEFI Linux powers off through the
 * firmware's ResetSystem, which ends here. Other bits (SCI_EN) are stored and read back. */
#ifndef EMBER_Q35_PM_CONTROL_H
#define EMBER_Q35_PM_CONTROL_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/power.h"

#define Q35_PM1_CNT_SLP_EN    (1u << 13)
#define Q35_PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7u)
#define Q35_SLP_TYP_S5        0

struct q35_pm_control;

/* Plain state: the register as last written, without the write-only SLP_EN. */
struct q35_pm_control_state {
	uint16_t pm1_cnt;
};

struct q35_pm_control *q35_pm_control_create(const struct power_ctl *power, struct error *e);
void q35_pm_control_destroy(struct q35_pm_control *p);
/* Claims the 2 ports at `port` (PMBASE + 4). */
int q35_pm_control_attach(struct q35_pm_control *p, struct io_bus *pio, uint16_t port,
			  struct error *e);
void q35_pm_control_save(struct q35_pm_control *p, struct q35_pm_control_state *out);
void q35_pm_control_restore(struct q35_pm_control *p, const struct q35_pm_control_state *in);
void q35_pm_control_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
