/*
 * Plan images (plan_image.h): building one from a compiled configuration and reading it back.
 *
 * Layout: the header (fixed size, with a table of sections), then each section on a 64-byte
 * boundary. Records are arrays of uint32_t; strings are offsets into one pool of NUL-terminated
 * strings (each distinct string stored once), NONE for "not set"; source locations are an index
 * into the table of file names and a line. The reader checks every offset and index before use: a
 * damaged image is refused, never followed.
 */
#include "plan_image_int.h"
#include "cr_hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t ce_image_arch(void)
{
    /* byte 0: pointer size; byte 1: 1 little / 2 big endian; byte 2: ABI (1 = SysV LP64,
     * 2 = ILP32, 3 = other); byte 3: sizeof(long) */
    uint32_t endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 1 : 2;
    uint32_t abi = sizeof(void *) == 8 && sizeof(long) == 8 ? 1 : sizeof(void *) == 4 ? 2 : 3;
    return (uint32_t)sizeof(void *) | endian << 8 | abi << 16 | (uint32_t)sizeof(long) << 24;
}

bool cr_image_has_magic(const void *buf, size_t n)
{
    return buf && n >= CR_PLAN_MAGIC_LEN && memcmp(buf, CR_PLAN_MAGIC, CR_PLAN_MAGIC_LEN) == 0;
}

/* ---- building ------------------------------------------------------------------------------ */

void ce_pi_put(builder *b, int s, uint32_t v)
{
    u32vec *x = &b->sec[s];
    if (b->oom || (x->n == x->cap && !CR_GROW(x->v, x->n, x->cap))) {
        b->oom = true;
        return;
    }
    x->v[x->n++] = v;
}

void ce_pi_put_raw(builder *b, int s, const void *p, size_t n)
{
    size_t bytes = n * sec_esize[s], words = (bytes + 3) / 4;
    u32vec *x = &b->sec[s];
    if (b->oom)
        return;
    if (x->n + words > x->cap) {
        size_t cap = x->cap ? x->cap : 16;
        while (cap < x->n + words)
            cap *= 2;
        uint32_t *v = realloc(x->v, cap * sizeof *v);
        if (!v) {
            b->oom = true;
            return;
        }
        x->v = v;
        x->cap = cap;
    }
    if (words)
        x->v[x->n + words - 1] = 0; /* the padding of a last partial word */
    if (bytes)
        memcpy(x->v + x->n, p, bytes);
    x->n += words;
    b->nraw[s] += n;
}

static bool bytes_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    char *p = realloc(*buf, c);
    if (!p)
        return false;
    *buf = p;
    *cap = c;
    return true;
}

static bool set_grow(builder *b)
{
    size_t cap = b->setcap ? b->setcap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (size_t i = 0; i < b->setcap; i++) {
        uint32_t o = b->set[i];
        if (!o)
            continue;
        const char *k = b->pool + o - 1;
        size_t j = ce_hash(k, strlen(k), false) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = o;
    }
    free(b->set);
    b->set = t;
    b->setcap = cap;
    return true;
}

/* The pool offset of s (stored once), NONE for NULL. */
uint32_t ce_pi_str(builder *b, const char *s)
{
    if (!s || b->oom)
        return NONE;
    size_t n = strlen(s);
    if ((b->setn + 1) * 2 > b->setcap && !set_grow(b)) {
        b->oom = true;
        return NONE;
    }
    size_t j = ce_hash(s, n, false) & (b->setcap - 1);
    for (; b->set[j]; j = (j + 1) & (b->setcap - 1))
        if (strcmp(b->pool + b->set[j] - 1, s) == 0)
            return b->set[j] - 1;
    if (b->npool + n + 1 >= CR_PLAN_MAX || !bytes_grow(&b->pool, &b->cappool, b->npool + n + 1)) {
        b->oom = true;
        return NONE;
    }
    uint32_t off = (uint32_t)b->npool;
    memcpy(b->pool + off, s, n + 1);
    b->npool += n + 1;
    b->set[j] = off + 1;
    b->setn++;
    return off;
}

/* The file index of an interned file name (the config's own table), NONE for none. */
static uint32_t file_ix(builder *b, const char *file)
{
    if (!file)
        return NONE;
    if (file == b->last_file)
        return b->last_file_ix;
    for (size_t i = 0; i < b->cfg->ninterned; i++)
        if (b->cfg->interned[i] == file || strcmp(b->cfg->interned[i], file) == 0) {
            b->last_file = file;
            b->last_file_ix = (uint32_t)i;
            return (uint32_t)i;
        }
    return NONE;
}

static void put_loc(builder *b, int s, cr_srcloc loc)
{
    ce_pi_put(b, s, file_ix(b, loc.file));
    ce_pi_put(b, s, (uint32_t)loc.line);
}

static uint64_t mix(uint64_t h, uint32_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

/* names[i]: the pool offset of l's name i (interned once by put_list). */
static uint64_t list_hash(const cr_namelist *l, const uint32_t *names, int kind)
{
    uint64_t h = CR_FNV_OFFSET ^ (uint64_t)kind;
    for (uint32_t i = 0; i < l->count; i++)
        h = mix(mix(h, names[i]), l->idx ? l->idx[i] : NONE);
    return h ^ l->count;
}

/* The same hash of list record id, from what was written. */
static uint64_t stored_hash(const builder *b, uint32_t id)
{
    const uint32_t *x = b->sec[S_LISTS].v + id * sec_fields[S_LISTS];
    uint64_t h = CR_FNV_OFFSET ^ (uint64_t)x[LI_KIND];
    for (uint32_t i = 0; i < x[LI_COUNT]; i++)
        h = mix(mix(h, b->sec[S_NAMES].v[x[LI_FIRST] + i]), b->sec[S_NAMEIX].v[x[LI_FIRST] + i]);
    return h ^ x[LI_COUNT];
}

/* True when list record id holds l's names and indexes. */
static bool list_is(const builder *b, uint32_t id, const cr_namelist *l, const uint32_t *names,
                    int kind)
{
    const uint32_t *x = b->sec[S_LISTS].v + id * sec_fields[S_LISTS];
    if (x[LI_COUNT] != l->count || x[LI_KIND] != (uint32_t)kind)
        return false;
    for (uint32_t i = 0; i < l->count; i++)
        if (b->sec[S_NAMES].v[x[LI_FIRST] + i] != names[i] ||
            b->sec[S_NAMEIX].v[x[LI_FIRST] + i] != (l->idx ? l->idx[i] : NONE))
            return false;
    return true;
}

static bool lists_grow(builder *b)
{
    size_t cap = b->listcap ? b->listcap * 2 : 256;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (uint32_t id = 0; id < b->nlists; id++) {
        size_t j = stored_hash(b, id) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = id + 1;
    }
    free(b->lists);
    b->lists = t;
    b->listcap = cap;
    return true;
}

/* What put_list learned of the lists already written, by address: list names are interned in
 * the config, so while the image is built a name's address stands for its text, and a list
 * whose names and indexes are those of the last list of its kind is the same list. The image
 * is the same with or without it; 400,000 routes hash their gateway names once, not each. */
#define STR_MEMO 1024
typedef struct list_memo {
    const char *key[STR_MEMO];
    uint32_t off[STR_MEMO];
    const cr_namelist *last[LK_COUNT];
    uint32_t last_first[LK_COUNT];
} list_memo;

static uint32_t memo_str(builder *b, list_memo *m, const char *s)
{
    size_t slot = (size_t)(((uintptr_t)s * 0x9E3779B97F4A7C15u) >> 54) % STR_MEMO;
    if (m && s && m->key[slot] == s)
        return m->off[slot];
    uint32_t off = ce_pi_str(b, s);
    if (m && off != NONE) {
        m->key[slot] = s;
        m->off[slot] = off;
    }
    return off;
}

/* Whether `l` has the names (by address) and indexes of `last`. */
static bool same_list(const cr_namelist *l, const cr_namelist *last)
{
    return last && last->count == l->count &&
           memcmp(last->names, l->names, l->count * sizeof *l->names) == 0 &&
           (last->idx == l->idx ||
            (last->idx && l->idx && memcmp(last->idx, l->idx, l->count * sizeof *l->idx) == 0));
}

/* A list as a range of S_NAMES, with each name's resolved index beside it in S_NAMEIX; every
 * distinct list (names, indexes and kind) is written once, in S_LISTS too, and shared by every
 * record that has it (the routes of a plan mostly repeat their usages and gateways). `m` may
 * be NULL. */
static void put_list(builder *b, int s, const cr_namelist *l, int kind, list_memo *m)
{
    uint32_t first = (uint32_t)b->sec[S_NAMES].n;
    if (m && l->count && same_list(l, m->last[kind])) {
        ce_pi_put(b, s, m->last_first[kind]);
        ce_pi_put(b, s, l->count);
        return;
    }
    uint32_t few[8], *names = l->count <= 8 ? few : malloc(l->count * sizeof *names);
    if (!names)
        b->oom = true;
    if (l->count && !b->oom) {
        if ((b->nlists + 1) * 2 > b->listcap && !lists_grow(b)) {
            b->oom = true;
            goto out;
        }
        for (uint32_t i = 0; i < l->count; i++)
            names[i] = memo_str(b, m, l->names[i]);
        size_t j = list_hash(l, names, kind) & (b->listcap - 1);
        for (; b->lists[j]; j = (j + 1) & (b->listcap - 1))
            if (list_is(b, b->lists[j] - 1, l, names, kind))
                break;
        if (b->lists[j]) {
            first = b->sec[S_LISTS].v[(b->lists[j] - 1) * sec_fields[S_LISTS] + LI_FIRST];
        } else {
            b->lists[j] = (uint32_t)++b->nlists;
            ce_pi_put(b, S_LISTS, first);
            ce_pi_put(b, S_LISTS, l->count);
            ce_pi_put(b, S_LISTS, (uint32_t)kind);
            for (uint32_t i = 0; i < l->count; i++) {
                ce_pi_put(b, S_NAMES, names[i]);
                ce_pi_put(b, S_NAMEIX, l->idx ? l->idx[i] : NONE);
            }
        }
    }
    ce_pi_put(b, s, first);
    ce_pi_put(b, s, l->count);
    if (m && l->count) {
        m->last[kind] = l;
        m->last_first[kind] = first;
    }
out:
    if (names != few)
        free(names);
}

static void build_profiles(builder *b)
{
    const cr_config *c = b->cfg;
    for (size_t i = 0; i < c->nprofiles; i++) {
        const cr_profile *p = &c->profiles[i];
        ce_pi_put(b, S_PROFILES, ce_pi_str(b, p->name));
        ce_pi_put(b, S_PROFILES, ce_pi_str(b, p->description));
        ce_pi_put(b, S_PROFILES, ce_pi_str(b, p->external_access_prefix));
        ce_pi_put(b, S_PROFILES, (uint32_t)b->sec[S_RULES].n / sec_fields[S_RULES]);
        ce_pi_put(b, S_PROFILES, (uint32_t)p->nrules);
        put_loc(b, S_PROFILES, p->loc);
        for (size_t k = 0; k < p->nrules; k++) {
            const cr_rule *r = &p->rules[k];
            ce_pi_put(b, S_RULES, ce_pi_str(b, r->name));
            ce_pi_put(b, S_RULES, ce_pi_str(b, r->description));
            ce_pi_put(b, S_RULES, ce_pi_str(b, r->pattern));
            ce_pi_put(b, S_RULES, ce_pi_str(b, r->translation));
            ce_pi_put(b, S_RULES,
                      (r->internal_extension ? 1u : 0u) | (r->do_not_dial_from_device ? 2u : 0u));
            put_loc(b, S_RULES, r->loc);
        }
    }
}

static void build_routing(builder *b)
{
    const cr_config *c = b->cfg;
    for (size_t i = 0; i < c->nusages; i++) {
        ce_pi_put(b, S_USAGES, ce_pi_str(b, c->usages[i].name));
        put_loc(b, S_USAGES, c->usages[i].loc);
    }
    for (size_t i = 0; i < c->npolicies; i++) {
        const cr_policy *p = &c->policies[i];
        ce_pi_put(b, S_POLICIES, ce_pi_str(b, p->name));
        ce_pi_put(b, S_POLICIES, ce_pi_str(b, p->description));
        ce_pi_put(b, S_POLICIES,
                  (p->simultaneous_ring ? 1u : 0u) | (p->call_forwarding ? 2u : 0u) |
                      (p->team_call ? 4u : 0u) | (p->delegation ? 8u : 0u));
        put_list(b, S_POLICIES, &p->usages, LK_USAGES, NULL);
        put_loc(b, S_POLICIES, p->loc);
    }
    for (size_t i = 0; i < c->ngateways; i++) {
        const cr_gateway *g = &c->gateways[i];
        ce_pi_put(b, S_GATEWAYS, ce_pi_str(b, g->name));
        ce_pi_put(b, S_GATEWAYS, ce_pi_str(b, g->address));
        ce_pi_put(b, S_GATEWAYS, ce_pi_str(b, g->profile));
        ce_pi_put(b, S_GATEWAYS, g->remove_plus ? 1u : 0u);
        ce_pi_put(b, S_GATEWAYS, (uint32_t)g->ports);
        put_loc(b, S_GATEWAYS, g->loc);
    }
    list_memo *m = calloc(1, sizeof *m); /* none: every list written the long way */
    for (size_t i = 0; i < c->nroutes; i++) {
        const cr_route *r = ce_route(c, i);
        ce_pi_put(b, S_ROUTES, ce_pi_str(b, r->name));
        ce_pi_put(b, S_ROUTES, ce_pi_str(b, r->description));
        ce_pi_put(b, S_ROUTES, ce_pi_str(b, r->pattern));
        put_list(b, S_ROUTES, &r->usages, LK_USAGES, m);
        put_list(b, S_ROUTES, &r->gateways, LK_GATEWAYS, m);
        put_loc(b, S_ROUTES, r->loc);
    }
    free(m);
}

static void build_users(builder *b)
{
    const cr_config *c = b->cfg;
    for (size_t i = 0; i < c->nusers; i++) {
        const cr_user *u = ce_user(c, i);
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->uri));
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->line));
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->policy));
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->profile));
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->simultaneous_ring));
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->forwarding.immediate));
        ce_pi_put(b, S_USERS, (uint32_t)u->forwarding.no_answer_after);
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->forwarding.no_answer_target));
        ce_pi_put(b, S_USERS, (uint32_t)u->team_call_delay);
        put_list(b, S_USERS, &u->team_call, LK_PLAIN, NULL);
        put_list(b, S_USERS, &u->delegates, LK_PLAIN, NULL);
        ce_pi_put(b, S_USERS, ce_pi_str(b, u->voicemail));
        ce_pi_put(b, S_USERS, (u->enterprise_voice ? 1u : 0u) | (u->pbx_integration ? 2u : 0u));
        put_loc(b, S_USERS, u->loc);
    }
}

static void build_meta(builder *b)
{
    const cr_config *c = b->cfg;
    for (size_t i = 0; i < c->ninterned; i++)
        ce_pi_put(b, S_FILES, ce_pi_str(b, c->interned[i]));
    for (size_t i = 0; i < c->ndomains; i++)
        ce_pi_put(b, S_DOMAINS, ce_pi_str(b, c->domains[i]));
    ce_pi_put(b, S_META, ce_pi_str(b, c->default_profile_name));
    put_loc(b, S_META, c->default_profile_loc);
    ce_pi_put(b, S_META, ce_pi_str(b, c->default_policy_name));
    put_loc(b, S_META, c->default_policy_loc);
    ce_pi_put(b, S_META, ce_pi_str(b, c->directory));
    put_loc(b, S_META, c->directory_loc);
    ce_pi_put(b, S_META, c->has_response_groups ? 1u : 0u);
    for (size_t i = 0; i < c->nattached; i++) {
        const cr_attachment *a = &c->attached[i];
        if (b->nblob + a->len >= CR_PLAN_MAX ||
            !bytes_grow(&b->blob, &b->capblob, b->nblob + a->len)) {
            b->oom = true;
            return;
        }
        ce_pi_put(b, S_ATTACHED, ce_pi_str(b, a->name));
        ce_pi_put(b, S_ATTACHED, (uint32_t)b->nblob);
        ce_pi_put(b, S_ATTACHED, (uint32_t)a->len);
        if (a->len) /* empty: no blob may exist yet (no pointer arithmetic on NULL) */
            memcpy(b->blob + b->nblob, a->bytes, a->len);
        b->nblob += a->len;
    }
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Bytes of section s in the builder. */
static size_t sec_bytes(const builder *b, int s)
{
    if (s == S_STR)
        return b->npool;
    if (s == S_BLOB)
        return b->nblob;
    return sec_fields[s] ? b->sec[s].n * 4 : b->nraw[s] * sec_esize[s];
}

/* Lays the sections out behind the header (each on a cache line: the key cells are read one
 * line a key) and fills the checksum. */
static int assemble(builder *b, uint64_t generation, void **out, size_t *len)
{
    plan_header h = {0};
    memcpy(h.magic, CR_PLAN_MAGIC, CR_PLAN_MAGIC_LEN);
    h.version = CR_PLAN_VERSION;
    h.arch = ce_image_arch();
    h.generation = generation;
    h.digest = b->cfg->source_digest;
    h.header_len = sizeof h;
    h.nsections = S_COUNT;
    size_t off = align64(sizeof h);
    for (int s = 0; s < S_COUNT; s++) {
        size_t bytes = sec_bytes(b, s);
        h.sec[s].off = off;
        h.sec[s].esize = sec_esize[s];
        h.sec[s].count = bytes / sec_esize[s];
        off = align64(off + bytes);
    }
    if (off > CR_PLAN_MAX)
        return CR_ERANGE;
    char *img = calloc(1, off);
    if (!img)
        return CR_ENOMEM;
    h.total_len = off;
    for (int s = 0; s < S_COUNT; s++) {
        const void *src = s == S_STR ? b->pool : s == S_BLOB ? b->blob : (void *)b->sec[s].v;
        size_t bytes = sec_bytes(b, s);
        if (bytes)
            memcpy(img + h.sec[s].off, src, bytes);
    }
    memcpy(img, &h, sizeof h);
    h.checksum = cr_image_checksum(img + 16, off - 16);
    memcpy(img + 8, &h.checksum, 8);
    *out = img;
    *len = off;
    return CR_OK;
}

/* The image a configuration was adopted from, with another generation: the same bytes, so
 * nothing is serialized again (and no route is filled to be written). */
static int copy_image(const cr_config *cfg, uint64_t generation, void **out, size_t *len)
{
    size_t n = (size_t)(cfg->borrow_hi - cfg->borrow_lo);
    char *img = malloc(n);
    if (!img)
        return CR_ENOMEM;
    memcpy(img, cfg->borrow_lo, n);
    cr_image_restamp(img, n, generation);
    *out = img;
    *len = n;
    return CR_OK;
}

uint64_t cr_image_restamp(void *buf, size_t n, uint64_t generation)
{
    char *img = buf;
    memcpy(img + offsetof(plan_header, generation), &generation, sizeof generation);
    uint64_t sum = cr_image_checksum(img + 16, n - 16);
    memcpy(img + offsetof(plan_header, checksum), &sum, sizeof sum);
    return sum;
}

/* The generation lies in the first checksum chunk: restamping changes that chunk's sum alone. */
_Static_assert(offsetof(plan_header, generation) + sizeof(uint64_t) <= 16 + CR_IMAGE_SUM_CHUNK,
               "the generation is in the first checksum chunk");

uint64_t cr_image_restamp_sums(void *buf, size_t n, uint64_t generation, uint64_t *sums,
                               size_t chunks)
{
    if (n <= 16 || chunks != (n - 16 + CR_IMAGE_SUM_CHUNK - 1) / CR_IMAGE_SUM_CHUNK)
        return cr_image_restamp(buf, n, generation);
    char *img = buf;
    memcpy(img + offsetof(plan_header, generation), &generation, sizeof generation);
    cr_image_sum_chunks(img + 16, n - 16, 0, 1, sums);
    uint64_t sum = cr_image_sum_combine(sums, chunks, n - 16);
    memcpy(img + offsetof(plan_header, checksum), &sum, sizeof sum);
    return sum;
}

int cr_image_build(const cr_config *cfg, uint64_t generation, void **out, size_t *len)
{
    if (!cfg || !out || !len)
        return CR_EINVAL;
    *out = NULL;
    *len = 0;
    if (!cfg->compiled)
        return CR_ESTATE;
    if (cfg->image_whole && cfg->borrow_lo)
        return copy_image(cfg, generation, out, len);
    builder b = {.cfg = cfg};
    /* the pool's first string is empty: offsets of real strings are never 0 by accident */
    ce_pi_str(&b, "");
    build_meta(&b);
    build_profiles(&b);
    build_routing(&b);
    build_users(&b);
    ce_pi_build_compiled(&b);
    int rc = b.oom ? CR_ENOMEM : assemble(&b, generation, out, len);
    for (int s = 0; s < S_COUNT; s++)
        free(b.sec[s].v);
    free(b.pool);
    free(b.blob);
    free(b.set);
    free(b.lists);
    return rc;
}

/* ---- verifying ----------------------------------------------------------------------------- */

static int bad(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int check_sections(const plan_header *h, char *err, size_t errlen)
{
    uint64_t prev_end = sizeof *h;
    for (int s = 0; s < S_COUNT; s++) {
        const plan_section *x = &h->sec[s];
        uint32_t esize = sec_esize[s];
        if (x->esize != esize || x->off % 64 || x->off < prev_end || x->off > h->total_len ||
            x->count > (h->total_len - x->off) / esize)
            return bad(err, errlen, CR_EINVAL, "damaged: section '%s' out of bounds", sec_names[s]);
        prev_end = x->off + x->count * esize;
    }
    if (h->sec[S_META].count != 1)
        return bad(err, errlen, CR_EINVAL, "damaged: no meta record");
    const char *pool = (const char *)h + h->sec[S_STR].off;
    if (h->sec[S_STR].count == 0 || pool[h->sec[S_STR].count - 1] != 0)
        return bad(err, errlen, CR_EINVAL, "damaged: string pool not terminated");
    return CR_OK;
}

/* sum: the checksum of the contents when the caller computed it (an image hashed as it was
 * copied), NULL to compute it (sum_too) or to take the header's word for it. */
static int verify(const void *buf, size_t n, cr_image_info *info, char *err, size_t errlen,
                  bool sum_too, const uint64_t *sum);

int cr_image_verify(const void *buf, size_t n, cr_image_info *info, char *err, size_t errlen)
{
    return verify(buf, n, info, err, errlen, true, NULL);
}

int cr_image_verify_header(const void *buf, size_t n, cr_image_info *info, char *err, size_t errlen)
{
    return verify(buf, n, info, err, errlen, false, NULL);
}

int cr_image_verify_sum(const void *buf, size_t n, uint64_t sum, cr_image_info *info, char *err,
                        size_t errlen)
{
    return verify(buf, n, info, err, errlen, false, &sum);
}

static int verify(const void *buf, size_t n, cr_image_info *info, char *err, size_t errlen,
                  bool sum_too, const uint64_t *known)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!buf || !cr_image_has_magic(buf, n))
        return bad(err, errlen, CR_EINVAL, "not a plan image (no magic)");
    plan_header h;
    if (n < sizeof h)
        return bad(err, errlen, CR_EINVAL, "truncated: %zu bytes, the header alone has %zu", n,
                   sizeof h);
    memcpy(&h, buf, sizeof h);
    if (info)
        *info = (cr_image_info){h.version, h.arch, h.total_len, h.generation, h.digest, h.checksum};
    if (h.version != CR_PLAN_VERSION)
        return bad(err, errlen, CR_EVERSION,
                   "format version %u, this build reads version %u: compile it again", h.version,
                   CR_PLAN_VERSION);
    if (h.arch != ce_image_arch())
        return bad(err, errlen, CR_EVERSION,
                   "written for another architecture (tag 0x%08x, this one is 0x%08x)", h.arch,
                   ce_image_arch());
    if (h.total_len > n)
        return bad(err, errlen, CR_EINVAL, "truncated: %zu bytes of %llu", n,
                   (unsigned long long)h.total_len);
    if (h.total_len < n)
        return bad(err, errlen, CR_EINVAL, "%llu bytes of trailing data after the image",
                   (unsigned long long)(n - h.total_len));
    if (h.header_len != sizeof h || h.nsections != S_COUNT)
        return bad(err, errlen, CR_EINVAL, "damaged: header length %u, %u sections", h.header_len,
                   h.nsections);
    uint64_t sum = known     ? *known
                   : sum_too ? cr_image_checksum((const char *)buf + 16, n - 16)
                             : h.checksum;
    if (sum != h.checksum)
        return bad(err, errlen, CR_EINVAL,
                   "damaged: checksum mismatch (header says %016llx, contents give %016llx)",
                   (unsigned long long)h.checksum, (unsigned long long)sum);
    return check_sections(buf, err, errlen);
}

/* ---- reading ------------------------------------------------------------------------------- */

void ce_pi_broken(reader *r, const char *what, size_t i)
{
    if (!r->broken)
        snprintf(r->why, sizeof r->why, "damaged: %s of record %zu out of range", what, i);
    r->broken = true;
}

const char *ce_pi_rstr(reader *r, uint32_t off, size_t i)
{
    if (off == NONE)
        return NULL;
    if (off >= r->npool) {
        ce_pi_broken(r, "string", i);
        return NULL;
    }
    return r->pool + off;
}

static cr_srcloc rloc(reader *r, const uint32_t *rec, size_t i)
{
    cr_srcloc loc = {NULL, (int)rec[1]};
    if (rec[0] != NONE && rec[0] >= r->nfiles)
        ce_pi_broken(r, "file", i);
    else if (rec[0] != NONE)
        loc.file = r->files[rec[0]];
    if (rec[1] > (uint32_t)INT32_MAX)
        ce_pi_broken(r, "line", i);
    return loc;
}

/* Adds names[first, first+count) to a list. */
static void rlist(reader *r, cr_namelist *l, uint32_t first, uint32_t count, cr_srcloc loc,
                  size_t i, int kind)
{
    if (r->adopt) {
        ce_pi_list_final(r, l, first, count, kind, i);
        return;
    }
    if ((uint64_t)first + count > ce_pi_nrecs(r, S_NAMES)) {
        ce_pi_broken(r, "name list", i);
        return;
    }
    const uint32_t *names = ce_pi_recs(r, S_NAMES);
    for (uint32_t k = 0; k < count && !r->broken && !r->oom; k++) {
        const char *s = ce_pi_rstr(r, names[first + k], i);
        if (!s)
            ce_pi_broken(r, "name", i);
        else if (cr_namelist_add(r->cfg, l, s, loc) != CR_OK)
            r->oom = true;
    }
}

/* Copies a string into the config (NULL stays NULL). */
static char *rdup(reader *r, uint32_t off, size_t i)
{
    const char *s = ce_pi_rstr(r, off, i);
    char *d = s ? cr_config_strdup(r->cfg, s) : NULL;
    if (s && !d)
        r->oom = true;
    return d;
}

static void read_meta(reader *r)
{
    for (size_t i = 0; i < ce_pi_nrecs(r, S_FILES) && !r->broken && !r->oom; i++) {
        const char *f = ce_pi_rstr(r, ce_pi_recs(r, S_FILES)[i], i);
        if (!(r->files[i] = f ? cr_config_intern(r->cfg, f) : ""))
            r->oom = true;
    }
    r->nfiles = ce_pi_nrecs(r, S_FILES);
    for (size_t i = 0; i < ce_pi_nrecs(r, S_DOMAINS) && !r->broken && !r->oom; i++) {
        const char *d = ce_pi_rstr(r, ce_pi_recs(r, S_DOMAINS)[i], i);
        if (d && cr_config_add_domain(r->cfg, d, (cr_srcloc){0}) != CR_OK)
            r->oom = true;
    }
    const uint32_t *m = ce_pi_recs(r, S_META);
    const char *dp = ce_pi_rstr(r, m[ME_DPROFILE], 0), *dpol = ce_pi_rstr(r, m[ME_DPOLICY], 0);
    const char *dir = ce_pi_rstr(r, m[ME_DIR], 0);
    if (r->broken)
        return;
    if (dp && cr_config_set_default_profile(r->cfg, dp, rloc(r, m + ME_DPROFILE_FILE, 0)))
        r->oom = true;
    if (dpol && cr_config_set_default_policy(r->cfg, dpol, rloc(r, m + ME_DPOLICY_FILE, 0)))
        r->oom = true;
    if (dir && cr_config_set_directory(r->cfg, dir, rloc(r, m + ME_DIR_FILE, 0)))
        r->oom = true;
    if (m[ME_FLAGS] & 1u)
        cr_config_mark_response_groups(r->cfg);
}

static void read_profiles(reader *r)
{
    const uint32_t *rules = ce_pi_recs(r, S_RULES);
    for (size_t i = 0; i < ce_pi_nrecs(r, S_PROFILES) && !r->broken && !r->oom; i++) {
        const uint32_t *x = ce_pi_recs(r, S_PROFILES) + i * sec_fields[S_PROFILES];
        const char *name = ce_pi_rstr(r, x[PR_NAME], i);
        cr_srcloc loc = rloc(r, x + PR_FILE, i);
        if ((uint64_t)x[PR_FIRST] + x[PR_COUNT] > ce_pi_nrecs(r, S_RULES))
            ce_pi_broken(r, "rules", i);
        if (r->broken || !name) {
            ce_pi_broken(r, "profile name", i);
            return;
        }
        cr_profile *p = cr_config_add_profile(r->cfg, name, loc);
        if (!p) {
            r->oom = true;
            return;
        }
        p->description = rdup(r, x[PR_DESC], i);
        p->external_access_prefix = rdup(r, x[PR_EAP], i);
        for (uint32_t k = 0; k < x[PR_COUNT] && !r->broken && !r->oom; k++) {
            const uint32_t *y = rules + (size_t)(x[PR_FIRST] + k) * sec_fields[S_RULES];
            const char *rn = ce_pi_rstr(r, y[RU_NAME], i);
            cr_srcloc rl = rloc(r, y + RU_FILE, i);
            if (r->broken || !rn) {
                ce_pi_broken(r, "rule name", i);
                return;
            }
            cr_rule *ru = cr_profile_add_rule(r->cfg, p, rn, rl);
            if (!ru) {
                r->oom = true;
                return;
            }
            ru->description = rdup(r, y[RU_DESC], i);
            ru->pattern = rdup(r, y[RU_PATTERN], i);
            ru->translation = rdup(r, y[RU_XLAT], i);
            ru->internal_extension = y[RU_FLAGS] & 1u;
            ru->do_not_dial_from_device = (y[RU_FLAGS] & 2u) != 0;
        }
    }
}

static void read_policies(reader *r)
{
    for (size_t i = 0; i < ce_pi_nrecs(r, S_USAGES) && !r->broken && !r->oom; i++) {
        const uint32_t *x = ce_pi_recs(r, S_USAGES) + i * sec_fields[S_USAGES];
        const char *name = ce_pi_rstr(r, x[US_NAME], i);
        cr_srcloc loc = rloc(r, x + US_FILE, i);
        if (r->broken || !name) {
            ce_pi_broken(r, "usage name", i);
            return;
        }
        if (!cr_config_add_usage(r->cfg, name, loc))
            r->oom = true;
    }
    for (size_t i = 0; i < ce_pi_nrecs(r, S_POLICIES) && !r->broken && !r->oom; i++) {
        const uint32_t *x = ce_pi_recs(r, S_POLICIES) + i * sec_fields[S_POLICIES];
        const char *name = ce_pi_rstr(r, x[PO_NAME], i);
        cr_srcloc loc = rloc(r, x + PO_FILE, i);
        if (r->broken || !name) {
            ce_pi_broken(r, "policy name", i);
            return;
        }
        cr_policy *p = cr_config_add_policy(r->cfg, name, loc);
        if (!p) {
            r->oom = true;
            return;
        }
        p->description = rdup(r, x[PO_DESC], i);
        p->simultaneous_ring = x[PO_FLAGS] & 1u;
        p->call_forwarding = (x[PO_FLAGS] & 2u) != 0;
        p->team_call = (x[PO_FLAGS] & 4u) != 0;
        p->delegation = (x[PO_FLAGS] & 8u) != 0;
        rlist(r, &p->usages, x[PO_FIRST], x[PO_COUNT], loc, i, LK_USAGES);
    }
}

static void read_routes(reader *r)
{
    for (size_t i = 0; i < ce_pi_nrecs(r, S_GATEWAYS) && !r->broken && !r->oom; i++) {
        const uint32_t *x = ce_pi_recs(r, S_GATEWAYS) + i * sec_fields[S_GATEWAYS];
        const char *name = ce_pi_rstr(r, x[GW_NAME], i);
        cr_srcloc loc = rloc(r, x + GW_FILE, i);
        if (r->broken || !name || x[GW_PORTS] > (uint32_t)INT32_MAX) {
            ce_pi_broken(r, "gateway", i);
            return;
        }
        cr_gateway *g = cr_config_add_gateway(r->cfg, name, loc);
        if (!g) {
            r->oom = true;
            return;
        }
        g->address = rdup(r, x[GW_ADDR], i);
        g->profile = rdup(r, x[GW_PROFILE], i);
        g->remove_plus = x[GW_FLAGS] & 1u;
        g->ports = (int)x[GW_PORTS];
    }
    if (r->adopt) {
        if (!r->broken && !r->oom)
            ce_pi_routes_lazy(r);
        return;
    }
    for (size_t i = 0; i < ce_pi_nrecs(r, S_ROUTES) && !r->broken && !r->oom; i++) {
        const uint32_t *x = ce_pi_recs(r, S_ROUTES) + i * sec_fields[S_ROUTES];
        const char *name = ce_pi_rstr(r, x[RO_NAME], i);
        cr_srcloc loc = rloc(r, x + RO_FILE, i);
        if (r->broken || !name) {
            ce_pi_broken(r, "route name", i);
            return;
        }
        cr_route *ro = cr_config_add_route(r->cfg, name, loc);
        if (!ro) {
            r->oom = true;
            return;
        }
        ro->description = rdup(r, x[RO_DESC], i);
        ro->pattern = rdup(r, x[RO_PATTERN], i);
        rlist(r, &ro->usages, x[RO_UFIRST], x[RO_UCOUNT], loc, i, LK_USAGES);
        rlist(r, &ro->gateways, x[RO_GFIRST], x[RO_GCOUNT], loc, i, LK_GATEWAYS);
    }
}

static void read_users(reader *r)
{
    if (r->adopt) {
        if (!r->broken && !r->oom)
            ce_pi_users_lazy(r);
        return;
    }
    for (size_t i = 0; i < ce_pi_nrecs(r, S_USERS) && !r->broken && !r->oom; i++) {
        const uint32_t *x = ce_pi_recs(r, S_USERS) + i * sec_fields[S_USERS];
        const char *uri = ce_pi_rstr(r, x[UR_URI], i);
        cr_srcloc loc = rloc(r, x + UR_FILE, i);
        if (r->broken || !uri || x[UR_FWD_AFTER] > 86400 || x[UR_TEAM_DELAY] > 86400) {
            ce_pi_broken(r, "user", i);
            return;
        }
        cr_user *u = cr_config_add_user(r->cfg, uri, loc);
        if (!u) {
            r->oom = true;
            return;
        }
        u->line = rdup(r, x[UR_LINEURI], i);
        u->policy = rdup(r, x[UR_POLICY], i);
        u->profile = rdup(r, x[UR_PROFILE], i);
        u->simultaneous_ring = rdup(r, x[UR_SIMRING], i);
        u->forwarding.immediate = rdup(r, x[UR_FWD_IMM], i);
        u->forwarding.no_answer_after = (int)x[UR_FWD_AFTER];
        u->forwarding.no_answer_target = rdup(r, x[UR_FWD_TARGET], i);
        u->team_call_delay = (int)x[UR_TEAM_DELAY];
        u->voicemail = rdup(r, x[UR_VOICEMAIL], i);
        u->enterprise_voice = x[UR_FLAGS] & 1u;
        u->pbx_integration = (x[UR_FLAGS] & 2u) != 0;
        rlist(r, &u->team_call, x[UR_TFIRST], x[UR_TCOUNT], loc, i, LK_PLAIN);
        rlist(r, &u->delegates, x[UR_DFIRST], x[UR_DCOUNT], loc, i, LK_PLAIN);
    }
}

/* The attachments (the response groups compiled), held by the config again: read by the layer
 * that wrote them, and written into its image again. */
static void read_attached(reader *r)
{
    const char *blob = r->base + r->h->sec[S_BLOB].off;
    const uint32_t *x = ce_pi_recs(r, S_ATTACHED);
    for (size_t i = 0; i < ce_pi_nrecs(r, S_ATTACHED) && !r->oom;
         i++, x += sec_fields[S_ATTACHED]) {
        const char *name = ce_pi_rstr(r, x[AT_NAME], i);
        if (!name || (uint64_t)x[AT_OFF] + x[AT_LEN] > r->h->sec[S_BLOB].count) {
            ce_pi_broken(r, "attachment", i);
            return;
        }
        if (cr_config_attach(r->cfg, name, blob + x[AT_OFF], x[AT_LEN]) != CR_OK)
            r->oom = true;
    }
}

/* Sizes the object arrays from the image's counts at once: grown by doubling, up to half of
 * each would be zeroed capacity nobody uses (resident in every process). */
static bool presize(reader *r)
{
    cr_config *c = r->cfg;
#define PRESIZE(arr, cap, s)                                                                       \
    if (ce_pi_nrecs(r, s) && !(c->arr = calloc(ce_pi_nrecs(r, s), sizeof *c->arr)))                \
        return false;                                                                              \
    c->cap = ce_pi_nrecs(r, s);
    PRESIZE(domains, capdomains, S_DOMAINS)
    PRESIZE(profiles, capprofiles, S_PROFILES)
    PRESIZE(usages, capusages, S_USAGES)
    PRESIZE(policies, cappolicies, S_POLICIES)
    PRESIZE(gateways, capgateways, S_GATEWAYS)
    if (!r->adopt) { /* adopting, they are filled on first use (ce_pi_routes_lazy, users) */
        PRESIZE(routes, caproutes, S_ROUTES)
        PRESIZE(users, capusers, S_USERS)
    }
#undef PRESIZE
    return true;
}

void cr_image_config_release(cr_config *cfg, void (*release)(void *ud), void *ud)
{
    ce_config_borrow(cfg, cfg->borrow_lo, (size_t)(cfg->borrow_hi - cfg->borrow_lo), release, ud);
}

int cr_image_read(const void *buf, size_t n, const char *name, cr_config **out, cr_diag *diag)
{
    return cr_image_read_ex(buf, n, name, 0, out, diag);
}

int cr_image_read_ex(const void *buf, size_t n, const char *name, unsigned flags, cr_config **out,
                     cr_diag *diag)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    char err[200];
    cr_srcloc where = {name, 0};
    if (verify(buf, n, NULL, err, sizeof err, !(flags & (CR_IMAGE_VERIFIED | CR_IMAGE_TRUSTED)),
               NULL) != CR_OK) {
        cr_diag_add(diag, CR_DIAG_ERROR, where, "plan image", "%s", err);
        return CR_ECONFIG;
    }
    reader r = {.base = buf, .h = buf, .trusted = (flags & CR_IMAGE_TRUSTED) != 0};
    r.pool = r.base + r.h->sec[S_STR].off;
    r.npool = r.h->sec[S_STR].count;
    r.files = calloc(ce_pi_nrecs(&r, S_FILES) + 1, sizeof *r.files);
    r.cfg = cr_config_new();
    if (!r.files || !r.cfg) {
        free(r.files);
        free(r.lined);
        free(r.hot);
        cr_config_free(r.cfg);
        return CR_ENOMEM;
    }
    if (flags & CR_IMAGE_BORROW)
        ce_config_borrow(r.cfg, buf, n, NULL, NULL);
    r.adopt = (flags & CR_IMAGE_BORROW) && ce_pi_adoptable(&r);
    if (!presize(&r)) {
        free(r.files);
        free(r.lined);
        free(r.hot);
        cr_config_free(r.cfg);
        return CR_ENOMEM;
    }
    cr_config_set_source_digest(r.cfg, r.h->digest);
    r.cfg->lists_in_arena = r.adopt; /* lists are read final, into the arena */
    if (r.adopt)
        ce_pi_lists_build(&r);
    read_meta(&r);
    read_profiles(&r);
    read_policies(&r);
    read_routes(&r);
    read_users(&r);
    if (r.adopt && !r.broken && !r.oom)
        ce_pi_read_compiled(&r);
    if (r.cfg->cx)
        r.cfg->cx->lint = !(flags & CR_IMAGE_NOLINT);
    if (r.cfg->cx)
        r.cfg->cx->trusted = r.trusted;
    if (!r.broken && !r.oom)
        read_attached(&r);
    free(r.files);
    free(r.lined);
    free(r.hot);
    if (r.broken || r.oom) {
        if (r.broken)
            cr_diag_add(diag, CR_DIAG_ERROR, where, "plan image", "%s", r.why);
        cr_config_free(r.cfg);
        return r.oom && !r.broken ? CR_ENOMEM : CR_ECONFIG;
    }
    r.cfg->image_whole = r.adopt;
    *out = r.cfg;
    return CR_OK;
}

bool cr_image_attachment(const void *buf, const char *name, const void **bytes, size_t *len)
{
    const plan_header *h = buf;
    const char *pool = (const char *)buf + h->sec[S_STR].off;
    const uint32_t *x =
        (const uint32_t *)(const void *)((const char *)buf + h->sec[S_ATTACHED].off);
    for (size_t i = 0; i < h->sec[S_ATTACHED].count; i++, x += sec_fields[S_ATTACHED]) {
        if (x[AT_NAME] >= h->sec[S_STR].count ||
            (uint64_t)x[AT_OFF] + x[AT_LEN] > h->sec[S_BLOB].count)
            return false;
        if (strcmp(pool + x[AT_NAME], name) == 0) {
            *bytes = (const char *)buf + h->sec[S_BLOB].off + x[AT_OFF];
            *len = x[AT_LEN];
            return true;
        }
    }
    return false;
}
