/*
 * plan_share — memory and speed of deciding from a mapped plan image (issue 14 stage 3).
 *
 * Memory: the configuration is compiled into a plan image in the runtime directory, then N
 * processes (fork, like Kamailio's workers) each adopt it, decide every number of the corpus
 * once and, all alive at the same moment, read /proc/self/smaps_rollup. Three rounds:
 *   none     the processes load nothing (the program's own memory: the baseline)
 *   copy     the pre-stage-3 adoption: the plan is read out of the image into private memory
 *            and the image unmapped (cr_image_load_mapped)
 *   shared   the plan keeps the image mapped and decides from its bytes, as a Kamailio
 *            worker adopts it (cr_image_load_owned_ex with CR_IMAGE_NOLINT): the indexes are
 *            read in place and each route and user is filled the first time a decision
 *            reads it, so what a process holds of its own grows with the routes and users
 *            its calls touched (here: every number of the corpus once)
 * Each round prints RSS, PSS and private memory per process, and the sum of PSS over the N
 * processes less the baseline's: what the plan costs the host as a whole.
 *
 * Speed: in the same run, the decisions/s over the corpus of the model loaded from the XML and
 * of the plan decided from the mapped image, in alternating rounds, and their ratio. Every
 * decision of one is compared with the other's; a difference is a failure (exit 1). Nothing
 * is asserted on time or memory: this is a measuring program.
 *
 *   plan_share --config FILE --numbers FILE [--procs N] [--seconds S] [--json]
 *
 * The numbers file has a "FROM DIALED" pair a line (`callroute bench --save` writes one).
 */
#include "cr_engine.h"
#include "cr_image.h"
#include "cr_rules.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NUMBERS 20000

typedef struct call {
    char from[96], dialed[64];
} call;

typedef struct memfig {
    long rss, pss, priv, shared; /* kB */
} memfig;

static call *calls;
static size_t ncalls;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_numbers(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    calls = calloc(MAX_NUMBERS, sizeof *calls);
    char line[256];
    while (calls && ncalls < MAX_NUMBERS && fgets(line, sizeof line, f))
        if (sscanf(line, "%95s %63s", calls[ncalls].from, calls[ncalls].dialed) == 2)
            ncalls++;
    fclose(f);
    return calls && ncalls ? 0 : -1;
}

static memfig read_rollup(void)
{
    memfig m = {0};
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        long v = 0;
        char key[64];
        if (sscanf(line, "%63[^:]: %ld", key, &v) != 2)
            continue;
        if (!strcmp(key, "Rss"))
            m.rss = v;
        else if (!strcmp(key, "Pss"))
            m.pss = v;
        else if (!strcmp(key, "Private_Clean") || !strcmp(key, "Private_Dirty"))
            m.priv += v;
        else if (!strcmp(key, "Shared_Clean") || !strcmp(key, "Shared_Dirty"))
            m.shared += v;
    }
    if (f)
        fclose(f);
    return m;
}

/* One decision written out: what a consumer of cr_decision reads. */
static size_t decision_text(const cr_config *c, const cr_decision *d, char *out, size_t len)
{
    char text[CR_URI_SHORT > CR_REASON_MAX ? CR_URI_SHORT : CR_REASON_MAX];
    size_t o = (size_t)snprintf(out, len, "%d|%s|%s|%s|%s|%zu|%s", (int)d->kind,
                                d->caller ? d->caller->uri : "-",
                                d->profile ? d->profile->name : "-", d->rule ? d->rule->name : "-",
                                d->normalized, d->routes_matched, d->callee ? d->callee->uri : "-");
    for (size_t i = 0; i < d->nattempts && o < len; i++) {
        cr_attempt_uri(c, d, i, text, sizeof text);
        o += (size_t)snprintf(out + o, len - o, "|%s,%s,%s,%s", d->attempts[i].gateway->name,
                              d->attempts[i].route ? d->attempts[i].route->name : "-",
                              d->attempts[i].usage ? d->attempts[i].usage->name : "-", text);
    }
    if (o < len)
        o += (size_t)snprintf(out + o, len - o, "|%s", cr_decision_reason(d, text, sizeof text));
    return o < len ? o : len - 1;
}

static uint64_t decide_all(const cr_config *cfg)
{
    uint64_t sum = 0;
    cr_runtime rt = {0};
    cr_decision d;
    for (size_t i = 0; i < ncalls; i++) {
        cr_route_decide(cfg, calls[i].from, calls[i].dialed, &rt, &d, NULL);
        sum += (uint64_t)d.kind + d.nattempts + d.normalized[0];
    }
    return sum;
}

enum { M_NONE, M_COPY, M_SHARED };
static const char *const mode_names[] = {"none", "copy", "shared"};

static cr_config *adopt(int mode, const char *image)
{
    cr_image_map m;
    char err[400];
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    if (cr_image_map_file(image, &m, err, sizeof err) != CR_OK) {
        fprintf(stderr, "plan_share: %s\n", err);
    } else if (mode == M_COPY) {
        cr_image_load_mapped(&m, image, &cfg, &d);
        cr_image_unmap(&m);
    } else {
        cr_image_load_owned_ex(&m, image, CR_IMAGE_NOLINT, &cfg, &d);
    }
    cr_diag_free(&d);
    return cfg;
}

/* What the decisions' digests go to, so that no decision is optimised away. */
static volatile uint64_t sink;

/* A child: adopt, decide, say ready; once every child is ready, measure, report, wait. */
static void child(int mode, const char *image, int ready, int go, int out, int quit)
{
    cr_config *cfg = mode == M_NONE ? NULL : adopt(mode, image);
    if (mode != M_NONE && !cfg)
        _exit(2);
    if (cfg)
        sink += decide_all(cfg);
    if (mode == M_SHARED) /* stage 3 returns what compile freed; stage 2 did not */
        malloc_trim(0);
    char c = 'r', buf[8];
    if (write(ready, &c, 1) != 1)
        _exit(3);
    while (read(go, buf, sizeof buf) > 0)
        ;
    memfig m = read_rollup();
    if (write(out, &m, sizeof m) != (ssize_t)sizeof m)
        _exit(4);
    while (read(quit, buf, sizeof buf) > 0)
        ;
    cr_config_free(cfg);
    _exit(0);
}

/* N children in one mode; the sum and the mean of their figures. */
static int measure(int mode, const char *image, int nprocs, memfig *sum)
{
    int ready[2], go[2], out[2], quit[2];
    if (pipe(ready) || pipe(go) || pipe(out) || pipe(quit))
        return -1;
    fflush(NULL);
    pid_t pids[64];
    for (int i = 0; i < nprocs; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(ready[0]);
            close(go[1]);
            close(out[0]);
            close(quit[1]);
            child(mode, image, ready[1], go[0], out[1], quit[0]);
        }
    }
    close(ready[1]);
    close(go[0]);
    close(out[1]);
    close(quit[0]);
    int got = 0;
    char c;
    while (got < nprocs && read(ready[0], &c, 1) == 1)
        got++;
    close(go[1]); /* everyone measures now, all alive */
    memset(sum, 0, sizeof *sum);
    int measured = 0;
    memfig m;
    while (measured < got && read(out[0], &m, sizeof m) == (ssize_t)sizeof m) {
        sum->rss += m.rss;
        sum->pss += m.pss;
        sum->priv += m.priv;
        sum->shared += m.shared;
        measured++;
    }
    close(quit[1]);
    int failed = 0;
    for (int i = 0; i < nprocs; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    close(ready[0]);
    close(out[0]);
    return failed || measured != nprocs ? -1 : 0;
}

/* Decisions/s of a and b over the corpus in alternating rounds; mismatches counted. */
static size_t compare_speed(const cr_config *a, const cr_config *b, double seconds, double *ra,
                            double *rb)
{
    size_t mismatches = 0;
    cr_runtime rt = {0};
    cr_decision da, db;
    char ta[4096], tb[4096];
    for (size_t i = 0; i < ncalls; i++) {
        cr_route_decide(a, calls[i].from, calls[i].dialed, &rt, &da, NULL);
        cr_route_decide(b, calls[i].from, calls[i].dialed, &rt, &db, NULL);
        decision_text(a, &da, ta, sizeof ta);
        decision_text(b, &db, tb, sizeof tb);
        if (strcmp(ta, tb) != 0 && mismatches++ < 3)
            fprintf(stderr, "plan_share: %s -> %s differs:\n  model %s\n  image %s\n",
                    calls[i].from, calls[i].dialed, ta, tb);
    }
    double ta_s = 0, tb_s = 0;
    uint64_t na = 0, nb = 0;
    for (int round = 0; round < 20 && ta_s + tb_s < seconds; round++) {
        double t0 = now_s();
        sink += decide_all(a);
        double t1 = now_s();
        sink += decide_all(b);
        double t2 = now_s();
        ta_s += t1 - t0;
        tb_s += t2 - t1;
        na += ncalls;
        nb += ncalls;
    }
    *ra = na / ta_s;
    *rb = nb / tb_s;
    return mismatches;
}

static void usage(void)
{
    fputs("usage: plan_share --config FILE --numbers FILE [--procs N] [--seconds S] [--json]\n",
          stderr);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *numbers = NULL;
    int nprocs = 8, json = 0;
    double seconds = 1.0;
    static const struct option opts[] = {
        {"config", 1, 0, 'c'},  {"numbers", 1, 0, 'n'}, {"procs", 1, 0, 'p'},
        {"seconds", 1, 0, 's'}, {"json", 0, 0, 'j'},    {0, 0, 0, 0},
    };
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 'c')
            config = optarg;
        else if (o == 'n')
            numbers = optarg;
        else if (o == 'p')
            nprocs = atoi(optarg);
        else if (o == 's')
            seconds = atof(optarg);
        else if (o == 'j')
            json = 1;
        else
            return usage(), 2;
    }
    if (!config || !numbers || nprocs < 1 || nprocs > 64 || seconds <= 0)
        return usage(), 2;
    if (read_numbers(numbers) != 0) {
        fprintf(stderr, "plan_share: no calls in %s\n", numbers);
        return 2;
    }
    cr_diag d;
    cr_diag_init(&d);
    cr_config *model = NULL;
    if (cr_rules_load(config, &model, &d) != CR_OK) {
        fprintf(stderr, "plan_share: %s does not load\n", config);
        return 2;
    }
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char image[256], err[400];
    snprintf(image, sizeof image, "%s/plan_share-%d.plan", dir, (int)getpid());
    if (cr_image_write(image, model, 1, NULL, err, sizeof err) != CR_OK) {
        fprintf(stderr, "plan_share: %s\n", err);
        return 2;
    }
    /* the children inherit nothing of the model: it is loaded again after they are gone */
    cr_config_free(model);
    malloc_trim(0);
    memfig fig[3];
    int rc = 0;
    for (int mode = M_NONE; mode <= M_SHARED && rc == 0; mode++)
        if (measure(mode, image, nprocs, &fig[mode]) != 0) {
            fprintf(stderr, "plan_share: the %s round failed\n", mode_names[mode]);
            rc = 1;
        }
    cr_config *img = rc == 0 ? adopt(M_SHARED, image) : NULL;
    model = NULL;
    if (rc == 0 && (!img || cr_rules_load(config, &model, &d) != CR_OK))
        rc = 1;
    double ra = 0, rb = 0;
    size_t mism = rc == 0 ? compare_speed(model, img, seconds, &ra, &rb) : 0;
    unlink(image);
    cr_config_free(model);
    cr_config_free(img);
    cr_diag_free(&d);
    if (rc != 0)
        return rc;
    long plan_copy = fig[M_COPY].pss - fig[M_NONE].pss;
    long plan_shared = fig[M_SHARED].pss - fig[M_NONE].pss;
    if (json) {
        printf("{\"procs\": %d, \"calls\": %zu", nprocs, ncalls);
        for (int m = M_NONE; m <= M_SHARED; m++)
            printf(", \"%s\": {\"rss_kb\": %ld, \"pss_kb\": %ld, \"private_kb\": %ld, "
                   "\"pss_sum_kb\": %ld}",
                   mode_names[m], fig[m].rss / nprocs, fig[m].pss / nprocs, fig[m].priv / nprocs,
                   fig[m].pss);
        printf(", \"plan_copy_kb\": %ld, \"plan_shared_kb\": %ld, \"memory_ratio\": %.2f, "
               "\"model_decisions_per_sec\": %.0f, \"image_decisions_per_sec\": %.0f, "
               "\"speed_ratio\": %.2f, \"mismatches\": %zu}\n",
               plan_copy, plan_shared, plan_copy > 0 ? (double)plan_shared / plan_copy : 0.0, ra,
               rb, ra > 0 ? rb / ra : 0.0, mism);
    } else {
        printf("%d processes, %zu calls each; per process (kB), and PSS summed over all:\n", nprocs,
               ncalls);
        printf("  %-8s %10s %10s %10s %12s\n", "round", "RSS", "PSS", "private", "PSS sum");
        for (int m = M_NONE; m <= M_SHARED; m++)
            printf("  %-8s %10ld %10ld %10ld %12ld\n", mode_names[m], fig[m].rss / nprocs,
                   fig[m].pss / nprocs, fig[m].priv / nprocs, fig[m].pss);
        printf("plan memory over %d processes (PSS sum less the baseline): copy %ld kB, shared "
               "%ld kB (%.2fx)\n",
               nprocs, plan_copy, plan_shared,
               plan_copy > 0 ? (double)plan_shared / plan_copy : 0.0);
        printf("decisions/s: model from the XML %.0f, plan from the mapped image %.0f (%.2fx); "
               "%zu mismatches\n",
               ra, rb, ra > 0 ? rb / ra : 0.0, mism);
    }
    return mism ? 1 : 0;
}
