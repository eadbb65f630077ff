/* An interrupt line into the in-kernel irqchip (PIC + IOAPIC), as a device sees it. */
#ifndef EMBER_IRQ_H
#define EMBER_IRQ_H

#include <stdint.h>

struct irq_line {
	int vm_fd;
	uint32_t gsi;
};

/* Drives the line to level (0/1) with KVM_IRQ_LINE. Edge devices pulse: set 1 then 0. */
void irq_line_set(const struct irq_line *line, int level);
void irq_line_pulse(const struct irq_line *line);

#endif
