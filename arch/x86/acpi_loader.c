/* Writes QEMU linker/loader entries (see acpi_loader.h). */
#include "acpi_loader.h"

#include <stdlib.h>
#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void acpi_loader_init(struct acpi_loader *l)
{
	memset(l, 0, sizeof(*l));
}

void acpi_loader_release(struct acpi_loader *l)
{
	free(l->data);
	acpi_loader_init(l);
}

/* A zeroed entry with its command set, or NULL. */
static uint8_t *new_entry(struct acpi_loader *l, enum acpi_loader_command cmd, struct error *e)
{
	if (l->len + ACPI_LOADER_ENTRY_SIZE > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16 * ACPI_LOADER_ENTRY_SIZE;
		uint8_t *d = realloc(l->data, cap);
		if (!d) {
			error_set(e, "ACPI loader: out of memory");
			return NULL;
		}
		l->data = d;
		l->cap = cap;
	}
	uint8_t *ent = l->data + l->len;
	memset(ent, 0, ACPI_LOADER_ENTRY_SIZE);
	put_le32(ent, cmd);
	l->len += ACPI_LOADER_ENTRY_SIZE;
	return ent;
}

static int check_name(const char *name, struct error *e)
{
	size_t n = strlen(name);
	if (n == 0 || n >= ACPI_LOADER_FILE_MAX)
		return error_set(e, "ACPI loader: file name '%s' must be 1-%d characters", name,
				 ACPI_LOADER_FILE_MAX - 1);
	return 0;
}

/* The name was checked: it fits with its NUL (the entry is zeroed). */
static void put_name(uint8_t *field, const char *name)
{
	memcpy(field, name, strlen(name));
}

int acpi_loader_allocate(struct acpi_loader *l, const char *file, uint32_t align,
			 enum acpi_loader_zone zone, struct error *e)
{
	if (align == 0 || (align & (align - 1)))
		return error_set(e, "ACPI loader: alignment %u of '%s' is not a power of 2", align,
				 file);
	uint8_t *ent = check_name(file, e) < 0 ? NULL : new_entry(l, ACPI_LOADER_ALLOCATE, e);
	if (!ent)
		return -1;
	put_name(ent + 4, file);
	put_le32(ent + 4 + ACPI_LOADER_FILE_MAX, align);
	ent[4 + ACPI_LOADER_FILE_MAX + 4] = (uint8_t)zone;
	return 0;
}

int acpi_loader_add_pointer(struct acpi_loader *l, const char *dest, const char *src,
			    uint32_t offset, uint8_t size, struct error *e)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return error_set(e, "ACPI loader: pointer size %u is not 1, 2, 4 or 8", size);
	uint8_t *ent = check_name(dest, e) < 0 || check_name(src, e) < 0
			       ? NULL
			       : new_entry(l, ACPI_LOADER_ADD_POINTER, e);
	if (!ent)
		return -1;
	put_name(ent + 4, dest);
	put_name(ent + 4 + ACPI_LOADER_FILE_MAX, src);
	put_le32(ent + 4 + 2 * ACPI_LOADER_FILE_MAX, offset);
	ent[4 + 2 * ACPI_LOADER_FILE_MAX + 4] = size;
	return 0;
}

int acpi_loader_add_checksum(struct acpi_loader *l, const char *file, uint32_t offset,
			     uint32_t start, uint32_t length, struct error *e)
{
	uint8_t *ent = check_name(file, e) < 0 ? NULL : new_entry(l, ACPI_LOADER_ADD_CHECKSUM, e);
	if (!ent)
		return -1;
	put_name(ent + 4, file);
	put_le32(ent + 4 + ACPI_LOADER_FILE_MAX, offset);
	put_le32(ent + 4 + ACPI_LOADER_FILE_MAX + 4, start);
	put_le32(ent + 4 + ACPI_LOADER_FILE_MAX + 8, length);
	return 0;
}
