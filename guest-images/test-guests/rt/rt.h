/* The runtime of Ember's freestanding test guests. A guest is one C file that defines
 *
 *     int guest_main(const struct hvm_start_info *si);
 *
 * The runtime enters long mode (identity map of 0-4 GiB, CPL0, interrupts off), installs
 * exception handlers, writes the boot-timer port, calls guest_main and ends the VM with
 * guest_exit(return value) if it returns. See README.md for the ABI with Ember. */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvh.h"
#include "segments.h"
#include "x86.h"

/* --- Boot ------------------------------------------------------------------------------- */
int guest_main(const struct hvm_start_info *si);
extern const struct hvm_start_info *rt_start_info;
/* The PVH command line, "" if none. */
const char *rt_cmdline(void);

/* --- Ember's ports (arch/x86/layout.h) ----------------------------------------------------- */
#define PORT_COM1            0x3f8
#define PORT_EMBER_TEST_EXIT 0x501 /* 32-bit write of N: VM ends with exit status N */
#define PORT_EMBER_BOOT_TIMER 0x440 /* any write: "guest ready" (Ember logs guest-ready-us) */

/* Exit statuses the runtime itself uses. */
#define RT_EXIT_EXCEPTION       2  /* unhandled CPU exception */
#define RT_EXIT_POWEROFF_FAILED 3  /* acpi_poweroff() returned control to the guest */
#define RT_EXIT_RESET_FAILED    4  /* i8042_reset() returned control to the guest */
#define RT_EXIT_BAD_BOOT        5  /* no valid hvm_start_info in EBX */

/* --- Console (COM1) ----------------------------------------------------------------------- */
void console_putc(char c);
void console_write(const char *s, size_t len);
/* printf-lite: %s %c %d %i %u %x %p, modifiers l/ll/z, width and '0' flag ("%08lx"), %%.
 * Whole calls are serialised across CPUs by a spinlock. */
void console_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_vprintf(const char *fmt, va_list ap);
/* For a dying CPU: drop the console lock whoever holds it. */
void console_break_lock(void);

/* --- Ending the VM -------------------------------------------------------------------------- */
void guest_mark_ready(void);                                   /* write PORT_EMBER_BOOT_TIMER */
void __attribute__((noreturn)) guest_exit(uint32_t status);  /* Ember's test-exit port */
void __attribute__((noreturn)) acpi_poweroff(void);          /* ACPI S5 through the FADT */
void __attribute__((noreturn)) i8042_reset(void);            /* 0xfe to port 0x64 */

/* --- ACPI tables ---------------------------------------------------------------------------- */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* How acpi_poweroff() enters S5 (see acpi.c): which register, what value. */
enum acpi_s5_kind {
	ACPI_S5_SLEEP_CONTROL_REG, /* HW-reduced FADT (Ember, QEMU microvm) */
	ACPI_S5_PM1_CNT,           /* fixed-hardware FADT (QEMU pc/q35) */
	ACPI_S5_EMBER_PORT,        /* no usable FADT: Ember's sleep control port 0x600 */
};
struct acpi_s5_plan {
	enum acpi_s5_kind kind;
	uint8_t space_id;          /* 0 memory, 1 I/O port */
	uint8_t width;             /* bytes written */
	uint16_t value;
	uint64_t address;
	uint64_t address_b;        /* PM1b_CNT_BLK, 0 if none */
	unsigned slp_typ;
	bool slp_typ_from_dsdt;    /* false: default, no \_S5 found */
	bool have_fadt;
};
void acpi_s5_plan(struct acpi_s5_plan *plan);

/* The table with this signature ("FACP", "APIC", ...) via RSDP -> XSDT (or RSDT), or NULL. */
const struct acpi_header *acpi_find_table(const char *signature);

/* --- CPL3 ----------------------------------------------------------------------------------- */
typedef uint64_t (*user_fn)(uint64_t arg);
/* Runs fn(arg) at CPL3 on the runtime's user stack and returns its result at CPL0 (fn returns
 * into a UD2 that the #UD gate recognises). All of the image is user-accessible; fn must not use
 * privileged instructions. Exceptions at CPL3 are reported and end the VM like those at CPL0.
 * One CPU at a time: there is one saved kernel frame and one user stack. */
uint64_t user_call(user_fn fn, uint64_t arg);
/* Same with RFLAGS.IOPL = 3: fn may use in/out (e.g. console_printf) directly. PVM hosts do not
 * honour IOPL at CPL3 (in/out raise #GP): check user_has_iopl3() first. */
uint64_t user_call_io(user_fn fn, uint64_t arg);
/* Whether user_call_io code really runs with IOPL 3 on this host. */
bool user_has_iopl3(void);

/* --- Traps ---------------------------------------------------------------------------------- */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
typedef void (*trap_handler)(struct trap_frame *f);
/* Routes a vector to handler; dpl 3 lets user code `int` it. PVM hosts cannot run `int n`
 * (#UD at CPL3, emulation failure at CPL0): use these for exceptions and device interrupts.
 * Without a handler, an exception prints the frame and ends with RT_EXIT_EXCEPTION. */
int trap_register(unsigned vector, trap_handler handler, unsigned dpl);
/* Loads the shared IDT on this CPU (APs call it before anything can fault). */
void trap_load_idt(void);

/* --- Time ----------------------------------------------------------------------------------- */
/* TSC frequency from CPUID 0x15 / 0x16 / 0x40000010, else an assumed 3 GHz. */
uint64_t tsc_hz(void);
void delay_us(uint64_t us);

/* --- SMP ------------------------------------------------------------------------------------ */
struct spinlock {
	volatile uint32_t locked;
};
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

struct smp_cpus {
	uint32_t count;                   /* enabled LAPIC + x2APIC entries in the MADT */
	uint32_t apic_id[SMP_MAX_CPUS];
	uint64_t lapic_base;              /* from the MADT (and its type-5 override) */
};
/* Reads the MADT. Returns 0, or -1 (and prints why) if there is none. */
int smp_read_madt(struct smp_cpus *out);
/* This CPU's APIC id, from its local APIC (xAPIC MMIO or x2APIC MSR). */
uint32_t smp_this_apic_id(void);
/* Enables the BSP's LAPIC and starts every other CPU of cpus with INIT + 2x STARTUP. Each AP
 * enters long mode on the shared page tables, gets its own stack and calls
 * ap_fn(cpu_index) with cpu_index 1, 2, ... in arrival order (the BSP is 0); it halts if
 * ap_fn returns. Returns the number of APs sent IPIs. */
uint32_t smp_start_aps(const struct smp_cpus *cpus, void (*ap_fn)(uint32_t cpu_index));

/* --- Freestanding libc bits ---------------------------------------------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
