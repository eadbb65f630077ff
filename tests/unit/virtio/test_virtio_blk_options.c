/* --disk and --io-engine parsing: every key, defaults, escapes, and a clear message for each
 * kind of mistake. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/blk_options.h"

static struct virtio_blk_options o;
static struct error e;

static int parse(const char *spec)
{
	memset(&e, 0, sizeof(e));
	return virtio_blk_parse_disk(spec, &o, &e);
}

Test(virtio_blk_options, path_only_gets_defaults)
{
	cr_assert_eq(parse("path=disk.img"), 0, "%s", e.msg);
	cr_expect_str_eq(o.path, "disk.img");
	cr_expect_not(o.readonly);
	cr_expect_not(o.direct);
	cr_expect_eq(o.queues, 1);
	cr_expect_str_eq(o.serial, "");
	cr_expect_eq(o.poll_us, 0);
}

Test(virtio_blk_options, every_key)
{
	cr_assert_eq(parse("readonly=on,path=/var/a b.img,direct=on,queues=4,serial=ID-7,"
			   "poll_us=50"), 0, "%s", e.msg);
	cr_expect_str_eq(o.path, "/var/a b.img");
	cr_expect(o.readonly);
	cr_expect(o.direct);
	cr_expect_eq(o.queues, 4);
	cr_expect_str_eq(o.serial, "ID-7");
	cr_expect_eq(o.poll_us, 50);
	cr_assert_eq(parse("path=x,readonly=off,direct=off,queues=16,poll_us=0"), 0, "%s", e.msg);
	cr_expect_not(o.readonly);
	cr_expect_eq(o.queues, 16);
	cr_expect_eq(o.poll_us, 0);
	cr_assert_eq(parse("path=x,poll_us=1000"), 0, "%s", e.msg);
	cr_expect_eq(o.poll_us, 1000);
}

Test(virtio_blk_options, doubled_comma_is_a_comma)
{
	cr_assert_eq(parse("path=a,,b.img,readonly=on"), 0, "%s", e.msg);
	cr_expect_str_eq(o.path, "a,b.img");
	cr_expect(o.readonly);
}

Test(virtio_blk_options, mistakes_are_named)
{
	static const struct { const char *spec, *msg; } cases[] = {
		{ "", "no path=" },
		{ "readonly=on", "no path=" },
		{ "disk.img", "needs a value" },
		{ "path=", "path= is empty" },
		{ "path=a,path=b", "given twice" },
		{ "path=a,size=1G", "unknown key 'size'" },
		{ "path=a,readonly=yes", "on or off" },
		{ "path=a,direct=1", "on or off" },
		{ "path=a,queues=0", "out of range" },
		{ "path=a,queues=17", "out of range" },
		{ "path=a,queues=two", "not a number" },
		{ "path=a,queues=", "not a number" },
		{ "path=a,poll_us=1001", "out of range" },
		{ "path=a,poll_us=-1", "out of range" },
		{ "path=a,poll_us=50us", "not a number" },
		{ "path=a,serial=123456789012345678901", "longer than 20" },
		{ "path=a,serial=has space", "printable" },
		{ "path=a,", "trailing comma" },
		{ "path=a,averyveryverylongkey=1", "too long" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(parse(cases[i].spec), -1, "'%s' accepted", cases[i].spec);
		cr_expect(strstr(e.msg, cases[i].msg) && strncmp(e.msg, "--disk: ", 8) == 0,
			  "'%s': message '%s' lacks '%s'", cases[i].spec, e.msg, cases[i].msg);
	}
}

Test(virtio_blk_options, path_too_long)
{
	char spec[VIRTIO_BLK_PATH_MAX + 16] = "path=";
	memset(spec + 5, 'x', VIRTIO_BLK_PATH_MAX);
	cr_expect_eq(parse(spec), -1);
	cr_expect(strstr(e.msg, "too long"), "%s", e.msg);
}

Test(virtio_blk_options, io_engine)
{
	enum virtio_blk_engine eng = VIRTIO_BLK_ENGINE_SYNC;
	cr_expect_eq(virtio_blk_parse_engine("io_uring", &eng, &e), 0);
	cr_expect_eq(eng, VIRTIO_BLK_ENGINE_IO_URING);
	cr_expect_eq(virtio_blk_parse_engine("sync", &eng, &e), 0);
	cr_expect_eq(eng, VIRTIO_BLK_ENGINE_SYNC);
	cr_expect_eq(virtio_blk_parse_engine("aio", &eng, &e), -1);
	cr_expect(strstr(e.msg, "'aio'"), "%s", e.msg);
	cr_expect_str_eq(virtio_blk_engine_name(VIRTIO_BLK_ENGINE_SYNC), "sync");
	cr_expect_str_eq(virtio_blk_engine_name(VIRTIO_BLK_ENGINE_IO_URING), "io_uring");
}
