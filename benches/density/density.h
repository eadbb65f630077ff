/* `ember bench density`: how many idle VMs a host holds, how fast they start and what each
 * costs, for Ember and, in the same run with the same guest, QEMU microvm and kvmtool.
 * See docs/density.md for what is measured and how. */
#ifndef EMBER_DENSITY_H
#define EMBER_DENSITY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../vmm/error.h"

enum density_vmm { DENSITY_EMBER, DENSITY_QEMU, DENSITY_KVMTOOL, DENSITY_NVMMS };
enum density_guest { DENSITY_GUEST_SMALL, DENSITY_GUEST_LINUX };

#define DENSITY_MAX_MEM_POINTS 8

struct density_options {
	bool want[DENSITY_NVMMS];        /* --vmm */
	unsigned count[DENSITY_NVMMS];   /* --count: VMs to launch per VMM */
	unsigned concurrency;            /* --concurrency: VMs booting at once */
	unsigned single_launches;        /* --single: sequential launches for the single-launch TTR */
	enum density_guest guest;        /* --guest */
	uint64_t guest_mem;              /* --memory, bytes */
	double idle_seconds;             /* --idle-seconds: CPU measurement window */
	double settle_seconds;           /* --settle: pause before a memory baseline */
	double hold_seconds;             /* --hold: keep the VMs up after measuring (cross-checks) */
	double boot_timeout;             /* --boot-timeout: seconds before a booting VM has failed */
	unsigned max_failures;           /* --max-failures: failed VMs tolerated (default 0) */
	unsigned mem_points;             /* --mem-points: memory samples on the way to N */
	uint64_t min_available_kib;      /* --min-available: stop launching below this MemAvailable */
	const char *out_dir;             /* --out (NULL: build/density-<timestamp> beside the binary) */
	const char *vmm_path[DENSITY_NVMMS]; /* --ember/--qemu/--lkvm: binaries */
	const char *kernel;              /* --kernel: guest override (with --initrd) */
	const char *initrd;
	int progress;                    /* --progress/--no-progress; -1: when stderr is a tty */
};

/* How a VM tells the launcher it is up: a marker in its combined stdout/stderr. */
enum density_ready_kind {
	READY_EMBER_LOG, /* "guest-ready-us=N\n" from Ember's boot-timer port */
	READY_BYTE,      /* one byte (isa-debugcon) */
	READY_TEXT,      /* a string on the serial console */
};

/* Everything needed to start one VM of one VMM. */
struct density_launch {
	enum density_vmm vmm;
	const char *name;                /* "ember", "qemu", "kvmtool" */
	char *argv[48];                  /* NULL-terminated; strings owned by `strings` */
	char strings[4096];
	enum density_ready_kind ready_kind;
	char ready_text[32];             /* READY_TEXT marker, or READY_BYTE's byte in [0] */
	char version[128];
};

/* Host-wide memory counters (kB, as /proc/meminfo writes them). */
struct density_meminfo {
	uint64_t mem_free, mem_available, slab, page_tables, sec_page_tables, kernel_stack;
};

/* One VM process. */
enum density_vm_state { VM_BOOTING, VM_READY, VM_FAILED };
struct density_vm {
	pid_t pid;
	int out_fd;                      /* read end of the VM's stdout+stderr pipe; -1 once closed */
	enum density_vm_state state;
	bool exited;                     /* its output reached EOF: the process is gone or going */
	bool torn_down;                  /* the launcher has stopped it: its EOF is expected */
	bool reaped;
	int wait_status;
	uint64_t spawn_ns;               /* CLOCK_MONOTONIC just before clone() */
	uint64_t exec_ns;                /* clone() returned: the exec is done */
	uint64_t ready_ns;               /* the ready marker was read */
	int64_t self_ready_us;           /* Ember's own guest-ready-us, -1 when not reported */
	uint64_t pss_kib, rss_kib, pss_anon_kib;
	uint64_t cpu_ns_start, cpu_ns_end;
	size_t out_len;
	char out[2048];                  /* tail of its output: ready marker, error messages */
};

/* `ember bench density ...`: argv[0] is "density". Returns the exit status: 0 when every VMM
 * reached its target, 1 when one stopped early (the report says why), 2 on a usage error, 130
 * when interrupted (a partial report is still written). */
int density_main(int argc, char **argv);

/* Set by SIGINT/SIGTERM/SIGHUP: stop launching, tear down, write what was measured. */
extern volatile sig_atomic_t density_interrupted;

uint64_t density_now_ns(void);
/* Sleeps up to `seconds`, returning early (false) when interrupted. */
bool density_sleep(double seconds);

/* Returns 1 when --help was shown, 0 when o is ready, -1 on a usage error (in e). */
int density_parse_options(int argc, char **argv, struct density_options *o, struct error *e);
void density_print_help(void);
const char *density_vmm_name(enum density_vmm v);

#endif
