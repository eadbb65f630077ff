/* Multiprocessor start-up as an OS does it: CPUs from the ACPI MADT, the BSP's local APIC
 * enabled through the spurious-interrupt vector register, then INIT and two STARTUP IPIs per AP
 * (Intel SDM vol. 3, 8.4.4 "MP Initialization Example"). Under KVM no delays are needed between
 * the IPIs: the in-kernel APIC processes INIT before a pending SIPI. xAPIC MMIO is used unless
 * the BSP already runs in x2APIC mode or an APIC id of 255 (the xAPIC broadcast) or above needs
 * it; then every AP follows the BSP into x2APIC mode, as an OS does, so that it can read its own
 * 32-bit APIC id. */
#include "rt.h"

#define MADT_ENTRIES_OFFSET 44
#define MADT_LOCAL_APIC 0
#define MADT_LAPIC_ADDRESS_OVERRIDE 5
#define MADT_LOCAL_X2APIC 9
#define MADT_ENABLED 1u
#define DEFAULT_LAPIC_BASE 0xfee00000ull

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)
#define CPUID1_ECX_X2APIC (1u << 21)
#define X2APIC_MSR(reg) (0x800 + ((reg) >> 4))

#define LAPIC_ID 0x20
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define SVR_APIC_ENABLE 0x100
#define SVR_SPURIOUS_VECTOR 0xff
#define ICR_INIT 0x4500            /* delivery mode INIT, level assert */
#define ICR_STARTUP 0x4600         /* delivery mode STARTUP, level assert, | vector */
#define ICR_SEND_PENDING (1u << 12)
#define ICR_POLL_LIMIT 1000

struct madt_header {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

extern const char ap_trampoline_start[], ap_trampoline_end[];

/* Used by ap_boot.S. */
uint32_t ap_arrivals;
uint8_t ap_stacks[SMP_MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
void ap_main(uint32_t cpu_index);

static void (*volatile ap_function)(uint32_t cpu_index);
static uint64_t lapic_base = DEFAULT_LAPIC_BASE;
static bool use_x2apic;

static void add_cpu(struct smp_cpus *out, uint32_t apic_id, uint32_t flags)
{
	if ((flags & MADT_ENABLED) && out->count < SMP_MAX_CPUS)
		out->apic_id[out->count++] = apic_id;
}

int smp_read_madt(struct smp_cpus *out)
{
	const struct madt_header *madt = (const void *)acpi_find_table("APIC");
	const uint8_t *p, *end;

	*out = (struct smp_cpus){ .lapic_base = DEFAULT_LAPIC_BASE };
	if (!madt || madt->h.length < MADT_ENTRIES_OFFSET) {
		console_printf("smp: no MADT\n");
		return -1;
	}
	if (madt->lapic_address)
		out->lapic_base = madt->lapic_address;
	p = (const uint8_t *)madt + MADT_ENTRIES_OFFSET;
	end = (const uint8_t *)madt + madt->h.length;
	for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		uint32_t flags, id;
		uint64_t base;

		switch (p[0]) {
		case MADT_LOCAL_APIC:     /* uid(1) apic id(1) flags(4) */
			if (p[1] >= 8) {
				memcpy(&flags, p + 4, 4);
				add_cpu(out, p[3], flags);
			}
			break;
		case MADT_LOCAL_X2APIC:   /* reserved(2) x2apic id(4) flags(4) uid(4) */
			if (p[1] >= 16) {
				memcpy(&id, p + 4, 4);
				memcpy(&flags, p + 8, 4);
				add_cpu(out, id, flags);
			}
			break;
		case MADT_LAPIC_ADDRESS_OVERRIDE: /* reserved(2) address(8) */
			if (p[1] >= 12) {
				memcpy(&base, p + 4, 8);
				out->lapic_base = base;
			}
			break;
		}
	}
	lapic_base = out->lapic_base;
	return 0;
}

static bool x2apic_mode(void)
{
	return rdmsr(MSR_APIC_BASE) & APIC_BASE_X2APIC;
}

uint32_t smp_this_apic_id(void)
{
	if (x2apic_mode())
		return (uint32_t)rdmsr(X2APIC_MSR(LAPIC_ID));
	return mmio_read32(lapic_base + LAPIC_ID) >> 24;
}

static void lapic_enable(bool want_x2apic)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint64_t wanted = base | APIC_BASE_ENABLE | (want_x2apic ? APIC_BASE_X2APIC : 0);

	if (wanted != base)
		wrmsr(MSR_APIC_BASE, wanted);
	use_x2apic = wanted & APIC_BASE_X2APIC;
	if (use_x2apic) {
		uint64_t svr = rdmsr(X2APIC_MSR(LAPIC_SVR));
		wrmsr(X2APIC_MSR(LAPIC_SVR), svr | SVR_APIC_ENABLE | SVR_SPURIOUS_VECTOR);
	} else {
		uint32_t svr = mmio_read32(lapic_base + LAPIC_SVR);
		mmio_write32(lapic_base + LAPIC_SVR, svr | SVR_APIC_ENABLE | SVR_SPURIOUS_VECTOR);
	}
}

static void send_ipi(uint32_t apic_id, uint32_t icr_low)
{
	if (use_x2apic) {
		wrmsr(X2APIC_MSR(LAPIC_ICR_LOW), (uint64_t)apic_id << 32 | icr_low);
		return;
	}
	mmio_write32(lapic_base + LAPIC_ICR_HIGH, apic_id << 24);
	mmio_write32(lapic_base + LAPIC_ICR_LOW, icr_low);
	for (unsigned i = 0; i < ICR_POLL_LIMIT; i++)
		if (!(mmio_read32(lapic_base + LAPIC_ICR_LOW) & ICR_SEND_PENDING))
			break;
}

static bool needs_x2apic(const struct smp_cpus *cpus)
{
	for (uint32_t i = 0; i < cpus->count; i++)
		if (cpus->apic_id[i] >= 0xff)
			return true;
	return false;
}

uint32_t smp_start_aps(const struct smp_cpus *cpus, void (*ap_fn)(uint32_t cpu_index))
{
	const uint32_t vector = AP_TRAMPOLINE_ADDR >> 12;
	bool want_x2apic = needs_x2apic(cpus) && (cpuid(1, 0).ecx & CPUID1_ECX_X2APIC);
	uint32_t self, sent = 0;

	memcpy(phys_ptr(AP_TRAMPOLINE_ADDR), ap_trampoline_start,
	       (size_t)(ap_trampoline_end - ap_trampoline_start));
	ap_function = ap_fn;
	lapic_base = cpus->lapic_base;
	lapic_enable(want_x2apic || x2apic_mode());
	self = smp_this_apic_id();
	for (uint32_t i = 0; i < cpus->count; i++) {
		uint32_t id = cpus->apic_id[i];

		if (id == self || (!use_x2apic && id >= 0xff))
			continue;
		send_ipi(id, ICR_INIT);
		send_ipi(id, ICR_STARTUP | vector);
		send_ipi(id, ICR_STARTUP | vector); /* the second is ignored if the first worked */
		sent++;
	}
	return sent;
}

void ap_main(uint32_t cpu_index)
{
	void (*fn)(uint32_t) = ap_function;

	trap_load_idt();
	if (use_x2apic)
		lapic_enable(true); /* the BSP's choice: this AP's id may not fit the xAPIC's 8 bits */
	if (fn)
		fn(cpu_index);
	halt_forever();
}
