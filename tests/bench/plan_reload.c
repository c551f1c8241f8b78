/*
 * plan_reload — what a reload of a plan image costs the process that reloads (issue 14): LIB
 * loaded with dlopen, PLAN opened over a shared block as a host's main process opens it (it
 * publishes the plan), then reloaded ROUNDS times from the same path, each reload timed (wall
 * clock): the image copied into the runtime directory and its checksum verified, its records
 * checked, the new plan published and installed. No other process follows, so no reload waits
 * for one. A measuring program: nothing is asserted on time.
 *
 *   plan_reload LIB PLAN [ROUNDS]
 *
 * CALLROUTE_RUNTIME_DIR names where the plan is published (default /dev/shm).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "bench_plugin.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: plan_reload LIB PLAN [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1 || rounds > 1000)
        rounds = 5;
    const cr_plugin *p = bench_plugin_open("plan_reload", argv[1]);
    if (!p)
        return 2;
    size_t len = p->shared_size();
    void *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        return 2;
    cr_open_options o = {.size = sizeof o, .shared = shm, .shared_len = len};
    char msg[2048];
    cr_handle *h = NULL;
    double t0 = now_ms();
    if (p->open(argv[2], &o, &h, msg, sizeof msg) != 0) {
        fprintf(stderr, "plan_reload: %s\n", msg);
        return 2;
    }
    printf("open %.1f ms\n", now_ms() - t0);
    for (int r = 0; r < rounds; r++) {
        t0 = now_ms();
        if (p->reload(h, argv[2], msg, sizeof msg) != 0) {
            fprintf(stderr, "plan_reload: %s\n", msg);
            return 1;
        }
        printf("reload %.1f ms\n", now_ms() - t0);
    }
    p->close(h);
    return 0;
}
