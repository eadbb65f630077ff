/* Split virtqueue, device side: see virtqueue.h. Spec references are to virtio v1.2. */
#include "virtqueue.h"

#include <endian.h>
#include <string.h>

/* ---- Ring access ----
 * The rings are resolved through guest_mem_ptr (whole part, every call) and read with single
 * loads: the guest can rewrite them at any moment, so each value is fetched once into a local
 * and only the local is validated and used. */

static uint16_t load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

/* The driver publishes avail->idx after writing the ring entries and descriptors (2.7.13);
 * acquire makes those writes visible to the reads that follow. */
static uint16_t load16_acquire(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* used->idx is published after the used element (2.7.8): release orders the two. */
static void store16_release(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

/* Avail ring as 16-bit words: [0] flags, [1] idx, [2 + i] ring[i], [2 + size] used_event. */
static uint16_t *avail_ring(const struct virtqueue *vq, const struct guest_mem *gm)
{
	return guest_mem_ptr(gm, vq->avail_gpa, virtq_avail_bytes(vq->size));
}

/* Used ring: flags at byte 0, idx at 2, element i at 4 + 8 i, avail_event after the last. */
static uint8_t *used_ring(const struct virtqueue *vq, const struct guest_mem *gm)
{
	return guest_mem_ptr(gm, vq->used_gpa, virtq_used_bytes(vq->size));
}

static uint16_t *used_word(uint8_t *used, uint64_t byte_offset)
{
	return (uint16_t *)(void *)(used + byte_offset);
}

/* One descriptor, copied out of guest memory exactly once. Indirect tables have no alignment
 * requirement, hence memcpy; the compiler barrier keeps the compiler from re-reading guest
 * memory in place of the validated copy. */
static void read_desc(const uint8_t *table, uint32_t index, struct virtq_desc *d)
{
	memcpy(d, table + 16ull * index, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

static int vq_broken(struct virtqueue *vq, int rc)
{
	vq->broken = true;
	return rc;
}

/* ---- Lifecycle ---- */

static bool size_is_valid(uint32_t size, uint32_t max_size)
{
	return size != 0 && size <= max_size && (size & (size - 1)) == 0;
}

void virtqueue_init(struct virtqueue *vq, uint16_t max_size)
{
	/* max_size is the device's choice; keep it a power of 2 in 1..VIRTQ_MAX_SIZE regardless. */
	uint16_t m = 1;
	while (m < VIRTQ_MAX_SIZE && (uint32_t)m * 2 <= max_size)
		m *= 2;
	memset(vq, 0, sizeof(*vq));
	vq->max_size = m;
	vq->size = m;  /* the device offers its maximum until the driver writes a smaller size */
	vq->notify_enabled = true;
}

void virtqueue_reset(struct virtqueue *vq)
{
	virtqueue_init(vq, vq->max_size);
}

int virtqueue_set_size(struct virtqueue *vq, uint32_t size, struct error *e)
{
	if (vq->enabled)
		return error_set(e, "queue size cannot change while the queue is enabled");
	if (!size_is_valid(size, vq->max_size))
		return error_set(e, "queue size %u is not a power of 2 in 1..%u", size, vq->max_size);
	vq->size = (uint16_t)size;
	return 0;
}

static int check_part(const struct guest_mem *gm, const char *what, uint64_t gpa, uint64_t bytes,
		      uint64_t align, struct error *e)
{
	if (gpa % align)
		return error_set(e, "%s at 0x%llx is not %llu-byte aligned", what,
				 (unsigned long long)gpa, (unsigned long long)align);
	if (!guest_mem_ptr(gm, gpa, bytes))
		return error_set(e, "%s 0x%llx+0x%llx is outside guest RAM", what,
				 (unsigned long long)gpa, (unsigned long long)bytes);
	return 0;
}

/* Size and ring placement (2.7, "Virtqueue Part Alignment"). */
static int check_rings(const struct virtqueue *vq, const struct guest_mem *gm, struct error *e)
{
	if (!size_is_valid(vq->size, vq->max_size))
		return error_set(e, "queue size %u is not a power of 2 in 1..%u", vq->size, vq->max_size);
	if (check_part(gm, "descriptor table", vq->desc_gpa, virtq_desc_table_bytes(vq->size),
		       VIRTQ_DESC_ALIGN, e) < 0 ||
	    check_part(gm, "avail ring", vq->avail_gpa, virtq_avail_bytes(vq->size),
		       VIRTQ_AVAIL_ALIGN, e) < 0 ||
	    check_part(gm, "used ring", vq->used_gpa, virtq_used_bytes(vq->size),
		       VIRTQ_USED_ALIGN, e) < 0)
		return -1;
	return 0;
}

int virtqueue_enable(struct virtqueue *vq, const struct guest_mem *gm, uint64_t features,
		     struct error *e)
{
	if (vq->enabled)
		return 0;
	if (check_rings(vq, gm, e) < 0)
		return error_prefix(e, "cannot enable virtqueue");
	vq->event_idx = (features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0;
	vq->indirect = (features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) != 0;
	vq->enabled = true;
	return 0;
}

/* ---- Descriptor chain walk (2.7.5) ---- */

struct chain_walk {
	const uint8_t *table;   /* descriptor table being walked: the queue's or an indirect one */
	uint32_t entries;       /* its length: bounds `next` and the number of steps (loops) */
	bool in_indirect;
	bool seen_writable;
	uint64_t total;         /* bytes so far, readable + writable */
};

static const char *desc_kind(const struct chain_walk *w)
{
	return w->in_indirect ? "indirect descriptor" : "descriptor";
}

/* A descriptor with VIRTQ_DESC_F_INDIRECT: switch the walk to its table (2.7.5.3). */
static int enter_indirect(const struct virtqueue *vq, const struct guest_mem *gm,
			  struct chain_walk *w, uint32_t index, const struct virtq_desc *d,
			  struct error *e)
{
	if (!vq->indirect)
		return error_set(e, "descriptor %u is indirect but VIRTIO_F_INDIRECT_DESC was not "
				 "negotiated", index);
	if (w->in_indirect)
		return error_set(e, "indirect descriptor %u points to another indirect table "
				 "(nesting is forbidden)", index);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return error_set(e, "descriptor %u has both INDIRECT and NEXT set", index);
	if (d->len == 0 || d->len % sizeof(struct virtq_desc))
		return error_set(e, "indirect table length %u of descriptor %u is not a non-zero "
				 "multiple of 16", d->len, index);
	if (d->len / sizeof(struct virtq_desc) > VIRTQ_MAX_INDIRECT_DESCS)
		return error_set(e, "indirect table of descriptor %u has %u entries, more than %u",
				 index, d->len / 16, VIRTQ_MAX_INDIRECT_DESCS);
	const uint8_t *table = guest_mem_ptr(gm, d->addr, d->len);
	if (!table)
		return error_set(e, "indirect table 0x%llx+0x%x of descriptor %u is outside guest RAM",
				 (unsigned long long)d->addr, d->len, index);
	w->table = table;
	w->entries = d->len / sizeof(struct virtq_desc);
	w->in_indirect = true;
	/* The spec ignores the WRITE flag of the table pointer itself: nothing else to take. */
	return 0;
}

/* A data descriptor: check order and bounds, append its iovec. */
static int add_buffer(const struct guest_mem *gm, struct virtq_chain *c, struct chain_walk *w,
		      uint32_t index, const struct virtq_desc *d, struct error *e)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	if (writable)
		w->seen_writable = true;
	else if (w->seen_writable)
		/* 2.7.4: device-writable buffers follow all device-readable ones. */
		return error_set(e, "%s %u is device-readable but follows a device-writable one",
				 desc_kind(w), index);
	if (d->len == 0)
		return 0;  /* no data; see struct virtq_chain */
	if (w->total + d->len > VIRTQ_MAX_CHAIN_BYTES)
		return error_set(e, "%s %u takes the chain past %llu bytes", desc_kind(w), index,
				 (unsigned long long)VIRTQ_MAX_CHAIN_BYTES);
	void *p = guest_mem_ptr(gm, d->addr, d->len);
	if (!p)
		return error_set(e, "%s %u buffer 0x%llx+0x%x is outside guest RAM", desc_kind(w),
				 index, (unsigned long long)d->addr, d->len);
	uint32_t n = c->nout + c->nin;
	if (n >= c->iov_cap)
		return error_set(e, "chain has more than %u buffers (the device's limit)", c->iov_cap);
	c->iov[n] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	w->total += d->len;
	if (writable) {
		c->nin++;
		c->in_bytes += d->len;
	} else {
		c->nout++;
		c->out_bytes += d->len;
	}
	return 0;
}

static int walk_chain(const struct virtqueue *vq, const struct guest_mem *gm, uint16_t head,
		      struct virtq_chain *c, struct error *e)
{
	struct chain_walk w = { .table = guest_mem_ptr(gm, vq->desc_gpa,
						      virtq_desc_table_bytes(vq->size)),
				.entries = vq->size };
	if (!w.table)
		return error_set(e, "descriptor table 0x%llx is outside guest RAM",
				 (unsigned long long)vq->desc_gpa);
	uint32_t index = head, steps = 0;
	for (;;) {
		/* A valid chain visits each entry of its table at most once (2.7.5.2). */
		if (++steps > w.entries)
			return error_set(e, w.in_indirect ?
					 "indirect chain is longer than its table of %u (a loop?)" :
					 "chain is longer than the queue size %u (a loop?)", w.entries);
		struct virtq_desc d;
		read_desc(w.table, index, &d);
		c->ndesc++;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (enter_indirect(vq, gm, &w, index, &d, e) < 0)
				return -1;
			index = 0;
			steps = 0;
			continue;
		}
		if (add_buffer(gm, c, &w, index, &d, e) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= w.entries)
			return error_set(e, "%s %u has next %u, beyond its table of %u", desc_kind(&w),
					 index, d.next, w.entries);
		index = d.next;
	}
}

/* ---- Data path ---- */

void virtq_chain_init(struct virtq_chain *c, struct iovec *iov, uint32_t iov_cap)
{
	memset(c, 0, sizeof(*c));
	c->iov = iov;
	c->iov_cap = iov_cap;
}

uint16_t virtqueue_pending(const struct virtqueue *vq, const struct guest_mem *gm)
{
	if (!vq->enabled || vq->broken)
		return 0;
	const uint16_t *avail = avail_ring(vq, gm);
	if (!avail)
		return 0;
	return (uint16_t)(load16_acquire(&avail[1]) - vq->last_avail_idx);
}

void virtqueue_set_avail_event(struct virtqueue *vq, const struct guest_mem *gm, uint16_t idx)
{
	if (!vq->enabled || !vq->event_idx)
		return;
	uint8_t *used = used_ring(vq, gm);
	if (used)
		store16(used_word(used, virtq_avail_event_offset(vq->size)), idx);
}

/* Ask for a kick on the next buffer, then look again: a store-load barrier so that either the
 * driver sees our request or we see its new avail->idx (2.7.10). */
static uint16_t rearm_and_recheck(struct virtqueue *vq, const struct guest_mem *gm)
{
	uint8_t *used = used_ring(vq, gm);
	if (used) {
		if (vq->event_idx)
			store16(used_word(used, virtq_avail_event_offset(vq->size)), vq->last_avail_idx);
		else
			store16(used_word(used, 0), 0);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtqueue_pending(vq, gm);
}

int virtqueue_pop(struct virtqueue *vq, const struct guest_mem *gm, struct virtq_chain *c,
		  struct error *e)
{
	c->ndesc = c->nout = c->nin = c->out_bytes = c->in_bytes = 0;
	if (vq->broken)
		return error_set(e, "virtqueue is broken and needs a reset");
	if (!vq->enabled)
		return 0;
	uint16_t *avail = avail_ring(vq, gm);
	if (!avail)
		return vq_broken(vq, error_set(e, "avail ring 0x%llx is outside guest RAM",
					       (unsigned long long)vq->avail_gpa));
	uint16_t avail_idx = load16_acquire(&avail[1]);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0 && vq->notify_enabled && vq->event_idx) {
		pending = rearm_and_recheck(vq, gm);
		avail_idx = (uint16_t)(vq->last_avail_idx + pending);
	}
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return vq_broken(vq, error_set(e, "avail idx %u is %u entries ahead of the device's "
					       "%u, more than the queue size %u", avail_idx,
					       pending, vq->last_avail_idx, vq->size));
	/* Each chain in flight holds at least one descriptor; a driver offering more than `size`
	 * at once reused descriptors the device still owns. */
	if (vq->inflight >= vq->size)
		return vq_broken(vq, error_set(e, "driver offered a chain while all %u descriptors "
					       "are in flight", vq->size));
	uint16_t head = load16(&avail[2 + (vq->last_avail_idx & (vq->size - 1))]);
	if (head >= vq->size)
		return vq_broken(vq, error_set(e, "avail ring entry %u names head %u, beyond the "
					       "queue size %u", vq->last_avail_idx, head, vq->size));
	if (walk_chain(vq, gm, head, c, e) < 0)
		return vq_broken(vq, error_prefix(e, "descriptor chain at head %u", head));
	c->head = head;
	vq->last_avail_idx++;
	vq->inflight++;
	vq->stats.popped++;
	return 1;
}

int virtqueue_push(struct virtqueue *vq, const struct guest_mem *gm, uint16_t head,
		   uint32_t written, struct error *e)
{
	if (vq->broken)
		return error_set(e, "virtqueue is broken and needs a reset");
	if (!vq->enabled)
		return error_set(e, "push to a disabled virtqueue");
	if (head >= vq->size || vq->inflight == 0)
		return error_set(e, "push of head %u, which is not in flight", head);
	uint8_t *used = used_ring(vq, gm);
	if (!used)
		return vq_broken(vq, error_set(e, "used ring 0x%llx is outside guest RAM",
					       (unsigned long long)vq->used_gpa));
	struct virtq_used_elem elem = { .id = htole32(head), .len = htole32(written) };
	memcpy(used + 4 + 8ull * (vq->used_idx & (vq->size - 1)), &elem, sizeof(elem));
	vq->used_idx++;
	store16_release(used_word(used, 2), vq->used_idx);
	vq->inflight--;
	vq->stats.pushed++;
	return 0;
}

bool virtqueue_should_notify(struct virtqueue *vq, const struct guest_mem *gm)
{
	if (!vq->enabled || vq->broken)
		return false;
	/* Our used->idx store must be visible before we read the driver's suppression fields,
	 * which it writes before reading used->idx: a store-load barrier (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	vq->signalled_used = now;
	if (old == now)
		return false;
	const uint16_t *avail = avail_ring(vq, gm);
	bool notify = true;  /* a ring that left RAM cannot suppress anything */
	if (avail && vq->event_idx)
		notify = virtq_need_event(load16(&avail[2 + vq->size]), now, old);
	else if (avail)
		notify = !(load16(&avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (notify)
		vq->stats.notified++;
	else
		vq->stats.suppressed++;
	return notify;
}

void virtqueue_disable_notify(struct virtqueue *vq, const struct guest_mem *gm)
{
	vq->notify_enabled = false;
	if (!vq->enabled || vq->broken || vq->event_idx)
		return;
	uint8_t *used = used_ring(vq, gm);
	if (used)
		store16(used_word(used, 0), VIRTQ_USED_F_NO_NOTIFY);
}

bool virtqueue_enable_notify(struct virtqueue *vq, const struct guest_mem *gm)
{
	vq->notify_enabled = true;
	if (!vq->enabled || vq->broken)
		return false;
	return rearm_and_recheck(vq, gm) != 0;
}

/* ---- Chain helpers ---- */

static size_t chain_copy(const struct iovec *iov, uint32_t n, size_t offset, uint8_t *buf,
			 size_t len, bool to_chain)
{
	size_t done = 0;
	for (uint32_t i = 0; i < n && done < len; i++) {
		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		size_t chunk = iov[i].iov_len - offset;
		if (chunk > len - done)
			chunk = len - done;
		uint8_t *g = (uint8_t *)iov[i].iov_base + offset;
		if (to_chain)
			memcpy(g, buf + done, chunk);
		else
			memcpy(buf + done, g, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_copy_from(const struct virtq_chain *c, size_t offset, void *dst, size_t len)
{
	return chain_copy(c->iov, c->nout, offset, dst, len, false);
}

size_t virtq_chain_copy_to(const struct virtq_chain *c, size_t offset, const void *src, size_t len)
{
	return chain_copy(c->iov + c->nout, c->nin, offset, (uint8_t *)(uintptr_t)src, len, true);
}

/* ---- Snapshots ---- */

void virtqueue_save(const struct virtqueue *vq, struct virtqueue_state *s)
{
	memset(s, 0, sizeof(*s));
	s->desc_gpa = vq->desc_gpa;
	s->avail_gpa = vq->avail_gpa;
	s->used_gpa = vq->used_gpa;
	s->inflight = vq->inflight;
	s->size = vq->size;
	s->last_avail_idx = vq->last_avail_idx;
	s->used_idx = vq->used_idx;
	s->signalled_used = vq->signalled_used;
	s->enabled = vq->enabled;
	s->event_idx = vq->event_idx;
	s->indirect = vq->indirect;
	s->broken = vq->broken;
	s->notify_enabled = vq->notify_enabled;
}

int virtqueue_restore(struct virtqueue *vq, const struct virtqueue_state *s,
		      const struct guest_mem *gm, struct error *e)
{
	struct virtqueue q;
	virtqueue_init(&q, vq->max_size);
	q.size = s->size;
	q.desc_gpa = s->desc_gpa;
	q.avail_gpa = s->avail_gpa;
	q.used_gpa = s->used_gpa;
	q.last_avail_idx = s->last_avail_idx;
	q.used_idx = s->used_idx;
	q.signalled_used = s->signalled_used;
	q.inflight = s->inflight;
	q.event_idx = s->event_idx != 0;
	q.indirect = s->indirect != 0;
	q.broken = s->broken != 0;
	q.notify_enabled = s->notify_enabled != 0;
	if (!size_is_valid(q.size, q.max_size))
		return error_set(e, "virtqueue snapshot: queue size %u is not a power of 2 in 1..%u",
				 q.size, q.max_size);
	if (q.inflight > q.size)
		return error_set(e, "virtqueue snapshot: %u chains in flight on a queue of %u",
				 q.inflight, q.size);
	if (s->enabled && check_rings(&q, gm, e) < 0)
		return error_prefix(e, "virtqueue snapshot");
	q.enabled = s->enabled != 0;
	*vq = q;
	return 0;
}
