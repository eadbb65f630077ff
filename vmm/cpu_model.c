#include "cpu_model.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define HOST_CPU_DIR   "/sys/devices/system/cpu"
#define LAPIC_ID_REG   0x20
#define XAPIC_MAX_UNICAST_ID 254 /* 255 is the xAPIC's broadcast */

static int load_template(struct cpu_model *m, const struct vm_config *cfg,
			 struct kvm_cpuid2 *cpuid, int kvm_fd, struct error *e)
{
	const char *name = cfg->cpu_template ? cfg->cpu_template : "host";
	if (cpu_template_load(name, &m->tmpl, e) < 0 ||
	    cpu_template_check_host(&m->tmpl, cpuid, kvm_fd, e) < 0)
		return -1;
	char missing[256];
	unsigned n = cpu_template_missing(&m->tmpl, cpuid, missing, sizeof(missing));
	if (n)
		fprintf(stderr, "ember: warning: CPU template %s: this host lacks %u of the features "
			"it shows (%s); the guest does not get them\n", m->tmpl.name, n, missing);
	return cpu_template_apply_cpuid(&m->tmpl, cpuid, e);
}

static int resolve_topology(struct cpu_model *m, const struct vm_config *cfg,
			    const struct kvm_cpuid2 *cpuid, struct error *e)
{
	struct topology_request req = cfg->topology;
	/* Firecracker's smt: two threads per core unless --topology says otherwise. */
	if (!req.threads && !req.host_ccx && cfg->smt && cfg->ncpus % 2 == 0)
		req.threads = 2;
	struct host_l3 host, *hostp = NULL;
	if (req.host_ccx) {
		if (topology_scan_host_l3(HOST_CPU_DIR, &host, e) < 0)
			return error_prefix(e, "--topology host-ccx");
		hostp = &host;
	}
	if (topology_resolve(&m->topo, cfg->ncpus, &req, hostp, topology_min_l3_id_bits(cpuid),
			     e) < 0)
		return -1;
	if (hostp) {
		char shape[128];
		topology_describe(&m->topo, shape, sizeof(shape));
		fprintf(stderr, "ember: --topology host-ccx: %s (host: %u L3 domain%s, %u cores x %u "
			"threads in the first%s)\n", shape, host.domains, host.domains == 1 ? "" : "s",
			host.cores_per_l3, host.threads_per_core, host.uniform ? "" : ", not uniform");
	}
	/* Does struct cpuid_topology, laid out plainly, give the same APIC ids and L3 domains? */
	struct topology plain = { .ncpus = m->topo.ncpus, .sockets = m->topo.sockets,
				  .cores_per_socket = m->topo.cores_per_socket,
				  .threads_per_core = m->topo.threads_per_core };
	topology_layout(&plain, 0);
	m->full_topology = plain.cores_per_l3 != m->topo.cores_per_l3 ||
			   plain.core_bits != m->topo.core_bits ||
			   plain.l3_bits != m->topo.l3_bits;
	return 0;
}

/* The highest APIC id the topology hands out: KVM creates each vCPU with its APIC id as vcpu id. */
static uint32_t highest_apic_id(const struct topology *t)
{
	uint32_t highest = 0;
	for (unsigned i = 0; i < t->ncpus; i++) {
		uint32_t id = topology_apic_id(t, i);
		highest = id > highest ? id : highest;
	}
	return highest;
}

/* KVM's limits: vCPUs per VM (KVM_CAP_MAX_VCPUS) and vcpu ids (KVM_CAP_MAX_VCPU_ID). APIC ids
 * past the xAPIC's 254 (255 is its broadcast) need KVM's x2APIC API: 32-bit ids in LAPIC state
 * and MSI routes, 0xff no longer a broadcast in x2APIC mode, and KVM's rule that lets an x2APIC
 * sender reach a vCPU still in xAPIC mode by an id above 255, which is how INIT/SIPI start every
 * AP past 255 (APs leave reset in xAPIC mode). Before the first vCPU. */
static int check_vcpu_limits(const struct topology *t, int vm_fd, struct error *e)
{
	int max = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && t->ncpus > (unsigned)max)
		return error_set(e, "--cpus %u: this KVM allows at most %d vCPUs in a VM "
				 "(KVM_CAP_MAX_VCPUS)", t->ncpus, max);
	uint32_t highest = highest_apic_id(t);
	int max_id = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	if (max_id <= 0)
		max_id = max;
	if (max_id > 0 && highest >= (unsigned)max_id)
		return error_set(e, "the topology's highest APIC id is %u, and this KVM's vCPU ids "
				 "stop at %d (KVM_CAP_MAX_VCPU_ID)", highest, max_id - 1);
	if (highest <= XAPIC_MAX_UNICAST_ID)
		return 0;
	const uint64_t want = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
	int api = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X2APIC_API);
	if (api < 0 || ((uint64_t)api & want) != want)
		return error_set(e, "APIC ids above %d (here up to %u) need KVM's x2APIC API, which "
				 "this KVM lacks (KVM_CAP_X2APIC_API = 0x%x)", XAPIC_MAX_UNICAST_ID,
				 highest, api < 0 ? 0 : api);
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X2APIC_API, .args = { want } };
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return error_errno(e, "KVM_ENABLE_CAP(KVM_CAP_X2APIC_API, 32-bit ids)");
	return 0;
}

int cpu_model_prepare(struct cpu_model *m, const struct vm_config *cfg, int kvm_fd, int vm_fd,
		      struct kvm_cpuid2 **cpuid, struct error *e)
{
	memset(m, 0, sizeof(*m));
	struct exits_config xc = { .dedicated_cores = cfg->dedicated_cores,
				   .halt_poll_ns = cfg->halt_poll_ns };
	if (exits_configure(vm_fd, &xc, &m->exits, e) < 0 ||
	    cpuid_get_supported(kvm_fd, cpuid, e) < 0 ||
	    load_template(m, cfg, *cpuid, kvm_fd, e) < 0)
		return -1;
	exits_pv_cpuid(*cpuid, &m->exits);
	if (resolve_topology(m, cfg, *cpuid, e) < 0)
		return -1;
	return check_vcpu_limits(&m->topo, vm_fd, e);
}

void cpu_model_plain_topology(const struct cpu_model *m, struct cpuid_topology *out)
{
	*out = (struct cpuid_topology){ .ncpus = m->topo.ncpus,
		.threads_per_core = m->topo.threads_per_core,
		.cores_per_socket = m->topo.cores_per_socket, .sockets = m->topo.sockets };
}

/* KVM gives a vCPU the APIC id it was created with (its vcpu id); the MADT and CPUID say
 * topology_apic_id. A mismatch would make the guest's IPIs go astray. */
static int check_lapic_id(const struct cpu_model *m, int vcpu_fd, unsigned index,
			  struct error *e)
{
	uint32_t want = topology_apic_id(&m->topo, index);
	struct kvm_lapic_state s;
	if (want > 255 || ioctl(vcpu_fd, KVM_GET_LAPIC, &s) < 0)
		return 0; /* xAPIC ids are 8 bits; nothing to compare */
	uint32_t reg;
	memcpy(&reg, &s.regs[LAPIC_ID_REG], sizeof(reg));
	if (reg >> 24 == want)
		return 0;
	return error_set(e, "KVM gave it APIC id %u, the topology says %u (this --topology leaves "
			    "gaps in the APIC ids, which needs vCPUs created with their APIC id as "
			    "KVM vcpu id)", reg >> 24, want);
}

int cpu_model_setup_vcpu(const struct cpu_model *m, const struct kvm_cpuid2 *cpuid, int vcpu_fd,
			 unsigned index, struct error *e)
{
	if (m->full_topology &&
	    topology_apply_vcpu_cpuid(vcpu_fd, cpuid, &m->topo, index, e) < 0)
		return error_prefix(e, "vCPU %u", index);
	if (check_lapic_id(m, vcpu_fd, index, e) < 0 ||
	    cpu_template_apply_msrs(&m->tmpl, vcpu_fd, e) < 0)
		return error_prefix(e, "vCPU %u", index);
	return 0;
}

void cpu_model_free(struct cpu_model *m)
{
	cpu_template_free(&m->tmpl);
}
