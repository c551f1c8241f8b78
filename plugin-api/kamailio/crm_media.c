/*
 * callroute.so: media for response groups through rtpengine (see crm_media.h).
 *
 * Early media without a callee: the caller's offer goes to rtpengine (its result, the SDP
 * the agents will talk to, replaces the INVITE's body for every branch added later), then
 * the proxy answers it itself with a black-hole SDP (port 9, the codecs of rtpengine's
 * offer) and the to-tag of its own replies; rtpengine's answer result is the 183's SDP.
 * Prompts and music play to the caller ("play media" with the caller's From tag); the
 * agent's 2xx stops them and gets rtpengine's answer (the caller's side of the bridge).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/data_lump.h"
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_content.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"

#include "crm_media.h"
#include "crm_media_ng.h"

char *crm_rtp_sock = NULL;
char *crm_rtp_dtmf = NULL;
char *crm_media_dir = NULL;

#define CRM_NG_TIMEOUT_MS 1000
#define CRM_SDP_MAX       8192
#define CRM_NG_MAX        16384

static struct sockaddr_in crm_ng_sa;
static int crm_ng_ok;
static int crm_ng_fd = -1;
static pid_t crm_ng_pid;

int crm_media_init(void)
{
    struct sockaddr_in sa;

    if (crm_rtp_sock == NULL || *crm_rtp_sock == '\0') {
        if (crm_rtp_dtmf && *crm_rtp_dtmf)
            LM_WARN("rtpengine_dtmf is set without rtpengine_sock: no media, no DTMF\n");
        return 0;
    }
    if (crm_ng_addr(crm_rtp_sock, &crm_ng_sa) < 0) {
        LM_ERR("rtpengine_sock \"%s\": not udp:IPv4:PORT\n", crm_rtp_sock);
        return -1;
    }
    if (crm_rtp_dtmf && *crm_rtp_dtmf && crm_ng_addr(crm_rtp_dtmf, &sa) < 0) {
        LM_ERR("rtpengine_dtmf \"%s\": not IPv4:PORT\n", crm_rtp_dtmf);
        return -1;
    }
    crm_ng_ok = 1;
    LM_INFO("response groups: media through rtpengine at %s (files in %s, DTMF events %s)\n",
            crm_rtp_sock, crm_media_dir && *crm_media_dir ? crm_media_dir : ".",
            crm_rtp_dtmf && *crm_rtp_dtmf ? crm_rtp_dtmf : "not listened to");
    return 0;
}

int crm_media_on(void)
{
    return crm_ng_ok;
}

/* One ng command; the reply's dictionary in rep. Its length, -1 on failure (logged). */
static int crm_ng(crm_benc *b, char *rep, int replen, const char *callid)
{
    char err[160], res[32], why[160], cmd[32];
    int n;

    if (crm_ng_pid != getpid()) { /* a socket per process (a forked child has its parent's) */
        if (crm_ng_fd >= 0)
            close(crm_ng_fd);
        crm_ng_fd = -1;
        crm_ng_pid = getpid();
    }
    crm_b_raw(b, "e", 1);
    if (crm_bencode_str(b->buf, b->len, "command", cmd, sizeof(cmd)) < 0)
        snprintf(cmd, sizeof(cmd), "?");
    if (b->err) {
        LM_ERR("rtpengine %s for %s: request too large\n", cmd, callid);
        return -1;
    }
    n = crm_ng_request(&crm_ng_fd, &crm_ng_sa, b->buf, b->len, rep, replen, CRM_NG_TIMEOUT_MS, err,
                       sizeof(err));
    if (n < 0) {
        LM_ERR("rtpengine %s for %s at %s: %s\n", cmd, callid, crm_rtp_sock, err);
        return -1;
    }
    if (crm_bencode_str(rep, n, "result", res, sizeof(res)) < 0 || strcmp(res, "ok") != 0) {
        if (crm_bencode_str(rep, n, "error-reason", why, sizeof(why)) < 0)
            snprintf(why, sizeof(why), "result %s", res);
        LM_WARN("rtpengine %s for %s refused: %s\n", cmd, callid, why);
        return -1;
    }
    return n;
}

static void crm_ng_start(crm_benc *b, char *buf, int cap, const char *cmd, const char *callid,
                         const char *ftag)
{
    crm_b_init(b, buf, cap);
    crm_b_raw(b, "d", 1);
    crm_b_kv(b, "command", cmd);
    crm_b_kv(b, "call-id", callid);
    crm_b_kv(b, "from-tag", ftag);
}

/* The SDP options of offer and answer: plain RTP/AVP, addresses rewritten, no ICE. */
static void crm_ng_sdp_opts(crm_benc *b)
{
    crm_b_str(b, "replace");
    crm_b_raw(b, "l", 1);
    crm_b_str(b, "origin");
    crm_b_str(b, "session-connection");
    crm_b_raw(b, "e", 1);
    crm_b_kv(b, "ICE", "remove");
    crm_b_kv(b, "transport-protocol", "RTP/AVP");
}

/* ---- the SIP side ---- */

static int crm_body(struct sip_msg *msg, str *body)
{
    body->s = get_body(msg);
    if (body->s == NULL || msg->content_length == NULL)
        return -1;
    body->len = get_content_length(msg);
    if (body->len <= 0 || body->s + body->len > msg->buf + msg->len)
        return -1;
    return 0;
}

/* Replaces msg's body by sdp (a body lump: tm builds the forwarded message with it). */
static int crm_set_body(struct sip_msg *msg, const str *body, const char *sdp, int len)
{
    struct lump *anchor;
    char *nb = pkg_malloc((size_t)len);

    if (nb == NULL) {
        PKG_MEM_ERROR;
        return -1;
    }
    memcpy(nb, sdp, (size_t)len);
    anchor = del_lump(msg, (int)(body->s - msg->buf), body->len, 0);
    if (anchor == NULL || insert_new_lump_after(anchor, nb, len, 0) == NULL) {
        LM_ERR("cannot replace the SDP body\n");
        pkg_free(nb);
        return -1;
    }
    return 0;
}

int crm_media_early(struct sip_msg *msg, const str *totag, char *sdp, int sdplen)
{
    char req[CRM_NG_MAX], rep[CRM_NG_MAX], offer[CRM_SDP_MAX], hole[CRM_SDP_MAX];
    char callid[128], ftag[64], ttag[64];
    str body;
    crm_benc b;
    int n, olen;

    if (!crm_ng_ok || msg->callid == NULL || msg->from == NULL || msg->from->parsed == NULL ||
        crm_body(msg, &body) < 0)
        return -1;
    if (msg->callid->body.len >= (int)sizeof(callid) ||
        get_from(msg)->tag_value.len >= (int)sizeof(ftag) || totag->len >= (int)sizeof(ttag))
        return -1;
    snprintf(callid, sizeof(callid), "%.*s", msg->callid->body.len, msg->callid->body.s);
    snprintf(ftag, sizeof(ftag), "%.*s", get_from(msg)->tag_value.len, get_from(msg)->tag_value.s);
    snprintf(ttag, sizeof(ttag), "%.*s", totag->len, totag->s);

    crm_ng_start(&b, req, sizeof(req), "offer", callid, ftag);
    crm_ng_sdp_opts(&b);
    crm_b_str(&b, "sdp");
    crm_b_strn(&b, body.s, body.len);
    if ((n = crm_ng(&b, rep, sizeof(rep), callid)) < 0)
        return -1;
    olen = crm_bencode_str(rep, n, "sdp", offer, sizeof(offer));
    if (olen <= 0 || olen >= (int)sizeof(offer) ||
        crm_sdp_blackhole(offer, hole, sizeof(hole)) < 0) {
        LM_WARN("rtpengine offer for %s: no usable SDP\n", callid);
        crm_media_delete(callid, ftag);
        return -1;
    }
    crm_ng_start(&b, req, sizeof(req), "answer", callid, ftag);
    crm_b_kv(&b, "to-tag", ttag);
    crm_ng_sdp_opts(&b);
    crm_b_kv(&b, "sdp", hole);
    if ((n = crm_ng(&b, rep, sizeof(rep), callid)) < 0 ||
        (n = crm_bencode_str(rep, n, "sdp", sdp, sdplen)) <= 0 || n >= sdplen ||
        crm_set_body(msg, &body, offer, olen) < 0) {
        crm_media_delete(callid, ftag);
        return -1;
    }
    return 0;
}

int crm_media_bridge(struct sip_msg *rpl, const char *callid, const char *ftag)
{
    char req[CRM_NG_MAX], rep[CRM_NG_MAX], sdp[CRM_SDP_MAX], ttag[64];
    struct to_body *to;
    str body;
    crm_benc b;
    int n;

    if (!crm_ng_ok || parse_to_header(rpl) < 0 || (to = get_to(rpl)) == NULL ||
        to->tag_value.len <= 0 || to->tag_value.len >= (int)sizeof(ttag) ||
        crm_body(rpl, &body) < 0)
        return -1;
    snprintf(ttag, sizeof(ttag), "%.*s", to->tag_value.len, to->tag_value.s);
    crm_media_stop(callid, ftag);
    crm_ng_start(&b, req, sizeof(req), "answer", callid, ftag);
    crm_b_kv(&b, "to-tag", ttag);
    crm_ng_sdp_opts(&b);
    crm_b_str(&b, "sdp");
    crm_b_strn(&b, body.s, body.len);
    if ((n = crm_ng(&b, rep, sizeof(rep), callid)) < 0 ||
        (n = crm_bencode_str(rep, n, "sdp", sdp, sizeof(sdp))) <= 0 || n >= (int)sizeof(sdp))
        return -1;
    return crm_set_body(rpl, &body, sdp, n);
}

/* ---- playing to the caller ---- */

int crm_media_play(const char *callid, const char *ftag, const char *file, int loop,
                   int64_t *dur_ms)
{
    char req[CRM_NG_MAX], rep[CRM_NG_MAX], path[1024];
    const char *dir = crm_media_dir && *crm_media_dir ? crm_media_dir : ".";
    crm_benc b;
    int n;

    *dur_ms = -1;
    if (!crm_ng_ok || file == NULL || *file == '\0')
        return -1;
    if (strstr(file, "..") != NULL) {
        LM_WARN("prompt %s for %s: a name in media_dir may not contain ..\n", file, callid);
        return -1;
    }
    if (file[0] == '/')
        snprintf(path, sizeof(path), "%s", file);
    else
        snprintf(path, sizeof(path), "%s/%s", dir, file);
    crm_ng_start(&b, req, sizeof(req), "play media", callid, ftag);
    crm_b_kv(&b, "file", path);
    if (loop) {
        crm_b_str(&b, "repeat-times");
        crm_b_int(&b, 100000);
    }
    if ((n = crm_ng(&b, rep, sizeof(rep), callid)) < 0) {
        LM_WARN("cannot play %s to %s\n", path, callid);
        return -1;
    }
    if (crm_bencode_int(rep, n, "duration", dur_ms) < 0)
        *dur_ms = -1;
    return 0;
}

int crm_media_stop(const char *callid, const char *ftag)
{
    char req[1024], rep[CRM_NG_MAX];
    crm_benc b;

    if (!crm_ng_ok)
        return -1;
    crm_ng_start(&b, req, sizeof(req), "stop media", callid, ftag);
    return crm_ng(&b, rep, sizeof(rep), callid) < 0 ? -1 : 0;
}

int crm_media_delete(const char *callid, const char *ftag)
{
    char req[1024], rep[CRM_NG_MAX];
    crm_benc b;

    if (!crm_ng_ok)
        return -1;
    crm_ng_start(&b, req, sizeof(req), "delete", callid, ftag);
    if (crm_ng(&b, rep, sizeof(rep), callid) < 0)
        return -1;
    LM_INFO("response groups: rtpengine session of %s deleted\n", callid);
    return 0;
}

/* ---- DTMF events (the match maker) ---- */

int crm_dtmf_open(void)
{
    struct sockaddr_in sa;
    int fd;

    if (!crm_ng_ok || crm_rtp_dtmf == NULL || *crm_rtp_dtmf == '\0' ||
        crm_ng_addr(crm_rtp_dtmf, &sa) < 0)
        return -1;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        LM_ERR("rtpengine_dtmf %s: cannot listen there: %s\n", crm_rtp_dtmf, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int crm_dtmf_read(int fd, char *callid, int clen, char *tag, int tlen, char *key)
{
    char buf[4096];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);

    if (n < 0)
        return -1;
    buf[n] = '\0';
    if (fl != sizeof(from) || from.sin_family != AF_INET ||
        from.sin_addr.s_addr != crm_ng_sa.sin_addr.s_addr) {
        LM_DBG("DTMF datagram from another address than rtpengine_sock's: ignored\n");
        return 0;
    }
    if (!crm_dtmf_parse(buf, callid, clen, tag, tlen, key)) {
        LM_DBG("rtpengine DTMF datagram ignored: %s\n", buf);
        return 0;
    }
    return 1;
}
