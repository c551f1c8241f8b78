/*
 * callroute.so, the Kamailio module: what its files share (internal; not for other modules).
 *
 * The module is split by concern, one prefix each:
 *   callroute_mod.c  exports, parameters, init, script wrappers and the KEMI table (crm_)
 *   crl_library.c    loading libcallroute.so, the host callbacks, per-process handles (crl_)
 *   cro_outbound.c   the outbound decision record, callroute_route()/callroute_next() (cro_)
 *   cri_inbound.c    calls from gateways, callroute_inbound() (cri_)
 *   cru_user.c       users' ringing plans on tm and their timer process (cru_)
 *   crv_pv_rpc.c     $callroute(...) and the RPC commands (crv_)
 */
#ifndef CALLROUTE_MOD_H
#define CALLROUTE_MOD_H

#include "modules/tm/tm_load.h"

/* Return codes of the script functions (0 would stop the script, so never 0). */
#define CRM_OUTBOUND        1
#define CRM_INTERNAL        2
#define CRM_FOUND           1
#define CRM_BLOCKED         -1
#define CRM_NO_USER         -1
#define CRM_NO_ATTEMPT      -1
#define CRM_NOT_APPLICABLE  -2
#define CRM_NOT_GATEWAY     -2
#define CRM_NOTHING_TO_RING -2
#define CRM_ERROR           -3

#define CRM_FIELD_MAX 256
#define CRM_ERR_MAX   4096

/* tm's API, bound in mod_init (every file that works on transactions uses it). */
extern struct tm_binds crm_tmb;

struct cell;
/* Diagnostics for the sweeps that cancel branches still ringing on a finished transaction
 * (cru_settle, the match maker's bridge sweep): logs, at most once a second per process, a
 * branch that rings (1xx) while tm holds its cancel buffer busy with no CANCEL built, which
 * prepare_to_cancel never selects again. `who` names the caller (issue 10: a rare "branch
 * not cancelled" e2e failure whose cause is not established yet). */
void crm_log_stuck_branches(struct cell *t, const char *who);

#endif
