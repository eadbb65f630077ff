#include "sev_fw_error.h"

#include <stddef.h>

static const char *const names[] = {
	[0x00] = "SUCCESS",
	[0x01] = "INVALID_PLATFORM_STATE",
	[0x02] = "INVALID_GUEST_STATE",
	[0x03] = "INVALID_CONFIG",
	[0x04] = "INVALID_LENGTH",
	[0x05] = "ALREADY_OWNED",
	[0x06] = "INVALID_CERTIFICATE",
	[0x07] = "POLICY_FAILURE",
	[0x08] = "INACTIVE",
	[0x09] = "INVALID_ADDRESS",
	[0x0a] = "BAD_SIGNATURE",
	[0x0b] = "BAD_MEASUREMENT",
	[0x0c] = "ASID_OWNED",
	[0x0d] = "INVALID_ASID",
	[0x0e] = "WBINVD_REQUIRED",
	[0x0f] = "DFFLUSH_REQUIRED",
	[0x10] = "INVALID_GUEST",
	[0x11] = "INVALID_COMMAND",
	[0x12] = "ACTIVE",
	[0x13] = "HWERROR_PLATFORM",
	[0x14] = "HWERROR_UNSAFE",
	[0x15] = "UNSUPPORTED",
	[0x16] = "INVALID_PARAM",
	[0x17] = "RESOURCE_LIMIT",
	[0x18] = "SECURE_DATA_INVALID",
	[0x19] = "INVALID_PAGE_SIZE",
	[0x1a] = "INVALID_PAGE_STATE",
	[0x1b] = "INVALID_MDATA_ENTRY",
	[0x1c] = "INVALID_PAGE_OWNER",
	[0x1d] = "AEAD_OFLOW",
	[0x1f] = "EXIT_RING_BUFFER",
	[0x20] = "RMP_INIT_REQUIRED",
	[0x21] = "BAD_SVN",
	[0x22] = "BAD_VERSION",
	[0x23] = "SHUTDOWN_REQUIRED",
	[0x27] = "INVALID_KEY",
};

const char *sev_fw_error_name(uint32_t code)
{
	if (code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown";
}
