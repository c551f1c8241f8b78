/*
 * plan_park — what a worker's first call costs when the worker parked the plan it inherited
 * (ABI 1.11 park, what Kamailio's SIP workers do in child_init) against a worker that opened
 * its handle at start (issue 14, session 18), in one run.
 *
 * LIB is loaded with dlopen and PLAN opened over a shared block (the host's main process: it
 * publishes the plan), and one call decided. Then, ROUNDS times, two processes are forked in
 * turn, as Kamailio forks its workers:
 *   eager   opens its handle at once (the inherited plan taken), then its first call decides;
 *   parked  parks the inherited plan, then its first call opens the handle (the plan taken
 *           back in place) and decides.
 * Each prints what it did at start and what its first call took (wall time), and the process's
 * CPU time for both; the first call's decision (its first gateway) must be the same in both, and
 * the same as the parent's (else exit 1). Medians at the end. A measuring program: nothing is
 * asserted on time.
 *
 *   plan_park LIB PLAN [ROUNDS] [FROM DIALED]
 *
 * CALLROUTE_RUNTIME_DIR names where the plan is published (default /dev/shm).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_plugin.h"

static const cr_plugin *p;
static const char *from = "sip:u1@example.com", *dialed = "+12065550100";

static double ms(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One decision, from a fresh load-spreading state (every process the same gateway order,
 * whatever the shared counters say); its first gateway (or its kind when it has none) into buf. */
static void decide(cr_handle *h, char *buf, size_t len)
{
    cr_result *r = NULL;
    p->route_ex(h, from, dialed, NULL, 0, CR_ROUTE_FRESH_SPREAD, &r);
    const char *g = r ? p->result_item(r, "attempts", 0, "gateway") : NULL;
    const char *d = r ? p->result_get(r, "decision") : NULL;
    snprintf(buf, len, "%s", g ? g : d ? d : "(none)");
    p->result_free(r);
}

typedef struct figures {
    double start_ms, first_ms, cpu_ms;
    char gateway[128];
} figures;

/* A forked worker: parked or not; its figures written to fd. */
static int worker(const char *plan, cr_open_options *o, int parked, int fd)
{
    figures f = {0};
    char msg[2048];
    cr_handle *h = NULL;
    double c0 = ms(CLOCK_PROCESS_CPUTIME_ID), t0 = ms(CLOCK_MONOTONIC);
    if (parked)
        p->park();
    else if (p->open(plan, o, &h, msg, sizeof msg) != 0)
        return 10;
    double t1 = ms(CLOCK_MONOTONIC);
    if (parked && p->open(plan, o, &h, msg, sizeof msg) != 0)
        return 11;
    decide(h, f.gateway, sizeof f.gateway);
    double t2 = ms(CLOCK_MONOTONIC);
    f.cpu_ms = ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
    f.start_ms = t1 - t0;
    f.first_ms = t2 - t1;
    p->close(h);
    return write(fd, &f, sizeof f) == (ssize_t)sizeof f ? 0 : 12;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: plan_park LIB PLAN [ROUNDS] [FROM DIALED]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 6;
    if (rounds < 1 || rounds > 1000)
        rounds = 6;
    if (argc > 5) {
        from = argv[4];
        dialed = argv[5];
    }
    p = bench_plugin_open("plan_park", argv[1]);
    if (!p)
        return 2;
    if (!CR_HAS(cr_plugin, p, park)) {
        fprintf(stderr, "plan_park: %s: no park (ABI < 1.11)\n", argv[1]);
        return 2;
    }
    size_t len = p->shared_size();
    void *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        return 2;
    cr_open_options o = {.size = sizeof o, .shared = shm, .shared_len = len};
    char msg[2048], want[128];
    cr_handle *h = NULL;
    if (p->open(argv[2], &o, &h, msg, sizeof msg) != 0) {
        fprintf(stderr, "plan_park: %s\n", msg);
        return 2;
    }
    decide(h, want, sizeof want);
    double *v = calloc((size_t)rounds * 6, sizeof *v);
    if (!v)
        return 2;
    int bad = 0;
    for (int r = 0; r < rounds; r++)
        for (int parked = 0; parked < 2; parked++) {
            int pipefd[2];
            if (pipe(pipefd) != 0)
                return 2;
            pid_t pid = fork();
            if (pid == 0)
                _exit(worker(argv[2], &o, parked, pipefd[1]));
            figures f;
            int st = 0;
            ssize_t got = read(pipefd[0], &f, sizeof f);
            waitpid(pid, &st, 0);
            close(pipefd[0]);
            close(pipefd[1]);
            if (got != (ssize_t)sizeof f || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "plan_park: round %d: the %s worker failed (status %d)\n", r + 1,
                        parked ? "parked" : "eager", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
                return 1;
            }
            if (strcmp(f.gateway, want) != 0) {
                fprintf(stderr, "plan_park: round %d: the %s worker decided %s, the parent %s\n",
                        r + 1, parked ? "parked" : "eager", f.gateway, want);
                bad = 1;
            }
            printf("round %d %s: %s %.3f ms, first call %.3f ms, cpu %.3f ms\n", r + 1,
                   parked ? "parked" : "eager ", parked ? "park" : "open", f.start_ms, f.first_ms,
                   f.cpu_ms);
            v[(parked * 3 + 0) * rounds + r] = f.start_ms;
            v[(parked * 3 + 1) * rounds + r] = f.first_ms;
            v[(parked * 3 + 2) * rounds + r] = f.cpu_ms;
        }
    for (int parked = 0; parked < 2; parked++)
        printf("median of %d, %s: %s %.3f ms, first call %.3f ms, cpu %.3f ms\n", rounds,
               parked ? "parked" : "eager ", parked ? "park" : "open",
               median(v + (parked * 3 + 0) * rounds, rounds),
               median(v + (parked * 3 + 1) * rounds, rounds),
               median(v + (parked * 3 + 2) * rounds, rounds));
    free(v);
    p->close(h);
    return bad;
}
