/* Option parsing for `ember run`: defaults, every flag, and each bad input's message. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/size.h"

static enum cli_result parse(struct vm_config *cfg, struct error *e, int argc, const char **argv)
{
	/* getopt permutes argv; hand it a writable copy. */
	static char *copy[32];
	for (int i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	copy[argc] = NULL;
	FILE *devnull = freopen("/dev/null", "w", stdout);
	(void)devnull;
	return cli_parse_run(argc, copy, cfg, e);
}

#define PARSE(cfg, e, ...)                                                              \
	({                                                                              \
		const char *args_[] = { "run", __VA_ARGS__ };                               \
		parse(cfg, e, (int)(sizeof(args_) / sizeof(args_[0])), args_);              \
	})

Test(cli, defaults)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--kernel", "k"), CLI_PARSED, "%s", e.msg);
	cr_assert_str_eq(cfg.kernel_path, "k");
	cr_assert_null(cfg.initrd_path);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 reboot=k panic=1");
	cr_assert_eq(cfg.ncpus, 1);
	cr_assert_eq(cfg.mem_size, 512ULL << 20);
}

Test(cli, every_flag)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--kernel", "vmlinuz", "--initrd", "initrd.gz", "--cmdline",
			   "quiet", "--cpus", "4", "--memory", "2G"),
		     CLI_PARSED, "%s", e.msg);
	cr_assert_str_eq(cfg.initrd_path, "initrd.gz");
	cr_assert_str_eq(cfg.cmdline, "quiet");
	cr_assert_eq(cfg.ncpus, 4);
	cr_assert_eq(cfg.mem_size, 2ULL << 30);
	cr_assert_eq(PARSE(&cfg, &e, "--kernel=k", "--memory=768"), CLI_PARSED, "%s", e.msg);
	cr_assert_eq(cfg.mem_size, 768ULL << 20, "a bare number is MiB");
}

Test(cli, help)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--help"), CLI_HELP_SHOWN);
}

static void expect_usage_error(enum cli_result r, const struct error *e, const char *needle)
{
	cr_assert_eq(r, CLI_USAGE_ERROR);
	cr_assert(strstr(e->msg, needle) != NULL, "message '%s' should mention '%s'", e->msg, needle);
	cr_assert(strchr(e->msg, '\n') == NULL, "one line");
}

Test(cli, bad_input)
{
	struct vm_config cfg;
	struct error e = { "" };
	expect_usage_error(PARSE(&cfg, &e, "--cpus", "1"), &e, "--kernel is required");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--cpus", "0"), &e, "out of range");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--cpus", "1025"), &e, "out of range");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--cpus", "two"), &e, "not a number");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--memory", "1K"), &e, "too small");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--memory", "lots"), &e, "invalid size");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--memory", "4097K"), &e, "multiple of 4K");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--memory", "99999999T"), &e, "too large");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--frobnicate"), &e, "unknown option '--frobnicate'");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "-x"), &e, "unknown option '-x'");
	expect_usage_error(PARSE(&cfg, &e, "--kernel"), &e, "needs a value");
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "extra"), &e, "unexpected argument 'extra'");
}

Test(cli, rng)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--kernel", "k"), CLI_PARSED, "%s", e.msg);
	cr_assert_not(cfg.rng, "no virtio-rng unless asked for");
	cr_assert_eq(PARSE(&cfg, &e, "--kernel", "k", "--rng"), CLI_PARSED, "%s", e.msg);
	cr_assert(cfg.rng);
	expect_usage_error(PARSE(&cfg, &e, "--kernel", "k", "--rng=yes"), &e, "--rng");
}

Test(size, parse_and_format)
{
	uint64_t b;
	struct error e;
	char buf[32];
	cr_assert_eq(size_parse("64K", &b, &e), 0);
	cr_assert_eq(b, 64 << 10);
	cr_assert_eq(size_parse("3GiB", &b, &e), 0);
	cr_assert_eq(b, 3ULL << 30);
	cr_assert_eq(size_parse("1t", &b, &e), 0);
	cr_assert_eq(b, 1ULL << 40);
	cr_assert_eq(size_parse("", &b, &e), -1);
	cr_assert_eq(size_parse("-1M", &b, &e), -1);
	cr_assert_eq(size_parse("1Q", &b, &e), -1);
	cr_assert_str_eq(size_format(512ULL << 20, buf), "512M");
	cr_assert_str_eq(size_format(3ULL << 30, buf), "3G");
	cr_assert_str_eq(size_format(1536ULL << 10, buf), "1536K");
}
