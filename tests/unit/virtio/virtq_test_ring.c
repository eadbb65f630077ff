#include "virtq_test_ring.h"

#include <criterion/criterion.h>
#include <endian.h>
#include <string.h>

void tr_setup(struct test_ring *t, uint16_t size, uint64_t features)
{
	memset(t, 0, sizeof(*t));
	cr_assert_eq(guest_mem_init(&t->gm, TR_RAM, &t->e), 0, "%s", t->e.msg);
	virtqueue_init(&t->vq, size);
	t->vq.desc_gpa = TR_DESC;
	t->vq.avail_gpa = TR_AVAIL;
	t->vq.used_gpa = TR_USED;
	cr_assert_eq(virtqueue_enable(&t->vq, &t->gm, features, &t->e), 0, "%s", t->e.msg);
	t->next_data = TR_DATA;
	virtq_chain_init(&t->chain, t->iov, 1024);
}

void tr_teardown(struct test_ring *t)
{
	guest_mem_destroy(&t->gm);
}

void *tr_host(struct test_ring *t, uint64_t gpa)
{
	void *p = guest_mem_ptr(&t->gm, gpa, 0);
	cr_assert_not_null(p, "test bug: gpa 0x%llx is not RAM", (unsigned long long)gpa);
	return p;
}

uint64_t tr_alloc(struct test_ring *t, uint64_t len)
{
	uint64_t gpa = t->next_data;
	cr_assert(gpa + len <= TR_RAM, "test bug: out of test RAM");
	t->next_data = (gpa + len + 15) & ~15ull;
	return gpa;
}

void tr_desc_at(struct test_ring *t, uint64_t table_gpa, uint32_t index, uint64_t addr,
		uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = htole64(addr), .len = htole32(len),
				.flags = htole16(flags), .next = htole16(next) };
	memcpy(tr_host(t, table_gpa + 16ull * index), &d, sizeof(d));
}

void tr_desc(struct test_ring *t, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next)
{
	tr_desc_at(t, TR_DESC, index, addr, len, flags, next);
}

static uint16_t *avail_word(struct test_ring *t, uint64_t word)
{
	return tr_host(t, TR_AVAIL + 2 * word);
}

void tr_set_avail_idx(struct test_ring *t, uint16_t idx)
{
	t->avail_idx = idx;
	__atomic_store_n(avail_word(t, 1), htole16(idx), __ATOMIC_RELEASE);
}

void tr_offer(struct test_ring *t, uint16_t head)
{
	*avail_word(t, 2 + (t->avail_idx & (t->vq.size - 1))) = htole16(head);
	tr_set_avail_idx(t, t->avail_idx + 1);
}

void tr_set_avail_flags(struct test_ring *t, uint16_t flags)
{
	*avail_word(t, 0) = htole16(flags);
}

void tr_set_used_event(struct test_ring *t, uint16_t idx)
{
	*avail_word(t, 2 + t->vq.size) = htole16(idx);
}

static uint16_t used_u16(struct test_ring *t, uint64_t offset)
{
	uint16_t v;
	memcpy(&v, tr_host(t, TR_USED + offset), sizeof(v));
	return le16toh(v);
}

uint16_t tr_used_flags(struct test_ring *t)
{
	return used_u16(t, 0);
}

uint16_t tr_used_idx(struct test_ring *t)
{
	return used_u16(t, 2);
}

uint16_t tr_avail_event(struct test_ring *t)
{
	return used_u16(t, virtq_avail_event_offset(t->vq.size));
}

struct virtq_used_elem tr_used_elem(struct test_ring *t, uint16_t ring_index)
{
	struct virtq_used_elem el;
	memcpy(&el, tr_host(t, TR_USED + 4 + 8ull * (ring_index & (t->vq.size - 1))), sizeof(el));
	el.id = le32toh(el.id);
	el.len = le32toh(el.len);
	return el;
}
