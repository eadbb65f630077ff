/* A small AML (ACPI Machine Language, ACPI 6.3 chapter 20) byte-code builder for Ember's DSDT and,
 * later, SSDTs. Everything is appended to one growable buffer. Objects with a body (Scope, Device,
 * Method, Package, Buffer, ResourceTemplate) are opened with a call that returns an aml_block and
 * closed with aml_end(); the PkgLength (and a Buffer's size) is inserted when the block closes, so
 * callers never count bytes.
 *
 * Errors are sticky: any failure (out of memory, bad name, bad nesting, value out of range) marks
 * the builder failed and later calls do nothing. Check once with aml_check() at the end.
 *
 * Typical use:
 *	struct aml a;
 *	aml_init(&a);
 *	struct aml_block sb = aml_scope(&a, "\\_SB");
 *	struct aml_block dev = aml_device(&a, "COM1");
 *	aml_name_eisaid(&a, "_HID", "PNP0501");
 *	...
 *	aml_end(&a, dev);
 *	aml_end(&a, sb);
 *	if (aml_check(&a, e) < 0) ...
 *	use a.data / a.len, then aml_release(&a). */
#ifndef EMBER_X86_AML_H
#define EMBER_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"

struct aml {
	uint8_t *data;
	size_t len;
	size_t cap;
	unsigned depth;      /* blocks opened and not yet closed */
	bool failed;
	struct error err;    /* the first failure */
};

enum aml_block_kind {
	AML_BLOCK_PKG,       /* PkgLength only: Scope, Device, Method, Package */
	AML_BLOCK_BUFFER,    /* PkgLength + BufferSize */
	AML_BLOCK_RESOURCES, /* an EndTag, then as a Buffer */
};

/* A handle for an open block; pass it back to aml_end(). */
struct aml_block {
	size_t body;         /* offset where the PkgLength goes */
	unsigned depth;      /* nesting level, to catch out-of-order closes */
	enum aml_block_kind kind;
};

void aml_init(struct aml *a);
void aml_release(struct aml *a);
/* 0 when every call so far succeeded and all blocks are closed; otherwise -1 with the reason. */
int aml_check(const struct aml *a, struct error *e);

/* --- Pure encoders (exposed for tests and for callers that need the raw bytes) --- */

/* PkgLength (20.2.4) of `value` (which counts the PkgLength bytes themselves). Returns the number of
 * bytes written to out (1..4), or 0 when value exceeds 2^28-1. */
size_t aml_pkglen_encode(uint32_t value, uint8_t out[4]);
/* The shortest ComputationalData for v: ZeroOp, OneOp, or Byte/Word/DWord/QWord prefix. Returns
 * the number of bytes (1..9). */
size_t aml_integer_encode(uint64_t v, uint8_t out[9]);
/* Compressed EISA id ("PNP0501" -> 0x0105d041). 0 on success, -1 if id is not 3 uppercase letters
 * followed by 4 hex digits. */
int aml_eisaid_encode(const char *id, uint32_t *out);

/* --- Raw bytes and data objects --- */

void aml_emit_byte(struct aml *a, uint8_t byte);
void aml_emit_bytes(struct aml *a, const void *bytes, size_t n);
/* NameString: "\\_SB.PCI0", "^FOO", "COM1". Segments shorter than 4 characters are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
void aml_integer(struct aml *a, uint64_t v);
void aml_dword(struct aml *a, uint32_t v);     /* always a DWordConst */
void aml_string(struct aml *a, const char *s); /* ASCII 0x01..0x7f */
void aml_eisaid(struct aml *a, const char *id);

/* --- Named objects --- */

/* Name(name, <one data object the caller emits next>). */
void aml_name(struct aml *a, const char *name);
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);

/* --- Blocks: close each with aml_end() in reverse order of opening --- */

struct aml_block aml_scope(struct aml *a, const char *path);
struct aml_block aml_device(struct aml *a, const char *name);
struct aml_block aml_method(struct aml *a, const char *name, unsigned nargs, bool serialized);
/* Package with `nelems` (<= 255) elements; emit exactly that many data objects. */
struct aml_block aml_package(struct aml *a, unsigned nelems);
/* Buffer whose size is the number of bytes emitted before aml_end. */
struct aml_block aml_buffer(struct aml *a);
/* ResourceTemplate(): a Buffer of resource descriptors; aml_end appends the EndTag. */
struct aml_block aml_resource_template(struct aml *a);
void aml_end(struct aml *a, struct aml_block block);

/* Return(<one term the caller emits next>). */
void aml_return(struct aml *a);
/* Method(name, 0, NotSerialized) { Return(v) } */
void aml_method_return_integer(struct aml *a, const char *name, uint64_t v);

/* --- Resource descriptors (ACPI 6.3 section 6.4), inside aml_resource_template --- */

/* IO(Decode16, min, max, align, len). */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IO(Decode16, base, base, 1, len): a port range that cannot move. */
void aml_res_io_fixed(struct aml *a, uint16_t base, uint8_t len);
/* IRQNoFlags(){irq}: ISA IRQ 0..15, edge triggered, active high. */
void aml_res_irq_noflags(struct aml *a, unsigned irq);
/* Interrupt(ResourceConsumer, edge/level, ActiveHigh/Low, Exclusive){gsi}: for GSIs above 15. */
void aml_res_interrupt(struct aml *a, uint32_t gsi, bool level, bool active_low);
/* Memory32Fixed(ReadWrite/ReadOnly, base, len). */
void aml_res_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len);

/* Cacheability of an address-space memory window (_MEM). */
enum aml_mem_cache {
	AML_MEM_NONCACHEABLE = 0,
	AML_MEM_CACHEABLE = 1,
	AML_MEM_WRITE_COMBINING = 2,
	AML_MEM_PREFETCHABLE = 3,
};

/* Address-space descriptors for a bridge's windows: ResourceProducer, PosDecode, MinFixed,
 * MaxFixed, granularity 0, translation 0, length max-min+1 (the valid "fixed" combination of
 * Table 6.4.3.5). min must not exceed max. */
void aml_res_word_bus_number(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_memory(struct aml *a, enum aml_mem_cache cache, bool writable, uint32_t min,
			  uint32_t max);
void aml_res_qword_memory(struct aml *a, enum aml_mem_cache cache, bool writable, uint64_t min,
			  uint64_t max);

#endif
