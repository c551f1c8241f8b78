/* JSON string escaping: quotes, backslashes, control characters and invalid UTF-8. */
#include "json_esc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Length of the well-formed UTF-8 sequence starting at p (Unicode 15, table 3-7), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    /* a NUL ends the string and is no continuation byte, so this never reads past it */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Whether none of the 8 bytes in v needs escaping or a UTF-8 check: no byte below 0x20, '"',
 * '\\', 0x7f or 0x80 and above (the "has less" and "has zero" bit tricks). */
static inline bool plain8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
#define HAS_ZERO(x) (((x)-ones) & ~(x)&high)
    uint64_t bad = HAS_ZERO(v ^ (ones * '"')) | HAS_ZERO(v ^ (ones * '\\')) |
                   HAS_ZERO(v ^ (ones * 0x7f)) | ((v - ones * 0x20) & ~v & high) | (v & high);
#undef HAS_ZERO
    return bad == 0;
}

#ifdef __SSE2__
/* plain8 for 16 bytes: a signed compare below 0x20 catches the control bytes and 0x80 up. */
static inline bool plain16v(__m128i v)
{
    __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return _mm_movemask_epi8(bad) == 0;
}

static inline bool plain16(const unsigned char *p)
{
    return plain16v(_mm_loadu_si128((const __m128i *)(const void *)p));
}
#endif

/* Whether the two 8-byte words lo and hi are plain (one check of 16 bytes where SSE2 is). */
static inline bool plain_pair(uint64_t lo, uint64_t hi)
{
#ifdef __SSE2__
    return plain16v(_mm_set_epi64x((long long)hi, (long long)lo));
#else
    return plain8(lo) && plain8(hi);
#endif
}

#define SPACES8 0x2020202020202020ull /* plain bytes to fill a word */

/* Copies the n bytes at p (1 to 15) to o when none needs escaping or a UTF-8 check: two
 * overlapping loads of 8 or 4 bytes, or the first, middle and last of 1 to 3 bytes, read
 * nothing outside p[0, n). False (nothing written) when one byte is not plain. */
static inline bool short_plain_copy(char *o, const unsigned char *p, size_t n)
{
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, p, 8), memcpy(&b, p + n - 8, 8);
        if (!plain_pair(a, b))
            return false;
        memcpy(o, &a, 8), memcpy(o + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4), memcpy(&b, p + n - 4, 4);
        if (!plain_pair((uint64_t)b << 32 | a, SPACES8))
            return false;
        memcpy(o, &a, 4), memcpy(o + n - 4, &b, 4);
    } else {
        unsigned char a = p[0], m = p[n / 2], z = p[n - 1];
        if (!plain_pair(SPACES8 << 24 | (uint64_t)z << 16 | (uint64_t)m << 8 | a, SPACES8))
            return false;
        o[0] = (char)a, o[n / 2] = (char)m, o[n - 1] = (char)z;
    }
    return true;
}

/* The one escaping loop: the n bytes at s, without quotes, into o; returns the end of what
 * it wrote. No UTF-8 sequence may straddle s[n] (it may be read, up to the string's NUL).
 * Out of line: the common strings take crp_json_escape_n's plain paths and never come here. */
static __attribute__((noinline)) char *escape_body(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        uint64_t v;
#ifdef __SSE2__
        while (end - p >= 16 && plain16(p))
            _mm_storeu_si128((__m128i *)(void *)o,
                             _mm_loadu_si128((const __m128i *)(const void *)p)),
                o += 16, p += 16;
        if (p < end && end - p < 16 && n >= 16 && plain16(end - 16)) { /* as below, 16 bytes */
            _mm_storeu_si128((__m128i *)(void *)(o - (16 - (end - p))),
                             _mm_loadu_si128((const __m128i *)(const void *)(end - 16)));
            o += end - p;
            break;
        }
#endif
        while (end - p >= 8 && (memcpy(&v, p, 8), plain8(v))) /* runs of plain ASCII */
            memcpy(o, p, 8), o += 8, p += 8;
        /* a plain tail shorter than 8 bytes: the last 8 bytes of the string at once (those
         * before p are plain and already copied: writing them again changes nothing) */
        if (p < end && end - p < 8 && n >= 8 && (memcpy(&v, end - 8, 8), plain8(v))) {
            memcpy(o - (8 - (end - p)), end - 8, 8);
            o += end - p;
            break;
        }
        if (p == end)
            break;
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *o++ = (char)c, p++;
            continue;
        }
        if (c >= 0x80) {
            size_t u = utf8_len(p); /* stops at the NUL at end */
            if (u) {
                memcpy(o, p, u), o += u, p += u;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3), o += 3, p++;
            }
            continue;
        }
        *o++ = '\\';
        if (c == '"' || c == '\\')
            *o++ = (char)c;
        else if (c == '\n')
            *o++ = 'n';
        else if (c == '\t')
            *o++ = 't';
        else if (c == '\r')
            *o++ = 'r';
        else /* the other control characters and DEL, as snprintf's "\\u%04x" */
            *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = hex[c >> 4], *o++ = hex[c & 15];
        p++;
    }
    return o;
}

size_t crp_json_escape_n(char *dst, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *o = dst + 1;
    dst[0] = '"';
    if (n - 1 < 15) { /* 1 to 15 bytes: most names, numbers and short URIs */
        if (short_plain_copy(o, p, n)) {
            o[n] = '"';
            return n + 2;
        }
    }
#ifdef __SSE2__
    else if (n >= 16) { /* 16 bytes at a time, the last 16 overlapping */
        size_t i = 0;
        for (; i + 16 <= n && plain16(p + i); i += 16)
            _mm_storeu_si128((__m128i *)(void *)(o + i),
                             _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
        if (i == n || (i + 16 > n && plain16(p + n - 16))) {
            _mm_storeu_si128((__m128i *)(void *)(o + n - 16),
                             _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)));
            o[n] = '"';
            return n + 2;
        }
        /* something to escape at or after s[i], which starts a character (every byte before
         * it is plain ASCII): the loop from there */
        o += i, s += i, n -= i;
    }
#endif
    o = escape_body(o, s, n);
    *o++ = '"';
    return (size_t)(o - dst);
}

#define CHUNK 512

void crp_json_escape(const char *s, crp_json_put put, void *ud)
{
    if (!s) {
        put(ud, "null", 4);
        return;
    }
    char buf[CRP_JSON_ESCAPED_MAX(CHUNK)];
    put(ud, "\"", 1);
    for (size_t left = strlen(s); left > 0;) {
        size_t n = left;
        if (n > CHUNK) { /* end the chunk before a byte that starts something, not inside a
                          * sequence (a run of stray continuation bytes may be cut: each is
                          * replaced on its own anyway) */
            n = CHUNK;
            for (int back = 0; back < 3 && ((unsigned char)s[n] & 0xc0) == 0x80; back++)
                n--;
        }
        put(ud, buf, (size_t)(escape_body(buf, s, n) - buf));
        s += n, left -= n;
    }
    put(ud, "\"", 1);
}

size_t crp_json_escape_to(char *dst, const char *s)
{
    if (!s) {
        memcpy(dst, "null", 4);
        return 4;
    }
    return crp_json_escape_n(dst, s, strlen(s));
}
