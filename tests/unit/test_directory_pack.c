/*
 * dir_pack_number, the packing of numbers and extensions 4 bits a character that the
 * directory's index keys and its cache of hot numbers share, against the definition spelled
 * out one character at a time: every packable character at every place and length, every
 * byte value refused, lengths over the limit refused, the first character the most
 * significant, and a million random strings drawn mostly from the packable characters (the
 * SSE2 path maps sixteen lanes at once: a lane that should have been masked or a character
 * mapped wrongly shows here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "directory_int.h"

/* The definition: '0'-'9' 1-10, '+' 11, '*' 12, '#' 13, anything else refused. */
static bool reference(const char *s, size_t n, size_t max, uint64_t *out)
{
    static const char chars[] = "0123456789+*#";
    uint64_t k = 0;
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *at = s[i] ? strchr(chars, s[i]) : NULL;
        if (!at)
            return false;
        k = k << 4 | (uint64_t)(at - chars + 1);
    }
    *out = k;
    return true;
}

static void same(const char *s, size_t n, size_t max)
{
    uint64_t want = 0x5555, got = 0xAAAA;
    bool w = reference(s, n, max, &want), g = dir_pack_number(s, n, max, &got);
    if (w != g || (w && want != got))
        fail_msg("'%.*s' (%zu, max %zu): want %d %016llx, got %d %016llx", (int)n, s, n, max, w,
                 (unsigned long long)want, g, (unsigned long long)got);
}

static void known_values(void **state)
{
    (void)state;
    uint64_t k = 0;
    assert_true(dir_pack_number("+14255550100", 12, 16, &k));
    assert_int_equal(k, 0xB25366661211ULL);
    assert_true(dir_pack_number("9", 1, 16, &k));
    assert_int_equal(k, 0xA);
    assert_true(dir_pack_number("#*+0123456789012", 16, 16, &k));
    assert_int_equal(k, 0xDCB123456789A123ULL);
    assert_true(dir_pack_number(NULL, 0, 8, &k)); /* an absent extension */
    assert_int_equal(k, 0);
    assert_false(dir_pack_number("12345678901234567", 17, 16, &k));
    assert_false(dir_pack_number("123456789", 9, 8, &k)); /* an extension of 9 */
    assert_false(dir_pack_number("+1425a55", 8, 16, &k));
}

static void every_byte_at_every_place(void **state)
{
    (void)state;
    char s[17];
    for (size_t n = 1; n <= 16; n++)
        for (size_t at = 0; at < n; at++)
            for (int b = 0; b < 256; b++) {
                memset(s, '7', sizeof s);
                s[at] = (char)b;
                same(s, n, 16);
                same(s, n, 8);
            }
}

static void random_strings(void **state)
{
    (void)state;
    static const char pool[] = "0123456789+*#0123456789 a\x80\xff/";
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    char s[20];
    for (int i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = (size_t)(x % 19);
        for (size_t j = 0; j < n; j++) {
            /* mostly packable: one string in about four has a character that is not */
            uint64_t r = (x >> (3 * j + 8)) ^ (uint64_t)j * 0x2545F4914F6CDD1DULL;
            s[j] = (i & 3) ? pool[r % 23] : pool[r % (sizeof pool - 1)];
        }
        same(s, n, 16);
        same(s, n, 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_values),
        cmocka_unit_test(every_byte_at_every_place),
        cmocka_unit_test(random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
