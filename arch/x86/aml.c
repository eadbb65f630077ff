/* AML byte-code builder; see aml.h. Grammar references are to ACPI 6.3 chapter 20 (AML
 * specification) and section 6.4 (resource data types). */
#include "aml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 20.2.x opcodes and prefixes. */
enum {
	AML_ZERO_OP = 0x00,
	AML_ONE_OP = 0x01,
	AML_NAME_OP = 0x08,
	AML_BYTE_PREFIX = 0x0a,
	AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c,
	AML_STRING_PREFIX = 0x0d,
	AML_QWORD_PREFIX = 0x0e,
	AML_SCOPE_OP = 0x10,
	AML_BUFFER_OP = 0x11,
	AML_PACKAGE_OP = 0x12,
	AML_METHOD_OP = 0x14,
	AML_DUAL_NAME_PREFIX = 0x2e,
	AML_MULTI_NAME_PREFIX = 0x2f,
	AML_EXT_OP_PREFIX = 0x5b,
	AML_DEVICE_OP = 0x82, /* after ExtOpPrefix */
	AML_ROOT_CHAR = 0x5c,
	AML_PARENT_PREFIX_CHAR = 0x5e,
	AML_RETURN_OP = 0xa4,
};

/* 6.4 resource descriptor tags: small items carry their length in the tag byte. */
enum {
	AML_RES_IRQ_NOFLAGS = 0x22,  /* IRQ descriptor, length 2 */
	AML_RES_IO = 0x47,           /* I/O port descriptor, length 7 */
	AML_RES_END_TAG = 0x79,      /* End tag, length 1 */
	AML_RES_MEMORY32_FIXED = 0x86,
	AML_RES_DWORD_ADDRESS = 0x87,
	AML_RES_WORD_ADDRESS = 0x88,
	AML_RES_EXT_INTERRUPT = 0x89,
	AML_RES_QWORD_ADDRESS = 0x8a,
};

/* Address space resource types (Table 6.4.3.5.x "Resource Type"). */
enum { AML_SPACE_MEMORY = 0, AML_SPACE_IO = 1, AML_SPACE_BUS = 2 };

/* General flags: ResourceProducer (bit 0 clear), PosDecode (bit 1 clear), MinFixed, MaxFixed. */
#define AML_ADDR_PRODUCER_FIXED 0x0c
/* I/O type-specific flags: _RNG = 3, the window passes both ISA and non-ISA ranges. */
#define AML_IO_ENTIRE_RANGE 0x03

#define AML_PKGLEN_MAX 0x0fffffffu
#define AML_NAMESEG_LEN 4

static void aml_fail(struct aml *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void aml_fail(struct aml *a, const char *fmt, ...)
{
	if (a->failed)
		return;
	a->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->err.msg, sizeof(a->err.msg), fmt, ap);
	va_end(ap);
}

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_release(struct aml *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}

int aml_check(const struct aml *a, struct error *e)
{
	if (a->failed)
		return error_set(e, "AML: %s", a->err.msg);
	if (a->depth)
		return error_set(e, "AML: %u block(s) left open", a->depth);
	return 0;
}

/* Makes room for `extra` more bytes; false (builder failed) when that is impossible. */
static bool aml_reserve(struct aml *a, size_t extra)
{
	if (a->failed)
		return false;
	if (extra <= a->cap - a->len)
		return true;
	if (extra > SIZE_MAX / 2 - a->len) {
		aml_fail(a, "byte code too large");
		return false;
	}
	size_t cap = a->cap ? a->cap : 256;
	while (cap - a->len < extra)
		cap *= 2;
	uint8_t *data = realloc(a->data, cap);
	if (!data) {
		aml_fail(a, "out of memory growing the byte code to %zu bytes", cap);
		return false;
	}
	a->data = data;
	a->cap = cap;
	return true;
}

void aml_emit_bytes(struct aml *a, const void *bytes, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memcpy(a->data + a->len, bytes, n);
	a->len += n;
}

void aml_emit_byte(struct aml *a, uint8_t byte)
{
	aml_emit_bytes(a, &byte, 1);
}

static void aml_emit_le(struct aml *a, uint64_t v, unsigned nbytes)
{
	uint8_t buf[8];
	for (unsigned i = 0; i < nbytes; i++)
		buf[i] = (uint8_t)(v >> (8 * i));
	aml_emit_bytes(a, buf, nbytes);
}

/* Inserts n bytes at offset pos, moving what follows. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *bytes, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memmove(a->data + pos + n, a->data + pos, a->len - pos);
	memcpy(a->data + pos, bytes, n);
	a->len += n;
}

/* --- Pure encoders --- */

size_t aml_pkglen_encode(uint32_t value, uint8_t out[4])
{
	/* 20.2.4: one byte holds 0..63 in bits 5:0. Longer forms put the count of following bytes in
	 * bits 7:6 and the low nibble in bits 3:0; each following byte adds 8 more bits. */
	if (value <= 0x3f) {
		out[0] = (uint8_t)value;
		return 1;
	}
	if (value > AML_PKGLEN_MAX)
		return 0;
	size_t follow = value <= 0xfff ? 1 : value <= 0xfffff ? 2 : 3;
	out[0] = (uint8_t)((follow << 6) | (value & 0x0f));
	for (size_t i = 1; i <= follow; i++)
		out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
	return follow + 1;
}

size_t aml_integer_encode(uint64_t v, uint8_t out[9])
{
	if (v == 0 || v == 1) {
		out[0] = v ? AML_ONE_OP : AML_ZERO_OP;
		return 1;
	}
	unsigned nbytes;
	if (v <= UINT8_MAX) {
		out[0] = AML_BYTE_PREFIX;
		nbytes = 1;
	} else if (v <= UINT16_MAX) {
		out[0] = AML_WORD_PREFIX;
		nbytes = 2;
	} else if (v <= UINT32_MAX) {
		out[0] = AML_DWORD_PREFIX;
		nbytes = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		nbytes = 8;
	}
	for (unsigned i = 0; i < nbytes; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + nbytes;
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int aml_eisaid_encode(const char *id, uint32_t *out)
{
	/* 19.6.35 EISAID: three letters compressed to 5 bits each ('A' = 1), then four hex digits;
	 * stored big-endian in a little-endian DWord, so the bytes read 41 d0 05 01 for PNP0501. */
	if (strlen(id) != 7)
		return -1;
	uint32_t letters = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -1;
		letters = (letters << 5) | (uint32_t)(id[i] - 0x40);
	}
	uint32_t product = 0;
	for (int i = 3; i < 7; i++) {
		int d = aml_hex_digit(id[i]);
		if (d < 0)
			return -1;
		product = (product << 4) | (uint32_t)d;
	}
	uint32_t be = (letters << 16) | product;
	*out = __builtin_bswap32(be);
	return 0;
}

/* --- Data objects --- */

static bool aml_nameseg_char_ok(char c, bool lead)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !lead && c >= '0' && c <= '9';
}

/* Counts the segments of a dotted path and checks each; -1 if malformed. */
static int aml_count_segments(const char *p)
{
	if (!*p)
		return 0;
	int count = 0;
	for (;;) {
		size_t n = 0;
		while (p[n] && p[n] != '.') {
			if (n >= AML_NAMESEG_LEN || !aml_nameseg_char_ok(p[n], n == 0))
				return -1;
			n++;
		}
		if (n == 0)
			return -1;
		count++;
		if (!p[n])
			return count;
		p += n + 1;
	}
}

static void aml_emit_nameseg(struct aml *a, const char *seg, size_t n)
{
	uint8_t buf[AML_NAMESEG_LEN] = { '_', '_', '_', '_' };
	memcpy(buf, seg, n);
	aml_emit_bytes(a, buf, sizeof(buf));
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	/* 20.2.2: a root or parent prefix, then a NullName, NameSeg, DualNamePath or MultiNamePath. */
	if (*p == '\\') {
		aml_emit_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_emit_byte(a, AML_PARENT_PREFIX_CHAR);
			p++;
		}
	}
	int count = aml_count_segments(p);
	if (count < 0 || count > UINT8_MAX) {
		aml_fail(a, "invalid AML name \"%s\"", path);
		return;
	}
	if (count == 0) {
		aml_emit_byte(a, 0x00); /* NullName */
		return;
	}
	if (count == 2)
		aml_emit_byte(a, AML_DUAL_NAME_PREFIX);
	else if (count > 2) {
		aml_emit_byte(a, AML_MULTI_NAME_PREFIX);
		aml_emit_byte(a, (uint8_t)count);
	}
	while (*p) {
		size_t n = strcspn(p, ".");
		aml_emit_nameseg(a, p, n);
		p += n + (p[n] == '.');
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t buf[9];
	aml_emit_bytes(a, buf, aml_integer_encode(v, buf));
}

void aml_dword(struct aml *a, uint32_t v)
{
	aml_emit_byte(a, AML_DWORD_PREFIX);
	aml_emit_le(a, v, 4);
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7f) {
			aml_fail(a, "non-ASCII character in AML string \"%s\"", s);
			return;
		}
	}
	aml_emit_byte(a, AML_STRING_PREFIX);
	aml_emit_bytes(a, s, strlen(s) + 1);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v;
	if (aml_eisaid_encode(id, &v) < 0) {
		aml_fail(a, "invalid EISA id \"%s\" (want 3 letters and 4 hex digits)", id);
		return;
	}
	/* Always a DWord, as ASL's EISAID() produces and disassemblers recognise. */
	aml_dword(a, v);
}

/* --- Named objects --- */

void aml_name(struct aml *a, const char *name)
{
	aml_emit_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

/* --- Blocks --- */

static struct aml_block aml_open(struct aml *a, enum aml_block_kind kind)
{
	a->depth++;
	return (struct aml_block){ .body = a->len, .depth = a->depth, .kind = kind };
}

struct aml_block aml_scope(struct aml *a, const char *path)
{
	aml_emit_byte(a, AML_SCOPE_OP);
	struct aml_block b = aml_open(a, AML_BLOCK_PKG);
	aml_namestring(a, path);
	return b;
}

struct aml_block aml_device(struct aml *a, const char *name)
{
	aml_emit_byte(a, AML_EXT_OP_PREFIX);
	aml_emit_byte(a, AML_DEVICE_OP);
	struct aml_block b = aml_open(a, AML_BLOCK_PKG);
	aml_namestring(a, name);
	return b;
}

struct aml_block aml_method(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	if (nargs > 7)
		aml_fail(a, "method %s: %u arguments (at most 7)", name, nargs);
	aml_emit_byte(a, AML_METHOD_OP);
	struct aml_block b = aml_open(a, AML_BLOCK_PKG);
	aml_namestring(a, name);
	/* MethodFlags: bits 2:0 ArgCount, bit 3 SerializeFlag, bits 7:4 SyncLevel (0). */
	aml_emit_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return b;
}

struct aml_block aml_package(struct aml *a, unsigned nelems)
{
	if (nelems > UINT8_MAX)
		aml_fail(a, "package of %u elements (at most 255)", nelems);
	aml_emit_byte(a, AML_PACKAGE_OP);
	struct aml_block b = aml_open(a, AML_BLOCK_PKG);
	aml_emit_byte(a, (uint8_t)nelems);
	return b;
}

struct aml_block aml_buffer(struct aml *a)
{
	aml_emit_byte(a, AML_BUFFER_OP);
	return aml_open(a, AML_BLOCK_BUFFER);
}

struct aml_block aml_resource_template(struct aml *a)
{
	aml_emit_byte(a, AML_BUFFER_OP);
	return aml_open(a, AML_BLOCK_RESOURCES);
}

void aml_end(struct aml *a, struct aml_block block)
{
	if (a->failed)
		return;
	if (block.depth != a->depth || block.body > a->len) {
		aml_fail(a, "AML blocks closed out of order");
		return;
	}
	if (block.kind == AML_BLOCK_RESOURCES) {
		/* End tag; checksum 0 means "treat as correct" (6.4.2.9). */
		const uint8_t end_tag[2] = { AML_RES_END_TAG, 0x00 };
		aml_emit_bytes(a, end_tag, sizeof(end_tag));
	}
	uint8_t prefix[4 + 9];
	uint8_t size[9];
	size_t size_len = 0;
	size_t body = a->len - block.body;
	if (block.kind != AML_BLOCK_PKG)
		size_len = aml_integer_encode(body, size);
	size_t content = body + size_len;
	/* The PkgLength counts its own bytes: use the shortest form that still fits. */
	size_t pkg_len = 0;
	for (size_t n = 1; n <= 4 && !pkg_len; n++) {
		if (content + n <= AML_PKGLEN_MAX && aml_pkglen_encode((uint32_t)(content + n), prefix) == n)
			pkg_len = n;
	}
	if (!pkg_len) {
		aml_fail(a, "AML object of %zu bytes exceeds the PkgLength limit", content);
		return;
	}
	memcpy(prefix + pkg_len, size, size_len);
	aml_insert(a, block.body, prefix, pkg_len + size_len);
	a->depth--;
}

void aml_return(struct aml *a)
{
	aml_emit_byte(a, AML_RETURN_OP);
}

void aml_method_return_integer(struct aml *a, const char *name, uint64_t v)
{
	struct aml_block m = aml_method(a, name, 0, false);
	aml_return(a);
	aml_integer(a, v);
	aml_end(a, m);
}

/* --- Resource descriptors --- */

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	if (min > max) {
		aml_fail(a, "IO descriptor: minimum 0x%x above maximum 0x%x", min, max);
		return;
	}
	/* 6.4.2.5: information byte bit 0 = decodes all 16 address bits. */
	const uint8_t d[8] = { AML_RES_IO, 0x01, (uint8_t)min, (uint8_t)(min >> 8), (uint8_t)max,
			       (uint8_t)(max >> 8), align, len };
	aml_emit_bytes(a, d, sizeof(d));
}

void aml_res_io_fixed(struct aml *a, uint16_t base, uint8_t len)
{
	aml_res_io(a, base, base, 1, len);
}

void aml_res_irq_noflags(struct aml *a, unsigned irq)
{
	if (irq > 15) {
		aml_fail(a, "IRQNoFlags: IRQ %u is not an ISA IRQ (0-15)", irq);
		return;
	}
	/* 6.4.2.1: the 2-byte form means edge triggered, active high, not shared. */
	uint16_t mask = (uint16_t)(1u << irq);
	const uint8_t d[3] = { AML_RES_IRQ_NOFLAGS, (uint8_t)mask, (uint8_t)(mask >> 8) };
	aml_emit_bytes(a, d, sizeof(d));
}

/* A large item: tag, 16-bit length of what follows. */
static void aml_res_large_header(struct aml *a, uint8_t tag, uint16_t len)
{
	aml_emit_byte(a, tag);
	aml_emit_le(a, len, 2);
}

void aml_res_interrupt(struct aml *a, uint32_t gsi, bool level, bool active_low)
{
	/* 6.4.3.6 Extended Interrupt: flags bit 0 consumer, bit 1 edge (1) / level (0), bit 2 active
	 * low, bit 3 shared (no); one interrupt number follows. */
	uint8_t flags = (uint8_t)(0x01 | (level ? 0 : 0x02) | (active_low ? 0x04 : 0));
	aml_res_large_header(a, AML_RES_EXT_INTERRUPT, 6);
	aml_emit_byte(a, flags);
	aml_emit_byte(a, 1);
	aml_emit_le(a, gsi, 4);
}

void aml_res_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len)
{
	aml_res_large_header(a, AML_RES_MEMORY32_FIXED, 9);
	aml_emit_byte(a, writable ? 1 : 0);
	aml_emit_le(a, base, 4);
	aml_emit_le(a, len, 4);
}

/* 6.4.3.5.1-3: QWord/DWord/Word address space descriptors share one shape: type, general flags,
 * type-specific flags, then granularity, min, max, translation offset and length, each `width`
 * bytes wide. */
static void aml_res_address(struct aml *a, unsigned width, uint8_t type, uint8_t type_flags,
			    uint64_t min, uint64_t max)
{
	uint64_t width_max = width == 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;
	/* The length field is as wide as min and max, so the whole range must fit in it. */
	if (min > max || max > width_max || max - min >= width_max) {
		aml_fail(a, "address space descriptor: bad range 0x%llx-0x%llx",
			 (unsigned long long)min, (unsigned long long)max);
		return;
	}
	uint8_t tag = width == 2 ? AML_RES_WORD_ADDRESS :
		      width == 4 ? AML_RES_DWORD_ADDRESS : AML_RES_QWORD_ADDRESS;
	aml_res_large_header(a, tag, (uint16_t)(3 + 5 * width));
	aml_emit_byte(a, type);
	aml_emit_byte(a, AML_ADDR_PRODUCER_FIXED);
	aml_emit_byte(a, type_flags);
	aml_emit_le(a, 0, width);               /* granularity */
	aml_emit_le(a, min, width);
	aml_emit_le(a, max, width);
	aml_emit_le(a, 0, width);               /* translation offset */
	aml_emit_le(a, max - min + 1, width);   /* length */
}

/* Memory type-specific flags: bit 0 read-write, bits 2:1 _MEM cacheability. */
static uint8_t aml_mem_flags(enum aml_mem_cache cache, bool writable)
{
	return (uint8_t)(((unsigned)cache & 3) << 1 | (writable ? 1 : 0));
}

void aml_res_word_bus_number(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_address(a, 2, AML_SPACE_BUS, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_address(a, 2, AML_SPACE_IO, AML_IO_ENTIRE_RANGE, min, max);
}

void aml_res_dword_memory(struct aml *a, enum aml_mem_cache cache, bool writable, uint32_t min,
			  uint32_t max)
{
	aml_res_address(a, 4, AML_SPACE_MEMORY, aml_mem_flags(cache, writable), min, max);
}

void aml_res_qword_memory(struct aml *a, enum aml_mem_cache cache, bool writable, uint64_t min,
			  uint64_t max)
{
	aml_res_address(a, 8, AML_SPACE_MEMORY, aml_mem_flags(cache, writable), min, max);
}
