#include "irq.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

void irq_line_set(const struct irq_line *line, int level)
{
	if (line->vm_fd < 0)
		return; /* unit tests run devices without a VM */
	struct kvm_irq_level irq = { .irq = line->gsi, .level = (uint32_t)level };
	ioctl(line->vm_fd, KVM_IRQ_LINE, &irq);
}

void irq_line_pulse(const struct irq_line *line)
{
	irq_line_set(line, 1);
	irq_line_set(line, 0);
}
