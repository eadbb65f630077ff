#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../arch/x86/acpi.h"
#include "../arch/x86/layout.h"
#include "../arch/x86/regs.h"
#include "../devices/legacy/acpi_sleep.h"
#include "../devices/legacy/debug_port.h"
#include "../devices/legacy/i8042.h"
#include "../devices/legacy/rtc.h"
#include "../devices/legacy/serial.h"
#include "irq.h"
#include "vcpu.h"

/* Intel VMX needs these two pages for real-mode emulation; they sit in the 32-bit hole, out of
 * the way of RAM and devices. AMD ignores them but setting them is harmless. */
#define KVM_TSS_ADDR         0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define CONTROL_RING_ENTRIES 16

static int open_kvm(struct vm *vm, struct error *e)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return error_errno(e, "cannot open /dev/kvm");
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return error_set(e, "/dev/kvm speaks API version %d, Ember needs %d", version,
				 KVM_API_VERSION);
	vm->run_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_mmap_size <= 0)
		return error_errno(e, "KVM_GET_VCPU_MMAP_SIZE");
	return 0;
}

static int create_kvm_vm(struct vm *vm, struct error *e)
{
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0UL);
	if (vm->vm_fd < 0)
		return error_errno(e, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return error_errno(e, "KVM_SET_TSS_ADDR");
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return error_errno(e, "KVM_SET_IDENTITY_MAP_ADDR");
	/* In-kernel PIC, IOAPIC and LAPICs: interrupts and INIT/SIPI never leave the kernel. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return error_errno(e, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return error_errno(e, "KVM_CREATE_PIT2");
	return 0;
}

static void on_power_request(void *opaque, enum power_event ev, int status)
{
	struct vm *vm = opaque;
	vm_request_stop(vm, ev == POWER_EXIT ? status : 0);
}

static void on_console_quit(void *opaque)
{
	vm_request_stop(opaque, 0);
}

static int create_devices(struct vm *vm, struct error *e)
{
	vm->power = (struct power_ctl){ .request = on_power_request, .opaque = vm };
	struct serial_config scfg = {
		.out_fd = STDOUT_FILENO,
		.irq = { .vm_fd = vm->vm_fd, .gsi = IRQ_COM1 },
		.rx_ready = console_wake,
		.rx_ready_opaque = &vm->console,
	};
	struct irq_line rtc_irq = { .vm_fd = vm->vm_fd, .gsi = IRQ_RTC };
	if (!(vm->serial = serial_create(&scfg, e)) ||
	    serial_attach(vm->serial, &vm->pio, PORT_COM1, e) < 0 ||
	    !(vm->i8042 = i8042_create(&vm->power, e)) || i8042_attach(vm->i8042, &vm->pio, e) < 0 ||
	    !(vm->rtc = rtc_create(&rtc_irq, e)) || rtc_attach(vm->rtc, &vm->pio, e) < 0 ||
	    !(vm->acpi_sleep = acpi_sleep_create(&vm->power, e)) ||
	    acpi_sleep_attach(vm->acpi_sleep, &vm->pio, e) < 0 ||
	    !(vm->debug_port = debug_port_create(&vm->power, vm->start_ns, e)) ||
	    debug_port_attach(vm->debug_port, &vm->pio, e) < 0)
		return error_prefix(e, "devices");
	return 0;
}

static int load_guest(struct vm *vm, struct error *e)
{
	uint64_t rsdp = 0;
	struct acpi_config acpi = { .ncpus = vm->cfg.ncpus };
	if (acpi_build(&vm->mem, &acpi, &rsdp, e) < 0)
		return error_prefix(e, "ACPI tables");
	struct boot_spec spec = {
		.kernel_path = vm->cfg.kernel_path,
		.initrd_path = vm->cfg.initrd_path,
		.cmdline = vm->cfg.cmdline,
		.rsdp_gpa = rsdp,
	};
	if (loader_load(&vm->mem, &spec, &vm->boot, e) < 0)
		return -1;
	return regs_write_boot_tables(&vm->mem, e);
}

static int create_vcpus(struct vm *vm, struct error *e)
{
	vm->topo = (struct cpuid_topology){
		.ncpus = vm->cfg.ncpus, .threads_per_core = 1, .cores_per_socket = vm->cfg.ncpus,
		.sockets = 1,
	};
	if (cpuid_get_supported(vm->kvm_fd, &vm->cpuid, e) < 0)
		return -1;
	vm->vcpus = calloc(vm->cfg.ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return error_set(e, "out of memory for %u vCPUs", vm->cfg.ncpus);
	for (unsigned i = 0; i < vm->cfg.ncpus; i++) {
		vm->vcpus[i].fd = -1;
		vm->nvcpus = i + 1;
		if (vcpu_create(&vm->vcpus[i], vm, i, e) < 0)
			return -1;
	}
	return 0;
}

/* The control loop owns SIGINT/SIGTERM/SIGHUP through a signalfd; every thread blocks them. */
static int block_control_signals(struct vm *vm, struct error *e)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return error_set(e, "cannot block signals");
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return error_errno(e, "signalfd");
	/* vCPU threads inherit this mask and unblock only the kick signal. */
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t start_ns, struct error *e)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->start_ns = start_ns;
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = vm->signal_fd = vm->console.wake_fd = -1;
	io_bus_init(&vm->pio, "pio");
	io_bus_init(&vm->mmio, "mmio");

	if (vcpu_signals_init(e) < 0 || block_control_signals(vm, e) < 0)
		return -1;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return error_errno(e, "eventfd");
	if (event_loop_init(&vm->loop, CONTROL_RING_ENTRIES, e) < 0 ||
	    console_init(&vm->console, STDIN_FILENO, &vm->loop, e) < 0)
		return -1;
	vm->console.quit = on_console_quit;
	vm->console.quit_opaque = vm;

	if (open_kvm(vm, e) < 0 || create_kvm_vm(vm, e) < 0)
		return -1;
	if (guest_mem_init(&vm->mem, cfg->mem_size, e) < 0 ||
	    guest_mem_register(&vm->mem, vm->vm_fd, e) < 0)
		return -1;
	if (load_guest(vm, e) < 0 || create_devices(vm, e) < 0 || create_vcpus(vm, e) < 0)
		return -1;
	return 0;
}

void vm_request_stop(struct vm *vm, int status)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&vm->stop_requested, &expected, 1))
		return;
	vm->exit_status = status;
	uint64_t one = 1;
	if (write(vm->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for a fresh eventfd; the flag is set regardless */
	}
}

static void on_stop(struct ev_op *op, int res)
{
	struct vm *vm = container_of(op, struct vm, stop_op);
	(void)res;
	event_loop_stop(&vm->loop);
}

static void on_signal(struct ev_op *op, int res)
{
	struct vm *vm = container_of(op, struct vm, signal_op);
	(void)res;
	if (read(vm->signal_fd, &vm->siginfo, sizeof(vm->siginfo)) == sizeof(vm->siginfo)) {
		fprintf(stderr, "\nember: %s received, stopping the VM\n",
			strsignal((int)vm->siginfo.ssi_signo));
		vm_request_stop(vm, 0);
	}
	event_loop_poll(&vm->loop, &vm->signal_op, vm->signal_fd, POLLIN);
}

int vm_run(struct vm *vm, struct error *e)
{
	vm->stop_op.done = on_stop;
	vm->signal_op.done = on_signal;
	event_loop_poll(&vm->loop, &vm->stop_op, vm->stop_fd, POLLIN);
	event_loop_poll(&vm->loop, &vm->signal_op, vm->signal_fd, POLLIN);
	if (console_start(&vm->console, vm->serial, e) < 0)
		return -1;

	int rc = 0;
	for (unsigned i = 0; i < vm->nvcpus && rc == 0; i++)
		rc = vcpu_start(&vm->vcpus[i], e);
	if (rc == 0)
		rc = event_loop_run(&vm->loop, e);
	if (rc < 0)
		vm_request_stop(vm, 1);

	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	console_restore(&vm->console);
	return rc < 0 ? -1 : vm->exit_status;
}

static void destroy_devices(struct vm *vm)
{
	if (vm->serial)
		serial_destroy(vm->serial);
	if (vm->i8042)
		i8042_destroy(vm->i8042);
	if (vm->rtc)
		rtc_destroy(vm->rtc);
	if (vm->acpi_sleep)
		acpi_sleep_destroy(vm->acpi_sleep);
	if (vm->debug_port)
		debug_port_destroy(vm->debug_port);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		vcpu_kick(&vm->vcpus[i]);
		vcpu_join(&vm->vcpus[i]);
		vcpu_destroy(&vm->vcpus[i]);
	}
	free(vm->vcpus);
	free(vm->cpuid);
	destroy_devices(vm);
	console_destroy(&vm->console);
	event_loop_destroy(&vm->loop);
	guest_mem_destroy(&vm->mem);
	io_bus_destroy(&vm->pio);
	io_bus_destroy(&vm->mmio);
	int fds[] = { vm->vm_fd, vm->kvm_fd, vm->stop_fd, vm->signal_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
