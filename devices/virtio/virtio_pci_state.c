/* Snapshots of the virtio-pci transport: the registers, each queue (virtqueue_state plus its
 * MSI-X vector), then the device's own record. Restore trusts nothing in the record: it is
 * checked as strictly as guest writes are, and a record that fails leaves the device reset. */
#include "virtio_pci_internal.h"

#include <string.h>

size_t virtio_pci_state_size(const struct virtio_pci *vp)
{
	return sizeof(struct virtio_pci_state) +
	       (size_t)vp->num_queues * sizeof(struct virtio_pci_queue_state);
}

int virtio_pci_save(struct virtio_pci *vp, void *buf, size_t cap, size_t *len, struct error *e)
{
	size_t need = virtio_pci_state_size(vp);
	if (cap < need)
		return error_set(e, "%s: snapshot needs %zu bytes, %zu given", vp->ops->name, need,
				 cap);
	pthread_mutex_lock(&vp->lock);
	struct virtio_pci_state s = {
		.device_features = vp->device_features,
		.driver_features = vp->driver_features,
		.device_feature_select = vp->device_feature_select,
		.driver_feature_select = vp->driver_feature_select,
		.config_msix_vector = vp->config_msix_vector,
		.queue_select = vp->queue_select,
		.num_queues = vp->num_queues,
		.status = vp->status,
		.config_generation = vp->config_generation,
		.isr = (uint8_t)atomic_load(&vp->isr),
		.live = vp->live,
	};
	uint8_t *p = buf;
	memcpy(p, &s, sizeof(s));
	p += sizeof(s);
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		struct virtio_pci_queue_state qs = { .msix_vector = vp->queues[i].msix_vector };
		virtqueue_save(&vp->queues[i].vq, &qs.vq);
		memcpy(p, &qs, sizeof(qs));
		p += sizeof(qs);
	}
	size_t dev_len = 0;
	int rc = 0;
	if (vp->ops->save)
		rc = vp->ops->save(vp->opaque, p, cap - need, &dev_len, e);
	pthread_mutex_unlock(&vp->lock);
	if (rc < 0)
		return error_prefix(e, "%s", vp->ops->name);
	*len = need + dev_len;
	return 0;
}

static int check_header(const struct virtio_pci *vp, const struct virtio_pci_state *s,
			struct error *e)
{
	const uint8_t known = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK |
			      VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED;
	if (s->num_queues != vp->num_queues)
		return error_set(e, "snapshot has %u queues, the device %u", s->num_queues,
				 vp->num_queues);
	if (s->device_features != vp->device_features)
		return error_set(e, "snapshot offers features 0x%llx, the device 0x%llx",
				 (unsigned long long)s->device_features,
				 (unsigned long long)vp->device_features);
	if (s->driver_features & ~s->device_features)
		return error_set(e, "snapshot accepted features that were not offered");
	if (s->status & ~known)
		return error_set(e, "snapshot status 0x%x has unknown bits", s->status);
	bool should_be_live = (s->status & VIRTIO_STATUS_DRIVER_OK) &&
			      !(s->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
	if (s->live && !should_be_live)
		return error_set(e, "snapshot is live with status 0x%x", s->status);
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(s->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return error_set(e, "snapshot has FEATURES_OK without VERSION_1");
	if (!virtio_pci_vector_ok(vp, s->config_msix_vector))
		return error_set(e, "snapshot config vector %u is out of range",
				 s->config_msix_vector);
	if (s->isr & ~(VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG))
		return error_set(e, "snapshot ISR 0x%x has unknown bits", s->isr);
	return 0;
}

static int load(struct virtio_pci *vp, const uint8_t *p, size_t len, struct error *e)
{
	size_t need = virtio_pci_state_size(vp);
	if (len < need)
		return error_set(e, "snapshot is %zu bytes, at least %zu expected", len, need);
	struct virtio_pci_state s;
	memcpy(&s, p, sizeof(s));
	if (check_header(vp, &s, e) < 0)
		return -1;
	const uint8_t *q = p + sizeof(s);
	for (uint16_t i = 0; i < vp->num_queues; i++, q += sizeof(struct virtio_pci_queue_state)) {
		struct virtio_pci_queue_state qs;
		memcpy(&qs, q, sizeof(qs));
		if (!virtio_pci_vector_ok(vp, qs.msix_vector))
			return error_set(e, "queue %u: vector %u is out of range", i, qs.msix_vector);
		if (virtqueue_restore(&vp->queues[i].vq, &qs.vq, vp->mem, e) < 0)
			return error_prefix(e, "queue %u", i);
		vp->queues[i].msix_vector = qs.msix_vector;
	}
	vp->driver_features = s.driver_features;
	vp->device_feature_select = s.device_feature_select;
	vp->driver_feature_select = s.driver_feature_select;
	vp->config_msix_vector = s.config_msix_vector;
	vp->queue_select = s.queue_select;
	vp->status = s.status;
	vp->config_generation = s.config_generation;
	atomic_store(&vp->isr, s.isr);
	vp->live = s.live;
	if (vp->ops->restore)
		return vp->ops->restore(vp->opaque, p + need, len - need, e);
	return len == need ? 0 : error_set(e, "%zu unexpected bytes after the snapshot", len - need);
}

int virtio_pci_restore(struct virtio_pci *vp, const void *buf, size_t len, struct error *e)
{
	pthread_mutex_lock(&vp->lock);
	virtio_pci_reset_locked(vp);
	int rc = load(vp, buf, len, e);
	if (rc < 0)
		virtio_pci_reset_locked(vp);
	else
		for (uint16_t i = 0; vp->live && i < vp->num_queues; i++)
			if (vp->queues[i].vq.enabled)
				virtio_pci_kick(&vp->queues[i]);
	pthread_mutex_unlock(&vp->lock);
	return rc < 0 ? error_prefix(e, "%s: restore", vp->ops->name) : 0;
}
