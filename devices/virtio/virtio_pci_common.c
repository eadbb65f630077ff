/* The common configuration structure (virtio v1.2, 4.1.4.3) and the device status state
 * machine (2.1, 3.1). Each field answers only accesses of its natural width at its offset;
 * 64-bit fields also take their two 32-bit halves (4.1.3.1). Anything else reads 0 and writes
 * nothing. */
#include "virtio_pci_internal.h"

#include <string.h>

#define STATUS_DRIVER_SETTABLE                                                                 \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |         \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)

static const uint8_t field_width[VIRTIO_PCI_COMMON_CFG_SIZE] = {
	[VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT] = 4,
	[VIRTIO_PCI_COMMON_DEVICE_FEATURE] = 4,
	[VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT] = 4,
	[VIRTIO_PCI_COMMON_DRIVER_FEATURE] = 4,
	[VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR] = 2,
	[VIRTIO_PCI_COMMON_NUM_QUEUES] = 2,
	[VIRTIO_PCI_COMMON_DEVICE_STATUS] = 1,
	[VIRTIO_PCI_COMMON_CONFIG_GENERATION] = 1,
	[VIRTIO_PCI_COMMON_QUEUE_SELECT] = 2,
	[VIRTIO_PCI_COMMON_QUEUE_SIZE] = 2,
	[VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR] = 2,
	[VIRTIO_PCI_COMMON_QUEUE_ENABLE] = 2,
	[VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF] = 2,
	[VIRTIO_PCI_COMMON_QUEUE_DESC] = 8,
	[VIRTIO_PCI_COMMON_QUEUE_DRIVER] = 8,
	[VIRTIO_PCI_COMMON_QUEUE_DEVICE] = 8,
	[VIRTIO_PCI_COMMON_QUEUE_NOTIFY_DATA] = 2,
	[VIRTIO_PCI_COMMON_QUEUE_RESET] = 2,
};

/* The field an access targets and where the accessed bits sit in it; -1 for no field. */
static int field_of(uint32_t offset, uint32_t size, unsigned *shift)
{
	*shift = 0;
	if (offset >= VIRTIO_PCI_COMMON_CFG_SIZE)
		return -1;
	if (field_width[offset] == size || (size == 4 && field_width[offset] == 8))
		return (int)offset;
	if (size == 4 && offset >= 4 && field_width[offset - 4] == 8) {
		*shift = 32;
		return (int)offset - 4;
	}
	return -1;
}

static struct virtio_pci_queue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->num_queues ? &vp->queues[vp->queue_select] : NULL;
}

static uint32_t feature_word(uint64_t features, uint32_t select)
{
	return select < 2 ? (uint32_t)(features >> (32 * select)) : 0;
}

static uint64_t read_field(struct virtio_pci *vp, int field)
{
	const struct virtio_pci_queue *q = selected(vp);
	switch (field) {
	case VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT: return vp->device_feature_select;
	case VIRTIO_PCI_COMMON_DEVICE_FEATURE:
		return feature_word(vp->device_features, vp->device_feature_select);
	case VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT: return vp->driver_feature_select;
	case VIRTIO_PCI_COMMON_DRIVER_FEATURE:
		return feature_word(vp->driver_features, vp->driver_feature_select);
	case VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR: return vp->config_msix_vector;
	case VIRTIO_PCI_COMMON_NUM_QUEUES: return vp->num_queues;
	case VIRTIO_PCI_COMMON_DEVICE_STATUS: return vp->status;
	case VIRTIO_PCI_COMMON_CONFIG_GENERATION: return vp->config_generation;
	case VIRTIO_PCI_COMMON_QUEUE_SELECT: return vp->queue_select;
	/* An unavailable queue reads size 0 (4.1.4.3.2). */
	case VIRTIO_PCI_COMMON_QUEUE_SIZE: return q ? q->vq.size : 0;
	case VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR: return q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_QUEUE_ENABLE: return q ? q->vq.enabled : 0;
	case VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF: return q ? q->index : 0;
	case VIRTIO_PCI_COMMON_QUEUE_DESC: return q ? q->vq.desc_gpa : 0;
	case VIRTIO_PCI_COMMON_QUEUE_DRIVER: return q ? q->vq.avail_gpa : 0;
	case VIRTIO_PCI_COMMON_QUEUE_DEVICE: return q ? q->vq.used_gpa : 0;
	default: return 0; /* queue_notify_data, queue_reset: features Ember does not offer */
	}
}

bool virtio_pci_vector_ok(const struct virtio_pci *vp, uint16_t vector)
{
	return vector == VIRTIO_MSI_NO_VECTOR || vector < pci_msix_vectors(vp->pci);
}

/* 4.1.4.3.1: a vector the device cannot use reads back as NO_VECTOR. */
static uint16_t checked_vector(const struct virtio_pci *vp, uint64_t value)
{
	return virtio_pci_vector_ok(vp, (uint16_t)value) ? (uint16_t)value : VIRTIO_MSI_NO_VECTOR;
}

static bool features_acceptable(const struct virtio_pci *vp)
{
	return !(vp->driver_features & ~vp->device_features) &&
	       (vp->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

static void activate(struct virtio_pci *vp)
{
	struct error e = { { 0 } };
	if (vp->ops->activate && vp->ops->activate(vp->opaque, vp->driver_features, &e) < 0) {
		virtio_pci_needs_reset_locked(vp, "activation failed: %s", e.msg);
		return;
	}
	vp->live = true;
	/* Buffers made available before DRIVER_OK may have been kicked while the device was not
	 * listening: look at every queue once. */
	for (uint16_t i = 0; i < vp->num_queues; i++)
		if (vp->queues[i].vq.enabled)
			virtio_pci_kick(&vp->queues[i]);
}

/* 3.1.1: the driver only adds bits (0 resets); FEATURES_OK sticks only for acceptable features,
 * DRIVER_OK only after FEATURES_OK and while no reset is needed. */
static void write_status(struct virtio_pci *vp, uint8_t value)
{
	if (value == 0) {
		virtio_pci_reset_locked(vp);
		return;
	}
	uint8_t added = value & STATUS_DRIVER_SETTABLE & ~vp->status;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(vp))
		added &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	uint8_t after = vp->status | added;
	if ((added & VIRTIO_STATUS_DRIVER_OK) &&
	    (!(after & VIRTIO_STATUS_FEATURES_OK) || (after & VIRTIO_STATUS_DEVICE_NEEDS_RESET)))
		added &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	vp->status |= added;
	if (added & VIRTIO_STATUS_FAILED)
		vp->live = false; /* the driver gave up on the device */
	else if (added & VIRTIO_STATUS_DRIVER_OK)
		activate(vp);
}

static void enable_queue(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	if (q->vq.enabled || (vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return;
	if (!(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_pci_needs_reset_locked(vp, "queue %u enabled before FEATURES_OK", q->index);
		return;
	}
	struct error e;
	if (virtqueue_enable(&q->vq, vp->mem, vp->driver_features, &e) < 0) {
		virtio_pci_needs_reset_locked(vp, "queue %u: %s", q->index, e.msg);
		return;
	}
	if (vp->live)
		virtio_pci_kick(q);
}

static void set_size(struct virtio_pci *vp, struct virtio_pci_queue *q, uint16_t size)
{
	struct error e;
	if (virtqueue_set_size(&q->vq, size, &e) < 0)
		virtio_pci_needs_reset_locked(vp, "queue %u: %s", q->index, e.msg);
}

static void merge(uint64_t *field, unsigned shift, uint32_t size, uint64_t value)
{
	if (size == 8)
		*field = value;
	else
		*field = (*field & ~(0xffffffffull << shift)) | (value << shift);
}

static void write_queue_address(struct virtio_pci *vp, int field, unsigned shift, uint32_t size,
				uint64_t value)
{
	struct virtio_pci_queue *q = selected(vp);
	if (!q || q->vq.enabled)
		return; /* 4.1.4.3.2: not while the queue is enabled */
	uint64_t *where = field == VIRTIO_PCI_COMMON_QUEUE_DESC ? &q->vq.desc_gpa :
			  field == VIRTIO_PCI_COMMON_QUEUE_DRIVER ? &q->vq.avail_gpa :
								   &q->vq.used_gpa;
	merge(where, shift, size, value);
}

static void write_field(struct virtio_pci *vp, int field, unsigned shift, uint32_t size,
			uint64_t value)
{
	struct virtio_pci_queue *q = selected(vp);
	switch (field) {
	case VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT:
		vp->device_feature_select = (uint32_t)value;
		break;
	case VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT:
		vp->driver_feature_select = (uint32_t)value;
		break;
	case VIRTIO_PCI_COMMON_DRIVER_FEATURE:
		/* Frozen once FEATURES_OK is set (3.1.1 step 5). */
		if (!(vp->status & VIRTIO_STATUS_FEATURES_OK) && vp->driver_feature_select < 2)
			merge(&vp->driver_features, 32 * vp->driver_feature_select, 4, value);
		break;
	case VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR:
		vp->config_msix_vector = checked_vector(vp, value);
		break;
	case VIRTIO_PCI_COMMON_DEVICE_STATUS:
		write_status(vp, (uint8_t)value);
		break;
	case VIRTIO_PCI_COMMON_QUEUE_SELECT:
		vp->queue_select = (uint16_t)value;
		break;
	case VIRTIO_PCI_COMMON_QUEUE_SIZE:
		if (q)
			set_size(vp, q, (uint16_t)value);
		break;
	case VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR:
		if (q)
			q->msix_vector = checked_vector(vp, value);
		break;
	case VIRTIO_PCI_COMMON_QUEUE_ENABLE:
		/* Writing 0 is not allowed without VIRTIO_F_RING_RESET: ignored. */
		if (q && value == 1)
			enable_queue(vp, q);
		break;
	case VIRTIO_PCI_COMMON_QUEUE_DESC:
	case VIRTIO_PCI_COMMON_QUEUE_DRIVER:
	case VIRTIO_PCI_COMMON_QUEUE_DEVICE:
		write_queue_address(vp, field, shift, size, value);
		break;
	default:
		break; /* read-only fields */
	}
}

void virtio_pci_common_io(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t size,
			  bool is_write)
{
	unsigned shift;
	int field = field_of(offset, size, &shift);
	if (!is_write) {
		uint64_t v = field < 0 ? 0 : read_field(vp, field) >> shift;
		memcpy(data, &v, size); /* little-endian host: the low `size` bytes */
		return;
	}
	if (field < 0)
		return;
	uint64_t v = 0;
	memcpy(&v, data, size);
	write_field(vp, field, shift, size, v);
}

void virtio_pci_reset_locked(struct virtio_pci *vp)
{
	vp->status = 0;
	vp->live = false;
	vp->error_reported = false;
	vp->driver_features = 0;
	vp->device_feature_select = vp->driver_feature_select = 0;
	vp->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
	vp->queue_select = 0;
	atomic_store(&vp->isr, 0);
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		virtqueue_reset(&vp->queues[i].vq);
		vp->queues[i].msix_vector = VIRTIO_MSI_NO_VECTOR;
	}
	if (vp->ops->reset)
		vp->ops->reset(vp->opaque);
}
