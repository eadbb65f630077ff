/* Hex and base64 as used on the `ember sev` command line. */
#include <string.h>

#include <criterion/criterion.h>

#include "sev_codec.h"

Test(sev_codec, hex_round_trip_with_whitespace_and_prefix)
{
	uint8_t out[8];
	size_t n = 0;
	struct error e = { "" };
	const char *text = " 0xDE ad\nbe\tef ";
	cr_assert_eq(sev_hex_decode(text, strlen(text), out, sizeof(out), &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 4);
	char back[9];
	sev_hex_encode(out, n, back);
	cr_assert_str_eq(back, "deadbeef");
}

Test(sev_codec, bad_hex_is_named)
{
	uint8_t out[8];
	size_t n = 0;
	struct error e = { "" };
	cr_assert_eq(sev_hex_decode("12g4", 4, out, sizeof(out), &n, &e), -1);
	cr_assert(strstr(e.msg, "bad hex") && strstr(e.msg, "offset 2"), "%s", e.msg);
	cr_assert_eq(sev_hex_decode("123", 3, out, sizeof(out), &n, &e), -1);
	cr_assert(strstr(e.msg, "odd"), "%s", e.msg);
	cr_assert_eq(sev_hex_decode("00112233445566778899", 20, out, sizeof(out), &n, &e), -1);
	cr_assert(strstr(e.msg, "more than 8"), "%s", e.msg);
}

Test(sev_codec, base64_round_trip)
{
	const char *cases[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[16];
		sev_base64_encode((const uint8_t *)cases[i], strlen(cases[i]), text);
		cr_assert_str_eq(text, want[i]);
		uint8_t back[16];
		size_t n = 0;
		struct error e = { "" };
		cr_assert_eq(sev_base64_decode(text, back, sizeof(back), &n, &e), 0, "%s", e.msg);
		cr_assert_eq(n, strlen(cases[i]));
		cr_assert_eq(memcmp(back, cases[i], n), 0);
	}
}

Test(sev_codec, bad_base64_is_named)
{
	uint8_t out[32];
	size_t n = 0;
	struct error e = { "" };
	cr_assert_eq(sev_base64_decode("abc", out, sizeof(out), &n, &e), -1);
	cr_assert(strstr(e.msg, "multiple of 4"), "%s", e.msg);
	cr_assert_eq(sev_base64_decode("ab*d", out, sizeof(out), &n, &e), -1);
	cr_assert(strstr(e.msg, "unexpected character"), "%s", e.msg);
	cr_assert_eq(sev_base64_decode("a=bc", out, sizeof(out), &n, &e), -1);
	cr_assert_eq(sev_base64_decode("ab==cdef", out, sizeof(out), &n, &e), -1);
	cr_assert_eq(sev_base64_decode("Zm9vYmFyZm9vYmFy", out, 4, &n, &e), -1);
	cr_assert(strstr(e.msg, "more than 4"), "%s", e.msg);
}
