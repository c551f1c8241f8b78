/*
 * The plan through the ABI as a host calls it: cr_plugin_entry once, one fixed configuration
 * (examples/contoso routing and users with the Lua IVRs of examples/workflows/ivr.xml), then
 * per input route_answer, route_ex, route, normalize, dial, inbound, user_plan,
 * gateway_failed, gateway_result_ex and, when the first byte asks for it, a response-group engine
 * fed events.
 *
 * Input: one control byte, then fields separated by NUL bytes:
 *   from, dialed, gateway, events ('\n'-separated, simulate format without the time),
 *   then any number of names (down gateways, registered endpoints).
 * Control byte: bits 7 and 6 both set run the response-group engine (it loads the Lua
 * scripts: a quarter of the inputs keeps the decisions fast); bits 0-3 are the seconds
 * between events (times 2.5); bit 4 marks the gateway failed before the second decision;
 * bit 5 (without bit 6) reports a final answer from it through gateway_result_ex, the code
 * chosen by bits 0-3.
 *
 * Checked: no crash, leak or sanitizer report; every JSON result parses and is valid UTF-8;
 * every cr_route_answer string is terminated within its field; route_answer and route_ex
 * agree on the decision; route_json writes result_json's bytes of route_ex's result.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callroute.h"

#ifndef CR_FUZZ_SRC
#define CR_FUZZ_SRC "."
#endif

#define MAX_FIELDS 16

static const cr_plugin *P;
static cr_handle *H;
static int64_t clock_ms = 1799053200000LL; /* Monday 2027-01-04T09:00:00Z */

static void host_log(void *ud, int level, const char *message)
{
    (void)ud;
    if (level < CR_LOG_ERROR || level > CR_LOG_DEBUG || strlen(message) > (1u << 20))
        abort();
}

static int64_t host_now(void *ud)
{
    (void)ud;
    return clock_ms;
}

static char *config_path;

static void cleanup(void)
{
    if (H)
        P->close(H);
    if (config_path)
        unlink(config_path);
}

static void init(void)
{
    static const cr_host host = {
        .abi_major = CR_ABI_MAJOR, .size = sizeof host, .log = host_log, .now_ms = host_now};
    const char *err = NULL;
    P = cr_plugin_entry(&host, &err);
    if (!P)
        abort();
    static char path[] = "/tmp/crfuzzabiXXXXXX.xml"; /* rgs_open reads it again */
    int fd = mkstemps(path, 4);
    if (fd < 0)
        abort();
    char xml[2048];
    int n = snprintf(xml, sizeof xml,
                     "<callroute xmlns=\"urn:callroute:config:1\">\n"
                     "<include href=\"%s/examples/contoso/contoso.xml\"/>\n"
                     "<include href=\"%s/examples/workflows/ivr.xml\"/>\n</callroute>\n",
                     CR_FUZZ_SRC, CR_FUZZ_SRC);
    if (n <= 0 || (size_t)n >= sizeof xml || write(fd, xml, (size_t)n) != n)
        abort();
    close(fd);
    config_path = path;
    char msg[4096];
    /* the examples live outside the temporary file's directory: allow them */
    static const char *const dirs[] = {CR_FUZZ_SRC "/examples/contoso",
                                       CR_FUZZ_SRC "/examples/workflows", NULL};
    cr_open_options opts = {.size = sizeof opts, .include_dirs = dirs};
    int rc = P->open(path, &opts, &H, msg, sizeof msg);
    atexit(cleanup);
    if (rc != CR_ABI_OK) {
        fprintf(stderr, "fuzz_abi: the fixed configuration does not load: %s\n", msg);
        abort();
    }
}

/* ---- a strict JSON syntax check (RFC 8259, depth-limited), over valid UTF-8 only ---- */

static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (!k || i + k > n)
            return false;
        uint32_t cp = k == 1 ? c : c & (0x7f >> k);
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

typedef struct jp {
    const char *p;
    int depth;
} jp;

static void ws(jp *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static bool jstring(jp *j)
{
    if (*j->p++ != '"')
        return false;
    for (;;) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false; /* raw control character, or the end of the text */
        if (c != '\\')
            continue;
        c = (unsigned char)*j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (!strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
                    return false;
        } else if (!c || !strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
}

static bool jvalue(jp *j);

static bool jcontainer(jp *j, char close, bool object)
{
    if (++j->depth > 64)
        return false;
    j->p++;
    ws(j);
    if (*j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        ws(j);
        if (object) {
            if (!jstring(j))
                return false;
            ws(j);
            if (*j->p++ != ':')
                return false;
        }
        if (!jvalue(j))
            return false;
        ws(j);
        char c = *j->p++;
        if (c == close) {
            j->depth--;
            return true;
        }
        if (c != ',')
            return false;
    }
}

static bool jvalue(jp *j)
{
    ws(j);
    const char *p = j->p;
    if (*p == '{')
        return jcontainer(j, '}', true);
    if (*p == '[')
        return jcontainer(j, ']', false);
    if (*p == '"')
        return jstring(j);
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
        j->p += 4;
        return true;
    }
    if (!strncmp(p, "false", 5)) {
        j->p += 5;
        return true;
    }
    char *end;
    if (*p != '-' && (*p < '0' || *p > '9'))
        return false;
    strtod(p, &end);
    j->p = end;
    return end > p;
}

/* Renders a result as JSON (whole, then cut short) and as text; walks its fields; frees it. */
static void check_result(cr_result *r)
{
    if (!r)
        return;
    size_t need = P->result_json(r, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf || P->result_json(r, buf, need + 1) != need || strlen(buf) != need)
        abort();
    jp j = {buf, 0};
    if (!utf8_ok((const unsigned char *)buf, need) || !jvalue(&j) || (ws(&j), *j.p))
        abort();
    char small[8];
    if (P->result_json(r, small, sizeof small) != need || strlen(small) > sizeof small - 1)
        abort();
    free(buf);
    need = P->result_text(r, NULL, 0);
    buf = malloc(need + 1);
    if (!buf || P->result_text(r, buf, need + 1) != need)
        abort();
    free(buf);
    static const char *const fields[] = {"decision", "profile", "rule",    "normalized", "target",
                                         "reason",   "called",  "calling", "pai"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = P->result_get(r, fields[i]);
        if (v)
            (void)strlen(v);
    }
    for (size_t i = 0, n = P->result_count(r, "attempts"); i < n; i++)
        for (const char *f = "gateway"; f; f = strcmp(f, "gateway") == 0 ? "uri" : NULL)
            if (!P->result_item(r, "attempts", i, f))
                abort();
    P->result_free(r);
}

typedef struct json_line {
    char *s;
    size_t n;
    int calls;
} json_line;

static void put_json(void *ud, const char *json, size_t len)
{
    json_line *l = ud;
    l->calls++;
    l->s = malloc(len + 1);
    if (!l->s)
        abort();
    memcpy(l->s, json, len);
    l->n = len;
}

/* route_json (ABI 1.7) gives the bytes result_json gives for route_ex, and the same kind. */
static void check_route_json(const char *from, const char *dialed, const char *const *more,
                             size_t nmore)
{
    if (!CR_HAS(cr_plugin, P, route_json) || !P->route_json)
        return;
    cr_result *r = NULL;
    int rc = P->route_ex(H, from, dialed, more, nmore, CR_ROUTE_FRESH_SPREAD, &r);
    json_line l = {NULL, 0, 0};
    int kind = 0;
    int rc2 =
        P->route_json(H, from, dialed, more, nmore, CR_ROUTE_FRESH_SPREAD, put_json, &l, &kind);
    if (rc != rc2 || l.calls != (rc2 == CR_ABI_OK))
        abort();
    if (r) {
        size_t need = P->result_json(r, NULL, 0);
        char *want = malloc(need + 1);
        if (!want)
            abort();
        P->result_json(r, want, need + 1);
        if (need != l.n || memcmp(want, l.s, need) != 0 || kind != P->result_kind(r))
            abort();
        free(want);
        P->result_free(r);
    }
    free(l.s);
}

static void check_answer(const cr_route_answer *a)
{
    const char *s[] = {a->normalized, a->target, a->reason, a->profile, a->rule};
    const size_t n[] = {sizeof a->normalized, sizeof a->target, sizeof a->reason, sizeof a->profile,
                        sizeof a->rule};
    for (size_t i = 0; i < 5; i++)
        if (!memchr(s[i], 0, n[i]))
            abort();
    if (a->nattempts > CR_ANSWER_ATTEMPTS || a->nattempts > a->total_attempts)
        abort();
    for (uint32_t i = 0; i < a->nattempts; i++) {
        const cr_route_attempt *t = &a->attempts[i];
        if (!memchr(t->gateway, 0, sizeof t->gateway) || !memchr(t->uri, 0, sizeof t->uri) ||
            !memchr(t->route, 0, sizeof t->route) || !memchr(t->usage, 0, sizeof t->usage) ||
            !memchr(t->address, 0, sizeof t->address))
            abort();
    }
}

static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    size_t *seen = ud;
    if (at < 0 || !call || !action || !args)
        abort();
    *seen += strlen(call) + strlen(action) + strlen(args);
}

static void run_events(char *events, unsigned step_ms)
{
    cr_rgs *e = NULL;
    char err[1024];
    if (P->rgs_open(H, clock_ms, NULL, &e, err, sizeof err) != CR_ABI_OK || !e)
        abort();
    size_t seen = 0;
    int64_t at = 0;
    int count = 0;
    for (char *line = events, *next; line && count < 256; line = next, count++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        P->rgs_advance(e, at, emit, &seen);
        if (P->rgs_event(e, at, line, emit, &seen, err, sizeof err) != CR_ABI_OK &&
            !memchr(err, 0, sizeof err))
            abort();
        at += step_ms;
    }
    for (int i = 0; i < 300; i++) {
        int64_t next = P->rgs_advance(e, at, emit, &seen);
        if (next < 0)
            break;
        at = next > at ? next : at;
    }
    P->rgs_close(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!P)
        init();
    if (size < 1 || size > 1 << 16)
        return 0;
    clock_ms += 3600 * 1000; /* every hold-off of the previous input is over */
    unsigned ctl = data[0];
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    const char *f[MAX_FIELDS] = {0};
    size_t nf = 0;
    for (char *p = text; nf < MAX_FIELDS && p < text + size - 1; p += strlen(p) + 1)
        f[nf++] = p;
    const char *from = f[0] ? f[0] : "", *dialed = f[1] ? f[1] : "", *gw = f[2];
    const char *const *more = nf > 4 ? &f[4] : NULL;
    size_t nmore = nf > 4 ? nf - 4 : 0;

    cr_route_answer a = {.size = sizeof a};
    int rc = P->route_answer(H, from, dialed, more, nmore, &a);
    if (rc == CR_ABI_OK)
        check_answer(&a);
    cr_result *r = NULL;
    int rc2 = P->route_ex(H, from, dialed, more, nmore, CR_ROUTE_NO_TRACE, &r);
    if (rc != rc2 || (rc2 == CR_ABI_OK && (!r || P->result_kind(r) != a.kind)))
        abort();
    check_result(r);
    check_route_json(from, dialed, more, nmore);
    /* a host that knows only the first attempt of the struct */
    size_t known = offsetof(cr_route_answer, attempts) + sizeof(cr_route_attempt);
    unsigned char *small = malloc(known); /* ASan reports a write past what the host has */
    if (small) {
        uint32_t sz = (uint32_t)known, nat = 0;
        memcpy(small, &sz, sizeof sz);
        if (P->route_answer(H, from, dialed, more, nmore, (cr_route_answer *)(void *)small) ==
            CR_ABI_OK) {
            memcpy(&nat, small + offsetof(cr_route_answer, nattempts), sizeof nat);
            if (nat > 1)
                abort();
        }
        free(small);
    }
    if (gw && (ctl & 0x10))
        P->gateway_failed(H, gw);
    if (gw && (ctl & 0x20) && !(ctl & 0x40)) { /* a final answer from the gateway (ABI 1.9) */
        static const int codes[16] = {0,   200, 404, 408, 480, 486, 500, 503,
                                      504, 600, 603, -1,  999, 99,  302, 181};
        int code = codes[ctl & 0x0F], rc = P->gateway_result_ex(H, gw, code, from[0] - 64);
        bool fails = code == 0 || code == 408 || (code >= 500 && code <= 599);
        if (rc >= 0 && ((rc & ~(CR_GATEWAY_RESULT_FAILURE | CR_GATEWAY_RESULT_DOWN)) ||
                        ((rc & CR_GATEWAY_RESULT_DOWN) && !(rc & CR_GATEWAY_RESULT_FAILURE)) ||
                        ((rc & CR_GATEWAY_RESULT_FAILURE) && !fails)))
            abort(); /* flags outside the contract, or a failure of an answer that is none */
    }
    r = NULL;
    if (P->route(H, from, dialed, more, nmore, &r) == CR_ABI_OK)
        check_result(r);
    r = NULL;
    if (P->normalize(H, gw, dialed, &r) == CR_ABI_OK)
        check_result(r);
    r = NULL;
    if (P->dial(H, gw, dialed, &r) == CR_ABI_OK)
        check_result(r);
    r = NULL;
    if (P->inbound(H, gw, dialed, from, &r) == CR_ABI_OK)
        check_result(r);
    r = NULL;
    if (P->user_plan(H, from, dialed, more, nmore, &r) == CR_ABI_OK)
        check_result(r);
    r = NULL;
    if (P->gateways(H, &r) == CR_ABI_OK)
        check_result(r);
    if ((ctl & 0xc0) == 0xc0 && nf > 3)
        run_events((char *)f[3], (ctl & 0x0f) * 2500u);
    free(text);
    return 0;
}
