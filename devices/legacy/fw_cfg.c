/* The fw_cfg item store and its legacy port interface: selector (0x510), data (0x511) and the
 * read side of the DMA address register (0x514). DMA requests themselves are in fw_cfg_dma.c.
 *
 * Items are kept in the order they were added; file items get keys FW_CFG_FILE_FIRST + n in that
 * order, so rebuilding a VM's items from its configuration (restore) gives every item its old
 * key. The directory lists files sorted by name, as QEMU's does. */
#include "fw_cfg.h"

#include <stdlib.h>
#include <string.h>

#include "fw_cfg_internal.h"

static const char fw_cfg_signature[4] = { 'Q', 'E', 'M', 'U' };

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

struct fw_cfg_item *fw_cfg_find(const struct fw_cfg *f, uint16_t key)
{
	key &= (uint16_t)~FW_CFG_KEY_WRITE;
	for (unsigned i = 0; i < f->nitems; i++)
		if (f->items[i].key == key)
			return &f->items[i];
	return NULL;
}

static struct fw_cfg_item *find_file(const struct fw_cfg *f, const char *name)
{
	for (unsigned i = 0; i < f->nitems; i++)
		if (f->items[i].name[0] && strcmp(f->items[i].name, name) == 0)
			return &f->items[i];
	return NULL;
}

/* Replaces the contents of item `key` (creating it if new) with a copy of data. */
static struct fw_cfg_item *store(struct fw_cfg *f, uint16_t key, const void *data, size_t len,
				 struct error *e)
{
	if (len > UINT32_MAX) {
		error_set(e, "fw_cfg: item 0x%x is %zu bytes; items are at most 4 GiB - 1", key, len);
		return NULL;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy) {
		error_set(e, "fw_cfg: out of memory for item 0x%x (%zu bytes)", key, len);
		return NULL;
	}
	if (len)
		memcpy(copy, data, len);
	struct fw_cfg_item *it = fw_cfg_find(f, key);
	if (!it) {
		if (f->nitems == f->cap) {
			unsigned cap = f->cap ? f->cap * 2 : 32;
			struct fw_cfg_item *items = realloc(f->items, cap * sizeof(*items));
			if (!items) {
				free(copy);
				error_set(e, "fw_cfg: out of memory for item 0x%x", key);
				return NULL;
			}
			f->items = items;
			f->cap = cap;
		}
		it = &f->items[f->nitems++];
		memset(it, 0, sizeof(*it));
		it->key = key;
	}
	free(it->data);
	it->data = copy;
	it->len = (uint32_t)len;
	return it;
}

static int name_cmp(const void *a, const void *b)
{
	const struct fw_cfg_item *x = *(struct fw_cfg_item *const *)a;
	const struct fw_cfg_item *y = *(struct fw_cfg_item *const *)b;
	return strcmp(x->name, y->name);
}

/* FW_CFG_FILE_DIR: a big-endian count, then 64-byte entries {be32 size, be16 key, u16 0,
 * name[56]} sorted by name. */
static int rebuild_directory(struct fw_cfg *f, struct error *e)
{
	struct fw_cfg_item *files[FW_CFG_MAX_FILES];
	unsigned n = 0;
	for (unsigned i = 0; i < f->nitems; i++)
		if (f->items[i].name[0])
			files[n++] = &f->items[i];
	qsort(files, n, sizeof(files[0]), name_cmp);
	uint8_t dir[4 + FW_CFG_MAX_FILES * FW_CFG_DIR_ENTRY_SIZE];
	memset(dir, 0, sizeof(dir));
	put_be32(dir, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *ent = dir + 4 + i * FW_CFG_DIR_ENTRY_SIZE;
		put_be32(ent, files[i]->len);
		ent[4] = (uint8_t)(files[i]->key >> 8);
		ent[5] = (uint8_t)files[i]->key;
		memcpy(ent + 8, files[i]->name, strlen(files[i]->name));
	}
	return store(f, FW_CFG_FILE_DIR, dir, 4 + (size_t)n * FW_CFG_DIR_ENTRY_SIZE, e) ? 0 : -1;
}

struct fw_cfg *fw_cfg_create(const struct guest_mem *mem, struct error *e)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	if (!f) {
		error_set(e, "fw_cfg: out of memory");
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	f->mem = mem;
	f->next_file_key = FW_CFG_FILE_FIRST;
	if (fw_cfg_add_bytes(f, FW_CFG_SIGNATURE, fw_cfg_signature, sizeof(fw_cfg_signature), e) < 0 ||
	    fw_cfg_add_u32(f, FW_CFG_ID, FW_CFG_VERSION | FW_CFG_VERSION_DMA, e) < 0 ||
	    rebuild_directory(f, e) < 0) {
		fw_cfg_destroy(f);
		return NULL;
	}
	return f;
}

void fw_cfg_destroy(struct fw_cfg *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->nitems; i++)
		free(f->items[i].data);
	free(f->items);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int fw_cfg_attach(struct fw_cfg *f, struct io_bus *pio, struct error *e)
{
	return io_bus_add(pio, FW_CFG_PORT_SELECTOR, FW_CFG_PORT_COUNT, fw_cfg_io, f, "fw_cfg", e);
}

int fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data, size_t len, struct error *e)
{
	key &= (uint16_t)~FW_CFG_KEY_WRITE;
	if ((key & FW_CFG_KEY_MASK) >= FW_CFG_FILE_FIRST && !(key & FW_CFG_ARCH_LOCAL))
		return error_set(e, "fw_cfg: key 0x%x is in the file range; use fw_cfg_add_file", key);
	if (key == FW_CFG_FILE_DIR)
		return error_set(e, "fw_cfg: the file directory is built by the device");
	return store(f, key, data, len, e) ? 0 : -1;
}

int fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t value, struct error *e)
{
	uint8_t b[2];
	put_le(b, value, sizeof(b));
	return fw_cfg_add_bytes(f, key, b, sizeof(b), e);
}

int fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t value, struct error *e)
{
	uint8_t b[4];
	put_le(b, value, sizeof(b));
	return fw_cfg_add_bytes(f, key, b, sizeof(b), e);
}

int fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t value, struct error *e)
{
	uint8_t b[8];
	put_le(b, value, sizeof(b));
	return fw_cfg_add_bytes(f, key, b, sizeof(b), e);
}

static int add_file(struct fw_cfg *f, const char *name, const void *data, size_t len,
		    bool writable, struct error *e)
{
	size_t name_len = name ? strlen(name) : 0;
	if (name_len == 0 || name_len >= FW_CFG_FILE_NAME_MAX)
		return error_set(e, "fw_cfg: file name '%s' must be 1-%d characters", name ? name : "",
				 FW_CFG_FILE_NAME_MAX - 1);
	struct fw_cfg_item *it = find_file(f, name);
	uint16_t key = it ? it->key : f->next_file_key;
	if (!it && key >= FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES)
		return error_set(e, "fw_cfg: no room for file '%s' (at most %d files)", name,
				 FW_CFG_MAX_FILES);
	if (!(it = store(f, key, data, len, e)))
		return -1;
	memcpy(it->name, name, name_len + 1);
	it->writable = writable;
	if (key == f->next_file_key)
		f->next_file_key++;
	return rebuild_directory(f, e);
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len,
		    struct error *e)
{
	return add_file(f, name, data, len, false, e);
}

int fw_cfg_add_file_writable(struct fw_cfg *f, const char *name, const void *data, size_t len,
			     struct error *e)
{
	return add_file(f, name, data, len, true, e);
}

const uint8_t *fw_cfg_item(const struct fw_cfg *f, uint16_t key, uint32_t *len)
{
	const struct fw_cfg_item *it = fw_cfg_find(f, key);
	if (len)
		*len = it ? it->len : 0;
	return it ? it->data : NULL;
}

int fw_cfg_file_key(const struct fw_cfg *f, const char *name)
{
	const struct fw_cfg_item *it = find_file(f, name);
	return it ? it->key : -1;
}

/* ---- guest interface ---- */

void fw_cfg_select(struct fw_cfg *f, uint16_t selector)
{
	f->st.selector = selector;
	f->st.offset = 0;
}

uint8_t fw_cfg_read_byte(struct fw_cfg *f)
{
	const struct fw_cfg_item *it = fw_cfg_find(f, f->st.selector);
	if (!it || f->st.offset >= it->len)
		return 0; /* past the end (or no item): zeros, and the offset stays */
	return it->data[f->st.offset++];
}

static uint8_t dma_register_byte(unsigned index)
{
	return (uint8_t)(FW_CFG_DMA_SIGNATURE >> (8 * (7 - index)));
}

void fw_cfg_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct fw_cfg *f = opaque;
	uint64_t port = FW_CFG_PORT_SELECTOR + offset;
	pthread_mutex_lock(&f->lock);
	if (port == FW_CFG_PORT_SELECTOR) {
		if (is_write) /* 16 bits wide; a byte write selects the low byte's key */
			fw_cfg_select(f, size >= 2 ? (uint16_t)(data[0] | data[1] << 8) : data[0]);
		else
			memset(data, 0, size);
	} else if (port == FW_CFG_PORT_DATA) {
		/* Writes have been ignored since QEMU 2.4; reads return the next bytes in order. */
		for (uint32_t i = 0; !is_write && i < size; i++)
			data[i] = fw_cfg_read_byte(f);
	} else if (port >= FW_CFG_PORT_DMA) {
		unsigned reg = (unsigned)(port - FW_CFG_PORT_DMA);
		if (!is_write) {
			for (uint32_t i = 0; i < size; i++)
				data[i] = reg + i < 8 ? dma_register_byte(reg + i) : 0;
		} else if (size == 4 && reg == 0) {
			f->st.dma_high = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
					 (uint32_t)data[2] << 8 | data[3];
		} else if (size == 4 && reg == 4) {
			uint32_t low = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
				       (uint32_t)data[2] << 8 | data[3];
			uint64_t addr = (uint64_t)f->st.dma_high << 32 | low;
			f->st.dma_high = 0; /* the address is zero again after an operation */
			fw_cfg_dma_run(f, addr);
		}
		/* other widths and offsets: ignored, as QEMU does */
	} else if (!is_write) {
		memset(data, 0, size); /* 0x512-0x513: nothing there */
	}
	pthread_mutex_unlock(&f->lock);
}

void fw_cfg_save(struct fw_cfg *f, struct fw_cfg_state *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->st;
	pthread_mutex_unlock(&f->lock);
}

int fw_cfg_restore(struct fw_cfg *f, const struct fw_cfg_state *in, struct error *e)
{
	(void)e; /* any selector and offset is valid: reads past an item's end return zeros */
	pthread_mutex_lock(&f->lock);
	f->st = *in;
	pthread_mutex_unlock(&f->lock);
	return 0;
}
