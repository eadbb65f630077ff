/* --vsock parsing and the checks other front ends rely on: keys, CIDs, socket paths, ids,
 * one-line errors that leave the output alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/vsock_options.h"

static struct vsock_options parse_ok(const char *text)
{
	struct vsock_options o;
	struct error e = { { 0 } };
	cr_assert_eq(vsock_options_parse(text, &o, &e), 0, "'%s': %s", text, e.msg);
	cr_assert_eq(vsock_options_check(&o, &e), 0, "'%s' parsed but fails the check: %s", text,
		     e.msg);
	return o;
}

static void parse_fails(const char *text, const char *needle)
{
	struct vsock_options o;
	memset(&o, 0x5a, sizeof(o));
	struct vsock_options before = o;
	struct error e = { { 0 } };
	cr_assert_eq(vsock_options_parse(text, &o, &e), -1, "'%s' was accepted", text);
	cr_assert(strstr(e.msg, needle), "'%s': message '%s' lacks '%s'", text, e.msg, needle);
	cr_assert(!strchr(e.msg, '\n'), "one line");
	cr_assert(!memcmp(&o, &before, sizeof(o)), "a failed parse leaves the output alone");
}

Test(vsock_options, minimal)
{
	struct vsock_options o = parse_ok("cid=3,uds=/tmp/v.sock");
	cr_assert(o.enabled);
	cr_assert_eq(o.guest_cid, 3);
	cr_assert_str_eq(o.uds_path, "/tmp/v.sock");
	cr_assert_str_eq(o.id, "vsock0");
}

Test(vsock_options, any_order_id_and_escaped_comma)
{
	struct vsock_options o = parse_ok("uds=./a,,b.sock,id=my-vsock.1,cid=4294967294");
	cr_assert_eq(o.guest_cid, 0xfffffffeu);
	cr_assert_str_eq(o.uds_path, "./a,b.sock");
	cr_assert_str_eq(o.id, "my-vsock.1");
}

Test(vsock_options, longest_path)
{
	char text[256], path[VSOCK_UDS_PATH_MAX + 2];
	memset(path, 'p', VSOCK_UDS_PATH_MAX);
	path[VSOCK_UDS_PATH_MAX] = '\0';
	snprintf(text, sizeof(text), "cid=5,uds=%s", path);
	cr_assert_eq(strlen(parse_ok(text).uds_path), VSOCK_UDS_PATH_MAX);
	strcat(path, "p");
	snprintf(text, sizeof(text), "cid=5,uds=%s", path);
	parse_fails(text, "too long");
}

Test(vsock_options, bad_values)
{
	parse_fails("cid=2,uds=/x", "out of range");
	parse_fails("cid=0,uds=/x", "out of range");
	parse_fails("cid=4294967295,uds=/x", "out of range");
	parse_fails("cid=4294967296,uds=/x", "out of range");
	parse_fails("cid=99999999999999999999999,uds=/x", "not a number");
	parse_fails("cid=-3,uds=/x", "not a number");
	parse_fails("cid=0x10,uds=/x", "not a number");
	parse_fails("cid=,uds=/x", "empty");
	parse_fails("cid=3,uds=", "empty");
	parse_fails("cid=3,uds=/tmp/", "directory");
	parse_fails("cid=3,uds=/x,id=", "1 to");
	parse_fails("cid=3,uds=/x,id=a b", "letters");
	parse_fails("cid=3,uds=/x,id=0123456789012345678901234567890123", "1 to");
}

Test(vsock_options, bad_structure)
{
	parse_fails("", "cid=N is required");
	parse_fails("uds=/x", "cid=N is required");
	parse_fails("cid=3", "uds=PATH is required");
	parse_fails("cid=3,uds=/x,cid=4", "given twice");
	parse_fails("cid=3,uds=/x,port=1", "unknown key 'port'");
	parse_fails("cid=3,uds=/x,verylongkey=1", "unknown key");
	parse_fails("cid=3,uds", "KEY=VALUE");
	parse_fails("cid=3,uds=/x,", "trailing comma");
}

Test(vsock_options, check_for_other_front_ends)
{
	struct error e;
	struct vsock_options o = { 0 };
	cr_assert_eq(vsock_options_check(&o, &e), 0, "disabled: nothing to check");
	o = (struct vsock_options){ .enabled = true, .id = "v", .guest_cid = 2 };
	strcpy(o.uds_path, "/x");
	cr_assert_eq(vsock_options_check(&o, &e), -1);
	o.guest_cid = 3;
	cr_assert_eq(vsock_options_check(&o, &e), 0, "%s", e.msg);
	o.uds_path[0] = '\0';
	cr_assert_eq(vsock_options_check(&o, &e), -1);
	memset(o.uds_path, 'a', sizeof(o.uds_path));
	cr_assert_eq(vsock_options_check(&o, &e), -1, "unterminated");
	strcpy(o.uds_path, "/x");
	o.id[0] = '\0';
	cr_assert_eq(vsock_options_check(&o, &e), -1, "empty id");
}
