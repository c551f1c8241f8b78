/*
 * The route and rule index never changes a decision: random configurations (prefixes,
 * alternations, optional +, lookaheads, \d{n}, classes, unanchored and unanalysable
 * patterns) times random numbers give identical results indexed and naive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cr_engine.h"
#include "cr_model.h"
#include "pattern_ast.h"
#include "route_index.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define POOL 64
typedef struct gen {
    rng r;
    char pool[POOL][12]; /* literal digit strings the patterns use (numbers reuse them) */
    size_t npool;
} gen;

static const char *pool_pick(gen *g)
{
    if (g->npool < POOL && (g->npool == 0 || below(&g->r, 3) == 0)) {
        char *p = g->pool[g->npool++];
        size_t n = 1 + below(&g->r, 4);
        for (size_t i = 0; i < n; i++)
            p[i] = (char)('0' + below(&g->r, 10));
        p[n] = 0;
        return p;
    }
    return g->pool[below(&g->r, (uint32_t)g->npool)];
}

static void cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t o = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + o, len - o, fmt, ap);
    va_end(ap);
}

/* One random piece of a pattern body. */
static void piece(gen *g, char *buf, size_t len)
{
    static const char *classes[] = {"[2-9]", "[0-9*#]", "[^5]", ".", "[+0-3]", "\\D", "[#*]"};
    static const char *heads[] = {"(?!1900)", "(?=\\d{3})", "(?!(1900|1411))", "\\b", "(?:)"};
    switch (below(&g->r, 12)) {
    case 0:
    case 1:
    case 2:
        cat(buf, len, "%s", pool_pick(g));
        break;
    case 3: {
        size_t n = 1 + below(&g->r, 3);
        cat(buf, len, "(");
        for (size_t i = 0; i < n; i++)
            cat(buf, len, "%s%s", i ? "|" : "", pool_pick(g));
        cat(buf, len, ")");
        break;
    }
    case 4:
        cat(buf, len, "\\d{%u}", below(&g->r, 8));
        break;
    case 5:
        cat(buf, len, "\\d{%u,%u}", below(&g->r, 3), 3 + below(&g->r, 4));
        break;
    case 6:
        cat(buf, len, below(&g->r, 2) ? "(\\d*)" : "\\d+");
        break;
    case 7:
        cat(buf, len, "%s", classes[below(&g->r, sizeof classes / sizeof *classes)]);
        break;
    case 8:
        cat(buf, len, "%s", heads[below(&g->r, sizeof heads / sizeof *heads)]);
        break;
    case 9:
        cat(buf, len, "(%s)?", pool_pick(g));
        break;
    case 10:
        cat(buf, len, "%s", below(&g->r, 2) ? "\\*" : "#");
        break;
    default:
        cat(buf, len, "(\\d{%u}|%s)", 1 + below(&g->r, 3), pool_pick(g));
        break;
    }
}

static void pattern(gen *g, char *buf, size_t len)
{
    buf[0] = 0;
    uint32_t shape = below(&g->r, 40);
    if (shape == 0) { /* things the analyser must refuse */
        static const char *odd[] = {"^(\\d)\\1$",     "(?i)^1\\d+$",       "\\G\\d{3}",
                                    "^\\Q+1\\E\\d+$", "^(?(?=1)1\\d|2)$",  "^\\x2B1\\d+$",
                                    "^[[:digit:]]+$", "^(?<n>\\d)\\k<n>$", "^1{,3}$",
                                    "^\\+1\\d{3, 4}$"};
        cat(buf, len, "%s", odd[below(&g->r, sizeof odd / sizeof *odd)]);
        return;
    }
    if (shape == 1) { /* the Universal Route */
        cat(buf, len, "^\\+?(\\d*)$");
        return;
    }
    size_t branches = below(&g->r, 8) == 0 ? 2 : 1;
    for (size_t b = 0; b < branches; b++) {
        if (b)
            cat(buf, len, "|");
        if (below(&g->r, 10) != 0)
            cat(buf, len, "^");
        switch (below(&g->r, 4)) {
        case 0:
            cat(buf, len, "\\+?");
            break;
        case 1:
            cat(buf, len, "\\+");
            break;
        }
        size_t n = 1 + below(&g->r, 4);
        for (size_t i = 0; i < n; i++)
            piece(g, buf, len);
        if (below(&g->r, 10) < 7)
            cat(buf, len, "$");
    }
}

static void number(gen *g, char *buf, size_t len)
{
    static const char alpha[] = "0123456789+*#";
    buf[0] = 0;
    uint32_t k = below(&g->r, 20);
    if (k == 0) { /* characters outside the alphabet */
        snprintf(buf, len, "%s-%s", pool_pick(g), pool_pick(g));
        return;
    }
    if (below(&g->r, 3) == 0)
        cat(buf, len, "+");
    if (k < 15)
        cat(buf, len, "%s", pool_pick(g));
    if (below(&g->r, 3) == 0)
        cat(buf, len, "%s", pool_pick(g));
    size_t tail = below(&g->r, 12);
    for (size_t i = 0; i < tail; i++) {
        char c = below(&g->r, 8) ? (char)('0' + below(&g->r, 10)) : alpha[below(&g->r, 13)];
        cat(buf, len, "%c", c);
    }
}

static const cr_srcloc here = {"random.xml", 1};

/* Every ordering of the four usages as a policy of its own (24 distinct lists, for the bound
 * on the merged tries' memory). */
static void add_permutation_policies(cr_config *c)
{
    char name[64];
    for (int k = 0; k < 24; k++) {
        int left[4] = {0, 1, 2, 3}, n = 4, code = k;
        snprintf(name, sizeof name, "Perm%d", k);
        cr_policy *x = cr_config_add_policy(c, name, here);
        for (int f = 3; f >= 0; f--) {
            int fact = f == 3 ? 6 : f == 2 ? 2 : 1, pick = f ? code / fact : 0;
            code = f ? code % fact : 0;
            snprintf(name, sizeof name, "U%d", left[pick]);
            cr_namelist_add(c, &x->usages, name, here);
            memmove(&left[pick], &left[pick + 1], (size_t)(--n - pick) * sizeof *left);
        }
    }
}

/* Compiles c, its errors printed when it fails (the test then fails). */
static void compile_ok(cr_config *c)
{
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_config_compile(c, &d);
    if (rc != CR_OK)
        for (size_t i = 0; i < d.count; i++) {
            char line[2048];
            cr_diag_format(&d, i, line, sizeof line);
            if (d.items[i].level == CR_DIAG_ERROR)
                fprintf(stderr, "%s\n", line);
        }
    cr_diag_free(&d);
    assert_int_equal(rc, CR_OK);
}

static cr_config *random_config(gen *g, size_t nroutes, size_t nrules, bool perms)
{
    cr_config *c = cr_config_new();
    char name[64], pat[512];
    cr_config_add_domain(c, "example.com", here);
    for (int u = 0; u < 4; u++) {
        snprintf(name, sizeof name, "U%d", u);
        cr_config_add_usage(c, name, here);
    }
    cr_policy *pol = cr_config_add_policy(c, "All", here);
    int order[4] = {2, 0, 3, 1};
    for (int u = 0; u < 4; u++) {
        snprintf(name, sizeof name, "U%d", order[u]);
        cr_namelist_add(c, &pol->usages, name, here);
    }
    /* more policies, for the merged walks: another list, the first list again (sharing its
     * trie), a usage twice, a single usage */
    static const char *const extra[][5] = {
        {"U1", "U3"}, {"U2", "U0", "U3", "U1"}, {"U0", "U2", "U0"}, {"U3"}};
    for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
        snprintf(name, sizeof name, "Extra%zu", e);
        cr_policy *x = cr_config_add_policy(c, name, here);
        for (size_t k = 0; k < 5 && extra[e][k]; k++)
            cr_namelist_add(c, &x->usages, extra[e][k], here);
    }
    if (perms)
        add_permutation_policies(c);
    for (int k = 0; k < 8; k++) {
        snprintf(name, sizeof name, "G%d", k);
        cr_gateway *gw = cr_config_add_gateway(c, name, here);
        snprintf(name, sizeof name, "sip:192.0.2.%d:5060", k + 1);
        gw->address = cr_config_strdup(c, name);
        gw->remove_plus = k % 3 == 0;
    }
    for (size_t i = 0; i < nroutes; i++) {
        snprintf(name, sizeof name, "R%zu", i);
        pattern(g, pat, sizeof pat);
        cr_route *r = cr_config_add_route(c, name, here);
        r->pattern = cr_config_strdup(c, pat);
        size_t nu = 1 + below(&g->r, 2), ng = 1 + below(&g->r, 3);
        for (size_t k = 0; k < nu; k++) {
            snprintf(name, sizeof name, "U%u", below(&g->r, 4));
            cr_namelist_add(c, &r->usages, name, here);
        }
        for (size_t k = 0; k < ng; k++) {
            snprintf(name, sizeof name, "G%u", below(&g->r, 8));
            cr_namelist_add(c, &r->gateways, name, here);
        }
    }
    cr_profile *p = cr_config_add_profile(c, "P", here);
    for (size_t i = 0; i < nrules; i++) {
        snprintf(name, sizeof name, "N%zu", i);
        pattern(g, pat, sizeof pat);
        cr_rule *rl = cr_profile_add_rule(c, p, name, here);
        rl->pattern = cr_config_strdup(c, pat);
        snprintf(name, sizeof name, "+%zu$0", i % 10);
        rl->translation = cr_config_strdup(c, name);
    }
    cr_user *u = cr_config_add_user(c, "sip:alice@example.com", here);
    u->enterprise_voice = true;
    /* two of three callers have the default policy (the likely one, whose merged walk a
     * decision begins while it looks the caller up), bob another (that walk is dropped) */
    u = cr_config_add_user(c, "sip:carol@example.com", here);
    u->enterprise_voice = true;
    u = cr_config_add_user(c, "sip:bob@example.com", here);
    u->enterprise_voice = true;
    u->policy = cr_config_strdup(c, "Extra0");
    compile_ok(c);
    return c;
}

static void same_decision(const cr_config *c, const cr_decision *a, const cr_decision *b,
                          const char *num)
{
    char ra[CR_REASON_MAX], rb[CR_REASON_MAX], ua[CR_URI_SHORT], ub[CR_URI_SHORT];
    if (strcmp(cr_decision_reason(a, ra, sizeof ra), cr_decision_reason(b, rb, sizeof rb)) != 0)
        fail_msg("decision for '%s' differs: reason '%s' / '%s'", num, ra, rb);
    if (a->kind != b->kind || a->rule != b->rule || strcmp(a->normalized, b->normalized) != 0 ||
        a->nattempts != b->nattempts || a->routes_matched != b->routes_matched)
        fail_msg("decision for '%s' differs: kind %d/%d rule %s/%s normalized %s/%s attempts "
                 "%zu/%zu",
                 num, a->kind, b->kind, a->rule ? a->rule->name : "-",
                 b->rule ? b->rule->name : "-", a->normalized, b->normalized, a->nattempts,
                 b->nattempts);
    for (size_t i = 0; i < a->nattempts; i++) {
        const cr_attempt *x = &a->attempts[i], *y = &b->attempts[i];
        size_t la = cr_attempt_uri(c, a, i, ua, sizeof ua),
               lb = cr_attempt_uri(c, b, i, ub, sizeof ub);
        if (x->gateway != y->gateway || x->route != y->route || x->usage != y->usage || !la ||
            la != lb || strcmp(ua, ub) != 0)
            fail_msg("attempt %zu for '%s' differs: route %s/%s", i, num, x->route->name,
                     y->route->name);
    }
}

/* The route walk of policy pol over `num`, naive then indexed: the same attempts. Returns the
 * routes the naive walk matched. */
static size_t same_attempts(cr_config *c, const cr_policy *pol, const char *num)
{
    static cr_decision a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    cr_config_set_naive(c, true);
    cr_route_attempts(c, pol, num, NULL, &a, NULL);
    cr_config_set_naive(c, false);
    cr_route_attempts(c, pol, num, NULL, &b, NULL);
    same_decision(c, &a, &b, num);
    return a.routes_matched;
}

/* Every policy's attempts and trace for `num` are the same with its merged walk as with one
 * walk per usage (the merged walk is what decisions use). */
static void merged_equals_per_usage(cr_config *c, const char *num)
{
    static cr_decision a, b;
    for (size_t p = 0; p < c->npolicies; p++) {
        cr_trace ta, tb;
        cr_trace_init(&ta);
        cr_trace_init(&tb);
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        ce_route_index_use_walks(c, false);
        cr_route_attempts(c, &c->policies[p], num, NULL, &a, &ta);
        ce_route_index_use_walks(c, true);
        cr_route_attempts(c, &c->policies[p], num, NULL, &b, &tb);
        same_decision(c, &a, &b, num);
        if ((ta.buf || tb.buf) && (!ta.buf || !tb.buf || strcmp(ta.buf, tb.buf) != 0))
            fail_msg("policy %zu, '%s': the traces differ:\n%s\n---\n%s", p, num,
                     ta.buf ? ta.buf : "", tb.buf ? tb.buf : "");
        cr_trace_free(&ta);
        cr_trace_free(&tb);
    }
}

/* Runs `numbers` random numbers through both evaluations; returns how many matched. */
static size_t compare(gen *g, cr_config *c, size_t numbers)
{
    static cr_decision a, b;
    const cr_policy *pol = cr_config_default_policy(c);
    const cr_profile *p = cr_config_default_profile(c);
    size_t matched = 0;
    char num[160];
    for (size_t i = 0; i < numbers; i++) {
        number(g, num, sizeof num);
        /* the route walk on the raw number */
        matched += same_attempts(c, pol, num) > 0;
        if (i % 4 == 0)
            merged_equals_per_usage(c, num);
        /* normalization alone */
        char n1[CR_NUMBER_MAX + 1], n2[CR_NUMBER_MAX + 1];
        const cr_rule *r1, *r2;
        cr_config_set_naive(c, true);
        int rc1 = cr_profile_normalize(p, num, n1, sizeof n1, &r1, NULL);
        cr_config_set_naive(c, false);
        int rc2 = cr_profile_normalize(p, num, n2, sizeof n2, &r2, NULL);
        assert_int_equal(rc1, rc2);
        if (r1 != r2 || (rc1 == CR_OK && strcmp(n1, n2) != 0))
            fail_msg("normalizing '%s': rule %s/%s, %s/%s", num, r1 ? r1->pattern : "-",
                     r2 ? r2->pattern : "-", n1, n2);
        matched += r1 != NULL;
        /* the whole decision */
        cr_config_set_naive(c, true);
        cr_route_decide(c, "sip:alice@example.com", num, NULL, &a, NULL);
        cr_config_set_naive(c, false);
        cr_route_decide(c, "sip:alice@example.com", num, NULL, &b, NULL);
        same_decision(c, &a, &b, num);
        /* a caller of another policy than the likely one */
        cr_config_set_naive(c, true);
        cr_route_decide(c, "sip:bob@example.com", num, NULL, &a, NULL);
        cr_config_set_naive(c, false);
        cr_route_decide(c, "sip:bob@example.com", num, NULL, &b, NULL);
        same_decision(c, &a, &b, num);
    }
    return matched;
}

/* Nodes of the merged tries that hold their children as items (CR_PX_LEAVES), and all nodes. */
static size_t leaves_nodes(const cr_config *c, size_t *nodes)
{
    size_t nwalks, n = 0;
    const cr_px_walk *w = ce_route_index_walks(c, &nwalks);
    for (size_t k = 0; k < nwalks; k++)
        for (size_t i = 0; i < w[k].nnodes; i++) {
            n += (w[k].nodes[i].mask & CR_PX_LEAVES) != 0;
            (*nodes)++;
        }
    return n;
}

static void indexed_equals_naive_on_random_configs(void **state)
{
    (void)state;
    const char *env = getenv("CR_PROPERTY_ROUNDS");
    size_t rounds = env ? strtoul(env, NULL, 10) : 150;
    size_t matched = 0, total = 0, leaves = 0, nodes = 0, dfas = 0;
    for (size_t round = 0; round < rounds; round++) {
        gen g = {.r = {0x9e3779b97f4a7c15ull ^ (round * 0x100000001b3ull)}};
        cr_config *c = random_config(&g, 20 + below(&g.r, 200), 5 + below(&g.r, 60), false);
        size_t nwalks;
        ce_route_index_walks(c, &nwalks);
        const uint32_t *pw = ce_route_index_policy_walks(c);
        assert_int_equal(nwalks, 4); /* Extra1 shares All's list */
        assert_int_equal(pw[0], pw[2]);
        assert_int_equal(pw[4], 3);
        assert_ptr_equal(c->likely_policy, cr_config_default_policy(c));
        dfas += c->route_dfa1 && c->route_dfa; /* broad routes decided by automata */
        matched += compare(&g, c, 400);
        total += 800;
        leaves += leaves_nodes(c, &nodes);
        cr_config_free(c);
    }
    /* the broad routes' automata took part (several a configuration: the first one found
     * without the table, the others in it) */
    if (rounds >= 20 && dfas < rounds / 2)
        fail_msg("%zu of %zu configurations with automata", dfas, rounds);
    /* the numbers must exercise matches, not only misses */
    assert_true(matched > total / 20);
    /* and the walks must go through nodes whose children are items, not only through nodes */
    if (rounds >= 20 && leaves < 20)
        fail_msg("%zu of %zu nodes hold their children as items", leaves, nodes);
}

/* A plan with one broad route only (the usual case, the Universal Route of the bench's plans):
 * its automaton is found by comparing the route, without the table (route_dfa NULL,
 * route_dfa1 set), and every decision is the naive scan's, numbers near its lookahead's
 * literals (1900, 1411) included. */
static void one_broad_automaton_equals_naive(void **state)
{
    (void)state;
    static const char *const narrow[] = {"^\\+1425\\d{7}$", "^\\+44\\d{9,10}$", "^\\+1900\\d{7}$",
                                         "^\\+33\\d{9}$", "^\\+14115\\d{6}$"};
    cr_config *c = cr_config_new();
    char name[64];
    cr_config_add_domain(c, "example.com", here);
    for (int u = 0; u < 2; u++) {
        snprintf(name, sizeof name, "U%d", u);
        cr_config_add_usage(c, name, here);
    }
    cr_policy *pol = cr_config_add_policy(c, "All", here);
    cr_namelist_add(c, &pol->usages, "U0", here);
    cr_namelist_add(c, &pol->usages, "U1", here);
    cr_policy *x = cr_config_add_policy(c, "Extra0", here);
    cr_namelist_add(c, &x->usages, "U1", here);
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "G%d", k);
        cr_gateway *gw = cr_config_add_gateway(c, name, here);
        snprintf(name, sizeof name, "sip:192.0.2.%d:5060", k + 1);
        gw->address = cr_config_strdup(c, name);
    }
    for (size_t i = 0; i <= sizeof narrow / sizeof narrow[0]; i++) {
        snprintf(name, sizeof name, "R%zu", i);
        cr_route *r = cr_config_add_route(c, name, here);
        /* the last: broad, its lookahead the kind the index cannot decide */
        r->pattern = cr_config_strdup(
            c, i < sizeof narrow / sizeof narrow[0] ? narrow[i] : "^\\+?(?!(1900|1411))(\\d*)$");
        cr_namelist_add(c, &r->usages, i % 2 ? "U1" : "U0", here);
        snprintf(name, sizeof name, "G%zu", i % 3);
        cr_namelist_add(c, &r->gateways, name, here);
    }
    cr_profile *p = cr_config_add_profile(c, "P", here);
    cr_rule *rl = cr_profile_add_rule(c, p, "N0", here);
    rl->pattern = cr_config_strdup(c, "^(\\d{10})$");
    rl->translation = cr_config_strdup(c, "+1$1");
    cr_user *u = cr_config_add_user(c, "sip:alice@example.com", here);
    u->enterprise_voice = true;
    u = cr_config_add_user(c, "sip:bob@example.com", here);
    u->enterprise_voice = true;
    u->policy = cr_config_strdup(c, "Extra0");
    compile_ok(c);
    assert_null(c->route_dfa);
    assert_non_null(c->route_dfa1);
    gen g = {.r = {0x5eed5eedull}};
    static const char *const lit[] = {"1900", "1411", "1425", "44", "1", "19", "141", "33"};
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++)
        strcpy(g.pool[g.npool++], lit[i]);
    static const char *const fixed[] = {
        "+14255550100", "+19005550100",   "+14115550100", "+1411", "+1900",
        "+190",         "19001234567",    "4255550100",   "+",     "",
        "+1",           "+4420794600000", "+1411x",       "1411"};
    static cr_decision a, b;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        cr_config_set_naive(c, true);
        cr_route_decide(c, "sip:alice@example.com", fixed[i], NULL, &a, NULL);
        cr_config_set_naive(c, false);
        cr_route_decide(c, "sip:alice@example.com", fixed[i], NULL, &b, NULL);
        same_decision(c, &a, &b, fixed[i]);
    }
    assert_true(compare(&g, c, 20000) > 1000);
    cr_config_free(c);
}

/* The number (NUL-terminated) that walks from the root of w to node `at`, in out[cap]. */
static void path_to(const cr_px_walk *w, size_t at, char *out, size_t cap)
{
    static const char chars[] = "0123456789+*#";
    char rev[CR_NUMBER_MAX];
    size_t n = 0;
    while (at != 0 && n < sizeof rev) {
        size_t parent = SIZE_MAX;
        unsigned sym = 0;
        for (size_t i = 0; i < w->nnodes && parent == SIZE_MAX; i++) {
            const cr_px_node *x = &w->nodes[i];
            if ((x->mask & CR_PX_LEAVES) || at < x->first_child)
                continue;
            unsigned c = 0;
            for (unsigned b = 0; b < 13; b++)
                if (x->mask & (1u << b)) {
                    if (x->first_child + c == at) {
                        parent = i;
                        sym = b;
                    }
                    c++;
                }
        }
        assert_true(parent != SIZE_MAX);
        rev[n++] = chars[sym];
        at = parent;
    }
    assert_true(n < cap);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = 0;
}

/* Which children of node x of w the walk may take from x's dense block (route_index.h), worked
 * out here from the nodes: bit a when x's child for digit a holds its leaves as items and has
 * none of its own. */
static uint16_t want_kids(const cr_px_walk *w, const cr_px_node *x)
{
    uint16_t kids = 0;
    unsigned c = 0;
    for (unsigned a = 0; a < 13; a++) {
        if (!(x->mask & (1u << a)) || (x->mask & CR_PX_LEAVES))
            continue;
        const cr_px_node *k = &w->nodes[x->first_child + c++];
        if (a < 10 && (k->mask & CR_PX_LEAVES) && k->items_n == 0)
            kids |= (uint16_t)(1u << a);
    }
    return kids;
}

/* Slot s of the block of node x of w as it must be: for digits a and b, a copy of the item of
 * leaf b of the child for a when want_kids has a and the child has leaf b; all zero otherwise. */
static void want_slot(const cr_px_walk *w, const cr_px_node *x, unsigned s, cr_px_dslot *out)
{
    memset(out, 0, sizeof *out);
    unsigned a = s / 10, b = s % 10;
    if (!(want_kids(w, x) & (1u << a)))
        return;
    unsigned rank = 0;
    for (unsigned m = x->mask & ((1u << a) - 1u); m; m &= m - 1)
        rank++;
    const cr_px_node *c = &w->nodes[x->first_child + rank];
    if (!(c->mask & (1u << b)))
        return;
    rank = 0;
    for (unsigned m = c->mask & ((1u << b) - 1u); m; m &= m - 1)
        rank++;
    out->item = w->items[c->items_off + rank];
}

/* Up to `most` (child, leaf) digit pairs of w's dense blocks whose child is taken from the
 * block, each walked to: the walk's last run is the pair's slot (the leaf's item, or one that
 * matches nothing where the child has no such leaf), and the whole decision is the naive scan's;
 * so is it for the number one digit shorter (the walk then reads the child) and one longer. */
static void walk_to_slots(cr_config *c, size_t walk, const cr_px_walk *w, size_t most)
{
    const uint32_t *pw = ce_route_index_policy_walks(c);
    size_t p = 0;
    while (p < c->npolicies && pw[p] != walk)
        p++;
    assert_true(p < c->npolicies);
    for (size_t bl = 0; bl < w->ndense && most; bl++) {
        const cr_px_node *x = &w->nodes[w->dense_node + bl];
        char num[CR_NUMBER_MAX + 8];
        path_to(w, w->dense_node + bl, num, sizeof num - 4);
        size_t n = strlen(num);
        for (unsigned s = 0; s < CR_PX_DENSE_SLOTS && most; s++) {
            if (!(x->dense_kids & (1u << (s / 10))))
                continue;
            most--;
            const cr_px_dslot *slot = &w->dense[bl].slot[s];
            num[n] = (char)('0' + s / 10);
            num[n + 1] = (char)('0' + s % 10);
            num[n + 2] = 0;
            cr_px_key k;
            cr_policy_iter it;
            assert_true(ce_px_key_init(&k, num, n + 2));
            assert_true(ce_policy_walk_begin(c, p, &k, &it));
            assert_true(it.px.nruns > 0);
            assert_ptr_equal(it.px.run[it.px.nruns - 1], &slot->item.px);
            assert_int_equal(it.px.depth[it.px.nruns - 1], n + 2);
            same_attempts(c, &c->policies[p], num);
            merged_equals_per_usage(c, num);
            num[n + 2] = (char)('0' + s % 7);
            num[n + 3] = 0;
            same_attempts(c, &c->policies[p], num);
            merged_equals_per_usage(c, num);
            num[n + 1] = 0;
            same_attempts(c, &c->policies[p], num);
            merged_equals_per_usage(c, num);
        }
    }
}

/* Dense leaf blocks of the merged tries (plan image format 11), built here for every trie with
 * leaves under a parent (ce_route_index_dense_min(0)): the walks take the leaves' items from the
 * blocks and decide as the naive scan and as one walk per usage; every block mirrors its node's
 * children, and only the blocks' nodes have dense_kids. */
static void dense_blocks_equal_naive(void **state)
{
    (void)state;
    const char *env = getenv("CR_PROPERTY_ROUNDS");
    size_t rounds = env ? strtoul(env, NULL, 10) / 5 : 30;
    size_t before = ce_route_index_dense_min(0), blocks = 0, held = 0, matched = 0;
    for (size_t round = 0; round < rounds; round++) {
        gen g = {.r = {0xd1b54a32d192ed03ull ^ (round * 0x100000001b3ull)}};
        cr_config *c = random_config(&g, 20 + below(&g.r, 400), 5 + below(&g.r, 60), false);
        size_t nwalks;
        const cr_px_walk *w = ce_route_index_walks(c, &nwalks);
        for (size_t k = 0; k < nwalks; k++) {
            blocks += w[k].ndense;
            for (size_t i = 0; i < w[k].nnodes; i++) {
                const cr_px_node *x = &w[k].nodes[i];
                if (i - w[k].dense_node >= w[k].ndense) {
                    assert_int_equal(x->dense_kids, 0);
                    continue;
                }
                assert_int_equal(x->dense_kids, want_kids(&w[k], x));
                for (unsigned s = 0; s < CR_PX_DENSE_SLOTS; s++) {
                    cr_px_dslot want;
                    want_slot(&w[k], x, s, &want);
                    assert_memory_equal(&w[k].dense[i - w[k].dense_node].slot[s], &want,
                                        sizeof want);
                    held += want.item.px.maxlen != 0;
                }
            }
        }
        for (size_t k = 0; k < nwalks; k++)
            walk_to_slots(c, k, &w[k], 20);
        matched += compare(&g, c, 300);
        cr_config_free(c);
    }
    ce_route_index_dense_min(before);
    assert_true(matched > 0);
    if (rounds >= 10 && (blocks < 10 || held < 50))
        fail_msg("%zu dense blocks, %zu leaves held, in %zu configurations", blocks, held, rounds);
}

/* The ids a walk of t for `number` yields, in order, into ids[] (at most cap); their count. */
static size_t walk_ids(const cr_px_trie *t, const char *number, uint32_t *ids, size_t cap)
{
    cr_px_iter it;
    size_t n = 0;
    if (!ce_px_trie_begin(t, number, strlen(number), &it))
        return SIZE_MAX;
    for (uint32_t id; (id = ce_px_next(&it)) != UINT32_MAX && n < cap;)
        ids[n++] = id;
    return n;
}

/* A node whose children are all leaves with one item each holds them as items, after its own
 * (CR_PX_LEAVES; the leaves are no nodes), and a walk through it yields what a walk through the
 * leaves did: the ids in order, an exact tail decided at the leaf's depth. A leaf with two items,
 * or a child with children, keeps its node. */
static void leaf_children_are_items(void **state)
{
    (void)state;
    static const char *const pats[] = {
        "^\\+1425555(\\d{4})$", /* 0, 1: two leaves under +142555 */
        "^\\+1425556(\\d{4})$",
        "^\\+1425(\\d{7})$",    /* 2: an item on the way */
        "^\\+1206555(\\d{4})$", /* 3, 4: one leaf with two items: +120655 keeps its child */
        "^\\+1206555(\\d{3,4})$",
        "^\\+?(\\d*)$", /* 5: at the root, every length */
        "^9(1|2)1$",    /* 6: leaves 911 and 921 under 9 (one pattern) */
    };
    cr_px_builder b = {0};
    cr_pattern_info info;
    for (uint32_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        ce_pattern_analyse(pats[i], &info);
        assert_int_equal(info.kind, CR_PX_SET);
        assert_int_equal(ce_px_builder_add(&b, &info, i), CR_OK);
    }
    cr_px_trie t;
    assert_int_equal(ce_px_builder_finish(&b, &t), CR_OK);
    /* root, +, +1, +14, +142, +1425, +14255, +142555 (leaves), +12, +120, +1206, +12065,
     * +120655, +1206555 (two items), 9, 91, 92 (9's children are not leaves: 911 and 921 are) */
    assert_int_equal(t.nnodes, 17);
    assert_int_equal(t.nitems, 8);
    size_t leaves = 0;
    for (size_t i = 0; i < t.nnodes; i++)
        if (t.nodes[i].mask & CR_PX_LEAVES) {
            leaves++;
            assert_int_equal(t.nodes[i].first_child, 0);
        }
    assert_int_equal(leaves, 3); /* +142555, 91, 92 */
    static const struct {
        const char *number;
        size_t n;
        uint32_t ids[4];
        bool first_matches;
    } walks[] = {
        {"+14255551234", 3, {0, 2, 5}, true},
        {"+14255561234", 3, {1, 2, 5}, true},
        {"+14255571234", 2, {2, 5}, true},
        {"+1425555123", 1, {5}, false},
        {"+142555", 1, {5}, false},
        {"+142555512a4", SIZE_MAX, {0}, false},
        {"+12065551234", 3, {3, 4, 5}, true},
        {"+1206555123", 2, {4, 5}, true},
        {"911", 2, {5, 6}, false},
        {"921", 2, {5, 6}, false},
        {"931", 1, {5}, false},
        {"91", 1, {5}, false},
    };
    for (size_t w = 0; w < sizeof walks / sizeof walks[0]; w++) {
        uint32_t ids[8];
        size_t n = walk_ids(&t, walks[w].number, ids, 8);
        if (n != walks[w].n || (n != SIZE_MAX && memcmp(ids, walks[w].ids, n * sizeof *ids)))
            fail_msg("'%s': %zu ids, %zu expected", walks[w].number, n, walks[w].n);
        cr_px_iter it;
        if (n && n != SIZE_MAX) {
            assert_true(ce_px_trie_begin(&t, walks[w].number, strlen(walks[w].number), &it));
            assert_int_equal(ce_px_next(&it), walks[w].ids[0]);
            assert_int_equal(it.match, walks[w].first_matches);
        }
    }
    ce_px_trie_free(&t);
}

/* Past the bound on their memory, policies keep the walk per usage, and decide the same. */
static void merged_walks_bounded(void **state)
{
    (void)state;
    gen g = {.r = {0x51ed270b27c5a3f1ull}};
    cr_config *c = random_config(&g, 1000, 20, true);
    size_t nwalks, merged = 0;
    ce_route_index_walks(c, &nwalks);
    const uint32_t *pw = ce_route_index_policy_walks(c);
    for (size_t p = 0; p < c->npolicies; p++)
        merged += pw[p] != UINT32_MAX;
    assert_true(nwalks > 1 && nwalks < 24); /* some lists within the bound, not all */
    assert_true(merged > 1 && merged < c->npolicies);
    char num[160];
    for (size_t i = 0; i < 100; i++) {
        number(&g, num, sizeof num);
        merged_equals_per_usage(c, num);
        for (size_t p = 0; p < c->npolicies; p++) {
            same_attempts(c, &c->policies[p], num);
        }
    }
    cr_config_free(c);
}

/* The analysis of "^" + a literal run + the rest is kept per shape and reused
 * (ce_pattern_analyse_with): it must equal the whole analysis of every pattern, whatever run
 * and rest, with the memo reused across patterns. */
static void analysis_memo_equals_whole(void **state)
{
    (void)state;
    static const char *const atoms[] = {"0", "1", "4", "9", "\\+", "\\*", "\\#", "#", "5"};
    static const char *const quant[] = {"", "", "", "", "?", "{2}", "*", "+", "{1,3}"};
    static const char *const rests[] = {"",
                                        "$",
                                        "(\\d{4})$",
                                        "(\\d{4})",
                                        "(\\d{6,8})$",
                                        "(\\d*)$",
                                        "(\\d+)",
                                        "(425|206)(\\d{7})$",
                                        "|911",
                                        "|^911$",
                                        "(?:1|2)\\d$",
                                        "[2-9]\\d{6}$",
                                        "[|]\\d$",
                                        "[]|]\\d$",
                                        "[^]|]\\d$",
                                        "(?#x|y)|5",
                                        "(?#()|5",
                                        "(?x)1|2",
                                        "\\d{3}|\\d{4}",
                                        "5?(\\d{2})$",
                                        "(?!1900)\\d{4}$",
                                        "(?<=12)3$",
                                        "[0-9*#]{2,5}$",
                                        "1{3}2$",
                                        "\\Q12|3\\E$",
                                        "(\\d{2}))$",
                                        "a\\d$",
                                        "\\+?\\d{10}$",
                                        "#\\d$",
                                        "(\\d{4})$|^1",
                                        "(\\d{4}$",
                                        "\\",
                                        "(?",
                                        "{2}3",
                                        "(1|2|3|4|5|6|7|8|9)(0|1|2|3|4|5|6|7|8|9)\\d$",
                                        "(\\d{20})$",
                                        "\\d{3,}$"};
    cr_pattern_analyser *memo = ce_pattern_analyser_new(), *whole = ce_pattern_analyser_new();
    assert_non_null(memo);
    assert_non_null(whole);
    rng r = {0x2545F491u};
    size_t natoms = sizeof atoms / sizeof *atoms, nrests = sizeof rests / sizeof *rests;
    for (int i = 0; i < 20000; i++) {
        char pat[256] = "^";
        size_t run = below(&r, 30);
        for (size_t k = 0; k < run; k++)
            strcat(pat, atoms[below(&r, (uint32_t)natoms)]);
        strcat(pat, quant[below(&r, (uint32_t)(sizeof quant / sizeof *quant))]);
        strcat(pat, rests[below(&r, (uint32_t)nrests)]);
        cr_pattern_info a, b;
        ce_pattern_analyse_with(memo, pat, &a);
        ce_pattern_analyse_whole(whole, pat, &b);
        if (a.kind != b.kind || a.strict != b.strict || a.minlen != b.minlen ||
            a.maxlen != b.maxlen || a.nprefixes != b.nprefixes)
            fail_msg("'%s': kind %d/%d strict %d/%d len %u-%u/%u-%u prefixes %zu/%zu", pat, a.kind,
                     b.kind, a.strict, b.strict, a.minlen, a.maxlen, b.minlen, b.maxlen,
                     a.nprefixes, b.nprefixes);
        for (size_t k = 0; k < a.nprefixes; k++) {
            if (a.plen[k] != b.plen[k] || a.tail[k] != b.tail[k] ||
                strcmp(a.prefixes[k], b.prefixes[k]) != 0 ||
                ((a.tail[k] & CR_PX_EXACT) && (a.tmin[k] != b.tmin[k] || a.tmax[k] != b.tmax[k])))
                fail_msg("'%s': prefix %zu '%s'/'%s' tail %x/%x", pat, k, a.prefixes[k],
                         b.prefixes[k], a.tail[k], b.tail[k]);
        }
    }
    ce_pattern_analyser_free(memo);
    ce_pattern_analyser_free(whole);
}

static void analysis_examples(void **state)
{
    (void)state;
    cr_pattern_info in;
    ce_pattern_analyse("^\\+1(425|206|253)(\\d{7})$", &in);
    assert_int_equal(in.kind, CR_PX_SET);
    assert_int_equal(in.nprefixes, 3);
    assert_string_equal(in.prefixes[0], "+1206");
    assert_string_equal(in.prefixes[1], "+1253");
    assert_string_equal(in.prefixes[2], "+1425");
    assert_int_equal(in.minlen, 12);
    assert_int_equal(in.maxlen, 12);

    ce_pattern_analyse("^\\+?(\\d*)$", &in);
    assert_int_equal(in.kind, CR_PX_SET);
    assert_int_equal(in.nprefixes, 1);
    assert_string_equal(in.prefixes[0], "");
    assert_int_equal(in.minlen, 0);
    assert_int_equal(in.maxlen, CR_PX_LEN_INF);

    ce_pattern_analyse("^\\+([2-9])(\\d*)$", &in);
    assert_int_equal(in.nprefixes, 8);
    assert_string_equal(in.prefixes[0], "+2");
    assert_string_equal(in.prefixes[7], "+9");

    ce_pattern_analyse("^911$", &in);
    assert_int_equal(in.nprefixes, 1);
    assert_string_equal(in.prefixes[0], "911");
    assert_int_equal(in.minlen, 3);
    assert_int_equal(in.maxlen, 3);

    ce_pattern_analyse("^(?:\\+|00)44(\\d+)", &in);
    assert_int_equal(in.nprefixes, 2);
    assert_int_equal(in.maxlen, CR_PX_LEN_INF);

    /* a negative lookahead is read, but its prefix stays "1": what follows it is no one set of
     * symbols (the regex, or the route's automaton, decides) */
    ce_pattern_analyse("^(?!1900)1(\\d{3})$", &in);
    assert_int_equal(in.kind, CR_PX_SET);
    assert_string_equal(in.prefixes[0], "1");

    /* unanchored, back references, inline options: a candidate for every number */
    ce_pattern_analyse("(\\d{7})", &in);
    assert_int_equal(in.kind, CR_PX_ANY);
    ce_pattern_analyse("^(\\d)\\1$", &in);
    assert_int_equal(in.kind, CR_PX_ANY);
    ce_pattern_analyse("(?i)^1$", &in);
    assert_int_equal(in.kind, CR_PX_ANY);
    /* letters never occur in a number of the alphabet */
    ce_pattern_analyse("^abc$", &in);
    assert_int_equal(in.kind, CR_PX_NEVER);
}

/* A walk that stops early checks the rest of the number (the last eight characters at once when
 * fewer than eight are left): refused when a character is outside the alphabet, and the
 * digits start after the last '+', '*' or '#' wherever it is. */
static void walk_checks_the_rest_of_the_number(void **state)
{
    (void)state;
    cr_px_builder b = {0};
    cr_pattern_info info;
    ce_pattern_analyse("^1(\\d+)$", &info);
    assert_int_equal(ce_px_builder_add(&b, &info, 0), CR_OK);
    cr_px_trie t;
    assert_int_equal(ce_px_builder_finish(&b, &t), CR_OK);
    static const char syms[] = "01234567890123456789+*#a";
    rng r = {0x9e3779b97f4a7c15ull};
    for (int round = 0; round < 20000; round++) {
        char num[CR_NUMBER_MAX + 2];
        size_t n = 1 + (size_t)(below(&r, 20));
        num[0] = below(&r, 4) ? '1' : syms[below(&r, sizeof syms - 1)];
        for (size_t i = 1; i < n; i++)
            num[i] = below(&r, 3) ? (char)('0' + below(&r, 10)) : syms[below(&r, sizeof syms - 1)];
        num[n] = 0;
        bool ok = true;
        size_t from = 0;
        for (size_t i = 0; i < n; i++) {
            if (!strchr("0123456789+*#", num[i]))
                ok = false;
            else if (num[i] < '0' || num[i] > '9')
                from = i + 1;
        }
        cr_px_iter it;
        if (ce_px_trie_begin(&t, num, n, &it) != ok)
            fail_msg("'%s': walk %s", num, ok ? "refused" : "accepted");
        if (ok && it.digits_from != from)
            fail_msg("'%s': digits from %u, %zu expected", num, it.digits_from, from);
    }
    ce_px_trie_free(&t);
}

typedef struct re_case {
    const void *re[2]; /* without JIT code, with it */
    bool same;
} re_case;

static const char *const re_subjects[] = {"",         "1",   "+14255550100", "19001234",
                                          "+1900555", "*72", "14115550100",  "+44207946000"};

/* ce_re_test answers as ce_re_exec does, with JIT code or without, on a thread's first match
 * (no match data yet) and after it. */
static void *re_test_compare(void *arg)
{
    re_case *rc = arg;
    rc->same = true;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < 2; k++)
            for (size_t i = 0; i < sizeof re_subjects / sizeof re_subjects[0]; i++) {
                const char *s = re_subjects[i];
                int t = ce_re_test(rc->re[k], s, strlen(s));
                int e = ce_re_exec(rc->re[k], s, strlen(s), 0, 0, NULL);
                rc->same &= t == e;
            }
    return NULL;
}

static void re_test_agrees_with_re_exec(void **state)
{
    (void)state;
    static const char *const pats[] = {"^\\+?(?!(1900|1411))(\\d*)$", "^\\+1(\\d{10})$",
                                       "^\\*(\\d\\d)$", "^(\\d)\\1"};
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        char err[64];
        size_t off;
        re_case rc;
        void *plain = ce_re_compile(pats[p], err, sizeof err, &off);
        void *jit = ce_re_compile(pats[p], err, sizeof err, &off);
        assert_non_null(plain);
        assert_non_null(jit);
        ce_re_jit(jit);
        rc.re[0] = plain;
        rc.re[1] = jit;
        pthread_t th; /* a thread's first match: no match data yet */
        assert_int_equal(pthread_create(&th, NULL, re_test_compare, &rc), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_true(rc.same);
        re_test_compare(&rc);
        assert_true(rc.same);
        ce_re_free(plain);
        ce_re_free(jit);
    }
}

/* A pattern's automaton (ce_pattern_dfa_new) answers as PCRE2 does on every number of the
 * alphabet: random patterns (lookaheads among them), random numbers and the numbers drawn from
 * the patterns themselves. Patterns with an open lookahead at a match, or widened, get none. */
static void dfa_equals_pcre2(void **state)
{
    (void)state;
    static const char *const fixed[] = {"^\\+?(?!(1900|1411))(\\d*)$",
                                        "^(?!1900)1(\\d{3})$",
                                        "^(?!)\\d*$",
                                        "^(?!1?)\\d*$",
                                        "^(?!(|1))\\d*$",
                                        "^1(?!2)",
                                        "^(?!12)1(?!23)\\d{2,4}$",
                                        "^(?:(?!19)\\d\\d)+$",
                                        "^(?!(?!1)2)\\d*$",
                                        "^(?!1\\b)\\d*$",
                                        "^(?!1)?\\d*$",
                                        "^\\+?(?![2-9]\\d{2}555)\\d+$"};
    gen g = {.r = {0x5eed17}};
    cr_pattern_analyser *an = ce_pattern_analyser_new();
    assert_non_null(an);
    size_t with = 0, with_nla = 0, checked = 0;
    for (size_t p = 0; p < 4000 + sizeof fixed / sizeof fixed[0]; p++) {
        char pat[256], num[64], err[64];
        size_t off;
        if (p < sizeof fixed / sizeof fixed[0])
            snprintf(pat, sizeof pat, "%s", fixed[p]);
        else
            pattern(&g, pat, sizeof pat);
        void *re = ce_re_compile(pat, err, sizeof err, &off);
        if (!re)
            continue;
        cr_px_dfa *d = ce_pattern_dfa_new(an, pat);
        cr_pattern_info info;
        ce_pattern_analyse_with(an, pat, &info);
        if (d) { /* only for a pattern the analysis reads exactly */
            assert_true(info.strict);
            with++;
            with_nla += strstr(pat, "(?!") != NULL;
        }
        cr_pattern_sampler *sp = ce_pattern_sampler_new(pat);
        uint32_t srng = 0x9e3779b9u + (uint32_t)p;
        for (size_t i = 0; d && i < 300; i++) {
            if (i % 3 == 0 && sp) {
                if (!ce_pattern_sample(sp, &srng, num, sizeof num))
                    continue;
            } else {
                number(&g, num, sizeof num);
            }
            cr_px_key k;
            if (!ce_px_key_init(&k, num, strlen(num)))
                continue; /* outside the alphabet: PCRE2 decides */
            int want = ce_re_exec(re, num, strlen(num), 0, 0, NULL);
            assert_true(want >= 0);
            if ((want > 0) != ce_px_dfa_match(d, &k))
                fail_msg("'%s' on '%s': PCRE2 %d, automaton %d", pat, num, want,
                         ce_px_dfa_match(d, &k));
            checked++;
        }
        ce_pattern_sampler_free(sp);
        free(d);
        ce_re_free(re);
    }
    ce_pattern_analyser_free(an);
    assert_true(with > 1000);
    assert_true(with_nla > 50);
    assert_true(checked > 100000);
    /* the Universal Route: read exactly, lookahead and all */
    cr_pattern_analyser *a2 = ce_pattern_analyser_new();
    cr_px_dfa *u = ce_pattern_dfa_new(a2, "^\\+?(?!(1900|1411))(\\d*)$");
    assert_non_null(u);
    free(u);
    /* a lookahead still open at a match, a widened content, a repeated lookahead: none */
    assert_null(ce_pattern_dfa_new(a2, "^1(?!2)"));
    assert_null(ce_pattern_dfa_new(a2, "^(?!1\\b)\\d*$"));
    assert_null(ce_pattern_dfa_new(a2, "^(?!1)?\\d*$"));
    ce_pattern_analyser_free(a2);
}

/* The usual normalized number's key spelled out: 8 to 16 decimal digits after an optional '+',
 * each digit its value, '+' 10, CR_PX_SYM_END after; false for any other number. */
static bool usual_key(const char *num, size_t n, uint8_t *sym, size_t *digits_from)
{
    size_t d = n && num[0] == '+';
    if (n < d + 8 || n > d + 16)
        return false;
    for (size_t i = d; i < n; i++)
        if (num[i] < '0' || num[i] > '9')
            return false;
    if (d)
        sym[0] = 10;
    for (size_t i = d; i < n; i++)
        sym[i] = (uint8_t)(num[i] - '0');
    sym[n] = CR_PX_SYM_END;
    *digits_from = d;
    return true;
}

/* ce_px_key_words (the words read of the usual normalized number, in line in a decision and
 * first in ce_px_key_init) reads exactly the usual numbers, into the key spelled out above, and
 * leaves every other number to the rest of ce_px_key_init; ce_px_key_init_in_line reads every
 * number as ce_px_key_init does. Numbers of 0 to 20 characters, mostly digits after an optional
 * '+', with the bytes around the digits ('/', ':', 0x7F, 0xB0...) and the other symbols of the
 * alphabet put in at random. */
static void key_in_line_equals_key_init(void **state)
{
    (void)state;
    static const char odd[] = {'/', ':', '*', '#', '+', 'a', ' ', 0x7F, (char)0xB0, (char)0xB9};
    rng r = {7};
    size_t read = 0, usual = 0;
    for (int round = 0; round < 200000; round++) {
        char num[24];
        size_t n = below(&r, 21), i = 0;
        if (n && below(&r, 2))
            num[i++] = '+';
        for (; i < n; i++)
            num[i] = (char)('0' + below(&r, 10));
        if (n && below(&r, 3) == 0)
            num[below(&r, (uint32_t)n)] = odd[below(&r, sizeof odd)];
        num[n] = 0;
        cr_px_key a, b, w, w0;
        uint8_t want[CR_NUMBER_MAX + 1];
        size_t from = 0;
        memset(&w, 0x33, sizeof w);
        memcpy(&w0, &w, sizeof w);
        bool is_usual = usual_key(num, n, want, &from);
        assert_int_equal(ce_px_key_words(&w, num, n), is_usual);
        if (is_usual) {
            usual++;
            assert_true(w.ok);
            assert_int_equal(w.n, n);
            assert_ptr_equal(w.number, num);
            assert_int_equal(w.digits_from, from);
            assert_memory_equal(w.sym, want, n + 1);
        } else {
            assert_memory_equal(&w, &w0, sizeof w); /* untouched */
        }
        memset(&a, 0xAA, sizeof a);
        memset(&b, 0x55, sizeof b);
        bool ra = ce_px_key_init(&a, num, n), rb = ce_px_key_init_in_line(&b, num, n);
        assert_int_equal(ra, rb);
        assert_int_equal(a.ok, b.ok);
        if (!ra)
            continue;
        read++;
        assert_int_equal(a.n, b.n);
        assert_ptr_equal(a.number, b.number);
        assert_int_equal(a.digits_from, b.digits_from);
        assert_memory_equal(a.sym, b.sym, n + 1);
    }
    assert_true(read > 100000);
    assert_true(usual > 50000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(analysis_examples),
        cmocka_unit_test(analysis_memo_equals_whole),
        cmocka_unit_test(indexed_equals_naive_on_random_configs),
        cmocka_unit_test(merged_walks_bounded),
        cmocka_unit_test(leaf_children_are_items),
        cmocka_unit_test(dense_blocks_equal_naive),
        cmocka_unit_test(walk_checks_the_rest_of_the_number),
        cmocka_unit_test(re_test_agrees_with_re_exec),
        cmocka_unit_test(dfa_equals_pcre2),
        cmocka_unit_test(one_broad_automaton_equals_naive),
        cmocka_unit_test(key_in_line_equals_key_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
