/*
 * The response groups compiled into a plan image (issue 14): what the XML loader produced
 * (cr_rgs_config: groups and their agents, queues, hours, holidays, workflows, time zones as
 * parsed from their TZif files, the source locations of every object) written as records,
 * the bytes attached to the routing configuration under CR_RGS_IMAGE_NAME
 * (cr_config_attach), which a plan image carries and checksums. Read back through the
 * cr_rgs_config adders then cr_rgs_config_resolve: the same configuration as from the XML,
 * without libxml2 and without reading a file (IVR scripts stay paths, read by the Lua layer).
 */
#ifndef CR_RGS_IMAGE_H
#define CR_RGS_IMAGE_H

#include "cr_model.h"
#include "cr_rgs.h"

#define CR_RGS_IMAGE_NAME "response groups"

/* Attaches the records of `rgs` to the routing configuration, for its plan image. */
int cr_rgs_image_attach(cr_config *routing, const cr_rgs_config *rgs);

/*
 * The response groups of a loaded routing configuration (from the XML or a plan image), decoded
 * and resolved: no XML is parsed, no file read. A configuration without response groups gives
 * an empty one; one that declares them but carries no compiled records is an error.
 * `name` (may be NULL) names the plan in errors. CR_OK, CR_ECONFIG, CR_ENOMEM or CR_EINVAL.
 */
int cr_rgs_image_load_config(const cr_config *routing, const char *name, cr_rgs_config **out,
                             cr_diag *diag);

#endif
