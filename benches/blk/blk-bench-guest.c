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
#include "../../guest-images/test-guests/rt/rt.h"

#define ECAM_BASE   0xe0000000ull
#define QUEUE_SIZE  256
#define MAX_QD      64
#define BLOCK       4096
#define MAX_SAMPLES 200000
#define NO_VECTOR   0xffff
#define F_EVENT_IDX 29

enum failure {
	FAIL_NO_DEVICE = 10, FAIL_CAPS, FAIL_FEATURES, FAIL_QUEUE, FAIL_ARGS, FAIL_STALL,
	FAIL_TOO_SMALL, FAIL_IO_ERRORS,
};

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
enum {
	DFSELECT = 0, DF = 4, GFSELECT = 8, GF = 12, MSIX_CONFIG = 16, STATUS = 20,
	Q_SELECT = 22, Q_SIZE = 24, Q_MSIX = 26, Q_ENABLE = 28, Q_NOTIFY_OFF = 30, Q_DESC = 32,
};

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct req_header {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct desc ring_desc[QUEUE_SIZE] __attribute__((aligned(16)));
static volatile uint16_t ring_avail[2 + QUEUE_SIZE + 1] __attribute__((aligned(2)));
static volatile uint32_t ring_used[1 + 2 * QUEUE_SIZE + 1] __attribute__((aligned(4)));
static struct req_header headers[MAX_QD];
static volatile uint8_t status[MAX_QD];
static uint8_t data[MAX_QD][BLOCK] __attribute__((aligned(4096)));
static uint64_t submitted_at[MAX_QD];
static uint32_t samples[MAX_SAMPLES];

static uint64_t common, notify_addr, capacity;

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

static uint64_t cfg_addr(unsigned slot, unsigned reg)
{
	return ECAM_BASE + ((uint64_t)slot << 15) + reg;
}

static uint8_t cfg8(unsigned slot, unsigned reg)
{
	return *(volatile uint8_t *)phys_ptr(cfg_addr(slot, reg));
}

static uint32_t cfg32(unsigned slot, unsigned reg)
{
	return mmio_read32(cfg_addr(slot, reg));
}

static uint8_t read8(uint64_t a)
{
	return *(volatile uint8_t *)phys_ptr(a);
}

static uint16_t read16(uint64_t a)
{
	return *(volatile uint16_t *)phys_ptr(a);
}

static int find_disk(void)
{
	for (unsigned s = 1; s < 32; s++) {
		if (cfg32(s, 0) != (0x1042u << 16 | 0x1af4u))
			continue;
		uint64_t bar = (cfg32(s, 0x10) & ~0xfu) | (uint64_t)cfg32(s, 0x14) << 32;
		uint64_t device = 0;
		uint32_t mult = 0;
		uint64_t notify = 0;
		for (unsigned at = cfg8(s, 0x34), n = 0; at && n < 32; at = cfg8(s, at + 1), n++) {
			if (cfg8(s, at) != 0x09)
				continue;
			uint64_t where = bar + cfg32(s, at + 8);
			switch (cfg8(s, at + 3)) {
			case 1: common = where; break;
			case 2: notify = where; mult = cfg32(s, at + 16); break;
			case 4: device = where; break;
			}
		}
		if (!bar || !common || !notify || !device)
			return FAIL_CAPS;
		capacity = mmio_read32(device) | (uint64_t)mmio_read32(device + 4) << 32;
		mmio_write16(common + Q_SELECT, 0);
		notify_addr = notify + (uint64_t)read16(common + Q_NOTIFY_OFF) * mult;
		return 0;
	}
	return FAIL_NO_DEVICE;
}

static int bring_up(void)
{
	mmio_write8(common + STATUS, 0);
	mmio_write8(common + STATUS, 1 | 2);
	mmio_write32(common + DFSELECT, 0);
	uint32_t low = mmio_read32(common + DF);
	mmio_write32(common + DFSELECT, 1);
	if (!(mmio_read32(common + DF) & 1) || !(low & (1u << F_EVENT_IDX)))
		return FAIL_FEATURES;
	mmio_write32(common + GFSELECT, 0);
	mmio_write32(common + GF, 1u << F_EVENT_IDX);
	mmio_write32(common + GFSELECT, 1);
	mmio_write32(common + GF, 1); /* VERSION_1 */
	mmio_write8(common + STATUS, 1 | 2 | 8);
	if (read8(common + STATUS) != (1 | 2 | 8))
		return FAIL_FEATURES;
	mmio_write16(common + MSIX_CONFIG, NO_VECTOR);
	mmio_write16(common + Q_SELECT, 0);
	mmio_write16(common + Q_SIZE, QUEUE_SIZE);
	mmio_write16(common + Q_MSIX, NO_VECTOR); /* polled: no interrupts */
	uint64_t parts[3] = { (uintptr_t)ring_desc, (uintptr_t)ring_avail, (uintptr_t)ring_used };
	for (unsigned i = 0; i < 3; i++) {
		mmio_write32(common + Q_DESC + 8 * i, (uint32_t)parts[i]);
		mmio_write32(common + Q_DESC + 8 * i + 4, (uint32_t)(parts[i] >> 32));
	}
	mmio_write16(common + Q_ENABLE, 1);
	mmio_write8(common + STATUS, 1 | 2 | 8 | 4);
	return read8(common + STATUS) == (1 | 2 | 8 | 4) ? 0 : FAIL_QUEUE;
}

/* Descriptors 3s, 3s+1, 3s+2 belong to slot s: header, data, status. */
static void build_slots(void)
{
	for (unsigned s = 0; s < MAX_QD; s++) {
		ring_desc[3 * s] = (struct desc){ (uintptr_t)&headers[s], 16, 1, (uint16_t)(3 * s + 1) };
		ring_desc[3 * s + 1] = (struct desc){ (uintptr_t)data[s], BLOCK, 1, (uint16_t)(3 * s + 2) };
		ring_desc[3 * s + 2] = (struct desc){ (uintptr_t)&status[s], 1, 2, 0 };
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
		uint16_t used = (uint16_t)(__atomic_load_n(&ring_used[0], __ATOMIC_ACQUIRE) >> 16);
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

/* The value of "key=" in the command line, or NULL; *len gets its length. */
static const char *arg(const char *key, size_t *len)
{
	size_t k = strlen(key);
	for (const char *p = rt_cmdline(); *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > k && memcmp(w, key, k) == 0 && w[k] == '=') {
			*len = (size_t)(p - w) - k - 1;
			return w + k + 1;
		}
	}
	return NULL;
}

static uint32_t arg_u32(const char *key, uint32_t def)
{
	size_t len;
	const char *v = arg(key, &len);
	if (!v)
		return def;
	uint32_t n = 0;
	for (size_t i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (uint32_t)(v[i] - '0');
	return n;
}

/* Is `word` in the comma list of `key` (default: `def`)? */
static bool arg_has(const char *key, const char *word, const char *def)
{
	size_t len;
	const char *v = arg(key, &len);
	if (!v) {
		v = def;
		len = strlen(def);
	}
	size_t w = strlen(word);
	for (size_t i = 0; i + w <= len; i++)
		if (memcmp(v + i, word, w) == 0 && (i == 0 || v[i - 1] == ',') &&
		    (i + w == len || v[i + w] == ','))
			return true;
	return false;
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
	uint32_t n = arg_u32("n", 20000), warmup = arg_u32("warmup", 1000);
	if (!n || n > MAX_SAMPLES)
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
		if (!arg_has("ops", ops[o], "randread,randwrite"))
			continue;
		for (unsigned d = 0; d < 2; d++) {
			if (!arg_has("qd", depth_names[d], "1,32"))
				continue;
			struct run r = { .type = types[o], .qd = depths[d], .n = n, .warmup = warmup,
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
	mmio_write8(common + STATUS, 0);
	return errors ? FAIL_IO_ERRORS : 0;
}
