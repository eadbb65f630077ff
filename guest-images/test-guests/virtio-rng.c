/* Drives Ember's virtio-rng (ember run --rng) the way a driver does, with real KVM underneath:
 * finds the function through ECAM, reads its virtio capabilities, negotiates VERSION_1, sets up
 * queue 0 with an MSI-X vector, offers a buffer, kicks (a KVM ioeventfd on the host) and waits
 * for the used buffer and the MSI (a KVM irqfd). Then it masks the vector, checks that the next
 * completion leaves the PBA bit set without an interrupt, and that unmasking delivers it.
 * Exit status 0 on success, else the number of the step that failed (see enum). */
#include "rt/rt.h"

#define ECAM_BASE      0xe0000000ull
#define LAPIC_BASE     0xfee00000ull
#define LAPIC_EOI      0xb0
#define LAPIC_SVR      0xf0
#define MSI_VECTOR     0x40
#define QUEUE_SIZE     8
#define REQUEST_BYTES  64
#define NO_VECTOR      0xffff

enum failure {
	FAIL_NO_DEVICE = 10, FAIL_NO_HOST_BRIDGE, FAIL_CAPS, FAIL_NO_VERSION_1, FAIL_FEATURES_OK,
	FAIL_VECTOR, FAIL_QUEUE, FAIL_NO_COMPLETION, FAIL_BAD_LENGTH, FAIL_NOT_RANDOM,
	FAIL_NO_INTERRUPT, FAIL_MASKED_INTERRUPT, FAIL_NO_PENDING, FAIL_NO_DELIVERY_ON_UNMASK,
};

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
enum {
	DFSELECT = 0, DF = 4, GFSELECT = 8, GF = 12, MSIX_CONFIG = 16, STATUS = 20,
	Q_SELECT = 22, Q_SIZE = 24, Q_MSIX = 26, Q_ENABLE = 28, Q_NOTIFY_OFF = 30,
	Q_DESC = 32, Q_DRIVER = 40, Q_DEVICE = 48,
};

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc ring_desc[QUEUE_SIZE] __attribute__((aligned(16)));
static volatile uint16_t ring_avail[3 + QUEUE_SIZE] __attribute__((aligned(2)));
static volatile uint32_t ring_used[1 + 2 * QUEUE_SIZE + 1] __attribute__((aligned(4)));
static uint8_t buffers[2][REQUEST_BYTES];
static volatile unsigned interrupts;

static uint64_t bar, common, notify, isr, msix_table, msix_pba;
static uint32_t notify_mult;

static uint64_t cfg_addr(unsigned slot, unsigned reg)
{
	return ECAM_BASE + ((uint64_t)slot << 15) + reg;
}

static uint8_t cfg8(unsigned slot, unsigned reg)
{
	return *(volatile uint8_t *)phys_ptr(cfg_addr(slot, reg));
}

static uint32_t cfg32(unsigned slot, unsigned reg)
{
	return mmio_read32(cfg_addr(slot, reg));
}

static uint16_t read16(uint64_t a)
{
	return *(volatile uint16_t *)phys_ptr(a);
}

static uint8_t read8(uint64_t a)
{
	return *(volatile uint8_t *)phys_ptr(a);
}

static void on_msi(struct trap_frame *f)
{
	(void)f;
	interrupts++;
	mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
}

static int find_device(unsigned *slot)
{
	if ((cfg32(0, 0x08) >> 16) != 0x0600)
		return FAIL_NO_HOST_BRIDGE;
	for (unsigned s = 1; s < 32; s++)
		if (cfg32(s, 0) == (0x1044u << 16 | 0x1af4u)) {
			*slot = s;
			return 0;
		}
	return FAIL_NO_DEVICE;
}

static int read_caps(unsigned slot)
{
	bar = (cfg32(slot, 0x10) & ~0xfu) | (uint64_t)cfg32(slot, 0x14) << 32;
	for (unsigned at = cfg8(slot, 0x34), n = 0; at && n < 32; at = cfg8(slot, at + 1), n++) {
		uint8_t id = cfg8(slot, at);
		if (id == 0x11) { /* MSI-X: table and PBA, both in BAR 0 here */
			msix_table = bar + (cfg32(slot, at + 4) & ~7u);
			msix_pba = bar + (cfg32(slot, at + 8) & ~7u);
			mmio_write16(cfg_addr(slot, at + 2), 0x8000); /* enable */
			continue;
		}
		if (id != 0x09)
			continue;
		uint64_t where = bar + cfg32(slot, at + 8);
		switch (cfg8(slot, at + 3)) {
		case 1: common = where; break;
		case 2: notify = where; notify_mult = cfg32(slot, at + 16); break;
		case 3: isr = where; break;
		}
	}
	return bar && common && notify && isr && msix_table ? 0 : FAIL_CAPS;
}

static int negotiate(void)
{
	mmio_write8(common + STATUS, 0);
	mmio_write8(common + STATUS, 1);       /* ACKNOWLEDGE */
	mmio_write8(common + STATUS, 1 | 2);   /* DRIVER */
	mmio_write32(common + DFSELECT, 1);
	if (!(mmio_read32(common + DF) & 1))
		return FAIL_NO_VERSION_1;
	mmio_write32(common + GFSELECT, 0);
	mmio_write32(common + GF, 0);
	mmio_write32(common + GFSELECT, 1);
	mmio_write32(common + GF, 1);           /* VERSION_1 only */
	mmio_write8(common + STATUS, 1 | 2 | 8);
	return read8(common + STATUS) == (1 | 2 | 8) ? 0 : FAIL_FEATURES_OK;
}

static int setup_queue(void)
{
	/* Vector 1 -> this CPU (APIC 0), fixed delivery of MSI_VECTOR; vector 0 stays masked. */
	mmio_write32(msix_table + 16, (uint32_t)LAPIC_BASE);
	mmio_write32(msix_table + 16 + 4, 0);
	mmio_write32(msix_table + 16 + 8, MSI_VECTOR);
	mmio_write32(msix_table + 16 + 12, 0);
	mmio_write16(common + MSIX_CONFIG, NO_VECTOR);
	mmio_write16(common + Q_SELECT, 0);
	mmio_write16(common + Q_SIZE, QUEUE_SIZE);
	mmio_write16(common + Q_MSIX, 1);
	if (read16(common + Q_MSIX) != 1)
		return FAIL_VECTOR;
	uint64_t parts[3] = { (uintptr_t)ring_desc, (uintptr_t)ring_avail, (uintptr_t)ring_used };
	for (unsigned i = 0; i < 3; i++) {
		mmio_write32(common + Q_DESC + 8 * i, (uint32_t)parts[i]);
		mmio_write32(common + Q_DESC + 8 * i + 4, (uint32_t)(parts[i] >> 32));
	}
	mmio_write16(common + Q_ENABLE, 1);
	mmio_write8(common + STATUS, 1 | 2 | 8 | 4); /* DRIVER_OK */
	if (read16(common + Q_ENABLE) != 1 || read8(common + STATUS) != (1 | 2 | 8 | 4))
		return FAIL_QUEUE;
	return 0;
}

static void offer(unsigned i)
{
	ring_desc[i] = (struct desc){ (uintptr_t)buffers[i], REQUEST_BYTES, 2 /* WRITE */, 0 };
	ring_avail[2 + i] = (uint16_t)i;
	__atomic_store_n(&ring_avail[1], (uint16_t)(i + 1), __ATOMIC_RELEASE);
	uint16_t off = read16(common + Q_NOTIFY_OFF);
	mmio_write16(notify + (uint64_t)off * notify_mult, 0);
}

/* Waits up to 2 s for used->idx to reach `want` (and, if irq, for an interrupt too). */
static bool wait_for(uint16_t want, unsigned irqs)
{
	uint64_t end = rdtsc() + 2 * tsc_hz();
	while (rdtsc() < end) {
		uint16_t idx = (uint16_t)(__atomic_load_n(&ring_used[0], __ATOMIC_ACQUIRE) >> 16);
		if (idx == want && interrupts >= irqs)
			return true;
		__asm__ volatile("sti; pause; cli");
	}
	return false;
}

static int check_bytes(unsigned i)
{
	if (ring_used[1 + 2 * i + 1] != REQUEST_BYTES)
		return FAIL_BAD_LENGTH;
	unsigned zeros = 0;
	for (unsigned b = 0; b < REQUEST_BYTES; b++)
		zeros += buffers[i][b] == 0;
	return zeros < REQUEST_BYTES / 4 ? 0 : FAIL_NOT_RANDOM;
}

static int masked_round(void)
{
	mmio_write32(msix_table + 16 + 12, 1); /* mask vector 1 */
	unsigned before = interrupts;
	offer(1);
	if (!wait_for(2, 0))
		return FAIL_NO_COMPLETION;
	delay_us(20000);
	__asm__ volatile("sti; nop; cli");
	if (interrupts != before)
		return FAIL_MASKED_INTERRUPT;
	if (!(mmio_read32(msix_pba) & 2))
		return FAIL_NO_PENDING;
	mmio_write32(msix_table + 16 + 12, 0); /* unmask: the pending message arrives */
	if (!wait_for(2, before + 1))
		return FAIL_NO_DELIVERY_ON_UNMASK;
	return check_bytes(1);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	unsigned slot = 0;
	int rc;
	trap_register(MSI_VECTOR, on_msi, 0);
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff); /* software-enable the LAPIC */
	if ((rc = find_device(&slot)) || (rc = read_caps(slot)) || (rc = negotiate()) ||
	    (rc = setup_queue()))
		return rc;
	offer(0);
	if (!wait_for(1, 0))
		return FAIL_NO_COMPLETION;
	if ((rc = check_bytes(0)))
		return rc;
	if (!wait_for(1, 1))
		return FAIL_NO_INTERRUPT;
	if ((rc = masked_round()))
		return rc;
	console_printf("virtio-rng: slot %u, BAR 0x%lx, %u interrupts, bytes %02x%02x%02x%02x...\n",
		       slot, bar, interrupts, buffers[0][0], buffers[0][1], buffers[0][2],
		       buffers[0][3]);
	mmio_write8(common + STATUS, 0);
	return 0;
}
