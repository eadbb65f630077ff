/* The guest half of benches/blk: a minimal virtio-blk driver that issues 4 KiB random reads or
 * writes at a fixed queue depth and times each request. Setup (PCI, feature negotiation, the
 * queue) runs at CPL0; the measured loop runs at CPL3 through user_call, which runs at native
 * speed on PVM hosts (where CPL0 is emulated). No interrupts: the queue has no MSI-X vector and
 * the loop polls the used ring; kicks are MMIO writes to the notify BAR (an ioeventfd on the
 * host), sent only when EVENT_IDX says the device wants one.
 *
 * Kernel command line (all optional): "ops=randread,randwrite qd=1,32 n=20000 warmup=1000"
 * (ops may also name getid: requests the device answers without touching the image)
 * (n: measured requests per run; warmup: requests before measuring). Output, one line per run:
 *   BLK-BENCH op=randread qd=32 n=20000 iops=123456 p50_ns=... p99_ns=... mean_ns=... errors=0
 * The TSC is calibrated against the RTC's seconds (the CPUID frequency leaves may be absent).
 * Exit status 0, or the step that failed (enum failure; FAIL_IO_ERRORS if any request did not
 * complete with VIRTIO_BLK_S_OK). */
#include "../../guest-images/test-guests/rt/cmdline.h"
#include "../../guest-images/test-guests/rt/rt.h"
#include "../../guest-images/test-guests/rt/virtio_pci.h"

#define QUEUE_SIZE  256
#define MAX_QD      64
#define BLOCK       4096
#define MAX_SAMPLES 200000
#define F_EVENT_IDX 29

enum failure {
	FAIL_NO_DEVICE = 10, FAIL_CAPS, FAIL_FEATURES, FAIL_QUEUE, FAIL_ARGS, FAIL_STALL,
	FAIL_TOO_SMALL, FAIL_IO_ERRORS,
};

struct req_header {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct virtq_desc ring_desc[QUEUE_SIZE] __attribute__((aligned(16)));
static volatile uint16_t ring_avail[2 + QUEUE_SIZE + 1] __attribute__((aligned(2)));
static volatile uint32_t ring_used[1 + 2 * QUEUE_SIZE + 1] __attribute__((aligned(4)));
static struct req_header headers[MAX_QD];
static volatile uint8_t status[MAX_QD];
static uint8_t data[MAX_QD][BLOCK] __attribute__((aligned(4096)));
static uint64_t submitted_at[MAX_QD];
static uint32_t samples[MAX_SAMPLES];

static struct virtio_pci_dev dev;
static uint64_t notify_addr, capacity;

struct run {
	uint32_t type;        /* VIRTIO_BLK_T_IN, _OUT or _GET_ID */
	uint32_t qd, n, warmup;
	uint64_t rng;
	uint64_t stall_ticks; /* no completion for this long: give up */
	/* results */
	uint64_t ticks;       /* first measured submission to last measured completion */
	uint32_t errors, stalled;
	uint64_t p50, p99, mean;
};

/* ---- PCI and virtio setup (CPL0) ---- */

static int find_disk(void)
{
	if (!virtio_pci_probe(&dev, VIRTIO_ID_BLK))
		return FAIL_NO_DEVICE;
	if (!dev.bar || !dev.common || !dev.notify || !dev.device)
		return FAIL_CAPS;
	capacity = mmio_read32(dev.device) | (uint64_t)mmio_read32(dev.device + 4) << 32;
	return 0;
}

/* VERSION_1 and EVENT_IDX; one polled queue (no MSI-X vector). */
static int bring_up(void)
{
	if (!virtio_pci_negotiate(&dev, 1u << F_EVENT_IDX, 0))
		return FAIL_FEATURES;
	mmio_write16(dev.common + VIRTIO_MSIX_CONFIG, VIRTIO_NO_VECTOR);
	notify_addr = virtio_pci_queue_setup(&dev, 0, QUEUE_SIZE, VIRTIO_NO_VECTOR, ring_desc,
					     ring_avail, ring_used);
	if (!notify_addr)
		return FAIL_QUEUE;
	return virtio_pci_driver_ok(&dev) ? 0 : FAIL_QUEUE;
}

/* Descriptors 3s, 3s+1, 3s+2 belong to slot s: header, data, status. */
static void build_slots(void)
{
	for (unsigned s = 0; s < MAX_QD; s++) {
		ring_desc[3 * s] = (struct virtq_desc){ (uintptr_t)&headers[s], 16, 1, (uint16_t)(3 * s + 1) };
		ring_desc[3 * s + 1] = (struct virtq_desc){ (uintptr_t)data[s], BLOCK, 1, (uint16_t)(3 * s + 2) };
		ring_desc[3 * s + 2] = (struct virtq_desc){ (uintptr_t)&status[s], 1, 2, 0 };
	}
	ring_avail[0] = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT (ignored with EVENT_IDX; harmless) */
	ring_avail[2 + QUEUE_SIZE] = 0xffff; /* used_event: far away */
}

/* ---- The measured loop (CPL3) ---- */

static uint16_t avail_idx, used_seen;

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void queue_request(struct run *r, unsigned slot)
{
	uint64_t blocks = capacity / (BLOCK / 512);
	headers[slot] = (struct req_header){ .type = r->type,
					     .sector = next_rand(&r->rng) % blocks * (BLOCK / 512) };
	ring_desc[3 * slot + 1].flags = (uint16_t)(1 | (r->type != 1 ? 2 : 0)); /* 1: OUT */
	status[slot] = 0xff;
	ring_avail[2 + avail_idx % QUEUE_SIZE] = (uint16_t)(3 * slot);
	avail_idx++;
	submitted_at[slot] = rdtsc();
}

/* Publishes the new avail index and kicks if the device asked to be told (2.7.10). */
static void publish(uint16_t old)
{
	__atomic_store_n(&ring_avail[1], avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t event = (uint16_t)(ring_used[1 + 2 * QUEUE_SIZE] & 0xffff);
	if ((uint16_t)(avail_idx - event - 1) < (uint16_t)(avail_idx - old))
		mmio_write16(notify_addr, 0);
}

static void sort_samples(uint32_t *a, uint32_t n)
{
	/* heapsort: no libc here */
	for (uint32_t start = n / 2; start-- > 0;) {
		for (uint32_t root = start, child; (child = 2 * root + 1) < n; root = child) {
			if (child + 1 < n && a[child + 1] > a[child])
				child++;
			if (a[root] >= a[child])
				break;
			uint32_t t = a[root]; a[root] = a[child]; a[child] = t;
		}
	}
	for (uint32_t end = n; end-- > 1;) {
		uint32_t t = a[0]; a[0] = a[end]; a[end] = t;
		for (uint32_t root = 0, child; (child = 2 * root + 1) < end; root = child) {
			if (child + 1 < end && a[child + 1] > a[child])
				child++;
			if (a[root] >= a[child])
				break;
			t = a[root]; a[root] = a[child]; a[child] = t;
		}
	}
}

static uint64_t run_user(uint64_t arg)
{
	struct run *r = (struct run *)(uintptr_t)arg;
	uint32_t total = r->warmup + r->n, issued = 0, done = 0, measured = 0;
	uint64_t start = 0, sum = 0, last_progress = rdtsc();
	uint16_t old = avail_idx;
	for (; issued < r->qd && issued < total; issued++)
		queue_request(r, issued);
	publish(old);
	while (done < total) {
		uint16_t used = virtq_used_idx(ring_used);
		if (used == used_seen) {
			if (rdtsc() - last_progress > r->stall_ticks) {
				r->stalled = 1;
				return 1;
			}
			continue;
		}
		uint64_t now = rdtsc();
		last_progress = now;
		old = avail_idx;
		for (; used_seen != used; used_seen++) {
			uint32_t id = ring_used[1 + 2 * (used_seen % QUEUE_SIZE)];
			unsigned slot = id / 3;
			if (status[slot] != 0)
				r->errors++;
			if (done == r->warmup)
				start = now; /* the measured interval starts with this completion */
			if (done >= r->warmup && measured < MAX_SAMPLES) {
				uint64_t lat = now - submitted_at[slot];
				samples[measured++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
				sum += lat;
			}
			done++;
			if (issued < total) {
				queue_request(r, slot);
				issued++;
			}
		}
		if (avail_idx != old)
			publish(old);
	}
	r->ticks = rdtsc() - start;
	sort_samples(samples, measured);
	r->p50 = samples[measured / 2];
	r->p99 = samples[(uint64_t)measured * 99 / 100];
	r->mean = measured ? sum / measured : 0;
	r->n = measured;
	return 0;
}

/* ---- Calibration, arguments, main (CPL0) ---- */

static uint8_t rtc_seconds(void)
{
	outb(0x70, 0);
	return inb(0x71);
}

/* kvmclock's time info (the pvclock ABI): the host's exact TSC-to-nanoseconds scale. */
struct pvclock_time_info {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
};
static volatile struct pvclock_time_info pvclock __attribute__((aligned(64)));

#define MSR_KVM_SYSTEM_TIME_NEW   0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2  3

static uint64_t kvmclock_tsc_hz(void)
{
	struct cpuid_regs sig = cpuid(0x40000000, 0);
	if (sig.ebx != 0x4b4d564b || sig.eax < 0x40000001 ||
	    !(cpuid(0x40000001, 0).eax & (1u << KVM_FEATURE_CLOCKSOURCE2)))
		return 0;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uintptr_t)&pvclock | 1);
	uint32_t mul = pvclock.tsc_to_system_mul;
	int shift = pvclock.tsc_shift;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	if (!mul)
		return 0;
	/* ns = (ticks << shift) * mul / 2^32, so ticks per second = 2^32 * 1e9 / mul >> shift. */
	uint64_t hz = (1000000000ull << 32) / mul;
	return shift >= 0 ? hz >> shift : hz << -shift;
}

/* TSC ticks per second: kvmclock's scale, else four seconds of the RTC (port I/O at CPL0 is
 * slow on PVM hosts, so one second would be off by several percent). */
static uint64_t calibrate_tsc(void)
{
	uint64_t hz = kvmclock_tsc_hz();
	if (hz)
		return hz;
	uint8_t s = rtc_seconds();
	while (rtc_seconds() == s)
		;
	uint64_t t0 = rdtsc();
	for (int i = 0; i < 4; i++) {
		s = rtc_seconds();
		while (rtc_seconds() == s)
			;
	}
	return (rdtsc() - t0) / 4;
}

static uint64_t ns(uint64_t ticks, uint64_t hz)
{
	return ticks * 1000000000ull / hz;
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	int rc;
	if ((rc = find_disk()) || (rc = bring_up()))
		return rc;
	if (capacity < BLOCK / 512)
		return FAIL_TOO_SMALL;
	build_slots();
	uint64_t hz = calibrate_tsc();
	uint32_t errors = 0;
	uint64_t n = cmdline_number("n", 20000), warmup = cmdline_number("warmup", 1000);
	if (!n || n > MAX_SAMPLES || warmup > UINT32_MAX - MAX_SAMPLES)
		return FAIL_ARGS;
	console_printf("BLK-BENCH-INFO capacity=%lu tsc_hz=%lu cpuid_hz=%lu\n", capacity, hz,
		       tsc_hz());
	/* getid: VIRTIO_BLK_T_GET_ID, answered without touching the image: the cost of the
	 * virtio path alone (kick, device thread, used ring). */
	static const char *const ops[] = { "randread", "randwrite", "getid" };
	static const uint32_t types[] = { 0, 1, 8 };
	static const uint32_t depths[] = { 1, 32 };
	static const char *const depth_names[] = { "1", "32" };
	for (unsigned o = 0; o < 3; o++) {
		if (!cmdline_list_has("ops", ops[o], "randread,randwrite"))
			continue;
		for (unsigned d = 0; d < 2; d++) {
			if (!cmdline_list_has("qd", depth_names[d], "1,32"))
				continue;
			struct run r = { .type = types[o], .qd = depths[d], .n = (uint32_t)n,
					 .warmup = (uint32_t)warmup,
					 .rng = 0x9e3779b97f4a7c15ull ^ (o * 131 + d),
					 .stall_ticks = 10 * hz };
			user_call(run_user, (uint64_t)(uintptr_t)&r);
			if (r.stalled)
				return FAIL_STALL;
			uint64_t iops = r.ticks ? (uint64_t)r.n * hz / r.ticks : 0;
			console_printf("BLK-BENCH op=%s qd=%u n=%u iops=%lu p50_ns=%lu p99_ns=%lu "
				       "mean_ns=%lu errors=%u\n",
				       ops[o], r.qd, r.n, iops, ns(r.p50, hz), ns(r.p99, hz),
				       ns(r.mean, hz), r.errors);
			errors += r.errors;
		}
	}
	virtio_pci_set_status(&dev, 0);
	return errors ? FAIL_IO_ERRORS : 0;
}
