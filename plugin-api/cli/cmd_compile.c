/* compile: a configuration (XML, or a plan image) into a plan image
 * (engine/include/cr_plan_image.h). */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const cr_optspec compile_spec[] = {
    {"config", true},      {"output", true}, {"o", true},
    {"include-dir", true}, {"owner", true},  {NULL, false},
};

#define INCLUDE_DIRS_MAX 32

int cr_cmd_compile(const cr_plugin *p, int argc, char **argv)
{
    static const char usage[] =
        "usage: callroute compile --config FILE -o PLAN [--include-dir DIR]... "
        "[--owner USER[:GROUP]]\n";
    /* "-o PLAN" is accepted as "--o PLAN" by the option parser */
    char *args[256];
    int n = argc < 256 ? argc : 256;
    for (int i = 0; i < n; i++)
        args[i] = strcmp(argv[i], "-o") == 0 ? "--output" : argv[i];
    cr_opts o;
    if (!cr_opts_parse(n, args, compile_spec, &o))
        return 2;
    const char *config = cr_opt(&o, "config");
    const char *out = cr_opt(&o, "output") ? cr_opt(&o, "output") : cr_opt(&o, "o");
    if (!config || !out || o.npos) {
        fputs(usage, stderr);
        return 2;
    }
    if (p->size < offsetof(cr_plugin, compile) + sizeof(void *) || !p->compile) {
        fprintf(stderr, "callroute compile: needs libcallroute with ABI 1.6 or later\n");
        return 2;
    }
    /* --owner: the image is given to the SIP server's user (it is written 0640): known
     * before anything is compiled */
    const char *owner = cr_opt(&o, "owner");
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (owner && !cr_parse_owner("callroute compile", owner, &uid, &gid))
        return 2;
    const char *dirs[INCLUDE_DIRS_MAX];
    char buf[4096];
    size_t nd = cr_opt_all(&o, "include-dir", dirs, INCLUDE_DIRS_MAX - 1, buf, sizeof buf);
    dirs[nd] = NULL;
    cr_open_options opts = {.size = sizeof opts, .include_dirs = nd ? dirs : NULL};
    char err[8192];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = p->compile(config, &opts, out, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err[0] ? err : p->strerror(rc));
        return 2; /* a refused configuration is a configuration error (SPEC §5), as in check */
    }
    if (owner && chown(out, uid, gid) != 0) {
        fprintf(stderr, "callroute compile: %s: cannot give it to %s: %s (the image is written)\n",
                out, owner, strerror(errno));
        return 2;
    }
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("%s: compiled to %s in %.0f ms\n", config, out, ms);
    return 0;
}
