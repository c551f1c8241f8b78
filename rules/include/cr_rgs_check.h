/* Response groups checked against the routing configuration of the same document. */
#ifndef CR_RGS_CHECK_H
#define CR_RGS_CHECK_H

#include "cr_model.h"
#include "cr_rgs.h"

/*
 * Errors: an agent who is a user not enabled for Enterprise Voice (guide: an agent who is a user
 * must be enabled); a workflow whose URI or line is also a user's. Warnings: a queue without a
 * timeout. Returns CR_OK, or CR_ECONFIG when an error was added.
 */
int cr_rgs_check_against(const cr_config *cfg, const cr_rgs_config *rgs, cr_diag *diag);

/*
 * Warnings for what the host cuts short: a queue whose timeout is longer than `max_wait_s`,
 * the longest a caller may wait in a response group on the host (Kamailio: the module's
 * rgs_max_wait). Such callers are ended at max_wait_s and never reach the timeout action.
 * max_wait_s 0 checks nothing. Returns the number of warnings added.
 */
size_t cr_rgs_check_wait(const cr_rgs_config *rgs, unsigned max_wait_s, cr_diag *diag);

#endif
