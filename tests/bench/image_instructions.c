/*
 * image_instructions — decide_instructions' decisions from a plan's image, beside the plan
 * compiled in process, for counting what deciding from an image costs under callgrind:
 *
 *   valgrind --tool=callgrind --toggle-collect=decide_image image_instructions PLAN.xml [N [WAY]]
 *   valgrind --tool=callgrind --toggle-collect=decide_model image_instructions PLAN.xml [N [WAY]]
 *
 * Loads PLAN.xml (the in-process plan), writes its image to /dev/shm (cr_image_write) and reads
 * it back as a worker adopts it (WAY "map", the default: cr_image_map_file_ex then
 * cr_image_load_owned_ex) or into private memory (WAY "load": cr_image_load_ex). Reads the first
 * N (10,000) lines of PLAN.xml.numbers and decides each from the in-process plan and from the
 * image once (warming the caches and JIT stacks, filling the image's routes and users on first
 * use), then again from the in-process plan (decide_model) and from the image (decide_image).
 * Prints both digests of the second passes (the same as decide_instructions' for the plan):
 * exit 1 when they differ (decide_model and decide_image are noipa: identical functions would
 * be folded into one). Per decision: the toggled function's inclusive count divided by N.
 */
#include "cr_engine.h"
#include "cr_image.h"
#include "cr_rules.h"

#include "bench_decide.h"
#include "bench_numbers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noipa)) static uint64_t decide_model(const cr_config *c, char **from, char **dialed,
                                                    size_t n)
{
    return bench_decide_digest(c, from, dialed, n);
}

__attribute__((noipa)) static uint64_t decide_image(const cr_config *c, char **from, char **dialed,
                                                    size_t n)
{
    return bench_decide_digest(c, from, dialed, n);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: image_instructions PLAN.xml [N [map|load]]\n");
        return 2;
    }
    size_t want = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    const char *way = argc > 3 ? argv[3] : "map";
    cr_config *c = NULL, *img = NULL;
    cr_diag d;
    cr_diag_init(&d);
    if (cr_rules_load(argv[1], &c, &d) != CR_OK) {
        fprintf(stderr, "image_instructions: %s does not load\n", argv[1]);
        cr_diag_free(&d);
        return 1;
    }
    char path[128], err[600];
    snprintf(path, sizeof path, "/dev/shm/image_instructions-%d.plan", (int)getpid());
    if (cr_image_write(path, c, 1, NULL, err, sizeof err) != CR_OK) {
        fprintf(stderr, "image_instructions: %s\n", err);
        return 1;
    }
    int rc;
    if (!strcmp(way, "load")) {
        rc = cr_image_load_ex(path, CR_IMAGE_NOLINT, &img, &d);
    } else {
        cr_image_map m;
        rc = cr_image_map_file_ex(path, CR_IMAGE_TRUSTED, &m, err, sizeof err);
        if (rc == CR_OK)
            rc = cr_image_load_owned_ex(&m, path, CR_IMAGE_NOLINT | CR_IMAGE_TRUSTED, &img, &d);
    }
    unlink(path);
    cr_diag_free(&d);
    if (rc != CR_OK) {
        fprintf(stderr, "image_instructions: the image of %s does not load\n", argv[1]);
        return 1;
    }
    char **from, **dialed;
    size_t n = bench_numbers_read("image_instructions", argv[1], want, &from, &dialed);
    if (n == (size_t)-1)
        return 1;
    bench_decide_digest(c, from, dialed, n); /* the first pass of each: caches, JIT stacks, fills */
    bench_decide_digest(img, from, dialed, n);
    uint64_t hm = decide_model(c, from, dialed, n), hi = decide_image(img, from, dialed, n);
    printf("%zu numbers, in-process digest %016llx, image (%s) digest %016llx\n", n,
           (unsigned long long)hm, way, (unsigned long long)hi);
    bench_numbers_free(from, dialed, n);
    cr_config_free(img);
    cr_config_free(c);
    return hm == hi ? 0 : 1;
}
