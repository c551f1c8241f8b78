/* The response-group slots of the plugin table (callroute.h: rgs_open ... rgs_close). */
#ifndef CRP_RGS_ABI_H
#define CRP_RGS_ABI_H

#include "callroute.h"

typedef void (*crp_rgs_emit_fn)(void *ud, int64_t at_ms, const char *call_id, const char *action,
                                const char *args);

/* Loads the handle's <responseGroups> (cr_rgs_xml_load on its path) and starts an engine.
 * Errors (configuration, state directory) go to err as "file:line: error: ..." lines. */
int crp_rgs_open(cr_handle *h, int64_t start_unix_ms, const char *state_dir, cr_rgs **out,
                 char *err, size_t errlen);
/* Parses one event ("call c1 sip:a sip:b", ...) and feeds it at at_ms. Control events:
 * "log on" / "log off" (queue and IVR event log as ("-", "log", line) actions), "stats",
 * "reload" (recompile changed IVR scripts; calls in progress keep theirs), "reload force".
 * An IVR script's call:set(key, value) is emitted as (call id, "set", "key value"). CR_ABI_EINVAL
 * for a malformed event; CR_ABI_ENOENT / CR_ABI_ESTATE when it names an unknown call, agent or
 * group or does not fit the call's state (nothing done); CR_ABI_EIO if the state could not
 * be written. */
int crp_rgs_event(cr_rgs *r, int64_t at_ms, const char *event, crp_rgs_emit_fn emit, void *ud,
                  char *err, size_t errlen);
/* Runs timers due up to now_ms; returns the next deadline or -1. */
int64_t crp_rgs_advance(cr_rgs *r, int64_t now_ms, crp_rgs_emit_fn emit, void *ud);
void crp_rgs_close(cr_rgs *r);

#endif
