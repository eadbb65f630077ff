/* The one validated description of a VM. Every front end (flags, JSON config, the API, libvirt
 * XML) produces this struct; the VM is built from it and nothing else. */
#ifndef EMBER_VM_CONFIG_H
#define EMBER_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../arch/x86/topology.h"
#include "../devices/virtio/balloon_options.h"
#include "../devices/virtio/blk_options.h"
#include "../devices/virtio/net_options.h"
#include "../devices/virtio/vsock_options.h"
#include "memory_backing.h"

#define VM_CONFIG_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"
#define VM_CONFIG_DEFAULT_MEMORY  (512ULL << 20)
#define VM_CONFIG_MIN_MEMORY      (2ULL << 20)
#define VM_CONFIG_MAX_MEMORY      (1ULL << 40)   /* 1 TiB */
#define VM_CONFIG_MAX_CPUS        1024  /* also capped by KVM_CAP_MAX_VCPUS (vmm/cpu_model.c) */

/* --console: the guest console on stdin/stdout. serial: COM1 (ttyS0); virtio: a virtio-console
 * device (hvc0) gets stdin and writes to stdout, COM1 still writes to stdout (docs/devices.md). */
enum vm_console { VM_CONSOLE_SERIAL, VM_CONSOLE_VIRTIO };
/* The default kernel command line with --console virtio. */
#define VM_CONFIG_VIRTIO_CONSOLE_CMDLINE "console=hvc0 reboot=k panic=1"

/* --sev: a confidential guest launched by the AMD secure processor (docs/sev.md). */
enum vm_sev_mode { VM_SEV_OFF, VM_SEV_SEV, VM_SEV_ES, VM_SEV_SNP };

/* --sev's companions (vmm/cli_sev.c): the VMSAs' features and the guest owner's files. */
struct vm_sev_owner {
	uint64_t features;           /* --sev-features: SEV_FEATURES; 0: 0x1 for snp, none for sev-es */
	const char *dh_cert;         /* --sev-dh-cert: the owner's PDH certificate (sevctl, base64) */
	const char *session;         /* --sev-session: the owner's launch session blob (base64) */
	const char *measurement_out; /* --sev-measurement-out: the launch measurement goes here */
	const char *secret;          /* --sev-secret: the owner's LAUNCH_SECRET, read after it */
};

struct vm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;
	unsigned ncpus;
	uint64_t mem_size;
	bool smt;                /* two threads per core (ncpus 1 or even), like Firecracker's smt */
	bool rng;                /* --rng: a virtio-rng device (PCI) fed by the host's getrandom */
	enum vm_console console; /* --console: what stdin feeds (COM1 output always reaches stdout) */
	struct virtio_blk_options disks[VIRTIO_BLK_MAX_DISKS]; /* --disk (repeatable): virtio-blk */
	unsigned ndisks;
	enum virtio_blk_engine io_engine; /* --io-engine: io_uring (default) or sync */
	struct net_options nets[NET_MAX_DEVICES]; /* --net (repeatable): virtio-net on a TAP */
	unsigned nnets;
	struct vsock_options vsock;     /* --vsock: virtio-vsock, host side on Unix sockets */
	struct balloon_options balloon; /* --balloon: virtio-balloon */

	/* CPU and memory tuning (docs/epyc.md). */
	struct topology_request topology; /* --topology; zeros: 1 socket, 1 thread per core */
	const char *cpu_template;  /* --cpu-template: NULL (= host), a built-in name or a .json */
	struct memory_backing memory; /* --memory-backing, --numa-node, --prefault */
	const char *cpu_affinity;  /* --cpu-affinity: vCPU i runs on the i-th host CPU listed */
	bool dedicated_cores;      /* --dedicated-cores: HLT/PAUSE/MWAIT stay in the guest */
	long long halt_poll_ns;    /* --halt-poll-ns; -1: KVM's default */
	bool memory_stats;         /* --memory-stats: report how guest RAM is backed at the end */

	/* Confidential guests (arch/x86/amd/sev): OVMF, measured and encrypted by the PSP. */
	enum vm_sev_mode sev;      /* --sev sev|sev-es|snp */
	uint64_t sev_policy;       /* --sev-policy; 0: the mode's default */
	const char *firmware_path; /* --firmware: an OvmfPkg/AmdSev OVMF.fd */
	struct vm_sev_owner sev_owner;

	/* How `ember run` is driven, not what the VM is (vmm/api: the Firecracker-style API). */
	const char *api_sock_path; /* --api-sock: serve the API while the VM runs */
	const char *config_file;   /* --config-file: the VM comes from a Firecracker JSON file */
	const char *libvirt_xml;   /* --libvirt-xml: the VM comes from a libvirt domain XML file */
	bool libvirt_lenient;      /* --libvirt-lenient: warn about what Ember cannot honour */
	const char *libvirt_vsock_uds; /* --vsock-uds: host socket of the domain's <vsock> */
};

void vm_config_defaults(struct vm_config *cfg);

#endif
