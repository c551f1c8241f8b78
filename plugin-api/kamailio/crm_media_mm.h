/*
 * callroute.so: the match maker's side of media (crm_media_mm.c). Internal.
 */
#ifndef CRM_MEDIA_MM_H
#define CRM_MEDIA_MM_H

#include <stdint.h>

#include "callroute.h"

/* PLAY or MOH for a call: 1 playing (a PLAY's PROMPT_DONE comes from crm_mm_prompt_done),
 * 0 nothing plays (no media for that call, rtpengine refused): a PLAY counts as played. */
int crm_mm_play(const cr_rgs_typed_action *a);
/* Stops what plays to the caller (a transfer, voicemail): no PROMPT_DONE comes for it. */
void crm_mm_stop(uint64_t call);
/* timeout (ms) shortened to the next prompt's end. */
int crm_mm_timeout(int timeout);
/* One call whose prompt ended: 1 (call set), 0 none. */
int crm_mm_prompt_done(uint64_t *call);
/* The DTMF socket (-1: none), opened on first use. */
int crm_mm_dtmf_fd(void);
/* One key pressed by a queued caller: 1 (call, key set), 0 none left to read. */
int crm_mm_dtmf(uint64_t *call, char *key);

#endif
