/* Workflows as call targets of the routing model (engine/workflow.c), read from the
 * <responseGroups> of the document the routing configuration is loaded from, or from the
 * response groups compiled into its plan image. Internal to
 * rules/: the XML loader and the plan image loader call these before they compile. */
#ifndef CR_RGS_TARGETS_H
#define CR_RGS_TARGETS_H

#include "cr_model.h"

/* Adds each <workflow> child of a <responseGroups> element (an xmlNodePtr of `file`, an
 * interned name) to cfg: its name, uri and line. What else is wrong with a workflow is the
 * response-group loader's to report. Returns CR_OK or CR_ENOMEM. */
int cu_rgs_targets_add(cr_config *cfg, const void *response_groups, const char *file);

/* The same for the response groups compiled into the plan image cfg was read from (its
 * attachment, cr_rgs_image.h): no XML is parsed. Returns CR_OK (also when there are none),
 * CR_ENOMEM, or CR_ECONFIG when the records are damaged (the error names `name`, the image). */
int cu_rgs_targets_from_image(cr_config *cfg, const char *name, cr_diag *diag);

#endif
