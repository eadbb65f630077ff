/* A VM's life cycle: build it from a struct vm_config, run it until the guest powers off, resets,
 * fails, or the host asks it to stop, then tear it down. */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "../arch/x86/cpuid.h"
#include "console.h"
#include "error.h"
#include "event_loop.h"
#include "guest_mem.h"
#include "io_bus.h"
#include "loader.h"
#include "power.h"
#include "vm_config.h"

struct vcpu;
struct serial;
struct i8042;
struct rtc;
struct acpi_sleep;
struct debug_port;

struct vm {
	struct vm_config cfg;
	uint64_t start_ns;          /* CLOCK_MONOTONIC at process start, for boot timing */
	int kvm_fd, vm_fd;
	int run_mmap_size;
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct kvm_cpuid2 *cpuid;   /* what KVM supports; normalized per vCPU */
	struct cpuid_topology topo;
	struct boot_info boot;

	struct vcpu *vcpus;
	unsigned nvcpus;            /* created so far */

	struct power_ctl power;
	struct serial *serial;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct acpi_sleep *acpi_sleep;
	struct debug_port *debug_port;

	struct event_loop loop;     /* the control loop: console input, signals, stop requests */
	struct console console;
	int stop_fd;                /* eventfd: a stop was requested */
	int signal_fd;
	struct ev_op stop_op, signal_op;
	struct signalfd_siginfo siginfo;
	atomic_int stop_requested;
	int exit_status;
};

/* Builds everything (KVM VM, memory, ACPI, kernel, devices, vCPUs) without running it. */
int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t start_ns, struct error *e);
/* Starts the vCPUs and runs the control loop until the VM stops. Returns the exit status. */
int vm_run(struct vm *vm, struct error *e);
void vm_destroy(struct vm *vm);

/* Asks the VM to stop with `status` (the first request wins). Safe from any thread. */
void vm_request_stop(struct vm *vm, int status);

#endif
