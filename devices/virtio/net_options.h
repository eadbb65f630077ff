/* What a virtio-net device is made of, as `ember run --net` (or an API) describes it:
 *
 *   --net tap=NAME[,id=ID][,mac=MAC][,mtu=N][,rx-bw=R][,rx-ops=R][,tx-bw=R][,tx-ops=R]
 *
 * R is a token bucket, SIZE:REFILL_MS[:BURST] (see docs/devices.md): for -bw, SIZE and BURST are
 * bytes (K/M/G suffixes are binary); for -ops, they are frames. rx is guest-bound traffic (what
 * the device reads from the TAP), tx is what the guest sends. Strings are copied into the struct,
 * which is plain data. */
#ifndef EMBER_VIRTIO_NET_OPTIONS_H
#define EMBER_VIRTIO_NET_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../rate_limiter.h"

#define NET_MAX_DEVICES   8
#define NET_TAP_NAME_MAX  15    /* IFNAMSIZ - 1 */
#define NET_ID_MAX        31
#define NET_MIN_MTU       68    /* IPv4's minimum */
#define NET_MAX_MTU       65535

struct net_options {
	char id[NET_ID_MAX + 1];          /* names the device for the API and messages */
	char tap[NET_TAP_NAME_MAX + 1];   /* host TAP interface */
	uint8_t mac[6];
	bool mac_set;                     /* false: a random locally administered address */
	uint16_t mtu;                     /* 0: not advertised (VIRTIO_NET_F_MTU off) */
	struct rate_limiter_config rx, tx;
};

/* Parses one --net value. `index` (0-based, among --net flags) names the device "net<index>"
 * unless id= is given. Fills *o or returns -1 with a one-line message. */
int net_options_parse(const char *text, unsigned index, struct net_options *o, struct error *e);

/* Checks that no two devices share an id, a TAP or a MAC. */
int net_options_check_list(const struct net_options *list, unsigned n, struct error *e);

/* Validates a name a TAP can have (what the kernel accepts for an interface). */
int net_tap_name_check(const char *name, struct error *e);

/* "52:54:00:12:34:56" into mac (-1 if malformed, multicast or all zeros). */
int net_mac_parse(const char *text, uint8_t mac[6], struct error *e);
/* buf must hold 18 bytes. */
const char *net_mac_format(const uint8_t mac[6], char buf[18]);

#endif
