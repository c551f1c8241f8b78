/* Inside rules/: the records of the response groups compiled into plan images (cr_rgs_image.h),
 * for the image loader (rgs_targets.c), the XML loader given an image (rgs_xml.c) and white-box
 * tests. */
#ifndef CU_RGS_IMAGE_H
#define CU_RGS_IMAGE_H

#include "cr_rgs_image.h"

/* The records of `rgs` (resolved or not: only what the loader set is written) in *out (malloc'ed,
 * *len bytes). CR_OK or CR_ENOMEM. */
int cu_rgs_image_encode(const cr_rgs_config *rgs, void **out, size_t *len);

/*
 * Reads records back into a new, unresolved configuration (*out, NULL on failure). Bytes that
 * are damaged or cut short are refused: CR_ECONFIG with an error naming `name` (the image) and
 * the record ("workflow 2: string out of bounds"); else CR_OK or CR_ENOMEM.
 */
int cu_rgs_image_decode(const void *bytes, size_t len, const char *name, cr_rgs_config **out,
                        cr_diag *diag);

/* The response groups compiled into the plan image file at `path`, resolved (cr_rgs_xml_load_ex
 * given an image: `callroute simulate`, hosts that name an image). */
int cu_rgs_image_load_file(const char *path, cr_rgs_config **out, cr_diag *diag);

#endif
