/* One thread per vCPU: KVM_RUN in a loop, exits routed to the I/O buses, fatal exits reported
 * with the registers. */
#ifndef EMBER_VCPU_H
#define EMBER_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct vm;

/* VM exits by kind. Written by the vCPU's own thread, read live by metrics (relaxed atomics). */
struct vcpu_exit_stats {
	_Atomic uint64_t io_in, io_out, mmio_read, mmio_write, hlt, intr, system_event, failures,
		other;
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct vcpu_exit_stats exits;
};

/* Creates the KVM vCPU, applies CPUID, MSRs, FPU and LAPIC; the BSP (index 0) also gets its boot
 * registers. */
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct error *e);
int vcpu_start(struct vcpu *v, struct error *e);
/* Forces the vCPU out of KVM_RUN (it then sees the stop request). */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/* Installs the kick signal handler; once per process. */
int vcpu_signals_init(struct error *e);

#endif
