/* Inside the fake KVM: the PSP's half (sev_fake_psp.c) and what it shares with the host half. */
#ifndef EMBER_SEV_FAKE_PSP_H
#define EMBER_SEV_FAKE_PSP_H

#include "sev_fake_kvm.h"
#include "sev_kvm_uapi.h"

void fake_log(struct fake_kvm *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "name+0x..." for an address inside a named buffer (rotating static buffers: use at once). */
const char *fake_addr(const struct fake_kvm *f, uint64_t addr);
struct fake_slot *fake_slot_at(struct fake_kvm *f, uint64_t gpa);
bool fake_host_in_slots(const struct fake_kvm *f, uint64_t addr, uint64_t len);

/* KVM_MEMORY_ENCRYPT_OP. */
int fake_psp_command(struct fake_kvm *f, struct sev_kvm_cmd *cmd);

#endif
