/* A VM's CPU topology: sockets, cores, SMT threads and the L3 domains (AMD CCXs) they share, the
 * APIC id of every vCPU, and the CPUID leaves that describe it to the guest. The MADT (acpi.c)
 * and CPUID (cpuid.c) both take their APIC ids from here, so they cannot disagree.
 *
 * APIC id layout, low bits first: [thread | core within its L3 | L3 within the socket | socket],
 * each field as wide as its count rounded up to a power of two. Guests decode ids that way (AMD
 * APM vol. 3 E.4 "Multiple processor calculation"; Intel SDM vol. 3A 10.12 "Hierarchical mapping
 * of shared resources"), so counts that are not powers of two leave ids unused. */
#ifndef EMBER_X86_TOPOLOGY_H
#define EMBER_X86_TOPOLOGY_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"

#define TOPOLOGY_MAX_SOCKETS 16
#define TOPOLOGY_MAX_CORES   1024  /* per socket: as many as a VM may have vCPUs */
#define TOPOLOGY_MAX_THREADS 8     /* per core (x86 parts have 1 or 2) */

/* What was asked for (`--topology`, vm_config). Zero fields are derived from the vCPU count. */
struct topology_request {
	unsigned sockets;          /* default 1 */
	unsigned cores;            /* per socket; default: what the vCPU count leaves */
	unsigned threads;          /* per core; default 1 */
	unsigned cores_per_l3;     /* cores sharing one L3; default: the whole socket */
	bool host_ccx;             /* L3 domains (and SMT) shaped like the host's CCXs */
};

/* The host's L3 domains, from /sys/devices/system/cpu (topology_scan_host_l3). */
struct host_l3 {
	unsigned cpus;             /* online CPUs */
	unsigned domains;          /* distinct L3 caches among them */
	unsigned threads_per_core; /* SMT siblings of the first online CPU */
	unsigned cores_per_l3;     /* cores sharing the first online CPU's L3 */
	bool uniform;              /* every domain has as many CPUs as the first */
};

struct topology {
	unsigned ncpus;
	unsigned sockets;
	unsigned cores_per_socket;
	unsigned threads_per_core;
	unsigned cores_per_l3;     /* == cores_per_socket: one L3 per socket */
	/* Derived (topology_layout): field widths of the APIC id. */
	unsigned smt_bits;         /* thread */
	unsigned core_bits;        /* core within its L3 domain (padded, see min_l3_id_bits) */
	unsigned l3_bits;          /* L3 domain within the socket */
	unsigned package_shift;    /* smt_bits + core_bits + l3_bits */
};

/* Where one vCPU sits. */
struct topology_place {
	uint32_t apic_id;
	unsigned package;          /* socket, also the NUMA-less node id */
	unsigned l3;               /* L3 domain within the socket */
	unsigned core;             /* core within the socket */
	unsigned thread;           /* thread within the core */
};

/* Parses "sockets=S,cores=C,threads=T[,l3-cores=N]" (any subset, any order) or "host-ccx"
 * (optionally with sockets=/threads=) into req. */
int topology_parse(const char *text, struct topology_request *req, struct error *e);

/* Resolves a request for ncpus vCPUs: fills the defaults, checks that the counts multiply to
 * ncpus and lays out the APIC ids. `host` is needed only for req->host_ccx (NULL otherwise).
 * min_l3_id_bits: every L3 domain spans at least 2^n APIC ids (topology_min_l3_id_bits). */
int topology_resolve(struct topology *t, unsigned ncpus, const struct topology_request *req,
		     const struct host_l3 *host, unsigned min_l3_id_bits, struct error *e);

/* Lays out a topology whose counts are already set (no validation; zero counts become 1, or
 * what ncpus leaves for cores). What cpuid_normalize uses for struct cpuid_topology. */
void topology_layout(struct topology *t, unsigned min_l3_id_bits);

void topology_place(const struct topology *t, unsigned index, struct topology_place *p);
uint32_t topology_apic_id(const struct topology *t, unsigned index);
/* Writes the APIC id of every vCPU into ids[0..ncpus-1]. */
void topology_apic_ids(const struct topology *t, uint32_t *ids);
/* True when vCPU i has APIC id i for every i (KVM's default numbering of vCPUs). */
bool topology_ids_dense(const struct topology *t);

/* Linux hardcodes the L3 domain of AMD family 17h models 00h-1Fh (Naples, and QEMU's "EPYC"
 * model) as APIC id bit 3 and up; every other CPU gets it from CPUID. Returns the minimum L3
 * span in APIC id bits for a guest that sees this family/model (0: no constraint). */
unsigned topology_min_l3_id_bits(const struct kvm_cpuid2 *c);

/* Reads the host's L3 domains below cpu_dir (normally "/sys/devices/system/cpu"). */
int topology_scan_host_l3(const char *cpu_dir, struct host_l3 *out, struct error *e);

/* Rewrites every topology field of `c` for vCPU `index`: leaf 1 (APIC id, logical count, HTT),
 * leaf 4 and 0x8000001D cache sharing, 0xB/0x1F, and on AMD 0x80000001 CmpLegacy/TopoExt,
 * 0x80000008 NC/ApicIdSize, 0x8000001E and 0x80000026. May append entries: `c` needs room for
 * CPUID_MAX_ENTRIES. */
void topology_write_cpuid(struct kvm_cpuid2 *c, const struct topology *t, unsigned index);

/* KVM_SET_CPUID2 on one vCPU: tmpl normalized (cpuid.c) and then given the whole topology,
 * including what struct cpuid_topology cannot say (L3 domains, padded APIC ids). */
int topology_apply_vcpu_cpuid(int vcpu_fd, const struct kvm_cpuid2 *tmpl, const struct topology *t,
			      unsigned index, struct error *e);

/* Short human description, e.g. "1 socket x 4 cores x 2 threads, L3 per 4 cores". */
void topology_describe(const struct topology *t, char *buf, unsigned size);

#endif
