/*
 * `callroute bench`: decisions per second and latency of the routing engine, the compiled
 * index against the naive scan in the same run, load time and memory, and reloads under
 * load (see bench.h for the arguments).
 *
 * The synthetic plan (--generate routes=N,rules=M,users=U) is what a large North American
 * enterprise or carrier writes: an emergency route, NPA-NXX routes (+1 area code + exchange),
 * area-code routes with alternations, international routes by country and city code, and the
 * planning guide's Universal Route with its lookahead at the end; a location profile of
 * site-code rules (8 + site + extension, 7 + site + extension) followed by the usual 7-, 10-
 * and 11-digit and 011 rules; users with line URIs at the sites. It is written as XML and
 * loaded through the real loader, so load_ms is the real parse + compile time.
 */
#include "bench.h"
#include "cr_rules.h"
#include "handle.h"
#include "result.h"
#include "route_index.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers -------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Resident and peak resident memory of the process, from /proc/self/status. */
static void rss(size_t *cur, size_t *peak)
{
    char line[256];
    *cur = *peak = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *cur = strtoull(line + 6, NULL, 10) * 1024;
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *peak = strtoull(line + 6, NULL, 10) * 1024;
    }
    fclose(f);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rnd(rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

static uint32_t below(rng *r, uint32_t n)
{
    return n ? rnd(r) % n : 0;
}

/* Latency samples: all of them up to `cap`, then a uniform reservoir. */
typedef struct samples {
    uint32_t *v;
    size_t n, cap, seen;
    uint64_t max, total_ns;
    rng r;
} samples;

static bool samples_init(samples *s, size_t cap, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->v = malloc(cap * sizeof *s->v);
    s->cap = cap;
    s->r.s = seed;
    return s->v != NULL;
}

static void samples_add(samples *s, uint64_t ns)
{
    uint32_t v = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    s->total_ns += ns;
    if (ns > s->max)
        s->max = ns;
    s->seen++;
    if (s->n < s->cap) {
        s->v[s->n++] = v;
        return;
    }
    uint64_t k = ((uint64_t)rnd(&s->r) << 31 ^ rnd(&s->r)) % s->seen;
    if (k < s->cap)
        s->v[k] = v;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the samples; then samples_pct gives percentiles. */
static void samples_sort(samples *s)
{
    qsort(s->v, s->n, sizeof *s->v, u32_cmp);
}

static double samples_pct(const samples *s, double p)
{
    if (!s->n)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[k];
}

/* ---- the synthetic plan ------------------------------------------------------------------- */

typedef struct plan {
    size_t routes, rules, users;
    uint64_t seed;
    size_t nsites;                 /* sites with a site-code rule */
    size_t site_rules;             /* how many of the rules are site-code rules */
    size_t npa_routes, nxx_routes; /* area-code and exchange routes */
} plan;

/* NANP numbering: area codes (NPA) and exchanges (NXX) without N11 codes and N9X areas. The
 * first area codes are the Puget Sound, New York and Dallas ones. */
static uint16_t npa_list[800], nxx_list[800];
static size_t n_npa, n_nxx;

static void nanp_init(void)
{
    static const uint16_t first[] = {425, 206, 253, 212, 646, 917, 972, 214, 469};
    if (n_npa)
        return;
    for (size_t i = 0; i < sizeof first / sizeof *first; i++)
        npa_list[n_npa++] = first[i];
    for (unsigned a = 201; a <= 989; a++) {
        bool dup = false;
        for (size_t i = 0; i < sizeof first / sizeof *first; i++)
            dup |= first[i] == a;
        if (dup || a % 100 == 11 || (a / 10) % 10 == 9)
            continue;
        npa_list[n_npa++] = (uint16_t)a;
    }
    for (unsigned x = 200; x <= 999; x++)
        if (x % 100 != 11)
            nxx_list[n_nxx++] = (uint16_t)x;
}

/* The i-th NPA-NXX combination (area code by area code). */
static void combo(size_t i, unsigned *npa, unsigned *nxx)
{
    *npa = npa_list[(i / n_nxx) % n_npa];
    *nxx = nxx_list[i % n_nxx];
}

static const struct {
    const char *cc;
    const char *cities[4];
} countries[] = {
    {"44", {"20", "113", "121", "161"}}, {"33", {"1", "4", "6", "9"}},
    {"49", {"30", "40", "69", "89"}},    {"81", {"3", "6", "45", "52"}},
    {"86", {"10", "21", "20", "755"}},   {"91", {"11", "22", "80", "44"}},
    {"52", {"55", "33", "81", "664"}},   {"61", {"2", "3", "7", "8"}},
    {"7", {"495", "812", "343", "383"}}, {"353", {"1", "21", "61", "91"}},
    {"972", {"2", "3", "4", "8"}},       {"27", {"11", "21", "31", "12"}},
};
#define NCOUNTRIES (sizeof countries / sizeof *countries)

static const char *const generic_rules[][3] = {
    {"Emergency", "^911$", "911"},
    {"7digitLocal", "^(\\d{7})$", "+1425$1"},
    {"10digitNational", "^(\\d{10})$", "+1$1"},
    {"11digitNational", "^1(\\d{10})$", "+1$1"},
    {"International", "^011(\\d*)$", "+$1"},
    {"E164", "^\\+(\\d*)$", "+$1"},
};
#define NGENERIC (sizeof generic_rules / sizeof *generic_rules)

static void plan_init(plan *p)
{
    nanp_init();
    p->site_rules = p->rules > NGENERIC ? p->rules - NGENERIC : 0;
    p->nsites = p->site_rules > 1000 ? p->site_rules : 1000;
    /* area-code routes cover each area code once; international routes take a tenth; the
     * rest are exchange routes */
    size_t n = p->routes;
    p->npa_routes = n / 10 < n_npa / 3 ? n / 10 : n_npa / 3;
    p->nxx_routes = n > p->npa_routes + n / 10 + 3 ? n - p->npa_routes - n / 10 - 3 : 0;
}

/* Site s dials "8SSS" + 4-digit extension (the first 1000) or "7SSSS" + extension. */
static void site_code(size_t s, char *buf, size_t len)
{
    if (s < 1000)
        snprintf(buf, len, "8%03zu", s);
    else
        snprintf(buf, len, "7%04zu", s % 10000);
}

/* Line number of user i: at site i % 1000, extension i / 1000. */
static void user_line(size_t i, char *buf, size_t len)
{
    unsigned npa, nxx;
    combo(i % 1000, &npa, &nxx);
    snprintf(buf, len, "+1%03u%03u%04zu", npa, nxx, (i / 1000) % 10000);
}

/* Large plans are split into included files (the loader takes files of up to 64 MB; a
 * document's nodes take ~1.5 KB a route while it is loaded, so smaller files keep the peak
 * down):
 * PATH.r0.xml, PATH.r1.xml, ... for routes and PATH.u0.xml, ... for users. */
#define ROUTES_PER_FILE 25000
#define USERS_PER_FILE  50000

typedef struct chunks {
    FILE *main, *cur;
    const char *path, *section;
    char kind;
    size_t k;
    bool failed;
} chunks;

static void chunk_close(chunks *c)
{
    if (!c->cur)
        return;
    fprintf(c->cur, "  </%s>\n</callroute>\n", c->section);
    c->failed |= fclose(c->cur) != 0;
    c->cur = NULL;
}

/* Starts the next included file of a section. */
static FILE *chunk_next(chunks *c)
{
    char name[1100];
    chunk_close(c);
    snprintf(name, sizeof name, "%s.%c%zu.xml", c->path, c->kind, c->k);
    const char *base = strrchr(name, '/');
    fprintf(c->main, "  <include href=\"%s\"/>\n", base ? base + 1 : name);
    c->k++;
    c->cur = fopen(name, "w");
    if (!c->cur) {
        c->failed = true;
        return NULL;
    }
    fprintf(c->cur,
            "<?xml version=\"1.0\"?>\n<callroute xmlns=\"urn:callroute:config:1\">\n  <%s>\n",
            c->section);
    return c->cur;
}

/* Removes a plan written at `path` and its included files. */
static void remove_plan(const char *path)
{
    char name[1100];
    unlink(path);
    for (int kind = 0; kind < 2; kind++)
        for (size_t k = 0;; k++) {
            snprintf(name, sizeof name, "%s.%c%zu.xml", path, kind ? 'u' : 'r', k);
            if (unlink(name) != 0)
                break;
        }
}

static int write_plan(const plan *p, const char *path, char tag)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return CR_EIO;
    chunks rc = {f, NULL, path, "routes", 'r', 0, false};
    chunks uc = {f, NULL, path, "users", 'u', 0, false};
    FILE *o = NULL;
    size_t ngw = p->routes / 50;
    if (ngw < 4)
        ngw = 4;
    if (ngw > 1000)
        ngw = 1000;
    fprintf(f, "<?xml version=\"1.0\"?>\n<callroute xmlns=\"urn:callroute:config:1\">\n"
               "  <domains><domain>example.com</domain></domains>\n"
               "  <locationProfiles default=\"HQ\">\n"
               "    <locationProfile name=\"HQ\" description=\"Headquarters\" "
               "externalAccessPrefix=\"9\">\n");
    char code[16];
    for (size_t s = 0; s < p->site_rules; s++) {
        unsigned npa, nxx;
        combo(s, &npa, &nxx);
        site_code(s, code, sizeof code);
        fprintf(f,
                "      <rule name=\"Site %zu#%c\" pattern=\"^%s(\\d{4})$\" "
                "translation=\"+1%03u%03u$1\" internalExtension=\"true\"/>\n",
                s, tag, code, npa, nxx);
    }
    for (size_t g = 0; g < NGENERIC && g < p->rules; g++)
        fprintf(f, "      <rule name=\"%s#%c\" pattern=\"%s\" translation=\"%s\"/>\n",
                generic_rules[g][0], tag, generic_rules[g][1], generic_rules[g][2]);
    fprintf(f, "    </locationProfile>\n  </locationProfiles>\n"
               "  <phoneUsages><usage name=\"Emergency\"/><usage name=\"Local\"/>"
               "<usage name=\"LongDistance\"/><usage name=\"International\"/></phoneUsages>\n"
               "  <voicePolicies default=\"Default\">\n"
               "    <voicePolicy name=\"Default\"><usage>Emergency</usage><usage>Local</usage>"
               "<usage>LongDistance</usage><usage>International</usage></voicePolicy>\n"
               "    <voicePolicy name=\"Restricted\" simultaneousRing=\"false\">"
               "<usage>Emergency</usage><usage>Local</usage></voicePolicy>\n"
               "  </voicePolicies>\n  <gateways>\n");
    for (size_t g = 0; g < ngw; g++)
        fprintf(f, "    <gateway name=\"gw%zu#%c\" address=\"sip:10.%zu.%zu.%zu:5060\"/>\n", g, tag,
                1 + g / 62500, (g / 250) % 250, 1 + g % 250);
    fprintf(f, "  </gateways>\n");
    size_t n = p->routes, fixed_tail = n >= 4 ? 2 : 0, r = 0;
    size_t n_npa_routes = p->npa_routes, n_nxx_routes = p->nxx_routes;
#define ROUTE(usage, fmt, ...)                                                                     \
    do {                                                                                           \
        if (r % ROUTES_PER_FILE == 0 && !(o = chunk_next(&rc)))                                    \
            goto fail;                                                                             \
        fprintf(o, "    <route name=\"r%zu#%c\" pattern=\"" fmt "\"><usage>%s</usage>", r, tag,    \
                __VA_ARGS__, usage);                                                               \
        fprintf(o, "<gateway>gw%zu#%c</gateway><gateway>gw%zu#%c</gateway></route>\n",             \
                (r * 7) % ngw, tag, (r * 13 + 1) % ngw, tag);                                      \
        r++;                                                                                       \
    } while (0)
    if (n)
        ROUTE("Emergency", "^%s$", "911");
    for (size_t i = 0; i < n_nxx_routes && r < n - fixed_tail; i++) {
        unsigned npa, nxx;
        combo(i, &npa, &nxx);
        ROUTE(i / n_nxx < 3 ? "Local" : "LongDistance", "^\\+1%03u%03u(\\d{4})$", npa, nxx);
    }
    for (size_t i = 0; i < n_npa_routes && r < n - fixed_tail; i++)
        ROUTE("LongDistance", "^\\+1(%03u|%03u|%03u)(\\d{7})$", npa_list[(3 * i) % n_npa],
              npa_list[(3 * i + 1) % n_npa], npa_list[(3 * i + 2) % n_npa]);
    for (size_t i = 0; r < n - fixed_tail; i++) {
        size_t c = i % NCOUNTRIES, k = (i / NCOUNTRIES) % 4;
        if (i / NCOUNTRIES < 4)
            ROUTE("International", "^\\+%s(%s)(\\d{6,8})$", countries[c].cc,
                  countries[c].cities[k]);
        else /* more routes than cities: per-exchange routes inside the city */
            ROUTE("International", "^\\+%s%s%03zu(\\d{3,5})$", countries[c].cc,
                  countries[c].cities[k], (i / (NCOUNTRIES * 4)) % 1000);
    }
    if (fixed_tail) {
        ROUTE("International", "%s", "^\\+?(?!(1900|1411))(\\d*)$");
        ROUTE("International", "%s", "^\\+([2-9])(\\d*)$");
    }
#undef ROUTE
    chunk_close(&rc);
    char line[32];
    for (size_t i = 0; i < p->users; i++) {
        if (i % USERS_PER_FILE == 0 && !(o = chunk_next(&uc)))
            goto fail;
        user_line(i, line, sizeof line);
        fprintf(o,
                "    <user uri=\"sip:u%zu@example.com\" line=\"tel:%s\" "
                "enterpriseVoice=\"true\"%s/>\n",
                i, line, i % 10 == 9 ? " voicePolicy=\"Restricted\"" : "");
    }
    chunk_close(&uc);
    fprintf(f, "</callroute>\n");
    return fclose(f) == 0 && !rc.failed && !uc.failed ? CR_OK : CR_EIO;
fail:
    chunk_close(&rc);
    chunk_close(&uc);
    fclose(f);
    return CR_EIO;
}

/* ---- numbers -------------------------------------------------------------------------- */

typedef struct call {
    char *from, *dialed;
} call;

typedef struct calls {
    call *v;
    size_t n, cap;
} calls;

static bool calls_add(calls *c, const char *from, const char *dialed)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        call *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return false;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n].from = strdup(from);
    c->v[c->n].dialed = strdup(dialed);
    if (!c->v[c->n].from || !c->v[c->n].dialed)
        return false;
    c->n++;
    return true;
}

static void calls_free(calls *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].from);
        free(c->v[i].dialed);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* A mix of what users dial: site codes, national, E.164, international, emergency. */
static bool gen_calls(const plan *p, size_t count, rng *r, calls *out)
{
    char from[64], num[64], line[32];
    size_t combos = p->nxx_routes > 1000 ? p->nxx_routes : 1000;
    for (size_t i = 0; i < count; i++) {
        snprintf(from, sizeof from, "sip:u%u@example.com", below(r, (uint32_t)p->users));
        unsigned npa, nxx, k = below(r, 100);
        combo(below(r, (uint32_t)combos), &npa, &nxx);
        unsigned sub = below(r, 10000);
        if (k < 30 && p->site_rules) { /* site code + extension */
            char code[16];
            size_t s = below(r, (uint32_t)(p->site_rules < 1000 ? p->site_rules : 1000));
            site_code(s, code, sizeof code);
            snprintf(num, sizeof num, "%s%04u", code, below(r, (uint32_t)(p->users / 1000 + 1)));
        } else if (k < 50) {
            snprintf(num, sizeof num, "%03u%03u%04u", npa, nxx, sub);
        } else if (k < 65) {
            snprintf(num, sizeof num, "1%03u%03u%04u", npa, nxx, sub);
        } else if (k < 75) {
            snprintf(num, sizeof num, "+1 (%03u) %03u-%04u", npa, nxx, sub);
        } else if (k < 85) {
            size_t c = below(r, NCOUNTRIES);
            snprintf(num, sizeof num, "011%s%s%03u%04u", countries[c].cc,
                     countries[c].cities[below(r, 4)], below(r, 1000), sub);
        } else if (k < 90) {
            snprintf(num, sizeof num, "%03u%04u", nxx, sub);
        } else if (k < 95) {
            user_line(below(r, (uint32_t)p->users), line, sizeof line);
            snprintf(num, sizeof num, "%s", line);
        } else if (k < 97) {
            snprintf(num, sizeof num, "911");
        } else {
            snprintf(num, sizeof num, "1900%03u%04u", nxx, sub);
        }
        if (!calls_add(out, from, num))
            return false;
    }
    return true;
}

/* Numbers for a configuration the generator did not write: the literal prefixes of its
 * routes padded with digits, dialed by its enterprise-voice users. */
static bool derive_calls(const cr_config *cfg, size_t count, rng *r, calls *out)
{
    cr_pattern_info *info = malloc(sizeof *info);
    const char *froms[64];
    size_t nfrom = 0;
    for (size_t i = 0; i < cr_config_user_count(cfg) && nfrom < 64; i++)
        if (cr_config_user_at(cfg, i)->enterprise_voice)
            froms[nfrom++] = cr_config_user_at(cfg, i)->uri;
    size_t nroutes = cr_config_route_count(cfg);
    if (!info || !nfrom || !nroutes) {
        free(info);
        return nfrom && info;
    }
    char num[CR_NUMBER_MAX + 1];
    for (size_t i = 0; i < count; i++) {
        cr_pattern_analyse(cr_config_route_at(cfg, below(r, (uint32_t)nroutes))->pattern, info);
        size_t o = 0;
        if (info->kind == CR_PX_SET)
            o = (size_t)snprintf(num, sizeof num, "%s",
                                 info->prefixes[below(r, (uint32_t)info->nprefixes)]);
        size_t want = info->kind == CR_PX_SET ? info->minlen : 11;
        if (want < o + 1)
            want = o + 1 + below(r, 4);
        while (o < want && o < 16)
            num[o++] = (char)('0' + below(r, 10));
        num[o] = 0;
        if (!calls_add(out, froms[below(r, (uint32_t)nfrom)], num)) {
            free(info);
            return false;
        }
    }
    free(info);
    return true;
}

static int read_calls(const char *path, const cr_config *cfg, calls *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return CR_EIO;
    const char *deflt = NULL;
    for (size_t i = 0; i < cr_config_user_count(cfg) && !deflt; i++)
        if (cr_config_user_at(cfg, i)->enterprise_voice)
            deflt = cr_config_user_at(cfg, i)->uri;
    char line[1024];
    int rc = CR_OK;
    while (rc == CR_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *sp = strpbrk(p, " \t");
        if (sp && strncmp(p, "sip:", 4) == 0) {
            *sp++ = 0;
            while (*sp == ' ' || *sp == '\t')
                sp++;
            rc = calls_add(out, p, sp) ? CR_OK : CR_ENOMEM;
        } else {
            rc = calls_add(out, deflt ? deflt : "sip:nobody@invalid", p) ? CR_OK : CR_ENOMEM;
        }
    }
    fclose(f);
    return rc;
}

/* Writes the calls next to the saved plan (FILE.numbers, "FROM NUMBER" lines). */
static void save_calls(const calls *cl, const char *plan_path)
{
    char path[1100];
    snprintf(path, sizeof path, "%s.numbers", plan_path);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (size_t i = 0; i < cl->n; i++)
        fprintf(f, "%s %s\n", cl->v[i].from, cl->v[i].dialed);
    fclose(f);
}

/* ---- phase 1: indexed against naive, one thread ------------------------------------------ */

static uint32_t spread_counter(void *ud)
{
    return (*(uint32_t *)ud)++;
}

/* Two decisions say the same thing (kind, rule, number, attempts). */
static bool same(const cr_decision *a, const cr_decision *b)
{
    if (a->kind != b->kind || a->rule != b->rule || a->callee != b->callee ||
        strcmp(a->normalized, b->normalized) != 0 || a->nattempts != b->nattempts)
        return false;
    for (size_t i = 0; i < a->nattempts; i++)
        if (a->attempts[i].route != b->attempts[i].route ||
            a->attempts[i].gateway != b->attempts[i].gateway)
            return false;
    return true;
}

typedef struct phase1 {
    samples idx, naive;
    uint64_t idx_ns, naive_ns; /* wall time of each kind of block */
    size_t verified, mismatches;
    size_t outbound, internal, blocked, other;
} phase1;

static void run_phase1(cr_config *cfg, const calls *cl, double seconds, phase1 *ph)
{
    static cr_decision a, b; /* large: not on the stack */
    uint32_t c1 = 0, c2 = 0;
    cr_runtime rt1 = {.ud = &c1, .spread = spread_counter};
    cr_runtime rt2 = {.ud = &c2, .spread = spread_counter};
    /* Same answers both ways, for every number (and a warm cache for both). */
    uint64_t stop = now_ns() + (uint64_t)(seconds * 1e9);
    for (size_t i = 0; i < cl->n && (i < 100 || now_ns() < stop); i++) {
        cr_config_set_naive(cfg, false);
        cr_route_decide(cfg, cl->v[i].from, cl->v[i].dialed, &rt1, &a, NULL);
        cr_config_set_naive(cfg, true);
        cr_route_decide(cfg, cl->v[i].from, cl->v[i].dialed, &rt2, &b, NULL);
        ph->verified++;
        ph->mismatches += !same(&a, &b);
        if (a.kind == CR_OUTBOUND)
            ph->outbound++;
        else if (a.kind == CR_INTERNAL)
            ph->internal++;
        else if (a.kind == CR_BLOCKED)
            ph->blocked++;
        else
            ph->other++;
    }
    cr_config_set_naive(cfg, false);
    /* Alternating blocks of the same numbers, so that both see the same machine (other
     * tenants' load changes over seconds, not microseconds). A block lasts SLICE_NS: a naive
     * scan walks megabytes of patterns and evicts the caches the index decides from, which no
     * host pays between its decisions; in long blocks only the first decisions after a switch
     * see that (with blocks of 256 decisions, every decision did). */
    const uint64_t SLICE_NS = 20000000;
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    size_t pi = 0, pn = 0, block = 256;
    while (now_ns() < end) {
        uint64_t t0 = now_ns();
        while (now_ns() - t0 < SLICE_NS)
            for (size_t k = 0; k < block; k++) {
                const call *c = &cl->v[pi++ % cl->n];
                uint64_t s = now_ns();
                cr_route_decide(cfg, c->from, c->dialed, &rt1, &a, NULL);
                samples_add(&ph->idx, now_ns() - s);
            }
        uint64_t t1 = now_ns();
        ph->idx_ns += t1 - t0;
        cr_config_set_naive(cfg, true);
        /* give the naive scan about the same wall time, at least a few decisions */
        while (now_ns() - t1 < t1 - t0 || now_ns() == t1) {
            const call *c = &cl->v[pn++ % cl->n];
            uint64_t s = now_ns();
            cr_route_decide(cfg, c->from, c->dialed, &rt2, &b, NULL);
            samples_add(&ph->naive, now_ns() - s);
        }
        ph->naive_ns += now_ns() - t1;
        cr_config_set_naive(cfg, false);
    }
}

/* ---- phase 2: reloads while threads decide ---------------------------------------------- */

typedef struct phase2 {
    cr_handle *h;
    const calls *cl;
    const signed char *kinds; /* expected decision kind per call (from phase 1) */
    _Atomic bool stop;
    _Atomic bool reloading; /* false during the baseline (same threads, no reloads) */
    bool check_mix;
} phase2;

typedef struct worker {
    phase2 *ph;
    pthread_t tid;
    size_t first;
    samples lat;
    size_t decisions, failures, mixes, slow; /* slow: over 1 ms */
    uint64_t base_max;                       /* longest decision before reloads started */
    size_t base_decisions, base_slow;
} worker;

static char name_tag(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 2 && name[n - 2] == '#' ? name[n - 1] : 0;
}

/* True when the decision names objects of two configurations (tags a and b). */
static bool mixed(const cr_decision *d)
{
    char tag = d->rule ? name_tag(d->rule->name) : 0;
    for (size_t i = 0; i < d->nattempts; i++) {
        char t1 = name_tag(d->attempts[i].route->name), t2 = name_tag(d->attempts[i].gateway->name);
        if (!tag)
            tag = t1;
        if (t1 != tag || t2 != tag)
            return true;
    }
    return false;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    phase2 *ph = w->ph;
    cr_decision *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    size_t i = w->first;
    while (!atomic_load_explicit(&ph->stop, memory_order_relaxed)) {
        const call *c = &ph->cl->v[i % ph->cl->n];
        uint64_t t0 = now_ns();
        crp_runtime_ud ud = {ph->h, NULL, 0, 0};
        cr_runtime rt;
        crp_runtime_init(&rt, &ud);
        int token;
        const crp_snapshot *s = crp_snapshot_acquire(ph->h, &token);
        int rc = cr_route_decide(s->cfg, c->from, c->dialed, &rt, d, NULL);
        bool fail = rc != CR_OK || (signed char)d->kind != ph->kinds[i % ph->cl->n];
        bool mix = ph->check_mix && mixed(d);
        crp_snapshot_release(ph->h, token);
        uint64_t ns = now_ns() - t0;
        if (!atomic_load_explicit(&ph->reloading, memory_order_relaxed)) {
            w->base_decisions++;
            w->base_slow += ns > 1000000;
            if (ns > w->base_max)
                w->base_max = ns;
            i++;
            continue;
        }
        samples_add(&w->lat, ns);
        w->decisions++;
        w->failures += fail;
        w->mixes += mix;
        w->slow += ns > 1000000;
        i++;
    }
    free(d);
    return NULL;
}

typedef struct reload_stats {
    size_t reloads, failed;
    uint64_t total_ns, max_ns;
    size_t rss_first, rss_warm, rss_last; /* warm: after the 100th reload */
} reload_stats;

/* ---- the entry ----------------------------------------------------------------------------- */

typedef struct opts {
    const char *config, *generate, *numbers, *save;
    double seconds;
    long reload_ms, reloads, threads;
    uint64_t seed;
} opts;

static const char *arg_value(const char *a, const char *key)
{
    size_t n = strlen(key);
    return strncmp(a, key, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

static int parse_opts(const char *const *args, size_t nargs, opts *o, plan *p, char *err,
                      size_t errlen)
{
    memset(o, 0, sizeof *o);
    memset(p, 0, sizeof *p);
    o->seconds = 2;
    o->threads = 2;
    o->seed = 1;
    for (size_t i = 0; i < nargs; i++) {
        const char *a = args[i], *v;
        if ((v = arg_value(a, "config")))
            o->config = v;
        else if ((v = arg_value(a, "generate")))
            o->generate = v;
        else if ((v = arg_value(a, "numbers")))
            o->numbers = v;
        else if ((v = arg_value(a, "save")))
            o->save = v;
        else if ((v = arg_value(a, "seconds")))
            o->seconds = strtod(v, NULL);
        else if ((v = arg_value(a, "reload_ms")))
            o->reload_ms = strtol(v, NULL, 10);
        else if ((v = arg_value(a, "reloads")))
            o->reloads = strtol(v, NULL, 10);
        else if ((v = arg_value(a, "threads")))
            o->threads = strtol(v, NULL, 10);
        else if ((v = arg_value(a, "seed")))
            o->seed = strtoull(v, NULL, 10);
        else {
            snprintf(err, errlen, "unknown bench argument '%s'", a);
            return CR_EINVAL;
        }
    }
    if (!o->config == !o->generate) {
        snprintf(err, errlen, "give either config=FILE or generate=routes=N,rules=M,users=U");
        return CR_EINVAL;
    }
    if (o->seconds <= 0 || o->seconds > 3600 || o->threads < 1 || o->threads > 64 ||
        o->reload_ms < 0 || o->reloads < 0) {
        snprintf(err, errlen, "seconds, threads, reload_ms or reloads out of range");
        return CR_EINVAL;
    }
    if (o->generate) {
        p->routes = 1000, p->rules = 100, p->users = 1000;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", o->generate);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            long long n = eq ? strtoll(eq + 1, NULL, 10) : -1;
            if (!eq || n < 0 || n > 10000000) {
                snprintf(err, errlen, "generate: '%s' is not key=N", t);
                return CR_EINVAL;
            }
            *eq = 0;
            if (strcmp(t, "routes") == 0)
                p->routes = (size_t)n;
            else if (strcmp(t, "rules") == 0)
                p->rules = (size_t)n;
            else if (strcmp(t, "users") == 0)
                p->users = (size_t)n;
            else {
                snprintf(err, errlen, "generate: unknown key '%s' (routes, rules, users)", t);
                return CR_EINVAL;
            }
        }
        if (p->users < 1)
            p->users = 1;
        if (p->users > 10000000)
            p->users = 10000000;
        p->seed = o->seed;
        plan_init(p);
    }
    return CR_OK;
}

static void set_rss(cr_result *r, const char *key, size_t v)
{
    crp_set_num(r, NULL, key, (double)v);
}

int crp_bench(const char *const *args, size_t nargs, cr_result **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    opts o;
    plan p;
    int rc = parse_opts(args, nargs, &o, &p, err, errlen);
    if (rc != CR_OK)
        return rc;

    /* the configuration (and its twin for reloads) */
    char path_a[512] = "", path_b[520] = "";
    bool remove_a = false, remove_b = false;
    if (o.generate) {
        if (o.save) {
            snprintf(path_a, sizeof path_a, "%s", o.save);
        } else {
            const char *tmp = getenv("TMPDIR");
            snprintf(path_a, sizeof path_a, "%s/callroute-bench-%d-a.xml", tmp ? tmp : "/tmp",
                     (int)getpid());
            remove_a = true;
        }
        if ((rc = write_plan(&p, path_a, 'a')) != CR_OK) {
            snprintf(err, errlen, "cannot write %s", path_a);
            goto done;
        }
        if (o.reload_ms || o.reloads) {
            snprintf(path_b, sizeof path_b, "%s.b.xml", path_a);
            remove_b = true;
            if ((rc = write_plan(&p, path_b, 'b')) != CR_OK) {
                snprintf(err, errlen, "cannot write %s", path_b);
                goto done;
            }
        }
    } else {
        snprintf(path_a, sizeof path_a, "%s", o.config);
    }
    size_t rss_start, peak;
    rss(&rss_start, &peak);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    uint64_t t0 = now_ns();
    cr_handle *h = NULL;
    rc = crp_handle_open(path_a, NULL, &h, err, errlen);
    double load_ms = (double)(now_ns() - t0) / 1e6;
    /* CPU time too: on a shared machine wall time also counts other processes */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double load_cpu_ms =
        (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
    if (rc != CR_OK)
        goto done;
    size_t rss_loaded;
    rss(&rss_loaded, &peak);
    /* live heap (what the configuration holds, the loader's freed memory excluded) */
    /* (blocks malloc serves from mmap count too; free_heap is what malloc keeps unused) */
    struct mallinfo2 mi = mallinfo2();
    size_t heap_loaded = mi.uordblks + mi.hblkhd, heap_free = mi.fordblks;
    int token;
    cr_config *cfg = crp_snapshot_acquire(h, &token)->cfg;

    calls cl = {0};
    rng r = {o.seed * 0x9e3779b97f4a7c15ull + 7};
    if (o.numbers)
        rc = read_calls(o.numbers, cfg, &cl);
    else if (o.generate)
        rc = gen_calls(&p, 20000, &r, &cl) ? CR_OK : CR_ENOMEM;
    else
        rc = derive_calls(cfg, 20000, &r, &cl) ? CR_OK : CR_ENOMEM;
    if (rc == CR_OK && cl.n == 0)
        rc = CR_EINVAL;
    if (rc == CR_OK && o.save && !o.numbers)
        save_calls(&cl, o.save);
    if (rc != CR_OK) {
        snprintf(err, errlen, "no numbers to dial (%s)", o.numbers ? o.numbers : "generated");
        crp_snapshot_release(h, token);
        crp_handle_close(h);
        calls_free(&cl);
        goto done;
    }

    phase1 ph1;
    memset(&ph1, 0, sizeof ph1);
    signed char *kinds = calloc(cl.n, 1);
    if (!kinds || !samples_init(&ph1.idx, 1u << 21, 1) || !samples_init(&ph1.naive, 1u << 20, 2)) {
        rc = CR_ENOMEM;
        free(kinds);
        free(ph1.idx.v);
        free(ph1.naive.v);
        crp_snapshot_release(h, token);
        crp_handle_close(h);
        calls_free(&cl);
        goto done;
    }
    run_phase1(cfg, &cl, o.seconds, &ph1);
    {
        static cr_decision d;
        for (size_t i = 0; i < cl.n; i++) {
            cr_route_decide(cfg, cl.v[i].from, cl.v[i].dialed, NULL, &d, NULL);
            kinds[i] = (signed char)d.kind;
        }
    }
    cr_index_stats st;
    cr_config_index_stats(cfg, &st);
    size_t nroutes = cr_config_route_count(cfg), nusers = cr_config_user_count(cfg), nrules = 0;
    for (size_t i = 0; i < cr_config_profile_count(cfg); i++)
        nrules += cr_config_profile_at(cfg, i)->nrules;
    crp_snapshot_release(h, token);
    samples_sort(&ph1.idx);
    samples_sort(&ph1.naive);

    cr_result *res = crp_result_new("bench", 0);
    if (!res) {
        rc = CR_ENOMEM;
        goto phase2_skip;
    }
    crp_set_str(res, NULL, "config", o.generate ? (o.save ? o.save : "generated") : o.config);
    crp_set_num(res, NULL, "routes", (double)nroutes);
    crp_set_num(res, NULL, "rules", (double)nrules);
    crp_set_num(res, NULL, "users", (double)nusers);
    crp_set_num(res, NULL, "numbers", (double)cl.n);
    crp_set_num(res, NULL, "load_ms", (double)(long long)(load_ms * 10) / 10);
    crp_set_num(res, NULL, "load_cpu_ms", (double)(long long)(load_cpu_ms * 10) / 10);
    double p50 = samples_pct(&ph1.idx, 50), naive50 = samples_pct(&ph1.naive, 50);
    crp_set_num(res, NULL, "decisions_per_sec",
                ph1.idx.total_ns
                    ? (double)(long long)(1e9 * (double)ph1.idx.seen / (double)ph1.idx.total_ns)
                    : 0);
    crp_set_num(res, NULL, "p50_ns", p50);
    crp_set_num(res, NULL, "p99_ns", samples_pct(&ph1.idx, 99));
    crp_set_num(res, NULL, "naive_p50_ns", naive50);
    crp_set_num(res, NULL, "naive_p99_ns", samples_pct(&ph1.naive, 99));
    crp_set_num(res, NULL, "speedup", p50 > 0 ? (double)(long long)(naive50 / p50 * 10) / 10 : 0);
    crp_set_num(res, NULL, "decisions", (double)ph1.idx.seen);
    crp_set_num(res, NULL, "naive_decisions", (double)ph1.naive.seen);
    crp_set_num(res, NULL, "verified", (double)ph1.verified);
    crp_set_num(res, NULL, "mismatches", (double)ph1.mismatches);
    crp_set_num(res, NULL, "outbound", (double)ph1.outbound);
    crp_set_num(res, NULL, "internal", (double)ph1.internal);
    crp_set_num(res, NULL, "blocked", (double)ph1.blocked);
    crp_set_num(res, NULL, "routes_indexed", (double)st.routes_indexed);
    crp_set_num(res, NULL, "routes_fallback", (double)st.routes_fallback);
    crp_set_num(res, NULL, "rules_indexed", (double)st.rules_indexed);
    crp_set_num(res, NULL, "rules_fallback", (double)st.rules_fallback);
    crp_set_num(res, NULL, "index_bytes", (double)st.bytes);
    set_rss(res, "rss_before_load_bytes", rss_start);
    set_rss(res, "rss_bytes", rss_loaded);
    set_rss(res, "heap_bytes", heap_loaded);
    set_rss(res, "heap_free_bytes", heap_free);
    set_rss(res, "peak_rss_bytes", peak);

    /* reloads while threads decide */
    if (o.reload_ms || o.reloads) {
        phase2 ph2 = {.h = h, .cl = &cl, .kinds = kinds, .check_mix = o.generate != NULL};
        atomic_store(&ph2.stop, false);
        atomic_store(&ph2.reloading, false);
        size_t nt = (size_t)o.threads;
        worker *ws = calloc(nt, sizeof *ws);
        reload_stats rs = {0};
        size_t started = 0;
        for (size_t i = 0; ws && i < nt; i++) {
            ws[i].ph = &ph2;
            ws[i].first = i * 7919;
            if (!samples_init(&ws[i].lat, 1u << 20, 10 + i) ||
                pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
                free(ws[i].lat.v);
                break;
            }
            started++;
        }
        /* a baseline first: the same threads for a third of the time, without reloads */
        struct timespec base = {(time_t)(o.seconds / 3), (long)(fmod(o.seconds / 3, 1) * 1e9)};
        nanosleep(&base, NULL);
        atomic_store(&ph2.reloading, true);
        uint64_t end = now_ns() + (uint64_t)(o.seconds * 1e9);
        char rerr[2048];
        while (started == nt && (o.reloads ? rs.reloads < (size_t)o.reloads : now_ns() < end)) {
            if (o.reload_ms) {
                struct timespec ts = {o.reload_ms / 1000, (o.reload_ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
            }
            const char *next = o.generate ? (rs.reloads % 2 == 0 ? path_b : path_a) : path_a;
            uint64_t s = now_ns();
            int rrc = crp_handle_reload(h, next, rerr, sizeof rerr);
            uint64_t ns = now_ns() - s;
            rs.reloads++;
            rs.failed += rrc != CR_OK;
            rs.total_ns += ns;
            if (ns > rs.max_ns)
                rs.max_ns = ns;
            size_t pk;
            if (rs.reloads == 1)
                rss(&rs.rss_first, &pk);
            if (rs.reloads <= 100)
                rss(&rs.rss_warm, &pk);
            rss(&rs.rss_last, &pk);
        }
        atomic_store(&ph2.stop, true);
        samples all;
        size_t dec = 0, fails = 0, mixes = 0, slow = 0, bdec = 0, bslow = 0;
        uint64_t bmax = 0;
        bool have_all = samples_init(&all, (1u << 20) * (nt + 1), 99);
        for (size_t i = 0; i < started; i++) {
            pthread_join(ws[i].tid, NULL);
            dec += ws[i].decisions;
            fails += ws[i].failures;
            mixes += ws[i].mixes;
            slow += ws[i].slow;
            bdec += ws[i].base_decisions;
            bslow += ws[i].base_slow;
            if (ws[i].base_max > bmax)
                bmax = ws[i].base_max;
            if (have_all) {
                for (size_t k = 0; k < ws[i].lat.n; k++)
                    all.v[all.n++] = ws[i].lat.v[k];
                if (ws[i].lat.max > all.max)
                    all.max = ws[i].lat.max;
            }
            free(ws[i].lat.v);
        }
        free(ws);
        if (have_all)
            samples_sort(&all);
        crp_set_num(res, NULL, "reload_threads", (double)started);
        crp_set_num(res, NULL, "baseline_decisions", (double)bdec);
        crp_set_num(res, NULL, "baseline_max_ns", (double)bmax);
        crp_set_num(res, NULL, "baseline_slow_over_1ms", (double)bslow);
        crp_set_num(res, NULL, "reloads", (double)rs.reloads);
        crp_set_num(res, NULL, "reloads_failed", (double)rs.failed);
        crp_set_num(res, NULL, "reload_ms_avg",
                    rs.reloads
                        ? (double)(long long)((double)rs.total_ns / (double)rs.reloads / 1e5) / 10
                        : 0);
        crp_set_num(res, NULL, "reload_ms_max", (double)(long long)((double)rs.max_ns / 1e5) / 10);
        crp_set_num(res, NULL, "reload_decisions", (double)dec);
        crp_set_num(res, NULL, "reload_failures", (double)fails);
        crp_set_num(res, NULL, "reload_mixes", (double)mixes);
        crp_set_num(res, NULL, "reload_slow_over_1ms", (double)slow);
        crp_set_num(res, NULL, "reload_p50_ns", have_all ? samples_pct(&all, 50) : 0);
        crp_set_num(res, NULL, "reload_p99_ns", have_all ? samples_pct(&all, 99) : 0);
        crp_set_num(res, NULL, "reload_max_ns", have_all ? (double)all.max : 0);
        set_rss(res, "rss_after_first_reload_bytes", rs.rss_first);
        set_rss(res, "rss_after_last_reload_bytes", rs.rss_last);
        set_rss(res, "rss_after_100_reloads_bytes", rs.rss_warm);
        /* growth after the allocator's high-water mark is reached (the first ~100 reloads) */
        crp_set_num(res, NULL, "rss_growth_bytes", (double)rs.rss_last - (double)rs.rss_warm);
        if (have_all)
            free(all.v);
        if (started != nt)
            rc = CR_ENOMEM;
    }
    {
        size_t cur, pk;
        rss(&cur, &pk);
        set_rss(res, "rss_end_bytes", cur);
        set_rss(res, "peak_rss_bytes", pk);
    }
    *out = res;
phase2_skip:
    free(kinds);
    free(ph1.idx.v);
    free(ph1.naive.v);
    crp_handle_close(h);
    calls_free(&cl);
done:
    if (remove_a)
        remove_plan(path_a);
    if (remove_b)
        remove_plan(path_b);
    return rc;
}
