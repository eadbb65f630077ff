/* The one validated description of a VM. Every front end (flags, JSON config, the API, libvirt
 * XML) produces this struct; the VM is built from it and nothing else. */
#ifndef EMBER_VM_CONFIG_H
#define EMBER_VM_CONFIG_H

#include <stdint.h>

#define VM_CONFIG_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"
#define VM_CONFIG_DEFAULT_MEMORY  (512ULL << 20)
#define VM_CONFIG_MIN_MEMORY      (2ULL << 20)
#define VM_CONFIG_MAX_MEMORY      (1ULL << 40)   /* 1 TiB */
#define VM_CONFIG_MAX_CPUS        255

struct vm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;
	unsigned ncpus;
	uint64_t mem_size;
};

void vm_config_defaults(struct vm_config *cfg);

#endif
