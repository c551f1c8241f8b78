/*
 * `callroute bench --generate routes=N,rules=M,users=U`: the synthetic plan and the numbers
 * its users dial.
 *
 * The plan is what a large North American enterprise or carrier writes: an emergency route,
 * NPA-NXX routes (+1 area code + exchange), area-code routes with alternations, international
 * routes by country and city code, and the planning guide's Universal Route with its
 * lookahead at the end; a location profile of site-code rules (8 + site + extension, 7 + site
 * + extension) followed by the usual 7-, 10- and 11-digit and 011 rules; users with line URIs
 * at the sites. It is written as XML and loaded through the real loader, so load_ms is the
 * real parse + compile time.
 */
#include "bench_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void crb_plan_init(crb_plan *p)
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

void crb_plan_remove(const char *path)
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

/* The domain, the location profile (site-code rules first), usages, policies and gateways. */
static void write_head(FILE *f, const crb_plan *p, char tag, size_t ngw)
{
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
}

/* Writes the routes in included files, numbering them from 0. */
typedef struct route_writer {
    chunks c;
    char tag;
    size_t ngw, r; /* gateways, routes written */
} route_writer;

/* One route with `usage`, its pattern formatted from `fmt`, and two gateways; false when a
 * file cannot be opened. */
static bool route(route_writer *w, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool route(route_writer *w, const char *usage, const char *fmt, ...)
{
    if (w->r % ROUTES_PER_FILE == 0 && !chunk_next(&w->c))
        return false;
    char pattern[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pattern, sizeof pattern, fmt, ap);
    va_end(ap);
    size_t r = w->r++, ngw = w->ngw;
    fprintf(w->c.cur, "    <route name=\"r%zu#%c\" pattern=\"%s\"><usage>%s</usage>", r, w->tag,
            pattern, usage);
    fprintf(w->c.cur, "<gateway>gw%zu#%c</gateway><gateway>gw%zu#%c</gateway></route>\n",
            (r * 7) % ngw, w->tag, (r * 13 + 1) % ngw, w->tag);
    return true;
}

/* Emergency, exchange, area-code and international routes, then the two catch-alls. */
static bool write_routes(route_writer *w, const crb_plan *p)
{
    size_t n = p->routes, fixed_tail = n >= 4 ? 2 : 0;
    if (n && !route(w, "Emergency", "^%s$", "911"))
        return false;
    for (size_t i = 0; i < p->nxx_routes && w->r < n - fixed_tail; i++) {
        unsigned npa, nxx;
        combo(i, &npa, &nxx);
        if (!route(w, i / n_nxx < 3 ? "Local" : "LongDistance", "^\\+1%03u%03u(\\d{4})$", npa, nxx))
            return false;
    }
    for (size_t i = 0; i < p->npa_routes && w->r < n - fixed_tail; i++)
        if (!route(w, "LongDistance", "^\\+1(%03u|%03u|%03u)(\\d{7})$", npa_list[(3 * i) % n_npa],
                   npa_list[(3 * i + 1) % n_npa], npa_list[(3 * i + 2) % n_npa]))
            return false;
    for (size_t i = 0; w->r < n - fixed_tail; i++) {
        size_t c = i % NCOUNTRIES, k = (i / NCOUNTRIES) % 4;
        bool ok = i / NCOUNTRIES < 4
                      ? route(w, "International", "^\\+%s(%s)(\\d{6,8})$", countries[c].cc,
                              countries[c].cities[k])
                      /* more routes than cities: per-exchange routes inside the city */
                      : route(w, "International", "^\\+%s%s%03zu(\\d{3,5})$", countries[c].cc,
                              countries[c].cities[k], (i / (NCOUNTRIES * 4)) % 1000);
        if (!ok)
            return false;
    }
    if (fixed_tail && (!route(w, "International", "%s", "^\\+?(?!(1900|1411))(\\d*)$") ||
                       !route(w, "International", "%s", "^\\+([2-9])(\\d*)$")))
        return false;
    chunk_close(&w->c);
    return true;
}

static bool write_users(chunks *uc, const crb_plan *p)
{
    char line[32];
    for (size_t i = 0; i < p->users; i++) {
        if (i % USERS_PER_FILE == 0 && !chunk_next(uc))
            return false;
        user_line(i, line, sizeof line);
        fprintf(uc->cur,
                "    <user uri=\"sip:u%zu@example.com\" line=\"tel:%s\" "
                "enterpriseVoice=\"true\"%s/>\n",
                i, line, i % 10 == 9 ? " voicePolicy=\"Restricted\"" : "");
    }
    chunk_close(uc);
    return true;
}

int crb_plan_write(const crb_plan *p, const char *path, char tag)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return CR_EIO;
    size_t ngw = p->routes / 50;
    if (ngw < 4)
        ngw = 4;
    if (ngw > 1000)
        ngw = 1000;
    route_writer rw = {{f, NULL, path, "routes", 'r', 0, false}, tag, ngw, 0};
    chunks uc = {f, NULL, path, "users", 'u', 0, false};
    write_head(f, p, tag, ngw);
    bool ok = write_routes(&rw, p) && write_users(&uc, p);
    if (!ok) {
        chunk_close(&rw.c);
        chunk_close(&uc);
        fclose(f);
        return CR_EIO;
    }
    fprintf(f, "</callroute>\n");
    return fclose(f) == 0 && !rw.c.failed && !uc.failed ? CR_OK : CR_EIO;
}
/* A mix of what users dial: site codes, national, E.164, international, emergency. */
bool crb_calls_generate(const crb_plan *p, size_t count, crb_rng *r, crb_calls *out)
{
    char from[64], num[64], line[32];
    size_t combos = p->nxx_routes > 1000 ? p->nxx_routes : 1000;
    for (size_t i = 0; i < count; i++) {
        snprintf(from, sizeof from, "sip:u%u@example.com", crb_below(r, (uint32_t)p->users));
        unsigned npa, nxx, k = crb_below(r, 100);
        combo(crb_below(r, (uint32_t)combos), &npa, &nxx);
        unsigned sub = crb_below(r, 10000);
        if (k < 30 && p->site_rules) { /* site code + extension */
            char code[16];
            size_t s = crb_below(r, (uint32_t)(p->site_rules < 1000 ? p->site_rules : 1000));
            site_code(s, code, sizeof code);
            snprintf(num, sizeof num, "%s%04u", code,
                     crb_below(r, (uint32_t)(p->users / 1000 + 1)));
        } else if (k < 50) {
            snprintf(num, sizeof num, "%03u%03u%04u", npa, nxx, sub);
        } else if (k < 65) {
            snprintf(num, sizeof num, "1%03u%03u%04u", npa, nxx, sub);
        } else if (k < 75) {
            snprintf(num, sizeof num, "+1 (%03u) %03u-%04u", npa, nxx, sub);
        } else if (k < 85) {
            size_t c = crb_below(r, NCOUNTRIES);
            snprintf(num, sizeof num, "011%s%s%03u%04u", countries[c].cc,
                     countries[c].cities[crb_below(r, 4)], crb_below(r, 1000), sub);
        } else if (k < 90) {
            snprintf(num, sizeof num, "%03u%04u", nxx, sub);
        } else if (k < 95) {
            user_line(crb_below(r, (uint32_t)p->users), line, sizeof line);
            snprintf(num, sizeof num, "%s", line);
        } else if (k < 97) {
            snprintf(num, sizeof num, "911");
        } else {
            snprintf(num, sizeof num, "1900%03u%04u", nxx, sub);
        }
        if (!crb_calls_add(out, from, num))
            return false;
    }
    return true;
}
