#include "virtio_pci_test_driver.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/pci/pci_internal.h"

void vd_setup(struct vdrv *d)
{
	memset(d, 0, sizeof(*d));
	io_bus_init(&d->pio, "pio");
	io_bus_init(&d->mmio, "mmio");
	cr_assert_eq(guest_mem_init(&d->gm, VD_RAM, &d->e), 0, "%s", d->e.msg);
	d->bus = pci_bus_create(&d->pio, &d->mmio, -1, &d->e);
	cr_assert_not_null(d->bus, "%s", d->e.msg);
	d->next_data = VD_DATA;
}

void vd_teardown(struct vdrv *d)
{
	pci_bus_destroy(d->bus);
	guest_mem_destroy(&d->gm);
	io_bus_destroy(&d->pio);
	io_bus_destroy(&d->mmio);
}

uint64_t vd_mmio_read(struct vdrv *d, uint64_t gpa, uint32_t size)
{
	uint64_t v = 0;
	io_bus_dispatch(&d->mmio, gpa, (uint8_t *)&v, size, false);
	return v;
}

void vd_mmio_write(struct vdrv *d, uint64_t gpa, uint64_t v, uint32_t size)
{
	io_bus_dispatch(&d->mmio, gpa, (uint8_t *)&v, size, true);
}

static uint64_t ecam(struct vdrv *d, unsigned reg)
{
	return LAYOUT_PCI_ECAM_START + ((uint64_t)d->slot << 15) + reg;
}

uint32_t vd_cfg_read(struct vdrv *d, unsigned reg, uint32_t size)
{
	return (uint32_t)vd_mmio_read(d, ecam(d, reg), size);
}

void vd_cfg_write(struct vdrv *d, unsigned reg, uint32_t v, uint32_t size)
{
	vd_mmio_write(d, ecam(d, reg), v, size);
}

static void record_cap(struct vdrv *d, unsigned at)
{
	uint8_t type = (uint8_t)vd_cfg_read(d, at + VIRTIO_PCI_CAPF_CFG_TYPE, 1);
	uint8_t bar = (uint8_t)vd_cfg_read(d, at + VIRTIO_PCI_CAPF_BAR, 1);
	uint32_t off = vd_cfg_read(d, at + VIRTIO_PCI_CAPF_OFFSET, 4);
	uint32_t len = vd_cfg_read(d, at + VIRTIO_PCI_CAPF_LENGTH, 4);
	if (type == VIRTIO_PCI_CAP_PCI_CFG) {
		d->pci_cfg_cap = (uint8_t)at;
		return;
	}
	cr_assert_eq(bar, 0, "capability type %u in BAR %u", type, bar);
	cr_assert_leq((uint64_t)off + len, VIRTIO_PCI_BAR_SIZE, "type %u past the BAR", type);
	switch (type) {
	case VIRTIO_PCI_CAP_COMMON_CFG:
		cr_assert_geq(len, VIRTIO_PCI_COMMON_CFG_SIZE);
		d->common = d->bar + off;
		break;
	case VIRTIO_PCI_CAP_NOTIFY_CFG:
		d->notify = d->bar + off;
		d->notify_len = len;
		d->notify_mult = vd_cfg_read(d, at + VIRTIO_PCI_CAPF_NOTIFY_MULT, 4);
		break;
	case VIRTIO_PCI_CAP_ISR_CFG:
		d->isr = d->bar + off;
		break;
	case VIRTIO_PCI_CAP_DEVICE_CFG:
		d->device = d->bar + off;
		d->device_len = len;
		break;
	default:
		cr_assert_fail("unexpected virtio capability type %u", type);
	}
}

void vd_probe(struct vdrv *d, unsigned slot)
{
	d->slot = slot;
	uint32_t lo = vd_cfg_read(d, PCI_BASE_ADDRESS_0, 4), hi = vd_cfg_read(d, PCI_BASE_ADDRESS_1, 4);
	cr_assert_eq(lo & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64);
	d->bar = ((uint64_t)hi << 32) | (lo & ~0xfu);
	cr_assert(vd_cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	unsigned at = vd_cfg_read(d, PCI_CAPABILITY_LIST, 1), guard = 0;
	while (at && guard++ < 48) {
		cr_assert_geq(at, 0x40);
		uint8_t id = (uint8_t)vd_cfg_read(d, at, 1);
		if (id == PCI_CAP_ID_VNDR)
			record_cap(d, at);
		else if (id == PCI_CAP_ID_MSIX)
			d->msix_cap = (uint8_t)at;
		at = vd_cfg_read(d, at + 1, 1);
	}
	cr_assert(d->common && d->notify && d->isr && d->pci_cfg_cap && d->msix_cap);
}

uint64_t vd_read(struct vdrv *d, unsigned field, uint32_t size)
{
	return vd_mmio_read(d, d->common + field, size);
}

void vd_write(struct vdrv *d, unsigned field, uint64_t v, uint32_t size)
{
	vd_mmio_write(d, d->common + field, v, size);
}

uint8_t vd_status(struct vdrv *d)
{
	return (uint8_t)vd_read(d, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1);
}

void vd_set_status(struct vdrv *d, uint8_t status)
{
	vd_write(d, VIRTIO_PCI_COMMON_DEVICE_STATUS, status, 1);
}

uint64_t vd_device_features(struct vdrv *d)
{
	vd_write(d, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 0, 4);
	uint64_t lo = vd_read(d, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4);
	vd_write(d, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 1, 4);
	uint64_t hi = vd_read(d, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4);
	return hi << 32 | lo;
}

void vd_driver_features(struct vdrv *d, uint64_t features)
{
	vd_write(d, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 0, 4);
	vd_write(d, VIRTIO_PCI_COMMON_DRIVER_FEATURE, (uint32_t)features, 4);
	vd_write(d, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 1, 4);
	vd_write(d, VIRTIO_PCI_COMMON_DRIVER_FEATURE, features >> 32, 4);
}

void vd_negotiate(struct vdrv *d, uint64_t features)
{
	vd_set_status(d, 0);
	cr_assert_eq(vd_status(d), 0);
	vd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_driver_features(d, features);
	uint8_t want = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	vd_set_status(d, want);
	cr_assert_eq(vd_status(d), want, "FEATURES_OK refused for 0x%llx",
		     (unsigned long long)features);
}

void vd_msix_on(struct vdrv *d, unsigned n)
{
	uint16_t ctl = (uint16_t)vd_cfg_read(d, d->msix_cap + PCI_MSIX_FLAGS, 2);
	vd_cfg_write(d, d->msix_cap + PCI_MSIX_FLAGS, ctl | PCI_MSIX_FLAGS_ENABLE, 2);
	uint64_t table = d->bar + VIRTIO_PCI_MSIX_TABLE_OFFSET;
	for (unsigned i = 0; i < n; i++) {
		vd_mmio_write(d, table + 16 * i, 0xfee00000u, 4);
		vd_mmio_write(d, table + 16 * i + 4, 0, 4);
		vd_mmio_write(d, table + 16 * i + 8, 0x40 + i, 4);
		vd_mmio_write(d, table + 16 * i + 12, 0, 4);
	}
}

uint64_t vd_msix_count(struct vdrv *d, unsigned vector)
{
	struct pci_device *dev = d->bus->slots[d->slot];
	uint64_t n = 0;
	if (read(dev->msix->v[vector].fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

void vd_queue_setup(struct vdrv *d, struct vd_ring *r, uint16_t q, uint16_t size, uint16_t vector)
{
	memset(r, 0, sizeof(*r));
	r->queue = q;
	r->size = size;
	r->desc = VD_RING(q);
	r->avail = r->desc + 0x10000;
	r->used = r->desc + 0x20000;
	memset(vd_host(d, r->desc, 0x30000), 0, 0x30000);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_SELECT, q, 2);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_SIZE, size, 2);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_DESC, r->desc, 4);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_DESC + 4, r->desc >> 32, 4);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_DRIVER, r->avail, 4);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_DRIVER + 4, 0, 4);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_DEVICE, r->used, 8);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, vector, 2);
	vd_write(d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 1, 2);
}

void *vd_host(struct vdrv *d, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&d->gm, gpa, len);
	cr_assert_not_null(p, "0x%llx is not RAM", (unsigned long long)gpa);
	return p;
}

uint64_t vd_alloc(struct vdrv *d, uint32_t len)
{
	uint64_t gpa = d->next_data;
	d->next_data = (gpa + len + 15) & ~15ull;
	memset(vd_host(d, gpa, len), 0, len);
	return gpa;
}

uint16_t vd_desc(struct vdrv *d, struct vd_ring *r, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint16_t i = r->next_desc++ % r->size;
	struct virtq_desc desc = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(vd_host(d, r->desc + 16ull * i, 16), &desc, 16);
	return i;
}

void vd_offer(struct vdrv *d, struct vd_ring *r, uint16_t head)
{
	uint16_t *avail = vd_host(d, r->avail, virtq_avail_bytes(r->size));
	avail[2 + r->avail_idx % r->size] = head;
	__atomic_store_n(&avail[1], (uint16_t)(r->avail_idx + 1), __ATOMIC_RELEASE);
	r->avail_idx++;
}

uint16_t vd_used_idx(struct vdrv *d, struct vd_ring *r)
{
	uint16_t *used = vd_host(d, r->used, 4);
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

struct virtq_used_elem vd_used(struct vdrv *d, struct vd_ring *r, uint16_t i)
{
	struct virtq_used_elem el;
	memcpy(&el, vd_host(d, r->used + 4 + 8ull * (i % r->size), 8), 8);
	return el;
}

void vd_kick(struct vdrv *d, uint16_t q)
{
	vd_mmio_write(d, d->notify + (uint64_t)q * d->notify_mult, q, 2);
}
