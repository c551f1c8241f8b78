/*
 * The directory's lookup index: one LMDB value ("index" in "meta") holding two open-address
 * hash tables (line keys, URI keys) and a heap with a copy of every user record.
 *
 * Why: a lookup through the B-trees ("lines" then "users") walks two trees whose leaves are
 * cold at a million users — about 2.5 µs here. The index answers with two cache-missing
 * reads (a slot, then the record next to its key) and stays a plain LMDB value, so readers
 * in every process get it through the same MVCC snapshot as the trees. Each import rebuilds
 * it from the trees in its own write transaction, before the commit.
 *
 * Layout (little-endian; the value need not be aligned):
 *   header: magic "CRIX", version, nnum, nuri (slot counts, powers of two), heap length
 *   num[nnum]: pairs of uint64 {number key, ext tag (16 bits) | flags | offset+1}; the key is
 *     the number packed 4 bits a character ("+14255550100" fits: up to 16 of [0-9+*#]), so
 *     a lookup compares numbers in the slot without reading the record; 0 = empty
 *   uri[nuri]: uint64 0 = empty, else tag (16 bits) | offset+1
 *   heap: entries of  u16 key length, URI key, NUL, padding to 4,  u32 record length, record
 * Version 1 (before packed numbers) is not read: a reader without an index it knows goes
 * through the B-trees, and the next import writes version 2.
 */
#include "cr_hash.h"
#include "directory_int.h"

#include <stdlib.h>
#include <string.h>

#define IX_MAGIC     0x58495243u /* "CRIX" */
#define IX_VERSION   2u
#define IX_HEADER    40
#define IX_OFF_MASK  ((1ULL << 46) - 1)
#define IX_BARE      (1ULL << 46) /* number slot: a bare number standing for a line with ext */
#define IX_VERIFY    (1ULL << 47) /* number slot: a hashed key, compare the record's number */
#define IX_TAG_SHIFT 48

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = cr_fnv(CR_FNV_OFFSET, s, n);
    return h ^ (h >> 29);
}

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

/* A number as 4 bits a character; false (and a hash in *key) when it does not fit. */
static bool pack_number(const char *s, size_t n, uint64_t *key)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i], v;
        if (c >= '0' && c <= '9')
            v = c - '0' + 1;
        else
            v = c == '+' ? 11 : c == '*' ? 12 : c == '#' ? 13 : 0;
        if (!v || i >= 16) {
            *key = hash_bytes(s, n) | 1;
            return false;
        }
        k = k << 4 | v;
    }
    *key = k;
    return n > 0;
}

/* The slot position of a number key (a multiplicative hash: packed keys are not random). */
static uint64_t num_home(uint64_t key, uint64_t n)
{
    return ((key * 0x9E3779B97F4A7C15ULL) >> 20) & (n - 1);
}

static uint64_t ext_tag(const char *ext, size_t n)
{
    return n ? (hash_bytes(ext, n) >> IX_TAG_SHIFT) | 1 : 0;
}

/* The value may sit unaligned in a leaf node (small directories): loads go through memcpy,
 * which compiles to plain loads where the CPU allows it. */
typedef struct ix_view {
    const unsigned char *num, *uri;
    uint64_t nnum, nuri, heaplen;
    const unsigned char *heap;
} ix_view;

static uint64_t ld64(const unsigned char *t, uint64_t i)
{
    uint64_t v;
    memcpy(&v, t + i * 8, 8);
    return v;
}

static bool view(const void *p, size_t len, ix_view *v)
{
    uint32_t h32[2];
    if (!p || len < IX_HEADER)
        return false;
    memcpy(h32, p, 8);
    if (h32[0] != IX_MAGIC || h32[1] != IX_VERSION)
        return false;
    v->nnum = ld64(p, 1);
    v->nuri = ld64(p, 2);
    v->heaplen = ld64(p, 3);
    if (v->nnum > len / 16 || v->nuri > len / 8 ||
        IX_HEADER + v->nnum * 16 + v->nuri * 8 + v->heaplen != len)
        return false;
    v->num = (const unsigned char *)p + IX_HEADER;
    v->uri = v->num + v->nnum * 16;
    v->heap = v->uri + v->nuri * 8;
    return true;
}

/* The heap entry at `off`: its URI key and its record. */
static bool entry(const ix_view *v, uint64_t off, const char **key, size_t *klen,
                  const unsigned char **rec, size_t *rlen)
{
    if (off + 2 > v->heaplen)
        return false;
    const unsigned char *e = v->heap + off;
    size_t kl = (size_t)e[0] | (size_t)e[1] << 8;
    size_t roff = (2 + kl + 1 + 3) & ~(size_t)3;
    if (off + roff + 4 > v->heaplen)
        return false;
    uint32_t rl;
    memcpy(&rl, e + roff, 4);
    if (off + roff + 4 + rl > v->heaplen)
        return false;
    *key = (const char *)e + 2;
    *klen = kl;
    *rec = e + roff + 4;
    *rlen = rl;
    return true;
}

/* ---- building ----------------------------------------------------------------------------- */

uint64_t dir_ix_entry_size(size_t klen, size_t rlen)
{
    return ((2 + klen + 1 + 3) & ~(uint64_t)3) + 4 + ((rlen + 3) & ~(uint64_t)3);
}

int dir_ix_begin(cr_directory *d, MDB_txn *txn, size_t users, size_t lines, uint64_t heap,
                 dir_ix_build *b)
{
    uint64_t nuri = pow2_at_least(users * 2), nnum = pow2_at_least(lines * 2);
    MDB_val key = {5, "index"}, val = {IX_HEADER + nnum * 16 + nuri * 8 + heap, NULL};
    int rc = mdb_put(txn, d->meta, &key, &val, MDB_RESERVE);
    if (rc != 0)
        return rc;
    unsigned char *base = val.mv_data;
    memset(base, 0, IX_HEADER + nnum * 16 + nuri * 8);
    uint32_t h32[2] = {IX_MAGIC, IX_VERSION};
    uint64_t h64[3] = {nnum, nuri, heap};
    memcpy(base, h32, 8);
    memcpy(base + 8, h64, 24);
    b->nnum = nnum;
    b->nuri = nuri;
    b->heaplen = heap;
    b->num = base + IX_HEADER;
    b->uri = b->num + nnum * 16;
    b->heap = b->uri + nuri * 8;
    b->off = 0;
    return CR_OK;
}

uint64_t dir_ix_user(dir_ix_build *b, const void *key, size_t klen, const void *rec, size_t rlen)
{
    uint64_t off = b->off;
    unsigned char *e = b->heap + off;
    e[0] = (unsigned char)(klen & 0xFF);
    e[1] = (unsigned char)(klen >> 8);
    memcpy(e + 2, key, klen);
    e[2 + klen] = 0;
    size_t roff = (2 + klen + 1 + 3) & ~(size_t)3;
    uint32_t rl = (uint32_t)rlen;
    memcpy(e + roff, &rl, 4);
    memcpy(e + roff + 4, rec, rlen);
    b->off += dir_ix_entry_size(klen, rlen);
    uint64_t h = hash_bytes(key, klen), i = h & (b->nuri - 1), s;
    while (memcpy(&s, b->uri + i * 8, 8), s)
        i = (i + 1) & (b->nuri - 1);
    s = (off + 1) | (h >> IX_TAG_SHIFT) << IX_TAG_SHIFT;
    memcpy(b->uri + i * 8, &s, 8);
    return off;
}

void dir_ix_line(dir_ix_build *b, const char *lk, size_t n, uint64_t off, bool bare)
{
    const char *semi = memchr(lk, ';', n);
    size_t numlen = semi ? (size_t)(semi - lk) : n;
    uint64_t key, val = off + 1;
    if (!pack_number(lk, numlen, &key))
        val |= IX_VERIFY;
    if (!key)
        return; /* no number: nothing can look it up */
    if (bare)
        val |= IX_BARE;
    if (semi && n >= numlen + 5)
        val |= ext_tag(semi + 5, n - numlen - 5) << IX_TAG_SHIFT;
    uint64_t i = num_home(key, b->nnum), s;
    while (memcpy(&s, b->num + i * 16, 8), s)
        i = (i + 1) & (b->nnum - 1);
    memcpy(b->num + i * 16, &key, 8);
    memcpy(b->num + i * 16 + 8, &val, 8);
}

/* The heap offset of the user whose URI key is `k`, through the table being built. */
static int64_t uri_offset(const dir_ix_build *b, const char *k, size_t n)
{
    ix_view v = {b->num, b->uri, b->nnum, b->nuri, b->heaplen, b->heap};
    uint64_t h = hash_bytes(k, n), tag = h >> IX_TAG_SHIFT;
    for (uint64_t i = h & (v.nuri - 1);; i = (i + 1) & (v.nuri - 1)) {
        uint64_t s = ld64(v.uri, i);
        if (!s)
            return -1;
        const char *key;
        const unsigned char *rec;
        size_t kl, rl;
        if (s >> IX_TAG_SHIFT == tag && entry(&v, (s & IX_OFF_MASK) - 1, &key, &kl, &rec, &rl) &&
            kl == n && memcmp(key, k, n) == 0)
            return (int64_t)((s & IX_OFF_MASK) - 1);
    }
}

int dir_index_build(cr_directory *d, MDB_txn *txn)
{
    MDB_stat su, sl;
    if (mdb_stat(txn, d->users, &su) != 0 || mdb_stat(txn, d->lines, &sl) != 0)
        return CR_EIO;
    MDB_cursor *c;
    MDB_val k, v;
    /* pass 1: the heap's size */
    uint64_t heap = 0;
    if (mdb_cursor_open(txn, d->users, &c) != 0)
        return CR_EIO;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        heap += dir_ix_entry_size(k.mv_size, v.mv_size);
    mdb_cursor_close(c);
    dir_ix_build b;
    if (rc != MDB_NOTFOUND || dir_ix_begin(d, txn, su.ms_entries, sl.ms_entries, heap, &b) != 0)
        return CR_EIO;
    /* pass 2: records into the heap, URI slots */
    if (mdb_cursor_open(txn, d->users, &c) != 0)
        return CR_EIO;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        dir_ix_user(&b, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return CR_EIO;
    /* pass 3: line keys to the records of their users */
    if (mdb_cursor_open(txn, d->lines, &c) != 0)
        return CR_EIO;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *lv = v.mv_data;
        if (v.mv_size < 2)
            continue;
        int64_t at = uri_offset(&b, lv + 1, v.mv_size - 1);
        if (at >= 0)
            dir_ix_line(&b, k.mv_data, k.mv_size, (uint64_t)at, lv[0] == DIR_LINE_ALIAS);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? CR_OK : CR_EIO;
}

/* ---- reading ------------------------------------------------------------------------------ */

bool dir_index_get(MDB_txn *txn, cr_directory *d, const void **p, size_t *len)
{
    MDB_val k = {5, "index"}, v;
    ix_view ix;
    if (mdb_get(txn, d->meta, &k, &v) != 0 || !view(v.mv_data, v.mv_size, &ix))
        return false;
    *p = v.mv_data;
    *len = v.mv_size;
    return true;
}

const void *dir_index_uri(const void *p, size_t len, const char *ukey, size_t n, size_t *rlen)
{
    ix_view ix;
    if (!view(p, len, &ix) || !ix.nuri)
        return NULL;
    uint64_t h = hash_bytes(ukey, n), tag = h >> IX_TAG_SHIFT;
    for (uint64_t i = h & (ix.nuri - 1);; i = (i + 1) & (ix.nuri - 1)) {
        uint64_t s = ld64(ix.uri, i);
        if (!s)
            return NULL;
        const char *key;
        const unsigned char *rec;
        size_t kl;
        if (s >> IX_TAG_SHIFT == tag && entry(&ix, (s & IX_OFF_MASK) - 1, &key, &kl, &rec, rlen) &&
            kl == n && memcmp(key, ukey, n) == 0)
            return rec;
    }
}

/* Whether the record's line is `number` (when `check_number`) with extension `ext`. */
static bool record_has(const unsigned char *rec, size_t rlen, bool check_number, const char *number,
                       size_t nlen, const char *ext, size_t elen)
{
    const char *s;
    size_t n;
    if (check_number && (!dir_record_str(rec, rlen, DIR_STR_LINE_NUMBER, &s, &n) || !s ||
                         n != nlen || memcmp(s, number, n) != 0))
        return false;
    if (!elen)
        return true;
    return dir_record_str(rec, rlen, DIR_STR_LINE_EXT, &s, &n) && s && n == elen &&
           memcmp(s, ext, n) == 0;
}

const void *dir_index_line(const void *p, size_t len, const char *number, size_t nlen,
                           const char *ext, size_t elen, size_t *rlen)
{
    ix_view ix;
    if (!view(p, len, &ix) || !ix.nnum || !nlen)
        return NULL;
    uint64_t key, want = ext_tag(ext, elen);
    bool packed = pack_number(number, nlen, &key);
    for (uint64_t i = num_home(key, ix.nnum);; i = (i + 1) & (ix.nnum - 1)) {
        uint64_t k = ld64(ix.num, 2 * i), s = ld64(ix.num, 2 * i + 1);
        if (!k)
            return NULL;
        bool verify = (s & IX_VERIFY) != 0;
        if (k != key || s >> IX_TAG_SHIFT != want || (elen && (s & IX_BARE)) ||
            (!packed && !verify))
            continue;
        const char *ukey;
        const unsigned char *rec;
        size_t kl;
        if (entry(&ix, (s & IX_OFF_MASK) - 1, &ukey, &kl, &rec, rlen) &&
            (!(verify || elen) || record_has(rec, *rlen, verify, number, nlen, ext, elen)))
            return rec;
    }
}
