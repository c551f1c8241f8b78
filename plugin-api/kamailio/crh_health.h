/*
 * callroute.so: gateway health — ports held by calls, OPTIONS probes, the operator's state
 * (RPC callroute.gateway_state). Internal.
 */
#ifndef CRH_HEALTH_H
#define CRH_HEALTH_H

#include "core/parser/msg_parser.h"

extern int crh_probe_interval; /* modparam "gateway_probe_interval" (s), 0 = off */
extern char *crh_probe_from;   /* modparam "gateway_probe_from" */

int crh_mod_init(void);
int crh_child_init(int rank);

/* Call `msg` takes a port of gateway `gw` (capacity): 0 taken (or not counted), -1 full. */
int crh_take_port(struct sip_msg *msg, const char *gw);

/* The seconds of a reply's Retry-After header (raw buffer), 0 when none. */
int crh_retry_after(const char *buf, int len);

#endif
