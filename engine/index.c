/* The hash index of the model (open addressing, string keys -> index) and its hash. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 64-bit hash, eight bytes a step (a multiply-xorshift mix, ce_hash_step); `fold` lower-cases
 * ASCII. The last bytes form a word as if read little-endian (on such machines, one load). */
uint64_t ce_hash(const char *s, size_t n, bool fold)
{
    uint64_t h = ce_hash_start(n);
    size_t i = 0;
    if (!fold) {
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            h = ce_hash_step(h, w);
        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (i < n && n >= 8) { /* the last 8 bytes, shifted down to the ones left */
            uint64_t w;
            memcpy(&w, s + n - 8, 8);
            h = ce_hash_step(h, w >> 8 * (8 - (n - i)));
            i = n;
        }
#endif
    }
    while (i < n) {
        uint64_t w = 0;
        for (size_t k = 0; k < 8 && i < n; k++, i++) {
            unsigned char ch = (unsigned char)s[i];
            if (fold && ch >= 'A' && ch <= 'Z')
                ch = (unsigned char)(ch - 'A' + 'a');
            w |= (uint64_t)ch << (8 * k);
        }
        h = ce_hash_step(h, w);
    }
    return ce_hash_end(h);
}

size_t ce_index_cap(size_t n)
{
    size_t cap = 16;
    while (cap < n + n / 2 + 1)
        cap <<= 1;
    return cap;
}

void *ce_index_table_new(size_t n, size_t size, size_t *cap)
{
    size_t c = ce_index_cap(n);
    void *slots = c > SIZE_MAX / size ? NULL : cr_table_alloc(c * size); /* zeroed */
    if (slots)
        *cap = c;
    return slots;
}

void ce_index_table_free(void *slots, size_t cap, size_t size, bool borrowed)
{
    if (!borrowed)
        cr_table_free(slots, cap * size);
}

int ce_index_init(cr_index *ix, size_t n, bool fold, cr_index_eq eq, const void *ud)
{
    ix->borrowed = false;
    ix->slots = ce_index_table_new(n, sizeof *ix->slots, &ix->cap);
    if (!ix->slots)
        return CR_ENOMEM;
    ix->fold = fold;
    ix->eq = eq;
    ix->ud = ud;
    return CR_OK;
}

void ce_index_free(cr_index *ix)
{
    ce_index_table_free(ix->slots, ix->cap, sizeof *ix->slots, ix->borrowed);
    memset(ix, 0, sizeof *ix);
}

uint32_t ce_index_put(cr_index *ix, const char *key, size_t n, uint32_t val)
{
    uint64_t h = ce_hash(key, n, ix->fold);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        cr_index_slot *s = &ix->slots[i];
        if (!s->val) {
            s->hash = tag;
            s->val = val + 1;
            return CR_INDEX_NONE;
        }
        if (s->hash == tag && ix->eq(ix->ud, s->val - 1, key, n))
            return s->val - 1;
    }
}

uint32_t ce_index_get(const cr_index *ix, const char *key, size_t n)
{
    if (!ix->cap)
        return CR_INDEX_NONE;
    return ce_index_get_hashed(ix, key, n, ce_hash(key, n, ix->fold));
}

uint32_t ce_index_get_hashed(const cr_index *ix, const char *key, size_t n, uint64_t h)
{
    return ce_index_probe(ix, key, n, h, ix->eq, ix->ud);
}
