/* What each part of a libvirt domain becomes in Ember's vm_config (docs/libvirt.md), over the
 * fixtures in tests/libvirt/fixtures and small inline domains. */
#include "libvirt_test.h"

Test(libvirt_mapping, minimal_domain_gets_ember_defaults)
{
	struct libvirt_domain d;
	test_parse_fixture("minimal.xml", &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_str_eq(d.name, "minimal");
	cr_assert_str_eq(d.cfg.kernel_path, "/boot/vmlinux");
	cr_assert_null(d.cfg.initrd_path);
	cr_assert_str_eq(d.cfg.cmdline, VM_CONFIG_DEFAULT_CMDLINE, "no <cmdline>: Ember's default");
	cr_assert_eq(d.cfg.mem_size, 128ULL << 20, "<memory> without unit is KiB");
	cr_assert_eq(d.cfg.ncpus, 1);
	cr_assert_eq(d.cfg.ndisks, 0);
	cr_assert_eq(d.cfg.nnets, 0);
	cr_assert_not(d.cfg.rng);
	cr_assert_not(d.cfg.balloon.enabled);
	cr_assert_not(d.cfg.vsock.enabled);
	cr_assert_eq(d.cfg.console, VM_CONSOLE_SERIAL);
	cr_assert_null(d.cfg.cpu_affinity);
	cr_assert_null(d.cfg.cpu_template);
	cr_assert_eq(d.cfg.memory.kind, MEMORY_BACKING_ANON);
	cr_assert_eq(d.cfg.memory.numa_node, -1);
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, q35_domain_with_libvirts_implicit_devices_runs)
{
	struct libvirt_domain d;
	test_parse_fixture("q35-implicit.xml", &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_eq(d.cfg.mem_size, 2ULL << 30);
	cr_assert_eq(d.cfg.ncpus, 2);
	cr_assert_str_eq(d.cfg.initrd_path, "/var/lib/ember/initrd.img");
	cr_assert_str_eq(d.cfg.cmdline, "console=ttyS0 root=/dev/vda rw");
	cr_assert_eq(d.cfg.ndisks, 1);
	cr_assert_str_eq(d.cfg.disks[0].path, "/var/lib/libvirt/images/debian12.img");
	cr_assert_eq(d.cfg.nnets, 1);
	cr_assert_str_eq(d.cfg.nets[0].tap, "tap-debian12");
	cr_assert(d.cfg.rng);
	cr_assert(d.cfg.balloon.enabled, "the implicit virtio memballoon is Ember's balloon");
	cr_assert_eq(d.cfg.balloon.target_mib, 0, "currentMemory == memory: nothing to give back");
	cr_assert_eq(d.cfg.console, VM_CONSOLE_SERIAL);
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, every_mapping_at_once)
{
	struct libvirt_domain d;
	test_parse_fixture("full.xml", &d);
	ASSERT_NO_ISSUES(&d);
	struct vm_config *c = &d.cfg;
	cr_assert_str_eq(c->kernel_path, "/boot/vmlinuz-full");
	cr_assert_str_eq(c->initrd_path, "/boot/initrd-full");
	cr_assert_str_eq(c->cmdline, "console=hvc0 root=/dev/vda quiet");
	/* Memory: 4 GiB of RAM, 3 GiB current -> the balloon starts by taking 1 GiB. */
	cr_assert_eq(c->mem_size, 4ULL << 30);
	cr_assert(c->balloon.enabled);
	cr_assert_eq(c->balloon.target_mib, 1024);
	cr_assert(c->balloon.deflate_on_oom);
	cr_assert(c->balloon.free_page_reporting);
	cr_assert_eq(c->balloon.stats_interval_s, 5);
	cr_assert_eq(c->memory.kind, MEMORY_BACKING_HUGETLB_1G);
	cr_assert(c->memory.prefault, "allocation mode='immediate'");
	cr_assert_eq(c->memory.numa_node, 1);
	/* vCPUs: cpuset 4-11,^6 pins vCPU i to its i-th CPU; topology 1 x 2 x 2. */
	cr_assert_eq(c->ncpus, 4);
	cr_assert_str_eq(c->cpu_affinity, "4,5,7,8");
	cr_assert_eq(c->topology.sockets, 1);
	cr_assert_eq(c->topology.cores, 2);
	cr_assert_eq(c->topology.threads, 2);
	cr_assert_null(c->cpu_template, "host-passthrough is Ember's default CPU");
	/* Disks. */
	cr_assert_eq(c->ndisks, 2);
	cr_assert_str_eq(c->disks[0].path, "/var/lib/ember/root.img");
	cr_assert_str_eq(c->disks[0].serial, "root-disk-01");
	cr_assert_not(c->disks[0].readonly);
	cr_assert_not(c->disks[0].direct);
	cr_assert_eq(c->disks[0].queues, 1);
	cr_assert_str_eq(c->disks[1].path, "/dev/vg0/data", "type='block': <source dev>");
	cr_assert(c->disks[1].readonly);
	cr_assert(c->disks[1].direct, "cache='none' is O_DIRECT");
	cr_assert_eq(c->disks[1].queues, 2);
	/* Interfaces. */
	cr_assert_eq(c->nnets, 2);
	cr_assert_str_eq(c->nets[0].id, "net0");
	cr_assert_str_eq(c->nets[0].tap, "tap0");
	cr_assert(c->nets[0].mac_set);
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	cr_assert_arr_eq(c->nets[0].mac, mac, 6);
	cr_assert_eq(c->nets[0].mtu, 9000);
	cr_assert_str_eq(c->nets[1].id, "net1");
	cr_assert_str_eq(c->nets[1].tap, "tap1");
	cr_assert_not(c->nets[1].mac_set, "no <mac>: Ember picks one");
	cr_assert_eq(c->nets[1].mtu, 0);
	/* Console, rng, vsock. */
	cr_assert_eq(c->console, VM_CONSOLE_VIRTIO);
	cr_assert(c->rng);
	cr_assert(c->vsock.enabled);
	cr_assert_eq(c->vsock.guest_cid, 42);
	cr_assert_str_eq(c->vsock.uds_path, "/run/ember/full.vsock", "from <ember:vsock>");
	cr_assert_str_eq(c->vsock.id, "vsock0");
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, vcpupin_template_memfd_and_virtio_console)
{
	struct libvirt_domain d;
	test_parse_fixture("pinning.xml", &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_eq(d.cfg.ncpus, 3);
	cr_assert_str_eq(d.cfg.cpu_affinity, "7,3,9", "<vcpupin> wins over <vcpu cpuset>, in "
			 "vCPU order");
	cr_assert_str_eq(d.cfg.cpu_template, "epyc-milan");
	cr_assert_eq(d.cfg.memory.kind, MEMORY_BACKING_MEMFD);
	cr_assert_eq(d.cfg.console, VM_CONSOLE_VIRTIO);
	cr_assert_str_eq(d.cfg.cmdline, VM_CONFIG_VIRTIO_CONSOLE_CMDLINE,
			 "virtio console, no <cmdline>: Ember's hvc0 default");
	cr_assert_not(d.cfg.balloon.enabled, "memballoon model='none'");
	libvirt_domain_free(&d);
}

static void parse_ok(const char *xml, struct libvirt_domain *d)
{
	struct error e = { "" };
	cr_assert_eq(test_parse_text(xml, d, &e), 0, "%s", e.msg);
}

Test(libvirt_mapping, memory_units_and_rounding)
{
	struct libvirt_domain d;
	parse_ok("<domain type='kvm'><memory unit='b'>4194305</memory><os><kernel>/k</kernel>"
		 "</os></domain>", &d);
	cr_assert_eq(d.cfg.mem_size, 4194304 + 4096, "rounded up to whole 4 KiB pages");
	libvirt_domain_free(&d);
	parse_ok("<domain type='kvm'><memory unit='GB'>1</memory><os><kernel>/k</kernel>"
		 "</os></domain>", &d);
	cr_assert_eq(d.cfg.mem_size, 1000000000ULL + 1536, "10^9 bytes, rounded up to 4 KiB");
	libvirt_domain_free(&d);
	parse_ok("<domain type='kvm'><memory unit='M'>300</memory><os><kernel>/k</kernel>"
		 "</os></domain>", &d);
	cr_assert_eq(d.cfg.mem_size, 300ULL << 20);
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, cpu_models)
{
	static const struct {
		const char *model, *template;
	} cases[] = {
		{ "EPYC-Milan", "epyc-milan" },
		{ "EPYC-Milan-v2", "epyc-milan" },
		{ "EPYC-Genoa", "epyc-genoa" },
		{ "epyc-genoa-v1", "epyc-genoa" },
		{ "EPYC-Turin", "epyc-turin" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char xml[512];
		snprintf(xml, sizeof(xml), TEST_DOMAIN("<cpu mode='custom'><model>%s</model></cpu>",
						       ""), cases[i].model);
		struct libvirt_domain d;
		parse_ok(xml, &d);
		ASSERT_NO_ISSUES(&d);
		cr_assert_str_eq(d.cfg.cpu_template, cases[i].template, "%s", cases[i].model);
		libvirt_domain_free(&d);
	}
	struct libvirt_domain d;
	parse_ok(TEST_DOMAIN("<cpu mode='host-model'/>", ""), &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_null(d.cfg.cpu_template);
	libvirt_domain_free(&d);
	parse_ok(TEST_DOMAIN("<cpu><topology sockets='2' cores='1' threads='1'/></cpu>"
			     "<vcpu>2</vcpu>", ""), &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_eq(d.cfg.topology.sockets, 2);
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, hugepages_default_size_is_2m)
{
	struct libvirt_domain d;
	parse_ok(TEST_DOMAIN("<memoryBacking><hugepages/><source type='memfd'/></memoryBacking>",
			     ""), &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_eq(d.cfg.memory.kind, MEMORY_BACKING_HUGETLB_2M, "huge pages win over memfd");
	libvirt_domain_free(&d);
	parse_ok(TEST_DOMAIN("<memoryBacking><hugepages><page size='2048'/></hugepages>"
			     "</memoryBacking>", ""), &d);
	cr_assert_eq(d.cfg.memory.kind, MEMORY_BACKING_HUGETLB_2M, "page size in KiB by default");
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, disk_bus_from_its_name_and_cache_modes)
{
	struct libvirt_domain d;
	parse_ok(TEST_DOMAIN("", "<disk type='file'><source file='/a'/><target dev='vdc'/>"
				 "<driver type='raw' cache='writeback'/><shareable/></disk>"), &d);
	ASSERT_NO_ISSUES(&d);
	cr_assert_eq(d.cfg.ndisks, 1, "no bus: 'vd*' is virtio, as libvirt derives it");
	cr_assert_not(d.cfg.disks[0].direct);
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, vsock_socket_from_the_command_line)
{
	const char *xml = TEST_DOMAIN("<metadata><ember:vsock xmlns:ember='urn:ember:libvirt:1' "
				      "uds='/from/metadata'/></metadata>",
				      "<vsock><cid auto='no' address='3'/></vsock>");
	struct libvirt_domain d;
	struct libvirt_parse_options opt = { .vsock_uds = "/from/flag" };
	struct error e = { "" };
	cr_assert_eq(libvirt_domain_parse(&d, xml, strlen(xml), &opt, &e), 0, "%s", e.msg);
	ASSERT_NO_ISSUES(&d);
	cr_assert_str_eq(d.cfg.vsock.uds_path, "/from/flag", "--vsock-uds wins");
	cr_assert_eq(d.cfg.vsock.guest_cid, 3);
	libvirt_domain_free(&d);
}

Test(libvirt_mapping, harmless_devices)
{
	struct libvirt_domain d;
	/* q35's iTCO watchdog: libvirt >= 9.1 lists it in every q35 domain. */
	parse_ok(TEST_DOMAIN("", "<watchdog model='itco' action='reset'/>"
				 "<video><model type='none'/></video><audio id='1' type='none'/>"
				 "<controller type='usb' model='none'/><controller type='ide'/>"
				 "<controller type='fdc'/><input type='keyboard'/>"
				 "<emulator>/usr/bin/qemu-system-x86_64</emulator>"),
		 &d);
	ASSERT_NO_ISSUES(&d);
	libvirt_domain_free(&d);
}
