/* The response-group engine's hash maps (workflows/rgs_map.h), against a plain array:
 * inserts, replaces, lookups and deletions in a random order keep every key findable, through
 * growth and the backward shifts of deletion. The index map (keys kept by the caller, as the
 * call maps keep them in the call slots) is probed the way the engine probes it, with tags
 * that collide often (long runs, the key compare deciding) and with the engine's own tags.
 * The large tables the maps and the engine's records live in (rgs_big_alloc) are zeroed,
 * aligned, advised for huge pages from 2 MB on, and keep their contents as they grow. The keys'
 * hash equals the byte-wise one it was first written as, for every length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rgs_map.h"
#include "testutil.h"

#define NKEYS 2000

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint32_t next(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}

/* The keys' hash as it was first written (the tail copied byte by byte): the maps' slots,
 * and so the engine's probes, depend on its values. */
static uint64_t reference_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

static void hash_equals_the_bytewise_one(void **state)
{
    (void)state;
    char key[64];
    for (int round = 0; round < 200; round++)
        for (size_t n = 0; n < sizeof key - 1; n++) {
            for (size_t i = 0; i < n; i++)
                key[i] = (char)(1 + next() % 255); /* (no NUL inside: rgs_map_hash reads to it) */
            key[n] = 0;
            assert_true(rgs_kmap_hash(key, n) == reference_hash(key, n));
            assert_true(rgs_map_hash(key) == reference_hash(key, n));
        }
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

/* The engine's probe (rgs_call_by_handle): the value whose record holds key, or -1. */
static long imap_find(const rgs_imap *m, const uint64_t *rec, uint64_t key, uint32_t tag)
{
    if (!m->cap)
        return -1;
    for (size_t j = rgs_imap_home(m, tag); m->slots[j].ref; j = rgs_imap_next(m, j))
        if (m->slots[j].tag == tag && rec[m->slots[j].ref - 1] == key)
            return (long)m->slots[j].ref - 1;
    return -1;
}

/* Records r hold keys; a key is in the map while its record is live. Tags: few distinct
 * values (mode 0: runs of hundreds, tags shared by many keys) or the engine's (mode 1). */
static void index_map_run(int mode)
{
    static uint64_t rec[NKEYS];
    static bool live[NKEYS];
    rgs_imap m = {0};
    for (int i = 0; i < NKEYS; i++)
        rec[i] = ((uint64_t)(i + 1) << 24) | 7, live[i] = false;
    size_t nlive = 0, longest = 0;
    for (int step = 0; step < 60000; step++) {
        uint32_t r = next() % NKEYS;
        uint32_t tag = mode ? rgs_imap_tag_u64(rec[r]) : (uint32_t)(rec[r] >> 24) % 61 * 977;
        if (next() % 3 && !live[r]) {
            assert_int_equal(rgs_imap_room(&m), 0);
            size_t j = rgs_imap_home(&m, tag), run = 0;
            for (; m.slots[j].ref; j = rgs_imap_next(&m, j), run++)
                assert_false(m.slots[j].tag == tag && rec[m.slots[j].ref - 1] == rec[r]);
            longest = run > longest ? run : longest;
            rgs_imap_set_at(&m, j, tag, r);
            live[r] = true, nlive++;
        } else if (live[r]) {
            rgs_imap_del(&m, tag, r);
            live[r] = false, nlive--;
        }
        assert_int_equal(imap_find(&m, rec, rec[r], tag), live[r] ? (long)r : -1);
        assert_int_equal(m.count, nlive);
        assert_true(m.count * 4 <= m.cap * 3);
    }
    for (int i = 0; i < NKEYS; i++) {
        uint32_t tag = mode ? rgs_imap_tag_u64(rec[i]) : (uint32_t)(rec[i] >> 24) % 61 * 977;
        assert_int_equal(imap_find(&m, rec, rec[i], tag), live[i] ? (long)i : -1);
        rgs_imap_del(&m, tag, (uint32_t)i); /* absent values: nothing changes */
    }
    assert_int_equal(m.count, 0);
    if (mode == 0)
        assert_true(longest > 40); /* the collisions the mode is for */
    rgs_imap_free(&m);
    assert_int_equal(imap_find(&m, rec, rec[0], 0), -1);
}

/* The map with keys inside its slots (the workflows' URIs): keys short enough to be inline
 * and long ones pointed to, around the inline limit, lookups by a key's prefix (a URI before
 * its parameters), duplicates refused, every slot one aligned line. */
static void inline_key_map_matches_an_array(void **state)
{
    (void)state;
    enum { K = 3000 };
    static char keys[K][128];
    rgs_kmap m = {0};
    for (int i = 0; i < K; i++) {
        /* lengths 8 to ~100: about half inline (under RGS_KMAP_INLINE), half pointed to */
        int pad = (int)(next() % 90);
        snprintf(keys[i], sizeof keys[i], "sip:%d@%.*s", i, pad,
                 "contoso.example.com.with.a.long.domain.name.that.goes.on.and.on.for.many.bytes.");
        if (i % 2) /* keys that differ from the one before in their last byte only */
            memcpy(keys[i], keys[i - 1], sizeof keys[i]), keys[i][strlen(keys[i]) - 1]++;
    }
    for (int i = 0; i < K; i++) {
        int rc = rgs_kmap_add(&m, keys[i], i);
        long first = -1;
        for (int j = 0; j < i && first < 0; j++)
            if (strcmp(keys[j], keys[i]) == 0)
                first = j;
        assert_int_equal(rc, first < 0 ? 0 : 1);
        assert_int_equal(rgs_kmap_get(&m, keys[i]), first < 0 ? i : first);
    }
    assert_int_equal((uintptr_t)m.slots % 64, 0);
    /* a load of 3/8 at most: a lookup's probe (a line a slot) is short */
    assert_true(m.count * 8 <= m.cap * 3);
    char probe[160];
    for (int i = 0; i < K; i++) {
        long want = rgs_kmap_get(&m, keys[i]);
        assert_true(want >= 0 && strcmp(keys[want], keys[i]) == 0);
        /* the same key with parameters: found by its prefix only */
        size_t n = strlen(keys[i]);
        memcpy(probe, keys[i], n);
        memcpy(probe + n, ";user=phone", sizeof ";user=phone");
        assert_int_equal(rgs_kmap_get(&m, probe), -1);
        assert_int_equal(rgs_kmap_get_n(&m, probe, strlen(keys[i])), want);
        /* one byte shorter or changed: absent unless another key is that */
        probe[strlen(keys[i]) - 1] ^= 0x20;
        probe[strlen(keys[i])] = 0;
        long other = -1;
        for (int j = 0; j < K && other < 0; j++)
            if (strcmp(keys[j], probe) == 0)
                other = j;
        if (other < 0)
            assert_int_equal(rgs_kmap_get(&m, probe), -1);
    }
    assert_int_equal(rgs_kmap_add(&m, "x", -1), -1);
    rgs_kmap_free(&m);
    assert_int_equal(rgs_kmap_get(&m, keys[0]), -1);
}

static void index_map_matches_an_array(void **state)
{
    (void)state;
    index_map_run(0);
    index_map_run(1);
    /* a reservation gives room without growth */
    rgs_imap m = {0};
    assert_int_equal(rgs_imap_reserve(&m, 1000), 0);
    size_t cap = m.cap;
    assert_true(cap * 3 >= 1000 * 4);
    for (uint32_t i = 0; i < 1000; i++) {
        assert_int_equal(rgs_imap_room(&m), 0);
        size_t j = rgs_imap_home(&m, i * 2654435761u);
        while (m.slots[j].ref)
            j = rgs_imap_next(&m, j);
        rgs_imap_set_at(&m, j, i * 2654435761u, i);
    }
    assert_int_equal(m.cap, cap);
    rgs_imap_free(&m);
}

/* Every byte of [p, p + n) is (i * 7 + k) % 251 + 1 for its index i, or zero (k = -1). */
static void fill(unsigned char *p, size_t n, int k)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 7 + (size_t)k) % 251 + 1);
}
static bool holds(const unsigned char *p, size_t from, size_t n, int k)
{
    for (size_t i = from; i < n; i++)
        if (p[i] != (k < 0 ? 0 : (unsigned char)((i * 7 + (size_t)k) % 251 + 1)))
            return false;
    return true;
}

static void check_big(const unsigned char *p, size_t n)
{
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    if (n >= RGS_HUGE) {
        assert_int_equal((uintptr_t)p % RGS_HUGE, 0);
        int hg = cr_test_advised_huge(p);
        if (hg >= 0)
            assert_int_equal(hg, 1);
    }
}

static void large_tables_zeroed_aligned_grown(void **state)
{
    (void)state;
    static const size_t sizes[] = {1000,     1536 << 10,   RGS_HUGE - 1,
                                   RGS_HUGE, RGS_HUGE + 1, RGS_HUGE + 100,
                                   9 << 20,  20 << 20,     (20 << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = rgs_big_alloc(sizes[i]);
        check_big(p, sizes[i]);
        assert_true(holds(p, 0, sizes[i], -1));
        rgs_big_free(p, sizes[i]);
    }
    /* one table grown through every case: heap to heap, heap to mapping, within the
     * mapping's last huge page, mapping to a larger mapping (pages moved) */
    unsigned char *p = NULL;
    size_t n = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        p = rgs_big_grow(p, n, sizes[i]);
        check_big(p, sizes[i]);
        assert_true(holds(p, 0, n, (int)i - 1));
        assert_true(holds(p, n, sizes[i], -1));
        fill(p, sizes[i], (int)i);
        n = sizes[i];
    }
    assert_ptr_equal(rgs_big_grow(p, n, n - 1), p); /* never shrinks */
    assert_true(holds(p, 0, n, (int)(sizeof sizes / sizeof *sizes) - 1));
    rgs_big_free(p, n);
    rgs_big_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_equals_the_bytewise_one),
        cmocka_unit_test(string_map_matches_an_array),
        cmocka_unit_test(handle_map_matches_an_array),
        cmocka_unit_test(index_map_matches_an_array),
        cmocka_unit_test(inline_key_map_matches_an_array),
        cmocka_unit_test(large_tables_zeroed_aligned_grown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
