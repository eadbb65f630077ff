/* virtio-blk: the device model (configuration space, features, activation, reset, snapshots)
 * and its life cycle. Requests and the queue threads are in blk_queue.c, the image in
 * blk_image.c. */
#include "blk_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- Configuration and features ---- */

static uint8_t log2_u32(uint32_t v)
{
	uint8_t n = 0;
	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static void build_config(struct virtio_blk *blk)
{
	const struct blk_image *img = &blk->img;
	struct virtio_blk_config *c = &blk->config;
	memset(c, 0, sizeof(*c));
	c->capacity = img->capacity;
	c->size_max = BLK_SIZE_MAX;
	c->seg_max = BLK_SEG_MAX;
	c->blk_size = img->logical_block;
	c->topology.physical_block_exp = log2_u32(img->physical_block / img->logical_block);
	c->topology.min_io_size = (uint16_t)(img->physical_block / img->logical_block);
	c->num_queues = blk->nqueues;
	if (!img->readonly) {
		uint32_t granule = img->physical_block / VIRTIO_BLK_SECTOR_SIZE;
		c->max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
		c->max_discard_seg = BLK_MAX_DISCARD_SEG;
		c->discard_sector_alignment = granule;
		c->max_write_zeroes_sectors = BLK_MAX_DISCARD_SECTORS;
		c->max_write_zeroes_seg = BLK_MAX_DISCARD_SEG;
		c->write_zeroes_may_unmap = 1;
	}
}

static uint64_t blk_features(void *opaque)
{
	struct virtio_blk *blk = opaque;
	uint64_t f = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
		     VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_MQ);
	if (blk->img.readonly)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		f |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static void blk_config_read(void *opaque, uint32_t offset, uint8_t *data, uint32_t size)
{
	struct virtio_blk *blk = opaque;
	memcpy(data, (const uint8_t *)&blk->config + offset, size); /* bounds checked by caller */
}

static int blk_activate(void *opaque, uint64_t features, struct error *e)
{
	struct virtio_blk *blk = opaque;
	(void)e;
	blk->features = features;
	return 0;
}

static void blk_reset(void *opaque)
{
	struct virtio_blk *blk = opaque;
	blk->features = 0;
	blk->epoch++; /* requests in flight now belong to a driver that is gone */
	blk->outstanding = 0;
}

/* ---- Snapshots: the negotiated features, and what the disk must be to take them back ---- */

struct blk_state {
	uint64_t capacity;
	uint64_t features;
	uint16_t num_queues;
	uint8_t readonly;
	uint8_t reserved[5];
};

static int blk_save(void *opaque, void *buf, size_t cap, size_t *len, struct error *e)
{
	struct virtio_blk *blk = opaque;
	/* Requests on the host would be lost: their chains are in no record. */
	if (blk->outstanding)
		return error_set(e, "%u requests are in flight (pause the vCPUs and let the disk "
				    "drain first)", blk->outstanding);
	if (cap < sizeof(struct blk_state))
		return error_set(e, "no room for the device state");
	struct blk_state st = { .capacity = blk->img.capacity, .features = blk->features,
				.num_queues = blk->nqueues, .readonly = blk->img.readonly };
	memcpy(buf, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

static int blk_restore(void *opaque, const void *buf, size_t len, struct error *e)
{
	struct virtio_blk *blk = opaque;
	struct blk_state st;
	if (len != sizeof(st))
		return error_set(e, "device state is %zu bytes, expected %zu", len, sizeof(st));
	memcpy(&st, buf, sizeof(st));
	if (st.capacity != blk->img.capacity)
		return error_set(e, "the snapshot's disk has %llu sectors, this one %llu",
				 (unsigned long long)st.capacity,
				 (unsigned long long)blk->img.capacity);
	if (st.num_queues != blk->nqueues || st.readonly != blk->img.readonly)
		return error_set(e, "the snapshot's disk had %u queues%s, this one %u%s",
				 st.num_queues, st.readonly ? " (read-only)" : "", blk->nqueues,
				 blk->img.readonly ? " (read-only)" : "");
	/* Transport bits come and go with the transport; the device's must be ones it offers. */
	uint64_t own = st.features & ((1ull << 24) - 1);
	if (own & ~blk_features(blk))
		return error_set(e, "features 0x%llx were never offered",
				 (unsigned long long)own);
	blk->features = st.features;
	return 0;
}

/* ---- Life cycle ---- */

static void set_name(struct virtio_blk *blk, const char *path)
{
	const char *base = strrchr(path, '/');
	snprintf(blk->name, sizeof(blk->name), "virtio-blk %.40s", base && base[1] ? base + 1 : path);
}

static void init_ops(struct virtio_blk *blk)
{
	blk->ops = (struct virtio_device_ops){
		.name = blk->name,
		.device_id = VIRTIO_ID_BLOCK,
		.class_code = 0x018000, /* mass storage, other */
		.num_queues = blk->nqueues,
		.queue_max_size = BLK_QUEUE_SIZE,
		.config_size = sizeof(struct virtio_blk_config),
		.features = blk_features,
		.config_read = blk_config_read,
		.queue_notify = blk_queue_notify,
		.activate = blk_activate,
		.reset = blk_reset,
		.save = blk_save,
		.restore = blk_restore,
	};
}

struct virtio_blk *virtio_blk_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     const struct virtio_blk_options *opt,
				     enum virtio_blk_engine engine, struct error *e)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	if (!blk) {
		error_set(e, "virtio-blk: out of memory");
		return NULL;
	}
	blk->mem = mem;
	blk->opt = *opt;
	blk->engine = engine;
	blk->poll_ns = (uint64_t)opt->poll_us * 1000;
	blk->nqueues = (uint16_t)(opt->queues ? opt->queues : 1);
	blk->img.fd = blk->img.buffered_fd = -1;
	blk->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	set_name(blk, opt->path);
	init_ops(blk);
	if (blk->stop_fd < 0) {
		error_errno(e, "%s: eventfd", blk->name);
		goto fail;
	}
	if (blk_image_open(&blk->img, opt, e) < 0)
		goto fail;
	build_config(blk);
	blk->queues = calloc(blk->nqueues, sizeof(*blk->queues));
	if (!blk->queues) {
		error_set(e, "%s: out of memory", blk->name);
		goto fail;
	}
	for (uint16_t i = 0; i < blk->nqueues; i++)
		if (blk_queue_init(blk, i, e) < 0)
			goto fail;
	if (!(blk->vp = virtio_pci_create(bus, vm_fd, mem, &blk->ops, blk, e)))
		goto fail;
	for (uint16_t i = 0; i < blk->nqueues; i++)
		if (blk_queue_start(blk, i, e) < 0)
			goto fail;
	return blk;
fail:
	virtio_blk_destroy(blk);
	return NULL;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	uint64_t one = 1;
	if (blk->stop_fd >= 0 && write(blk->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for a fresh eventfd */
	}
	for (uint16_t i = 0; blk->queues && i < blk->nqueues; i++)
		if (blk->queues[i].started)
			pthread_join(blk->queues[i].thread, NULL);
	/* The rings first: their pending kick reads point into the transport's queues. */
	for (uint16_t i = 0; blk->queues && i < blk->nqueues; i++) {
		event_loop_destroy(&blk->queues[i].loop);
		free(blk->queues[i].reqs);
	}
	virtio_pci_destroy(blk->vp);
	free(blk->queues);
	blk_image_close(&blk->img);
	if (blk->stop_fd >= 0)
		close(blk->stop_fd);
	free(blk);
}

struct virtio_pci *virtio_blk_transport(struct virtio_blk *blk)
{
	return blk->vp;
}

uint64_t virtio_blk_capacity(const struct virtio_blk *blk)
{
	return blk->img.capacity;
}

void virtio_blk_get_stats(struct virtio_blk *blk, struct virtio_blk_stats *s)
{
	struct blk_counters *c = &blk->counters;
	*s = (struct virtio_blk_stats){
		.requests = atomic_load(&c->requests),
		.read_bytes = atomic_load(&c->read_bytes),
		.write_bytes = atomic_load(&c->write_bytes),
		.flushes = atomic_load(&c->flushes),
		.discards = atomic_load(&c->discards),
		.write_zeroes = atomic_load(&c->write_zeroes),
		.io_errors = atomic_load(&c->io_errors),
		.unsupported = atomic_load(&c->unsupported),
		.reads = atomic_load(&c->reads),
		.writes = atomic_load(&c->writes),
		.host_errors = atomic_load(&c->host_errors),
		.kicks = atomic_load(&c->kicks),
	};
}
