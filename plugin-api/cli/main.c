/*
 * callroute — the command line. It loads libcallroute.so with dlopen and talks to it through
 * the plugin ABI only (callroute.h), exactly as any SIP server host does.
 */
#define _GNU_SOURCE /* dladdr */
#include "cli.h"
#include "lib/json_esc.h"
#include "opts.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void host_log(void *ud, int level, const char *msg)
{
    (void)ud;
    if (level <= CR_LOG_WARNING && !getenv("CALLROUTE_QUIET"))
        fprintf(stderr, "%s\n", msg);
}

static const cr_plugin *load_plugin(const char *explicit_path)
{
    char self[PATH_MAX], beside[PATH_MAX + 32], installed[PATH_MAX + 64];
    const char *candidates[6];
    size_t n = 0;
    if (explicit_path)
        candidates[n++] = explicit_path;
    else {
        const char *env = getenv("CALLROUTE_LIBRARY");
        if (env && *env)
            candidates[n++] = env;
        ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
        if (l > 0) {
            self[l] = 0;
            char *slash = strrchr(self, '/');
            if (slash) {
                *slash = 0;
                snprintf(beside, sizeof beside, "%s/libcallroute.so.1", self);
                candidates[n++] = beside;
                /* installed: bin/callroute finds lib/libcallroute.so.1 of the same prefix
                 * (before the build tree, which an installed program must not use) */
                snprintf(installed, sizeof installed, "%s/%s", self, CR_RELATIVE_LIBRARY);
                candidates[n++] = installed;
            }
        }
        candidates[n++] = CR_DEFAULT_LIBRARY;
        candidates[n++] = CR_INSTALLED_LIBRARY;
        candidates[n++] = "libcallroute.so.1";
    }
    const char *last = "no candidate";
    for (size_t i = 0; i < n; i++) {
        void *dl = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            last = dlerror();
            continue;
        }
        cr_plugin_entry_fn entry = (cr_plugin_entry_fn)dlsym(dl, CR_PLUGIN_ENTRY_SYMBOL);
        if (!entry) {
            last = "no cr_plugin_entry symbol";
            dlclose(dl);
            continue;
        }
        static cr_host host = {CR_ABI_MAJOR, sizeof(cr_host), NULL, host_log, NULL, NULL, NULL};
        const char *err = NULL;
        const cr_plugin *p = entry(&host, &err);
        if (!p || p->abi_major != CR_ABI_MAJOR) {
            fprintf(stderr, "callroute: %s: %s\n", candidates[i], err ? err : "ABI refused");
            return NULL;
        }
        return p;
    }
    fprintf(stderr, "callroute: cannot load libcallroute.so: %s\n", last);
    return NULL;
}

cr_handle *cr_cli_open(const cr_plugin *p, const char *config, const cr_open_options *opts)
{
    if (!config) {
        fprintf(stderr, "callroute: --config FILE is required\n");
        return NULL;
    }
    char err[8192];
    cr_handle *h = NULL;
    int rc = p->open(config, opts, &h, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err[0] ? err : p->strerror(rc));
        return NULL;
    }
    return h;
}

static void put_stdout(void *ud, const char *s, size_t n)
{
    (void)ud;
    fwrite(s, 1, n, stdout);
}

void cr_cli_json_str(const char *s)
{
    if (s)
        crp_json_escape(s, put_stdout, NULL);
    else
        fputs("null", stdout);
}

void cr_cli_print(const cr_plugin *p, const cr_result *r, int json)
{
    char small[8192];
    size_t (*render)(const cr_result *, char *, size_t) = json ? p->result_json : p->result_text;
    size_t need = render(r, small, sizeof small);
    if (need < sizeof small) {
        fputs(small, stdout);
    } else {
        char *big = malloc(need + 1);
        if (!big)
            return;
        render(r, big, need + 1);
        fputs(big, stdout);
        free(big);
    }
    if (json || (need && small[need < sizeof small ? need - 1 : 0] != '\n'))
        fputc('\n', stdout);
}

static void usage(FILE *f)
{
    cr_cli_help(NULL, f);
}

/* `callroute --version`: this program's version, then the loaded library's and its ABI. */
static int version(const char *library)
{
    printf("callroute %s (built for ABI %d.%d)\n", CR_CLI_VERSION, CR_ABI_MAJOR, CR_ABI_MINOR);
    const cr_plugin *p = load_plugin(library);
    if (!p)
        return 2;
    Dl_info info;
    const char *file = dladdr((const void *)p, &info) && info.dli_fname ? info.dli_fname : "?";
    printf("libcallroute %s (ABI %u.%u) %s\n", p->version, p->abi_major, p->abi_minor, file);
    return 0;
}

typedef int (*cmd_fn)(const cr_plugin *, int, char **);

/* Subcommands not built into this binary are weak and NULL. */
#pragma weak cr_cmd_simulate
#pragma weak cr_cmd_bench
#pragma weak cr_cmd_inbound
#pragma weak cr_cmd_users
/* `bench --rgs` benchmarks the response-group engine (cmd_bench_rgs.c). */
int cr_cmd_bench_rgs(const cr_plugin *p, int argc, char **argv);
#pragma weak cr_cmd_bench_rgs

/*
 * `compile` and `check` build a whole plan on the heap (about 250 MB at 400,000 routes), which
 * the kernel faults in 4 KB at a time unless malloc asks for transparent huge pages, and glibc's
 * malloc does that only when told before main (its tunable glibc.malloc.hugetlb=1: madvise on
 * what it takes from the kernel, under Debian's "madvise" setting of transparent huge pages).
 * A 400,000-route compile then faults a quarter as often and takes about a third less time
 * (README "Compile speed"). So these two commands run themselves again, once, with the tunable
 * added to GLIBC_TUNABLES; not when it already names glibc.malloc.hugetlb (say =0 to keep 4 KB
 * pages), nor under valgrind (an exec would leave it). A failed exec changes nothing.
 */
static void exec_with_huge_pages(char **argv)
{
    const char *t = getenv("GLIBC_TUNABLES"), *pre = getenv("LD_PRELOAD");
    if ((t && strstr(t, "glibc.malloc.hugetlb")) || (pre && strstr(pre, "vgpreload")))
        return;
    char was[1024], v[1100];
    snprintf(was, sizeof was, "%s", t ? t : "");
    int n = snprintf(v, sizeof v, "%s%sglibc.malloc.hugetlb=1", was, *was ? ":" : "");
    if (n < 0 || (size_t)n >= sizeof v || (t && strlen(t) >= sizeof was) ||
        setenv("GLIBC_TUNABLES", v, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    if (t) /* not run again: as it was */
        setenv("GLIBC_TUNABLES", was, 1);
    else
        unsetenv("GLIBC_TUNABLES");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    struct {
        const char *name;
        cmd_fn fn;
    } cmds[] = {
        {"check", cr_cmd_check},     {"normalize", cr_cmd_normalize}, {"route", cr_cmd_route},
        {"dial", cr_cmd_dial},       {"simulate", cr_cmd_simulate},   {"bench", cr_cmd_bench},
        {"inbound", cr_cmd_inbound}, {"users", cr_cmd_users},         {"test", cr_cmd_test},
        {"diff", cr_cmd_diff},       {"compile", cr_cmd_compile},
    };
    const char *library = NULL;
    /* --library may appear anywhere; take it out before the subcommand parses argv */
    int w = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--library") == 0 && i + 1 < argc) {
            library = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--library=", 10) == 0) {
            library = argv[i] + 10;
            continue;
        }
        /* the first word kept is the command; argv is still as given, for the exec */
        if (w == 1 && (strcmp(argv[i], "compile") == 0 || strcmp(argv[i], "check") == 0))
            exec_with_huge_pages(argv);
        argv[w++] = argv[i];
    }
    argc = w;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
        return version(library);
    if (strcmp(argv[1], "bench") == 0)
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "--rgs") == 0) {
                cmds[5].fn = cr_cmd_bench_rgs;
                break;
            }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        if (!cmds[i].fn) {
            fprintf(stderr, "callroute: '%s' is not available in this build\n", argv[1]);
            return 2;
        }
        const cr_plugin *p = load_plugin(library);
        if (!p)
            return 2;
        return cmds[i].fn(p, argc - 1, argv + 1);
    }
    fprintf(stderr, "callroute: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
