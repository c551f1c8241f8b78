/*
 * XXH64 (Yann Collet's xxHash, 64-bit variant), written from its specification: the checksum
 * of plan images. Four independent lanes of 8 bytes a step, so a 90 MB image verifies in a
 * few milliseconds once its pages are resident.
 */
#include "plan_image.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t v)
{
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

/* The four lanes over every whole 32-byte stripe of [p, end); returns where they stopped. */
static const unsigned char *stripes(uint64_t v[4], const unsigned char *p, const unsigned char *end)
{
    uint64_t v1 = v[0], v2 = v[1], v3 = v[2], v4 = v[3];
    for (; end - p >= 32; p += 32) {
        v1 = round64(v1, rd64(p));
        v2 = round64(v2, rd64(p + 8));
        v3 = round64(v3, rd64(p + 16));
        v4 = round64(v4, rd64(p + 24));
    }
    v[0] = v1, v[1] = v2, v[2] = v3, v[3] = v4;
    return p;
}

static uint64_t converge(const uint64_t v[4])
{
    uint64_t h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
    for (int i = 0; i < 4; i++)
        h = merge64(h, v[i]);
    return h;
}

/* The bytes after the last stripe, then the avalanche. */
static uint64_t finish(uint64_t h, const unsigned char *p, const unsigned char *end)
{
    for (; p + 8 <= end; p += 8) {
        h ^= round64(0, rd64(p));
        h = rotl(h, 27) * P1 + P4;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)rd32(p) * P1;
        h = rotl(h, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) {
        h ^= (uint64_t)*p * P5;
        h = rotl(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t cr_image_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v[4] = {seed + P1 + P2, seed + P2, seed, seed - P1};
        p = stripes(v, p, end);
        h = converge(v);
    } else {
        h = seed + P5;
    }
    return finish(h + (uint64_t)n, p, end);
}

void cr_hash64_init(cr_hash64 *s, uint64_t seed)
{
    *s = (cr_hash64){{seed + P1 + P2, seed + P2, seed, seed - P1}, 0, seed, {0}, 0};
}

void cr_hash64_update(cr_hash64 *s, const void *data, size_t n)
{
    const unsigned char *p = data, *end = p + n;
    s->total += n;
    if (s->nbuf + n < 32) {
        memcpy(s->buf + s->nbuf, p, n);
        s->nbuf += (unsigned)n;
        return;
    }
    if (s->nbuf) {
        size_t fill = 32 - s->nbuf;
        memcpy(s->buf + s->nbuf, p, fill);
        stripes(s->v, s->buf, s->buf + 32);
        p += fill;
        s->nbuf = 0;
    }
    p = stripes(s->v, p, end);
    memcpy(s->buf, p, (size_t)(end - p));
    s->nbuf = (unsigned)(end - p);
}

uint64_t cr_hash64_final(const cr_hash64 *s)
{
    uint64_t h = s->total >= 32 ? converge(s->v) : s->seed + P5;
    return finish(h + s->total, s->buf, s->buf + s->nbuf);
}
