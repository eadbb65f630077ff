#include "cpu_model.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define HOST_CPU_DIR   "/sys/devices/system/cpu"
#define LAPIC_ID_REG   0x20

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
	return resolve_topology(m, cfg, *cpuid, e);
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
