/*
 * Plan image files (engine/include/cr_plan_image.h): writing one, mapping one read-only, loading
 * the configuration it holds.
 */
#ifndef CR_IMAGE_H
#define CR_IMAGE_H

#include "cr_model.h"
#include "cr_plan_image.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the file at path starts with the plan image magic (false when unreadable). */
bool cr_image_file_is(const char *path);

/* A verified image mapped read-only (PROT_READ, MAP_SHARED). */
typedef struct cr_image_map {
    const void *base;
    size_t len;
    cr_image_info info;
} cr_image_map;

/* Maps and verifies the image at path; errors as "path: what is wrong" into err. */
int cr_image_map_file(const char *path, cr_image_map *m, char *err, size_t errlen);
/* The same with CR_IMAGE_TRUSTED: the checksum is not computed (the header is checked). */
int cr_image_map_file_ex(const char *path, unsigned flags, cr_image_map *m, char *err,
                         size_t errlen);
void cr_image_unmap(cr_image_map *m);

/* Copies the image at path into a new file `staged` (mode 0640; the kernel copies), maps the
 * copy shared, verifies it and makes the mapping read-only: a copy the admin's later rewrites of
 * path cannot touch, which a publisher reads in place and then publishes by renaming it
 * (plugin-api/lib/handle.c). On failure nothing is left at `staged`. The mapping stays writable
 * through mprotect for cr_image_restamp (the file was opened for writing). */
int cr_image_stage(const char *path, const char *staged, cr_image_map *m, char *err, size_t errlen);

/* Builds the image of a compiled configuration and writes it to path (a new file, then
 * renamed over path, mode 0640). The image's checksum goes to *checksum (may be
 * NULL). Errors into err. */
int cr_image_write(const char *path, const cr_config *cfg, uint64_t generation, uint64_t *checksum,
                   char *err, size_t errlen);

/* Loads the configuration an image holds and compiles it: what cr_rules_load does for XML.
 * The file is read into a private read-only copy the configuration borrows its strings from
 * (cr_image_load_owned). Errors (damaged, foreign image) go to diag naming path. */
int cr_image_load(const char *path, cr_config **out, cr_diag *diag);
/* The same with cr_image_read_ex's flags (CR_IMAGE_NOLINT). */
int cr_image_load_ex(const char *path, unsigned flags, cr_config **out, cr_diag *diag);

/* cr_image_load from a mapped, verified image: the configuration copies what it needs (the
 * image may be unmapped at once). */
int cr_image_load_mapped(const cr_image_map *m, const char *path, cr_config **out, cr_diag *diag);

/* The same without copying: the configuration's strings stay in the image, which the
 * configuration now owns (m->base is cleared; the image is unmapped when the configuration is
 * freed, or at once on failure). Every process that loads the same published image file this
 * way shares its pages. */
int cr_image_load_owned(cr_image_map *m, const char *path, cr_config **out, cr_diag *diag);
/* The same with cr_image_read_ex's flags (CR_IMAGE_NOLINT: a process adopting a published plan
 * repeats no lint). The mapping was verified when it was made: its checksum is not computed
 * again. */
int cr_image_load_owned_ex(cr_image_map *m, const char *path, unsigned flags, cr_config **out,
                           cr_diag *diag);

#endif
