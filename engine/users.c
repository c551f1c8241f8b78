/* Users in the model: found by SIP URI (canonical keys) and by line number, the probes the
 * hot path splits those lookups into, and the domains a SIP URI may name. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t cr_config_user_count(const cr_config *c)
{
    return c->nusers;
}
const cr_user *cr_config_user_at(const cr_config *c, size_t i)
{
    return i < c->nusers ? ce_user(c, i) : NULL;
}

bool cr_user_identity_only(const cr_user *u)
{
    return !u->line && !u->simultaneous_ring && !u->forwarding.immediate &&
           !u->forwarding.no_answer_after && !u->forwarding.no_answer_target &&
           !u->team_call.count && !u->delegates.count && !u->voicemail && !u->pbx_integration;
}

const cr_user *cr_config_user_find(const cr_config *c, const char *uri)
{
    if (!uri)
        return NULL;
    char key[CR_URI_MAX];
    uint64_t h;
    size_t n = ce_uri_key_hash(uri, key, sizeof key, &h);
    if (!n)
        return NULL;
    uint32_t i = ce_user_table_get(c, key, n, h);
    return i == CR_INDEX_NONE ? NULL : ce_user(c, i & CR_USER_IX_MASK);
}

/* ---- the caller table -------------------------------------------------------------------- */

_Static_assert(sizeof(cr_user_cell) == 16, "four cells a cache line");
_Static_assert(sizeof(cr_key_cell) == 32, "two keys a cache line");

int ce_user_table_init(cr_user_table *t, size_t n)
{
    size_t kcap = 0;
    t->borrowed = false;
    t->cells = ce_index_table_new(n, sizeof *t->cells, &t->cap);
    t->keys = t->cells ? ce_index_table_new(n, sizeof *t->keys, &kcap) : NULL;
    if (t->keys && kcap == t->cap)
        return CR_OK;
    ce_user_table_free(t);
    return CR_ENOMEM;
}

void ce_user_table_free(cr_user_table *t)
{
    ce_index_table_free(t->cells, t->cap, sizeof *t->cells, t->borrowed);
    ce_index_table_free(t->keys, t->cap, sizeof *t->keys, t->borrowed);
    memset(t, 0, sizeof *t);
}

/* ce_uri_key_eq for a user whose key is not in a cell: compared with its uri. */
__attribute__((noinline)) bool ce_uri_key_eq_user(const cr_config *c, uint32_t v, const char *key,
                                                  size_t n)
{
    const cr_user *u = ce_user(c, v & CR_USER_IX_MASK);
    if (!(v & CR_USER_IX_FLAG))
        return strncmp(u->uri, key, n) == 0 && u->uri[n] == 0;
    char k[CR_URI_MAX];
    size_t kn = cr_uri_key(u->uri, k, sizeof k);
    return kn == n && memcmp(k, key, n) == 0;
}

uint32_t ce_user_table_put(cr_config *c, const char *key, size_t n, uint32_t val)
{
    cr_user_table *t = &c->user_uri_tab;
    uint64_t h = ce_uri_hash(key, n);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        cr_user_cell *s = &t->cells[i];
        if (!s->val) {
            *s = (cr_user_cell){.tag = tag, .val = val + 1};
            t->keys[i] = c->user_keys[val & CR_USER_IX_MASK].uri;
            return CR_INDEX_NONE;
        }
        if (s->tag == tag && ce_uri_slot_eq(c, i, key, n))
            return s->val - 1;
    }
}

void ce_user_cell_hot(const cr_config *c, const cr_user *u, cr_user_cell *cell)
{
    cell->policy = cell->profile = CR_CELL_NONE;
    cell->hot = 0;
    memset(cell->pad, 0, sizeof cell->pad);
    if (c->npolicies >= CR_CELL_NONE || c->nprofiles >= CR_CELL_NONE)
        return; /* an index may not fit: the decision reads the user */
    if (u->policy_idx >= 0)
        cell->policy = (uint16_t)u->policy_idx;
    if (u->profile_idx >= 0)
        cell->profile = (uint16_t)u->profile_idx;
    cell->hot = CR_CELL_HOT | (u->enterprise_voice ? CR_CELL_EV : 0);
}

void ce_user_table_set_hot(cr_config *c)
{
    cr_user_table *t = &c->user_uri_tab;
    for (size_t i = 0; t->cells && i < t->cap; i++)
        if (t->cells[i].val)
            ce_user_cell_hot(c, &c->users[(t->cells[i].val - 1) & CR_USER_IX_MASK], &t->cells[i]);
}

uint32_t ce_user_table_get(const cr_config *c, const char *key, size_t n, uint64_t h)
{
    const cr_user_table *t = &c->user_uri_tab;
    if (!t->cap)
        return CR_INDEX_NONE;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const cr_user_cell *s = &t->cells[i];
        if (!s->val)
            return CR_INDEX_NONE;
        if (s->tag == tag && ce_uri_slot_eq(c, i, key, n))
            return s->val - 1;
    }
}

static size_t uri_key_in_place(const char *uri, size_t room, uint64_t *h);

void ce_user_probe_start(const cr_config *c, const char *uri, cr_user_probe *p)
{
    p->uri = uri;
    p->k = p->key;
    p->cell = NULL;
    p->peeked = false;
    p->n = 0;
    if (!uri)
        return;
    /* a URI that is its own key (nearly every caller): read in place, not copied */
    p->n = uri_key_in_place(uri, sizeof p->key, &p->h);
    if (p->n)
        p->k = uri;
    else
        p->n = ce_uri_key_hash(uri, p->key, sizeof p->key, &p->h);
    if (!p->n)
        return;
    const cr_user_table *t = &c->user_uri_tab;
    if (!t->cap)
        return;
    size_t i = p->h & (t->cap - 1);
    __builtin_prefetch(&t->cells[i]);
    __builtin_prefetch(&t->keys[i]); /* with the cell, not once the cell is read */
}

void ce_user_probe_peek(const cr_config *c, cr_user_probe *p)
{
    ce_user_probe_peek_in_line(c, p);
}

bool ce_user_probe_confirm(const cr_config *c, const cr_user_probe *p)
{
    return ce_user_probe_confirm_in_line(c, p);
}

const cr_user *ce_user_probe_finish(const cr_config *c, const cr_runtime *rt,
                                    const cr_user_probe *p)
{
    const cr_user *u = NULL;
    if (p->n) {
        uint32_t i = ce_user_table_get(c, p->k, p->n, p->h);
        u = i == CR_INDEX_NONE ? NULL : ce_user(c, i & CR_USER_IX_MASK);
    }
    if (!u && p->uri && rt && rt->users && rt->users->find)
        u = rt->users->find(rt->users->ud, p->uri);
    return u;
}

void ce_key_cell_set(cr_key_cell *cell, const char *key, size_t n, unsigned flags)
{
    cell->flags = (uint8_t)flags;
    if (n > sizeof cell->s) {
        cell->len = CR_KEY_LONG;
        return;
    }
    cell->len = (uint8_t)n;
    memcpy(cell->s, key, n);
}

/* ---- the line table ---------------------------------------------------------------------- */

static inline uint64_t line_pack(const char *s, size_t n);

_Static_assert(sizeof(cr_line_slot) == 16, "four slots a cache line");

int ce_line_table_init(cr_line_table *t, size_t n, cr_index_eq eq, const void *ud)
{
    t->borrowed = false;
    t->slots = ce_index_table_new(n, sizeof *t->slots, &t->cap);
    if (!t->slots)
        return CR_ENOMEM;
    t->eq = eq;
    t->ud = ud;
    return CR_OK;
}

void ce_line_table_free(cr_line_table *t)
{
    ce_index_table_free(t->slots, t->cap, sizeof *t->slots, t->borrowed);
    memset(t, 0, sizeof *t);
}

/* The line table's compare: a line's key cell compared in place. */
static inline __attribute__((always_inline)) bool line_cell_eq(const cr_config *c, uint32_t v,
                                                               const char *key, size_t n)
{
    const cr_key_cell *cell = c->user_keys ? &c->user_keys[v & CR_USER_IX_MASK].line : NULL;
    if (cell && cell->len != CR_KEY_LONG && ((v & CR_USER_IX_FLAG) || !(cell->flags & CR_KEY_EXT)))
        return cell->len == n && ce_key_bytes_eq(cell->s, key, n);
    return c->user_line_ix.eq(c->user_line_ix.ud, v, key, n);
}

/* Where the probe of line table t for key[0..n) (its tag `tag`, packed `num`: ce_line_pack) from
 * slot i stops: at the first empty slot, or the first slot of the tag holding the key. With
 * `by_eq` (the build's put) a slot's key is compared by t->eq; otherwise a slot holding its key
 * packed is decided by it (equal packs, equal keys), any other by the key cell (line_cell_eq, c's
 * line table): the answer of user_line_eq (compile.c) for every slot. */
static inline __attribute__((always_inline)) size_t
line_probe_slot(const cr_config *c, const cr_line_table *t, size_t i, uint32_t tag, uint64_t num,
                const char *key, size_t n, bool by_eq)
{
    for (;; i = (i + 1) & (t->cap - 1)) {
        const cr_line_slot *s = &t->slots[i];
        if (!s->val)
            return i;
        if (s->hash == tag && (by_eq    ? t->eq(t->ud, s->val - 1, key, n)
                               : s->num ? s->num == num
                                        : line_cell_eq(c, s->val - 1, key, n)))
            return i;
    }
}

/* The value of key[0..n) (its tag `tag`, packed `num`: ce_line_pack) in the line table, the probe
 * going on from slot i; CR_INDEX_NONE when none. */
static inline __attribute__((always_inline)) uint32_t
line_probe_at(const cr_config *c, size_t i, uint32_t tag, uint64_t num, const char *key, size_t n)
{
    const cr_line_table *t = &c->user_line_ix;
    uint32_t val = t->slots[line_probe_slot(c, t, i, tag, num, key, n, false)].val;
    return val ? val - 1 : CR_INDEX_NONE;
}

uint32_t ce_line_table_put(cr_line_table *t, const char *key, size_t n, uint32_t val)
{
    uint64_t h = ce_hash(key, n, false), num = line_pack(key, n);
    uint32_t tag = (uint32_t)(h >> 32);
    cr_line_slot *s = &t->slots[line_probe_slot(NULL, t, h & (t->cap - 1), tag, num, key, n, true)];
    if (s->val)
        return s->val - 1;
    *s = (cr_line_slot){.hash = tag, .val = val + 1, .num = num};
    return CR_INDEX_NONE;
}

/* The value of key[0..n) (hash h) in the line table, CR_INDEX_NONE when none. */
static uint32_t line_get(const cr_config *c, const char *key, size_t n, uint64_t h)
{
    const cr_line_table *t = &c->user_line_ix;
    if (!t->cap)
        return CR_INDEX_NONE;
    return line_probe_at(c, h & (t->cap - 1), (uint32_t)(h >> 32), line_pack(key, n), key, n);
}

const cr_user *cr_config_user_by_number(const cr_config *c, const char *number, const char *ext)
{
    char key[CR_NUMBER_MAX + 40];
    uint32_t i = CR_INDEX_NONE;
    size_t nl = strlen(number);
    if (ext && *ext) {
        size_t el = strlen(ext);
        if (nl + 5 + el < sizeof key) {
            memcpy(key, number, nl);
            memcpy(key + nl, ";ext=", 5);
            memcpy(key + nl + 5, ext, el);
            i = line_get(c, key, nl + 5 + el, ce_hash(key, nl + 5 + el, false));
        }
    }
    if (i == CR_INDEX_NONE)
        i = line_get(c, number, nl, ce_hash(number, nl, false));
    return i == CR_INDEX_NONE ? NULL : ce_user(c, i & CR_USER_IX_MASK);
}

const cr_user *ce_line_probe_finish_at(const cr_config *c, const cr_line_probe *p, size_t i)
{
    uint32_t v =
        line_probe_at(c, i, (uint32_t)(p->h >> 32), ce_line_pack(p->number, p->n), p->number, p->n);
    return v == CR_INDEX_NONE ? NULL : ce_user(c, v & CR_USER_IX_MASK);
}

const cr_user *ce_line_probe_finish_slow(const cr_config *c, const cr_runtime *rt,
                                         const cr_line_probe *p)
{
    const cr_user *u;
    if (p->ext && *p->ext) {
        u = cr_config_user_by_number(c, p->number, p->ext);
    } else {
        uint32_t i = line_get(c, p->number, p->n, p->h);
        u = i == CR_INDEX_NONE ? NULL : ce_user(c, i & CR_USER_IX_MASK);
    }
    if (!u && rt && rt->users && rt->users->by_number)
        u = rt->users->by_number(rt->users->ud, p->number, p->ext);
    return u;
}

bool cr_config_domain_supported(const cr_config *c, const char *domain)
{
    if (!domain)
        return false;
    for (size_t i = 0; i < c->ndomains; i++)
        if (strcasecmp(c->domains[i], domain) == 0)
            return true;
    return false;
}

/*
 * The comparable form of a SIP URI for user lookups: scheme "sip:" (sips folded to sip),
 * user part as is, host lower-cased, no port, parameters or headers; angle brackets and a
 * display name are dropped. Returns the key length, 0 when `uri` is not a sip URI.
 */
/* Characters cr_uri_key stops or changes at. */
enum { U_USER_END = 1, U_AT = 2, U_HOST_END = 4, U_UPPER = 8 };
static const uint8_t uri_class[256] = {
    [0] = U_USER_END | U_HOST_END,
    ['>'] = U_USER_END | U_HOST_END,
    [';'] = U_USER_END | U_HOST_END,
    ['?'] = U_USER_END | U_HOST_END,
    [':'] = U_HOST_END,
    ['@'] = U_AT,
    ['A' ... 'Z'] = U_UPPER,
};

/* cr_uri_key of any URI, a byte at a time. */
static size_t uri_key_bytes(const char *uri, char *out, size_t len)
{
    const char *lt = strchr(uri, '<');
    if (lt)
        uri = lt + 1;
    while (*uri == ' ')
        uri++;
    const char *p;
    /* "sip:" or "sips:", any case ('|' 0x20 lower-cases these letters and nothing else to them) */
    if ((uri[0] | 0x20) != 's' || (uri[1] | 0x20) != 'i' || (uri[2] | 0x20) != 'p')
        return 0;
    if (uri[3] == ':')
        p = uri + 4;
    else if ((uri[3] | 0x20) == 's' && uri[4] == ':')
        p = uri + 5;
    else
        return 0;
    if (len < 8)
        return 0;
    const char *q = p;
    while (!(uri_class[(unsigned char)*q] & (U_USER_END | U_AT)))
        q++;
    size_t ul = *q == '@' ? (size_t)(q - p) + 1 : 0; /* the user part as is, with its '@' */
    const char *h = p + ul, *e = h;
    unsigned seen = 0; /* the host without port, parameters or headers: scanned, then copied */
    for (unsigned k; !((k = uri_class[(unsigned char)*e]) & U_HOST_END); e++)
        seen |= k;
    size_t hl = (size_t)(e - h), o = 4 + ul + hl;
    if (o >= len || (ul && 4 + ul >= len)) /* as the byte-wise copy refused it */
        return 0;
    memcpy(out, "sip:", 4);
    memcpy(out + 4, p, ul);
    memcpy(out + 4 + ul, h, hl);
    if (seen & U_UPPER) /* the host lower-cased (rare: hosts are written in lower case) */
        for (char *c = out + 4 + ul; c < out + o; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    out[o] = 0;
    return o;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* The top bit of each byte of w that lies in [lo, hi] (ASCII, 0 < lo <= hi < 0x80): no byte's
 * sum carries into the next one, and a byte of 0x80 or more is in no range. */
static inline uint64_t bytes_in(uint64_t w, unsigned lo, unsigned hi)
{
    uint64_t x = w & ~HIGHS;
    return (x + (0x80 - lo) * ONES) & ~(x + (0x7F - hi) * ONES) & ~w & HIGHS;
}

/* What uri_key_words has seen of the bytes it stops at: an '@', an upper-case letter before it. */
typedef struct uri_seen {
    bool at, upper;
} uri_seen;

/* Whether the bytes of w flagged in f (those in [':', 'Z']) keep the URI its own key: an '@'
 * (one at most), or an upper-case letter of the user part (before the '@'). */
static bool uri_flagged_ok(uint64_t w, uint64_t f, uri_seen *s)
{
    do {
        unsigned ch = (unsigned)(w >> (__builtin_ctzll(f) - 7)) & 0xFF;
        if (s->at || ch < '@')
            return false; /* after the '@' (a second one, the host's upper case) or a separator */
        s->at = ch == '@';
        s->upper |= ch != '@';
        f &= f - 1;
    } while (f);
    return true;
}

/*
 * cr_uri_key of a URI that is its own key, eight bytes a step, copied and hashed (ce_hash's
 * words, the same value) as it is read: "sip:" in lower case, one '@' at most, none of
 * ":;<=>?" after the scheme (a port, parameters, headers, an angle bracket; '=' only because
 * it shares their range) and no upper-case letter after the '@' (or at all, without one).
 * n = strlen(uri), 8 <= n < the room at out. Returns n, or 0 when the URI is not such a URI
 * (cr_uri_key then takes it a byte at a time; out may have been written).
 */
static inline __attribute__((always_inline)) size_t uri_key_words(const char *uri, size_t n,
                                                                  char *out, uint64_t *hash)
{
    uint64_t h = ce_hash_start(n), w, f;
    uri_seen seen = {false, false};
    memcpy(&w, uri, 8);
    if (out) /* NULL: the key is not copied (the caller reads it at uri) */
        memcpy(out, &w, 8);
    f = bytes_in(w, ':', 'Z') & ~(0x80ull << 24); /* not the scheme's ':' */
    if (f && !uri_flagged_ok(w, f, &seen))
        return 0;
    h = ce_hash_step(h, w);
    size_t i = 8;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, uri + i, 8);
        if (out)
            memcpy(out + i, &w, 8);
        f = bytes_in(w, ':', 'Z');
        if (f && !uri_flagged_ok(w, f, &seen))
            return 0;
        h = ce_hash_step(h, w);
    }
    if (i < n) { /* the last 8 bytes: the ones not read yet are the top n - i */
        unsigned sh = 8 * (unsigned)(8 - (n - i));
        memcpy(&w, uri + n - 8, 8);
        if (out)
            memcpy(out + n - 8, &w, 8);
        f = bytes_in(w, ':', 'Z') & (~0ull << sh);
        if (f && !uri_flagged_ok(w, f, &seen))
            return 0;
        h = ce_hash_step(h, w >> sh);
    }
    if (seen.upper && !seen.at) /* no user part: those letters were the host's */
        return 0;
    if (out)
        out[n] = 0;
    *hash = ce_hash_end(h);
    return n;
}
#endif

#ifdef HIGHS
/* The top bit of each byte of w that is a digit or '+' ('+': a byte of w ^ '+'... that is 0). */
static inline uint64_t line_chars(uint64_t w)
{
    uint64_t p = w ^ ('+' * ONES);
    return bytes_in(w, '0', '9') | (~(((p & ~HIGHS) + ~HIGHS) | p) & HIGHS);
}
#endif

/* ce_line_pack: character i < 8 in the low four bits of byte i, character 8 + i in its high four
 * bits; read eight characters a step from 8 on (the last eight where they end). */
static inline uint64_t line_pack(const char *s, size_t n)
{
    if (n - 1 >= 16) /* 0, or more than 16 */
        return 0;
#ifdef HIGHS
    if (n >= 8) {
        uint64_t w0, w1 = 0, m1 = 0; /* m1: the bytes of w1 that are characters 8.. */
        memcpy(&w0, s, 8);
        if (n > 8) {
            unsigned sh = 8 * (unsigned)(16 - n);
            memcpy(&w1, s + n - 8, 8);
            w1 >>= sh;
            m1 = ~0ull >> sh;
        }
        if ((~line_chars(w0) | (~line_chars(w1) & m1)) & HIGHS)
            return 0;
        uint64_t lo = (w0 & 0x0F0F0F0F0F0F0F0Full) + ONES;
        uint64_t hi = ((w1 & 0x0F0F0F0F0F0F0F0Full) + ONES) & m1;
        return lo | hi << 4;
    }
#endif
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned ch = (unsigned char)s[i];
        if (ch - '0' > 9 && ch != '+')
            return 0;
        v |= (uint64_t)((ch & 15) + 1) << (i < 8 ? 8 * i : 8 * (i - 8) + 4);
    }
    return v;
}

uint64_t ce_line_pack(const char *s, size_t n)
{
    return line_pack(s, n);
}

/* The length of `uri` (its hash in *h) when it is its own URI key, under `room` characters and
 * read by words (uri_key_words); 0 otherwise (cr_uri_key then tells its key). */
static size_t uri_key_in_place(const char *uri, size_t room, uint64_t *h)
{
#ifdef HIGHS
    size_t n = strlen(uri);
    if (n >= 8 && n < room && memcmp(uri, "sip:", 4) == 0 && uri_key_words(uri, n, NULL, h))
        return n;
#else
    (void)uri, (void)room, (void)h;
#endif
    return 0;
}

/* cr_uri_key, and the key's ce_uri_hash in *h. */
size_t ce_uri_key_hash(const char *uri, char *out, size_t len, uint64_t *h)
{
#ifdef HIGHS
    size_t n = strlen(uri);
    if (n >= 8 && n < len && memcmp(uri, "sip:", 4) == 0 && uri_key_words(uri, n, out, h))
        return n;
#endif
    size_t kn = uri_key_bytes(uri, out, len);
    *h = kn ? ce_uri_hash(out, kn) : 0;
    return kn;
}

size_t cr_uri_key(const char *uri, char *out, size_t len)
{
#ifdef HIGHS
    size_t n = strlen(uri);
    uint64_t h;
    if (n >= 8 && n < len && memcmp(uri, "sip:", 4) == 0 && uri_key_words(uri, n, out, &h))
        return n;
#endif
    return uri_key_bytes(uri, out, len);
}
