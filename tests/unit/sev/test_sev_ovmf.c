/* OVMF footer-table parsing: real images and malformed ones (clear errors, never a crash). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sev_bytes.h"
#include "sev_guid.h"
#include "sev_ovmf.h"
#include "sev_test_vectors.h"

#define PAGE 4096
#define FOOTER_AT (PAGE - 0x20 - 18) /* the footer entry of a one-page image */

static void expect_error(const uint8_t *image, size_t size, const char *needle)
{
	struct sev_ovmf o;
	struct error e = { "" };
	cr_assert_eq(sev_ovmf_parse(&o, image, size, &e), -1, "parse of bad image succeeded");
	cr_assert(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
	cr_assert_null(strchr(e.msg, '\n'), "message is one line");
}

/* A one-page image with a footer table holding the given entries (each already encoded). */
static void make_image(uint8_t image[PAGE], const uint8_t *entries, size_t entries_len)
{
	memset(image, 0xcc, PAGE);
	size_t table_len = entries_len + 18;
	memcpy(image + FOOTER_AT - entries_len, entries, entries_len);
	sev_put_le16(image + FOOTER_AT, (uint16_t)table_len);
	memcpy(image + FOOTER_AT + 2, ((struct sev_guid)SEV_GUID_OVMF_TABLE_FOOTER).b, 16);
}

static size_t encode_entry(uint8_t *out, const void *data, size_t len, struct sev_guid guid)
{
	memcpy(out, data, len);
	sev_put_le16(out + len, (uint16_t)(len + 18));
	memcpy(out + len + 2, guid.b, 16);
	return len + 18;
}

Test(sev_ovmf, parses_amdsev_footer)
{
	SEV_REQUIRE_VECTORS();
	size_t len = 0;
	uint8_t *fw = sev_vector_read("snp-measure/ovmf_AmdSev_suffix.bin", &len);
	struct sev_ovmf o;
	struct error e = { "" };
	cr_assert_eq(sev_ovmf_parse(&o, fw, len, &e), 0, "%s", e.msg);
	cr_assert_eq(o.gpa, 0xfffff000);
	cr_assert(o.has_hash_table && o.has_es_reset && o.has_metadata);
	cr_assert_gt(o.n_sections, 3);
	bool hashes = false;
	for (size_t i = 0; i < o.n_sections; i++)
		hashes |= o.sections[i].type == SEV_SECTION_SNP_KERNEL_HASHES;
	cr_assert(hashes, "AmdSev build has a kernel-hashes section");
	free(fw);
}

Test(sev_ovmf, truncated_firmware)
{
	uint8_t image[PAGE] = { 0 };
	expect_error(image, 100, "truncated");
	expect_error(image, PAGE - 1, "4 KiB");
	expect_error(image, 0, "truncated");
}

Test(sev_ovmf, truncated_real_firmware)
{
	SEV_REQUIRE_VECTORS();
	size_t len = 0;
	uint8_t *fw = sev_vector_read("snp-measure/ovmf_AmdSev_suffix.bin", &len);
	expect_error(fw, len - 16, "truncated");
	free(fw);
}

Test(sev_ovmf, missing_footer_guid)
{
	uint8_t image[PAGE];
	memset(image, 0, sizeof(image));
	expect_error(image, sizeof(image), "no OVMF GUIDed footer table");
}

Test(sev_ovmf, footer_length_out_of_range)
{
	uint8_t image[PAGE];
	make_image(image, NULL, 0);
	sev_put_le16(image + FOOTER_AT, 5);
	expect_error(image, sizeof(image), "out of range");
	sev_put_le16(image + FOOTER_AT, 0xffff);
	expect_error(image, sizeof(image), "out of range");
}

Test(sev_ovmf, entry_length_runs_outside_table)
{
	uint8_t entries[64];
	uint32_t eip = 0x80b004;
	size_t n = encode_entry(entries, &eip, 4, (struct sev_guid)SEV_GUID_ES_RESET_BLOCK);
	uint8_t image[PAGE];
	make_image(image, entries, n);
	sev_put_le16(image + FOOTER_AT - 18, 200); /* the entry claims more than the table */
	expect_error(image, sizeof(image), "bad length");
	sev_put_le16(image + FOOTER_AT - 18, 3);
	expect_error(image, sizeof(image), "bad length");
}

Test(sev_ovmf, short_entries_are_refused)
{
	uint8_t entries[64];
	uint8_t two[2] = { 1, 2 };
	size_t n = encode_entry(entries, two, 2, (struct sev_guid)SEV_GUID_ES_RESET_BLOCK);
	uint8_t image[PAGE];
	make_image(image, entries, n);
	expect_error(image, sizeof(image), "too short");
	n = encode_entry(entries, two, 2, (struct sev_guid)SEV_GUID_HASH_TABLE_RV);
	make_image(image, entries, n);
	expect_error(image, sizeof(image), "too short");
}

Test(sev_ovmf, metadata_offset_outside_image)
{
	uint8_t entries[64];
	uint32_t offset = PAGE + 16;
	size_t n = encode_entry(entries, &offset, 4, (struct sev_guid)SEV_GUID_OVMF_SEV_METADATA);
	uint8_t image[PAGE];
	make_image(image, entries, n);
	expect_error(image, sizeof(image), "outside");
}

Test(sev_ovmf, metadata_without_signature_or_with_too_many_sections)
{
	uint8_t entries[64];
	uint32_t offset = PAGE - 0x100; /* metadata header at 0x100 */
	size_t n = encode_entry(entries, &offset, 4, (struct sev_guid)SEV_GUID_OVMF_SEV_METADATA);
	uint8_t image[PAGE];
	make_image(image, entries, n);
	expect_error(image, sizeof(image), "ASEV");
	memcpy(image + 0x100, "ASEV", 4);
	sev_put_le32(image + 0x104, 16 + 12);
	sev_put_le32(image + 0x108, 1);
	sev_put_le32(image + 0x10c, 1000);
	expect_error(image, sizeof(image), "sections");
	sev_put_le32(image + 0x10c, 1);
	sev_put_le32(image + 0x110, 0x800123); /* unaligned section */
	sev_put_le32(image + 0x114, 0x1000);
	sev_put_le32(image + 0x118, 1);
	expect_error(image, sizeof(image), "page aligned");
	sev_put_le32(image + 0x110, 0x800000);
	struct sev_ovmf o;
	struct error e = { "" };
	cr_assert_eq(sev_ovmf_parse(&o, image, sizeof(image), &e), 0, "%s", e.msg);
	cr_assert_eq(o.n_sections, 1);
	cr_assert_eq(o.sections[0].gpa, 0x800000);
}

/* Every single-byte corruption of the real footer area either parses or fails cleanly. */
Test(sev_ovmf, corrupted_footer_bytes_never_crash)
{
	SEV_REQUIRE_VECTORS();
	size_t len = 0;
	uint8_t *fw = sev_vector_read("snp-measure/ovmf_AmdSev_suffix.bin", &len);
	for (size_t at = len - 0x200; at < len; at++) {
		for (int bit = 0; bit < 8; bit++) {
			fw[at] ^= (uint8_t)(1 << bit);
			struct sev_ovmf o;
			struct error e = { "" };
			if (sev_ovmf_parse(&o, fw, len, &e) < 0)
				cr_assert_neq(e.msg[0], '\0', "failure without a message");
			fw[at] ^= (uint8_t)(1 << bit);
		}
	}
	free(fw);
}
