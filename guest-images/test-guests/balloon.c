/* Drives Ember's virtio-balloon (ember run --balloon ...) like a driver, on real KVM, so that a
 * test on the host can watch ember's RSS follow the balloon:
 *
 *   1. touches `touch=MiB` (default 256) of RAM from 16 MiB at CPL3         "balloon: touched"
 *   2. inflates num_pages (the --balloon size) from the start of that area,
 *      256 page numbers per buffer like Linux, checks that the first page
 *      after the balloon kept its data, and sets `actual`                 "balloon: inflated"
 *   3. with VIRTIO_BALLOON_F_REPORTING: reports the rest of the area free,
 *      4 MiB per descriptor, 8 descriptors per report                     "balloon: reported"
 *   4. deflates, checks that every released page reads zero (the host
 *      really dropped it), and touches the whole area again              "balloon: retouched"
 *   5. sends page numbers outside RAM: the device must ignore them and go on
 *   6. with VIRTIO_BALLOON_F_STATS_VQ: offers a statistics buffer and waits
 *      for the device to hand it back (its polling timer)    "balloon: stats buffer returned"
 *
 * With `wait=1` on the command line the guest stops after each quoted line until a line arrives
 * on COM1 (the host test measures RSS meanwhile); without it, it runs straight through. The
 * queues are polled (no MSI-X); the loops run at CPL3, which is native speed on PVM hosts.
 * Exit status 0, or the step that failed (enum failure).
 *
 * With `serve=1` it is a long-running driver instead, for run-time changes (the API's PATCH
 * /balloon): it touches the area ("balloon: touched", then "balloon: serving, RAM ends at N"),
 * then polls num_pages every 10 ms and follows it, taking pages from the start of the touched
 * area (at most all of it): inflating hands them over, deflating takes them back, checks that
 * each one reads zero and touches it again; then it sets `actual` ("balloon: actual N pages").
 * With STATS_VQ it keeps a statistics buffer with the device (free_memory: RAM past the touched
 * area; total_memory: RAM less the balloon's pages, as Linux counts it without deflate_on_oom)
 * and offers a fresh one each time the device returns it ("balloon: statistics buffer N
 * offered"). It never ends by itself: the host stops the VM. */
#include "rt/cmdline.h"
#include "rt/memmap.h"
#include "rt/rt.h"
#include "rt/virtio_pci.h"

#define MIB         ((uint64_t)1 << 20)
#define AREA_START  (16 * MIB)
#define PAGE        ((uint64_t)4096)
#define QSIZE       16
#define PFNS_PER_BUFFER 256
#define REPORT_BLOCK    (4 * MIB)
#define REPORT_CHAIN    8
#define F_STATS_VQ  1
#define F_REPORTING 5

enum failure {
	FAIL_NO_DEVICE = 10, FAIL_CAPS, FAIL_FEATURES, FAIL_QUEUE, FAIL_TOO_SMALL, FAIL_STALL,
	FAIL_NEEDS_RESET, FAIL_NOT_RELEASED, FAIL_NEIGHBOUR_LOST, FAIL_TARGET,
};

struct queue {
	struct virtq_desc desc[QSIZE];
	volatile uint16_t avail[3 + QSIZE];
	volatile uint32_t used[2 + 2 * QSIZE];
	uint16_t avail_idx;
	uint64_t notify;
	bool present;
} __attribute__((aligned(16)));

enum { INFLATEQ, DEFLATEQ, STATSQ, REPORTQ, NQUEUES };

static struct queue queues[NQUEUES];
static uint32_t pfns[PFNS_PER_BUFFER];
static uint8_t stats_buf[2 * 10];
static struct virtio_pci_dev dev;
static uint64_t stall_ticks, poll_ticks;

struct job {
	uint64_t start, len;     /* the touched area */
	uint64_t inflated;       /* pages given to the balloon */
	uint64_t ram_end;
	int failure;
};
static struct job job;

/* ---- PCI and virtio setup (CPL0) ---- */

static int find_balloon(void)
{
	if (!virtio_pci_probe(&dev, VIRTIO_ID_BALLOON))
		return FAIL_NO_DEVICE;
	return dev.bar && dev.common && dev.notify && dev.device ? 0 : FAIL_CAPS;
}

/* Polled: no MSI-X vector. */
static int setup_queue(unsigned index, struct queue *q)
{
	q->notify = virtio_pci_queue_setup(&dev, (uint16_t)index, QSIZE, VIRTIO_NO_VECTOR, q->desc,
					   q->avail, q->used);
	q->present = q->notify != 0;
	return q->present ? 0 : FAIL_QUEUE;
}

/* VERSION_1 plus statistics and reporting when offered; queues numbered densely over them. */
static int bring_up(void)
{
	uint64_t want = virtio_pci_negotiate(&dev, 0, 1u << F_STATS_VQ | 1u << F_REPORTING);
	if (!want)
		return FAIL_FEATURES;
	mmio_write16(dev.common + VIRTIO_MSIX_CONFIG, VIRTIO_NO_VECTOR);
	unsigned index = 0;
	int rc = setup_queue(index++, &queues[INFLATEQ]);
	if (!rc)
		rc = setup_queue(index++, &queues[DEFLATEQ]);
	if (!rc && (want & 1u << F_STATS_VQ))
		rc = setup_queue(index++, &queues[STATSQ]);
	if (!rc && (want & 1u << F_REPORTING))
		rc = setup_queue(index++, &queues[REPORTQ]);
	if (rc)
		return rc;
	return virtio_pci_driver_ok(&dev) ? 0 : FAIL_QUEUE;
}

/* ---- The driver's work (CPL3) ---- */

/* Offers descriptors 0..n-1 (already filled, chained here) as one chain and kicks. */
static void offer(struct queue *q, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		q->desc[i].flags = (uint16_t)((q->desc[i].flags & VIRTQ_DESC_F_WRITE) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		q->desc[i].next = (uint16_t)(i + 1);
	}
	q->avail[2 + q->avail_idx % QSIZE] = 0;
	q->avail_idx++;
	__atomic_store_n(&q->avail[1], q->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mmio_write16(q->notify, 0);
}

static bool wait_used(struct queue *q, uint16_t want, uint64_t ticks)
{
	uint64_t start = rdtsc();
	while (virtq_used_idx(q->used) != want)
		if (rdtsc() - start > ticks)
			return false;
	return true;
}

/* One chain at a time, as Linux's balloon does: offer, kick, wait for it to come back. */
static int transact(struct queue *q, unsigned n)
{
	offer(q, n);
	return wait_used(q, q->avail_idx, stall_ticks) ? 0 : FAIL_STALL;
}

static int send_pfns(struct queue *q, uint64_t first, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		pfns[i] = (uint32_t)(first + i);
	q->desc[0] = (struct virtq_desc){ (uintptr_t)pfns, (uint32_t)(count * 4), 0, 0 };
	return transact(q, 1);
}

static int send_page_range(struct queue *q, uint64_t gpa, uint64_t pages)
{
	for (uint64_t done = 0; done < pages; done += PFNS_PER_BUFFER) {
		uint64_t n = pages - done < PFNS_PER_BUFFER ? pages - done : PFNS_PER_BUFFER;
		int rc = send_pfns(q, gpa / PAGE + done, n);
		if (rc)
			return rc;
	}
	return 0;
}

/* Page i of the area holds i + 1. */
static void touch_pages(const struct job *j, uint64_t first, uint64_t end)
{
	for (uint64_t i = first; i < end; i++)
		*(volatile uint32_t *)(uintptr_t)(j->start + i * PAGE) = (uint32_t)(i + 1);
}

static uint64_t touch_area(uint64_t arg)
{
	const struct job *j = (const struct job *)(uintptr_t)arg;
	touch_pages(j, 0, j->len / PAGE);
	return 0;
}

/* The page after the first `inflated` pages was not given: it keeps what was written. */
static int check_neighbour(const struct job *j)
{
	uint64_t guard = j->start + j->inflated * PAGE;
	if (guard < j->start + j->len &&
	    *(volatile uint32_t *)(uintptr_t)guard != (uint32_t)(j->inflated + 1))
		return FAIL_NEIGHBOUR_LOST;
	return 0;
}

static uint64_t inflate(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	j->failure = send_page_range(&queues[INFLATEQ], j->start, j->inflated);
	if (j->failure)
		return 1;
	j->failure = check_neighbour(j);
	return 0;
}

/* Free page reporting: the device-writable descriptors are the report. */
static uint64_t report(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	struct queue *q = &queues[REPORTQ];
	uint64_t at = j->start + j->inflated * PAGE, end = j->start + j->len;
	while (at < end && !j->failure) {
		unsigned n = 0;
		for (; n < REPORT_CHAIN && at < end; n++, at += REPORT_BLOCK) {
			uint64_t len = end - at < REPORT_BLOCK ? end - at : REPORT_BLOCK;
			q->desc[n] = (struct virtq_desc){ at, (uint32_t)len, VIRTQ_DESC_F_WRITE, 0 };
		}
		j->failure = transact(q, n);
	}
	return 0;
}

/* Every page the host released reads zero now. */
static uint64_t count_nonzero(uint64_t start, uint64_t len)
{
	uint64_t n = 0;
	for (uint64_t off = 0; off < len; off += PAGE)
		n += *(volatile uint32_t *)(uintptr_t)(start + off) != 0;
	return n;
}

static uint64_t deflate_and_check(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	j->failure = send_page_range(&queues[DEFLATEQ], j->start, j->inflated);
	if (!j->failure && count_nonzero(j->start, j->inflated * PAGE))
		j->failure = FAIL_NOT_RELEASED;
	if (!j->failure && queues[REPORTQ].present &&
	    count_nonzero(j->start + j->inflated * PAGE, j->len - j->inflated * PAGE))
		j->failure = FAIL_NOT_RELEASED;
	if (!j->failure)
		touch_area(arg);
	return 0;
}

/* Page numbers the device must ignore: past RAM, in the PCI window, the largest one. */
static uint64_t hostile_pfns(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	pfns[0] = (uint32_t)(j->ram_end / PAGE);
	pfns[1] = (uint32_t)(0xc0000000ull / PAGE);
	pfns[2] = 0xffffffffu;
	queues[INFLATEQ].desc[0] = (struct virtq_desc){ (uintptr_t)pfns, 12, 0, 0 };
	j->failure = transact(&queues[INFLATEQ], 1);
	return 0;
}

/* Offers the statistics buffer: free and total memory (tags 4 and 5, 5.5.6.3). */
static void offer_stats(uint64_t free, uint64_t total)
{
	struct queue *q = &queues[STATSQ];
	uint64_t values[2] = { free, total };
	for (unsigned i = 0; i < 2; i++) {
		uint16_t tag = (uint16_t)(4 + i);
		memcpy(stats_buf + 10 * i, &tag, 2);
		memcpy(stats_buf + 10 * i + 2, &values[i], 8);
	}
	q->desc[0] = (struct virtq_desc){ (uintptr_t)stats_buf, sizeof(stats_buf), 0, 0 };
	offer(q, 1);
}

/* Offers the statistics buffer and waits for it to come back. */
static uint64_t stats_round(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	struct queue *q = &queues[STATSQ];
	offer_stats(j->ram_end - j->len, j->ram_end);
	if (!wait_used(q, q->avail_idx, 3 * stall_ticks))
		j->failure = FAIL_STALL;
	return 0;
}

/* ---- Serve mode (CPL3) ---- */

enum serve_event { SERVE_TARGET = 1, SERVE_STATS };

/* The host's target in pages, at most the touched area (the balloon's pages come from it). */
static uint64_t serve_target(const struct job *j)
{
	uint64_t want = mmio_read32(dev.device);
	return want < j->len / PAGE ? want : j->len / PAGE;
}

static bool stats_returned(const struct queue *q)
{
	return virtq_used_idx(q->used) == q->avail_idx;
}

/* Polls every poll_ticks until the target moves or the device returned the statistics buffer
 * (its polling timer: the request for fresh statistics), which is refilled and offered again. */
static uint64_t serve_wait(uint64_t arg)
{
	const struct job *j = (const struct job *)(uintptr_t)arg;
	for (;;) {
		if (serve_target(j) != j->inflated)
			return SERVE_TARGET;
		if (queues[STATSQ].present && stats_returned(&queues[STATSQ])) {
			offer_stats(j->ram_end - j->len, j->ram_end - j->inflated * PAGE);
			return SERVE_STATS;
		}
		uint64_t start = rdtsc();
		while (rdtsc() - start < poll_ticks)
			cpu_relax();
	}
}

/* Inflates or deflates the pages between `inflated` and the target. */
static uint64_t serve_follow(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	uint64_t target = serve_target(j);
	if (target > j->inflated) {
		j->failure = send_page_range(&queues[INFLATEQ], j->start + j->inflated * PAGE,
					     target - j->inflated);
	} else {
		uint64_t from = j->start + target * PAGE, pages = j->inflated - target;
		j->failure = send_page_range(&queues[DEFLATEQ], from, pages);
		if (!j->failure && count_nonzero(from, pages * PAGE))
			j->failure = FAIL_NOT_RELEASED;
		if (!j->failure)
			touch_pages(j, target, j->inflated);
	}
	if (!j->failure) {
		j->inflated = target;
		j->failure = check_neighbour(j);
	}
	return 0;
}

/* ---- Orchestration (CPL0) ---- */

static bool wait_for_host;

/* With wait=1: waits for a line on COM1 (polling LSR: no interrupts), the host's go-ahead. */
static void wait_host(void)
{
	if (!wait_for_host)
		return;
	for (;;) {
		while (!(inb(PORT_COM1 + 5) & 1))
			cpu_relax();
		if (inb(PORT_COM1) == '\n')
			return;
	}
}

static int device_ok(void)
{
	return virtio_pci_status(&dev) & VIRTIO_NEEDS_RESET ? FAIL_NEEDS_RESET : 0;
}

static int run(void)
{
	uint64_t arg = (uint64_t)(uintptr_t)&job;
	user_call(touch_area, arg);
	console_printf("balloon: touched %lu MiB\n", job.len / MIB);
	wait_host();
	job.inflated = mmio_read32(dev.device);
	if (job.inflated * PAGE > job.len)
		return FAIL_TARGET;
	user_call(inflate, arg);
	if (job.failure)
		return job.failure;
	mmio_write32(dev.device + 4, (uint32_t)job.inflated);
	console_printf("balloon: inflated %lu pages (%lu MiB)\n", job.inflated,
		       job.inflated * PAGE / MIB);
	wait_host();
	if (queues[REPORTQ].present) {
		user_call(report, arg);
		if (job.failure)
			return job.failure;
		console_printf("balloon: reported %lu MiB free\n",
			       (job.len - job.inflated * PAGE) / MIB);
		wait_host();
	}
	user_call(deflate_and_check, arg);
	if (job.failure)
		return job.failure;
	mmio_write32(dev.device + 4, 0);
	console_printf("balloon: retouched %lu MiB after deflating %lu pages\n", job.len / MIB,
		       job.inflated);
	wait_host();
	user_call(hostile_pfns, arg);
	if (job.failure || (job.failure = device_ok()))
		return job.failure;
	if (queues[STATSQ].present) {
		user_call(stats_round, arg);
		if (job.failure)
			return job.failure;
		console_printf("balloon: stats buffer returned\n");
	}
	return device_ok();
}

/* serve=1: follows the host's target until the VM is stopped; returns only on a failure. */
static int serve(void)
{
	uint64_t arg = (uint64_t)(uintptr_t)&job;
	unsigned offered = 0;
	user_call(touch_area, arg);
	console_printf("balloon: touched %lu MiB\n", job.len / MIB);
	console_printf("balloon: serving, RAM ends at %lu\n", job.ram_end);
	for (;;) {
		if (user_call(serve_wait, arg) == SERVE_STATS) {
			console_printf("balloon: statistics buffer %u offered\n", ++offered);
			continue;
		}
		user_call(serve_follow, arg);
		if (job.failure || (job.failure = device_ok()))
			return job.failure;
		mmio_write32(dev.device + 4, (uint32_t)job.inflated);
		console_printf("balloon: actual %lu pages (%lu MiB)\n", job.inflated,
			       job.inflated * PAGE / MIB);
	}
}

int guest_main(const struct hvm_start_info *si)
{
	job.start = AREA_START;
	job.len = cmdline_number("touch", 256) * MIB;
	job.ram_end = memmap_ram_end(si, AREA_START);
	wait_for_host = cmdline_number("wait", 0) != 0;
	stall_ticks = 5 * tsc_hz();
	poll_ticks = tsc_hz() / 100;
	if (!job.ram_end || job.start + job.len > job.ram_end) {
		console_printf("balloon: %lu MiB from 16 MiB do not fit in RAM\n", job.len / MIB);
		return FAIL_TOO_SMALL;
	}
	int rc = find_balloon();
	if (!rc)
		rc = bring_up();
	if (!rc)
		rc = cmdline_number("serve", 0) ? serve() : run();
	if (rc) {
		console_printf("balloon: failed at step %d\n", rc);
		return rc;
	}
	virtio_pci_set_status(&dev, 0);
	console_printf("balloon: done\n");
	acpi_poweroff();
}
