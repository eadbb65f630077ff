#include "sev_ovmf.h"

#include <string.h>

#include "sev_bytes.h"
#include "sev_guid.h"

#define PAGE_SIZE 4096u
#define RESET_TAIL 0x20u   /* the last 32 bytes hold the reset vector, after the table */
#define ENTRY_HEADER 18u   /* uint16 length + GUID, at the END of every entry */
#define METADATA_HEADER 16u
#define METADATA_SECTION 12u
#define METADATA_SIGNATURE 0x56455341u /* "ASEV" */

struct footer_entry {
	const uint8_t *guid;
	const uint8_t *data;
	size_t data_len;
};

static int read_metadata(struct sev_ovmf *o, const uint8_t *image, const uint8_t *data,
			 size_t data_len, struct error *e)
{
	if (data_len < 4)
		return error_set(e, "SEV metadata footer entry is too short");
	uint32_t offset = sev_get_le32(data);
	if (offset < METADATA_HEADER || offset > o->size)
		return error_set(e, "SEV metadata offset 0x%x lies outside the %zu-byte image",
				 offset, o->size);
	const uint8_t *hdr = image + o->size - offset;
	if (sev_get_le32(hdr) != METADATA_SIGNATURE)
		return error_set(e, "SEV metadata at offset 0x%zx lacks the ASEV signature",
				 o->size - offset);
	uint32_t len = sev_get_le32(hdr + 4);
	uint32_t version = sev_get_le32(hdr + 8);
	uint32_t count = sev_get_le32(hdr + 12);
	if (version != 1)
		return error_set(e, "SEV metadata version %u is not supported (expected 1)",
				 version);
	if (count > SEV_OVMF_MAX_SECTIONS)
		return error_set(e, "SEV metadata lists %u sections (at most %d supported)", count,
				 SEV_OVMF_MAX_SECTIONS);
	if (len < METADATA_HEADER + (uint64_t)count * METADATA_SECTION || len > offset)
		return error_set(e, "SEV metadata length %u does not fit %u sections in the image",
				 len, count);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *s = hdr + METADATA_HEADER + i * METADATA_SECTION;
		struct sev_ovmf_section *sec = &o->sections[i];
		sec->gpa = sev_get_le32(s);
		sec->size = sev_get_le32(s + 4);
		sec->type = sev_get_le32(s + 8);
		if (sec->gpa % PAGE_SIZE || sec->size % PAGE_SIZE || sec->size == 0)
			return error_set(e, "SEV metadata section %u (%s at 0x%x, 0x%x bytes) "
					 "is not page aligned", i,
					 sev_ovmf_section_name(sec->type), sec->gpa, sec->size);
		if ((uint64_t)sec->gpa + sec->size > o->gpa)
			return error_set(e, "SEV metadata section %u at 0x%x overlaps the "
					 "firmware", i, sec->gpa);
	}
	o->n_sections = count;
	o->has_metadata = true;
	return 0;
}

static int use_entry(struct sev_ovmf *o, const uint8_t *image, const struct footer_entry *ent,
		     struct error *e)
{
	if (sev_guid_equal(ent->guid, (struct sev_guid)SEV_GUID_HASH_TABLE_RV)) {
		if (ent->data_len < 8)
			return error_set(e, "SEV hash-table footer entry is too short");
		o->has_hash_table = true;
		o->hash_table_gpa = sev_get_le32(ent->data);
		o->hash_table_size = sev_get_le32(ent->data + 4);
	} else if (sev_guid_equal(ent->guid, (struct sev_guid)SEV_GUID_ES_RESET_BLOCK)) {
		if (ent->data_len < 4)
			return error_set(e, "SEV-ES reset-block footer entry is too short");
		o->has_es_reset = true;
		o->es_reset_eip = sev_get_le32(ent->data);
	} else if (sev_guid_equal(ent->guid, (struct sev_guid)SEV_GUID_SECRET_BLOCK)) {
		if (ent->data_len < 8)
			return error_set(e, "SEV secret-area footer entry is too short");
		o->has_secret = true;
		o->secret_gpa = sev_get_le32(ent->data);
		o->secret_size = sev_get_le32(ent->data + 4);
	} else if (sev_guid_equal(ent->guid, (struct sev_guid)SEV_GUID_OVMF_SEV_METADATA)) {
		return read_metadata(o, image, ent->data, ent->data_len, e);
	}
	return 0;
}

int sev_ovmf_parse(struct sev_ovmf *o, const uint8_t *image, size_t size, struct error *e)
{
	memset(o, 0, sizeof(*o));
	if (size < PAGE_SIZE || size % PAGE_SIZE)
		return error_set(e, "firmware is %zu bytes; expected a whole number of 4 KiB pages "
				 "(truncated image?)", size);
	if (size > SEV_OVMF_MAX_SIZE)
		return error_set(e, "firmware is %zu bytes; at most %u supported", size,
				 SEV_OVMF_MAX_SIZE);
	o->size = size;
	o->gpa = (1ull << 32) - size;

	size_t footer = size - RESET_TAIL - ENTRY_HEADER; /* start of the footer entry */
	if (!sev_guid_equal(image + footer + 2, (struct sev_guid)SEV_GUID_OVMF_TABLE_FOOTER))
		return error_set(e, "firmware has no OVMF GUIDed footer table (not an OVMF image "
				 "built with SEV support?)");
	size_t table_len = sev_get_le16(image + footer);
	if (table_len < ENTRY_HEADER || table_len > footer + ENTRY_HEADER)
		return error_set(e, "OVMF footer table length %zu is out of range", table_len);
	size_t start = footer + ENTRY_HEADER - table_len;

	/* Entries are read backwards: each ends with its length and GUID. */
	for (size_t end = footer; end > start;) {
		if (end - start < ENTRY_HEADER)
			return error_set(e, "OVMF footer table has %zu stray bytes", end - start);
		size_t len = sev_get_le16(image + end - ENTRY_HEADER);
		if (len < ENTRY_HEADER || len > end - start)
			return error_set(e, "OVMF footer table entry at 0x%zx has bad length %zu",
					 end - ENTRY_HEADER, len);
		struct footer_entry ent = {
			.guid = image + end - 16,
			.data = image + end - len,
			.data_len = len - ENTRY_HEADER,
		};
		if (use_entry(o, image, &ent, e) < 0)
			return -1;
		end -= len;
	}
	return 0;
}

const char *sev_ovmf_section_name(uint32_t type)
{
	switch (type) {
	case SEV_SECTION_SNP_SEC_MEM:
		return "SNP_SEC_MEM";
	case SEV_SECTION_SNP_SECRETS:
		return "SNP_SECRETS";
	case SEV_SECTION_CPUID:
		return "CPUID";
	case SEV_SECTION_SVSM_CAA:
		return "SVSM_CAA";
	case SEV_SECTION_SNP_KERNEL_HASHES:
		return "SNP_KERNEL_HASHES";
	default:
		return "unknown";
	}
}
