/* --balloon parsing: every key, the defaults, and one clear message per mistake. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/balloon_options.h"

static struct balloon_options o;
static struct error e;

static int parse(const char *text)
{
	memset(&o, 0x5a, sizeof(o)); /* a failed parse must leave no half-filled options behind */
	e.msg[0] = '\0';
	return balloon_options_parse(text, &o, &e);
}

static void expect_error(const char *text, const char *fragment)
{
	cr_expect_eq(parse(text), -1, "'%s' was accepted", text);
	cr_expect(strstr(e.msg, fragment), "'%s': message '%s' lacks '%s'", text, e.msg, fragment);
	cr_expect(strncmp(e.msg, "--balloon: ", 11) == 0, "'%s': message '%s' names no flag", text,
		  e.msg);
	cr_expect_null(strchr(e.msg, '\n'), "one line");
}

Test(balloon_options, size_alone_gives_the_defaults)
{
	cr_assert_eq(parse("size=0"), 0, "%s", e.msg);
	cr_expect(o.enabled);
	cr_expect_eq(o.target_mib, 0);
	cr_expect_not(o.deflate_on_oom);
	cr_expect_not(o.free_page_reporting);
	cr_expect_eq(o.stats_interval_s, 0);
}

Test(balloon_options, every_key)
{
	cr_assert_eq(parse("size=128,deflate_on_oom=on,free_page_reporting=on,stats=5"), 0, "%s",
		     e.msg);
	cr_expect(o.enabled);
	cr_expect_eq(o.target_mib, 128);
	cr_expect(o.deflate_on_oom);
	cr_expect(o.free_page_reporting);
	cr_expect_eq(o.stats_interval_s, 5);
}

Test(balloon_options, keys_in_any_order_and_off)
{
	cr_assert_eq(parse("stats=0,free_page_reporting=off,deflate_on_oom=off,size=4294967295"), 0,
		     "%s", e.msg);
	cr_expect_eq(o.target_mib, UINT32_MAX);
	cr_expect_not(o.deflate_on_oom);
	cr_expect_not(o.free_page_reporting);
	cr_expect_eq(o.stats_interval_s, 0);
}

Test(balloon_options, size_is_required)
{
	expect_error("deflate_on_oom=on", "no size= given");
}

Test(balloon_options, bad_numbers)
{
	expect_error("size=", "not a number of MiB");
	expect_error("size=-1", "not a number of MiB");
	expect_error("size=12M", "not a number of MiB");
	expect_error("size= 1", "not a number of MiB");
	expect_error("size=4294967296", "not a number of MiB");
	expect_error("size=99999999999999999999999", "not a number of MiB");
	expect_error("size=999999999999999999999999999999", "too long");
	expect_error("size=1,stats=1s", "stats=1s is not a number of seconds");
	expect_error("size=1,stats=-3", "not a number of seconds");
}

Test(balloon_options, bad_switches)
{
	expect_error("size=1,deflate_on_oom=yes", "deflate_on_oom=yes: the value must be on or off");
	expect_error("size=1,free_page_reporting=", "must be on or off");
}

Test(balloon_options, malformed_lists)
{
	expect_error("", "empty");
	expect_error("size", "'size' needs a value");
	expect_error("size=1,", "trailing comma");
	expect_error("size=1,,stats=1", "'' needs a value");
	expect_error("size=1,bogus=2", "unknown key 'bogus'");
	expect_error("size=1,size=2", "'size' is given twice");
	expect_error("size=1,stats=1,stats=2", "'stats' is given twice");
	expect_error("a_very_long_key_that_goes_on_and_on=1", "too long");
}

Test(balloon_options, failure_leaves_the_options_alone)
{
	struct balloon_options before;
	memset(&before, 0x5a, sizeof(before));
	parse("size=1,bogus=1");
	cr_expect_eq(memcmp(&o, &before, sizeof(o)), 0);
}
