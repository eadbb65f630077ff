#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../arch/x86/cpuid.h"
#include "../arch/x86/regs.h"
#include "vm.h"
#include "vm_sev.h"

/* Signal used to pull a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1
/* vCPU threads only run KVM_RUN and device handlers: a small stack keeps idle VMs cheap. */
#define VCPU_STACK_SIZE (256 * 1024)

static _Thread_local struct kvm_run *current_run;

static void on_kick(int sig)
{
	(void)sig;
	/* Makes a KVM_RUN that has not entered the guest yet return at once with EINTR, closing
	 * the race between checking the stop flag and entering the guest. */
	if (current_run)
		current_run->immediate_exit = 1;
}

int vcpu_signals_init(struct error *e)
{
	struct sigaction sa = { .sa_handler = on_kick };
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return error_errno(e, "sigaction");
	return 0;
}

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct error *e)
{
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->index = index;
	/* KVM derives the vCPU's initial APIC id from its vCPU id; topologies with gaps in their
	 * APIC ids (non-power-of-two shapes) need the two to be equal. */
	unsigned long vcpu_id = vm->apic_ids ? vm->apic_ids[index] : index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, vcpu_id);
	if (v->fd < 0)
		return error_errno(e, "KVM_CREATE_VCPU %u", index);
	v->run = mmap(NULL, (size_t)vm->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return error_errno(e, "mmap of vCPU %u's kvm_run", index);
	}
	if (cpuid_apply(v->fd, vm->cpuid, &vm->topo, index, e) < 0 ||
	    regs_setup_common(v->fd, e) < 0)
		return error_prefix(e, "vCPU %u", index);
	if (index == 0 && regs_setup_bsp(v->fd, &vm->boot, e) < 0)
		return error_prefix(e, "vCPU 0");
	return 0;
}

/* Only this vCPU's thread writes its counters: a relaxed load and store is enough. */
static void count(_Atomic uint64_t *counter)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void handle_pio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	count(is_write ? &v->exits.io_out : &v->exits.io_in);
	/* String I/O (rep ins/outs) arrives as `count` items back to back. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		io_bus_dispatch(&v->vm->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : sizeof(run->mmio.data);
	count(run->mmio.is_write ? &v->exits.mmio_write : &v->exits.mmio_read);
	io_bus_dispatch(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
}

static void report_fatal(struct vcpu *v, const char *what)
{
	count(&v->exits.failures);
	fprintf(stderr, "ember: vCPU %u: %s\n", v->index, what);
	if (vm_sev_state_encrypted(v->vm))
		fprintf(stderr, "  (no registers: this SEV-ES/SNP guest's state is encrypted in its "
			"VMSA, which KVM cannot read)\n");
	else
		regs_dump(v->fd, stderr);
	vm_request_stop(v->vm, 1);
}

static void handle_internal_error(struct vcpu *v)
{
	char what[160];
	int n = snprintf(what, sizeof(what), "KVM internal error (suberror %u",
			 v->run->internal.suberror);
	for (uint32_t i = 0; i < v->run->internal.ndata && i < 4 && n > 0 && (size_t)n < sizeof(what); i++)
		n += snprintf(what + n, sizeof(what) - (size_t)n, ", data%u 0x%llx", i,
			      (unsigned long long)v->run->internal.data[i]);
	if (n > 0 && (size_t)n < sizeof(what))
		snprintf(what + n, sizeof(what) - (size_t)n, ")");
	report_fatal(v, what);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(v->vm, 0);
		break;
	default: {
		char what[64];
		snprintf(what, sizeof(what), "guest crash (system event %u)", v->run->system_event.type);
		report_fatal(v, what);
	}
	}
}

/* Returns false when the vCPU must stop running. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[96];
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_pio(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		count(&v->exits.intr);
		return true;
	case KVM_EXIT_SHUTDOWN:
		report_fatal(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		handle_internal_error(v);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		report_fatal(v, what);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		count(&v->exits.system_event);
		handle_system_event(v);
		return false;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one, so a halted vCPU never exits. */
		count(&v->exits.hlt);
		return true;
	case KVM_EXIT_HYPERCALL: {
		/* SNP's page-state changes (KVM_HC_MAP_GPA_RANGE): the only one Ember enables. */
		bool run_on;
		if (vm_sev_exit(v, 0, 0, &run_on))
			return run_on;
		count(&v->exits.other);
		snprintf(what, sizeof(what), "unexpected hypercall %llu",
			 (unsigned long long)run->hypercall.nr);
		report_fatal(v, what);
		return false;
	}
	default:
		count(&v->exits.other);
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		report_fatal(v, what);
		return false;
	}
}

/* Waits while the VM is paused (vm_pause counts the parked threads) or until it stops. */
static void vcpu_park(struct vcpu *v)
{
	struct vm_pause *p = &v->vm->pause;
	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (atomic_load(&p->requested) && !atomic_load(&v->vm->stop_requested))
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
}

static void vcpu_thread_exit(struct vcpu *v)
{
	struct vm_pause *p = &v->vm->pause;
	pthread_mutex_lock(&p->lock);
	p->running--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	current_run = v->run;
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);

	sigset_t unblock;
	sigemptyset(&unblock);
	sigaddset(&unblock, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

	while (!atomic_load(&v->vm->stop_requested)) {
		/* A kick that lands before KVM_RUN sets immediate_exit, so none is lost here. */
		if (atomic_load(&v->vm->pause.requested)) {
			vcpu_park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			int err = errno;
			bool run_on; /* SNP's KVM_EXIT_MEMORY_FAULT (EFAULT): vm_sev.c */
			if (vm_sev_exit(v, -1, err, &run_on)) {
				if (run_on)
					continue;
				break;
			}
			char what[96];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(err));
			report_fatal(v, what);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	vcpu_thread_exit(v);
	return NULL;
}

int vcpu_start(struct vcpu *v, struct error *e)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	pthread_mutex_lock(&v->vm->pause.lock);
	v->vm->pause.running++; /* before the thread exists: vm_pause must wait for it */
	pthread_mutex_unlock(&v->vm->pause.lock);
	int rc = pthread_create(&v->thread, &attr, vcpu_thread, v);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		vcpu_thread_exit(v);
		errno = rc;
		return error_errno(e, "cannot start the thread of vCPU %u", v->index);
	}
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (v->started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->vm->run_mmap_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
