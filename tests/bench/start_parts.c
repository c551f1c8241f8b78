/*
 * The parts of the module's start-up measured apart (issue 14), printed as one JSON line a run:
 *   dlopen_ms   loading LIB (RTLD_NOW | RTLD_LOCAL, as the module does) in a fresh process
 *               (start_dlopen, which has none of LIB's libraries loaded yet);
 *   hash1_ms    mapping FILE (MAP_POPULATE) and its checksum (cr_image_checksum: XXH64 over 1 MiB
 *               chunks) on one thread, after EVICT_MB of other memory was touched so that
 *               FILE's bytes come from memory, not the cache;
 *   hash2_ms    the same on two threads, as a start verifies an image (cr_image_checksum_mt);
 *   trusted_ms  reading FILE's records from its mapping as a restart does when its stamp matched
 *               (CR_IMAGE_TRUSTED: the configuration a process decides with, built);
 *   checked_ms  the same with every record checked, as a first start does;
 *   free_ms     freeing that configuration in the process that built it;
 *   cow_free_ms freeing it in a child forked after it was built, as a process that never routes
 *               lets go of the plan it inherited (its pages copied on write as free() touches
 *               them);
 *   fork_ms, fork_with_plan_ms  one fork() of this process (best of 5), before and while it
 *               holds that configuration (as Kamailio's main process forks its workers).
 * A measuring program: nothing is asserted on time.
 *
 *   start_parts --lib LIB --file FILE [--runs N] [--evict-mb MB]
 */
#include "cr_image.h"
#include "cr_plan_image.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Runs `child` (it gets its output descriptor, prints milliseconds as text to it, and its
 * exit status says whether it did) in a forked child and returns what it printed; -1 on
 * error. */
static double in_child_ms(void (*child)(int out, const void *arg), const void *arg)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        child(fd[1], arg);
        _exit(1);
    }
    close(fd[1]);
    char out[64] = "";
    ssize_t got = pid < 0 ? -1 : read(fd[0], out, sizeof out - 1);
    close(fd[0]);
    int status = 1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (got <= 0 || status != 0)
        return -1;
    out[got] = 0;
    return strtod(out, NULL);
}

typedef struct dlopen_job {
    const char *helper, *lib;
} dlopen_job;

static void dlopen_child(int out, const void *arg)
{
    const dlopen_job *j = arg;
    if (dup2(out, 1) < 0)
        _exit(1);
    execl(j->helper, j->helper, j->lib, (char *)NULL);
}

/* dlopen of lib in a fresh process: start_dlopen, beside this program, linked with nothing but
 * libc (a child of this process would find libxml2 and the others loaded already); -1 on
 * error. */
static double dlopen_ms(const char *self, const char *lib)
{
    char helper[PATH_MAX];
    const char *slash = strrchr(self, '/');
    int n = slash ? snprintf(helper, sizeof helper, "%.*s/start_dlopen", (int)(slash - self), self)
                  : snprintf(helper, sizeof helper, "start_dlopen");
    if (n < 0 || (size_t)n >= sizeof helper)
        return -1;
    dlopen_job j = {helper, lib};
    return in_child_ms(dlopen_child, &j);
}

/* Map fd's n bytes and compute the image checksum over them (as a start verifies an image) on
 * `threads` (1 or 2) threads, the caches emptied of them first. */
static double hash_ms(int fd, size_t n, int threads, unsigned char *evict, size_t evict_len)
{
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < evict_len; i += 64)
        sink = (unsigned char)(sink + ++evict[i]);
    double t0 = now_ms();
    const char *p = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    uint64_t h =
        threads == 2 ? cr_image_checksum_mt(p + 16, n - 16) : cr_image_checksum(p + 16, n - 16);
    double ms = now_ms() - t0;
    sink = (unsigned char)(sink + (unsigned char)h);
    munmap((void *)(uintptr_t)p, n);
    return ms;
}

/* Reads the image at fd (mapped shared, as a publisher reads the admin's file) into a
 * configuration; NULL on error. *ms: the time it took. */
static cr_config *load(int fd, size_t n, unsigned flags, double *ms)
{
    double t0 = now_ms();
    void *p = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    cr_image_map m = {.base = p, .len = n};
    cr_diag d;
    cr_diag_init(&d);
    char why[240];
    cr_config *cfg = NULL;
    if (cr_image_verify_header(p, n, &m.info, why, sizeof why) != CR_OK ||
        cr_image_load_owned_ex(&m, "start_parts", flags | CR_IMAGE_NOLINT, &cfg, &d) != CR_OK)
        cfg = NULL;
    *ms = now_ms() - t0;
    cr_diag_free(&d);
    return cfg;
}

/* The time fork() takes in this process (the child exits at once), best of 5. */
static double fork_ms(void)
{
    double best = -1;
    for (int i = 0; i < 5; i++) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        double ms = now_ms() - t0;
        if (pid < 0)
            return -1;
        waitpid(pid, NULL, 0);
        if (best < 0 || ms < best)
            best = ms;
    }
    return best;
}

static void free_child(int out, const void *arg)
{
    double t0 = now_ms();
    cr_config_free((cr_config *)(uintptr_t)arg);
    _exit(dprintf(out, "%.6f\n", now_ms() - t0) > 0 ? 0 : 1);
}

/* Frees cfg in a forked child; the child's time, -1 on error. */
static double cow_free_ms(cr_config *cfg)
{
    return in_child_ms(free_child, cfg);
}

int main(int argc, char **argv)
{
    const char *lib = NULL, *file = NULL;
    int runs = 3;
    size_t evict_mb = 800;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--lib") == 0)
            lib = argv[i + 1];
        else if (strcmp(argv[i], "--file") == 0)
            file = argv[i + 1];
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--evict-mb") == 0)
            evict_mb = (size_t)strtoul(argv[i + 1], NULL, 10);
    }
    if (!lib || !file || runs < 1) {
        fprintf(stderr, "usage: start_parts --lib LIB --file FILE [--runs N] [--evict-mb MB]\n");
        return 2;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size <= 0) {
        fprintf(stderr, "start_parts: cannot read %s\n", file);
        return 1;
    }
    size_t evict_len = evict_mb << 20;
    unsigned char *evict = evict_len ? malloc(evict_len) : NULL;
    if (evict_len && !evict) {
        fprintf(stderr, "start_parts: no memory for %zu MB\n", evict_mb);
        return 1;
    }
    if (evict)
        memset(evict, 1, evict_len);
    int rc = 0;
    for (int r = 0; r < runs; r++) {
        double d = dlopen_ms(argv[0], lib),
               h1 = hash_ms(fd, (size_t)sb.st_size, 1, evict, evict_len),
               h2 = hash_ms(fd, (size_t)sb.st_size, 2, evict, evict_len);
        double tr = -1, ck = -1, fr = -1, cf = -1, f0 = fork_ms(), f1 = -1;
        cr_config *cfg = load(fd, (size_t)sb.st_size, CR_IMAGE_TRUSTED, &tr);
        if (cfg) {
            f1 = fork_ms();
            cf = cow_free_ms(cfg);
            double t0 = now_ms();
            cr_config_free(cfg);
            fr = now_ms() - t0;
        }
        cfg = load(fd, (size_t)sb.st_size, 0, &ck);
        if (!cfg)
            ck = -1;
        cr_config_free(cfg);
        if (d < 0 || h1 < 0 || h2 < 0 || tr < 0 || ck < 0 || fr < 0 || cf < 0 || f0 < 0 || f1 < 0)
            rc = 1;
        printf("{\"file_bytes\": %lld, \"dlopen_ms\": %.3f, \"hash1_ms\": %.3f, \"hash2_ms\": "
               "%.3f, \"trusted_ms\": %.3f, \"checked_ms\": %.3f, \"free_ms\": %.3f, "
               "\"cow_free_ms\": %.3f, \"fork_ms\": %.3f, \"fork_with_plan_ms\": %.3f}\n",
               (long long)sb.st_size, d, h1, h2, tr, ck, fr, cf, f0, f1);
    }
    free(evict);
    close(fd);
    return rc;
}
