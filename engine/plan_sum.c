/*
 * The image checksum (format 7 on, cr_plan_image.h): XXH3-64 of each 1 MiB chunk, then XXH3-64
 * of those sums and the byte count. XXH3 is Debian's libxxhash (xxhash.h, inlined: nothing is
 * linked); a whole chunk is hashed with AVX2 where the processor has it (plan_sum_avx2.c), the
 * same value as the SSE2 code gives, about twice as fast as XXH64 over an image read from
 * memory.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "plan_image.h"

#include <assert.h>
#include <string.h>

uint64_t ce_xxh3_avx2(const void *p, size_t n); /* plan_sum_avx2.c */

static_assert(sizeof(XXH3_state_t) <= sizeof(((cr_image_sum *)0)->chunk), "XXH3 state size");
static_assert(_Alignof(XXH3_state_t) <= _Alignof(cr_image_sum), "XXH3 state alignment");

static uint64_t chunk_sum(const void *p, size_t n)
{
#if defined(__x86_64__) && defined(CR_HAVE_AVX2_TU)
    if (__builtin_cpu_supports("avx2"))
        return ce_xxh3_avx2(p, n);
#endif
    return XXH3_64bits(p, n);
}

static void le64(unsigned char b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

uint64_t cr_image_sum_combine(const uint64_t *sums, size_t count, uint64_t n)
{
    XXH3_state_t outer;
    unsigned char b[8];
    XXH3_64bits_reset(&outer);
    for (size_t i = 0; i < count; i++) {
        le64(b, sums[i]);
        XXH3_64bits_update(&outer, b, sizeof b);
    }
    le64(b, n);
    XXH3_64bits_update(&outer, b, sizeof b);
    return XXH3_64bits_digest(&outer);
}

void cr_image_sum_chunks(const void *p, size_t n, size_t first, size_t count, uint64_t *sums)
{
    const unsigned char *b = p;
    for (size_t i = first; i < first + count; i++) {
        size_t at = i * CR_IMAGE_SUM_CHUNK;
        size_t len = n - at < CR_IMAGE_SUM_CHUNK ? n - at : CR_IMAGE_SUM_CHUNK;
        sums[i] = chunk_sum(b + at, len);
    }
}

uint64_t cr_image_checksum(const void *p, size_t n)
{
    cr_image_sum s;
    cr_image_sum_init(&s);
    cr_image_sum_update(&s, p, n);
    return cr_image_sum_final(&s);
}

static XXH3_state_t *state(void *bytes)
{
    return (XXH3_state_t *)bytes;
}

static void put_sum(cr_image_sum *s, uint64_t v)
{
    unsigned char b[8];
    le64(b, v);
    XXH3_64bits_update(state(s->outer), b, sizeof b);
}

void cr_image_sum_init(cr_image_sum *s)
{
    XXH3_INITSTATE(state(s->chunk));
    XXH3_INITSTATE(state(s->outer));
    XXH3_64bits_reset(state(s->chunk));
    XXH3_64bits_reset(state(s->outer));
    s->in_chunk = 0;
    s->total = 0;
}

void cr_image_sum_update(cr_image_sum *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        size_t take = CR_IMAGE_SUM_CHUNK - s->in_chunk;
        if (take > n)
            take = n;
        if (take == CR_IMAGE_SUM_CHUNK) /* a whole chunk at once: the one-shot hash */
            put_sum(s, chunk_sum(p, take));
        else
            XXH3_64bits_update(state(s->chunk), p, take);
        s->in_chunk += take;
        s->total += take;
        p += take;
        n -= take;
        if (s->in_chunk == CR_IMAGE_SUM_CHUNK) {
            if (take != CR_IMAGE_SUM_CHUNK)
                put_sum(s, XXH3_64bits_digest(state(s->chunk)));
            XXH3_64bits_reset(state(s->chunk));
            s->in_chunk = 0;
        }
    }
}

uint64_t cr_image_sum_final(const cr_image_sum *s)
{
    cr_image_sum t = *s; /* the digest of a copy: s can still be updated */
    if (t.in_chunk)
        put_sum(&t, XXH3_64bits_digest(state(t.chunk)));
    unsigned char b[8];
    le64(b, t.total);
    XXH3_64bits_update(state(t.outer), b, sizeof b);
    return XXH3_64bits_digest(state(t.outer));
}
