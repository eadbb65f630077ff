/* The API tests' guest: prints what it was given (CPUs, RAM, command line, the PCI functions
 * Ember gave it, found through the ACPI MCFG table: "ticker: pci 00:02.0 1af4:1042"), then
 * "tick N" about
 * every 50 ms for ever (or `ticks=N` times, then powers off). The waiting runs at CPL3 on the TSC
 * (native speed on PVM hosts, where CPL0 is emulated); between ticks, at CPL0, it polls the
 * i8042 and reboots through it when it sees Ctrl-Alt-Del (scan code set 1: the controller
 * translates), like a Linux guest with `reboot=k`.
 *
 * Command line: ticks=N (0: no end), period_ms=N (default 50). */
#include "rt/rt.h"

#define KBD_STATUS 0x64
#define KBD_DATA   0x60
#define KBD_OBF    0x01

#define SC_CTRL 0x1d
#define SC_ALT  0x38
#define SC_DEL  0x53 /* after the 0xe0 prefix */
#define SC_BREAK 0x80
#define SC_EXTENDED 0xe0

/* The value of `key=N` on the command line, or fallback. */
static uint64_t cmdline_number(const char *key, uint64_t fallback)
{
	const char *s = rt_cmdline();
	size_t klen = strlen(key);

	while (*s) {
		while (*s == ' ')
			s++;
		if (memcmp(s, key, klen) == 0 && s[klen] == '=') {
			uint64_t n = 0;
			for (s += klen + 1; *s >= '0' && *s <= '9'; s++)
				n = n * 10 + (uint64_t)(*s - '0');
			return n;
		}
		while (*s && *s != ' ')
			s++;
	}
	return fallback;
}

static uint64_t ram_mib(const struct hvm_start_info *si)
{
	const struct hvm_memmap_table_entry *map;
	uint64_t bytes = 0;

	if (si->version < 1 || !si->memmap_paddr)
		return 0;
	map = phys_ptr(si->memmap_paddr);
	for (uint32_t i = 0; i < si->memmap_entries; i++)
		if (map[i].type == 1)
			bytes += map[i].size;
	/* Round up: low memory holes (BIOS area) make the sum a little less than the size. */
	return (bytes + (1 << 20) - 1) >> 20;
}

/* MCFG (PCI Firmware 3.2, 4.1.2): the ECAM of bus 0. Ember has one only with PCI devices. */
struct mcfg {
	struct acpi_header header;
	uint64_t reserved;
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved2;
} __attribute__((packed));

static void list_pci(void)
{
	const struct mcfg *m = (const struct mcfg *)acpi_find_table("MCFG");

	if (!m || m->header.length < sizeof(*m) || m->start_bus != 0)
		return;
	for (unsigned slot = 0; slot < 32; slot++) {
		uint32_t id = mmio_read32(m->base + ((uint64_t)slot << 15));

		if ((id & 0xffff) != 0xffff)
			console_printf("ticker: pci 00:%02x.0 %04x:%04x\n", slot, id & 0xffff,
				       id >> 16);
	}
}

static uint64_t spin_until(uint64_t deadline)
{
	while ((int64_t)(rdtsc() - deadline) < 0)
		cpu_relax();
	return 0;
}

struct keys {
	bool ctrl, alt, extended;
};

/* Returns true when Ctrl-Alt-Del has been pressed. */
static bool poll_keyboard(struct keys *k)
{
	while (inb(KBD_STATUS) & KBD_OBF) {
		uint8_t sc = inb(KBD_DATA);
		bool extended = k->extended;
		bool make = !(sc & SC_BREAK);

		k->extended = sc == SC_EXTENDED;
		if (k->extended)
			continue;
		switch (sc & ~SC_BREAK) {
		case SC_CTRL:
			k->ctrl = make;
			break;
		case SC_ALT:
			k->alt = make;
			break;
		case SC_DEL:
			if (extended && make && k->ctrl && k->alt)
				return true;
			break;
		}
	}
	return false;
}

int guest_main(const struct hvm_start_info *si)
{
	struct smp_cpus cpus;
	struct keys keys = { 0 };
	uint64_t ticks = cmdline_number("ticks", 0);
	uint64_t period = tsc_hz() / 1000 * cmdline_number("period_ms", 50);

	if (smp_read_madt(&cpus))
		cpus.count = 0;
	console_printf("ticker: cpus=%u mem_mib=%lu cmdline='%s'\n", cpus.count, ram_mib(si),
		       rt_cmdline());
	list_pci();
	for (uint64_t n = 1; ticks == 0 || n <= ticks; n++) {
		/* From now, not from the last deadline: after a pause there is no burst to catch up. */
		user_call(spin_until, rdtsc() + period);
		console_printf("tick %lu\n", n);
		if (poll_keyboard(&keys)) {
			console_printf("ticker: ctrl-alt-del, rebooting\n");
			i8042_reset();
		}
	}
	console_printf("ticker: done\n");
	acpi_poweroff();
}
