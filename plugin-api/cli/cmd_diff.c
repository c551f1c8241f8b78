/*
 * callroute diff --config OLD --config NEW [--from URI]... [--numbers FILE | --generate N]
 *
 * What a reload would change: each number is decided by both configurations, from each
 * caller, each from a fresh load-spreading state, and every difference in decision,
 * normalized number, target, or gateway order (gateway and route of each attempt) is
 * printed. --numbers FILE: one "NUMBER" or "FROM NUMBER" a line ('#' comments); without it
 * --generate N numbers (default 2000) drawn from the shapes people dial (extensions, local,
 * national, international, service and premium numbers), and numbers sampled from every
 * normalization rule and route pattern of both configurations. Without --from, the callers
 * are the users of both, one per distinct voice policy, location profile and Enterprise Voice
 * flag. Exit status: 0 no difference, 1 differences, 2 usage or configuration error.
 */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct side {
    cr_handle *h;
} side;

static bool side_open(const cr_plugin *p, side *s, const char *config)
{
    cr_open_options o = {.size = sizeof o};
    s->h = cr_cli_open(p, config, &o);
    return s->h != NULL;
}

static void side_close(const cr_plugin *p, side *s)
{
    if (s->h)
        p->close(s->h);
}

/* The parts of a decision a reload may change, as one comparable line. */
static void summary(const cr_plugin *p, side *s, const char *from, const char *number, char *buf,
                    size_t len)
{
    cr_result *r = NULL; /* from a fresh load-spreading state */
    if (p->route_ex(s->h, from, number, NULL, 0, CR_ROUTE_FRESH_SPREAD, &r) != 0 || !r) {
        snprintf(buf, len, "error");
        return;
    }
    const char *d = p->result_get(r, "decision"), *n = p->result_get(r, "normalized");
    const char *t = p->result_get(r, "target");
    size_t used = (size_t)snprintf(buf, len, "%s", d ? d : "?");
    if (n && used < len)
        used += (size_t)snprintf(buf + used, len - used, " %s", n);
    if (t && used < len)
        used += (size_t)snprintf(buf + used, len - used, " -> %s", t);
    size_t na = p->result_count(r, "attempts");
    for (size_t i = 0; i < na && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s (%s)", i ? ", " : " via ",
                                 p->result_item(r, "attempts", i, "gateway"),
                                 p->result_item(r, "attempts", i, "route"));
    p->result_free(r);
}

/* The caller without --from, and how many numbers were decided from it. */
static const char default_from[] = "sip:diff@invalid";
static unsigned long default_used;

/* Compares one number from one caller; returns 1 when it changes. */
static int compare(const cr_plugin *p, side *old, side *new, const char *from, const char *number)
{
    default_used += from == default_from;
    char a[4096], b[4096];
    summary(p, old, from, number, a, sizeof a);
    summary(p, new, from, number, b, sizeof b);
    if (strcmp(a, b) == 0)
        return 0;
    printf("%s %s\n  - %s\n  + %s\n", from, number, a, b);
    return 1;
}

/* The n-th generated number (deterministic): the shapes people dial. */
static void generated(unsigned long n, char *buf, size_t len)
{
    unsigned long x = n * 2654435761UL + 12345;
    unsigned long d = (x >> 8) % 10000000UL;
    switch (n % 10) {
    case 0:
        snprintf(buf, len, "%04lu", d % 10000);
        break;
    case 1:
        snprintf(buf, len, "%05lu", d % 100000);
        break;
    case 2:
        snprintf(buf, len, "%07lu", d);
        break;
    case 3:
        snprintf(buf, len, "+1%03lu%07lu", 200 + (x >> 3) % 800, d);
        break;
    case 4:
        snprintf(buf, len, "1%03lu%07lu", 200 + (x >> 3) % 800, d);
        break;
    case 5:
        snprintf(buf, len, "011%02lu%08lu", 30 + (x >> 3) % 60, d);
        break;
    case 6:
        snprintf(buf, len, "+%02lu%09lu", 30 + (x >> 3) % 60, d * 10 % 1000000000UL);
        break;
    case 7:
        snprintf(buf, len, "%s", (const char *[]){"911", "411", "611", "933"}[(x >> 3) % 4]);
        break;
    case 8:
        snprintf(buf, len, "+1900%07lu", d);
        break;
    default:
        snprintf(buf, len, "+1425555%04lu", d % 10000);
        break;
    }
}

/* A set of strings (numbers, caller URIs), kept in the order added. */
typedef struct strset {
    char **v;
    size_t n, cap;
    size_t *slot; /* open addressing over v's indexes + 1; capacity slots_cap (power of 2) */
    size_t slots_cap;
} strset;

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Adds s unless present; false when out of memory. */
static bool strset_add(strset *set, const char *s)
{
    if ((set->n + 1) * 2 > set->slots_cap) {
        size_t nc = set->slots_cap ? set->slots_cap * 2 : 256;
        size_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return false;
        for (size_t i = 0; i < set->n; i++) {
            size_t k = str_hash(set->v[i]) & (nc - 1);
            while (ns[k])
                k = (k + 1) & (nc - 1);
            ns[k] = i + 1;
        }
        free(set->slot);
        set->slot = ns;
        set->slots_cap = nc;
    }
    size_t k = str_hash(s) & (set->slots_cap - 1);
    for (; set->slot[k]; k = (k + 1) & (set->slots_cap - 1))
        if (strcmp(set->v[set->slot[k] - 1], s) == 0)
            return true;
    if (set->n == set->cap) {
        size_t nc = set->cap ? set->cap * 2 : 64;
        char **nv = realloc(set->v, nc * sizeof *nv);
        if (!nv)
            return false;
        set->v = nv;
        set->cap = nc;
    }
    if (!(set->v[set->n] = strdup(s)))
        return false;
    set->slot[k] = ++set->n;
    return true;
}

static void strset_free(strset *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i]);
    free(set->v);
    free(set->slot);
}

/* The numbers sampled from a side's rule and route patterns (SAMPLES_PER_PATTERN each, at
 * most SAMPLES_MAX from both sides) into nums, and its callers (one user per distinct voice
 * policy, location profile and Enterprise Voice flag) into callers. */
enum { SAMPLES_PER_PATTERN = 4, SAMPLES_MAX = 20000 };
static bool side_samples(const cr_plugin *p, side *s, strset *nums, strset *callers)
{
    cr_result *r = NULL;
    if (!CR_HAS(cr_plugin, p, samples) || !p->samples ||
        p->samples(s->h, SAMPLES_PER_PATTERN, &r) != 0 || !r)
        return true; /* an older library: the generated numbers only */
    bool ok = true;
    size_t nc = p->result_count(r, "callers"), nn = p->result_count(r, "numbers");
    for (size_t i = 0; ok && callers && i < nc; i++)
        ok = strset_add(callers, p->result_item(r, "callers", i, "uri"));
    /* spread over every pattern when there are more than room for */
    size_t room = nums && nums->n < SAMPLES_MAX ? SAMPLES_MAX - nums->n : 0;
    for (size_t i = 0; ok && room && i < nn; i++)
        if (nn <= room || (i * room) / nn != ((i + 1) * room) / nn)
            ok = strset_add(nums, p->result_item(r, "numbers", i, "number"));
    p->result_free(r);
    return ok;
}

static const cr_optspec diff_spec[] = {
    {"config", true}, {"from", true}, {"numbers", true}, {"generate", true}, {NULL, false},
};

/* Every caller for every line of the numbers file; -1 when it cannot be read. */
static int diff_file(const cr_plugin *p, side *old, side *new, const char *path,
                     const char *const *from, size_t nfrom)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "callroute diff: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int changed = 0;
    for (int lineno = 1; getline(&line, &cap, f) >= 0; lineno++) {
        char *start = line + (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0 ? 3 : 0);
        char *a = strtok(start, " \t\r\n"), *b = a ? strtok(NULL, " \t\r\n") : NULL;
        if (!a || *a == '#')
            continue;
        char *c = b && *b != '#' ? strtok(NULL, " \t\r\n") : NULL;
        if (b && *b == '#') /* NUMBER # a comment */
            b = NULL;
        if (c && *c != '#') {
            fprintf(stderr,
                    "%s:%d: error: '%s' after the number: a line is NUMBER or FROM NUMBER\n", path,
                    lineno, c);
            changed = -1;
            break;
        }
        if (b)
            changed += compare(p, old, new, a, b);
        else
            for (size_t i = 0; i < nfrom; i++)
                changed += compare(p, old, new, from[i], a);
    }
    if (changed >= 0 && ferror(f)) { /* a directory, or a read error */
        fprintf(stderr, "callroute diff: %s: %s\n", path, strerror(errno));
        changed = -1;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return changed;
}

int cr_cmd_diff(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, diff_spec, &o))
        return 2;
    const char *configs[2] = {NULL, NULL}, *from[64];
    size_t nc = 0, nfrom = 0;
    for (size_t i = 0; i < o.n; i++) {
        if (strcmp(o.names[i], "config") == 0 && nc++ < 2)
            configs[nc - 1] = o.values[i];
        else if (strcmp(o.names[i], "from") == 0 && nfrom++ < 64)
            from[nfrom - 1] = o.values[i];
    }
    if (nc > 2 || nfrom > 64) { /* never drop an option silently */
        fprintf(stderr, "callroute diff: %s\n",
                nc > 2 ? "--config comes exactly twice (OLD, then NEW)"
                       : "at most 64 --from callers");
        return 2;
    }
    const char *numbers = cr_opt(&o, "numbers"), *gen = cr_opt(&o, "generate");
    char *end = NULL;
    long count = gen ? strtol(gen, &end, 10) : 2000;
    if (nc != 2 || o.npos || (numbers && gen) || count < 1 || count > 10000000 || (gen && *end)) {
        cr_cli_help("diff", stderr);
        return 2;
    }
    side old = {0}, new = {0};
    int changed = 0;
    strset nums = {0}, callers = {0};
    if (side_open(p, &old, configs[0]) && side_open(p, &new, configs[1])) {
        /* without --from: the users of both configurations, one per distinct policy, profile
         * and Enterprise Voice flag; without --numbers: the generated shapes and numbers
         * sampled from every rule and route pattern of both (issue 16) */
        bool ok = true;
        for (long n = 0; ok && !numbers && n < count; n++) {
            char num[32];
            generated((unsigned long)n, num, sizeof num);
            ok = strset_add(&nums, num);
        }
        size_t shapes = nums.n;
        ok = ok && side_samples(p, &old, numbers ? NULL : &nums, nfrom ? NULL : &callers) &&
             side_samples(p, &new, numbers ? NULL : &nums, nfrom ? NULL : &callers);
        for (size_t i = 0; i < callers.n && nfrom < 64; i++)
            from[nfrom++] = callers.v[i];
        if (!nfrom)
            from[nfrom++] = default_from;
        if (!ok)
            fprintf(stderr, "callroute diff: out of memory\n");
        else if (callers.n || !numbers)
            fprintf(stderr, "callroute diff: %zu caller%s%s, %zu number%s%s\n", nfrom,
                    nfrom == 1 ? "" : "s",
                    callers.n ? " (one user per voice policy, location profile and Enterprise "
                                "Voice flag)"
                              : "",
                    numbers ? 0 : nums.n, !numbers && nums.n == 1 ? "" : "s",
                    numbers ? " (from the file)"
                    : nums.n > shapes
                        ? " (generated shapes, and samples of every rule and route pattern)"
                        : " (generated shapes)");
        if (!ok)
            changed = -1;
        else if (numbers)
            changed = diff_file(p, &old, &new, numbers, from, nfrom);
        else
            for (size_t n = 0; n < nums.n; n++)
                for (size_t i = 0; i < nfrom; i++)
                    changed += compare(p, &old, &new, from[i], nums.v[n]);
        if (changed >= 0)
            printf("%d difference%s\n", changed, changed == 1 ? "" : "s");
        if (changed >= 0 && default_used) /* "0 differences" must not read as "nothing changes" */
            fprintf(stderr,
                    "callroute diff: warning: %lu number%s decided from no caller (no --from): "
                    "a caller who is not a user is not enabled for Enterprise Voice, so both "
                    "configurations answer not_applicable; name callers with --from URI or "
                    "\"FROM NUMBER\" lines\n",
                    default_used, default_used == 1 ? " was" : "s were");
    } else {
        changed = -1;
    }
    side_close(p, &old);
    side_close(p, &new);
    strset_free(&nums);
    strset_free(&callers);
    return changed < 0 ? 2 : changed ? 1 : 0;
}
