/*
 * callroute.so: media for response groups through rtpengine (issue 13). Internal.
 *
 * The module speaks rtpengine's ng protocol itself (bencode over UDP): Kamailio's rtpengine
 * module refuses an answer on an INVITE, and the early media of a queued call needs one (the
 * proxy answers the caller's offer itself, with the to-tag of its own replies). One rtpengine
 * session per call, keyed by the caller's Call-ID and From tag; every process (workers, the
 * match maker, the main process at shutdown) opens its own control socket when it first
 * needs one.
 *
 * Modparams: rtpengine_sock (ng control address, "udp:IP:PORT" or "IP:PORT"; empty: no media,
 * calls get 182 Queued as before), rtpengine_dtmf (where rtpengine sends its DTMF events,
 * --dtmf-log-dest; the match maker listens there), media_dir (prompt and music files; names
 * in the XML and in Lua scripts are relative to it).
 */
#ifndef CRM_MEDIA_H
#define CRM_MEDIA_H

#include <stdint.h>

#include "core/parser/msg_parser.h"
#include "core/str.h"

extern char *crm_rtp_sock;
extern char *crm_rtp_dtmf;
extern char *crm_media_dir;

/* mod_init: checks the modparams. 0 (media configured or not), -1 a bad address. */
int crm_media_init(void);
/* 1 when rtpengine_sock is set. */
int crm_media_on(void);

/* Worker, an initial INVITE with an SDP body: rtpengine offer (the INVITE's body becomes
 * rtpengine's SDP through a body lump, so every branch added later carries it), then an
 * answer from the proxy itself (a black-hole SDP, to-tag = totag) whose result, the SDP the
 * caller talks to, goes into sdp (NUL-terminated). 0 done (the session exists), -1 not (no
 * SDP, rtpengine unreachable or refusing: logged). */
int crm_media_early(struct sip_msg *msg, const str *totag, char *sdp, int sdplen);

/* Worker, a 2xx from the callee of a branch (an agent, a transfer or voicemail target):
 * stops what plays to the caller and runs rtpengine's answer on the 2xx's SDP; the 2xx's
 * body becomes rtpengine's (a body lump: tm relays it). 0 done, -1 not (logged). */
int crm_media_bridge(struct sip_msg *rpl, const char *callid, const char *ftag);

/* Plays file (relative to media_dir) to the caller of the session (callid, ftag); loop: over
 * and over (music on hold). *dur_ms: the file's duration as rtpengine reports it (-1 when it
 * does not). 0 playing, -1 not (logged). */
int crm_media_play(const char *callid, const char *ftag, const char *file, int loop,
                   int64_t *dur_ms);
int crm_media_stop(const char *callid, const char *ftag);
/* Deletes the session. 0 deleted, -1 not (unknown to rtpengine or unreachable). */
int crm_media_delete(const char *callid, const char *ftag);

/* The match maker: a UDP socket bound to rtpengine_dtmf (-1 when not configured or on
 * error, logged). */
int crm_dtmf_open(void);
/* Reads one DTMF datagram: 1 a key (callid, the tag of who pressed it, the key as a
 * character 0-9 * # A-D), 0 nothing usable, -1 nothing to read. */
int crm_dtmf_read(int fd, char *callid, int clen, char *tag, int tlen, char *key);

#endif
