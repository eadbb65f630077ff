/* Text encodings used on Ember's SEV command line: hex (digests, reports) and base64 (nonces,
 * LAUNCH_MEASURE blobs). Decoders reject bad input with a message naming the first bad spot. */
#ifndef EMBER_SEV_CODEC_H
#define EMBER_SEV_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"

/* Writes 2*len lowercase hex digits and a NUL to out (room for 2*len+1). */
void sev_hex_encode(const uint8_t *in, size_t len, char *out);

/* Decodes hex text into out (cap bytes). Whitespace anywhere is skipped and a leading "0x" is
 * accepted, so `xxd -p` output and one-line dumps both work. Stores the byte count in *len. */
int sev_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t cap, size_t *len,
		   struct error *e);

/* Standard base64 (RFC 4648, with padding). out needs 4*ceil(len/3)+1 bytes. */
void sev_base64_encode(const uint8_t *in, size_t len, char *out);

/* Decodes standard base64 (padding required when the length is not a multiple of 3). */
int sev_base64_decode(const char *text, uint8_t *out, size_t cap, size_t *len, struct error *e);

#endif
