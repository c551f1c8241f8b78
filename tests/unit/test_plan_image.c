/*
 * Plan images (engine/plan_image.h): the checksum is XXH64, an image reads back into the same
 * configuration, and every kind of damage is refused with a message saying what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cr_rules.h"
#include "cr_plan_image.h"
#include "testutil.h"

/* Published XXH64 test vectors (seed 0). */
static void test_hash_is_xxh64(void **state)
{
    (void)state;
    assert_true(cr_image_hash64("", 0, 0) == 0xEF46DB3751D8E999ULL);
    assert_true(cr_image_hash64("abc", 3, 0) == 0x44BC2CF5AD770999ULL);
    const char *s = "Nobody inspects the spammish repetition";
    assert_true(cr_image_hash64(s, strlen(s), 0) == 0xFBCEA83C8A378BF1ULL);
}

static void *image_of(const char *rel, size_t *len)
{
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src(rel), &cfg, &d), CR_OK);
    void *img = NULL;
    assert_int_equal(cr_image_build(cfg, 42, &img, len), CR_OK);
    cr_config_free(cfg);
    cr_diag_free(&d);
    return img;
}

/* An image reads back into a configuration that compiles and writes the same image again. */
static void test_round_trip(void **state)
{
    (void)state;
    size_t len = 0;
    void *img = image_of("examples/contoso/contoso.xml", &len);
    cr_image_info info;
    assert_int_equal(cr_image_verify(img, len, &info, NULL, 0), CR_OK);
    assert_int_equal(info.generation, 42);
    assert_int_equal(info.total_len, len);
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read(img, len, "x.plan", &cfg, &d), CR_OK);
    assert_int_equal(cr_config_compile(cfg, &d), CR_OK);
    assert_int_equal(d.errors, 0);
    assert_true(cr_config_route_count(cfg) > 0);
    assert_non_null(cr_config_user_find(cfg, "sip:alice@contoso.com"));
    void *again = NULL;
    size_t n2 = 0;
    assert_int_equal(cr_image_build(cfg, 42, &again, &n2), CR_OK);
    assert_int_equal(n2, len);
    assert_memory_equal(img, again, len);
    free(again);
    cr_config_free(cfg);
    cr_diag_free(&d);
    free(img);
}

static void expect_refused(const void *img, size_t len, int rc, const char *what)
{
    char err[256] = "";
    assert_int_equal(cr_image_verify(img, len, NULL, err, sizeof err), rc);
    if (!strstr(err, what))
        fail_msg("'%s' does not say '%s'", err, what);
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read(img, len, "bad.plan", &cfg, &d), CR_ECONFIG);
    assert_null(cfg);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.items[0].file, "bad.plan");
    cr_diag_free(&d);
}

static void test_damage_refused(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/workflows/helpdesk.xml", &len);
    expect_refused(img, len - 1, CR_EINVAL, "truncated");
    expect_refused(img, 30, CR_EINVAL, "truncated");
    expect_refused(img, 4, CR_EINVAL, "magic");
    for (size_t at = 16; at < len; at += len / 7) {
        img[at] ^= 0x10;
        expect_refused(img, len, at < 24 ? CR_EVERSION : CR_EINVAL,
                       at < 20   ? "version"
                       : at < 24 ? "architecture"
                                 : "");
        img[at] ^= 0x10;
    }
    img[len / 2] ^= 1;
    expect_refused(img, len, CR_EINVAL, "checksum");
    img[len / 2] ^= 1;
    /* a section table pointing outside, with a checksum that matches it */
    uint64_t off = len + 8;
    memcpy(img + 56 + 24 * 3, &off, 8);
    uint64_t sum = cr_image_hash64(img + 16, len - 16, 0);
    memcpy(img + 8, &sum, 8);
    expect_refused(img, len, CR_EINVAL, "out of bounds");
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_xxh64),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damage_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
