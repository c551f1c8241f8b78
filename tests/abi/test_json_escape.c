/*
 * The one JSON string escaper of the library and the command line (plugin-api/lib/json_esc.c):
 * whatever the bytes, a valid JSON string in valid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "json_esc.h"

typedef struct out {
    char s[8192];
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

/* A reference written the plain way, a byte at a time (Unicode 15, table 3-7), so that the
 * library's one escaping loop is checked against something it does not share. */
static size_t ref_utf8(const unsigned char *p)
{
    static const struct {
        unsigned char first, last, lo, hi, n;
    } rows[] = {{0xc2, 0xdf, 0x80, 0xbf, 2}, {0xe0, 0xe0, 0xa0, 0xbf, 3},
                {0xe1, 0xec, 0x80, 0xbf, 3}, {0xed, 0xed, 0x80, 0x9f, 3},
                {0xee, 0xef, 0x80, 0xbf, 3}, {0xf0, 0xf0, 0x90, 0xbf, 4},
                {0xf1, 0xf3, 0x80, 0xbf, 4}, {0xf4, 0xf4, 0x80, 0x8f, 4}};
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
        if (p[0] < rows[r].first || p[0] > rows[r].last)
            continue;
        if (p[1] < rows[r].lo || p[1] > rows[r].hi)
            return 0;
        for (size_t i = 2; i < rows[r].n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        return rows[r].n;
    }
    return 0;
}

static size_t ref_escape(const char *s, char *o)
{
    size_t n = 0;
    o[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t u = *p >= 0x80 ? ref_utf8(p) : 0;
        if (u) {
            memcpy(o + n, p, u), n += u, p += u;
            continue;
        }
        if (*p >= 0x80)
            memcpy(o + n, "\xef\xbf\xbd", 3), n += 3;
        else if (*p == '"' || *p == '\\')
            o[n++] = '\\', o[n++] = (char)*p;
        else if (*p == '\n' || *p == '\t' || *p == '\r')
            o[n++] = '\\', o[n++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
        else if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(o + n, 8, "\\u%04x", *p);
        else
            o[n++] = (char)*p;
        p++;
    }
    o[n++] = '"';
    return n;
}

/* crp_json_escape's output; crp_json_escape_to must write the same bytes, and no more than
 * CRP_JSON_ESCAPED_MAX (checked in a buffer of exactly that size, guard bytes after it). */
static const char *esc(const char *s)
{
    static out o;
    o.n = 0;
    o.s[0] = 0;
    crp_json_escape(s, put, &o);
    size_t n = s ? strlen(s) : 0, max = CRP_JSON_ESCAPED_MAX(n);
    char to[sizeof o.s + 16];
    assert_true(max + 8 <= sizeof to);
    memset(to, '#', sizeof to);
    size_t w = crp_json_escape_to(to, s);
    assert_true(w <= max);
    assert_int_equal(w, o.n);
    assert_memory_equal(to, o.s, w);
    for (size_t i = max; i < max + 8; i++)
        assert_int_equal(to[i], '#');
    if (s) { /* and both are what the plain reference writes */
        char ref[sizeof o.s];
        size_t rn = ref_escape(s, ref);
        assert_int_equal(rn, o.n);
        assert_memory_equal(ref, o.s, rn);
    }
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

/* crp_json_escape_to reads 16 and 8 bytes at a time, the last ones overlapping: every byte
 * class at every position of strings of 1 to 40 bytes, in runs of plain text and UTF-8. */
static void test_escape_to_matches_at_every_position(void **state)
{
    (void)state;
    static const char *const specials[] = {"\"",
                                           "\\",
                                           "\n",
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "\x80",
                                           "\xff",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "\xe2\x82",
                                           " ",
                                           "~"};
    char s[64];
    for (size_t len = 1; len <= 40; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
                memset(s, 'a', len);
                s[len] = 0;
                size_t sl = strlen(specials[k]);
                if (at + sl > len)
                    continue;
                memcpy(s + at, specials[k], sl);
                (void)esc(s);
            }
}

/* Random bytes (a fixed seed): both escapers agree on every string. */
static void test_escape_to_matches_on_random_bytes(void **state)
{
    (void)state;
    uint32_t x = 12345;
    char s[48];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 41);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            unsigned b = (x >> 16) & 0xff;
            /* mostly plain text, so the long-word paths run too */
            s[i] = (char)((x >> 8) % 4 ? 'a' + b % 26 : (b ? b : 1));
        }
        s[len] = 0;
        (void)esc(s);
    }
}

/* crp_json_escape works through a fixed buffer a chunk at a time: a sequence (valid,
 * truncated or a run of stray continuation bytes) that straddles a chunk's end must come out
 * as it does in one piece. */
static void test_long_strings_across_chunks(void **state)
{
    (void)state;
    static const char *const seqs[] = {"\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xe2\x82",
                                       "\x80\x80\x80\x80\x80",
                                       "\xf0\x80\x80\x80",
                                       "\"\\\n\x01",
                                       "\xff"};
    char s[1200];
    for (size_t len = 500; len <= 1100; len += 37)
        for (size_t at = 490; at < 530 && at < len; at++)
            for (size_t k = 0; k < sizeof seqs / sizeof *seqs; k++) {
                size_t sl = strlen(seqs[k]);
                memset(s, 'x', len);
                s[len] = 0;
                if (at + sl <= len)
                    memcpy(s + at, seqs[k], sl);
                if (at + 512 + sl <= len) /* the next chunk's end too */
                    memcpy(s + at + 512, seqs[k], sl);
                (void)esc(s);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_special_characters),
        cmocka_unit_test(test_valid_utf8_is_kept),
        cmocka_unit_test(test_each_invalid_byte_becomes_U_FFFD),
        cmocka_unit_test(test_escape_to_matches_at_every_position),
        cmocka_unit_test(test_escape_to_matches_on_random_bytes),
        cmocka_unit_test(test_long_strings_across_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
