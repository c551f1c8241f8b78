/*
 * The one JSON string escaper of the library and the command line (plugin-api/lib/json_esc.c):
 * whatever the bytes, a valid JSON string in valid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json_esc.h"

typedef struct out {
    char s[256];
    size_t n;
} out;

static void put(void *ud, const char *s, size_t n)
{
    out *o = ud;
    assert_true(o->n + n < sizeof o->s);
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = 0;
}

static const char *esc(const char *s)
{
    static out o;
    o.n = 0;
    o.s[0] = 0;
    crp_json_escape(s, put, &o);
    return o.s;
}

static void test_plain_and_special_characters(void **state)
{
    (void)state;
    assert_string_equal(esc("sip:alice@contoso.com"), "\"sip:alice@contoso.com\"");
    assert_string_equal(esc(""), "\"\"");
    assert_string_equal(esc(NULL), "null");
    assert_string_equal(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(esc("\n\t\r\x01\x1f\x7f"), "\"\\n\\t\\r\\u0001\\u001f\\u007f\"");
}

static void test_valid_utf8_is_kept(void **state)
{
    (void)state;
    /* 2, 3 and 4 byte forms, the edges of each range included */
    assert_string_equal(esc("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xe2\x82\xac \xed\x9f\xbf"),
                        "\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xe2\x82\xac \xed\x9f\xbf\"");
    assert_string_equal(esc("\xee\x80\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"),
                        "\"\xee\x80\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");
}

#define FFFD "\xef\xbf\xbd"

static void test_each_invalid_byte_becomes_U_FFFD(void **state)
{
    (void)state;
    assert_string_equal(esc("a\xff"
                            "b"),
                        "\"a" FFFD "b\"");
    assert_string_equal(esc("\x80"), "\"" FFFD "\"");                   /* lone continuation */
    assert_string_equal(esc("\xc0\xaf"), "\"" FFFD FFFD "\"");          /* overlong '/' */
    assert_string_equal(esc("\xe0\x80\xaf"), "\"" FFFD FFFD FFFD "\""); /* overlong 3-byte */
    assert_string_equal(esc("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\""); /* surrogate */
    assert_string_equal(esc("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\""); /* > U+10FFFF */
    assert_string_equal(esc("\xf5\x80"), "\"" FFFD FFFD "\"");
    /* a sequence cut short by the end of the string or by another character */
    assert_string_equal(esc("x\xe2\x82"), "\"x" FFFD FFFD "\"");
    assert_string_equal(esc("\xe2\x82\""), "\"" FFFD FFFD "\\\"\"");
    assert_string_equal(esc("\xf0\x9f\x98"), "\"" FFFD FFFD FFFD "\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_special_characters),
        cmocka_unit_test(test_valid_utf8_is_kept),
        cmocka_unit_test(test_each_invalid_byte_becomes_U_FFFD),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
