/*
 * callroute.so: rtpengine's ng protocol without Kamailio (see crm_media_ng.h).
 *
 * An ng message is "COOKIE BENCODED-DICTIONARY" in one UDP datagram; the reply repeats the
 * cookie. Bencode: strings "LEN:BYTES", integers "iNe", lists "l...e", dictionaries
 * "d KEY VALUE ... e".
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crm_media_ng.h"

void crm_b_init(crm_benc *b, char *buf, int cap)
{
    b->buf = buf;
    b->len = 0;
    b->cap = cap;
    b->err = 0;
    if (cap > 0)
        buf[0] = '\0';
}

void crm_b_raw(crm_benc *b, const char *s, int n)
{
    if (b->err || n < 0 || b->len + n >= b->cap) {
        b->err = 1;
        return;
    }
    memcpy(b->buf + b->len, s, (size_t)n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void crm_b_strn(crm_benc *b, const char *s, int n)
{
    char hd[24];

    crm_b_raw(b, hd, snprintf(hd, sizeof(hd), "%d:", n));
    crm_b_raw(b, s, n);
}

void crm_b_str(crm_benc *b, const char *s)
{
    crm_b_strn(b, s, (int)strlen(s));
}

void crm_b_int(crm_benc *b, int64_t v)
{
    char t[32];

    crm_b_raw(b, t, snprintf(t, sizeof(t), "i%llde", (long long)v));
}

void crm_b_kv(crm_benc *b, const char *k, const char *v)
{
    if (v == NULL)
        return;
    crm_b_str(b, k);
    crm_b_str(b, v);
}

int crm_ng_addr(const char *spec, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon;
    char *end;
    long port;
    size_t n;

    if (spec == NULL)
        return -1;
    if (strncmp(spec, "udp:", 4) == 0)
        spec += 4;
    colon = strrchr(spec, ':');
    if (colon == NULL || (n = (size_t)(colon - spec)) == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, spec, n);
    host[n] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* ---- bencode reading ---- */

/* The end of the value at p (before end), or NULL when malformed. depth bounds nesting. */
static const char *crm_b_skip(const char *p, const char *end, int depth)
{
    long n = 0;

    if (p >= end || depth > 32)
        return NULL;
    if (*p == 'i') {
        const char *digits = ++p;
        for (; p < end && *p != 'e'; p++)
            if (!(*p == '-' || (*p >= '0' && *p <= '9')))
                return NULL;
        return p < end && p > digits ? p + 1 : NULL;
    }
    if (*p == 'l' || *p == 'd') {
        for (p++; p < end && *p != 'e';)
            if ((p = crm_b_skip(p, end, depth + 1)) == NULL)
                return NULL;
        return p < end ? p + 1 : NULL;
    }
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > end - p)
            return NULL;
    }
    if (p >= end || *p != ':' || n > end - p - 1)
        return NULL;
    return p + 1 + n;
}

/* The value of key in the dictionary d (its first byte), or NULL. */
static const char *crm_b_find(const char *d, int dlen, const char *key, const char **vend)
{
    const char *p = d, *end = d + dlen, *k, *colon;
    size_t kl = strlen(key);

    if (dlen < 2 || *p != 'd')
        return NULL;
    for (p++; p < end && *p != 'e';) {
        k = p;
        if (*k < '0' || *k > '9' || (p = crm_b_skip(k, end, 1)) == NULL)
            return NULL;
        colon = memchr(k, ':', (size_t)(p - k));
        if (colon == NULL)
            return NULL;
        k = colon + 1;
        if ((*vend = crm_b_skip(p, end, 1)) == NULL)
            return NULL;
        if ((size_t)(p - k) == kl && memcmp(k, key, kl) == 0)
            return p;
        p = *vend;
    }
    return NULL;
}

int crm_bencode_str(const char *d, int dlen, const char *key, char *out, int len)
{
    const char *vend, *v = crm_b_find(d, dlen, key, &vend), *colon;
    int n, c;

    if (v == NULL || *v < '0' || *v > '9' || (colon = memchr(v, ':', (size_t)(vend - v))) == NULL)
        return -1;
    n = (int)(vend - colon - 1);
    c = n < len - 1 ? n : len - 1;
    if (len > 0) {
        memcpy(out, colon + 1, (size_t)(c < 0 ? 0 : c));
        out[c < 0 ? 0 : c] = '\0';
    }
    return n;
}

int crm_bencode_int(const char *d, int dlen, const char *key, int64_t *out)
{
    const char *vend, *v = crm_b_find(d, dlen, key, &vend);

    if (v == NULL || *v != 'i')
        return -1;
    *out = strtoll(v + 1, NULL, 10);
    return 0;
}

/* ---- the control socket ---- */

static int64_t crm_ng_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int crm_ng_send(int fd, const struct sockaddr_in *sa, const char *cookie, const char *req,
                       int reqlen)
{
    char msg[65536];
    int cl = (int)strlen(cookie);

    if (cl + reqlen >= (int)sizeof(msg))
        return -1;
    memcpy(msg, cookie, (size_t)cl);
    memcpy(msg + cl, req, (size_t)reqlen);
    return sendto(fd, msg, (size_t)(cl + reqlen), 0, (const struct sockaddr *)sa, sizeof(*sa)) ==
                   cl + reqlen
               ? 0
               : -1;
}

int crm_ng_request(int *fd, const struct sockaddr_in *sa, const char *req, int reqlen, char *rep,
                   int replen, int timeout_ms, char *err, int errlen)
{
    static unsigned int seq;
    char cookie[48], in[65536];
    int64_t start = crm_ng_now_ms(), now;
    int sent = 0, cl, left;
    struct pollfd pfd;
    ssize_t n;

    if (*fd < 0 && (*fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        snprintf(err, (size_t)errlen, "socket: %s", strerror(errno));
        return -1;
    }
    cl = snprintf(cookie, sizeof(cookie), "%d_%u ", (int)getpid(), ++seq);
    for (;;) {
        now = crm_ng_now_ms();
        if (sent == 0 || (sent == 1 && now - start >= timeout_ms / 2)) {
            if (crm_ng_send(*fd, sa, cookie, req, reqlen) < 0) {
                snprintf(err, (size_t)errlen, "send: %s", strerror(errno));
                return -1;
            }
            sent++;
        }
        left = (int)(sent == 1 ? start + timeout_ms / 2 - now : start + timeout_ms - now);
        if (left <= 0 && sent == 2) {
            snprintf(err, (size_t)errlen, "no reply from rtpengine within %d ms", timeout_ms);
            return -1;
        }
        pfd.fd = *fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, left > 0 ? left : 0) <= 0)
            continue;
        n = recv(*fd, in, sizeof(in) - 1, 0);
        if (n <= cl || memcmp(in, cookie, (size_t)cl) != 0)
            continue; /* a late reply to an earlier request */
        if ((int)n - cl >= replen) {
            snprintf(err, (size_t)errlen, "reply of %d bytes too long", (int)n - cl);
            return -1;
        }
        memcpy(rep, in + cl, (size_t)(n - cl));
        rep[n - cl] = '\0';
        return (int)n - cl;
    }
}

/* ---- SDP ---- */

/* The proxy's own answer to rtpengine's offer `sdp`: a black hole (127.0.0.1 port 9) with the
 * codecs of the first audio stream. */
int crm_sdp_blackhole(const char *sdp, char *out, int len)
{
    const char *m = strstr(sdp, "m=audio "), *l, *e, *fmt;
    int n;

    if (m == NULL || (e = strpbrk(m, "\r\n")) == NULL)
        return -1;
    fmt = strstr(m, " RTP/AVP ");
    if (fmt == NULL || fmt > e)
        return -1; /* not plain RTP/AVP (the offer asked rtpengine for it) */
    fmt++;
    n = snprintf(out, (size_t)len,
                 "v=0\r\no=callroute 1 1 IN IP4 127.0.0.1\r\ns=callroute\r\n"
                 "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 %.*s\r\n",
                 (int)(e - fmt), fmt);
    /* the attributes of that stream that describe its codecs */
    for (l = e; l && *l && n < len;) {
        while (*l == '\r' || *l == '\n')
            l++;
        if (strncmp(l, "m=", 2) == 0 || *l == '\0')
            break;
        e = strpbrk(l, "\r\n");
        if (e == NULL)
            e = l + strlen(l);
        if (strncmp(l, "a=rtpmap:", 9) == 0 || strncmp(l, "a=fmtp:", 7) == 0 ||
            strncmp(l, "a=ptime:", 8) == 0)
            n += snprintf(out + n, (size_t)(len - n), "%.*s\r\n", (int)(e - l), l);
        l = e;
    }
    if (n < len)
        n += snprintf(out + n, (size_t)(len - n), "a=sendrecv\r\n");
    return n < len ? n : -1;
}

/* ---- rtpengine's DTMF events ---- */

int crm_json_field(const char *js, const char *key, char *out, int len)
{
    char pat[80];
    const char *p;
    int n = 0;

    if (snprintf(pat, sizeof(pat), "\"%s\"", key) >= (int)sizeof(pat) ||
        (p = strstr(js, pat)) == NULL)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != ':')
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (n < len - 1)
                out[n++] = *p;
        }
        if (*p != '"')
            return -1;
    } else {
        for (; *p && (*p == '-' || *p == '.' || (*p >= '0' && *p <= '9')); p++)
            if (n < len - 1)
                out[n++] = *p;
        if (n == 0)
            return -1;
    }
    if (len > 0)
        out[n] = '\0';
    return n;
}

int crm_dtmf_parse(const char *js, char *callid, int clen, char *tag, int tlen, char *key)
{
    static const char keys[] = "0123456789*#ABCD";
    char type[16], ev[16];
    char *end;
    long e;

    if (crm_json_field(js, "type", type, sizeof(type)) < 0 || strcmp(type, "DTMF") != 0 ||
        crm_json_field(js, "callid", callid, clen) <= 0 ||
        crm_json_field(js, "source_tag", tag, tlen) <= 0 ||
        crm_json_field(js, "event", ev, sizeof(ev)) <= 0)
        return 0;
    e = strtol(ev, &end, 10);
    if (*end != '\0' || e < 0 || e > 15)
        return 0;
    *key = keys[e];
    return 1;
}
