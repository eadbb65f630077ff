/* Pieces shared by the launch's files: sev_launch.c (set-up, memory, dispatch),
 * sev_launch_sev.c (SEV / SEV-ES) and sev_launch_snp.c (SEV-SNP). */
#ifndef EMBER_SEV_LAUNCH_INTERNAL_H
#define EMBER_SEV_LAUNCH_INTERNAL_H

#include "sev_launch.h"

#define SEV_PAGE_SIZE 4096ull

/* Issues KVM_MEMORY_ENCRYPT_OP sub-command id with data. On failure the launch becomes FAILED
 * and e says "<NAME> failed: firmware error 0x.. (NAME)" (or the errno when the PSP was not
 * reached), followed by ", " and context when context is not NULL. */
int sev_launch_cmd(struct sev_launch *l, uint32_t id, void *data, const char *context,
		   struct error *e);

/* Marks the launch FAILED and returns -1 (e already filled). */
int sev_launch_fail(struct sev_launch *l);

/* Host address of [gpa, gpa+len), which must lie in one registered slot; else NULL with e
 * naming `what` and the range. */
uint8_t *sev_launch_host(struct sev_launch *l, const char *what, uint64_t gpa, uint64_t len,
			 struct error *e);

/* Loads vCPU i from the plan's VMSA i (SEV: vCPU 0 from a reset-state VMSA). */
int sev_launch_load_vcpus(struct sev_launch *l, struct error *e);

int sev_launch_load_sev(struct sev_launch *l, struct error *e);
int sev_launch_load_snp(struct sev_launch *l, struct error *e);
int sev_launch_finish_snp(struct sev_launch *l, struct error *e);

#endif
