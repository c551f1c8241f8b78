/*
 * plan_adopt — how long a process takes to start deciding with a published plan image
 * (issue 14), in one run, side by side:
 *
 *   map+verify  cr_image_map_file: open, map read-only (MAP_POPULATE), check the header, the
 *               section table and the checksum. What the issue calls "image load".
 *   adopt       map+verify, then read the image in place as a Kamailio worker does when it
 *               follows a reload (cr_image_load_owned_ex with CR_IMAGE_NOLINT): the model's
 *               records and the compiled sections (tries, user indexes) are pointed at, not
 *               rebuilt; per process only the record arrays, the name indexes, the PCRE2 code
 *               of the rules and of the routes the index cannot decide, and the workflows.
 *   follow      what a Kamailio worker does when it follows a reload: the published image was
 *               validated by the process that published it, so it is mapped and read
 *               CR_IMAGE_TRUSTED (header checked; no checksum, no record checked again).
 *   recompile   the way before image version 2 (the baseline): map+verify, read the model out
 *               of the image into private memory and compile it again (cr_image_load_mapped:
 *               every pattern analysed, every index built).
 *
 * Rounds alternate (adopt, recompile, adopt, ...); each prints its milliseconds and, for
 * adopt and recompile, the resident memory the configuration added. The decision of every
 * number of --numbers is compared between the two (a difference exits 1), then both decide
 * them again in alternating passes, each decision timed: p50 and p99 of each side by side
 * (the adopted plan fills its routes and users on first use: the first pass pays for that).
 * Nothing is asserted on time: this is a measuring program.
 *
 *   plan_adopt --image FILE [--numbers FILE] [--rounds N] [--json] [--adopt-only]
 *
 * --adopt-only leaves the recompile rounds out (for profiling the adoption alone).
 */
#include "cr_engine.h"
#include "cr_image.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NUMBERS 5000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Resident kB of this process (VmRSS). */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

typedef struct numbers {
    char (*from)[128], (*dialed)[64];
    size_t n;
} numbers;

static void read_numbers(const char *path, numbers *nb)
{
    nb->from = calloc(MAX_NUMBERS, sizeof *nb->from);
    nb->dialed = calloc(MAX_NUMBERS, sizeof *nb->dialed);
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[256];
    while (f && nb->from && nb->dialed && nb->n < MAX_NUMBERS && fgets(line, sizeof line, f))
        if (sscanf(line, "%127s %63s", nb->from[nb->n], nb->dialed[nb->n]) == 2)
            nb->n++;
    if (f)
        fclose(f);
}

enum { ADOPT, FOLLOW, RECOMPILE };

static cr_config *load(const char *image, int how, double *ms, double *verify_ms, long *kb)
{
    bool adopt = how != RECOMPILE;
    unsigned trusted = how == FOLLOW ? CR_IMAGE_TRUSTED : 0;
    malloc_trim(0);
    long before = rss_kb();
    double t0 = now_ms();
    cr_image_map m;
    char err[512];
    if (cr_image_map_file_ex(image, trusted, &m, err, sizeof err) != CR_OK) {
        fprintf(stderr, "plan_adopt: %s\n", err);
        exit(2);
    }
    *verify_ms = now_ms() - t0;
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    int rc = adopt ? cr_image_load_owned_ex(&m, image, CR_IMAGE_NOLINT | trusted, &cfg, &d)
                   : cr_image_load_mapped(&m, image, &cfg, &d);
    if (!adopt)
        cr_image_unmap(&m);
    *ms = now_ms() - t0;
    *kb = rss_kb() - before;
    if (rc != CR_OK) {
        char line[1600];
        for (size_t i = 0; i < d.count; i++) {
            cr_diag_format(&d, i, line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
        exit(2);
    }
    cr_diag_free(&d);
    return cfg;
}

/* Decides every number with both configurations: the same attempts, reason and kind. */
static size_t compare(const cr_config *a, const cr_config *b, const numbers *nb)
{
    size_t bad = 0;
    for (size_t i = 0; i < nb->n; i++) {
        cr_decision x, y;
        cr_route_decide(a, nb->from[i], nb->dialed[i], NULL, &x, NULL);
        cr_route_decide(b, nb->from[i], nb->dialed[i], NULL, &y, NULL);
        char rx[CR_REASON_MAX], ry[CR_REASON_MAX], ux[CR_URI_SHORT], uy[CR_URI_SHORT];
        bool same = x.kind == y.kind && x.nattempts == y.nattempts &&
                    strcmp(cr_decision_reason(&x, rx, sizeof rx),
                           cr_decision_reason(&y, ry, sizeof ry)) == 0 &&
                    strcmp(x.normalized, y.normalized) == 0;
        for (size_t k = 0; same && k < x.nattempts; k++) {
            cr_attempt_uri(a, &x, k, ux, sizeof ux);
            cr_attempt_uri(b, &y, k, uy, sizeof uy);
            same = strcmp(ux, uy) == 0 &&
                   strcmp(x.attempts[k].route->name, y.attempts[k].route->name) == 0;
        }
        if (!same && bad++ < 5)
            fprintf(stderr, "plan_adopt: %s %s decided differently\n", nb->from[i], nb->dialed[i]);
    }
    return bad;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define PASSES 5

/* Times every decision of PASSES passes over the numbers with a and with b, alternated:
 * p50/p99 (ns) of each into pa, pb. */
static void time_decisions(const cr_config *a, const cr_config *b, const numbers *nb, double pa[2],
                           double pb[2])
{
    size_t n = nb->n * PASSES;
    double *ta = malloc((n + 1) * sizeof *ta), *tb = malloc((n + 1) * sizeof *tb);
    if (!ta || !tb || !nb->n) {
        pa[0] = pa[1] = pb[0] = pb[1] = 0;
        free(ta);
        free(tb);
        return;
    }
    cr_decision d;
    for (int pass = 0; pass < PASSES; pass++)
        for (int side = 0; side < 2; side++) {
            const cr_config *c = side ? b : a;
            double *t = (side ? tb : ta) + (size_t)pass * nb->n;
            for (size_t i = 0; i < nb->n; i++) {
                double t0 = now_ns();
                cr_route_decide(c, nb->from[i], nb->dialed[i], NULL, &d, NULL);
                t[i] = now_ns() - t0;
            }
        }
    qsort(ta, n, sizeof *ta, cmp_double);
    qsort(tb, n, sizeof *tb, cmp_double);
    pa[0] = ta[n / 2];
    pa[1] = ta[n * 99 / 100];
    pb[0] = tb[n / 2];
    pb[1] = tb[n * 99 / 100];
    free(ta);
    free(tb);
}

int main(int argc, char **argv)
{
    const char *image = NULL, *numbers_path = NULL;
    int rounds = 5;
    bool json = false, adopt_only = false;
    static const struct option opts[] = {
        {"image", required_argument, 0, 'i'},  {"numbers", required_argument, 0, 'n'},
        {"rounds", required_argument, 0, 'r'}, {"json", no_argument, 0, 'j'},
        {"adopt-only", no_argument, 0, 'a'},   {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c == 'i')
            image = optarg;
        else if (c == 'n')
            numbers_path = optarg;
        else if (c == 'r')
            rounds = atoi(optarg);
        else if (c == 'j')
            json = true;
        else if (c == 'a')
            adopt_only = true;
        else
            return 2;
    }
    if (!image || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: plan_adopt --image FILE [--numbers FILE] [--rounds N] [--json]\n");
        return 2;
    }
    numbers nb = {0};
    read_numbers(numbers_path, &nb);
    double verify[100], adopt[100], follow[100], recompile[100];
    long adopt_kb = 0, recompile_kb = 0;
    double pa[2] = {0, 0}, pb[2] = {0, 0};
    size_t mismatches = 0;
    for (int r = 0; r < rounds; r++) {
        double v2, v3;
        long follow_kb;
        cr_config *a = load(image, ADOPT, &adopt[r], &verify[r], &adopt_kb);
        cr_config *f = load(image, FOLLOW, &follow[r], &v3, &follow_kb);
        if (r == 0)
            mismatches += compare(a, f, &nb);
        cr_config_free(f);
        if (adopt_only) {
            cr_config_free(a);
            recompile[r] = 0;
            continue;
        }
        cr_config *b = load(image, RECOMPILE, &recompile[r], &v2, &recompile_kb);
        if (r == 0) {
            mismatches += compare(a, b, &nb);
            time_decisions(a, b, &nb, pa, pb);
        }
        cr_config_free(a);
        cr_config_free(b);
        if (!json)
            printf("round %d: map+verify %.1f ms, adopt %.1f ms (+%ld kB), follow %.1f ms, "
                   "recompile %.1f ms (+%ld kB)\n",
                   r + 1, verify[r], adopt[r], adopt_kb, follow[r], recompile[r], recompile_kb);
    }
    qsort(verify, (size_t)rounds, sizeof *verify, cmp_double);
    qsort(adopt, (size_t)rounds, sizeof *adopt, cmp_double);
    qsort(recompile, (size_t)rounds, sizeof *recompile, cmp_double);
    qsort(follow, (size_t)rounds, sizeof *follow, cmp_double);
    int mid = rounds / 2;
    if (json)
        printf("{\"rounds\": %d, \"verify_ms_median\": %.2f, \"adopt_ms_median\": %.2f, "
               "\"adopt_ms_min\": %.2f, \"adopt_ms_max\": %.2f, \"follow_ms_median\": %.2f, "
               "\"follow_ms_min\": %.2f, \"follow_ms_max\": %.2f, \"recompile_ms_median\": %.2f, "
               "\"ratio\": %.1f, \"adopt_kb\": %ld, \"recompile_kb\": %ld, \"compared\": %zu, "
               "\"mismatches\": %zu, \"adopted_p50_ns\": %.0f, \"adopted_p99_ns\": %.0f, "
               "\"compiled_p50_ns\": %.0f, \"compiled_p99_ns\": %.0f}\n",
               rounds, verify[mid], adopt[mid], adopt[0], adopt[rounds - 1], follow[mid], follow[0],
               follow[rounds - 1], recompile[mid], recompile[mid] / adopt[mid], adopt_kb,
               recompile_kb, nb.n, mismatches, pa[0], pa[1], pb[0], pb[1]);
    else
        printf("median of %d: map+verify %.1f ms, adopt %.1f ms (min %.1f, max %.1f), follow %.1f "
               "ms (min %.1f, max %.1f), recompile %.1f ms: adopt is %.1fx faster; %zu numbers "
               "compared, %zu mismatches\n",
               rounds, verify[mid], adopt[mid], adopt[0], adopt[rounds - 1], follow[mid], follow[0],
               follow[rounds - 1], recompile[mid], recompile[mid] / adopt[mid], nb.n, mismatches);
    if (!json && !adopt_only)
        printf("decisions (%d alternated passes over the numbers): adopted p50 %.0f ns, p99 %.0f "
               "ns; compiled p50 %.0f ns, p99 %.0f ns\n",
               PASSES, pa[0], pa[1], pb[0], pb[1]);
    free(nb.from);
    free(nb.dialed);
    return mismatches ? 1 : 0;
}
