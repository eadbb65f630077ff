#include "sev_hashes.h"

#include <string.h>

#include <openssl/sha.h>

#include "sev_bytes.h"
#include "sev_guid.h"

#define GUID_LEN 16
#define ENTRY_LEN (GUID_LEN + 2 + SHA256_DIGEST_LENGTH)

static uint8_t *put_entry(uint8_t *p, struct sev_guid guid, const uint8_t *data, size_t len)
{
	memcpy(p, guid.b, GUID_LEN);
	sev_put_le16(p + GUID_LEN, ENTRY_LEN);
	SHA256(data, len, p + GUID_LEN + 2);
	return p + ENTRY_LEN;
}

void sev_hashes_build(uint8_t table[SEV_HASH_TABLE_PADDED_LEN], const uint8_t *kernel,
		      size_t kernel_len, const uint8_t *initrd, size_t initrd_len,
		      const char *cmdline)
{
	static const uint8_t empty[1];
	const char *line = cmdline ? cmdline : "";

	memset(table, 0, SEV_HASH_TABLE_PADDED_LEN);
	memcpy(table, ((struct sev_guid)SEV_GUID_HASH_TABLE).b, GUID_LEN);
	sev_put_le16(table + GUID_LEN, SEV_HASH_TABLE_LEN);
	uint8_t *p = table + GUID_LEN + 2;
	p = put_entry(p, (struct sev_guid)SEV_GUID_HASH_CMDLINE, (const uint8_t *)line,
		      strlen(line) + 1);
	p = put_entry(p, (struct sev_guid)SEV_GUID_HASH_INITRD, initrd ? initrd : empty,
		      initrd ? initrd_len : 0);
	put_entry(p, (struct sev_guid)SEV_GUID_HASH_KERNEL, kernel ? kernel : empty,
		  kernel ? kernel_len : 0);
}

_Static_assert(GUID_LEN + 2 + 3 * ENTRY_LEN == SEV_HASH_TABLE_LEN, "hash table layout");
