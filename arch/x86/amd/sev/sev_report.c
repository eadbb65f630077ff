#include "sev_report.h"

#include <stdlib.h>
#include <string.h>

#include "sev_bytes.h"
#include "sev_codec.h"
#include "sev_file.h"

#define REPORT_FILE_MAX (64u << 10)
#define CPUID_FAMILY_TURIN 0x1a

struct sev_tcb sev_tcb_decode(uint64_t raw, bool turin)
{
	struct sev_tcb t = { .raw = raw, .has_fmc = turin };
	uint8_t b[8];
	sev_put_le64(b, raw);
	if (turin) {
		t.fmc = b[0];
		t.bootloader = b[1];
		t.tee = b[2];
		t.snp = b[3];
	} else {
		t.bootloader = b[0];
		t.tee = b[1];
		t.snp = b[6];
	}
	t.microcode = b[7];
	return t;
}

int sev_report_parse(struct sev_report *r, const uint8_t *raw, size_t len, struct error *e)
{
	memset(r, 0, sizeof(*r));
	if (len != SEV_REPORT_SIZE)
		return error_set(e, "report is %zu bytes; an SNP attestation report is %d", len,
				 SEV_REPORT_SIZE);
	r->version = sev_get_le32(raw + 0x00);
	if (r->version < 2)
		return error_set(e, "report version %u is not supported (2 or later)", r->version);
	r->guest_svn = sev_get_le32(raw + 0x04);
	r->policy = sev_get_le64(raw + 0x08);
	memcpy(r->family_id, raw + 0x10, 16);
	memcpy(r->image_id, raw + 0x20, 16);
	r->vmpl = sev_get_le32(raw + 0x30);
	r->signature_algo = sev_get_le32(raw + 0x34);
	r->platform_info = sev_get_le64(raw + 0x40);
	uint32_t key_info = sev_get_le32(raw + 0x48);
	r->author_key_en = key_info & 1;
	r->mask_chip_key = (key_info >> 1) & 1;
	r->signing_key = (key_info >> 2) & 7;
	memcpy(r->report_data, raw + 0x50, 64);
	memcpy(r->measurement, raw + 0x90, 48);
	memcpy(r->host_data, raw + 0xc0, 32);
	memcpy(r->id_key_digest, raw + 0xe0, 48);
	memcpy(r->author_key_digest, raw + 0x110, 48);
	memcpy(r->report_id, raw + 0x140, 32);
	memcpy(r->report_id_ma, raw + 0x160, 32);
	if (r->version >= 3) {
		r->cpuid_fam_id = raw[0x188];
		r->cpuid_mod_id = raw[0x189];
		r->cpuid_step = raw[0x18a];
	}
	memcpy(r->chip_id, raw + 0x1a0, 64);
	r->current_build = raw[0x1e8];
	r->current_minor = raw[0x1e9];
	r->current_major = raw[0x1ea];
	r->committed_build = raw[0x1ec];
	r->committed_minor = raw[0x1ed];
	r->committed_major = raw[0x1ee];

	bool turin = r->version >= 3 && r->cpuid_fam_id == CPUID_FAMILY_TURIN;
	r->current_tcb = sev_tcb_decode(sev_get_le64(raw + 0x38), turin);
	r->reported_tcb = sev_tcb_decode(sev_get_le64(raw + 0x180), turin);
	r->committed_tcb = sev_tcb_decode(sev_get_le64(raw + 0x1e0), turin);
	r->launch_tcb = sev_tcb_decode(sev_get_le64(raw + 0x1f0), turin);
	memcpy(r->sig_r, raw + SEV_REPORT_SIG_R, SEV_REPORT_SIG_COMPONENT);
	memcpy(r->sig_s, raw + SEV_REPORT_SIG_S, SEV_REPORT_SIG_COMPONENT);
	return 0;
}

static bool looks_like_hex(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			  (c >= 'A' && c <= 'F') || c == ' ' || c == '\n' || c == '\r' ||
			  c == '\t' || ((c == 'x' || c == 'X') && i > 0);
		if (!ok)
			return false;
	}
	return len > 0;
}

int sev_report_load(const char *path, uint8_t raw[SEV_REPORT_SIZE], struct error *e)
{
	uint8_t *data = NULL;
	size_t len = 0;
	if (sev_read_file(path, REPORT_FILE_MAX, &data, &len, e) < 0)
		return -1;
	int rc = 0;
	if (len == SEV_REPORT_SIZE && !looks_like_hex(data, len)) {
		memcpy(raw, data, SEV_REPORT_SIZE);
	} else {
		/* Anything else must be hex text; the decoder names the first bad character. */
		size_t n = 0;
		uint8_t buf[SEV_REPORT_SIZE + 1];
		if (sev_hex_decode((const char *)data, len, buf, sizeof(buf), &n, e) < 0)
			rc = error_prefix(e, "%s: neither a %d-byte binary report nor hex text",
					  path, SEV_REPORT_SIZE);
		else if (n != SEV_REPORT_SIZE)
			rc = error_set(e, "%s: hex text holds %s%zu bytes; an SNP report is %d%s",
				       path, n > SEV_REPORT_SIZE ? "more than " : "", n,
				       SEV_REPORT_SIZE, n < SEV_REPORT_SIZE ? " (truncated?)" : "");
		else
			memcpy(raw, buf, SEV_REPORT_SIZE);
	}
	free(data);
	return rc;
}
