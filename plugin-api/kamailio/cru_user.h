/*
 * callroute.so: calls to users, their ringing plans run on tm and the module's timer
 * process. Internal.
 */
#ifndef CRU_USER_H
#define CRU_USER_H

#include "core/parser/msg_parser.h"

/* modparam "location_table": the usrloc table users' contacts are looked up in. */
extern char *cru_location_table;

/* mod_init: binds registrar, allocates the table of running plans (shared memory) and
 * adds its timer to Kamailio's slow timer. 0 also when the library has no user plans (the
 * functions then fail with an error); -1 on failure. */
int cru_mod_init(void);

/* callroute_user(): an INVITE whose Request-URI is a user's SIP URI. Creates the transaction
 * and fills the destination set with what rings at once. Returns 1 (relay it), 0 (a
 * retransmission, absorbed), CRM_NO_USER, CRM_NOTHING_TO_RING or CRM_ERROR. */
int cru_user(struct sip_msg *msg);

/* callroute_user_next(): in the failure_route of such a call, the plan's next step at once.
 * Returns 1 (relay it), CRM_NO_ATTEMPT or CRM_ERROR. */
int cru_user_next(struct sip_msg *msg);

#endif
