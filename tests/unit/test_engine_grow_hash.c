/* The growth helpers (engine/include/cr_grow.h) and FNV-1a (engine/include/cr_hash.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_grow.h"
#include "cr_hash.h"

typedef struct item {
    int a;
    char b[12];
} item;

/* cr_grow doubles from 8 when element n reaches the capacity, keeps the elements and zeroes
 * the new ones. */
static void grow_doubles_keeps_and_zeroes(void **state)
{
    item *arr = NULL;
    size_t cap = 0;
    assert_true(CR_GROW(arr, 0, cap));
    assert_int_equal(cap, 8);
    assert_non_null(arr);
    for (size_t i = 0; i < cap; i++) {
        assert_int_equal(arr[i].a, 0);
        assert_int_equal(arr[i].b[11], 0);
    }
    for (size_t n = 0; n < 100; n++) {
        size_t before = cap;
        assert_true(CR_GROW(arr, n, cap));
        assert_true(n < cap);
        assert_int_equal(cap, n < before ? before : before * 2);
        if (cap != before)
            for (size_t i = before; i < cap; i++) /* the new ones */
                assert_true(arr[i].a == 0 && arr[i].b[0] == 0 && arr[i].b[11] == 0);
        assert_int_equal(arr[n].a, 0); /* never written yet */
        arr[n].a = (int)n + 1;
        memset(arr[n].b, 'x', sizeof arr[n].b);
    }
    assert_int_equal(cap, 128);
    for (size_t n = 0; n < 100; n++) {
        assert_int_equal(arr[n].a, (int)n + 1);
        assert_int_equal(arr[n].b[11], 'x');
    }
    /* room already: nothing changes */
    item *same = arr;
    assert_true(CR_GROW(arr, 127, cap));
    assert_ptr_equal(arr, same);
    assert_int_equal(cap, 128);
    free(arr);
}

/* A capacity whose doubling (or whose size in bytes) does not fit a size_t is refused. */
static void grow_refuses_overflow(void **state)
{
    void *arr = NULL;
    size_t cap = SIZE_MAX / 2 + 1;
    assert_false(cr_grow(&arr, cap, &cap, 1));
    assert_int_equal(cap, SIZE_MAX / 2 + 1);
    cap = SIZE_MAX / 16;
    assert_false(cr_grow(&arr, cap, &cap, 16));
    cap = 0;
    assert_false(cr_grow(&arr, 0, &cap, SIZE_MAX / 4));
    assert_int_equal(cap, 0);
    assert_null(arr);
}

static void grow_bytes_doubles_until_it_fits(void **state)
{
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    assert_true(cr_grow_bytes(&buf, len, 10, &cap, 64));
    assert_int_equal(cap, 64);
    memset(buf, 'a', 10);
    len = 10;
    assert_true(cr_grow_bytes(&buf, len, 54, &cap, 64)); /* fits exactly */
    assert_int_equal(cap, 64);
    assert_true(cr_grow_bytes(&buf, len, 55, &cap, 64));
    assert_int_equal(cap, 128);
    assert_true(cr_grow_bytes(&buf, len, 1000, &cap, 64)); /* several doublings at once */
    assert_int_equal(cap, 1024);                           /* 10 + 1000 bytes: 128 -> 1024 */
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], 'a');
    free(buf);
}

static void grow_bytes_refuses_overflow(void **state)
{
    unsigned char *buf = NULL;
    size_t cap = 16;
    assert_false(cr_grow_bytes(&buf, 8, SIZE_MAX - 4, &cap, 16)); /* len + need wraps */
    assert_int_equal(cap, 16);
    cap = SIZE_MAX / 2 + 2;
    assert_false(cr_grow_bytes(&buf, cap, 1, &cap, 16)); /* doubling past SIZE_MAX */
    assert_int_equal(cap, SIZE_MAX / 2 + 2);
    assert_null(buf);
}

/* FNV's published 64-bit offset basis, written here independently of cr_hash.h. */
#define FNV_BASIS 0xcbf29ce484222325ULL

/* The published FNV-1a 64 test vectors (Fowler, Noll, Vo: "FNV-1a 64" test suite). */
static void fnv_1a_64_vectors(void **state)
{
    static const struct {
        const char *s;
        uint64_t h;
    } v[] = {{"", 0xcbf29ce484222325ULL},      {"a", 0xaf63dc4c8601ec8cULL},
             {"b", 0xaf63df4c8601f1a5ULL},     {"c", 0xaf63de4c8601eff2ULL},
             {"foo", 0xdcb27518fed9d577ULL},   {"foob", 0xdd120e790c2512afULL},
             {"fooba", 0xcac165afa2fef40aULL}, {"foobar", 0x85944171f73967e8ULL}};
    assert_true(CR_FNV_PRIME == 0x100000001b3ULL);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_true(cr_fnv_str(FNV_BASIS, v[i].s) == v[i].h);
        assert_true(cr_fnv(FNV_BASIS, v[i].s, strlen(v[i].s)) == v[i].h);
    }
    /* folding in pieces is folding the whole */
    assert_true(cr_fnv_str(cr_fnv_str(FNV_BASIS, "foo"), "bar") == 0x85944171f73967e8ULL);
    assert_true(cr_fnv(cr_fnv(FNV_BASIS, "foob", 4), "ar", 2) == 0x85944171f73967e8ULL);
    /* cr_fnv takes any bytes, NUL too ("a\0" is not "a") */
    assert_true(cr_fnv(FNV_BASIS, "a", 2) != 0xaf63dc4c8601ec8cULL);
    assert_true(cr_fnv(CR_FNV_OFFSET, "a", 2) == cr_fnv(cr_fnv_str(CR_FNV_OFFSET, "a"), "", 1));
    /* the start value callroute uses is FNV's */
    assert_true(CR_FNV_OFFSET == FNV_BASIS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grow_doubles_keeps_and_zeroes),
        cmocka_unit_test(grow_refuses_overflow),
        cmocka_unit_test(grow_bytes_doubles_until_it_fits),
        cmocka_unit_test(grow_bytes_refuses_overflow),
        cmocka_unit_test(fnv_1a_64_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
