/* Helpers for the virtio-net device tests (see test_virtio_net_util.h). */
#include "test_virtio_net_util.h"

#include "devices/virtio/net_internal.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void nt_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

uint64_t nt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* no IPv6: nothing to silence */
	if (write(fd, value, strlen(value)) < 0) {
		/* best effort */
	}
	close(fd);
}

static void enter_private_netns(void)
{
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0)
		cr_skip_test("needs root and /dev/net/tun");
	if (unshare(CLONE_NEWNET) != 0)
		cr_skip_test("cannot unshare a network namespace: %s", strerror(errno));
	/* No IPv6 chatter (router solicitations, MLD) on the test interface. */
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
}

static void link_up(struct nt *t, unsigned mtu)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, NT_TAP);
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		cr_assert_eq(ioctl(t->pkt, SIOCSIFMTU, &ifr), 0, "SIOCSIFMTU: %s", strerror(errno));
	}
	cr_assert_eq(ioctl(t->pkt, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(t->pkt, SIOCSIFFLAGS, &ifr), 0, "SIOCSIFFLAGS: %s", strerror(errno));
	/* The kernel's link watcher finishes bringing a fresh interface up a little later; sends
	 * fail with ENETDOWN until then. Probe, then drain the probes from the TAP (the device is
	 * not live yet, so nobody else reads it). */
	uint8_t probe[60];
	nt_frame(probe, sizeof(probe), 0, 0);
	bool sent = false;
	for (int i = 0; i < 200 && !sent; i++) {
		sent = send(t->pkt, probe, sizeof(probe), 0) == (ssize_t)sizeof(probe);
		if (!sent)
			nt_sleep_ms(5);
	}
	cr_assert(sent, "the TAP never came up: %s", strerror(errno));
	uint8_t drain[NT_HDR + 65536];
	for (int i = 0; i < 100; i++) {
		if (read(t->net->tap.fd, drain, sizeof(drain)) < 0 && errno == EAGAIN)
			break;
	}
}

void nt_setup(struct nt *t, const char *opts, unsigned mtu)
{
	memset(t, 0, sizeof(*t));
	t->pkt = -1;
	enter_private_netns();
	vd_setup(&t->d);
	struct net_options o;
	cr_assert_eq(net_options_parse(opts, 0, &o, &t->d.e), 0, "%s", t->d.e.msg);
	t->net = virtio_net_create(t->d.bus, -1, &t->d.gm, &o, &t->d.e);
	cr_assert_not_null(t->net, "%s", t->d.e.msg);
	vd_probe(&t->d, 1);
	t->ifindex = (int)if_nametoindex(NT_TAP);
	cr_assert_gt(t->ifindex, 0, "the device did not create " NT_TAP);
	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	cr_assert_geq(t->pkt, 0, "AF_PACKET: %s", strerror(errno));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = t->ifindex };
	cr_assert_eq(bind(t->pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	link_up(t, mtu);
}

void nt_teardown(struct nt *t)
{
	virtio_net_destroy(t->net);
	if (t->pkt >= 0)
		close(t->pkt);
	vd_teardown(&t->d);
}

void nt_bring_up(struct nt *t, uint64_t features)
{
	vd_msix_on(&t->d, 3);
	vd_negotiate(&t->d, features);
	vd_write(&t->d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	vd_queue_setup(&t->d, &t->rx, NT_RXQ, VIRTIO_NET_QUEUE_SIZE, 1);
	vd_queue_setup(&t->d, &t->tx, NT_TXQ, VIRTIO_NET_QUEUE_SIZE, 2);
	vd_set_status(&t->d, vd_status(&t->d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&t->d) & VIRTIO_STATUS_DRIVER_OK);
}

uint64_t nt_post_rx(struct nt *t, uint32_t len)
{
	uint64_t buf = vd_alloc(&t->d, len);
	vd_offer(&t->d, &t->rx, vd_desc(&t->d, &t->rx, buf, len, VIRTQ_DESC_F_WRITE, 0));
	return buf;
}

/* Appends `len` bytes as `pieces` chained descriptors; returns the first index. */
static uint16_t add_pieces(struct nt *t, const uint8_t *src, uint32_t len, unsigned pieces,
			   bool last)
{
	uint16_t first = (uint16_t)(t->tx.next_desc % t->tx.size);
	uint32_t off = 0;
	for (unsigned i = 0; i < pieces; i++) {
		uint32_t n = i + 1 == pieces ? len - off : len / pieces;
		uint64_t gpa = vd_alloc(&t->d, n ? n : 1);
		memcpy(vd_host(&t->d, gpa, n ? n : 1), src + off, n);
		bool more = !(last && i + 1 == pieces);
		uint16_t next = (uint16_t)((t->tx.next_desc + 1) % t->tx.size);
		vd_desc(&t->d, &t->tx, gpa, n, more ? VIRTQ_DESC_F_NEXT : 0, more ? next : 0);
		off += n;
	}
	return first;
}

uint16_t nt_send(struct nt *t, const uint8_t *hdr, const uint8_t *frame, uint32_t len,
		 unsigned split)
{
	uint8_t zero[NT_HDR] = { 0 };
	if (!hdr)
		hdr = zero;
	uint16_t head;
	if (split == 0) {
		uint8_t *all = malloc(NT_HDR + len);
		memcpy(all, hdr, NT_HDR);
		memcpy(all + NT_HDR, frame, len);
		head = add_pieces(t, all, NT_HDR + len, 1, true);
		free(all);
	} else {
		head = add_pieces(t, hdr, NT_HDR, split, false);
		add_pieces(t, frame, len, split, true);
	}
	vd_offer(&t->d, &t->tx, head);
	vd_kick(&t->d, NT_TXQ);
	return head;
}

bool nt_wait_used(struct nt *t, struct vd_ring *r, uint16_t want, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		if (vd_used_idx(&t->d, r) == want)
			return true;
		nt_sleep_ms(1);
	}
	return vd_used_idx(&t->d, r) == want;
}

bool nt_wait_status(struct nt *t, uint8_t bit, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		if (vd_status(&t->d) & bit)
			return true;
		nt_sleep_ms(1);
	}
	return false;
}

void nt_host_send(struct nt *t, const uint8_t *frame, uint32_t len)
{
	ssize_t n = send(t->pkt, frame, len, 0);
	cr_assert_eq(n, (ssize_t)len, "host send of %u bytes: %s", len, strerror(errno));
}

int nt_host_recv(struct nt *t, uint8_t *buf, uint32_t cap, uint32_t magic, unsigned ms)
{
	uint64_t end = nt_now_ms() + ms;
	for (;;) {
		uint64_t now = nt_now_ms();
		if (now >= end)
			return -1;
		struct pollfd p = { .fd = t->pkt, .events = POLLIN };
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(t->pkt, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 18 || from.sll_pkttype == PACKET_OUTGOING)
			continue; /* our own host_send, or too short to be a test frame */
		uint32_t m;
		memcpy(&m, buf + 14, 4);
		if (m == magic)
			return (int)n;
	}
}

void nt_frame(uint8_t *buf, uint32_t len, uint32_t magic, uint8_t seed)
{
	static const uint8_t head[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* broadcast */
					  0x02, 0, 0, 0, 0, 0x42, 0x88, 0xb5 };
	memcpy(buf, head, 14);
	memcpy(buf + 14, &magic, 4);
	for (uint32_t i = 18; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

struct virtio_net_counters nt_counters(struct nt *t)
{
	struct virtio_net_counters c;
	virtio_net_get_counters(t->net, &c);
	return c;
}

uint64_t nt_config(struct nt *t, unsigned offset, unsigned size)
{
	cr_assert(t->d.device, "no device configuration");
	return vd_mmio_read(&t->d, t->d.device + offset, size);
}

void nt_delete_tap(struct nt *t)
{
	(void)t;
	int rc = system("ip link del dev " NT_TAP " 2>&1");
	if (rc != 0)
		cr_skip_test("cannot delete the TAP with ip(8) (iproute2 missing?)");
}
