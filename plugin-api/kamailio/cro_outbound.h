/*
 * callroute.so: outbound decisions (callroute_route(), callroute_next()) and the decision
 * record that travels with the transaction. Internal.
 */
#ifndef CRO_OUTBOUND_H
#define CRO_OUTBOUND_H

#include <stdint.h>

#include "core/parser/msg_parser.h"
#include "core/str.h"

#include "callroute.h"

/* The fields of $callroute(name). */
enum cro_field {
    CRO_F_DECISION,
    CRO_F_NORMALIZED,
    CRO_F_ROUTE,
    CRO_F_USAGE,
    CRO_F_GATEWAY,
    CRO_F_REASON,
    CRO_F_TARGET,
    CRO_F_PROFILE,
    CRO_F_RULE,
    CRO_F_NEXT_GATEWAY,
    CRO_F_COUNT
};

/* callroute_route(): the outbound decision for the request. `caller` (a SIP URI) and
 * `dialed` (digits, tel: or sip: URI) may be NULL: the From URI and the whole Request-URI.
 * A sip: dialed URI whose host is one of Kamailio's own addresses or aliases (myself) is
 * handed to the library as a tel: URI of its user part, which no domain check refuses.
 * Returns CRM_OUTBOUND, CRM_INTERNAL, CRM_BLOCKED, CRM_NOT_APPLICABLE or CRM_ERROR. */
int cro_route(struct sip_msg *msg, const str *caller, const str *dialed);

/* Level of the per-call decision line (modparam "log_level": L_DBG, L_INFO or L_NOTICE). */
extern int cro_log_level;

/* Parses a log_level value ("debug", "info", "notice"); CRO_LOG_UNKNOWN when unknown. */
#define CRO_LOG_UNKNOWN (-100)
int cro_log_level_parse(const char *s);

/* callroute_next(): in a failure_route, fail over to the transaction's next attempt.
 * Returns 1 (Request-URI and destination set), CRM_NO_ATTEMPT or CRM_ERROR. */
int cro_next(struct sip_msg *msg);

/* Records decision `a` with its first `natt` attempts as the message's decision (XAVP
 * "callroute", replacing any) and this process's last decision. -1 when the XAVP could not
 * be added (the last decision is kept anyway). */
int cro_store_decision(const cr_route_answer *a, uint32_t natt);

/* Field `f` (enum cro_field) of the message's (or its transaction's) decision, else of this
 * process's last decision; s->len 0 when absent. Points into the record: valid until the
 * message's next decision. */
void cro_field(int f, str *s);

/* True when the message (or its transaction) carries an outbound decision with an attempt
 * in progress (gateway capacity follows such calls). */
int cro_has_outbound_decision(void);

/* The gateway of the current attempt of transaction t into buf; -1 when none. */
int cro_transaction_gateway(struct cell *t, char *buf, size_t len);

#endif
