/*
 * answer_instructions — decide_instructions' calls through the ABI's route_answer, what the
 * Kamailio module calls per call: the decision and every text of its answer (issue 17):
 *
 *   valgrind --tool=callgrind --toggle-collect=answer_all \
 *       answer_instructions build/plugin-api/libcallroute.so.1 PLAN.xml [N]
 *
 * Loads the library named first (dlopen, the entry point), opens PLAN.xml, reads the first N
 * (10,000) lines of PLAN.xml.numbers and answers each twice (the first pass warms the caches),
 * then prints a digest of every answer's kind, reason, number, target and attempts (URI,
 * gateway, route): two libraries that print the same digest answered the same. Instructions
 * per answer: answer_all's inclusive count divided by 2 N.
 */
#include "callroute.h"

#include <dlfcn.h>
#include "bench_numbers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fold(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

__attribute__((noinline)) static uint64_t answer_all(const cr_plugin *p, cr_handle *h, char **from,
                                                     char **dialed, size_t n)
{
    static cr_route_answer a;
    uint64_t d = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        a.size = sizeof a;
        if (p->route_answer(h, from[i], dialed[i], NULL, 0, &a) != CR_ABI_OK)
            return 0;
        d = fold(
            fold(fold((d ^ (uint64_t)(a.kind + 8)) * 1099511628211ULL, a.reason), a.normalized),
            a.target);
        for (uint32_t k = 0; k < a.nattempts; k++)
            d = fold(fold(fold(d, a.attempts[k].uri), a.attempts[k].gateway), a.attempts[k].route);
    }
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: answer_instructions LIBCALLROUTE.so PLAN.xml [N]\n");
        return 2;
    }
    size_t want = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000, n = 0;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    cr_plugin_entry_fn entry = lib ? (cr_plugin_entry_fn)dlsym(lib, CR_PLUGIN_ENTRY_SYMBOL) : NULL;
    const char *err = NULL;
    const cr_plugin *p = entry ? entry(NULL, &err) : NULL;
    if (!p || !CR_HAS(cr_plugin, p, route_answer)) {
        fprintf(stderr, "answer_instructions: %s: %s\n", argv[1],
                !lib  ? dlerror()
                : err ? err
                      : "no route_answer");
        return 1;
    }
    cr_open_options o = {0};
    o.size = sizeof o;
    char why[1024];
    cr_handle *h = NULL;
    if (p->open(argv[2], &o, &h, why, sizeof why) != CR_ABI_OK) {
        fprintf(stderr, "answer_instructions: %s\n", why);
        return 1;
    }
    char **from, **dialed;
    n = bench_numbers_read("answer_instructions", argv[2], want, &from, &dialed);
    if (n == (size_t)-1)
        return 1;
    answer_all(p, h, from, dialed, n);
    uint64_t d = answer_all(p, h, from, dialed, n);
    printf("%zu numbers, 2 passes, digest %016llx\n", n, (unsigned long long)d);
    bench_numbers_free(from, dialed, n);
    p->close(h);
    return d ? 0 : 1;
}
