/*
 * callroute.so: rtpengine's ng protocol, the parts that need no Kamailio (bencode, the
 * control socket, the DTMF event's JSON). Internal; unit-tested on its own
 * (tests/unit/test_crm_media_ng.c).
 */
#ifndef CRM_MEDIA_NG_H
#define CRM_MEDIA_NG_H

#include <netinet/in.h>
#include <stdint.h>

/* A bencode writer over a caller's buffer; err is set (and stays) when it overflows. */
typedef struct crm_benc {
    char *buf;
    int len, cap, err;
} crm_benc;

void crm_b_init(crm_benc *b, char *buf, int cap);
void crm_b_raw(crm_benc *b, const char *s, int n);
void crm_b_str(crm_benc *b, const char *s);
void crm_b_strn(crm_benc *b, const char *s, int n);
void crm_b_int(crm_benc *b, int64_t v);
/* key (a string) then a string value; skipped when v is NULL */
void crm_b_kv(crm_benc *b, const char *k, const char *v);

/* "udp:IP:PORT", "IP:PORT" (IPv4) into sa. 0 ok, -1 not an address. */
int crm_ng_addr(const char *spec, struct sockaddr_in *sa);

/* One ng request (a bencoded dictionary, without the cookie) to rtpengine at sa over the
 * socket *fd (opened when -1), its reply's dictionary into rep (NUL-terminated, cookie
 * removed). Retries once after half of timeout_ms. Returns the reply's length, -1 on a
 * socket error or no reply (err says which). */
int crm_ng_request(int *fd, const struct sockaddr_in *sa, const char *req, int reqlen, char *rep,
                   int replen, int timeout_ms, char *err, int errlen);

/* A bencoded dictionary's value for key: a string into out (NUL-terminated, truncated to
 * len - 1; returns its full length) or an integer; -1 when absent or of another type. */
int crm_bencode_str(const char *d, int dlen, const char *key, char *out, int len);
int crm_bencode_int(const char *d, int dlen, const char *key, int64_t *out);

/* The proxy's own answer to rtpengine's offer sdp (NUL-terminated): a black hole (127.0.0.1
 * port 9) with the codecs (rtpmap, fmtp, ptime) of its first audio stream. Its length, -1
 * without an RTP/AVP audio stream or when out is too small. */
int crm_sdp_blackhole(const char *sdp, char *out, int len);

/* A flat JSON object's value for key: a string (unescaped only for \" and \\) or a number,
 * as text into out. Returns its length, -1 absent. */
int crm_json_field(const char *js, const char *key, char *out, int len);

/* rtpengine's DTMF event (--dtmf-log-dest) for a key: callid, source_tag and the key as a
 * character (event 0-9, 10 '*', 11 '#', 12-15 'A'-'D'). 1 a key, 0 not a DTMF event. */
int crm_dtmf_parse(const char *js, char *callid, int clen, char *tag, int tlen, char *key);

#endif
