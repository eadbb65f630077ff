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
#include "../arch/x86/amd/sev/sev_host.h"
#include "../arch/x86/layout.h"
#include "../arch/x86/regs.h"
#include "../devices/legacy/acpi_sleep.h"
#include "../devices/legacy/debug_port.h"
#include "../devices/legacy/i8042.h"
#include "../devices/legacy/rtc.h"
#include "../devices/legacy/serial.h"
#include "../devices/pci/pci.h"
#include "../devices/virtio/balloon.h"
#include "../devices/virtio/blk.h"
#include "../devices/virtio/console.h"
#include "../devices/virtio/net.h"
#include "../devices/virtio/rng.h"
#include "../devices/virtio/vsock.h"
#include "cpu_list.h"
#include "cpu_model.h"
#include "irq.h"
#include "memory_report.h"
#include "vcpu.h"
#include "vm_firmware.h"
#include "vm_sev.h"

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

/* --sev: the host must offer the mode (KVM's VM type, kvm_amd, /dev/sev) before any VM exists;
 * a host without it refuses here in one line (arch/x86/amd/sev/sev_host.h). */
static int check_confidential(const struct vm *vm, struct error *e)
{
	static const enum sev_mode modes[] = {
		[VM_SEV_SEV] = SEV_MODE_SEV, [VM_SEV_ES] = SEV_MODE_SEV_ES, [VM_SEV_SNP] = SEV_MODE_SNP,
	};
	if (vm->cfg.sev == VM_SEV_OFF)
		return 0;
	return sev_run_check(vm->kvm_fd, modes[vm->cfg.sev], vm->cfg.sev_policy, e);
}

static int create_kvm_vm(struct vm *vm, struct error *e)
{
	/* Under load KVM_CREATE_VM sometimes fails with EINTR with no signal sent (seen in the
	 * density benchmark, ~1 in 100-1000 launches); it is safe to retry, as QEMU does. */
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0UL);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		return error_errno(e, "KVM_CREATE_VM");
	/* A firmware image ends at 4 GiB, over the usual pages: they move below it then. */
	bool fw = vm_boots_firmware(&vm->cfg);
	unsigned long tss = fw ? LAYOUT_FW_KVM_PAGES + 0x1000 : KVM_TSS_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, tss) < 0)
		return error_errno(e, "KVM_SET_TSS_ADDR");
	uint64_t identity = fw ? LAYOUT_FW_KVM_PAGES : KVM_IDENTITY_MAP_ADDR;
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

/* PCI exists only when a PCI device is asked for: other guests boot without a PCI scan. */
static unsigned vm_pci_buses(const struct vm_config *cfg)
{
	return cfg->rng || cfg->console == VM_CONSOLE_VIRTIO || cfg->ndisks || cfg->nnets ||
		       cfg->balloon.enabled || cfg->vsock.enabled || cfg->firmware_path /* --sev too */
		       ? PCI_ECAM_BUSES : 0;
}

/* --console virtio: stdin (vmm/console.c: raw mode, Ctrl-A x) feeds hvc0 instead of COM1. */
static int create_virtio_console(struct vm *vm, struct error *e)
{
	struct virtio_console_config cfg = {
		.out_fd = STDOUT_FILENO,
		.tty_fd = STDIN_FILENO, /* the window size, when stdin is a terminal */
		.rx_ready = console_wake,
		.rx_ready_opaque = &vm->console,
	};
	if (!(vm->vcon = virtio_console_create(vm->pci, vm->vm_fd, &vm->mem, &cfg, e)))
		return -1;
	console_set_sink(&vm->console, virtio_console_receive, vm->vcon);
	return 0;
}

static int create_pci_devices(struct vm *vm, struct error *e)
{
	if (!vm_pci_buses(&vm->cfg))
		return 0;
	if (!(vm->pci = vm->firmware ? vm_firmware_create_pci(vm, e)
				     : pci_bus_create(&vm->pio, &vm->mmio, vm->vm_fd, e)))
		return -1;
	if (vm->cfg.rng && !(vm->rng = virtio_rng_create(vm->pci, vm->vm_fd, &vm->mem, e)))
		return -1;
	if (vm->cfg.console == VM_CONSOLE_VIRTIO && create_virtio_console(vm, e) < 0)
		return -1;
	for (unsigned i = 0; i < vm->cfg.ndisks; i++)
		if (!(vm->disks[i] = virtio_blk_create(vm->pci, vm->vm_fd, &vm->mem, &vm->cfg.disks[i],
						       vm->cfg.io_engine, e)))
			return -1;
	for (unsigned i = 0; i < vm->cfg.nnets; i++)
		if (!(vm->nets[i] = virtio_net_create(vm->pci, vm->vm_fd, &vm->mem, &vm->cfg.nets[i], e)))
			return -1;
	/* The balloon learns the RAM's backing (anon, memfd, hugetlb) from vm->mem itself. */
	if (vm->cfg.balloon.enabled &&
	    !(vm->balloon = virtio_balloon_create(vm->pci, vm->vm_fd, &vm->mem, &vm->cfg.balloon, e)))
		return -1;
	if (vm->cfg.vsock.enabled &&
	    !(vm->vsock = virtio_vsock_create(vm->pci, vm->vm_fd, &vm->mem, &vm->cfg.vsock, e)))
		return -1;
	return 0;
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
	i8042_set_irq(vm->i8042, &(struct irq_line){ .vm_fd = vm->vm_fd, .gsi = IRQ_I8042_KBD });
	if (vm->firmware && vm_firmware_attach(vm, e) < 0)
		return -1;
	return create_pci_devices(vm, e);
}

static int load_guest(struct vm *vm, const struct cpu_model *model, struct error *e)
{
	if (vm_boots_firmware(&vm->cfg)) /* the firmware loads the kernel (fw_cfg) */
		return vm_firmware_prepare(vm, model, e);
	uint64_t rsdp = 0;
	uint32_t apic_ids[VM_CONFIG_MAX_CPUS];
	topology_apic_ids(&model->topo, apic_ids); /* the MADT lists what CPUID says */
	struct acpi_config acpi = { .ncpus = vm->cfg.ncpus, .pci_buses = vm_pci_buses(&vm->cfg),
				    .apic_ids = apic_ids };
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

/* vm->cpuid (KVM's CPUID with the template applied) comes from cpu_model_prepare. */
static int create_vcpus(struct vm *vm, const struct cpu_model *model, struct error *e)
{
	cpu_model_plain_topology(model, &vm->topo);
	vm->apic_ids = calloc(vm->cfg.ncpus, sizeof(*vm->apic_ids));
	vm->vcpus = calloc(vm->cfg.ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus || !vm->apic_ids)
		return error_set(e, "out of memory for %u vCPUs", vm->cfg.ncpus);
	topology_apic_ids(&model->topo, vm->apic_ids);
	for (unsigned i = 0; i < vm->cfg.ncpus; i++) {
		vm->vcpus[i].fd = -1;
		vm->nvcpus = i + 1;
		if (vcpu_create(&vm->vcpus[i], vm, i, e) < 0 ||
		    cpu_model_setup_vcpu(model, vm->cpuid, vm->vcpus[i].fd, i, e) < 0)
			return -1;
	}
	return 0;
}

/* The control loop owns SIGINT/SIGTERM/SIGHUP/SIGWINCH through a signalfd; every thread blocks
 * them. */
static int block_control_signals(struct vm *vm, struct error *e)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH); /* the terminal's size, for virtio-console */
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
	pthread_mutex_init(&vm->pause.lock, NULL);
	pthread_cond_init(&vm->pause.cond, NULL);
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

	if (open_kvm(vm, e) < 0 || check_confidential(vm, e) < 0)
		return -1;
	if (cfg->sev != VM_SEV_OFF) /* the confidential launch builds the VM its own way */
		return vm_sev_create(vm, e);
	if (create_kvm_vm(vm, e) < 0)
		return -1;
	if (guest_mem_init_backed(&vm->mem, cfg->mem_size, &cfg->memory, e) < 0 ||
	    guest_mem_register(&vm->mem, vm->vm_fd, e) < 0)
		return -1;
	/* Exits, CPUID and topology are settled before anything that depends on them: the MADT
	 * lists the APIC ids, and exit controls must precede the first vCPU. */
	struct cpu_model model;
	int rc = cpu_model_prepare(&model, cfg, vm->kvm_fd, vm->vm_fd, &vm->cpuid, e) < 0 ||
			 load_guest(vm, &model, e) < 0 || create_devices(vm, e) < 0 ||
			 create_vcpus(vm, &model, e) < 0 ? -1 : 0;
	cpu_model_free(&model);
	return rc;
}

int vm_create_devices(struct vm *vm, struct error *e)
{
	return create_devices(vm, e);
}

int vm_create_vcpus(struct vm *vm, const struct cpu_model *model, struct error *e)
{
	return create_vcpus(vm, model, e);
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
	/* Parked vCPUs and a waiting vm_pause() must see the stop. */
	pthread_mutex_lock(&vm->pause.lock);
	pthread_cond_broadcast(&vm->pause.cond);
	pthread_mutex_unlock(&vm->pause.lock);
}

int vm_pause(struct vm *vm, struct error *e)
{
	pthread_mutex_lock(&vm->pause.lock);
	bool already = atomic_exchange(&vm->pause.requested, true);
	pthread_mutex_unlock(&vm->pause.lock);
	if (already)
		return 0;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->pause.lock);
	while (vm->pause.parked < vm->pause.running && !atomic_load(&vm->stop_requested))
		pthread_cond_wait(&vm->pause.cond, &vm->pause.lock);
	pthread_mutex_unlock(&vm->pause.lock);
	/* With every vCPU parked the clock is still; resume puts it back so the guest sees no gap. */
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &vm->pause.clock) < 0) {
		error_errno(e, "KVM_GET_CLOCK");
		vm_resume(vm, NULL);
		return -1;
	}
	return 0;
}

int vm_resume(struct vm *vm, struct error *e)
{
	int rc = 0;
	pthread_mutex_lock(&vm->pause.lock);
	if (atomic_load(&vm->pause.requested)) {
		/* Only the clock value: KVM_CLOCK_REALTIME would advance it by the paused time. */
		struct kvm_clock_data clock = { .clock = vm->pause.clock.clock };
		if (vm->pause.clock.clock && ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
			rc = error_errno(e, "KVM_SET_CLOCK");
		vm->pause.clock.clock = 0;
		atomic_store(&vm->pause.requested, false);
		pthread_cond_broadcast(&vm->pause.cond);
	}
	pthread_mutex_unlock(&vm->pause.lock);
	return rc;
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
	if (read(vm->signal_fd, &vm->siginfo, sizeof(vm->siginfo)) != sizeof(vm->siginfo)) {
		/* nothing: the API's loop may have read it */
	} else if (vm->siginfo.ssi_signo == SIGWINCH) {
		virtio_console_resize(vm->vcon); /* NULL (no virtio console): nothing to do */
	} else {
		fprintf(stderr, "\nember: %s received, stopping the VM\n",
			strsignal((int)vm->siginfo.ssi_signo));
		vm_request_stop(vm, 0);
	}
	event_loop_poll(&vm->loop, &vm->signal_op, vm->signal_fd, POLLIN);
}

/* --cpu-affinity: vCPU i on the i-th listed host CPU (the list is checked by the CLI). */
static int pin_vcpus(struct vm *vm, struct error *e)
{
	if (!vm->cfg.cpu_affinity)
		return 0;
	struct cpu_list *list = malloc(sizeof(*list));
	if (!list)
		return error_set(e, "out of memory");
	int rc = cpu_list_parse(vm->cfg.cpu_affinity, list, e);
	for (unsigned i = 0; rc == 0 && i < vm->nvcpus; i++)
		rc = i < list->n ? cpu_list_pin_thread(vm->vcpus[i].thread, list->cpu[i], e)
				 : error_set(e, "no host CPU listed for vCPU %u", i);
	free(list);
	return rc < 0 ? error_prefix(e, "--cpu-affinity") : 0;
}

/* --memory-stats: how the host backed guest RAM and how KVM mapped it (docs/epyc.md). */
static void report_memory(struct vm *vm)
{
	struct memory_usage u = { 0 };
	struct error e;
	if (memory_usage_smaps(&vm->mem, "/proc/self/smaps", &u, &e) < 0 ||
	    memory_usage_kvm(vm->vm_fd, &u, &e) < 0)
		fprintf(stderr, "ember: memory stats: %s\n", e.msg);
	memory_usage_print(&vm->mem, &u, stderr);
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
		rc = pin_vcpus(vm, e);
	if (rc == 0)
		rc = event_loop_run(&vm->loop, e);
	if (rc < 0)
		vm_request_stop(vm, 1);

	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	console_restore(&vm->console);
	if (vm->cfg.memory_stats)
		report_memory(vm);
	return rc < 0 ? -1 : vm->exit_status;
}

static void destroy_devices(struct vm *vm)
{
	virtio_rng_destroy(vm->rng); /* stops its thread first */
	virtio_console_destroy(vm->vcon); /* writes out buffered output, stops its thread */
	for (unsigned i = 0; i < VIRTIO_BLK_MAX_DISKS; i++)
		virtio_blk_destroy(vm->disks[i]); /* waits for host I/O in flight, stops its threads */
	for (unsigned i = 0; i < NET_MAX_DEVICES; i++)
		virtio_net_destroy(vm->nets[i]); /* stops its thread, closes the TAP */
	virtio_balloon_destroy(vm->balloon); /* stops its thread */
	virtio_vsock_destroy(vm->vsock); /* stops its thread, closes connections, removes the uds */
	vm_firmware_destroy(vm); /* its LPC function sits on the PCI bus */
	pci_bus_destroy(vm->pci);
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
	free(vm->apic_ids);
	free(vm->cpuid);
	vm_sev_destroy(vm->sev); /* the launch's fds, firmware range, plan */
	destroy_devices(vm);
	console_destroy(&vm->console);
	event_loop_destroy(&vm->loop);
	guest_mem_destroy(&vm->mem);
	io_bus_destroy(&vm->pio);
	io_bus_destroy(&vm->mmio);
	pthread_mutex_destroy(&vm->pause.lock);
	pthread_cond_destroy(&vm->pause.cond);
	int fds[] = { vm->vm_fd, vm->kvm_fd, vm->stop_fd, vm->signal_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
