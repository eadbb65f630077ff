/* A VM's life cycle: build it from a struct vm_config, run it until the guest powers off, resets,
 * fails, or the host asks it to stop, then tear it down. */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <linux/kvm.h>
#include <pthread.h>
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
struct pci_bus;
struct virtio_rng;
struct virtio_console;
struct virtio_blk;
struct virtio_net;
struct virtio_vsock;
struct virtio_balloon;
struct vm_firmware;
struct vm_sev;
struct cpu_model;

/* Pause/resume (PATCH /vm): vCPU threads park between two KVM_RUNs while `requested` is set. */
struct vm_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool requested;
	unsigned parked;             /* vCPU threads waiting in vcpu_park */
	unsigned running;            /* vCPU threads alive */
	struct kvm_clock_data clock; /* kvmclock at pause, restored at resume */
};

struct vm {
	struct vm_config cfg;
	uint64_t start_ns;          /* CLOCK_MONOTONIC at process start, for boot timing */
	int kvm_fd, vm_fd;
	int run_mmap_size;
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct kvm_cpuid2 *cpuid;   /* what KVM supports; normalized per vCPU */
	struct cpuid_topology topo;
	uint32_t *apic_ids;         /* per vCPU; KVM's vCPU id is the APIC id (topologies with gaps) */
	struct boot_info boot;

	struct vcpu *vcpus;
	unsigned nvcpus;            /* created so far */

	struct power_ctl power;
	struct serial *serial;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct acpi_sleep *acpi_sleep;
	struct debug_port *debug_port;
	struct pci_bus *pci;        /* NULL when no PCI device is configured */
	struct virtio_rng *rng;     /* --rng */
	struct virtio_console *vcon; /* --console virtio */
	struct virtio_blk *disks[VIRTIO_BLK_MAX_DISKS]; /* --disk, cfg.ndisks of them */
	struct virtio_net *nets[NET_MAX_DEVICES]; /* --net, cfg.nnets of them */
	struct virtio_vsock *vsock;     /* --vsock */
	struct virtio_balloon *balloon; /* --balloon */
	struct vm_firmware *firmware;   /* --firmware without --sev (vmm/vm_firmware.c) */
	struct vm_sev *sev;             /* --sev: the confidential launch (vmm/vm_sev.c) */

	struct event_loop loop;     /* the control loop: console input, signals, stop requests */
	struct console console;
	int stop_fd;                /* eventfd: a stop was requested */
	int signal_fd;
	struct ev_op stop_op, signal_op;
	struct signalfd_siginfo siginfo;
	atomic_int stop_requested;
	int exit_status;
	struct vm_pause pause;
};

/* Builds everything (KVM VM, memory, ACPI, kernel, devices, vCPUs) without running it. */
int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t start_ns, struct error *e);
/* Starts the vCPUs and runs the control loop until the VM stops. Returns the exit status. */
int vm_run(struct vm *vm, struct error *e);
void vm_destroy(struct vm *vm);

/* Steps of vm_create a confidential VM (vmm/vm_sev.c) takes too: the devices (with a firmware
 * boot's, when vm->firmware is set) and the vCPUs (vm->boot.mode BOOT_FIRMWARE: reset state). */
int vm_create_devices(struct vm *vm, struct error *e);
int vm_create_vcpus(struct vm *vm, const struct cpu_model *model, struct error *e);

/* Asks the VM to stop with `status` (the first request wins). Safe from any thread. */
void vm_request_stop(struct vm *vm, int status);

/* Takes every vCPU out of KVM_RUN and parks it, then saves kvmclock (KVM_GET_CLOCK). Returns once
 * no vCPU runs guest code. From any thread but a vCPU's; pausing twice is harmless. */
int vm_pause(struct vm *vm, struct error *e);
/* Restores kvmclock as saved (KVM_SET_CLOCK: the guest sees no jump) and unparks the vCPUs. */
int vm_resume(struct vm *vm, struct error *e);

#endif
