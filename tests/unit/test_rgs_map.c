/* The response-group engine's two hash maps (workflows/rgs_map.h), against a plain array:
 * inserts, replaces, lookups and deletions in a random order keep every key findable, through
 * growth and the backward shifts of deletion. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rgs_map.h"

#define NKEYS 2000

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint32_t next(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}

static void string_map_matches_an_array(void **state)
{
    static char keys[NKEYS][32];
    static long model[NKEYS]; /* -1: absent */
    rgs_map m = {0};
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "sip:user%d@contoso.com", i);
        model[i] = -1;
    }
    for (int step = 0; step < 40000; step++) {
        int k = (int)(next() % NKEYS);
        uint32_t op = next() % 4;
        if (op == 0) {
            assert_int_equal(rgs_map_put(&m, keys[k], step), 0);
            model[k] = step;
        } else if (op == 1) {
            int rc = rgs_map_add(&m, keys[k], step);
            assert_int_equal(rc, model[k] < 0 ? 0 : 1);
            if (rc == 0)
                model[k] = step;
        } else if (op == 2) {
            rgs_map_del(&m, keys[k]);
            model[k] = -1;
        }
        assert_int_equal(rgs_map_get(&m, keys[k]), model[k]);
    }
    size_t count = 0;
    for (int i = 0; i < NKEYS; i++) {
        assert_int_equal(rgs_map_get(&m, keys[i]), model[i]);
        count += model[i] >= 0;
    }
    assert_int_equal(m.count, count);
    assert_true(m.count * 4 <= m.cap * 3);
    rgs_map_free(&m);
    assert_int_equal(rgs_map_get(&m, keys[0]), -1);
}

static void handle_map_matches_an_array(void **state)
{
    static long model[NKEYS];
    rgs_hmap m = {0};
    for (int i = 0; i < NKEYS; i++)
        model[i] = -1;
    /* keys that share low bits: long probe runs */
    for (int step = 0; step < 40000; step++) {
        int k = (int)(next() % NKEYS);
        uint64_t key = ((uint64_t)k << 20) | 1;
        if (next() % 3) {
            assert_int_equal(rgs_hmap_put(&m, key, step), 0);
            model[k] = step;
        } else {
            rgs_hmap_del(&m, key);
            model[k] = -1;
        }
        assert_int_equal(rgs_hmap_get(&m, key), model[k]);
    }
    size_t count = 0;
    for (int i = 0; i < NKEYS; i++) {
        assert_int_equal(rgs_hmap_get(&m, ((uint64_t)i << 20) | 1), model[i]);
        count += model[i] >= 0;
    }
    assert_int_equal(m.count, count);
    assert_int_equal(rgs_hmap_put(&m, 0, 1), -1); /* 0 is not a key */
    assert_int_equal(rgs_hmap_get(&m, 0), -1);
    rgs_hmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(string_map_matches_an_array),
        cmocka_unit_test(handle_map_matches_an_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
