/*
 * callroute.so: calls arriving from gateways. Internal.
 */
#ifndef CRI_INBOUND_H
#define CRI_INBOUND_H

#include "core/parser/msg_parser.h"

/* callroute_inbound(): an INVITE from a gateway, recognized by its source IP:port.
 * Normalizes called (Request-URI user) and calling (From user) numbers with the gateway's
 * profile and finds the user. Returns CRM_FOUND (Request-URI := the user's SIP URI,
 * P-Asserted-Identity set for private numbers), CRM_NO_USER (also a Request-URI user that is
 * no number), CRM_NOT_GATEWAY (whatever the Request-URI) or CRM_ERROR. */
int cri_inbound(struct sip_msg *msg);

#endif
