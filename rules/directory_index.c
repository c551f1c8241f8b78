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
 *   uint64 num[nnum], uint64 uri[nuri]: 0 = empty, else tag (16 bits) | flags | offset+1
 *   heap: entries of  u16 key length, URI key, NUL, padding to 4,  u32 record length, record
 */
#include "directory_int.h"

#include <stdlib.h>
#include <string.h>

#define IX_MAGIC     0x58495243u /* "CRIX" */
#define IX_VERSION   1u
#define IX_HEADER    40
#define IX_OFF_MASK  ((1ULL << 46) - 1)
#define IX_BARE      (1ULL << 46) /* number slot: a bare number standing for a line with ext */
#define IX_TAG_SHIFT 48

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
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
    if (v->nnum > len / 8 || v->nuri > len / 8 ||
        IX_HEADER + (v->nnum + v->nuri) * 8 + v->heaplen != len)
        return false;
    v->num = (const unsigned char *)p + IX_HEADER;
    v->uri = v->num + v->nnum * 8;
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

static void slot_put(unsigned char *t, uint64_t n, uint64_t h, uint64_t val)
{
    uint64_t i = h & (n - 1);
    while (ld64(t, i))
        i = (i + 1) & (n - 1);
    val |= (h >> IX_TAG_SHIFT) << IX_TAG_SHIFT;
    memcpy(t + i * 8, &val, 8);
}

/* The heap offset of the user whose URI key is `k`, through the table being built. */
static int64_t uri_offset(const ix_view *v, const char *k, size_t n)
{
    uint64_t h = hash_bytes(k, n), tag = h >> IX_TAG_SHIFT;
    for (uint64_t i = h & (v->nuri - 1);; i = (i + 1) & (v->nuri - 1)) {
        uint64_t s = ld64(v->uri, i);
        if (!s)
            return -1;
        const char *key;
        const unsigned char *rec;
        size_t kl, rl;
        if (s >> IX_TAG_SHIFT == tag && entry(v, (s & IX_OFF_MASK) - 1, &key, &kl, &rec, &rl) &&
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
        heap += ((2 + k.mv_size + 1 + 3) & ~3ULL) + 4 + ((v.mv_size + 3) & ~3ULL);
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return CR_EIO;
    uint64_t nuri = pow2_at_least(su.ms_entries * 2), nnum = pow2_at_least(sl.ms_entries * 2);
    MDB_val key = {5, "index"}, val = {IX_HEADER + (nnum + nuri) * 8 + heap, NULL};
    if (mdb_put(txn, d->meta, &key, &val, MDB_RESERVE) != 0)
        return CR_EIO;
    unsigned char *base = val.mv_data;
    memset(base, 0, IX_HEADER + (nnum + nuri) * 8);
    uint32_t h32[2] = {IX_MAGIC, IX_VERSION};
    uint64_t h64[3] = {nnum, nuri, heap};
    memcpy(base, h32, 8);
    memcpy(base + 8, h64, 24);
    ix_view ix;
    if (!view(base, val.mv_size, &ix))
        return CR_EIO;
    unsigned char *num = (unsigned char *)ix.num, *uri = (unsigned char *)ix.uri;
    unsigned char *hp = (unsigned char *)ix.heap;
    /* pass 2: records into the heap, URI slots */
    uint64_t off = 0;
    if (mdb_cursor_open(txn, d->users, &c) != 0)
        return CR_EIO;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        unsigned char *e = hp + off;
        e[0] = (unsigned char)(k.mv_size & 0xFF);
        e[1] = (unsigned char)(k.mv_size >> 8);
        memcpy(e + 2, k.mv_data, k.mv_size);
        e[2 + k.mv_size] = 0;
        size_t roff = (2 + k.mv_size + 1 + 3) & ~(size_t)3;
        uint32_t rl = (uint32_t)v.mv_size;
        memcpy(e + roff, &rl, 4);
        memcpy(e + roff + 4, v.mv_data, v.mv_size);
        slot_put(uri, nuri, hash_bytes(k.mv_data, k.mv_size), off + 1);
        off += roff + 4 + ((v.mv_size + 3) & ~(size_t)3);
    }
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
        int64_t at = uri_offset(&ix, lv + 1, v.mv_size - 1);
        if (at < 0)
            continue;
        uint64_t flags = lv[0] == DIR_LINE_ALIAS ? IX_BARE : 0;
        slot_put(num, nnum, hash_bytes(k.mv_data, k.mv_size), ((uint64_t)at + 1) | flags);
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

/* The record behind line key `lk` ("+1425...;ext=E" or a bare number). */
const void *dir_index_line(const void *p, size_t len, const char *lk, size_t n, size_t *rlen)
{
    ix_view ix;
    if (!view(p, len, &ix) || !ix.nnum)
        return NULL;
    uint64_t h = hash_bytes(lk, n), tag = h >> IX_TAG_SHIFT;
    const char *semi = memchr(lk, ';', n);
    size_t numlen = semi ? (size_t)(semi - lk) : n;
    for (uint64_t i = h & (ix.nnum - 1);; i = (i + 1) & (ix.nnum - 1)) {
        uint64_t s = ld64(ix.num, i);
        if (!s)
            return NULL;
        const char *key;
        const unsigned char *rec;
        size_t kl;
        if (s >> IX_TAG_SHIFT != tag ||
            !entry(&ix, (s & IX_OFF_MASK & ~IX_BARE) - 1, &key, &kl, &rec, rlen))
            continue;
        /* the tag matched: check the line of the record itself */
        cr_user u;
        char *names[CR_DIR_SLOT_NAMES], **heap;
        if (!dir_decode(rec, *rlen, &u, names, CR_DIR_SLOT_NAMES, &heap))
            continue;
        free(heap);
        bool ok = u.line_number && strlen(u.line_number) == numlen &&
                  memcmp(u.line_number, lk, numlen) == 0;
        if (ok && (s & IX_BARE))
            ok = !semi;
        else if (ok && semi)
            ok = u.line_ext && strlen(u.line_ext) == n - numlen - 5 &&
                 memcmp(u.line_ext, semi + 5, n - numlen - 5) == 0;
        else if (ok)
            ok = !u.line_ext;
        if (ok)
            return rec;
    }
}
