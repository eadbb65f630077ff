#include "sev_owner.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sev_codec.h"
#include "sev_digest.h"

/* Reads path to its end into a NUL-terminated buffer. Unlike sev_read_file it takes FIFOs: the
 * secret may come through one, and open() then waits for the owner to write. */
static char *read_text(const char *path, size_t *len, struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error_errno(e, "%s", path);
		return NULL;
	}
	char *buf = malloc(SEV_OWNER_FILE_MAX + 1);
	size_t n = 0;
	while (buf && n <= SEV_OWNER_FILE_MAX) {
		ssize_t got = read(fd, buf + n, SEV_OWNER_FILE_MAX + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			error_errno(e, "%s: read", path);
			break;
		}
		if (got == 0) {
			close(fd);
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)got;
	}
	if (!buf)
		error_set(e, "%s: out of memory", path);
	else if (n > SEV_OWNER_FILE_MAX)
		error_set(e, "%s: larger than %u bytes", path, SEV_OWNER_FILE_MAX);
	free(buf);
	close(fd);
	return NULL;
}

/* Decodes base64 text, skipping whitespace (files wrap lines; FIFOs end with a newline). */
static int decode_base64(const char *text, size_t text_len, size_t cap, uint8_t **out,
			 size_t *len, struct error *e)
{
	char *packed = malloc(text_len + 1);
	uint8_t *data = malloc(cap ? cap : 1);
	if (!packed || !data) {
		free(packed);
		free(data);
		return error_set(e, "out of memory");
	}
	size_t n = 0;
	for (size_t i = 0; i < text_len; i++)
		if (!isspace((unsigned char)text[i]))
			packed[n++] = text[i];
	packed[n] = '\0';
	int rc = n ? sev_base64_decode(packed, data, cap, len, e) : error_set(e, "no base64 text");
	free(packed);
	if (rc < 0) {
		free(data);
		return -1;
	}
	*out = data;
	return 0;
}

int sev_owner_read_base64(const char *path, uint8_t **data, size_t *len, struct error *e)
{
	size_t text_len;
	char *text = read_text(path, &text_len, e);
	if (!text)
		return -1;
	int rc = decode_base64(text, text_len, text_len, data, len, e);
	free(text);
	return rc < 0 ? error_prefix(e, "%s", path) : 0;
}

static void put_line(FILE *f, const char *key, const uint8_t *bytes, size_t len, bool base64)
{
	char *text = malloc(len * 2 + 4);
	if (!text)
		return;
	if (base64)
		sev_base64_encode(bytes, len, text);
	else
		sev_hex_encode(bytes, len, text);
	fprintf(f, "%s: %s\n", key, text);
	free(text);
}

int sev_owner_write_measurement(const char *path, const struct sev_owner_measurement *m,
				struct error *e)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return error_errno(e, "%s", path);
	fprintf(f, "# Ember launch of a confidential guest. The guest owner checks it with\n"
		   "# `ember sev measure` on their own copy of the firmware, kernel, initrd and\n"
		   "# command line, using the values below as its flags (docs/sev.md).\n");
	fprintf(f, "mode: %s\npolicy: 0x%" PRIx64 "\n", sev_mode_name(m->mode), m->policy);
	/* SEV measures no vCPU state: the VMSA's parameters mean something for SEV-ES and SNP. */
	if (m->mode != SEV_MODE_SEV)
		fprintf(f, "vcpus: %u\nvcpu-sig: 0x%08" PRIx32 "\nguest-features: 0x%" PRIx64 "\n",
			m->vcpus, m->vcpu_sig, m->guest_features);
	if (m->have_api)
		fprintf(f, "api-major: %u\napi-minor: %u\nbuild: %u\n", m->api_major, m->api_minor,
			m->build);
	if (m->blob && m->blob_len >= SEV_NONCE_LEN) {
		put_line(f, "measurement", m->blob, m->blob_len, true);
		put_line(f, "nonce", m->blob + m->blob_len - SEV_NONCE_LEN, SEV_NONCE_LEN, true);
	}
	/* The host's own prediction: useful to compare, never a reason to trust the guest. */
	if (m->digest && m->digest_len)
		put_line(f, "launch-digest", m->digest, m->digest_len, false);
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed)
		return error_errno(e, "%s: write", path);
	return 0;
}

void sev_owner_secret_free(struct sev_owner_secret *s)
{
	free(s->header);
	free(s->blob);
	memset(s, 0, sizeof(*s));
}

/* One "key: value" line of the secret file. */
static int secret_line(struct sev_owner_secret *s, const char *key, size_t key_len,
		       const char *value, size_t value_len, struct error *e)
{
	if (key_len == 6 && memcmp(key, "header", 6) == 0) {
		if (s->header)
			return error_set(e, "header given twice");
		return decode_base64(value, value_len, SEV_OWNER_SECRET_MAX, &s->header,
				     &s->header_len, e) < 0 ? error_prefix(e, "header") : 0;
	}
	if (key_len == 6 && memcmp(key, "secret", 6) == 0) {
		if (s->blob)
			return error_set(e, "secret given twice");
		return decode_base64(value, value_len, SEV_OWNER_SECRET_MAX, &s->blob, &s->blob_len,
				     e) < 0 ? error_prefix(e, "secret") : 0;
	}
	if (key_len == 3 && memcmp(key, "gpa", 3) == 0) {
		char text[32];
		if (value_len >= sizeof(text))
			return error_set(e, "gpa: not an address");
		memcpy(text, value, value_len);
		text[value_len] = '\0';
		char *end;
		errno = 0;
		unsigned long long gpa = strtoull(text, &end, 0);
		if (errno || end == text || *end || text[0] == '-')
			return error_set(e, "gpa: '%s' is not an address", text);
		s->has_gpa = true;
		s->gpa = gpa;
		return 0;
	}
	return error_set(e, "unknown key '%.*s' (header, secret, gpa)", (int)key_len, key);
}

static int parse_secret(char *text, struct sev_owner_secret *s, struct error *e)
{
	unsigned line_no = 0;
	for (char *line = text, *next; line; line = next) {
		line_no++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		size_t len = strlen(line);
		while (len && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		char *colon = strchr(line, ':');
		if (!colon)
			return error_set(e, "line %u: expected 'key: value'", line_no);
		size_t key_len = (size_t)(colon - line);
		while (key_len && isspace((unsigned char)line[key_len - 1]))
			key_len--;
		const char *value = colon + 1;
		while (isspace((unsigned char)*value))
			value++;
		if (secret_line(s, line, key_len, value, strlen(value), e) < 0)
			return error_prefix(e, "line %u", line_no);
	}
	if (!s->header || !s->blob)
		return error_set(e, "needs both 'header:' and 'secret:'");
	if (!s->header_len || !s->blob_len)
		return error_set(e, "empty %s", s->header_len ? "secret" : "header");
	return 0;
}

int sev_owner_read_secret(const char *path, struct sev_owner_secret *s, struct error *e)
{
	memset(s, 0, sizeof(*s));
	size_t len;
	char *text = read_text(path, &len, e);
	if (!text)
		return -1;
	int rc = parse_secret(text, s, e);
	free(text);
	if (rc < 0) {
		sev_owner_secret_free(s);
		return error_prefix(e, "%s", path);
	}
	return 0;
}
