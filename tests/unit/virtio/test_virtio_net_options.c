/* --net parsing: keys, MACs, MTUs, token buckets, one-line errors, lists of devices. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/net_options.h"

static struct net_options parse_ok(const char *text, unsigned index)
{
	struct net_options o;
	struct error e = { { 0 } };
	cr_assert_eq(net_options_parse(text, index, &o, &e), 0, "'%s': %s", text, e.msg);
	return o;
}

static void parse_fails(const char *text, const char *needle)
{
	struct net_options o;
	memset(&o, 0x5a, sizeof(o));
	struct net_options before = o;
	struct error e = { { 0 } };
	cr_assert_eq(net_options_parse(text, 0, &o, &e), -1, "'%s' was accepted", text);
	cr_assert(strstr(e.msg, needle), "'%s': message '%s' lacks '%s'", text, e.msg, needle);
	cr_assert(!strchr(e.msg, '\n'), "one line");
	cr_assert(!memcmp(&o, &before, sizeof(o)), "a failed parse leaves the output alone");
}

Test(net_options, minimal)
{
	struct net_options o = parse_ok("tap=tap0", 3);
	cr_assert_str_eq(o.tap, "tap0");
	cr_assert_str_eq(o.id, "net3");
	cr_assert(!o.mac_set);
	cr_assert_eq(o.mtu, 0);
	cr_assert_eq(o.rx.bandwidth.size, 0);
	cr_assert_eq(o.tx.ops.size, 0);
}

Test(net_options, everything)
{
	struct net_options o = parse_ok("tap=vm1-eth0,id=eth0,mac=02:AB:cd:00:00:01,mtu=9000,"
					"rx-bw=10M:100,rx-ops=1000:1000:5000,tx-bw=64K:10:1G,"
					"tx-ops=200:50", 0);
	cr_assert_str_eq(o.tap, "vm1-eth0");
	cr_assert_str_eq(o.id, "eth0");
	cr_assert(o.mac_set);
	uint8_t mac[6] = { 0x02, 0xab, 0xcd, 0, 0, 1 };
	cr_assert(!memcmp(o.mac, mac, 6));
	cr_assert_eq(o.mtu, 9000);
	cr_assert_eq(o.rx.bandwidth.size, 10 << 20);
	cr_assert_eq(o.rx.bandwidth.refill_time_ms, 100);
	cr_assert_eq(o.rx.bandwidth.one_time_burst, 0);
	cr_assert_eq(o.rx.ops.size, 1000);
	cr_assert_eq(o.rx.ops.one_time_burst, 5000);
	cr_assert_eq(o.tx.bandwidth.size, 64 << 10);
	cr_assert_eq(o.tx.bandwidth.one_time_burst, 1ull << 30);
	cr_assert_eq(o.tx.ops.size, 200);
	cr_assert_eq(o.tx.ops.refill_time_ms, 50);
}

Test(net_options, errors_name_the_problem)
{
	parse_fails("", "tap=NAME is required");
	parse_fails("mac=02:00:00:00:00:01", "tap=NAME is required");
	parse_fails("tap=a,tap=b", "given twice");
	parse_fails("tap=a,colour=blue", "unknown key 'colour'");
	parse_fails("tap", "not KEY=VALUE");
	parse_fails("tap=", "empty");
	parse_fails("tap=averyveryverylongname", "longer than 15");
	parse_fails("tap=a/b", "character");
	parse_fails("tap=a b", "character");
	parse_fails("tap=..", "cannot be an interface name");
	parse_fails("tap=t,mac=01:00:5e:00:00:01", "multicast");
	parse_fails("tap=t,mac=00:00:00:00:00:00", "all zeros");
	parse_fails("tap=t,mac=02:00:00:00:00", "XX:XX");
	parse_fails("tap=t,mac=02-00-00-00-00-01", "XX:XX");
	parse_fails("tap=t,mac=0g:00:00:00:00:01", "XX:XX");
	parse_fails("tap=t,mtu=67", "68 to 65535");
	parse_fails("tap=t,mtu=65536", "68 to 65535");
	parse_fails("tap=t,mtu=1500x", "68 to 65535");
	parse_fails("tap=t,mtu=-1", "68 to 65535");
	parse_fails("tap=t,id=", "1 to 31");
	parse_fails("tap=t,id=a:b", "letters, digits");
}

Test(net_options, bucket_errors)
{
	parse_fails("tap=t,rx-bw=10M", "SIZE:REFILL_MS");
	parse_fails("tap=t,rx-bw=0:100", "positive number of bytes");
	parse_fails("tap=t,rx-bw=10X:100", "positive number of bytes");
	parse_fails("tap=t,rx-bw=10M:0", "positive number of milliseconds");
	parse_fails("tap=t,rx-bw=10M:1s", "positive number of milliseconds");
	parse_fails("tap=t,tx-bw=1M:100:x", "one-time burst");
	parse_fails("tap=t,tx-ops=10K:100", "positive number of frames");
	parse_fails("tap=t,tx-ops=99999999999999999999:100", "positive number");
	parse_fails("tap=t,rx-bw=16777216T:100", "positive number of bytes");
	parse_fails("tap=t,rx-ops=1:9999999999999", "too long");
}

Test(net_options, mac_format_round_trip)
{
	uint8_t mac[6];
	char buf[18];
	struct error e;
	cr_assert_eq(net_mac_parse("52:54:00:12:34:56", mac, &e), 0);
	cr_assert_str_eq(net_mac_format(mac, buf), "52:54:00:12:34:56");
}

Test(net_options, lists_must_not_collide)
{
	struct net_options list[3] = { parse_ok("tap=a,mac=02:00:00:00:00:01", 0),
				       parse_ok("tap=b", 1), parse_ok("tap=c", 2) };
	struct error e = { { 0 } };
	cr_assert_eq(net_options_check_list(list, 3, &e), 0, "%s", e.msg);
	list[2] = parse_ok("tap=a", 2);
	cr_assert_eq(net_options_check_list(list, 3, &e), -1);
	cr_assert(strstr(e.msg, "TAP 'a'"), "%s", e.msg);
	list[2] = parse_ok("tap=c,id=net1", 2);
	cr_assert_eq(net_options_check_list(list, 3, &e), -1);
	cr_assert(strstr(e.msg, "id 'net1'"), "%s", e.msg);
	list[2] = parse_ok("tap=c,mac=02:00:00:00:00:01", 2);
	cr_assert_eq(net_options_check_list(list, 3, &e), -1);
	cr_assert(strstr(e.msg, "MAC 02:00:00:00:00:01"), "%s", e.msg);
}
