/* Response groups checked against the routing configuration of the same document. */
#ifndef CR_RGS_CHECK_H
#define CR_RGS_CHECK_H

#include "cr_model.h"
#include "cr_rgs.h"

/*
 * Errors: an agent who is a user not enabled for Enterprise Voice (guide: an agent must be);
 * a workflow whose URI or line is also a user's. Warnings: a queue without a timeout.
 * Returns CR_OK, or CR_ECONFIG when an error was added.
 */
int cr_rgs_check_against(const cr_config *cfg, const cr_rgs_config *rgs, cr_diag *diag);

#endif
