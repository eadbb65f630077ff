/* Firecracker's device objects as Ember reads them: drives, network interfaces, vsock, entropy
 * and balloon bodies (PUT and PATCH), the config-file sections, the vm_config they produce and
 * what GET /vm/config shows of them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/api/fc_config_file.h"
#include "vmm/api/fc_devices.h"
#include "vmm/api/fc_json.h"
#include "vmm/api/fc_resources.h"

static char image[64];
static struct fc_resources res;

static void setup(void)
{
	strcpy(image, "/tmp/ember-test-drive-XXXXXX");
	int fd = mkstemp(image);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	fc_resources_init(&res);
}

static void teardown(void)
{
	fc_resources_free(&res);
	unlink(image);
}

static struct json_object *parse(const char *text)
{
	struct error e;
	struct json_object *o = fc_json_parse(text, strlen(text), &e);
	cr_assert_not_null(o, "%s: %s", text, e.msg);
	return o;
}

typedef int (*put_fn)(struct fc_resources *r, const char *path_id, struct json_object *body,
		      struct error *e);

/* fmt may use %1$s for the image path. */
static int put(put_fn fn, const char *path_id, const char *fmt, struct error *e)
{
	char text[1024];
	snprintf(text, sizeof(text), fmt, image);
	struct json_object *o = parse(text);
	int rc = fn(&res, path_id, o, e);
	json_object_put(o);
	return rc;
}

static int put_drive(const char *id, const char *fmt, struct error *e)
{
	return put(fc_put_drive, id, fmt, e);
}

static int put_net(const char *id, const char *fmt, struct error *e)
{
	return put(fc_put_network_interface, id, fmt, e);
}

typedef int (*put_plain_fn)(struct fc_resources *r, struct json_object *body, struct error *e);

static int put_plain(put_plain_fn fn, const char *text, struct error *e)
{
	struct json_object *o = parse(text);
	int rc = fn(&res, o, e);
	json_object_put(o);
	return rc;
}

static void expect_refused(int rc, const struct error *e, const char *word, const char *what)
{
	cr_assert_eq(rc, -1, "accepted %s", what);
	cr_assert(strstr(e->msg, word), "'%s' does not name '%s' (%s)", e->msg, word, what);
}

/* GET /vm/config as text, for substring checks. */
static const char *vm_config_text(void)
{
	static char buf[8192];
	struct json_object *o = fc_vm_config_json(&res);
	snprintf(buf, sizeof(buf), "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return buf;
}

static void set_boot_source(void)
{
	struct error e;
	struct json_object *o = parse("{\"kernel_image_path\": \"/proc/self/exe\", "
				      "\"boot_args\": \"console=ttyS0\"}");
	cr_assert_eq(fc_put_boot_source(&res, o, &e), 0, "%s", e.msg);
	json_object_put(o);
}

TestSuite(fc_drives, .init = setup, .fini = teardown);
TestSuite(fc_net, .init = setup, .fini = teardown);
TestSuite(fc_small_devices, .init = setup, .fini = teardown);

Test(fc_drives, root_first_one_root_replace_in_place)
{
	struct error e;
	cr_assert_eq(put_drive("data", "{\"drive_id\": \"data\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false}", &e), 0, "%s", e.msg);
	cr_assert_eq(put_drive("rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": true, \"is_read_only\": true}", &e), 0, "%s",
		     e.msg);
	cr_assert_eq(res.ndrives, 2);
	cr_assert_str_eq(res.drives[0].id, "rootfs", "the root drive goes first");
	cr_assert_str_eq(res.drives[1].id, "data");
	expect_refused(put_drive("other", "{\"drive_id\": \"other\", \"path_on_host\": \"%1$s\", "
				 "\"is_root_device\": true}", &e), &e, "rootfs", "a second root");
	cr_assert_eq(res.ndrives, 2, "a refused PUT changes nothing");
	/* The same id replaces: rootfs stays root and may be replaced as root. */
	cr_assert_eq(put_drive("rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": true, \"partuuid\": \"0eaa91a0-01\"}", &e), 0,
		     "%s", e.msg);
	cr_assert_eq(res.ndrives, 2);
	cr_assert_not(res.drives[0].read_only, "a PUT replaces every field");
	cr_assert_str_eq(res.drives[0].partuuid, "0eaa91a0-01");
	/* rootfs no longer root: then data may become root, swapped into the first slot. */
	cr_assert_eq(put_drive("rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false}", &e), 0, "%s", e.msg);
	cr_assert_eq(put_drive("data", "{\"drive_id\": \"data\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": true}", &e), 0, "%s", e.msg);
	cr_assert_str_eq(res.drives[0].id, "data");
	cr_assert_str_eq(res.drives[1].id, "rootfs");
}

Test(fc_drives, bodies_are_checked)
{
	struct error e;
	const char *bad[][3] = {
		{ "a", "{\"drive_id\": \"b\", \"path_on_host\": \"%1$s\", \"is_root_device\": false}",
		  "does not match" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\"}", "is_root_device" },
		{ "a", "{\"drive_id\": \"a\", \"is_root_device\": false}", "path_on_host" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/nonexistent/img\", "
		  "\"is_root_device\": false}", "/nonexistent/img" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/dev/null\", "
		  "\"is_root_device\": false}", "regular file" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": false, "
		  "\"cache_type\": \"None\"}", "cache_type" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": false, "
		  "\"io_engine\": \"Uring\"}", "io_engine" },
		{ "a", "{\"drive_id\": \"a\", \"socket\": \"/run/vhost.sock\", \"is_root_device\": "
		  "false}", "socket" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": false, "
		  "\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}}",
		  "rate_limiter" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": false, "
		  "\"rate_limiter\": {\"ops\": {\"size\": 10}}}", "refill_time" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": true, "
		  "\"partuuid\": \"x y\"}", "partuuid" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": \"no\"}",
		  "is_root_device" },
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", \"is_root_device\": false, "
		  "\"bogus\": 1}", "bogus" },
		{ NULL, "{\"drive_id\": \"a.b\", \"path_on_host\": \"%1$s\", \"is_root_device\": "
		  "false}", "drive_id" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(put_drive(bad[i][0], bad[i][1], &e), &e, bad[i][2], bad[i][1]);
	cr_assert_eq(res.ndrives, 0);
	/* A limiter without enabled buckets limits nothing: accepted. */
	cr_assert_eq(put_drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": "
			       "{\"size\": 0, \"refill_time\": 0}}, \"partuuid\": null}", &e), 0,
		     "%s", e.msg);
}

Test(fc_drives, one_io_engine_per_vm)
{
	struct error e;
	cr_assert_eq(put_drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false, \"io_engine\": \"Sync\"}", &e), 0);
	cr_assert_eq(put_drive("b", "{\"drive_id\": \"b\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false}", &e), 0, "%s", e.msg);
	expect_refused(put_drive("c", "{\"drive_id\": \"c\", \"path_on_host\": \"%1$s\", "
				 "\"is_root_device\": false, \"io_engine\": \"Async\"}", &e), &e,
		       "one io engine", "a second engine");
	/* Replacing the only explicit one may change it. */
	cr_assert_eq(put_drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false, \"io_engine\": \"Async\"}", &e), 0,
		     "%s", e.msg);
	cr_assert_eq(fc_drives_engine(&res), VIRTIO_BLK_ENGINE_IO_URING);
}

Test(fc_drives, the_vm_config_and_the_root_on_the_command_line)
{
	struct error e;
	struct vm_config cfg;
	set_boot_source();
	cr_assert_eq(fc_resources_vm_config(&res, &cfg, &e), 0, "%s", e.msg);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0", "no root drive: boot_args unchanged");
	cr_assert_eq(put_drive("data", "{\"drive_id\": \"data\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false, \"is_read_only\": true, \"io_engine\": "
			       "\"Sync\", \"cache_type\": \"Writeback\"}", &e), 0, "%s", e.msg);
	cr_assert_eq(put_drive("rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": true}", &e), 0, "%s", e.msg);
	cr_assert_eq(fc_resources_vm_config(&res, &cfg, &e), 0, "%s", e.msg);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 root=/dev/vda rw");
	cr_assert_eq(cfg.ndisks, 2);
	cr_assert_str_eq(cfg.disks[0].path, image);
	cr_assert_not(cfg.disks[0].readonly);
	cr_assert(cfg.disks[1].readonly);
	cr_assert_eq(cfg.disks[1].queues, 1);
	cr_assert_eq(cfg.io_engine, VIRTIO_BLK_ENGINE_SYNC);

	cr_assert_eq(put_drive("rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": "
			       "\"6a3b5e2c-01\"}", &e), 0, "%s", e.msg);
	cr_assert_eq(fc_resources_vm_config(&res, &cfg, &e), 0, "%s", e.msg);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 root=PARTUUID=6a3b5e2c-01 ro");

	const char *text = vm_config_text();
	char want[512];
	snprintf(want, sizeof(want), "\"drives\":[{\"drive_id\":\"rootfs\",\"partuuid\":"
		 "\"6a3b5e2c-01\",\"is_root_device\":true,\"cache_type\":\"Unsafe\","
		 "\"is_read_only\":true,\"path_on_host\":\"%s\",\"io_engine\":\"Sync\"},"
		 "{\"drive_id\":\"data\",\"is_root_device\":false,\"cache_type\":\"Writeback\"",
		 image);
	cr_assert(strstr(text, want), "%s\n does not contain\n%s", text, want);
	cr_assert_str_eq(res.boot_args, "console=ttyS0", "GET shows boot_args as given");
}

Test(fc_drives, patch_can_change_nothing)
{
	struct error e;
	cr_assert_eq(put_drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"%1$s\", "
			       "\"is_root_device\": false}", &e), 0);
	const char *bad[][3] = {
		{ "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/tmp/other.img\"}", "path_on_host" },
		{ "a", "{\"drive_id\": \"a\", \"rate_limiter\": {\"ops\": {\"size\": 5, "
		  "\"refill_time\": 10}}}", "rate_limiter" },
		{ "a", "{\"drive_id\": \"a\"}", "nothing to update" },
		{ "b", "{\"drive_id\": \"b\", \"path_on_host\": \"/x\"}", "no drive 'b'" },
		{ "a", "{\"drive_id\": \"b\"}", "does not match" },
		{ "a", "{\"drive_id\": \"a\", \"is_read_only\": true}", "is_read_only" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = parse(bad[i][1]);
		expect_refused(fc_patch_drive(&res, bad[i][0], o, &e), &e, bad[i][2], bad[i][1]);
		json_object_put(o);
	}
	struct json_object *o = parse("{\"drive_id\": \"a\", \"rate_limiter\": {}}");
	cr_assert_eq(fc_patch_drive(&res, "a", o, &e), 0, "%s", e.msg);
	json_object_put(o);
}

Test(fc_net, interfaces_and_their_limiters)
{
	struct error e;
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			     "\"guest_mac\": \"06:00:c0:a8:00:02\", \"mtu\": 1400, "
			     "\"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1000000, "
			     "\"refill_time\": 100, \"one_time_burst\": 5000}}, "
			     "\"tx_rate_limiter\": null}", &e), 0, "%s", e.msg);
	cr_assert_eq(res.nnets, 1);
	const struct net_options *n = &res.nets[0];
	cr_assert_str_eq(n->id, "eth0");
	cr_assert_str_eq(n->tap, "tap0");
	cr_assert(n->mac_set);
	cr_assert_eq(n->mac[0], 0x06);
	cr_assert_eq(n->mac[5], 0x02);
	cr_assert_eq(n->mtu, 1400);
	cr_assert_eq(n->rx.bandwidth.size, 1000000);
	cr_assert_eq(n->rx.bandwidth.refill_time_ms, 100);
	cr_assert_eq(n->rx.bandwidth.one_time_burst, 5000);
	cr_assert_eq(n->tx.ops.size, 0);

	const char *bad[][3] = {
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
		  "\"06:00:c0:a8:00:02\"}", "MAC" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}", "TAP" },
		{ "eth1", "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap1\"}", "does not match" },
		{ "eth1", "{\"iface_id\": \"eth1\"}", "host_dev_name" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
		  "\"01:00:00:00:00:01\"}", "guest_mac" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"a-very-long-tap-name\"}",
		  "host_dev_name" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"mtu\": 60}", "mtu" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"rx_rate_limiter\": "
		  "{\"bandwidth\": {\"size\": -1, \"refill_time\": 1}}}", "size" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"tx_rate_limiter\": "
		  "{\"ops\": {\"size\": 1, \"refill_time\": 1, \"extra\": 1}}}", "extra" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"tx_rate_limiter\": "
		  "{\"burst\": {}}}", "burst" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"tx_rate_limiter\": "
		  "5}", "tx_rate_limiter" },
		{ "abcdefghijabcdefghijabcdefghijabc", "{\"iface_id\": "
		  "\"abcdefghijabcdefghijabcdefghijabc\", \"host_dev_name\": \"tap1\"}", "31" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(put_net(bad[i][0], bad[i][1], &e), &e, bad[i][2], bad[i][1]);
	cr_assert_eq(res.nnets, 1);

	/* Replacing eth0 may reuse its own MAC and TAP. */
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			     "\"guest_mac\": \"06:00:c0:a8:00:02\"}", &e), 0, "%s", e.msg);
	cr_assert_eq(res.nnets, 1);
	cr_assert_eq(res.nets[0].rx.bandwidth.size, 0, "a PUT replaces every field");
	cr_assert_eq(res.nets[0].mtu, 0);
}

Test(fc_net, patch_updates_the_limiters_it_names)
{
	struct error e;
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			     "\"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": "
			     "10}, \"ops\": {\"size\": 50, \"refill_time\": 10}}}", &e), 0, "%s",
		     e.msg);
	struct fc_net_update u;
	struct json_object *o = parse("{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"ops\": "
				      "{\"size\": 0, \"refill_time\": 0}}, \"tx_rate_limiter\": "
				      "{\"bandwidth\": {\"size\": 2000, \"refill_time\": 20}}}");
	cr_assert_eq(fc_parse_network_interface_update(&res, "eth0", o, &u, &e), 0, "%s", e.msg);
	json_object_put(o);
	cr_assert_eq(u.index, 0);
	cr_assert_eq(u.rx.bandwidth_action, RATE_LIMITER_KEEP);
	cr_assert_eq(u.rx.ops_action, RATE_LIMITER_SET);
	cr_assert_eq(u.tx.bandwidth_action, RATE_LIMITER_SET);
	cr_assert_eq(u.tx.cfg.bandwidth.size, 2000);
	fc_apply_network_interface_update(&res, &u);
	cr_assert_eq(res.nets[0].rx.bandwidth.size, 1000, "kept");
	cr_assert_eq(res.nets[0].rx.ops.size, 0, "disabled");
	cr_assert_eq(res.nets[0].tx.bandwidth.size, 2000);
	const char *text = vm_config_text();
	cr_assert(strstr(text, "\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":"
			 "\"tap0\",\"rx_rate_limiter\":{\"bandwidth\":{\"size\":1000,"
			 "\"refill_time\":10}},\"tx_rate_limiter\":{\"bandwidth\":{\"size\":2000,"
			 "\"refill_time\":20}}}]"), "%s", text);

	o = parse("{\"iface_id\": \"eth9\"}");
	expect_refused(fc_parse_network_interface_update(&res, "eth9", o, &u, &e), &e, "eth9",
		       "an unknown interface");
	json_object_put(o);
	o = parse("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\"}");
	expect_refused(fc_parse_network_interface_update(&res, "eth0", o, &u, &e), &e,
		       "host_dev_name", "a field PATCH cannot change");
	json_object_put(o);
}

Test(fc_small_devices, vsock_entropy_balloon)
{
	struct error e;
	struct vm_config cfg;
	set_boot_source();
	cr_assert_eq(put_plain(fc_put_vsock, "{\"guest_cid\": 3, \"uds_path\": \"/tmp/ember-v.sock\", "
			       "\"vsock_id\": \"vsock1\"}", &e), 0, "%s", e.msg);
	cr_assert_eq(put_plain(fc_put_entropy, "{}", &e), 0, "%s", e.msg);
	cr_assert_eq(put_plain(fc_put_balloon, "{\"amount_mib\": 64, \"deflate_on_oom\": true, "
			       "\"stats_polling_interval_s\": 5, \"free_page_reporting\": true, "
			       "\"free_page_hinting\": false}", &e), 0, "%s", e.msg);
	cr_assert_eq(fc_resources_vm_config(&res, &cfg, &e), 0, "%s", e.msg);
	cr_assert(cfg.vsock.enabled);
	cr_assert_eq(cfg.vsock.guest_cid, 3);
	cr_assert_str_eq(cfg.vsock.uds_path, "/tmp/ember-v.sock");
	cr_assert_str_eq(cfg.vsock.id, "vsock1");
	cr_assert(cfg.rng);
	cr_assert(cfg.balloon.enabled);
	cr_assert_eq(cfg.balloon.target_mib, 64);
	cr_assert(cfg.balloon.deflate_on_oom);
	cr_assert(cfg.balloon.free_page_reporting);
	cr_assert_eq(cfg.balloon.stats_interval_s, 5);
	const char *text = vm_config_text();
	cr_assert(strstr(text, "\"vsock\":{\"guest_cid\":3,\"uds_path\":"), "%s", text);
	cr_assert_null(strstr(text, "vsock_id"), "deprecated: not shown");
	cr_assert(strstr(text, "\"entropy\":{}"), "%s", text);
	cr_assert(strstr(text, "\"balloon\":{\"amount_mib\":64,\"deflate_on_oom\":true,"
			 "\"stats_polling_interval_s\":5,\"free_page_hinting\":false,"
			 "\"free_page_reporting\":true}"), "%s", text);
}

Test(fc_small_devices, refusals)
{
	struct error e;
	expect_refused(put_plain(fc_put_vsock, "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}", &e),
		       &e, "guest_cid", "the host's cid");
	expect_refused(put_plain(fc_put_vsock, "{\"guest_cid\": 3}", &e), &e, "uds_path",
		       "no uds_path");
	expect_refused(put_plain(fc_put_vsock, "{\"guest_cid\": \"3\", \"uds_path\": \"/x\"}", &e),
		       &e, "guest_cid", "a string cid");
	expect_refused(put_plain(fc_put_entropy, "{\"rate_limiter\": {\"ops\": {\"size\": 1, "
				 "\"refill_time\": 1}}}", &e), &e, "rate_limiter", "a limiter");
	expect_refused(put_plain(fc_put_entropy, "{\"bogus\": 1}", &e), &e, "bogus", "unknown");
	expect_refused(put_plain(fc_put_balloon, "{\"amount_mib\": 1}", &e), &e, "deflate_on_oom",
		       "no deflate_on_oom");
	expect_refused(put_plain(fc_put_balloon, "{\"amount_mib\": 129, \"deflate_on_oom\": false}",
				 &e), &e, "mem_size_mib", "more than the memory (128 MiB)");
	expect_refused(put_plain(fc_put_balloon, "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
				 "\"free_page_hinting\": true}", &e), &e, "free_page_hinting",
		       "hinting");
	expect_refused(put_plain(fc_put_balloon, "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
				 "\"stats_polling_interval_s\": 70000}", &e), &e,
		       "stats_polling_interval_s", "an interval over u16");
	cr_assert_not(res.vsock.enabled);
	cr_assert_not(res.entropy);
	cr_assert_not(res.balloon.enabled);
}

Test(fc_small_devices, balloon_updates_and_machine_config)
{
	struct error e;
	uint32_t v = 0;
	cr_assert_eq(put_plain(fc_put_balloon, "{\"amount_mib\": 100, \"deflate_on_oom\": false}",
			       &e), 0, "%s", e.msg);
	expect_refused(put_plain(fc_put_machine_config, "{\"vcpu_count\": 1, \"mem_size_mib\": 64}",
				 &e), &e, "amount_mib", "memory below the balloon");
	struct json_object *o = parse("{\"amount_mib\": 20}");
	cr_assert_eq(fc_parse_balloon_update(&res, o, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v, 20);
	json_object_put(o);
	o = parse("{\"amount_mib\": 4096}");
	expect_refused(fc_parse_balloon_update(&res, o, &v, &e), &e, "mem_size_mib", "too much");
	json_object_put(o);
	o = parse("{\"stats_polling_interval_s\": 3}");
	expect_refused(fc_parse_balloon_stats_update(&res, o, &v, &e), &e, "not enabled",
		       "statistics off at boot");
	json_object_put(o);
	cr_assert_eq(put_plain(fc_put_balloon, "{\"amount_mib\": 0, \"deflate_on_oom\": false, "
			       "\"stats_polling_interval_s\": 1}", &e), 0, "%s", e.msg);
	o = parse("{\"stats_polling_interval_s\": 0}");
	expect_refused(fc_parse_balloon_stats_update(&res, o, &v, &e), &e, "turned off",
		       "statistics off after the boot");
	json_object_put(o);
	o = parse("{\"stats_polling_interval_s\": 7}");
	cr_assert_eq(fc_parse_balloon_stats_update(&res, o, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v, 7);
	json_object_put(o);
}

Test(fc_small_devices, balloon_statistics_names)
{
	struct balloon_info info = { .target_mib = 64, .actual_mib = 32, .target_pages = 16384,
				     .actual_pages = 8192 };
	struct balloon_stats stats = { 0 };
	stats.has = 1u << BALLOON_STAT_MEMFREE | 1u << BALLOON_STAT_DIRECT_RECLAIMS;
	stats.value[BALLOON_STAT_MEMFREE] = 123456789;
	stats.value[BALLOON_STAT_DIRECT_RECLAIMS] = 7;
	stats.value[BALLOON_STAT_SWAP_IN] = 99; /* not reported: not shown */
	struct json_object *o = fc_balloon_stats_json(&info, &stats);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	cr_assert_str_eq(text, "{\"target_pages\":16384,\"actual_pages\":8192,\"target_mib\":64,"
			 "\"actual_mib\":32,\"free_memory\":123456789,\"direct_reclaim\":7}");
	json_object_put(o);
}

Test(fc_drives, config_file_sections)
{
	struct error e;
	struct metrics m;
	struct vm_config cfg;
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\", \"boot_args\": "
		 "\"console=ttyS0 reboot=k panic=1\", \"initrd_path\": null},"
		 "\"drives\": [{\"drive_id\": \"rootfs\", \"partuuid\": null, \"is_root_device\": true, "
		 "\"cache_type\": \"Unsafe\", \"is_read_only\": false, \"path_on_host\": \"%s\", "
		 "\"io_engine\": \"Sync\", \"rate_limiter\": null, \"socket\": null}],"
		 "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": false},"
		 "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
		 "\"guest_mac\": \"06:00:c0:a8:00:02\", \"rx_rate_limiter\": null, "
		 "\"tx_rate_limiter\": null}],"
		 "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/ember-cfg-v.sock\"},"
		 "\"entropy\": {}, \"balloon\": {\"amount_mib\": 512, \"deflate_on_oom\": true},"
		 "\"cpu-config\": null, \"logger\": null, \"metrics\": null, \"mmds-config\": null, "
		 "\"pmem\": [], \"memory-hotplug\": null}", image);
	struct json_object *doc = parse(text);
	metrics_init(&m);
	cr_assert_eq(fc_config_apply(doc, &res, &m, "t", &e), 0, "%s", e.msg);
	json_object_put(doc);
	cr_assert_eq(fc_resources_vm_config(&res, &cfg, &e), 0, "%s", e.msg);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw");
	cr_assert_eq(cfg.ndisks, 1);
	cr_assert_eq(cfg.io_engine, VIRTIO_BLK_ENGINE_SYNC);
	cr_assert_eq(cfg.nnets, 1);
	cr_assert_str_eq(cfg.nets[0].tap, "tap0");
	cr_assert(cfg.vsock.enabled && cfg.rng && cfg.balloon.enabled);
	cr_assert_eq(cfg.balloon.target_mib, 512, "the balloon fits the file's 1024 MiB");
	metrics_close(&m);

	/* An entry's error names the section and the entry. */
	fc_resources_free(&res);
	fc_resources_init(&res);
	metrics_init(&m);
	doc = parse("{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		    "\"drives\": [{\"drive_id\": \"rootfs\", \"is_root_device\": true}]}");
	cr_assert_eq(fc_config_apply(doc, &res, &m, "t", &e), -1);
	cr_assert_str_eq(e.msg, "drives[0]: missing field 'path_on_host'");
	json_object_put(doc);
	doc = parse("{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		    "\"network-interfaces\": {}}");
	expect_refused(fc_config_apply(doc, &res, &m, "t", &e), &e, "must be a list", "an object");
	json_object_put(doc);
	metrics_close(&m);
}

Test(fc_drives, flags_seen_through_the_api)
{
	struct error e;
	struct vm_config cfg;
	vm_config_defaults(&cfg);
	cfg.kernel_path = "/proc/self/exe";
	cfg.ndisks = 1;
	strcpy(cfg.disks[0].path, image);
	cfg.disks[0].readonly = true;
	cfg.disks[0].queues = 1;
	cfg.io_engine = VIRTIO_BLK_ENGINE_SYNC;
	cr_assert_eq(net_options_parse("tap=tap7,mac=06:00:00:00:00:07", 0, &cfg.nets[0], &e), 0);
	cfg.nnets = 1;
	cfg.rng = true;
	cr_assert_eq(fc_resources_from_vm_config(&res, &cfg, &e), 0, "%s", e.msg);
	const char *text = vm_config_text();
	cr_assert(strstr(text, "\"drive_id\":\"disk0\""), "%s", text);
	cr_assert(strstr(text, "\"cache_type\":\"Writeback\",\"is_read_only\":true"), "%s", text);
	cr_assert(strstr(text, "\"io_engine\":\"Sync\""), "%s", text);
	cr_assert(strstr(text, "\"iface_id\":\"net0\",\"host_dev_name\":\"tap7\",\"guest_mac\":"
			 "\"06:00:00:00:00:07\""), "%s", text);
	cr_assert(strstr(text, "\"entropy\":{}"), "%s", text);
}
