/*
 * floor — what the hardware allows for callroute's hot paths, measured on the machine it runs
 * on, and callroute's own figures beside them as multiples of their floor (issue 17).
 *
 * A floor is the cheapest way to do one step of the work with the same libraries and data
 * sizes, written without any of callroute's bookkeeping:
 *   trie_walk_12    a 12-digit number walked down a digit trie of 10,000 route prefixes
 *   pcre2_jit       one PCRE2 JIT match of an anchored route pattern (match data reused)
 *   hash_100k       a user URI (~26 bytes) hashed and found among 100,000 (keys contiguous)
 *   cache_miss      one dependent load from a 256 MB table (context for the others)
 *   chase_1m..32m   one dependent load from a table of 1, 8, 16 or 32 MB on 2 MB pages (madvised):
 * the latency of the L2, of the L3 and past it without page walks, what a decision's tables at
 * 400,000 routes cost per dependent miss decision        trie_walk_12 + pcre2_jit + 2 x hash_100k
 * (caller and reverse lookup) lua_yield       a Lua coroutine resumed from C until it yields again
 * (an IVR step) lmdb_get        a renewed read transaction and one mdb_get among 100,000 keys
 *   json_line       one decision written as a JSON line into a reused buffer (no printf)
 * With --bench-lib (libcallroute-bench.so), the decision figures are measured in the same
 * run through the bench plugin (10,000 routes / 1,000 rules / 100,000 users, then 100 and
 * --max-routes routes) and printed as multiples of the decision floor, p50 then p99, and the
 * growth: the p50 at --max-routes routes divided by the p50 at 100 (issue 17's goal: <= 1.2).
 *
 *   floor [--bench-lib PATH] [--seconds S] [--max-routes N] [--json]
 *
 * Each floor is the median of 101 short batches (a few ms each, so that most run unpreempted); a
 * figure is the bench's p50. No assertion: this is a measuring program, not a test (ctest only
 * checks that it runs and prints every row).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dlfcn.h>
#include <getopt.h>
#include <lauxlib.h>
#include <lmdb.h>
#include <lua.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "callroute.h"

#define BATCHES 101

static volatile uint64_t sink; /* keeps results alive so loops are not optimised away */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs fn(ctx, n) BATCHES times and returns the median nanoseconds per operation. */
typedef void (*floor_fn)(void *ctx, size_t n);
static double measure(floor_fn fn, void *ctx, size_t n)
{
    double per[BATCHES];
    fn(ctx, n / 4 + 1); /* warm caches and branch predictors */
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_ns();
        fn(ctx, n);
        per[b] = (now_ns() - t0) / (double)n;
    }
    qsort(per, BATCHES, sizeof per[0], cmp_double);
    return per[BATCHES / 2];
}

/* ---- digit trie ------------------------------------------------------------------------- */

typedef struct {
    uint32_t (*child)[12]; /* 0-9 * #: 12 symbols; 0 = none (node 0 is the root) */
    uint32_t *item;        /* route id + 1 ending at the node, 0 none */
    size_t n, cap;
    char (*numbers)[13];
    size_t nnumbers;
} trie;

static uint32_t trie_node(trie *t)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->child = realloc(t->child, t->cap * sizeof *t->child);
        t->item = realloc(t->item, t->cap * sizeof *t->item);
        if (!t->child || !t->item)
            abort();
    }
    memset(t->child[t->n], 0, sizeof t->child[0]);
    t->item[t->n] = 0;
    return (uint32_t)t->n++;
}

static void trie_build(trie *t, size_t prefixes, size_t numbers)
{
    trie_node(t);
    for (size_t i = 0; i < prefixes; i++) {
        size_t len = 4 + rng() % 5;
        uint32_t at = 0;
        for (size_t k = 0; k < len; k++) {
            unsigned d = (unsigned)(rng() % 10);
            if (!t->child[at][d]) {
                uint32_t nn = trie_node(t);
                t->child[at][d] = nn;
            }
            at = t->child[at][d];
        }
        t->item[at] = (uint32_t)i + 1;
    }
    t->numbers = malloc(numbers * sizeof *t->numbers);
    if (!t->numbers)
        abort();
    for (size_t i = 0; i < numbers; i++) {
        for (int k = 0; k < 12; k++)
            t->numbers[i][k] = (char)('0' + rng() % 10);
        t->numbers[i][12] = 0;
    }
    t->nnumbers = numbers;
}

static void trie_walks(void *ctx, size_t n)
{
    trie *t = ctx;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = t->numbers[i & (t->nnumbers - 1)];
        uint32_t at = 0, best = 0;
        for (int k = 0; k < 12; k++) {
            at = t->child[at][s[k] - '0'];
            if (!at)
                break;
            if (t->item[at])
                best = t->item[at];
        }
        acc += best;
    }
    sink += acc;
}

/* ---- PCRE2 JIT ------------------------------------------------------------------------------ */

typedef struct {
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    char subjects[256][16];
} pcre_ctx;

static void pcre_matches(void *ctx, size_t n)
{
    pcre_ctx *p = ctx;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = p->subjects[i & 255];
        int rc = pcre2_jit_match(p->re, (PCRE2_SPTR)s, 12, 0, 0, p->md, p->mc);
        acc += (uint64_t)(rc > 0);
    }
    sink += acc;
}

static int pcre_setup(pcre_ctx *p)
{
    int errcode;
    PCRE2_SIZE erroff;
    p->re = pcre2_compile((PCRE2_SPTR) "^\\+1(425|206)(\\d{7})$", PCRE2_ZERO_TERMINATED, 0,
                          &errcode, &erroff, NULL);
    if (!p->re || pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE) != 0)
        return -1;
    p->md = pcre2_match_data_create_from_pattern(p->re, NULL);
    p->mc = pcre2_match_context_create(NULL);
    p->js = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    pcre2_jit_stack_assign(p->mc, NULL, p->js);
    for (int i = 0; i < 256; i++)
        snprintf(p->subjects[i], sizeof p->subjects[i], "+1%s%07u", (i & 1) ? "425" : "206",
                 (unsigned)(rng() % 10000000));
    return 0;
}

static void pcre_free(pcre_ctx *p)
{
    pcre2_jit_stack_free(p->js);
    pcre2_match_context_free(p->mc);
    pcre2_match_data_free(p->md);
    pcre2_code_free(p->re);
}

/* ---- hash of 100,000 user URIs --------------------------------------------------------------- */

typedef struct {
    char *keys;      /* contiguous, 32 bytes a key, NUL-padded */
    uint32_t *slots; /* (tag << 20 | index + 1), 0 empty */
    size_t nkeys, mask;
    uint32_t *probe; /* the order keys are looked up in */
} hash_ctx;

#define KEYW 32

static uint64_t hash_bytes(const char *s, size_t *len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; s[i]; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    *len = i;
    return h ^ (h >> 29);
}

static void hash_setup(hash_ctx *h, size_t n)
{
    h->nkeys = n;
    h->keys = calloc(n, KEYW);
    size_t cap = 1;
    while (cap < n * 2)
        cap <<= 1;
    h->mask = cap - 1;
    h->slots = calloc(cap, sizeof *h->slots);
    h->probe = malloc(65536 * sizeof *h->probe);
    if (!h->keys || !h->slots || !h->probe)
        abort();
    for (size_t i = 0; i < n; i++) {
        char *k = h->keys + i * KEYW;
        snprintf(k, KEYW, "sip:user%06u@contoso.com", (unsigned)(i % 1000000));
        size_t len;
        uint64_t hv = hash_bytes(k, &len);
        size_t at = hv & h->mask;
        while (h->slots[at])
            at = (at + 1) & h->mask;
        h->slots[at] = (uint32_t)((hv >> 52) << 20 | (i + 1));
    }
    for (size_t i = 0; i < 65536; i++)
        h->probe[i] = (uint32_t)(rng() % n);
}

static void hash_lookups(void *ctx, size_t n)
{
    hash_ctx *h = ctx;
    uint64_t acc = 0;
    char key[KEYW];
    for (size_t i = 0; i < n; i++) {
        /* the key comes from the message, not from the table: copy it like a parsed URI */
        memcpy(key, h->keys + (size_t)h->probe[i & 65535] * KEYW, KEYW);
        size_t len;
        uint64_t hv = hash_bytes(key, &len);
        uint32_t tag = (uint32_t)(hv >> 52);
        for (size_t at = hv & h->mask; h->slots[at]; at = (at + 1) & h->mask) {
            uint32_t s = h->slots[at];
            if (s >> 20 != tag)
                continue;
            const char *k = h->keys + (size_t)((s & 0xfffff) - 1) * KEYW;
            if (memcmp(k, key, len + 1) == 0) {
                acc += s & 0xfffff;
                break;
            }
        }
    }
    sink += acc;
}

/* ---- a dependent cache miss ------------------------------------------------------------------ */

typedef struct {
    uint32_t *next;
    size_t n;
} chase_ctx;

/* huge: the table 2 MB-aligned and advised MADV_HUGEPAGE (no page walk on the chase) */
static void chase_setup(chase_ctx *c, size_t bytes, bool huge)
{
    c->n = bytes / sizeof(uint32_t);
    void *p = NULL; /* posix_memalign: any size (aligned_alloc wants a multiple of 2 MB) */
    c->next = huge ? (posix_memalign(&p, 2u << 20, c->n * sizeof *c->next) == 0 ? p : NULL)
                   : malloc(c->n * sizeof *c->next);
    if (!c->next)
        abort();
    if (huge)
        madvise(c->next, c->n * sizeof *c->next, MADV_HUGEPAGE); /* advice only: may be refused */
    for (size_t i = 0; i < c->n; i++)
        c->next[i] = (uint32_t)i;
    for (size_t i = c->n - 1; i > 0; i--) { /* Sattolo: one cycle through every cell */
        size_t j = rng() % i;
        uint32_t t = c->next[i];
        c->next[i] = c->next[j];
        c->next[j] = t;
    }
}

static void chase(void *ctx, size_t n)
{
    chase_ctx *c = ctx;
    uint32_t at = (uint32_t)(sink % c->n);
    for (size_t i = 0; i < n; i++)
        at = c->next[at];
    sink += at;
}

/* ---- a Lua coroutine step -------------------------------------------------------------------- */

typedef struct {
    lua_State *L, *co;
} lua_ctx;

static int lua_step_yield(lua_State *L)
{
    return lua_yield(L, 0);
}

static int lua_setup(lua_ctx *c)
{
    c->L = luaL_newstate();
    if (!c->L)
        return -1;
    lua_register(c->L, "step", lua_step_yield);
    if (luaL_loadstring(c->L, "while true do step() end") != LUA_OK)
        return -1;
    c->co = lua_newthread(c->L);
    lua_insert(c->L, -2);
    lua_xmove(c->L, c->co, 1);
    return 0;
}

static void lua_steps(void *ctx, size_t n)
{
    lua_ctx *c = ctx;
    int nres;
    for (size_t i = 0; i < n; i++)
        if (lua_resume(c->co, c->L, 0, &nres) != LUA_YIELD)
            abort();
}

/* ---- LMDB -------------------------------------------------------------------------------------
 */

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    char dir[64];
    char (*probe)[16]; /* 65,536 keys looked up, made before the timing */
} lmdb_ctx;

static int lmdb_setup(lmdb_ctx *c, size_t n)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/callroute-floor.XXXXXX");
    if (!mkdtemp(c->dir) || mdb_env_create(&c->env) || mdb_env_set_mapsize(c->env, 1ull << 30) ||
        mdb_env_open(c->env, c->dir, MDB_NOSYNC, 0600))
        return -1;
    MDB_txn *w;
    if (mdb_txn_begin(c->env, NULL, 0, &w) || mdb_dbi_open(w, NULL, 0, &c->dbi))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "+1425%07zu", i);
        snprintf(v, sizeof v, "sip:user%06zu@contoso.com", i);
        MDB_val key = {strlen(k), k}, val = {strlen(v), v};
        if (mdb_put(w, c->dbi, &key, &val, 0))
            return -1;
    }
    if (mdb_txn_commit(w) || mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->txn))
        return -1;
    mdb_txn_reset(c->txn);
    c->probe = malloc(65536 * sizeof *c->probe);
    if (!c->probe)
        return -1;
    for (size_t i = 0; i < 65536; i++)
        snprintf(c->probe[i], sizeof c->probe[i], "+1425%07u", (unsigned)(rng() % n));
    return 0;
}

static void lmdb_gets(void *ctx, size_t n)
{
    lmdb_ctx *c = ctx;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        MDB_val key = {12, c->probe[i & 65535]}, val;
        if (mdb_txn_renew(c->txn))
            abort();
        if (mdb_get(c->txn, c->dbi, &key, &val) == 0)
            acc += val.mv_size;
        mdb_txn_reset(c->txn);
    }
    sink += acc;
}

static void lmdb_free(lmdb_ctx *c)
{
    mdb_txn_abort(c->txn);
    mdb_env_close(c->env);
    free(c->probe);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "floor: could not remove %s\n", c->dir);
}

/* ---- a JSON line ------------------------------------------------------------------------------
 */

typedef struct {
    char buf[512];
} json_ctx;

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUTS(p, lit) put(p, lit, sizeof lit - 1)

static char *put_str(char *p, const char *s)
{
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

static void json_lines(void *ctx, size_t n)
{
    json_ctx *c = ctx;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = c->buf;
        p = PUTS(p, "{\"input\":");
        p = put_str(p, "sip:alice@contoso.com +14255550123");
        p = PUTS(p, ",\"decision\":\"outbound\",\"number\":");
        p = put_str(p, "+14255550123");
        p = PUTS(p, ",\"usage\":\"Local\",\"route\":\"Redmond\",\"attempts\":[");
        p = put_str(p, "sip:+14255550123@gw1.contoso.com;user=phone");
        *p++ = ',';
        p = put_str(p, "sip:+14255550123@gw2.contoso.com;user=phone");
        p = PUTS(p, "]}\n");
        acc += (uint64_t)(p - c->buf) + (uint8_t)c->buf[i & 63];
    }
    sink += acc;
}

/* ---- the figures, through the bench plugin ----------------------------------------------------
 */

/* The bench's p50 (and into *p99 its p99), -1 when it cannot run. */
static double bench_p50(const cr_plugin *b, size_t routes, size_t users, double seconds,
                        double *p99)
{
    char gen[96], secs[32];
    snprintf(gen, sizeof gen, "generate=routes=%zu,rules=1000,users=%zu", routes, users);
    snprintf(secs, sizeof secs, "seconds=%g", seconds);
    const char *args[] = {gen, secs};
    cr_result *r = NULL;
    char err[256];
    if (b->bench(args, 2, &r, err, sizeof err) != 0) {
        fprintf(stderr, "floor: bench %s: %s\n", gen, err);
        return -1;
    }
    const char *v = b->result_get(r, "p50_ns"), *w = b->result_get(r, "p99_ns");
    double p50 = v ? strtod(v, NULL) : -1;
    *p99 = w ? strtod(w, NULL) : -1;
    b->result_free(r);
    if (*p99 < 0)
        p50 = -1;
    return p50;
}

static const cr_plugin *bench_open(const char *path)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "floor: %s\n", dlerror());
        return NULL;
    }
    crb_plugin_fn entry = (crb_plugin_fn)dlsym(dl, CRB_PLUGIN_SYMBOL);
    const cr_plugin *b = entry ? entry() : NULL;
    if (!b || !b->bench) {
        fprintf(stderr, "floor: %s has no bench entry point\n", path);
        return NULL;
    }
    return b;
}

/* ---- output -----------------------------------------------------------------------------------
 */

typedef struct {
    const char *name;
    double ns, floor_ns; /* floor_ns 0: the row is a floor itself; < 0: ns is a ratio */
    const char *what;
} row;

static void print_rows(const row *rows, size_t n, int json)
{
    if (json) {
        printf("{");
        for (size_t i = 0; i < n; i++) {
            if (rows[i].floor_ns < 0) {
                printf("%s\"%s\":{\"ratio\":%.2f}", i ? "," : "", rows[i].name, rows[i].ns);
                continue;
            }
            printf("%s\"%s\":{\"ns\":%.1f", i ? "," : "", rows[i].name, rows[i].ns);
            if (rows[i].floor_ns > 0)
                printf(",\"floor_ns\":%.1f,\"multiple\":%.2f", rows[i].floor_ns,
                       rows[i].ns / rows[i].floor_ns);
            printf("}");
        }
        printf("}\n");
        return;
    }
    printf("%-28s %10s %10s %9s  %s\n", "row", "ns", "floor ns", "multiple", "what");
    for (size_t i = 0; i < n; i++) {
        if (rows[i].floor_ns < 0)
            printf("%-28s %9.2fx %10s %9s  %s\n", rows[i].name, rows[i].ns, "-", "-", rows[i].what);
        else if (rows[i].floor_ns > 0)
            printf("%-28s %10.1f %10.1f %8.2fx  %s\n", rows[i].name, rows[i].ns, rows[i].floor_ns,
                   rows[i].ns / rows[i].floor_ns, rows[i].what);
        else
            printf("%-28s %10.1f %10s %9s  %s\n", rows[i].name, rows[i].ns, "-", "floor",
                   rows[i].what);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: floor [--bench-lib PATH] [--seconds S] [--max-routes N] [--json]\n"
               "  measures the floors of callroute's hot paths on this machine; with\n"
               "  --bench-lib (libcallroute-bench.so) also the decision figures, as multiples\n");
}

typedef struct {
    const char *bench_lib;
    double seconds;
    size_t max_routes;
    int json;
} floor_opts;

static int parse_opts(int argc, char **argv, floor_opts *o)
{
    static const struct option longopts[] = {{"bench-lib", required_argument, NULL, 'b'},
                                             {"seconds", required_argument, NULL, 's'},
                                             {"max-routes", required_argument, NULL, 'm'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (floor_opts){NULL, 2.0, 400000, 0};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'b':
            o->bench_lib = optarg;
            break;
        case 's':
            o->seconds = strtod(optarg, &end);
            break;
        case 'm':
            o->max_routes = strtoull(optarg, &end, 10);
            break;
        case 'j':
            o->json = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "floor: '%s' is not a number\n", optarg);
            return -1;
        }
    }
    if (optind != argc || o->seconds <= 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Measures every floor into rows[]; returns how many, or -1. */
static int measure_floors(row *rows)
{
    int n = 0;
    trie t = {0};
    trie_build(&t, 10000, 65536);
    rows[n++] = (row){"trie_walk_12", measure(trie_walks, &t, 1 << 14), 0,
                      "12 digits down a trie of 10,000 route prefixes"};
    free(t.child), free(t.item), free(t.numbers);
    pcre_ctx p = {0};
    if (pcre_setup(&p) != 0) {
        fprintf(stderr, "floor: PCRE2 JIT unavailable\n");
        return -1;
    }
    rows[n++] = (row){"pcre2_jit", measure(pcre_matches, &p, 1 << 14), 0,
                      "one JIT match of ^\\+1(425|206)(\\d{7})$"};
    pcre_free(&p);
    hash_ctx h = {0};
    hash_setup(&h, 100000);
    rows[n++] = (row){"hash_100k", measure(hash_lookups, &h, 1 << 14), 0,
                      "a user URI hashed and found among 100,000"};
    free(h.keys), free(h.slots), free(h.probe);
    rows[n] = (row){"decision", rows[0].ns + rows[1].ns + 2 * rows[2].ns, 0,
                    "trie_walk_12 + pcre2_jit + 2 x hash_100k"};
    n++;
    chase_ctx cc = {0};
    chase_setup(&cc, 256u << 20, false);
    rows[n++] =
        (row){"cache_miss", measure(chase, &cc, 1 << 14), 0, "one dependent load from 256 MB"};
    free(cc.next);
    static const struct {
        const char *name, *what;
        size_t mb;
    } chases[] = {
        {"chase_1m", "one dependent load from 1 MB on 2 MB pages (L2)", 1},
        {"chase_8m", "one dependent load from 8 MB on 2 MB pages (L3)", 8},
        {"chase_16m", "one dependent load from 16 MB on 2 MB pages", 16},
        {"chase_32m", "one dependent load from 32 MB on 2 MB pages", 32},
    };
    for (size_t i = 0; i < sizeof chases / sizeof chases[0]; i++) {
        chase_setup(&cc, chases[i].mb << 20, true);
        rows[n++] = (row){chases[i].name, measure(chase, &cc, 1 << 14), 0, chases[i].what};
        free(cc.next);
    }
    lua_ctx lc = {0};
    if (lua_setup(&lc) != 0)
        return -1;
    rows[n++] = (row){"lua_yield", measure(lua_steps, &lc, 1 << 12), 0,
                      "a coroutine resumed from C until it yields"};
    lua_close(lc.L);
    lmdb_ctx lm = {0};
    if (lmdb_setup(&lm, 100000) != 0) {
        fprintf(stderr, "floor: LMDB setup failed\n");
        return -1;
    }
    rows[n++] = (row){"lmdb_get", measure(lmdb_gets, &lm, 1 << 12), 0,
                      "renewed read txn + mdb_get among 100,000"};
    lmdb_free(&lm);
    json_ctx jc;
    rows[n++] = (row){"json_line", measure(json_lines, &jc, 1 << 14), 0,
                      "a decision as one JSON line, reused buffer"};
    return n;
}

int main(int argc, char **argv)
{
    floor_opts o;
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    row rows[24];
    int n = measure_floors(rows);
    if (n < 0)
        return 1;
    double decision_floor = rows[3].ns;
    if (o.bench_lib) {
        const cr_plugin *b = bench_open(o.bench_lib);
        if (!b)
            return 1;
        static const char *names[] = {"decision_p50_10k", "decision_p50_100", "decision_p50_max"};
        static const char *names99[] = {"decision_p99_10k", "decision_p99_100", "decision_p99_max"};
        size_t routes[] = {10000, 100, o.max_routes};
        size_t users[] = {100000, 100000, 100000};
        double p50[3], p99[3];
        for (int i = 0; i < 3; i++) {
            p50[i] = bench_p50(b, routes[i], users[i], o.seconds, &p99[i]);
            if (p50[i] < 0)
                return 1;
            static char what[3][96];
            snprintf(what[i], sizeof what[i],
                     "callroute bench p50, %zu routes / 1,000 rules / "
                     "100,000 users",
                     routes[i]);
            rows[n++] = (row){names[i], p50[i], decision_floor, what[i]};
        }
        for (int i = 0; i < 3; i++)
            rows[n++] = (row){names99[i], p99[i], decision_floor, "the same runs' p99"};
        static char growth[96];
        snprintf(growth, sizeof growth, "decision_p50_max / decision_p50_100 (%zu / 100 routes)",
                 o.max_routes);
        rows[n++] = (row){"growth", p50[1] > 0 ? p50[2] / p50[1] : 0, -1, growth};
    }
    print_rows(rows, (size_t)n, o.json);
    return 0;
}
