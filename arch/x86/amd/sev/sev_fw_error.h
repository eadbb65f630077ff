/* The PSP's status codes (SEV API spec "Status Codes"; SEV-SNP ABI spec adds 0x19 and up), which
 * KVM hands back in kvm_sev_cmd.error when a launch command fails in the firmware. */
#ifndef EMBER_SEV_FW_ERROR_H
#define EMBER_SEV_FW_ERROR_H

#include <stdint.h>

#define SEV_FW_INVALID_PARAM 0x16 /* SNP_LAUNCH_UPDATE: the PSP rejected a CPUID page */

/* "INVALID_PARAM", ...; "unknown" for codes Ember has no name for. */
const char *sev_fw_error_name(uint32_t code);

#endif
