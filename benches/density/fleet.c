#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "host.h"
#include "spawn.h"

#define RING_ENTRIES     256
#define QUIT_TAG         UINT64_MAX
#define WAIT_SLICE_NS    (100 * 1000000ull)  /* condition waits wake this often */
#define MEM_CHECK_EVERY  8                   /* launches between MemAvailable checks */
/* When the output buffer is this full, keep only its tail: enough for a marker that straddles
 * two reads and for the last lines of an error. */
#define OUT_KEEP         1024

static struct density_fleet *live_fleet;

/* ---- output scanning (waiter thread, f->lock held) ---- */

/* Ember's boot-timer line: "ember: guest-ready-us=N\n". Needs the whole number. */
static bool scan_ember_log(struct density_vm *vm)
{
	static const char key[] = "guest-ready-us=";
	const char *p = memmem(vm->out, vm->out_len, key, sizeof(key) - 1);
	if (!p)
		return false;
	const char *digits = p + sizeof(key) - 1, *end = vm->out + vm->out_len;
	const char *nl = memchr(digits, '\n', (size_t)(end - digits));
	if (!nl)
		return false;
	vm->self_ready_us = strtoll(digits, NULL, 10);
	return true;
}

static bool ready_seen(const struct density_launch *l, struct density_vm *vm)
{
	switch (l->ready_kind) {
	case READY_EMBER_LOG:
		return scan_ember_log(vm);
	case READY_BYTE:
		return memchr(vm->out, (unsigned char)l->ready_text[0], vm->out_len) != NULL;
	case READY_TEXT:
		return memmem(vm->out, vm->out_len, l->ready_text, strlen(l->ready_text)) != NULL;
	}
	return false;
}

static void compact_output(struct density_vm *vm)
{
	if (vm->out_len + 64 < sizeof(vm->out))
		return;
	memmove(vm->out, vm->out + vm->out_len - OUT_KEEP, OUT_KEEP);
	vm->out_len = OUT_KEEP;
}

/* The first line of the VM's output that looks like a VMM's diagnostic ("ember: vCPU 0: KVM
 * internal error", "qemu-system-x86_64: ..."), or NULL. A register dump may follow it. */
static const char *diagnostic_line(const struct density_vm *vm, size_t *len)
{
	static const char *const keys[] = { "ember: ", "qemu-system", "lkvm", "Error", "error" };
	const char *end = vm->out + vm->out_len;
	for (const char *line = vm->out; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (memmem(line, n, keys[k], strlen(keys[k])) &&
			    !memmem(line, n, "guest-ready-us", 14)) {
				*len = n;
				return line;
			}
		line += n + 1;
	}
	return NULL;
}

/* The VM's diagnostic, or else its last output, as one printable line. */
void density_vm_diagnostic(const struct density_vm *vm, char *buf, size_t size)
{
	size_t diag_len;
	const char *diag = diagnostic_line(vm, &diag_len);
	if (diag) {
		size_t n = 0;
		for (size_t i = 0; i < diag_len && n + 1 < size; i++)
			buf[n++] = diag[i] >= 0x20 && diag[i] < 0x7f ? diag[i] : '.';
		buf[n] = '\0';
		return;
	}
	size_t len = vm->out_len, start = len > 200 ? len - 200 : 0, n = 0;
	while (len > start && (vm->out[len - 1] == '\n' || vm->out[len - 1] == '\r'))
		len--;
	for (size_t i = start; i < len && n + 1 < size; i++) {
		char c = vm->out[i];
		buf[n++] = c == '\n' ? '|' : (c >= 0x20 && c < 0x7f) ? c : '.';
	}
	buf[n] = '\0';
}

static void record_failure(struct density_fleet *f, unsigned i, const char *what)
{
	if (f->failure[0])
		return;
	char tail[208];
	density_vm_diagnostic(&f->vms[i], tail, sizeof(tail));
	snprintf(f->failure, sizeof(f->failure), "%s VM %u (pid %d) %s%s%s", f->launch->name, i,
		 (int)f->vms[i].pid, what, tail[0] ? ": " : "", tail);
}

/* ---- reads (both threads) ---- */

static void arm_read(struct density_fleet *f, unsigned i)
{
	struct density_vm *vm = &f->vms[i];
	pthread_mutex_lock(&f->sq_lock);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
	if (!sqe) {
		io_uring_submit(&f->ring);
		sqe = io_uring_get_sqe(&f->ring);
	}
	if (sqe) {
		io_uring_prep_read(sqe, vm->out_fd, vm->out + vm->out_len,
				   (unsigned)(sizeof(vm->out) - 1 - vm->out_len), 0);
		io_uring_sqe_set_data64(sqe, (uint64_t)i + 1);
		io_uring_submit(&f->ring);
	}
	pthread_mutex_unlock(&f->sq_lock);
}

/* ---- the waiter thread ---- */

static void on_output(struct density_fleet *f, unsigned i, int res, uint64_t now)
{
	struct density_vm *vm = &f->vms[i];
	if (res == -EINTR || res == -EAGAIN) {
		arm_read(f, i);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (res > 0) {
		vm->out_len += (size_t)res;
		vm->out[vm->out_len] = '\0';
		if (vm->state == VM_BOOTING && ready_seen(f->launch, vm)) {
			vm->state = VM_READY;
			vm->ready_ns = now;
			f->booting--;
			f->ready++;
			pthread_cond_broadcast(&f->changed);
		}
		compact_output(vm);
		pthread_mutex_unlock(&f->lock);
		arm_read(f, i);
		return;
	}
	/* EOF (or a read error): every writer is gone, so the process has exited or is exiting. */
	vm->exited = true;
	close(vm->out_fd);
	vm->out_fd = -1;
	if (vm->state == VM_BOOTING) {
		vm->state = VM_FAILED;
		f->booting--;
		f->failed++;
		record_failure(f, i, "exited before it was ready");
	} else if (vm->state == VM_READY && !vm->torn_down) {
		f->died_after_ready++;
		record_failure(f, i, "exited while idle");
	}
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
}

static void *waiter_main(void *arg)
{
	struct density_fleet *f = arg;
	for (;;) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&f->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			pthread_mutex_lock(&f->lock);
			snprintf(f->stop_reason, sizeof(f->stop_reason), "io_uring wait failed: %s",
				 strerror(-rc));
			pthread_mutex_unlock(&f->lock);
			return NULL;
		}
		uint64_t now = density_now_ns();
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&f->ring, cqe);
		if (tag == QUIT_TAG)
			return NULL;
		if (tag >= 1 && tag <= f->capacity)
			on_output(f, (unsigned)(tag - 1), res, now);
	}
}

/* ---- life cycle ---- */

int density_fleet_init(struct density_fleet *f, const struct density_launch *launch,
		       unsigned capacity, struct error *e)
{
	memset(f, 0, sizeof(*f));
	f->launch = launch;
	f->capacity = capacity;
	f->null_fd = -1;
	f->vms = calloc(capacity ? capacity : 1, sizeof(*f->vms));
	if (!f->vms)
		return error_set(e, "out of memory for %u VM records", capacity);
	for (unsigned i = 0; i < capacity; i++) {
		f->vms[i].out_fd = -1;
		f->vms[i].self_ready_us = -1;
	}
	f->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (f->null_fd < 0)
		return error_errno(e, "cannot open /dev/null");
	int rc = io_uring_queue_init(RING_ENTRIES, &f->ring, 0);
	if (rc < 0) {
		errno = -rc;
		return error_errno(e, "cannot create the launcher's io_uring");
	}
	f->ring_ready = true;
	pthread_mutex_init(&f->sq_lock, NULL);
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->changed, &ca);
	pthread_condattr_destroy(&ca);

	/* The waiter takes no signals: SIGINT and friends go to the main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&f->waiter, NULL, waiter_main, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return error_errno(e, "cannot start the launcher's waiter thread");
	}
	f->waiter_running = true;
	live_fleet = f;
	return 0;
}

/* Waits on f->changed for one slice; f->lock is held. Reports progress on the way. */
static void wait_slice(struct density_fleet *f)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(WAIT_SLICE_NS / 4);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&f->changed, &f->lock, &ts);
	uint64_t now = density_now_ns();
	if (f->progress && now - f->last_progress_ns >= WAIT_SLICE_NS) {
		f->last_progress_ns = now;
		f->progress(f, f->progress_opaque);
	}
}

static bool memory_low(struct density_fleet *f, uint64_t min_available_kib)
{
	if (!min_available_kib || f->launched % MEM_CHECK_EVERY != 0)
		return false;
	struct density_meminfo m;
	if (density_read_meminfo(&m, NULL) < 0 || m.mem_available >= min_available_kib)
		return false;
	snprintf(f->stop_reason, sizeof(f->stop_reason),
		 "host memory low: MemAvailable %llu MiB < --min-available %llu MiB after %u VMs",
		 (unsigned long long)(m.mem_available >> 10),
		 (unsigned long long)(min_available_kib >> 10), f->launched);
	return true;
}

/* Starts VM number f->launched. f->lock is not held. Returns false when launching must stop. */
static bool launch_one(struct density_fleet *f)
{
	unsigned i = f->launched;
	struct density_vm *vm = &f->vms[i];
	struct error e = { "" };
	int fd = -1;
	vm->state = VM_BOOTING;
	pid_t pid = density_spawn(f->launch->argv, f->null_fd, &fd, &vm->spawn_ns, &e);
	if (pid < 0) {
		pthread_mutex_lock(&f->lock);
		snprintf(f->stop_reason, sizeof(f->stop_reason), "VM %u: %s", i, e.msg);
		pthread_mutex_unlock(&f->lock);
		vm->state = VM_FAILED;
		return false;
	}
	vm->exec_ns = density_now_ns();
	vm->pid = pid;
	vm->out_fd = fd;
	if (!f->first_spawn_ns)
		f->first_spawn_ns = vm->spawn_ns;
	pthread_mutex_lock(&f->lock);
	f->booting++;
	f->launched++;
	pthread_mutex_unlock(&f->lock);
	arm_read(f, i);
	return true;
}

/* f->lock held. */
static bool must_stop(struct density_fleet *f)
{
	if (density_interrupted) {
		snprintf(f->stop_reason, sizeof(f->stop_reason), "interrupted");
		return true;
	}
	if (f->failed + f->died_after_ready > f->max_failures) {
		snprintf(f->stop_reason, sizeof(f->stop_reason), "%s", f->failure);
		return true;
	}
	return f->stop_reason[0] != '\0';
}

/* Fails and kills VMs booting for longer than f->boot_timeout_ns. f->lock held. */
static void expire_slow_boots(struct density_fleet *f)
{
	if (!f->boot_timeout_ns || !f->booting)
		return;
	uint64_t now = density_now_ns();
	for (unsigned i = 0; i < f->launched; i++) {
		struct density_vm *vm = &f->vms[i];
		if (vm->state != VM_BOOTING || now - vm->spawn_ns < f->boot_timeout_ns)
			continue;
		vm->state = VM_FAILED;
		f->booting--;
		f->failed++;
		char what[64];
		snprintf(what, sizeof(what), "was not ready after %.0f s",
			 (double)f->boot_timeout_ns / 1e9);
		record_failure(f, i, what);
		kill(vm->pid, SIGKILL);
	}
}

unsigned density_fleet_launch(struct density_fleet *f, unsigned target, unsigned concurrency,
			      uint64_t min_available_kib)
{
	if (concurrency == 0)
		concurrency = 1;
	unsigned first = f->launched;
	uint64_t start_ns = 0;
	pthread_mutex_lock(&f->lock);
	/* Failed VMs (up to max_failures) do not count towards the target. */
	while (f->launched - f->failed < target && f->launched < f->capacity && !must_stop(f)) {
		if (f->booting >= concurrency) {
			wait_slice(f);
			expire_slow_boots(f);
			continue;
		}
		pthread_mutex_unlock(&f->lock);
		bool ok = !memory_low(f, min_available_kib) && launch_one(f);
		if (ok && !start_ns)
			start_ns = f->vms[f->launched - 1].spawn_ns;
		pthread_mutex_lock(&f->lock);
		if (!ok)
			break;
	}
	while (f->booting > 0 && !density_interrupted) {
		wait_slice(f);
		expire_slow_boots(f);
	}
	must_stop(f); /* a failure while draining is a stop reason too */

	uint64_t end_ns = start_ns;
	for (unsigned i = first; i < f->launched; i++)
		if (f->vms[i].state == VM_READY && f->vms[i].ready_ns > end_ns)
			end_ns = f->vms[i].ready_ns;
	f->launch_ns += end_ns - start_ns;
	pthread_mutex_unlock(&f->lock);
	return f->launched - first;
}

static int compare_pid(const void *a, const void *b)
{
	const pid_t *x = a, *y = b;
	return (*x > *y) - (*x < *y);
}

/* Index of the VM with this pid, through a sorted (pid, index) table. */
static long find_vm(const pid_t *table, unsigned n, pid_t pid)
{
	pid_t key[2] = { pid, 0 };
	const pid_t *hit = bsearch(key, table, n, 2 * sizeof(pid_t), compare_pid);
	return hit ? hit[1] : -1;
}

double density_fleet_teardown(struct density_fleet *f, double grace, unsigned *killed)
{
	*killed = 0;
	unsigned n = f->launched, left = 0;
	/* Their EOFs, which the waiter may see much later, are expected from now on. */
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < n; i++)
		f->vms[i].torn_down = true;
	pthread_mutex_unlock(&f->lock);

	pid_t *table = calloc(2 * (size_t)(n ? n : 1), sizeof(pid_t));
	uint64_t start = density_now_ns(), last = start;
	for (unsigned i = 0; i < n; i++) {
		if (f->vms[i].reaped || f->vms[i].pid <= 0)
			continue;
		kill(f->vms[i].pid, SIGTERM);
		if (table) {
			table[2 * left] = f->vms[i].pid;
			table[2 * left + 1] = (pid_t)i;
		}
		left++;
	}
	if (table)
		qsort(table, left, 2 * sizeof(pid_t), compare_pid);
	unsigned total = left;
	bool sent_kill = false;
	while (left > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break; /* ECHILD: nothing left to reap */
		uint64_t now = density_now_ns();
		if (pid == 0) {
			if (!sent_kill && (double)(now - start) / 1e9 > grace) {
				for (unsigned i = 0; i < n; i++)
					if (!f->vms[i].reaped && f->vms[i].pid > 0 &&
					    kill(f->vms[i].pid, SIGKILL) == 0)
						(*killed)++;
				sent_kill = true;
			}
			nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
			continue;
		}
		long i = table ? find_vm(table, total, pid) : -1;
		if (i >= 0) {
			f->vms[i].reaped = true;
			f->vms[i].wait_status = status;
			left--;
			last = now;
		}
	}
	free(table);
	return (double)(last - start) / 1e9;
}

void density_fleet_stop(struct density_fleet *f)
{
	if (!f->vms) /* never initialised */
		return;
	if (f->waiter_running) {
		pthread_mutex_lock(&f->sq_lock);
		struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
		if (!sqe) {
			io_uring_submit(&f->ring);
			sqe = io_uring_get_sqe(&f->ring);
		}
		if (sqe) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, QUIT_TAG);
			io_uring_submit(&f->ring);
		}
		pthread_mutex_unlock(&f->sq_lock);
		pthread_join(f->waiter, NULL);
		f->waiter_running = false;
	}
	if (f->ring_ready)
		io_uring_queue_exit(&f->ring);
	f->ring_ready = false;
	for (unsigned i = 0; i < f->launched; i++) {
		if (f->vms[i].out_fd >= 0)
			close(f->vms[i].out_fd);
		f->vms[i].out_fd = -1;
	}
	if (f->null_fd >= 0)
		close(f->null_fd);
	f->null_fd = -1;
	if (live_fleet == f)
		live_fleet = NULL;
}

void density_fleet_free(struct density_fleet *f)
{
	density_fleet_stop(f);
	free(f->vms);
	f->vms = NULL;
}

void density_fleet_kill_all(void)
{
	struct density_fleet *f = live_fleet;
	if (!f)
		return;
	for (unsigned i = 0; i < f->launched; i++)
		if (!f->vms[i].reaped && f->vms[i].pid > 0)
			kill(f->vms[i].pid, SIGKILL);
}
