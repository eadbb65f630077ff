#include "sev_codec.h"

#include <stdbool.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sev_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int sev_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t cap, size_t *len,
		   struct error *e)
{
	size_t i = 0, n = 0;
	int high = -1;
	while (i < text_len && is_space(text[i]))
		i++;
	if (text_len - i >= 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X'))
		i += 2;
	for (; i < text_len; i++) {
		if (is_space(text[i]))
			continue;
		int v = hex_value(text[i]);
		if (v < 0)
			return error_set(e, "bad hex: unexpected character 0x%02x at offset %zu",
					 (unsigned char)text[i], i);
		if (high < 0) {
			high = v;
			continue;
		}
		if (n == cap)
			return error_set(e, "bad hex: more than %zu bytes", cap);
		out[n++] = (uint8_t)(high << 4 | v);
		high = -1;
	}
	if (high >= 0)
		return error_set(e, "bad hex: odd number of digits");
	*len = n;
	return 0;
}

void sev_base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

int sev_base64_decode(const char *text, uint8_t *out, size_t cap, size_t *len, struct error *e)
{
	size_t text_len = strlen(text);
	if (text_len % 4 != 0)
		return error_set(e, "bad base64: length %zu is not a multiple of 4", text_len);
	size_t n = 0;
	for (size_t i = 0; i < text_len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = text[i + k];
			bool last_group = i + 4 == text_len;
			if (c == '=' && last_group && k >= 2 && (k == 3 || text[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(c);
			if (v[k] < 0 || pad)
				return error_set(e, "bad base64: unexpected character '%c' at "
						 "offset %zu", c, i + (size_t)k);
		}
		uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
				(uint32_t)v[3];
		size_t produce = 3 - (size_t)pad;
		if (n + produce > cap)
			return error_set(e, "bad base64: more than %zu bytes", cap);
		for (size_t k = 0; k < produce; k++)
			out[n++] = (uint8_t)(bits >> (16 - 8 * k));
	}
	*len = n;
	return 0;
}
