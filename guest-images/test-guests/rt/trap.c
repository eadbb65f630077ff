/* IDT, TSS and exception reporting. Gates are installed lazily: the 32 exception vectors at
 * boot (#UD through user_ud_gate, which serves user_call's return), other vectors when
 * trap_register() asks for them. */
#include "rt.h"
#include "trap.h"

#define TRAP_STUB_SIZE 16
#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define IDT_VECTORS 256
#define EXCEPTION_VECTORS 32
#define VECTOR_UD 6

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp0; /* traps.S writes it at tss+4 */
	uint64_t rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate is 16 bytes");
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");
_Static_assert(__builtin_offsetof(struct tss64, rsp0) == 4, "traps.S stores RSP0 at tss+4");

extern const char trap_stubs[];
extern const char user_ud_gate[];
extern uint64_t gdt[];

struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static trap_handler handlers[IDT_VECTORS];

static void set_gate(unsigned vector, const void *entry, unsigned dpl)
{
	uint64_t addr = (uint64_t)(uintptr_t)entry;

	idt[vector] = (struct idt_gate){
		.offset_low = (uint16_t)addr,
		.selector = SEL_KCODE64,
		.type_attr = (uint8_t)(GATE_INTERRUPT | (dpl & 3) << 5),
		.offset_mid = (uint16_t)(addr >> 16),
		.offset_high = (uint32_t)(addr >> 32),
	};
}

/* 64-bit available-TSS descriptor (type 9) over two GDT slots. */
static void install_tss(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	tss.iomap_base = sizeof(tss); /* no I/O bitmap: CPL3 port access is governed by IOPL */
	gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
			   ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

void trap_load_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void trap_init(void)
{
	for (unsigned v = 0; v < EXCEPTION_VECTORS; v++)
		set_gate(v, v == VECTOR_UD ? user_ud_gate : trap_stubs + v * TRAP_STUB_SIZE, 0);
	install_tss();
	trap_load_idt();
}

int trap_register(unsigned vector, trap_handler handler, unsigned dpl)
{
	if (vector >= IDT_VECTORS || dpl > 3)
		return -1;
	handlers[vector] = handler;
	set_gate(vector, vector == VECTOR_UD ? user_ud_gate : trap_stubs + vector * TRAP_STUB_SIZE,
		 dpl);
	return 0;
}

static const char *exception_name(uint64_t vector)
{
	static const char *const names[EXCEPTION_VECTORS] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?", "#TS", "#NP",
		"#SS", "#GP", "#PF", "?", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "?", "?",
		"?", "?", "?", "?", "#HV", "#VC", "#SX", "?",
	};
	return vector < EXCEPTION_VECTORS ? names[vector] : "interrupt";
}

void trap_dispatch(struct trap_frame *f);

void trap_dispatch(struct trap_frame *f)
{
	if (f->vector < IDT_VECTORS && handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	console_break_lock();
	console_printf("rt: unhandled %s (vector %lu) error=%lx at rip=%lx cs=%lx rflags=%lx "
		       "rsp=%lx cr2=%lx\n",
		       exception_name(f->vector), f->vector, f->error, f->rip, f->cs, f->rflags,
		       f->rsp, read_cr2());
	guest_exit(RT_EXIT_EXCEPTION);
}
