/*
 * Loads LIB with dlopen(RTLD_NOW | RTLD_LOCAL), as the Kamailio module loads libcallroute.so,
 * and prints the milliseconds it took. Linked with nothing but libc, so that every library LIB
 * needs is loaded by that dlopen, as in a host that has none of them yet (start_parts runs it).
 *
 *   start_dlopen LIB
 */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: start_dlopen LIB\n");
        return 2;
    }
    double t0 = now_ms();
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    double ms = now_ms() - t0;
    if (!h) {
        fprintf(stderr, "start_dlopen: %s\n", dlerror());
        return 1;
    }
    printf("%.3f\n", ms);
    return 0;
}
