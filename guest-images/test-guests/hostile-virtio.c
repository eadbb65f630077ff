/* A hostile virtio driver (ember run --rng --console virtio [--disk F]). It attacks Ember's
 * virtio-console with bad descriptor chains (loops, buffers outside RAM or wrapping, indices out
 * of range, readable after writable, chains past 4 GiB or the segment limit, indirect abuses),
 * garbage in the common configuration, the MSI-X table, the BARs and read-only header fields,
 * and 0xCF8/ECAM garbage. Then it checks from the inside that Ember still runs, that the console
 * said DEVICE_NEEDS_RESET after each bad chain or register write and works again after a reset,
 * and that the devices it left alone work (virtio-rng; virtio-blk if present: sector 0 reads).
 * The console's last words go out through the virtio-console itself; with "read-input" on the
 * command line the guest also reads one buffer of host stdin from it and prints it on COM1.
 *
 * Every MMIO access is a VM exit and CPL0 is slow on PVM hosts: each attack is a handful of
 * register writes. Exit status 0 on success, else 20 + the number of the failed check (printed
 * with its name). */
#include "rt/cmdline.h"
#include "rt/rt.h"
#include "rt/virtio_pci.h"

#define LAPIC         0xfee00000ull
#define MSI_VECTOR    0x41
#define QSIZE         8
#define BAD_GPA       0x7ff000000000ull  /* far above RAM */
#define HOLE_GPA      0xc0000000ull      /* the PCI window: not RAM */
#define TIMEOUT_MS    2000

/* Short names: the attack tables below use them a lot. */
enum { ACK = VIRTIO_ACK, DRIVER = VIRTIO_DRIVER, DRIVER_OK = VIRTIO_DRIVER_OK,
       FEATURES_OK = VIRTIO_FEATURES_OK, NEEDS_RESET = VIRTIO_NEEDS_RESET };
enum { D_NEXT = VIRTQ_DESC_F_NEXT, D_WRITE = VIRTQ_DESC_F_WRITE,
       D_INDIRECT = VIRTQ_DESC_F_INDIRECT };
#define F_INDIRECT (1u << 28) /* feature word 0; VERSION_1 is bit 0 of word 1 */

struct ring {
	struct virtq_desc desc[QSIZE];
	volatile uint16_t avail[3 + QSIZE];
	volatile uint32_t used[2 + 2 * QSIZE] __attribute__((aligned(4)));
	uint16_t next_avail;
} __attribute__((aligned(16)));

static struct ring tx_ring, rx_ring, rng_ring, blk_ring;
static struct virtq_desc table[80] __attribute__((aligned(16)));
static struct virtq_desc table2[2] __attribute__((aligned(16)));
static uint8_t buf[600];
static struct virtio_pci_dev con, rng, blk;
static volatile unsigned interrupts;
static unsigned check_no, attacks;

/* ---- Plumbing ---- */

static void check(bool ok, const char *what)
{
	check_no++;
	if (!ok) {
		console_printf("hostile-virtio: FAIL check %u: %s\n", check_no, what);
		guest_exit(20 + check_no % 200);
	}
}

static uint8_t r8(uint64_t a) { return *(volatile uint8_t *)phys_ptr(a); }
static uint16_t r16(uint64_t a) { return *(volatile uint16_t *)phys_ptr(a); }
static uint32_t r32(uint64_t a) { return *(volatile uint32_t *)phys_ptr(a); }
static uint64_t r64(uint64_t a) { return *(volatile uint64_t *)phys_ptr(a); }
static void w64(uint64_t a, uint64_t v) { *(volatile uint64_t *)phys_ptr(a) = v; }

static uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static uint64_t cfg(unsigned slot, unsigned reg) { return pci_cfg_addr(slot, reg); }

static void on_msi(struct trap_frame *f)
{
	(void)f;
	interrupts++;
	mmio_write32(LAPIC + 0xb0, 0); /* EOI */
}

static uint64_t deadline(void) { return rdtsc() + tsc_hz() / 1000 * TIMEOUT_MS; }

/* ---- A minimal virtio-pci driver ---- */

/* Finds the function with this device ID and where its structures are; false if absent. */
static bool probe(struct virtio_pci_dev *d, uint16_t device_id)
{
	if (!virtio_pci_probe(d, device_id))
		return false;
	check(d->bar && d->common && d->notify && d->isr && d->msix_table, "capabilities");
	return true;
}

static uint8_t status(const struct virtio_pci_dev *d) { return virtio_pci_status(d); }

/* Reset, ACKNOWLEDGE, DRIVER, features (word 0 + VERSION_1, whatever the device offers),
 * FEATURES_OK. */
static bool negotiate(const struct virtio_pci_dev *d, uint32_t word0)
{
	virtio_pci_set_status(d, 0);
	virtio_pci_set_status(d, ACK | DRIVER);
	virtio_pci_driver_features(d, VIRTIO_F_VERSION_1 | word0);
	virtio_pci_set_status(d, ACK | DRIVER | FEATURES_OK);
	return status(d) == (ACK | DRIVER | FEATURES_OK);
}

/* The 64-bit ring addresses, written whole (the transport also takes 32-bit halves). */
static void set_rings(const struct virtio_pci_dev *d, const struct ring *r)
{
	w64(d->common + VIRTIO_Q_DESC, (uintptr_t)r->desc);
	w64(d->common + VIRTIO_Q_DRIVER, (uintptr_t)r->avail);
	w64(d->common + VIRTIO_Q_DEVICE, (uintptr_t)r->used);
}

static bool queue_on(const struct virtio_pci_dev *d, uint16_t q, struct ring *r)
{
	memset(r, 0, sizeof(*r));
	mmio_write16(d->common + VIRTIO_Q_SELECT, q);
	mmio_write16(d->common + VIRTIO_Q_SIZE, QSIZE);
	set_rings(d, r);
	mmio_write16(d->common + VIRTIO_Q_ENABLE, 1);
	return r16(d->common + VIRTIO_Q_ENABLE) == 1;
}

/* One queue up and the device live. */
static void bring_up(const struct virtio_pci_dev *d, uint16_t q, struct ring *r, uint32_t word0)
{
	check(negotiate(d, word0) && queue_on(d, q, r) && virtio_pci_driver_ok(d), "device bring-up");
}

static void kick(const struct virtio_pci_dev *d, uint16_t q)
{
	mmio_write16(d->notify + (uint64_t)q * d->notify_mult, q);
}

static void offer(const struct virtio_pci_dev *d, uint16_t q, struct ring *r, uint16_t head)
{
	r->avail[2 + r->next_avail % QSIZE] = head;
	r->next_avail++;
	__atomic_store_n(&r->avail[1], r->next_avail, __ATOMIC_RELEASE);
	kick(d, q);
}

static bool wait_used(const struct ring *r, uint16_t want)
{
	for (uint64_t end = deadline(); rdtsc() < end;)
		if ((uint16_t)(__atomic_load_n(&r->used[0], __ATOMIC_ACQUIRE) >> 16) == want)
			return true;
	return false;
}

static bool wait_needs_reset(const struct virtio_pci_dev *d)
{
	for (uint64_t end = deadline(); rdtsc() < end;) {
		if (status(d) & NEEDS_RESET)
			return true;
		delay_us(50);
	}
	return false;
}

/* The device must flag the abuse, then come back after a reset. */
static void expect_needs_reset(const struct virtio_pci_dev *d, const char *what)
{
	check(wait_needs_reset(d), what);
	virtio_pci_set_status(d, 0);
	check(status(d) == 0, "status after reset");
	attacks++;
}

/* ---- Bad chains on the console's transmitq ---- */

static struct virtq_desc dsc(uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	return (struct virtq_desc){ addr, len, flags, next };
}

#define B ((uint64_t)(uintptr_t)buf)
#define T ((uint64_t)(uintptr_t)table)
#define T2 ((uint64_t)(uintptr_t)table2)

/* Up to two descriptors in the ring and two in the indirect table; the chain starts at `head`. */
static const struct chain_attack {
	const char *name;
	uint16_t head;
	struct virtq_desc ring[2], ind[2];
} chain_attacks[] = {
	{ "descriptor loop", 0, { { B, 1, D_NEXT, 1 }, { B, 1, D_NEXT, 0 } }, { { 0 } } },
	{ "descriptor pointing at itself", 0, { { B, 1, D_NEXT, 0 } }, { { 0 } } },
	{ "buffer far outside RAM", 0, { { BAD_GPA, 16, 0, 0 } }, { { 0 } } },
	{ "buffer in the PCI hole", 0, { { HOLE_GPA, 16, 0, 0 } }, { { 0 } } },
	{ "buffer wrapping 2^64", 0, { { ~0ull - 0xfff, 0x2000, 0, 0 } }, { { 0 } } },
	{ "4 GiB buffer across the 32-bit hole", 0, { { 0xfffff000, 0xffffffffu, 0, 0 } }, { { 0 } } },
	{ "next beyond the queue", 0, { { B, 1, D_NEXT, 200 } }, { { 0 } } },
	{ "head beyond the queue", 99, { { B, 1, 0, 0 } }, { { 0 } } },
	{ "readable after writable", 0, { { B, 1, D_WRITE | D_NEXT, 1 }, { B, 1, 0, 0 } }, { { 0 } } },
	{ "indirect and next", 0, { { T, 16, D_INDIRECT | D_NEXT, 1 } }, { { B, 1, 0, 0 } } },
	{ "nested indirect table", 0, { { T, 16, D_INDIRECT, 0 } }, { { T2, 16, D_INDIRECT, 0 } } },
	{ "indirect length not a multiple of 16", 0, { { T, 24, D_INDIRECT, 0 } }, { { 0 } } },
	{ "empty indirect table", 0, { { T, 0, D_INDIRECT, 0 } }, { { 0 } } },
	{ "indirect table outside RAM", 0, { { BAD_GPA, 64, D_INDIRECT, 0 } }, { { 0 } } },
	{ "loop inside an indirect table", 0, { { T, 32, D_INDIRECT, 0 } },
	  { { B, 1, D_NEXT, 1 }, { B, 1, D_NEXT, 0 } } },
	{ "indirect next beyond its table", 0, { { T, 32, D_INDIRECT, 0 } }, { { B, 1, D_NEXT, 5 } } },
};
#define CHAIN_ATTACKS (sizeof(chain_attacks) / sizeof(chain_attacks[0]))

/* Brings the console's transmitq up (the ring cleared), lets `build` spoil it and offers the
 * head it returns (-1: build did it). */
static void chain_attack(uint32_t features, const char *name, int (*build)(unsigned), unsigned i)
{
	bring_up(&con, 1, &tx_ring, features);
	int head = build(i);
	if (head >= 0)
		offer(&con, 1, &tx_ring, (uint16_t)head);
	expect_needs_reset(&con, name);
}

static int from_table(unsigned i)
{
	memcpy(tx_ring.desc, chain_attacks[i].ring, sizeof(chain_attacks[i].ring));
	memcpy(table, chain_attacks[i].ind, sizeof(chain_attacks[i].ind));
	return chain_attacks[i].head;
}

/* Indirect tables of `n` descriptors of `len` bytes at `addr` (+k if step). */
static void long_table(unsigned n, uint64_t addr, uint32_t len, bool step)
{
	for (unsigned k = 0; k < n; k++)
		table[k] = dsc(addr + (step ? k : 0), len, k + 1 < n ? D_NEXT : 0, (uint16_t)(k + 1));
	tx_ring.desc[0] = dsc(T, n * 16, D_INDIRECT, 0);
}

static int special(unsigned i)
{
	switch (i) {
	case 0: long_table(65, B, 1, true); return 0;         /* past the device's 64 segments */
	case 1: long_table(16, 0x100000, 0x10000000, false); return 0; /* 16 x 256 MiB */
	case 2: /* an avail index 100 entries ahead of the device */
		__atomic_store_n(&tx_ring.avail[1], (uint16_t)100, __ATOMIC_RELEASE);
		kick(&con, 1);
		return -1;
	default: long_table(1, B, 1, false); return 0;        /* a plain indirect table */
	}
}

static void attack_chains(void)
{
	for (unsigned i = 0; i < CHAIN_ATTACKS; i++)
		chain_attack(F_INDIRECT, chain_attacks[i].name, from_table, i);
	chain_attack(F_INDIRECT, "65 segments", special, 0);
	chain_attack(F_INDIRECT, "a chain past 4 GiB", special, 1);
	chain_attack(F_INDIRECT, "avail index 100 ahead", special, 2);
	chain_attack(0, "indirect descriptor not negotiated", special, 3);
	console_printf("hostile-virtio: %u bad chains, each answered by DEVICE_NEEDS_RESET\n", attacks);
}

/* ---- Common configuration garbage ---- */

static void attack_common_config(void)
{
	uint64_t c = con.common;
	/* queue_select out of range: the queue reads size 0 and ignores everything. */
	for (uint16_t sel = 2; sel != 0; sel = sel == 2 ? 0x1234 : 0) {
		check(negotiate(&con, 0), "negotiation");
		mmio_write16(c + VIRTIO_Q_SELECT, sel);
		check(r16(c + VIRTIO_Q_SIZE) == 0, "absent queue has size 0");
		mmio_write16(c + VIRTIO_Q_SIZE, QSIZE);
		set_rings(&con, &tx_ring);
		mmio_write16(c + VIRTIO_Q_MSIX, 0);
		mmio_write16(c + VIRTIO_Q_ENABLE, 1);
		check(r16(c + VIRTIO_Q_ENABLE) == 0 && !(status(&con) & NEEDS_RESET), "absent queue stays off");
		attacks++;
	}
	/* Bogus queue sizes (0-4), then rings outside RAM, in the hole, misaligned, wrapping. */
	static const uint64_t bad[] = { 3, 0, 0xffff, 512, 6,
					BAD_GPA, HOLE_GPA, 0x100008, 0xfffffffffffffff0ull };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check(negotiate(&con, 0), "negotiation");
		mmio_write16(c + VIRTIO_Q_SELECT, 1);
		set_rings(&con, &tx_ring);
		if (i < 5) {
			mmio_write16(c + VIRTIO_Q_SIZE, (uint16_t)bad[i]);
		} else {
			w64(c + VIRTIO_Q_DESC, bad[i]);
			mmio_write16(c + VIRTIO_Q_ENABLE, 1);
		}
		expect_needs_reset(&con, i < 5 ? "bogus queue size" : "queue rings outside RAM");
	}
	/* A queue enabled before FEATURES_OK. */
	mmio_write8(c + VIRTIO_STATUS, ACK | DRIVER);
	mmio_write16(c + VIRTIO_Q_SELECT, 1);
	set_rings(&con, &tx_ring);
	mmio_write16(c + VIRTIO_Q_ENABLE, 1);
	expect_needs_reset(&con, "queue enabled before FEATURES_OK");
	/* A resize while enabled; address writes while enabled are ignored. */
	check(negotiate(&con, 0) && queue_on(&con, 1, &tx_ring), "negotiation");
	mmio_write32(c + VIRTIO_Q_DESC, 0x1000);
	check(r32(c + VIRTIO_Q_DESC) == (uint32_t)(uintptr_t)tx_ring.desc, "ring moved while enabled");
	mmio_write16(c + VIRTIO_Q_SIZE, 4);
	expect_needs_reset(&con, "queue resized while enabled");
	/* Features not offered, no VERSION_1, DRIVER_OK without FEATURES_OK. */
	mmio_write8(c + VIRTIO_STATUS, ACK | DRIVER);
	virtio_pci_driver_features(&con, ~0ull);
	mmio_write32(c + VIRTIO_GFSELECT, 0xdeadbeef);
	mmio_write32(c + VIRTIO_GF, 0xffffffff);
	mmio_write8(c + VIRTIO_STATUS, ACK | DRIVER | FEATURES_OK);
	check(!(status(&con) & FEATURES_OK), "FEATURES_OK with features never offered");
	virtio_pci_driver_features(&con, 0);
	mmio_write8(c + VIRTIO_STATUS, ACK | DRIVER | FEATURES_OK);
	check(!(status(&con) & FEATURES_OK), "FEATURES_OK without VERSION_1");
	mmio_write8(c + VIRTIO_STATUS, ACK | DRIVER | DRIVER_OK);
	check(!(status(&con) & DRIVER_OK), "DRIVER_OK without FEATURES_OK");
	mmio_write32(c + VIRTIO_DFSELECT, 0x77777777);
	check(r32(c + VIRTIO_DF) == 0, "feature word 0x77777777");
	attacks += 4;
	/* Odd widths and read-only fields. */
	check(negotiate(&con, 0), "negotiation");
	mmio_write8(c + VIRTIO_GF + 1, 0xff);
	mmio_write16(c + VIRTIO_STATUS - 1, 0xffff);
	mmio_write32(c + VIRTIO_Q_SELECT, 0xffffffff);
	w64(c + VIRTIO_MSIX_CONFIG, ~0ull);
	mmio_write16(c + VIRTIO_NUM_QUEUES, 99);
	mmio_write8(c + VIRTIO_GENERATION, 0x55);
	mmio_write16(c + VIRTIO_Q_NOTIFY_OFF, 0x4444);
	mmio_write32(c + 0x100, 1);
	mmio_write32(c + 0xffc, 1);
	check(status(&con) == (ACK | DRIVER | FEATURES_OK) && r16(c + VIRTIO_NUM_QUEUES) == 2 &&
	      r16(c + VIRTIO_Q_SELECT) == 0 && r64(c + VIRTIO_STATUS) == 0 && r32(c + 0x100) == 0,
	      "odd-width and read-only accesses");
	/* MSI-X vectors the function does not have read back as NO_VECTOR. */
	mmio_write16(c + VIRTIO_MSIX_CONFIG, 0x500);
	mmio_write16(c + VIRTIO_Q_SELECT, 1);
	mmio_write16(c + VIRTIO_Q_MSIX, 77);
	check(r16(c + VIRTIO_MSIX_CONFIG) == VIRTIO_NO_VECTOR &&
	      r16(c + VIRTIO_Q_MSIX) == VIRTIO_NO_VECTOR,
	      "bad vectors");
	/* Device configuration is read-only; past its end reads 0. Notify garbage. */
	uint16_t cols = r16(con.device);
	mmio_write16(con.device, 0x4242);
	mmio_write32(con.device + 0x10, 0x4242);
	check(r16(con.device) == cols && r32(con.device + 0xffc) == 0, "device configuration");
	mmio_write16(con.notify + 0x800, 0x200);
	mmio_write8(con.notify + 1, 1);
	mmio_write32(con.notify + 4, 0xffffffff);
	mmio_write16(con.notify + 2, 0);
	mmio_write8(con.isr, 0xff);
	(void)r8(con.isr);
	attacks += 5;
	console_printf("hostile-virtio: common configuration garbage survived (%u attacks)\n", attacks);
}

/* ---- MSI-X table and PBA ---- */

static void msix_entry(const struct virtio_pci_dev *d, unsigned i, uint32_t addr, uint32_t data,
		       uint32_t ctl)
{
	uint64_t e = d->msix_table + 16ull * i;
	mmio_write32(e, addr);
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, data);
	mmio_write32(e + 12, ctl);
}

static void attack_msix(void)
{
	uint64_t mc = cfg(con.slot, con.msix_cap + 2), t = con.msix_table;
	uint16_t ctl = r16(mc);
	mmio_write16(mc, 0xffff); /* enable + function mask; the table size is read-only */
	check((r16(mc) & 0x7ff) == (ctl & 0x7ff), "MSI-X table size changed");
	mmio_write16(mc, 0x8000); /* enabled, unmasked */
	mmio_write8(t + 1, 0xff);
	mmio_write16(t + 4, 0xffff);
	mmio_write32(t + 2, 0xffffffff);
	w64(t + 16 * 3, ~0ull);       /* past the last entry (3 vectors) */
	mmio_write32(t + 16 * 200, 1);
	mmio_write32(con.msix_pba, 0xffffffff);
	(void)r8(con.msix_pba + 1);
	msix_entry(&con, 1, 0xfee00000u, MSI_VECTOR, 0xfffffffe); /* only the mask bit exists */
	check(r32(t + 16 + 12) == 0, "vector control keeps only the mask bit");
	/* A message aimed at RAM, not a LAPIC: never delivered, left pending; fixing the address
	 * delivers it once. */
	msix_entry(&con, 0, 0x1000, MSI_VECTOR, 0);
	msix_entry(&con, 1, 0, 0, 1);
	msix_entry(&con, 2, 0, 0, 1);
	check(negotiate(&con, 0) && queue_on(&con, 1, &tx_ring), "negotiation");
	mmio_write16(con.common + VIRTIO_MSIX_CONFIG, 0);
	check(virtio_pci_driver_ok(&con), "driver ok");
	unsigned before = interrupts;
	mmio_write16(con.common + VIRTIO_Q_SIZE, 2); /* resize while enabled: config interrupt */
	check(wait_needs_reset(&con), "needs reset");
	delay_us(20000);
	__asm__ volatile("sti; nop; cli");
	check(interrupts == before, "MSI to a non-LAPIC address was delivered");
	check(r32(con.msix_pba) & 1, "undeliverable vector not pending");
	mmio_write32(t + 12, 1); /* mask, fix the address, unmask */
	mmio_write32(t, 0xfee00000u);
	mmio_write32(t + 12, 0);
	for (uint64_t end = deadline(); interrupts == before && rdtsc() < end;)
		__asm__ volatile("sti; pause; cli");
	check(interrupts == before + 1, "pending config interrupt delivered once the address is fixed");
	virtio_pci_set_status(&con, 0);
	for (unsigned i = 0; i < 3; i++)
		msix_entry(&con, i, 0, 0, 1);
	attacks += 9;
	console_printf("hostile-virtio: MSI-X garbage survived (%u attacks)\n", attacks);
}

/* ---- BARs and the configuration header ---- */

static bool console_answers(void)
{
	return r16(con.common + VIRTIO_NUM_QUEUES) == 2;
}

static void move_bar(uint32_t lo, uint32_t hi, const char *what)
{
	uint64_t b = cfg(con.slot, 0x10);
	uint32_t old_lo = r32(b), old_hi = r32(b + 4);
	mmio_write32(b, lo);
	mmio_write32(b + 4, hi);
	check(r32(cfg(0, 0)) == 0x00081b36, "ECAM still answers");
	mmio_write32(b, old_lo);
	mmio_write32(b + 4, old_hi);
	check(console_answers(), what);
	attacks++;
}

static void attack_bars(void)
{
	unsigned s = con.slot;
	uint64_t b = cfg(s, 0x10);
	uint32_t lo = r32(b);
	mmio_write32(b, 0xffffffff);
	check((r32(b) & ~0xfu) == 0xffff8000u, "BAR 0 sizing");
	mmio_write32(b, lo);
	mmio_write32(b, 0x00200000);
	check(!console_answers(), "BAR moved over RAM still decodes");
	mmio_write32(b, lo);
	move_bar(0x00200000, 0, "BAR over RAM, moved back");
	move_bar((uint32_t)rng.bar, (uint32_t)(rng.bar >> 32), "BAR over virtio-rng's, moved back");
	move_bar((uint32_t)PCI_ECAM_BASE, 0, "BAR over the ECAM, moved back");
	move_bar((uint32_t)LAPIC, 0, "BAR over the LAPIC, moved back");
	move_bar(lo, 0xffffffff, "BAR above 4 GiB, moved back");
	move_bar(lo + 0x1000, 0, "BAR misaligned, moved back");
	/* BARs 2-5 and the ROM BAR do not exist; CardBus CIS and subsystem IDs are read-only. */
	for (unsigned reg = 0x18; reg <= 0x30; reg += 4) {
		uint32_t before = r32(cfg(s, reg));
		mmio_write32(cfg(s, reg), 0xffffffff);
		bool bar = reg != 0x28 && reg != 0x2c;
		check(r32(cfg(s, reg)) == (bar ? 0 : before), "unimplemented BAR or read-only field");
	}
	uint16_t cmd = r16(cfg(s, 4));
	mmio_write16(cfg(s, 4), 0);
	check(!console_answers(), "memory decoding off");
	mmio_write16(cfg(s, 4), 0xffff);
	mmio_write16(cfg(s, 4), cmd);
	check(console_answers(), "memory decoding back on");
	uint32_t id = r32(cfg(s, 0)), class = r32(cfg(s, 8)), hdr = r32(cfg(s, 0x0c));
	uint16_t sts = r16(cfg(s, 6));
	uint8_t cap = r8(cfg(s, 0x34)), vcap = con.window_cap;
	uint32_t first_cap = r32(cfg(s, cap));
	mmio_write32(cfg(s, 0), 0xdeadbeef);
	mmio_write32(cfg(s, 8), 0xffffffff);
	mmio_write8(cfg(s, 0x0e), 0x80);
	mmio_write16(cfg(s, 6), 0xffff);
	mmio_write8(cfg(s, 0x34), 0);
	mmio_write8(cfg(s, 0x3d), 1);     /* interrupt pin */
	mmio_write32(cfg(s, cap), 0xffffffff); /* a capability's ID, next and length */
	check(r32(cfg(s, 0)) == id && r32(cfg(s, 8)) == class &&
	      (r32(cfg(s, 0x0c)) & 0x00ff0000) == (hdr & 0x00ff0000) && r16(cfg(s, 6)) == sts &&
	      r8(cfg(s, 0x34)) == cap && r8(cfg(s, 0x3d)) == 0 &&
	      (r32(cfg(s, cap)) & 0xffff) == (first_cap & 0xffff), "read-only header fields");
	/* The PCI_CFG window with a bad BAR, offset or length does nothing. */
	static const uint32_t windows[][3] = { { 5, 0xfffffffc, 3 }, { 0, 0x7fff, 2 }, { 0, 0, 8 } };
	for (unsigned i = 0; vcap && i < 3; i++) {
		mmio_write8(cfg(s, vcap + 4), (uint8_t)windows[i][0]);
		mmio_write32(cfg(s, vcap + 8), windows[i][1]);
		mmio_write32(cfg(s, vcap + 12), windows[i][2]);
		mmio_write32(cfg(s, vcap + 16), 0);
		(void)r32(cfg(s, vcap + 16));
	}
	check(console_answers(), "console after header garbage");
	attacks += 12;
	console_printf("hostile-virtio: BAR and header garbage survived (%u attacks)\n", attacks);
}

/* ---- 0xCF8/0xCFC and ECAM ---- */

static void attack_config_space(void)
{
	unsigned s = con.slot;
	uint32_t id = r32(cfg(s, 0));
	outl(0xcf8, 0x80000000u | 7u << 16 | 31u << 11 | 7u << 8 | 0xfc);
	check(inl(0xcfc) == 0xffffffff, "absent bus through 0xCF8");
	outl(0xcf8, (uint32_t)s << 11); /* enable bit clear */
	check(inl(0xcfc) == 0xffffffff, "0xCF8 without the enable bit");
	outb(0xcf9, 0x02); /* not a reset: bit 2 clear; byte accesses are ignored anyway */
	outb(0xcfa, 0xff);
	outw(0xcfa, 0xffff);
	outl(0xcf8, 0x80000000u | (uint32_t)s << 11);
	outw(0xcfe, 0xffff);
	outb(0xcff, 0xff);
	outl(0xcfd, 0xffffffff); /* straddles the end of the data port */
	check(inl(0xcfc) == id, "IDs through 0xCFC after garbage");
	outl(0xcf8, 0x80000000u);
	check(inl(0xcfc) == 0x00081b36, "host bridge through 0xCF8");
	check(r32(cfg(s, 3 << 12)) == 0xffffffff, "absent function");
	mmio_write32(cfg(s, 3 << 12), 0);
	check(r32(cfg(s, 0x100)) == 0, "extended configuration space");
	mmio_write32(cfg(s, 0x100), 0xffffffff);
	check(r64(cfg(s, 0)) == ~0ull, "8-byte ECAM access");
	check(r32(cfg(s, 2)) == 0xffffffff, "misaligned ECAM access");
	check(r32(PCI_ECAM_BASE + (1u << 20)) == 0xffffffff, "bus 1");
	mmio_write32(PCI_ECAM_BASE + (1u << 20), 0);
	mmio_write8(cfg(s, 0x11), 0x12); /* one byte of BAR 0 */
	mmio_write32(cfg(s, 0x10), (uint32_t)con.bar | 4);
	check(r32(cfg(s, 0)) == id && console_answers(), "console after config-space garbage");
	attacks += 14;
	console_printf("hostile-virtio: 0xCF8 and ECAM garbage survived (%u attacks)\n", attacks);
}

/* ---- Afterwards: every device works ---- */

static void rng_still_works(void)
{
	bring_up(&rng, 0, &rng_ring, 0);
	memset(buf, 0, 64);
	rng_ring.desc[0] = dsc((uintptr_t)buf, 64, D_WRITE, 0);
	offer(&rng, 0, &rng_ring, 0);
	check(wait_used(&rng_ring, 1) && rng_ring.used[2] == 64, "virtio-rng request");
	unsigned zeros = 0;
	for (unsigned i = 0; i < 64; i++)
		zeros += buf[i] == 0;
	check(zeros < 16, "virtio-rng bytes look random");
	virtio_pci_set_status(&rng, 0);
}

/* virtio-blk: read sector 0 (header readable, 512 bytes and the status writable). */
static void blk_still_works(void)
{
	bring_up(&blk, 0, &blk_ring, 0);
	memset(buf, 0xee, 16 + 512 + 1);
	memset(buf, 0, 16); /* type 0 (IN), reserved, sector 0 */
	blk_ring.desc[0] = dsc((uintptr_t)buf, 16, D_NEXT, 1);
	blk_ring.desc[1] = dsc((uintptr_t)buf + 16, 512, D_WRITE | D_NEXT, 2);
	blk_ring.desc[2] = dsc((uintptr_t)buf + 16 + 512, 1, D_WRITE, 0);
	offer(&blk, 0, &blk_ring, 0);
	check(wait_used(&blk_ring, 1) && buf[16 + 512] == 0, "virtio-blk read of sector 0");
	virtio_pci_set_status(&blk, 0);
}

/* The last words go out through the console; with read_input, one buffer of host input comes
 * in through it. */
static void console_still_works(bool read_input)
{
	static const char msg[] = "hostile-virtio: hello through virtio-console after the attacks\n";
	static char line[64];
	check(negotiate(&con, 0) && queue_on(&con, 1, &tx_ring) &&
	      (!read_input || queue_on(&con, 0, &rx_ring)) && virtio_pci_driver_ok(&con),
	      "console bring-up");
	tx_ring.desc[0] = dsc((uintptr_t)msg, sizeof(msg) - 1, 0, 0);
	offer(&con, 1, &tx_ring, 0);
	check(wait_used(&tx_ring, 1), "virtio-console transmits after the attacks");
	if (!read_input)
		return;
	rx_ring.desc[0] = dsc((uintptr_t)line, sizeof(line) - 1, D_WRITE, 0);
	offer(&con, 0, &rx_ring, 0);
	check(wait_used(&rx_ring, 1) && rx_ring.used[2] > 0, "input through virtio-console");
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = '\0';
	console_printf("hostile-virtio: virtio-console input '%s'\n", line);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	trap_register(MSI_VECTOR, on_msi, 0);
	mmio_write32(LAPIC + 0xf0, 0x1ff); /* software-enable the LAPIC */
	check(r32(cfg(0, 0)) == 0x00081b36, "host bridge");
	check(probe(&con, VIRTIO_ID_CONSOLE), "no virtio-console (run with --console virtio)");
	check(probe(&rng, VIRTIO_ID_RNG), "no virtio-rng (run with --rng)");
	bool have_blk = probe(&blk, VIRTIO_ID_BLK);
	attack_chains();
	attack_common_config();
	attack_msix();
	attack_bars();
	attack_config_space();
	rng_still_works();
	if (have_blk)
		blk_still_works();
	console_still_works(cmdline_has_word("read-input"));
	console_printf("hostile-virtio: Ember survived %u attacks; virtio-rng%s and virtio-console "
		       "work\n", attacks, have_blk ? ", virtio-blk" : "");
	return 0;
}
