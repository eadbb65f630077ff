/* Drives Ember's virtio-rng (ember run --rng) the way a driver does, with real KVM underneath:
 * finds the function through ECAM, reads its virtio capabilities, negotiates VERSION_1, sets up
 * queue 0 with an MSI-X vector, offers a buffer, kicks (a KVM ioeventfd on the host) and waits
 * for the used buffer and the MSI (a KVM irqfd). Then it masks the vector, checks that the next
 * completion leaves the PBA bit set without an interrupt, and that unmasking delivers it.
 * Exit status 0 on success, else the number of the step that failed (see enum). */
#include "rt/rt.h"
#include "rt/virtio_pci.h"

#define LAPIC_BASE     0xfee00000ull
#define LAPIC_EOI      0xb0
#define LAPIC_SVR      0xf0
#define MSI_VECTOR     0x40
#define QUEUE_SIZE     8
#define REQUEST_BYTES  64

enum failure {
	FAIL_NO_DEVICE = 10, FAIL_NO_HOST_BRIDGE, FAIL_CAPS, FAIL_NO_VERSION_1, FAIL_FEATURES_OK,
	FAIL_VECTOR, FAIL_QUEUE, FAIL_NO_COMPLETION, FAIL_BAD_LENGTH, FAIL_NOT_RANDOM,
	FAIL_NO_INTERRUPT, FAIL_MASKED_INTERRUPT, FAIL_NO_PENDING, FAIL_NO_DELIVERY_ON_UNMASK,
};

static struct virtq_desc ring_desc[QUEUE_SIZE] __attribute__((aligned(16)));
static volatile uint16_t ring_avail[3 + QUEUE_SIZE] __attribute__((aligned(2)));
static volatile uint32_t ring_used[1 + 2 * QUEUE_SIZE + 1] __attribute__((aligned(4)));
static uint8_t buffers[2][REQUEST_BYTES];
static volatile unsigned interrupts;

static struct virtio_pci_dev dev;
static uint64_t notify_addr;

static void on_msi(struct trap_frame *f)
{
	(void)f;
	interrupts++;
	mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
}

static int find_device(void)
{
	if ((pci_cfg_read32(0, 0x08) >> 16) != 0x0600)
		return FAIL_NO_HOST_BRIDGE;
	return virtio_pci_probe(&dev, VIRTIO_ID_RNG) ? 0 : FAIL_NO_DEVICE;
}

static int read_caps(void)
{
	if (!dev.bar || !dev.common || !dev.notify || !dev.isr || !dev.msix_table)
		return FAIL_CAPS;
	virtio_pci_msix_enable(&dev);
	return 0;
}

/* VERSION_1 only. */
static int negotiate(void)
{
	if (!(virtio_pci_device_features(&dev) & VIRTIO_F_VERSION_1))
		return FAIL_NO_VERSION_1;
	return virtio_pci_negotiate(&dev, 0, 0) ? 0 : FAIL_FEATURES_OK;
}

static int setup_queue(void)
{
	/* Vector 1 -> this CPU (APIC 0), fixed delivery of MSI_VECTOR; vector 0 stays masked. */
	mmio_write32(dev.msix_table + 16, (uint32_t)LAPIC_BASE);
	mmio_write32(dev.msix_table + 16 + 4, 0);
	mmio_write32(dev.msix_table + 16 + 8, MSI_VECTOR);
	mmio_write32(dev.msix_table + 16 + 12, 0);
	mmio_write16(dev.common + VIRTIO_MSIX_CONFIG, VIRTIO_NO_VECTOR);
	notify_addr = virtio_pci_queue_setup(&dev, 0, QUEUE_SIZE, 1, ring_desc, ring_avail,
					     ring_used);
	if (!notify_addr)
		return FAIL_VECTOR;
	return virtio_pci_driver_ok(&dev) ? 0 : FAIL_QUEUE;
}

static void offer(unsigned i)
{
	ring_desc[i] = (struct virtq_desc){ (uintptr_t)buffers[i], REQUEST_BYTES, VIRTQ_DESC_F_WRITE,
					    0 };
	ring_avail[2 + i] = (uint16_t)i;
	__atomic_store_n(&ring_avail[1], (uint16_t)(i + 1), __ATOMIC_RELEASE);
	mmio_write16(notify_addr, 0);
}

/* Waits up to WAIT_SECONDS for used->idx to reach `want` and for `irqs` interrupts in all.
 * Generous on purpose: when KVM cannot inject an irqfd's MSI on the spot it hands it to a
 * kworker (always, for a message pending when the irqfd is bound, as on unmask). With the 2 s
 * this used to allow, loaded 2-core hosts failed it now and then (never when run alone);
 * whether those messages came late or never is not known. A lost one still fails, later. */
#define WAIT_SECONDS 10
static bool wait_for(uint16_t want, unsigned irqs)
{
	uint64_t end = rdtsc() + WAIT_SECONDS * tsc_hz();
	while (rdtsc() < end) {
		if (virtq_used_idx(ring_used) == want && interrupts >= irqs)
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
	mmio_write32(dev.msix_table + 16 + 12, 1); /* mask vector 1 */
	unsigned before = interrupts;
	offer(1);
	if (!wait_for(2, 0))
		return FAIL_NO_COMPLETION;
	delay_us(20000);
	__asm__ volatile("sti; nop; cli");
	if (interrupts != before)
		return FAIL_MASKED_INTERRUPT;
	if (!(mmio_read32(dev.msix_pba) & 2))
		return FAIL_NO_PENDING;
	mmio_write32(dev.msix_table + 16 + 12, 0); /* unmask: the pending message arrives */
	if (!wait_for(2, before + 1))
		return FAIL_NO_DELIVERY_ON_UNMASK;
	return check_bytes(1);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	int rc;
	trap_register(MSI_VECTOR, on_msi, 0);
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff); /* software-enable the LAPIC */
	if ((rc = find_device()) || (rc = read_caps()) || (rc = negotiate()) ||
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
		       dev.slot, dev.bar, interrupts, buffers[0][0], buffers[0][1], buffers[0][2],
		       buffers[0][3]);
	virtio_pci_set_status(&dev, 0);
	return 0;
}
