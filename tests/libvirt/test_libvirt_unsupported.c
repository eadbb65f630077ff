/* What Ember cannot honour is listed, all of it at once, each item named by its XPath; items
 * are left out of the VM (what --libvirt-lenient runs); malformed values fail outright. */
#include "libvirt_test.h"

/* Every place desktop.xml asks for something Ember does not have. */
static const char *const desktop_issues[] = {
	"/domain/maxMemory",
	"/domain/currentMemory",            /* below <memory> without a virtio balloon */
	"/domain/vcpu/@current",
	"/domain/cputune",                  /* vcpupin for 1 of 4 vCPUs */
	"/domain/cputune/emulatorpin",
	"/domain/numatune/memory/@mode",
	"/domain/features/hyperv",
	"/domain/cpu/model",
	"/domain/cpu/feature",
	"/domain/clock/@offset",
	"/domain/devices/disk[1]/driver/@type",
	"/domain/devices/disk[2]/@device",
	"/domain/devices/disk[2]/target/@bus",
	"/domain/devices/disk[3]/@type",
	"/domain/devices/interface[1]/@type",
	"/domain/devices/interface[2]/@type",
	"/domain/devices/interface[2]/model/@type",
	"/domain/devices/controller",
	"/domain/devices/input",
	"/domain/devices/graphics",
	"/domain/devices/video",
	"/domain/devices/sound",
	"/domain/devices/audio",
	"/domain/devices/channel",
	"/domain/devices/redirdev",
	"/domain/devices/hostdev",
	"/domain/devices/filesystem",
	"/domain/devices/tpm",
};

Test(libvirt_unsupported, every_item_listed_once_in_one_line)
{
	struct libvirt_domain d;
	test_parse_fixture("desktop.xml", &d);
	char *list = libvirt_issues_join(&d.issues, false);
	size_t n = sizeof(desktop_issues) / sizeof(desktop_issues[0]);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (unsigned j = 0; j < d.issues.n; j++)
			found |= strcmp(d.issues.items[j].where, desktop_issues[i]) == 0;
		cr_assert(found, "%s is not listed: %s", desktop_issues[i], list);
	}
	cr_assert_eq(d.issues.n, n, "unexpected extra issues: %s", list);
	cr_assert_eq(d.issues.nfatal, 0);
	cr_assert_null(strchr(list, '\n'), "one line");
	char head[64];
	snprintf(head, sizeof(head), "%zu things Ember cannot honour: ", n);
	cr_assert(strncmp(list, head, strlen(head)) == 0, "%s", list);
	cr_assert(strstr(list, "/domain/devices/graphics (Ember has no display)"), "%s", list);
	free(list);
	/* What would run with --libvirt-lenient: nothing that was listed. */
	cr_assert_eq(d.cfg.ndisks, 0);
	cr_assert_eq(d.cfg.nnets, 0);
	cr_assert_null(d.cfg.cpu_affinity);
	cr_assert_null(d.cfg.cpu_template);
	cr_assert_eq(d.cfg.memory.numa_node, -1);
	cr_assert_eq(d.cfg.ncpus, 4, "all vCPUs start");
	cr_assert_eq(d.cfg.mem_size, 8ULL << 30, "the guest gets all of <memory>");
	libvirt_domain_free(&d);
}

Test(libvirt_unsupported, firmware_boot_is_fatal)
{
	struct libvirt_domain d;
	test_parse_fixture("uefi.xml", &d);
	cr_assert_eq(d.issues.nfatal, 2, "os/@firmware and the missing kernel");
	cr_assert(libvirt_issues_mention(&d.issues, "/domain/os/loader"));
	cr_assert(libvirt_issues_mention(&d.issues, "/domain/os/nvram"));
	char *fatal = libvirt_issues_join(&d.issues, true);
	cr_assert(strstr(fatal, "2 things Ember cannot honour: /domain/os/@firmware"), "%s", fatal);
	cr_assert(strstr(fatal, "/domain/os (no <kernel>"), "%s", fatal);
	cr_assert_null(strstr(fatal, "graphics"), "only the fatal ones: %s", fatal);
	free(fatal);
	libvirt_domain_free(&d);
}

static void parse_ok(const char *xml, struct libvirt_domain *d)
{
	struct error e = { "" };
	cr_assert_eq(test_parse_text(xml, d, &e), 0, "%s", e.msg);
}

/* Each inline domain has exactly one issue, at `where`. */
static void one_issue(const char *xml, const char *where)
{
	struct libvirt_domain d;
	parse_ok(xml, &d);
	ASSERT_ONLY_ISSUE(&d, where);
	libvirt_domain_free(&d);
}

Test(libvirt_unsupported, top_level)
{
	one_issue(TEST_DOMAIN("<memtune><hard_limit>1</hard_limit></memtune>", ""), "/domain/memtune");
	one_issue(TEST_DOMAIN("<sysinfo type='smbios'/>", ""), "/domain/sysinfo");
	one_issue(TEST_DOMAIN("<launchSecurity type='sev'/>", ""), "/domain/launchSecurity");
	one_issue(TEST_DOMAIN("<on_poweroff>restart</on_poweroff>", ""), "/domain/on_poweroff");
	one_issue(TEST_DOMAIN("<on_crash>coredump-destroy</on_crash>", ""), "/domain/on_crash");
	one_issue(TEST_DOMAIN("<pm><suspend-to-mem enabled='yes'/></pm>", ""),
		  "/domain/pm/suspend-to-mem");
	one_issue(TEST_DOMAIN("<seclabel type='dynamic' model='selinux'/>", ""), "/domain/seclabel");
	one_issue(TEST_DOMAIN("<clock offset='utc'><timer name='hpet' present='yes'/></clock>", ""),
		  "/domain/clock/timer");
	one_issue(TEST_DOMAIN("<clock offset='utc'><timer name='kvmclock' present='no'/></clock>",
			      ""), "/domain/clock/timer");
	one_issue(TEST_DOMAIN("<features><smm state='on'/></features>", ""),
		  "/domain/features/smm");
	one_issue("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
		  "<memory>262144</memory><os><kernel>/k</kernel></os>"
		  "<qemu:commandline><qemu:arg value='-s'/></qemu:commandline></domain>",
		  "/domain/qemu:commandline");
	one_issue(TEST_DOMAIN("<metadata><ember:tuning xmlns:ember='urn:ember:libvirt:1'/>"
			      "</metadata>", ""), "/domain/metadata/ember:tuning");
	one_issue(TEST_DOMAIN("<vcpus><vcpu id='0' enabled='yes'/><vcpu id='1' enabled='no'/>"
			      "</vcpus><vcpu>2</vcpu>", ""), "/domain/vcpus/vcpu[2]/@enabled");
	one_issue(TEST_DOMAIN("<vcpu placement='auto'>1</vcpu>", ""), "/domain/vcpu/@placement");
	one_issue("<domain><memory>262144</memory><os><kernel>/k</kernel><dtb>/b</dtb></os>"
		  "</domain>", "/domain/os/dtb");
}

Test(libvirt_unsupported, fatal_ones)
{
	static const char *const fatal[] = {
		"<domain type='xen'><memory>262144</memory><os><kernel>/k</kernel></os></domain>",
		"<domain type='kvm'><memory>262144</memory><os><type>exe</type><kernel>/k</kernel>"
		"</os></domain>",
		"<domain type='kvm'><memory>262144</memory><os><type arch='aarch64'>hvm</type>"
		"<kernel>/k</kernel></os></domain>",
		"<domain type='kvm'><memory>262144</memory></domain>",
		"<domain type='kvm'><memory>262144</memory><os><kernel/></os></domain>",
	};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct libvirt_domain d;
		parse_ok(fatal[i], &d);
		cr_assert_eq(d.issues.nfatal, 1, "%s", fatal[i]);
		libvirt_domain_free(&d);
	}
}

Test(libvirt_unsupported, cpu_and_memory_placement)
{
	one_issue(TEST_DOMAIN("<vcpu cpuset='1-2'>3</vcpu>", ""), "/domain/vcpu/@cpuset");
	one_issue(TEST_DOMAIN("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='1-2'/>"
			      "<vcpupin vcpu='1' cpuset='3'/></cputune>", ""),
		  "/domain/cputune/vcpupin[1]/@cpuset");
	one_issue(TEST_DOMAIN("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='1'/>"
			      "<vcpupin vcpu='1' cpuset='1'/></cputune>", ""), "/domain/cputune");
	one_issue(TEST_DOMAIN("<cputune><shares>2048</shares></cputune>", ""),
		  "/domain/cputune/shares");
	one_issue(TEST_DOMAIN("<vcpu>4</vcpu><cpu><topology sockets='1' dies='2' cores='2' "
			      "threads='1'/></cpu>", ""), "/domain/cpu/topology/@dies");
	one_issue(TEST_DOMAIN("<cpu mode='custom'><model>EPYC-Rome</model></cpu>", ""),
		  "/domain/cpu/model");
	one_issue(TEST_DOMAIN("<cpu><numa><cell id='0' cpus='0' memory='262144'/></numa></cpu>",
			      ""), "/domain/cpu/numa");
	one_issue(TEST_DOMAIN("<numatune><memory nodeset='0-1'/></numatune>", ""),
		  "/domain/numatune/memory/@nodeset");
	one_issue(TEST_DOMAIN("<numatune><memory placement='auto'/></numatune>", ""),
		  "/domain/numatune/memory/@placement");
	one_issue(TEST_DOMAIN("<numatune><memnode cellid='0' nodeset='0'/></numatune>", ""),
		  "/domain/numatune/memnode");
	one_issue(TEST_DOMAIN("<memoryBacking><hugepages><page size='4' unit='M'/></hugepages>"
			      "</memoryBacking>", ""),
		  "/domain/memoryBacking/hugepages/page/@size");
	one_issue(TEST_DOMAIN("<memoryBacking><locked/></memoryBacking>", ""),
		  "/domain/memoryBacking/locked");
	one_issue(TEST_DOMAIN("<memoryBacking><source type='file'/></memoryBacking>", ""),
		  "/domain/memoryBacking/source/@type");
}

Test(libvirt_unsupported, devices)
{
	one_issue(TEST_DOMAIN("", "<disk type='file'><source file='/a'/><target dev='sda'/></disk>"),
		  "/domain/devices/disk/target");
	one_issue(TEST_DOMAIN("", "<disk type='file'><driver type='raw' cache='unsafe'/>"
				  "<source file='/a'/><target dev='vda' bus='virtio'/></disk>"),
		  "/domain/devices/disk/driver/@cache");
	one_issue(TEST_DOMAIN("", "<disk type='file'><source file='/a'/><target dev='vda'/>"
				  "<iotune><total_iops_sec>10</total_iops_sec></iotune></disk>"),
		  "/domain/devices/disk/iotune");
	one_issue(TEST_DOMAIN("", "<disk type='file'><source file='/a'/><target dev='vda'/>"
				  "<transient/></disk>"), "/domain/devices/disk/transient");
	one_issue(TEST_DOMAIN("", "<disk type='file' device='cdrom'><target dev='vda'/></disk>"),
		  "/domain/devices/disk/@device");
	one_issue(TEST_DOMAIN("", "<disk type='file'><target dev='vda'/></disk>"),
		  "/domain/devices/disk");
	one_issue(TEST_DOMAIN("", "<interface type='ethernet'><target dev='t0'/></interface>"),
		  "/domain/devices/interface");
	one_issue(TEST_DOMAIN("", "<interface type='ethernet'><model type='virtio'/></interface>"),
		  "/domain/devices/interface");
	one_issue(TEST_DOMAIN("", "<interface type='ethernet'><target dev='t0'/><model "
				  "type='virtio'/><driver queues='4'/></interface>"),
		  "/domain/devices/interface/driver/@queues");
	one_issue(TEST_DOMAIN("", "<interface type='ethernet'><target dev='t0'/><model "
				  "type='virtio'/><bandwidth/></interface>"),
		  "/domain/devices/interface/bandwidth");
	one_issue(TEST_DOMAIN("", "<serial type='pty'/><serial type='pty'/>"),
		  "/domain/devices/serial[2]");
	one_issue(TEST_DOMAIN("", "<serial type='file'><source path='/x'/></serial>"),
		  "/domain/devices/serial/@type");
	one_issue(TEST_DOMAIN("", "<console type='pty'><target type='virtio'/></console>"
				  "<console type='pty'><target type='virtio'/></console>"),
		  "/domain/devices/console[2]");
	one_issue(TEST_DOMAIN("", "<rng model='virtio'><backend model='egd' type='tcp'/></rng>"),
		  "/domain/devices/rng/backend");
	one_issue(TEST_DOMAIN("", "<rng model='virtio'><rate bytes='1024'/>"
				  "<backend model='random'>/dev/urandom</backend></rng>"),
		  "/domain/devices/rng/rate");
	one_issue(TEST_DOMAIN("", "<memballoon model='xen'/>"), "/domain/devices/memballoon/@model");
	one_issue(TEST_DOMAIN("", "<vsock model='virtio'><cid auto='yes'/></vsock>"),
		  "/domain/devices/vsock/cid");
	one_issue(TEST_DOMAIN("", "<vsock model='virtio'><cid auto='no' address='5'/></vsock>"),
		  "/domain/devices/vsock");
	one_issue(TEST_DOMAIN("", "<watchdog model='i6300esb'/>"), "/domain/devices/watchdog");
	one_issue(TEST_DOMAIN("", "<controller type='scsi'/>"), "/domain/devices/controller");
	one_issue(TEST_DOMAIN("", "<input type='tablet' bus='usb'/>"), "/domain/devices/input");
	one_issue(TEST_DOMAIN("", "<panic model='isa'/>"), "/domain/devices/panic");
	one_issue(TEST_DOMAIN("", "<frobnicator/>"), "/domain/devices/frobnicator");
}

Test(libvirt_unsupported, disk_with_a_problem_inside_is_still_attached)
{
	struct libvirt_domain d;
	parse_ok(TEST_DOMAIN("", "<disk type='file'><driver type='raw' cache='unsafe'/>"
				 "<source file='/a'/><target dev='vda' bus='virtio'/></disk>"), &d);
	cr_assert_eq(d.cfg.ndisks, 1, "only cache= is ignored");
	libvirt_domain_free(&d);
	parse_ok(TEST_DOMAIN("", "<disk type='file'><driver type='qcow2'/><source file='/a'/>"
				 "<target dev='vda' bus='virtio'/><iotune/></disk>"), &d);
	ASSERT_ONLY_ISSUE(&d, "/domain/devices/disk/driver/@type");
	cr_assert_eq(d.cfg.ndisks, 0, "a disk left out is not inspected further");
	libvirt_domain_free(&d);
}

/* Values that are wrong in themselves fail the parse, naming the place. */
static void invalid(const char *xml, const char *msg)
{
	struct libvirt_domain d;
	struct error e = { "" };
	cr_assert_eq(test_parse_text(xml, &d, &e), -1, "%s", xml);
	cr_assert(strstr(e.msg, msg), "'%s' lacks '%s'", e.msg, msg);
	libvirt_domain_free(&d);
}

Test(libvirt_unsupported, malformed_values_fail)
{
	invalid("<domain", "not well-formed XML (line 1");
	invalid("", "not well-formed XML");
	invalid("<vm/>", "the root element is <vm>");
	invalid("<!DOCTYPE domain [<!ENTITY x 'y'>]><domain/>", "DOCTYPE");
	invalid("<domain type='kvm'><os><kernel>/k</kernel></os></domain>", "no <memory>");
	invalid(TEST_DOMAIN("<currentMemory unit='GiB'>1</currentMemory>", ""),
		"/domain/currentMemory: larger than <memory>");
	invalid("<domain><memory unit='parsec'>1</memory></domain>",
		"/domain/memory: unknown unit 'parsec'");
	invalid("<domain><memory>lots</memory></domain>", "/domain/memory: 'lots' is not a number");
	invalid("<domain><memory unit='KiB'>1024</memory></domain>", "outside Ember's 2 MiB");
	invalid("<domain><memory unit='TiB'>2</memory></domain>", "outside Ember's 2 MiB .. 1 TiB");
	invalid(TEST_DOMAIN("<vcpu>0</vcpu>", ""), "/domain/vcpu: 0 is below the minimum 1");
	char xml[512], msg[64];
	snprintf(xml, sizeof(xml), TEST_DOMAIN("<vcpu>%d</vcpu>", ""), VM_CONFIG_MAX_CPUS + 1);
	snprintf(msg, sizeof(msg), "/domain/vcpu: %d is out of range", VM_CONFIG_MAX_CPUS + 1);
	invalid(xml, msg);
	invalid(TEST_DOMAIN("<vcpu current='3'>2</vcpu>", ""), "/domain/vcpu/@current");
	invalid(TEST_DOMAIN("<vcpu cpuset='2-1'>1</vcpu>", ""), "/domain/vcpu/@cpuset: range");
	invalid(TEST_DOMAIN("<vcpu>2</vcpu><cpu><topology sockets='2' cores='2' threads='1'/></cpu>",
			    ""), "/domain/cpu/topology: 4 vCPUs, but <vcpu> says 2");
	invalid(TEST_DOMAIN("<cputune><vcpupin vcpu='1' cpuset='0'/></cputune>", ""),
		"/domain/cputune/vcpupin/@vcpu: 1 is out of range");
	invalid(TEST_DOMAIN("", "<interface type='ethernet'><target dev='t0'/><model type='virtio'/>"
				"<mac address='01:00:5e:00:00:01'/></interface>"),
		"/domain/devices/interface/mac/@address");
	invalid(TEST_DOMAIN("", "<interface type='ethernet'><target dev='a-tap-name-too-long'/>"
				"<model type='virtio'/></interface>"),
		"/domain/devices/interface/target/@dev: 'a-tap-name-too-long");
	invalid(TEST_DOMAIN("", "<interface type='ethernet'><target dev='t0'/><model type='virtio'/>"
				"</interface><interface type='ethernet'><target dev='t0'/>"
				"<model type='virtio'/></interface>"),
		"/domain/devices/interface[2]");
	invalid(TEST_DOMAIN("", "<interface type='ethernet'><target dev='t0'/><model type='virtio'/>"
				"<mtu size='20'/></interface>"), "/domain/devices/interface/mtu/@size");
	invalid(TEST_DOMAIN("", "<disk type='file'><source file='/a'/><target dev='vda'/>"
				"<serial>this-serial-is-too-long-for-virtio</serial></disk>"),
		"/domain/devices/disk/serial: 'this-serial-is-too-long");
	invalid(TEST_DOMAIN("", "<disk type='file'><source file='/a'/><target dev='vda'/>"
				"<driver type='raw' queues='17'/></disk>"),
		"/domain/devices/disk/driver/@queues");
	invalid(TEST_DOMAIN("", "<vsock><cid auto='no' address='2'/></vsock>"),
		"/domain/devices/vsock/cid/@address: 2 is below the minimum 3");
	invalid(TEST_DOMAIN("", "<vsock/><vsock/>"), "a second <vsock>");
	invalid(TEST_DOMAIN("<numatune><memory nodeset='2000'/></numatune>", ""),
		"node 2000 is out of range");
}

Test(libvirt_unsupported, too_many_disks)
{
	char xml[8192] = "<domain><memory>262144</memory><os><kernel>/k</kernel></os><devices>";
	for (int i = 0; i < VIRTIO_BLK_MAX_DISKS + 1; i++)
		snprintf(xml + strlen(xml), sizeof(xml) - strlen(xml),
			 "<disk type='file'><source file='/d%d'/><target dev='vda'/></disk>", i);
	strcat(xml, "</devices></domain>");
	invalid(xml, "more than Ember's 16 disks");
}

Test(libvirt_unsupported, oversized_document)
{
	size_t len = LIBVIRT_XML_MAX_BYTES + 1;
	char *xml = malloc(len);
	cr_assert_not_null(xml);
	memset(xml, ' ', len);
	struct libvirt_domain d;
	struct error e = { "" };
	cr_assert_eq(libvirt_domain_parse(&d, xml, len, NULL, &e), -1);
	cr_assert(strstr(e.msg, "more than a domain"), "%s", e.msg);
	libvirt_domain_free(&d);
	free(xml);
}
