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

/* Whether a child process of this rank routes SIP (a UDP, TCP or SCTP worker): those open the
 * plan and the response-group engine in child_init; the others (timers, ctl, the probe, the
 * match maker) only when they first need them. The main process is neither (it forks). */
static inline int crm_routes_sip(int rank)
{
    return rank >= PROC_SIPINIT;
}

/* tm's API, bound in mod_init (every file that works on transactions uses it). */
extern struct tm_binds crm_tmb;

struct cell;
/* Cancelling the branches of a call. tm 5.6 loses a branch whose first provisional reply
 * is read by one worker while another relays the 2xx (or while the module cancels it): the
 * 1xx's worker checked for a pending cancel (F_RB_CANCELED) before tm marked one, tm's cancel
 * saw no reply on the branch and gave up, and the 1xx is then dropped without being recorded
 * (last_received stays 0). The branch rings on (issue 10: "sam's phone was not cancelled").
 * So the module records every provisional reply itself (crm_note_ringing, from a
 * TMCB_RESPONSE_IN callback: it runs before tm's check) and cancels through
 * crm_cancel_wanted, called at once and then on every timer tick while it returns > 0. */

/* How a gateway answered a call leg that is not an outbound decision's (a user's
 * simultaneous-ring or PBX leg, a response group's forward to a number): the same failure
 * classes as callroute_next() (plugin-api/lib/gateways.c: 408 / no answer or 503 with
 * Retry-After hold it down, other 5xx only after gateway_fail_threshold in a row, any other
 * answer resets the count), one log line per failure. `retry_after` in seconds, 0 none. */
void crm_gateway_outcome(const char *who, const char *gw, int code, int retry_after);

/* Records that the reply's branch (tm's current branch) got a provisional reply. */
void crm_note_ringing(volatile branch_bm_t *rang, int code);

/* Cancels the branches in `want` that have no final reply and no CANCEL yet: a branch with a
 * provisional reply (tm's record, or `rang`) gets its CANCEL now (forced when only `rang`
 * saw the reply); a branch with none is handed to tm's cancel on the `first` call (tm stops
 * its retransmissions and sends the CANCEL itself when a 1xx comes) and left alone after.
 * Returns how many wanted branches are still open (0: done). */
int crm_cancel_wanted(struct cell *t, branch_bm_t want, branch_bm_t rang, int first,
                      const char *who);

/* For a call with branches in `want` still open (no final reply, no CANCEL out) `ms` after
 * they were to be cancelled (the call ended, another branch answered): one warning a branch
 * (its last reply, whether `rang` saw a provisional reply, tm's cancel state, request flags),
 * and a CANCEL, sent now whatever tm saw, to each such branch whose cancel buffer is free.
 * Its INVITE went out before, so the CANCEL cannot overtake it (RFC 3261 9.1's reason to wait
 * for a 1xx). This is for the provisional reply tm never matched (lost) or dropped: tm stops
 * the INVITE's retransmissions when the call is answered or the branch cancelled, so no later
 * 1xx would come to trigger the CANCEL. Returns how many CANCELs were sent. */
int crm_cancel_open_branches(struct cell *t, branch_bm_t want, branch_bm_t rang, long ms,
                             const char *who);

#endif
