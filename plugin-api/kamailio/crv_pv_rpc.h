/*
 * callroute.so: the pseudo-variable $callroute(name) and the RPC commands. Internal.
 */
#ifndef CRV_PV_RPC_H
#define CRV_PV_RPC_H

#include "core/pvar.h"
#include "core/rpc.h"

/* For the module's exports. */
extern rpc_export_t crv_rpc_cmds[];
extern pv_export_t crv_pvs[];

#endif
