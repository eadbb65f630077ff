/* The fw_cfg DMA interface (QEMU docs/specs/fw_cfg.rst, "Guest-side DMA Interface"): the guest
 * writes the address of a 16-byte FWCfgDmaAccess {be32 control, be32 length, be64 address} to the
 * DMA address register; the device selects, reads, writes or skips as `control` asks and writes
 * `control` back: 0 when done, FW_CFG_DMA_CTL_ERROR when something was refused.
 *
 * The guest is hostile: the access structure and the buffer it names are looked up through
 * guest_mem as whole ranges, so a request that names anything outside RAM (or wraps) fails with
 * the error bit and moves no byte. A request whose structure itself is outside RAM is dropped:
 * there is nowhere to report to. */
#include <string.h>

#include "fw_cfg_internal.h"

#define FW_CFG_DMA_ACCESS_SIZE 16

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* Advances the offset by len, stopping at the item's end (reads past it return zeros anyway). */
static void advance(struct fw_cfg *f, const struct fw_cfg_item *it, uint32_t len)
{
	uint32_t end = it ? it->len : 0;
	uint32_t room = f->st.offset < end ? end - f->st.offset : 0;
	f->st.offset += len < room ? len : room;
}

/* READ: len bytes from the selected item into guest memory; past the item's end (or with no item
 * selected) the guest gets zeros, as from the data port. */
static bool dma_read(struct fw_cfg *f, uint64_t gpa, uint32_t len)
{
	uint8_t *dst = guest_mem_ptr(f->mem, gpa, len);
	if (!dst)
		return false;
	const struct fw_cfg_item *it = fw_cfg_find(f, f->st.selector);
	uint32_t avail = it && f->st.offset < it->len ? it->len - f->st.offset : 0;
	uint32_t n = len < avail ? len : avail;
	if (n)
		memcpy(dst, it->data + f->st.offset, n);
	memset(dst + n, 0, len - n);
	advance(f, it, len);
	return true;
}

/* WRITE: only into items marked writable, never past their end (no resizing); a write that would
 * not fit is dropped whole, as QEMU does. */
static bool dma_write(struct fw_cfg *f, uint64_t gpa, uint32_t len)
{
	struct fw_cfg_item *it = fw_cfg_find(f, f->st.selector);
	if (!it || !it->writable || f->st.offset > it->len || len > it->len - f->st.offset)
		return false;
	const uint8_t *src = guest_mem_ptr(f->mem, gpa, len);
	if (!src)
		return false;
	memcpy(it->data + f->st.offset, src, len);
	f->st.offset += len;
	return true;
}

void fw_cfg_dma_run(struct fw_cfg *f, uint64_t addr)
{
	uint8_t *access = guest_mem_ptr(f->mem, addr, FW_CFG_DMA_ACCESS_SIZE);
	if (!access)
		return;
	uint8_t req[FW_CFG_DMA_ACCESS_SIZE];
	memcpy(req, access, sizeof(req)); /* read once: the guest may change it meanwhile */
	uint32_t control = get_be32(req);
	uint32_t len = get_be32(req + 4);
	uint64_t gpa = get_be64(req + 8);

	if (control & FW_CFG_DMA_CTL_SELECT)
		fw_cfg_select(f, (uint16_t)(control >> 16));
	bool ok = true;
	if (control & FW_CFG_DMA_CTL_READ)
		ok = dma_read(f, gpa, len);
	else if (control & FW_CFG_DMA_CTL_WRITE)
		ok = dma_write(f, gpa, len);
	else if (control & FW_CFG_DMA_CTL_SKIP)
		advance(f, fw_cfg_find(f, f->st.selector), len);

	uint8_t result[4] = { 0, 0, 0, ok ? 0 : FW_CFG_DMA_CTL_ERROR };
	memcpy(access, result, sizeof(result));
}
