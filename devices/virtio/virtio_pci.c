/* Virtio over PCI: the PCI function (IDs, capabilities, BAR 0, MSI-X), the BAR's regions, kicks
 * (ioeventfds bound to the notify addresses, read on the device's io_uring loop), interrupts and
 * DEVICE_NEEDS_RESET. The common configuration registers are in virtio_pci_common.c. */
#include "virtio_pci_internal.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Feature bits 24-40 belong to the transport and the ring (virtio v1.2, 6). */
#define TRANSPORT_FEATURE_BITS (((1ULL << 41) - 1) & ~((1ULL << 24) - 1))
/* Width of a virtio-pci notification write (a le16 queue index, 4.1.5.2). */
#define NOTIFY_WRITE_SIZE 2

/* ---- Interrupts and errors ---- */

void virtio_pci_interrupt_locked(struct virtio_pci *vp, uint16_t vector, unsigned isr_bit)
{
	atomic_fetch_or(&vp->isr, isr_bit);
	if (vector != VIRTIO_MSI_NO_VECTOR)
		pci_msix_notify(vp->pci, vector);
}

void virtio_pci_needs_reset_locked(struct virtio_pci *vp, const char *fmt, ...)
{
	if (!vp->error_reported) {
		vp->error_reported = true;
		char msg[sizeof(((struct error *)0)->msg)];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fprintf(stderr, "ember: %s: %s; the device needs a reset\n", vp->ops->name, msg);
	}
	bool was_set = vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	vp->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	vp->live = false;
	/* 2.1.2: after DRIVER_OK the device must tell the driver with a configuration change. */
	if (!was_set && (vp->status & VIRTIO_STATUS_DRIVER_OK))
		virtio_pci_interrupt_locked(vp, vp->config_msix_vector, VIRTIO_PCI_ISR_CONFIG);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	vp->config_generation++;
	if (vp->live)
		virtio_pci_interrupt_locked(vp, vp->config_msix_vector, VIRTIO_PCI_ISR_CONFIG);
	pthread_mutex_unlock(&vp->lock);
}

/* ---- Kicks ---- */

void virtio_pci_kick(struct virtio_pci_queue *q)
{
	uint64_t one = 1;
	if (write(q->kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a kick is pending anyway */
	}
}

void virtio_pci_process_queue(struct virtio_pci *vp, uint16_t index)
{
	if (index >= vp->num_queues)
		return;
	struct virtio_pci_queue *q = &vp->queues[index];
	pthread_mutex_lock(&vp->lock);
	if (vp->live && q->vq.enabled) {
		struct error e = { { 0 } };
		int rc = vp->ops->queue_notify(vp->opaque, &q->vq, index, &e);
		if (rc < 0 || q->vq.broken)
			virtio_pci_needs_reset_locked(vp, "queue %u: %s", index,
						      e.msg[0] ? e.msg : "device error");
		else if (virtqueue_should_notify(&q->vq, vp->mem))
			virtio_pci_interrupt_locked(vp, q->msix_vector, VIRTIO_PCI_ISR_QUEUE);
	}
	pthread_mutex_unlock(&vp->lock);
}

static void arm_kick(struct virtio_pci_queue *q)
{
	event_loop_read(q->loop, &q->kick_op, q->kick_fd, &q->kick_count, sizeof(q->kick_count));
}

static void on_kick(struct ev_op *op, int res)
{
	struct virtio_pci_queue *q = container_of(op, struct virtio_pci_queue, kick_op);
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		/* -ECANCELED: the loop is going away. Anything else would repeat forever. */
		if (res != -ECANCELED)
			fprintf(stderr, "ember: %s: queue %u: kick read failed: %s\n",
				q->vp->ops->name, q->index, strerror(-res));
		return;
	}
	if (res > 0)
		virtio_pci_process_queue(q->vp, q->index);
	arm_kick(q);
}

int virtio_pci_start(struct virtio_pci *vp, struct event_loop *loop, struct error *e)
{
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		q->loop = loop;
		q->kick_op.done = on_kick;
		if (event_loop_read(loop, &q->kick_op, q->kick_fd, &q->kick_count,
				    sizeof(q->kick_count)) < 0)
			return error_set(e, "%s: cannot queue the kick read of queue %u",
					 vp->ops->name, i);
	}
	return 0;
}

/* ---- Notify addresses (KVM_IOEVENTFD) ---- */

static int ioeventfd(struct virtio_pci *vp, struct virtio_pci_queue *q, uint64_t gpa, bool assign)
{
	if (vp->vm_fd < 0)
		return 0;
	struct kvm_ioeventfd io = { .addr = gpa, .len = NOTIFY_WRITE_SIZE, .fd = q->kick_fd,
				    .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN };
	return ioctl(vp->vm_fd, KVM_IOEVENTFD, &io);
}

/* Moves every queue's ioeventfd to the BAR's new place (or drops them). vp->lock held. */
static void bind_notify_addresses(struct virtio_pci *vp, uint64_t bar_gpa)
{
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		if (q->ioeventfd_gpa)
			ioeventfd(vp, q, q->ioeventfd_gpa, false);
		q->ioeventfd_gpa = 0;
		if (bar_gpa == PCI_BAR_UNMAPPED)
			continue;
		uint64_t gpa = bar_gpa + VIRTIO_PCI_NOTIFY_OFFSET + VIRTIO_PCI_NOTIFY_MULTIPLIER * i;
		if (ioeventfd(vp, q, gpa, true) == 0)
			q->ioeventfd_gpa = gpa;
		else if (!vp->ioeventfd_warned++)
			/* e.g. EEXIST: the guest overlapped two BARs. Kicks then take the slow path
			 * through the notify region's handler. */
			fprintf(stderr, "ember: %s: KVM_IOEVENTFD at 0x%llx: %s\n", vp->ops->name,
				(unsigned long long)gpa, strerror(errno));
	}
}

static void on_bar_moved(void *opaque, unsigned bar, uint64_t gpa)
{
	struct virtio_pci *vp = opaque;
	if (bar != VIRTIO_PCI_BAR)
		return;
	pthread_mutex_lock(&vp->lock);
	vp->bar_gpa = gpa;
	bind_notify_addresses(vp, gpa);
	pthread_mutex_unlock(&vp->lock);
}

/* ---- BAR 0 ---- */

static void device_cfg_io(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t size,
			  bool is_write)
{
	uint32_t cfg_size = vp->ops->config_size;
	if (offset >= cfg_size || size > cfg_size - offset)
		return; /* reads stay zero */
	if (!is_write)
		vp->ops->config_read(vp->opaque, offset, data, size);
	else if (vp->ops->config_write)
		vp->ops->config_write(vp->opaque, offset, data, size);
}

void virtio_pci_bar_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
		       bool is_write)
{
	struct virtio_pci *vp = opaque;
	uint32_t region = (uint32_t)(offset / VIRTIO_PCI_REGION_SIZE) * VIRTIO_PCI_REGION_SIZE;
	uint32_t at = (uint32_t)(offset % VIRTIO_PCI_REGION_SIZE);
	if (!is_write)
		memset(data, 0, size);
	switch (region) {
	case VIRTIO_PCI_COMMON_OFFSET:
		pthread_mutex_lock(&vp->lock);
		virtio_pci_common_io(vp, at, data, size, is_write);
		pthread_mutex_unlock(&vp->lock);
		break;
	case VIRTIO_PCI_ISR_OFFSET:
		/* 4.1.4.5: reading clears. */
		if (!is_write && at == 0)
			data[0] = (uint8_t)atomic_exchange(&vp->isr, 0);
		break;
	case VIRTIO_PCI_DEVICE_OFFSET:
		pthread_mutex_lock(&vp->lock);
		device_cfg_io(vp, at, data, size, is_write);
		pthread_mutex_unlock(&vp->lock);
		break;
	case VIRTIO_PCI_NOTIFY_OFFSET:
		/* Reached only when no ioeventfd caught the write. */
		if (is_write && at % VIRTIO_PCI_NOTIFY_MULTIPLIER == 0 &&
		    at / VIRTIO_PCI_NOTIFY_MULTIPLIER < vp->num_queues)
			virtio_pci_kick(&vp->queues[at / VIRTIO_PCI_NOTIFY_MULTIPLIER]);
		break;
	default:
		break;
	}
}

/* ---- VIRTIO_PCI_CAP_PCI_CFG: BAR access through configuration space (4.1.4.9) ---- */

static void pci_cfg_window(void *opaque, uint32_t offset, uint8_t *data, uint32_t size,
			   bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct pci_device *dev = vp->pci;
	unsigned cap = vp->pci_cfg_cap;
	uint8_t bar = dev->cfg[cap + VIRTIO_PCI_CAPF_BAR];
	uint32_t off = pci_cfg_read32(dev, cap + VIRTIO_PCI_CAPF_OFFSET);
	uint32_t len = pci_cfg_read32(dev, cap + VIRTIO_PCI_CAPF_LENGTH);
	uint8_t *window = &dev->cfg[cap + VIRTIO_PCI_CAP_SIZE];
	/* The driver's bar/offset/length are checked like any other guest value: one aligned
	 * access of 1, 2 or 4 bytes inside BAR 0, or nothing. */
	if (bar != VIRTIO_PCI_BAR || (len != 1 && len != 2 && len != 4) || (off & (len - 1)) ||
	    off >= VIRTIO_PCI_BAR_SIZE || len > VIRTIO_PCI_BAR_SIZE - off)
		return;
	if (is_write) {
		pci_bar_access(dev, bar, off, window, len, true);
		return;
	}
	pci_bar_access(dev, bar, off, window, len, false);
	memcpy(data, &dev->cfg[offset], size);
}

/* ---- The PCI function ---- */

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length,
			  uint8_t cap_len, uint32_t extra, const uint8_t *wmask, uint8_t *at,
			  struct error *e)
{
	uint8_t body[VIRTIO_PCI_NOTIFY_CAP_SIZE] = { 0 };
	body[VIRTIO_PCI_CAPF_VNDR] = PCI_CAP_ID_VNDR;
	body[VIRTIO_PCI_CAPF_LEN] = cap_len;
	body[VIRTIO_PCI_CAPF_CFG_TYPE] = type;
	body[VIRTIO_PCI_CAPF_BAR] = VIRTIO_PCI_BAR;
	memcpy(&body[VIRTIO_PCI_CAPF_OFFSET], &offset, 4);
	memcpy(&body[VIRTIO_PCI_CAPF_LENGTH], &length, 4);
	memcpy(&body[VIRTIO_PCI_CAP_SIZE], &extra, 4);
	uint8_t unused;
	return pci_device_add_capability(vp->pci, body, cap_len, wmask, at ? at : &unused, e);
}

static int add_capabilities(struct virtio_pci *vp, struct error *e)
{
	const struct virtio_device_ops *ops = vp->ops;
	uint8_t window_mask[VIRTIO_PCI_NOTIFY_CAP_SIZE] = { 0 };
	window_mask[VIRTIO_PCI_CAPF_BAR] = 0xff;
	memset(&window_mask[VIRTIO_PCI_CAPF_OFFSET], 0xff, 12); /* offset, length, data */
	uint32_t notify_len = (uint32_t)vp->num_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER;
	if (add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFFSET,
			   VIRTIO_PCI_COMMON_CFG_SIZE, VIRTIO_PCI_CAP_SIZE, 0, NULL, NULL, e) < 0 ||
	    add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET, notify_len,
			   VIRTIO_PCI_NOTIFY_CAP_SIZE, VIRTIO_PCI_NOTIFY_MULTIPLIER, NULL, NULL,
			   e) < 0 ||
	    add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFFSET, 1,
			   VIRTIO_PCI_CAP_SIZE, 0, NULL, NULL, e) < 0 ||
	    (ops->config_size &&
	     add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFFSET,
			    ops->config_size, VIRTIO_PCI_CAP_SIZE, 0, NULL, NULL, e) < 0))
		return -1;
	if (add_virtio_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, VIRTIO_PCI_NOTIFY_CAP_SIZE, 0,
			   window_mask, &vp->pci_cfg_cap, e) < 0)
		return -1;
	pci_device_set_config_hook(vp->pci, (uint16_t)(vp->pci_cfg_cap + VIRTIO_PCI_CAP_SIZE),
				   (uint16_t)(vp->pci_cfg_cap + VIRTIO_PCI_NOTIFY_CAP_SIZE));
	return pci_msix_add(vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE_OFFSET,
			    VIRTIO_PCI_MSIX_PBA_OFFSET, vp->num_queues + 1u, e);
}

static int check_ops(const struct virtio_device_ops *ops, struct error *e)
{
	uint16_t m = ops->queue_max_size;
	if (ops->num_queues < 1 || ops->num_queues > VIRTIO_PCI_MAX_QUEUES)
		return error_set(e, "%u queues (1-%u)", ops->num_queues, VIRTIO_PCI_MAX_QUEUES);
	if (!m || (m & (m - 1)) || m > VIRTQ_MAX_SIZE)
		return error_set(e, "queue size %u is not a power of 2 up to %u", m, VIRTQ_MAX_SIZE);
	if (ops->config_size > VIRTIO_PCI_DEVICE_CFG_MAX || (ops->config_size && !ops->config_read))
		return error_set(e, "bad device configuration (%u bytes)", ops->config_size);
	if (!ops->queue_notify)
		return error_set(e, "no queue_notify");
	return 0;
}

static int create_queues(struct virtio_pci *vp, struct error *e)
{
	vp->queues = calloc(vp->num_queues, sizeof(*vp->queues));
	if (!vp->queues)
		return error_set(e, "out of memory");
	for (uint16_t i = 0; i < vp->num_queues; i++)
		vp->queues[i].kick_fd = -1;
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		virtqueue_init(&q->vq, vp->ops->queue_max_size);
		q->vp = vp;
		q->index = i;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return error_errno(e, "eventfd for queue %u", i);
	}
	return 0;
}

static int create_function(struct virtio_pci *vp, struct pci_bus *bus, struct error *e)
{
	const struct virtio_device_ops *ops = vp->ops;
	struct pci_device_info info = {
		.name = ops->name,
		.vendor_id = VIRTIO_PCI_VENDOR_ID,
		.device_id = (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + ops->device_id),
		.subsystem_vendor_id = VIRTIO_PCI_SUBSYS_VENDOR_ID,
		.subsystem_id = ops->device_id,
		.revision = VIRTIO_PCI_MODERN_REVISION,
		.class_code = ops->class_code,
		.opaque = vp,
		.bar_moved = on_bar_moved,
		.config_hook = pci_cfg_window,
	};
	vp->pci = pci_device_create(bus, &info, e);
	if (!vp->pci)
		return -1;
	if (pci_device_add_bar(vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, true,
			       virtio_pci_bar_io, vp, e) < 0 ||
	    add_capabilities(vp, e) < 0)
		return -1;
	return pci_device_plug(vp->pci, e);
}

struct virtio_pci *virtio_pci_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     const struct virtio_device_ops *ops, void *opaque,
				     struct error *e)
{
	if (check_ops(ops, e) < 0) {
		error_prefix(e, "%s", ops->name);
		return NULL;
	}
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	if (!vp) {
		error_set(e, "%s: out of memory", ops->name);
		return NULL;
	}
	pthread_mutex_init(&vp->lock, NULL);
	vp->ops = ops;
	vp->opaque = opaque;
	vp->mem = mem;
	vp->vm_fd = vm_fd;
	vp->num_queues = ops->num_queues;
	vp->bar_gpa = PCI_BAR_UNMAPPED;
	uint64_t own = ops->features ? ops->features(opaque) : 0;
	vp->device_features = (own & ~TRANSPORT_FEATURE_BITS) | VIRTIO_PCI_TRANSPORT_FEATURES;
	if (create_queues(vp, e) < 0 || create_function(vp, bus, e) < 0) {
		error_prefix(e, "%s", ops->name);
		virtio_pci_destroy(vp);
		return NULL;
	}
	pthread_mutex_lock(&vp->lock);
	virtio_pci_reset_locked(vp);
	pthread_mutex_unlock(&vp->lock);
	return vp;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	pci_device_destroy(vp->pci); /* no more guest accesses or bar_moved calls */
	for (uint16_t i = 0; vp->queues && i < vp->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		if (q->ioeventfd_gpa)
			ioeventfd(vp, q, q->ioeventfd_gpa, false);
		if (q->kick_fd >= 0)
			close(q->kick_fd);
	}
	free(vp->queues);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}
