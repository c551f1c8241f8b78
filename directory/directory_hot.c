/*
 * The cache of hot numbers (cr_dir_reader_by_number): one table per thread, in sets of four
 * ways of 128 bytes (two cache lines, 128-byte aligned: the adjacent-line prefetcher brings
 * a way's second line with its first). A way holds a 16-byte head and a compact copy of the
 * record found for a number and extension; a record whose copy does not fit takes two ways
 * (an aligned pair: 240 bytes of copy).
 *
 * The key is exact: the number packed 4 bits a character (up to 16 of 0-9 + * #, as the
 * lookup index packs it) and the extension the same way (up to 8); other numbers are not
 * cached. An entry answers only the directory and snapshot it was read from: each (directory,
 * snapshot) pair a thread looks up in gets a 16-bit generation of the thread's, never given
 * to another pair (when they run out the table is emptied and they start again), and an entry
 * holds its pair's generation. An import commits a new snapshot, whose readers never see
 * entries of the old one.
 *
 * The compact copy drops what the key already says: the record's line when it is
 * "tel:" number [";ext=" extension], its number and extension when they are the key's, the
 * magic and version bytes; a string's two length bytes become one byte saying where it starts
 * (copies of up to 255 bytes; the NUL stays). A hit copies it as it is into the reader's slot
 * and points the user's strings into it, scanning none (only the line, when derived, is
 * written out); a copy is kept only when decoding it gives the user decoding the record
 * gives, field by field (checked when it is kept), so a hit answers exactly what the map
 * holds.
 *
 * A number found is kept only when it was found before (its fingerprint is in the doorkeeper):
 * numbers looked up once, most of them in a long tail, do not push hot ones out. A set's
 * victim is a way not answered since the set last chose one.
 */
#include "directory_int.h"
#include "cr_grow.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HOT_WAYS   32768 /* 4 MB: 8,192 sets of four */
#define HOT_WAY    128
#define HOT_SEEN   32768 /* fingerprints of numbers found once (the doorkeeper) */
#define HOT_RECENT 8     /* (directory, snapshot) pairs a thread remembers generations for */

/* A way's head; a wide entry's second way has no head (its bytes are the copy's). */
typedef struct hot_head {
    uint64_t num;  /* the packed number; 0: empty */
    uint32_t ext;  /* the packed extension, 0 for none */
    uint16_t gen;  /* of the (directory, snapshot) pair; 0: empty */
    uint8_t clen;  /* bytes of copy */
    uint8_t flags; /* HOT_USED, HOT_WIDE */
} hot_head;

#define HOT_USED 1 /* answered since its set last chose a victim */
#define HOT_WIDE 2 /* this way and the next hold one entry */

#define HOT_NARROW (HOT_WAY - sizeof(hot_head))     /* 112 bytes of copy */
#define HOT_BROAD  (2 * HOT_WAY - sizeof(hot_head)) /* 240 */

typedef struct hot_way {
    hot_head h;
    unsigned char c[HOT_NARROW];
} __attribute__((aligned(HOT_WAY))) hot_way;

/* A way's copy; a wide entry's runs on over the next way (the ways are contiguous). */
static unsigned char *copy_of(hot_way *w)
{
    return (unsigned char *)w + sizeof(hot_head);
}

typedef struct hot_table_t {
    hot_way w[HOT_WAYS];
    uint16_t seen[HOT_SEEN];
    struct {
        uint64_t dir_id, snap;
        uint16_t gen;
    } recent[HOT_RECENT];
    unsigned last; /* recent[] entry of the last lookup */
    uint32_t next; /* the next generation to give (1 .. gens) */
    uint32_t gens; /* generations given before the table is emptied: 65,535 */
} hot_table_t;

static __thread hot_table_t *hot;
static __thread cr_dir_hot_stats hot_count;
static pthread_key_t hot_key;
static pthread_once_t hot_once = PTHREAD_ONCE_INIT;

#define HOT_HUGE  (2u << 20)
#define HOT_BYTES ((sizeof(hot_table_t) + HOT_HUGE - 1) & ~(size_t)(HOT_HUGE - 1))

static void hot_free(void *p)
{
    munmap(p, HOT_BYTES);
}

static void hot_init(void)
{
    pthread_key_create(&hot_key, hot_free);
}

/* The thread's table, made at its first use; NULL when there is no memory for it. */
static hot_table_t *hot_table(void)
{
    if (hot)
        return hot;
    pthread_once(&hot_once, hot_init);
    /* on 2 MB boundaries, as huge pages where the kernel allows them: a hit then costs no
     * page walk (the map's lookups keep the TLB busy) */
    hot_table_t *t = cr_map_aligned(HOT_BYTES, HOT_HUGE);
    if (!t)
        return NULL;
    madvise(t, sizeof t->w, MADV_HUGEPAGE); /* the ways; the doorkeeper in small pages */
    if (pthread_setspecific(hot_key, t) != 0) {
        munmap(t, HOT_BYTES);
        return NULL;
    }
    t->next = 1;
    t->gens = UINT16_MAX;
    /* CALLROUTE_DIR_HOT_GENS: fewer generations (from 2), for tests of their running out */
    const char *g = getenv("CALLROUTE_DIR_HOT_GENS");
    if (g && *g) {
        unsigned long n = strtoul(g, NULL, 10);
        if (n >= 2 && n < UINT16_MAX)
            t->gens = (uint32_t)n;
    }
    return hot = t;
}

void dir_hot_reset(void)
{
    if (hot) { /* the parent's directories' ids may be reused here */
        uint32_t gens = hot->gens;
        memset(hot, 0, sizeof *hot);
        hot->next = 1;
        hot->gens = gens;
    }
}

cr_dir_hot_stats cr_dir_hot_count(void)
{
    return hot_count;
}

/* ---- keys --------------------------------------------------------------------------------- */

bool dir_hot_key_of(const char *number, size_t nlen, const char *ext, size_t elen, dir_hot_key *k)
{
    uint64_t e = 0;
    if (!nlen || !dir_pack_number(number, nlen, 16, &k->num) || !dir_pack_number(ext, elen, 8, &e))
        return false;
    k->ext = (uint32_t)e;
    uint64_t h = (k->num ^ (e * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL;
    k->hash = h ^ (h >> 29);
    return true;
}

/* ---- generations -------------------------------------------------------------------------- */

/* The generation of the reader's (directory, snapshot) pair in this thread: found among the
 * recent ones, else a new one (the table emptied when they ran out). */
static uint16_t hot_gen(hot_table_t *t, const cr_dir_reader *r)
{
    unsigned i = t->last;
    if (t->recent[i].gen && t->recent[i].dir_id == r->dir->id && t->recent[i].snap == r->snap)
        return t->recent[i].gen;
    for (i = 0; i < HOT_RECENT; i++)
        if (t->recent[i].gen && t->recent[i].dir_id == r->dir->id && t->recent[i].snap == r->snap) {
            t->last = i;
            return t->recent[i].gen;
        }
    if (t->next > t->gens) { /* every generation given: no entry may outlive this */
        memset(t->w, 0, sizeof t->w);
        memset(t->recent, 0, sizeof t->recent);
        t->next = 1;
    }
    i = (t->last + 1) % HOT_RECENT;
    t->recent[i].dir_id = r->dir->id;
    t->recent[i].snap = r->snap;
    t->recent[i].gen = (uint16_t)t->next++;
    t->last = i;
    return t->recent[i].gen;
}

/* ---- compact copies ----------------------------------------------------------------------- */

#define REC_HEADER 12
#define REC_NULL   0xFFFFu
#define HOT_STRS   (DIR_USER_STRINGS + CR_DIR_SLOT_NAMES) /* a record's strings, then names */
#define HOT_FIXED  9 /* a copy's flags and four 16-bit fields */
#define HOT_O_NULL 0 /* a string's place in a copy: absent */
#define HOT_O_KEY  1 /* the line derived, or the number or extension the key's */

typedef struct hot_str {
    const char *s; /* NULL: absent */
    size_t n;
} hot_str;

/* The strings of a record (REC_VERSION 1, as dir_encode writes it) into v; their count, or
 * 0 when it is not one this cache copies (damaged, or more names than a slot holds). */
static size_t rec_strings(const unsigned char *r, size_t len, hot_str *v)
{
    if (len < REC_HEADER || r[0] != 'U' || r[1] != 1)
        return 0;
    size_t count = DIR_USER_STRINGS + ((size_t)r[8] | (size_t)r[9] << 8) +
                   ((size_t)r[10] | (size_t)r[11] << 8);
    if (count > HOT_STRS)
        return 0;
    size_t off = REC_HEADER;
    for (size_t i = 0; i < count; i++) {
        if (off + 2 > len)
            return 0;
        size_t n = (size_t)r[off] | (size_t)r[off + 1] << 8;
        off += 2;
        if (n == REC_NULL) {
            v[i] = (hot_str){NULL, 0};
            continue;
        }
        if (off + n + 1 > len || r[off + n] != 0)
            return 0;
        v[i] = (hot_str){(const char *)r + off, n};
        off += n + 1;
    }
    return count;
}

static bool str_is(hot_str a, const char *s, size_t n)
{
    return a.s && s && a.n == n && memcmp(a.s, s, n) == 0;
}

/* Whether line is "tel:" number, with ";ext=" ext when there is one. */
static bool line_derived(hot_str line, hot_str num, hot_str ext)
{
    if (!line.s || !num.s || line.n != 4 + num.n + (ext.s ? 5 + ext.n : 0))
        return false;
    const char *p = line.s;
    return memcmp(p, "tel:", 4) == 0 && memcmp(p + 4, num.s, num.n) == 0 &&
           (!ext.s ||
            (memcmp(p + 4 + num.n, ";ext=", 5) == 0 && memcmp(p + 9 + num.n, ext.s, ext.n) == 0));
}

/*
 * The compact copy of a record found for number / ext into c (cap bytes): its flags and four
 * 16-bit fields (HOT_FIXED bytes), then a byte a string saying where it is (its offset in the
 * copy, past these bytes; HOT_O_NULL or HOT_O_KEY), then the strings, each with its NUL. A
 * hit copies it as it is and points the user's strings into it: no string is scanned. Returns
 * its length (at most 255), or 0 when it does not fit or the record is not one this cache
 * copies.
 */
static size_t hot_squeeze(const unsigned char *r, size_t len, const char *number, size_t nlen,
                          const char *ext, size_t elen, unsigned char *c, size_t cap)
{
    hot_str v[HOT_STRS];
    size_t count = rec_strings(r, len, v), at = HOT_FIXED + count;
    if (!count || cap < at)
        return 0;
    c[0] = r[2];
    memcpy(c + 1, r + 4, 8);
    for (size_t i = 0; i < count; i++) {
        bool key = (i == 1 && line_derived(v[1], v[2], v[3])) ||
                   (i == 2 && str_is(v[2], number, nlen)) ||
                   (i == 3 && elen && str_is(v[3], ext, elen));
        if (key || !v[i].s) {
            c[HOT_FIXED + i] = key ? HOT_O_KEY : HOT_O_NULL;
            continue;
        }
        if (at + v[i].n + 1 > cap || at > UINT8_MAX)
            return 0;
        c[HOT_FIXED + i] = (unsigned char)at;
        memcpy(c + at, v[i].s, v[i].n + 1); /* with its NUL */
        at += v[i].n + 1;
    }
    return at <= UINT8_MAX ? at : 0;
}

/* *u = {0}, in 16-byte stores where SSE2 has them: memset's rep stos costs a hit more */
static void hot_zero(cr_user *u)
{
#if defined(__SSE2__)
    char *b = (char *)u;
    size_t i = 0;
#pragma GCC unroll 32
    for (; i + 16 <= sizeof *u; i += 16)
        _mm_storeu_si128((__m128i *)(b + i), _mm_setzero_si128());
    if (i < sizeof *u)
        memset(b + i, 0, sizeof *u - i);
#else
    memset(u, 0, sizeof *u);
#endif
}

/* Puts s (n bytes) and a NUL at buf + *w (below cap); NULL when it does not fit. */
static char *put_str(unsigned char *buf, size_t cap, size_t *w, const char *s, size_t n)
{
    if (n + 1 > cap - *w)
        return NULL;
    char *p = (char *)buf + *w;
    memcpy(p, s, n);
    p[n] = 0;
    *w += n + 1;
    return p;
}

/*
 * Decodes a compact copy into u as dir_decode decodes the record it stands for: the copy goes
 * into buf (cap bytes; the user's strings point into it), the number and extension the key
 * stands for and a derived line after it; names into names[] (n slots). False when the copy
 * is damaged (a place past its end, a copy not ending in a NUL: no string then runs past it)
 * or does not fit.
 */
static bool hot_decode(const unsigned char *c, size_t clen, const char *number, size_t nlen,
                       const char *ext, size_t elen, unsigned char *buf, size_t cap, cr_user *u,
                       char **names, size_t n)
{
    if (clen <= HOT_FIXED + DIR_USER_STRINGS || clen > cap || c[clen - 1] != 0)
        return false;
    size_t nteam = (size_t)c[5] | (size_t)c[6] << 8, ndel = (size_t)c[7] | (size_t)c[8] << 8;
    size_t count = DIR_USER_STRINGS + nteam + ndel, first = HOT_FIXED + count;
    if (nteam + ndel > n || first >= clen)
        return false;
    memcpy(buf, c, clen);
    char *p[HOT_STRS];
    /* a place is absent, the key (for the line, number and extension), or inside the copy
     * past the places; read from the entry, not from buf (no wait on the copy's stores) */
    unsigned keys, bad, in;
#if defined(__SSE2__)
    { /* the ten of the user's strings at once; c has them all (clen > HOT_FIXED + 10) */
        unsigned char o16[16] = {0};
        memcpy(o16, c + HOT_FIXED, DIR_USER_STRINGS);
        __m128i o = _mm_loadu_si128((const __m128i *)o16);
        __m128i lo = _mm_set1_epi8((char)first), hi = _mm_set1_epi8((char)(clen - 1));
        __m128i inside = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(o, lo), o),
                                       _mm_cmpeq_epi8(_mm_min_epu8(o, hi), o));
        __m128i key = _mm_cmpeq_epi8(o, _mm_set1_epi8(HOT_O_KEY));
        __m128i none = _mm_cmpeq_epi8(o, _mm_setzero_si128());
        in = (unsigned)_mm_movemask_epi8(inside) & 0x3FF;
        keys = (unsigned)_mm_movemask_epi8(key) & 0x3FF;
        bad = ~(in | keys | ((unsigned)_mm_movemask_epi8(none) & 0x3FF)) & 0x3FF;
    }
#else
    keys = bad = in = 0;
    for (size_t i = 0; i < DIR_USER_STRINGS; i++) {
        unsigned o = c[HOT_FIXED + i];
        in |= (unsigned)(o - first < clen - first) << i;
        keys |= (unsigned)(o == HOT_O_KEY) << i;
        bad |= (unsigned)(o - first >= clen - first && o > HOT_O_KEY) << i;
    }
#endif
#pragma GCC unroll 10
    for (size_t i = 0; i < DIR_USER_STRINGS; i++)
        p[i] = (char *)((uintptr_t)(buf + c[HOT_FIXED + i]) & -(uintptr_t)(in >> i & 1));
    for (size_t i = DIR_USER_STRINGS; i < count; i++) { /* names: never absent */
        unsigned o = c[HOT_FIXED + i];
        p[i] = (char *)buf + o;
        bad |= o - first >= clen - first;
    }
    if (bad || (keys & ~14u))
        return false;
    size_t w = clen;
    if ((keys & 4) && !(p[2] = put_str(buf, cap, &w, number, nlen)))
        return false;
    if ((keys & 8) && (!elen || !(p[3] = put_str(buf, cap, &w, ext, elen))))
        return false;
    if (keys & 2) { /* "tel:" number [";ext=" extension] */
        if (!p[2])
            return false;
        size_t nn = (keys & 4) ? nlen : strlen(p[2]), en = 0;
        if (p[3])
            en = (keys & 8) ? elen : strlen(p[3]);
        size_t need = 4 + nn + (p[3] ? 5 + en : 0);
        if (need + 1 > cap - w)
            return false;
        char *l = (char *)buf + w;
        memcpy(l, "tel:", 4);
        memcpy(l + 4, p[2], nn);
        if (p[3]) {
            memcpy(l + 4 + nn, ";ext=", 5);
            memcpy(l + 9 + nn, p[3], en);
        }
        l[need] = 0;
        p[1] = l;
    }
    if (!p[0])
        return false;
    hot_zero(u);
    u->enterprise_voice = buf[0] & 1;
    u->pbx_integration = (buf[0] & 2) != 0;
    u->forwarding.no_answer_after = (int)((unsigned)buf[1] | (unsigned)buf[2] << 8);
    u->team_call_delay = (int)((unsigned)buf[3] | (unsigned)buf[4] << 8);
    char **f[DIR_USER_STRINGS];
    dir_user_strings(u, f);
#pragma GCC unroll 10
    for (size_t i = 0; i < DIR_USER_STRINGS; i++)
        *f[i] = p[i];
    memcpy(names, p + DIR_USER_STRINGS, (nteam + ndel) * sizeof *names);
    u->team_call.names = names;
    u->team_call.count = u->team_call.cap = (uint32_t)nteam;
    u->delegates.names = names + nteam;
    u->delegates.count = u->delegates.cap = (uint32_t)ndel;
    u->policy_idx = u->profile_idx = -1;
    return true;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether two users decoded from records are the same (every field dir_decode sets). */
static bool same_user(const cr_user *a, const cr_user *b)
{
    if (a->enterprise_voice != b->enterprise_voice || a->pbx_integration != b->pbx_integration ||
        a->forwarding.no_answer_after != b->forwarding.no_answer_after ||
        a->team_call_delay != b->team_call_delay || a->team_call.count != b->team_call.count ||
        a->delegates.count != b->delegates.count)
        return false;
    char **fa[DIR_USER_STRINGS], **fb[DIR_USER_STRINGS];
    dir_user_strings((cr_user *)a, fa);
    dir_user_strings((cr_user *)b, fb);
    for (size_t i = 0; i < DIR_USER_STRINGS; i++)
        if (!same_str(*fa[i], *fb[i]))
            return false;
    for (uint32_t i = 0; i < a->team_call.count; i++)
        if (!same_str(a->team_call.names[i], b->team_call.names[i]))
            return false;
    for (uint32_t i = 0; i < a->delegates.count; i++)
        if (!same_str(a->delegates.names[i], b->delegates.names[i]))
            return false;
    return true;
}

/* The compact copy of a record into c, checked: decoding it gives the user decoding the
 * record gives. Its length, or 0 (not kept). */
static size_t hot_copy(const unsigned char *rec, size_t rlen, const char *number, size_t nlen,
                       const char *ext, size_t elen, unsigned char *c, size_t cap)
{
    size_t clen = hot_squeeze(rec, rlen, number, nlen, ext, elen, c, cap);
    if (!clen || clen > UINT8_MAX)
        return 0;
    cr_user a, b;
    char *na[CR_DIR_SLOT_NAMES], *nb[CR_DIR_SLOT_NAMES], **heap = NULL;
    unsigned char buf[CR_DIR_HOT_RECORD];
    bool same =
        dir_decode(rec, rlen, &a, na, CR_DIR_SLOT_NAMES, &heap) && !heap &&
        hot_decode(c, clen, number, nlen, ext, elen, buf, sizeof buf, &b, nb, CR_DIR_SLOT_NAMES) &&
        same_user(&a, &b);
    free(heap);
    return same ? clen : 0;
}

/* ---- lookups ------------------------------------------------------------------------------ */

static hot_way *hot_set_of(hot_table_t *t, const dir_hot_key *k)
{
    return &t->w[(k->hash & (HOT_WAYS / 4 - 1)) * 4];
}

const void *dir_hot_find(const cr_dir_reader *r, const dir_hot_key *k)
{
    hot_table_t *t = hot_table();
    if (!t)
        return NULL;
    hot_way *set = hot_set_of(t, k);
    for (int w = 0; w < 4; w++)
        __builtin_prefetch(&set[w]);
    hot_count.lookups++;
    uint16_t gen = hot_gen(t, r);
    for (int w = 0; w < 4; w += (set[w].h.flags & HOT_WIDE) ? 2 : 1) {
        hot_head *h = &set[w].h;
        if (h->num == k->num && h->ext == k->ext && h->gen == gen) {
            h->flags |= HOT_USED;
            hot_count.hits++;
            return &set[w];
        }
    }
    return NULL;
}

bool dir_hot_decode(const void *entry, const char *number, size_t nlen, const char *ext,
                    size_t elen, cr_dir_slot *s)
{
    hot_way *w = (hot_way *)entry;
    s->heap = NULL;
    return hot_decode(copy_of(w), w->h.clen, number, nlen, ext, elen, s->rec, sizeof s->rec,
                      &s->user, s->names, CR_DIR_SLOT_NAMES);
}

/* Whether the way at w of a set (and its pair's other way, for a wide entry) is free to take:
 * empty or not answered since the last choice. A way inside a wide entry goes with it. */
static bool way_free(const hot_way *set, int w)
{
    int head = (w & 1) && (set[w - 1].h.flags & HOT_WIDE) ? w - 1 : w;
    return !set[head].h.gen || !(set[head].h.flags & HOT_USED);
}

/* The way a new entry of `wide` takes in a set: a free one (for a wide entry, a free aligned
 * pair), else, when every candidate was answered since, one chosen by the hash after clearing
 * the set's marks. Entries it overlaps are dropped. */
static int hot_victim(hot_way *set, bool wide, uint64_t hash)
{
    int w = -1;
    for (int i = 0; i < 4 && w < 0; i += wide ? 2 : 1)
        if (way_free(set, i) && (!wide || way_free(set, i + 1)))
            w = i;
    if (w < 0) {
        for (int i = 0; i < 4; i++)
            if (!((i & 1) && (set[i - 1].h.flags & HOT_WIDE)))
                set[i].h.flags &= (uint8_t)~HOT_USED;
        w = (int)(hash >> 40) & (wide ? 2 : 3);
    }
    /* drop what the new entry overlaps: a wide entry it starts inside; a narrow one taking
     * the first way of a wide entry leaves the second empty */
    if ((w & 1) && (set[w - 1].h.flags & HOT_WIDE))
        memset(&set[w - 1].h, 0, sizeof(hot_head));
    if (!wide && !(w & 1) && (set[w].h.flags & HOT_WIDE))
        memset(&set[w + 1].h, 0, sizeof(hot_head));
    return w;
}

/* Whether a number found now was found before (and else remembers it). */
static bool hot_admit(hot_table_t *t, uint64_t h)
{
    uint16_t fp = (uint16_t)(h >> 48) | 1, *seen = &t->seen[(h >> 20) & (HOT_SEEN - 1)];
    if (*seen == fp)
        return true;
    *seen = fp;
    return false;
}

void dir_hot_keep(const cr_dir_reader *r, const dir_hot_key *k, const char *number, size_t nlen,
                  const char *ext, size_t elen, const void *rec, size_t rlen)
{
    hot_table_t *t = hot;
    if (!t || rlen > CR_DIR_HOT_RECORD || !hot_admit(t, k->hash))
        return;
    unsigned char c[HOT_BROAD];
    size_t clen = hot_copy(rec, rlen, number, nlen, ext, elen, c, sizeof c);
    if (!clen)
        return;
    bool wide = clen > HOT_NARROW;
    hot_way *set = hot_set_of(t, k);
    int w = hot_victim(set, wide, k->hash);
    memcpy(copy_of(&set[w]), c, clen);
    set[w].h = (hot_head){.num = k->num,
                          .ext = k->ext,
                          .gen = hot_gen(t, r),
                          .clen = (uint8_t)clen,
                          .flags = wide ? HOT_WIDE : 0};
}
