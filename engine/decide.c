/*
 * Decisions: the outbound routing decision (SPEC §2 steps 1-5), the attempts of a policy
 * for a normalized number, Request-URIs for gateways, inbound calls from gateways.
 */
#include "model.h"
#include "route_index.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- trace ------------------------------------------------------------------------------- */

void cr_trace_init(cr_trace *t)
{
    memset(t, 0, sizeof *t);
}

void cr_trace_free(cr_trace *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

void cr_trace_add(cr_trace *t, const char *fmt, ...)
{
    if (!t)
        return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    if (t->len + (size_t)n + 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + (size_t)n + 2)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b)
            return;
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, line, (size_t)n);
    t->len += (size_t)n;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = 0;
    t->lines++;
}

bool cr_trace_line(const cr_trace *t, size_t i, char *buf, size_t len)
{
    if (!t || i >= t->lines || !len)
        return false;
    const char *p = t->buf;
    for (size_t k = 0; k < i; k++)
        p = strchr(p, '\n') + 1;
    const char *e = strchr(p, '\n');
    size_t n = (size_t)(e - p);
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return true;
}

/* ---- Request-URIs ------------------------------------------------------------------------ */

/* Appends s to out at *o like snprintf would (truncated and terminated when it does not
 * fit); false when it did not fit. Decisions build strings this way: snprintf was two thirds
 * of a decision's instructions. */
static bool put(char *out, size_t len, size_t *o, const char *s)
{
    size_t n = strlen(s), room = len - 1 - *o;
    bool fits = n <= room;
    if (!fits)
        n = room;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = 0;
    return fits;
}

/* put() for s[0..n). */
static bool put_n(char *out, size_t len, size_t *o, const char *s, size_t n)
{
    size_t room = len - 1 - *o;
    bool fits = n <= room;
    if (!fits)
        n = room;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = 0;
    return fits;
}

/* ---- outbound ----------------------------------------------------------------------------- */

static bool attempt_has_gateway(const cr_decision *d, const cr_gateway *g)
{
    for (size_t i = 0; i < d->nattempts; i++)
        if (d->attempts[i].gateway == g)
            return true;
    return false;
}

/* The host of gateway g's Request-URIs (its address after "sip:" and any "user@"): found at
 * compile for a gateway of c, else read from the address. */
static inline const char *gateway_host(const cr_config *c, const cr_gateway *g, size_t *hlen)
{
    uintptr_t p = (uintptr_t)g, first = (uintptr_t)c->gateways;
    if (c->gateway_hosts && p >= first && p < first + c->ngateways * sizeof *g) {
        const cr_gateway_host *h = &c->gateway_hosts[(p - first) / sizeof *g];
        *hlen = h->len;
        return h->host;
    }
    const char *host = g->address + 4; /* after "sip:" (checked at compile) */
    const char *at = strchr(host, '@');
    if (at)
        host = at + 1;
    *hlen = strlen(host);
    return host;
}

static const char user_phone[] = ";user=phone";

/* The length of the Request-URI "sip:NUMBER@HOST;user=phone" for number[0..n) (without a
 * leading '+' for a gateway that removes it), hlen the host's length. */
static size_t uri_len(const cr_gateway *g, const char *number, size_t n, size_t hlen)
{
    if (g->remove_plus && n && number[0] == '+')
        n--;
    return 4 + n + 1 + hlen + sizeof user_phone - 1;
}

/* Writes gateway g's Request-URI for number[0..n) (sips: when `secure`) into out[0..cap), cut
 * and terminated like snprintf; returns its full length. */
static size_t uri_write(const cr_gateway *g, const char *host, size_t hlen, const char *number,
                        size_t n, bool secure, char *out, size_t cap)
{
    if (g->remove_plus && n && number[0] == '+')
        number++, n--;
    size_t s = secure ? 5 : 4, total = s + n + 1 + hlen + sizeof user_phone - 1;
    if (total < cap) {
        memcpy(out, secure ? "sips:" : "sip:", s);
        memcpy(out + s, number, n);
        out[s + n] = '@';
        memcpy(out + s + 1 + n, host, hlen);
        memcpy(out + s + 1 + n + hlen, user_phone, sizeof user_phone);
    } else if (cap) {
        size_t o = 0;
        out[0] = 0;
        put(out, cap, &o, secure ? "sips:" : "sip:");
        put_n(out, cap, &o, number, n);
        put(out, cap, &o, "@");
        put_n(out, cap, &o, host, hlen);
        put(out, cap, &o, user_phone);
    }
    return total;
}

size_t cr_attempt_uri(const cr_config *c, const cr_decision *d, size_t i, char *buf, size_t cap)
{
    if (!c || !d || i >= d->nattempts) {
        if (cap)
            buf[0] = 0;
        return 0;
    }
    const cr_gateway *g = d->attempts[i].gateway;
    size_t hlen;
    const char *host = gateway_host(c, g, &hlen);
    const char *num = d->normalized;
    size_t n = strlen(num), skip = g->remove_plus && num[0] == '+';
    size_t total = (d->secure ? 5 : 4) + n - skip + 1 + hlen + sizeof user_phone - 1;
    if (total + 16 > cap) /* cut to fit, or too close to the end for the blocks below */
        return uri_write(g, host, hlen, num, n, d->secure, buf, cap);
    char *o = buf;
    if (d->secure)
        memcpy(o, "sips:", 5), o += 5;
    else
        memcpy(o, "sip:", 4), o += 4;
    /* the number in 16-byte blocks: read inside d->normalized (n <= CR_NUMBER_MAX), written
     * inside buf (total + 16 <= cap), what they write past the number written over below */
    for (size_t k = skip; k < n; k += 16)
        memcpy(o + k - skip, num + k, 16);
    o += n - skip;
    *o++ = '@';
    memcpy(o, host, hlen);
    memcpy(o + hlen, user_phone, sizeof user_phone);
    return total;
}

/* A sips: Request-URI asks for TLS on every hop: its gateway attempts keep sips: rather than
 * being downgraded to sip: (an attempt whose URI then no longer fits is dropped). */
static void secure_attempts(const cr_config *c, cr_decision *out, cr_trace *trace)
{
    if (trace && out->nattempts)
        cr_trace_add(trace, "sips: Request-URI: the gateway attempts keep sips:");
    out->secure = true;
    size_t w = 0, n = strlen(out->normalized);
    for (size_t i = 0; i < out->nattempts; i++) {
        cr_attempt *a = &out->attempts[i];
        size_t hlen;
        gateway_host(c, a->gateway, &hlen);
        if (uri_len(a->gateway, out->normalized, n, hlen) + 2 > CR_URI_SHORT) {
            if (trace) {
                trace->skipped_long++;
                cr_trace_add(trace, "  gateway '%s': sips: Request-URI too long: skipped",
                             a->gateway->name);
            }
            continue;
        }
        if (w != i)
            out->attempts[w] = *a;
        w++;
    }
    out->nattempts = w;
}

enum { GW_OK, GW_LISTED, GW_DOWN, GW_FULL };

/* What adding gateways reads for every gateway of one decision, set once (adder_init). */
typedef struct adder {
    uint64_t listed; /* bit gi % 64 of each gateway gi among the attempts: a clear bit, not one */
    size_t ulen;     /* an attempt's Request-URI length without its host (uri_len's) */
    bool plus;       /* the number starts with '+' (a gateway that removes it: one less) */
    bool ask;        /* the runtime can say a gateway is down or full */
    /* the gateways' host entries and no trace: a route's two gateways are added by
     * add_two_gateways */
    bool plain;
    bool fit; /* plain, and every gateway's Request-URI fits (its longest host's does) */
    /* the runtime's counter of a route (rt->route_spread), NULL: the decision's `spread` */
    uint32_t (*route_spread)(void *ud, const cr_route *r);
} adder;

/* Gateway g's bit in adder.listed (every bit for a gateway not of c: the list is then read). */
static inline uint64_t listed_bit(const cr_config *c, const cr_gateway *g)
{
    uintptr_t p = (uintptr_t)g, first = (uintptr_t)c->gateways;
    if (p < first || p >= first + c->ngateways * sizeof *g)
        return ~(uint64_t)0;
    return (uint64_t)1 << (((p - first) / sizeof *g) & 63);
}

static inline __attribute__((always_inline)) void
adder_init(adder *x, const cr_config *c, const char *number, size_t len, const cr_runtime *rt,
           const cr_decision *out, const cr_trace *trace)
{
    x->listed = 0;
    for (size_t i = 0; i < out->nattempts; i++)
        x->listed |= listed_bit(c, out->attempts[i].gateway);
    x->ulen = 4 + len + 1 + sizeof user_phone - 1;
    x->plus = len && number[0] == '+';
    x->ask = rt && (rt->gateway_down || rt->gateway_full);
    x->plain = c->gateway_hosts && !trace;
    x->fit = x->plain && x->ulen + c->gateway_host_max < CR_URI_SHORT;
    x->route_spread = rt ? rt->route_spread : NULL;
}

_Static_assert((CR_URI_SHORT & (CR_URI_SHORT - 1)) == 0, "add_two_gateways ORs two lengths");

/* The length of an attempt's Request-URI through the gateway of host entry h: uri_len's, from
 * adder's lengths for a gateway that keeps the number's '+' (`keep`: x->ulen) and for one that
 * removes it (`drop`: x->ulen - x->plus). */
static inline size_t host_uri_len(const cr_gateway_host *h, size_t keep, size_t drop)
{
    return (h->remove_plus ? drop : keep) + h->len;
}

/* The runtime's verdict on gateway g (rt asks: adder.ask): GW_OK, GW_DOWN or GW_FULL. */
static inline int gateway_verdict(const cr_gateway *g, const cr_runtime *rt)
{
    if (rt->gateway_down && rt->gateway_down(rt->ud, g))
        return GW_DOWN;
    if (rt->gateway_full && g->ports > 0 && rt->gateway_full(rt->ud, g))
        return GW_FULL;
    return GW_OK;
}

/* Whether gateway g can be a new attempt of this decision (GW_OK) or why not; `bit`: its bit
 * in x->listed. */
static inline int gateway_skip(const cr_gateway *g, uint64_t bit, const adder *x,
                               const cr_runtime *rt, const cr_decision *out)
{
    if ((x->listed & bit) && attempt_has_gateway(out, g))
        return GW_LISTED;
    if (!x->ask)
        return GW_OK;
    return gateway_verdict(g, rt);
}

/* A route's gateway g (its bit `bit`) as a new attempt when its Request-URI fits (hosts: the
 * gateways' host entries). */
static inline __attribute__((always_inline)) void add_one_gateway(const cr_config *c,
                                                                  const cr_route *r, uint32_t g,
                                                                  uint64_t bit, const cr_usage *u,
                                                                  adder *x, cr_decision *out)
{
    if (host_uri_len(&c->gateway_hosts[g], x->ulen, x->ulen - x->plus) >= CR_URI_SHORT)
        return;
    out->attempts[out->nattempts++] = (cr_attempt){&c->gateways[g], r, u};
    x->listed |= bit;
}

/* add_two_gateways' questions to a runtime that can refuse a gateway (x->ask), neither
 * gateway listed yet: each gateway's verdict asked once, in the route's order. True when both
 * are usable; otherwise the usable one, if any, is added (no rotation, no counter asked). Out of
 * line: the loop it spares is in line. */
static bool __attribute__((noinline))
two_usable(const cr_config *c, const cr_route *r, const uint32_t *gw, const cr_usage *u,
           const cr_runtime *rt, adder *x, cr_decision *out)
{
    uint64_t bw0 = (uint64_t)1 << (gw[0] & 63), bw1 = (uint64_t)1 << (gw[1] & 63);
    bool ok0 = gateway_verdict(&c->gateways[gw[0]], rt) == GW_OK;
    bool ok1 = gateway_verdict(&c->gateways[gw[1]], rt) == GW_OK;
    if (ok0 && ok1)
        return true;
    if (ok0)
        add_one_gateway(c, r, gw[0], bw0, u, x, out);
    else if (ok1)
        add_one_gateway(c, r, gw[1], bw1, u, x, out);
    return false;
}

/* add_usable_gateways for a route of two gateways gw[0..2) when x->plain, neither of them
 * listed yet, their bits apart and room for both: the same attempts in the same order, the same
 * questions to the runtime in the same order, without the rotation's loop. Each gateway's
 * verdict is asked once, in the route's order; with both usable, the route's counter (or
 * `spread`) picks the first, gw[spread % 2]; with one, it is added alone. False (nothing added,
 * nothing asked) otherwise. */
static inline __attribute__((always_inline)) bool
add_two_gateways(const cr_config *c, const cr_route *r, const uint32_t *gw, const cr_usage *u,
                 const cr_runtime *rt, uint32_t spread, adder *x, cr_decision *out)
{
    uint64_t bw0 = (uint64_t)1 << (gw[0] & 63), bw1 = (uint64_t)1 << (gw[1] & 63);
    size_t na = out->nattempts;
    if (((bw0 | bw1) & x->listed) || bw0 == bw1 || na + 2 > CR_MAX_ATTEMPTS)
        return false;
    if (x->ask && !two_usable(c, r, gw, u, rt, x, out))
        return true;
    if (__builtin_expect(x->route_spread != NULL, 0))
        spread = x->route_spread(rt->ud, r);
    uint32_t g0 = gw[spread & 1], g1 = gw[~spread & 1];
    cr_attempt *a = &out->attempts[na];
    if (x->fit) { /* every gateway's URI fits: none measured */
        a[0] = (cr_attempt){&c->gateways[g0], r, u};
        a[1] = (cr_attempt){&c->gateways[g1], r, u};
        x->listed |= bw0 | bw1;
        out->nattempts = na + 2;
        return true;
    }
    uint64_t b0 = (uint64_t)1 << (g0 & 63), b1 = (uint64_t)1 << (g1 & 63);
    size_t keep = x->ulen, drop = x->ulen - x->plus;
    size_t l0 = host_uri_len(&c->gateway_hosts[g0], keep, drop);
    size_t l1 = host_uri_len(&c->gateway_hosts[g1], keep, drop);
    if (__builtin_expect((l0 | l1) < CR_URI_SHORT, 1)) { /* both fit (CR_URI_SHORT: 2^8) */
        a[0] = (cr_attempt){&c->gateways[g0], r, u};
        a[1] = (cr_attempt){&c->gateways[g1], r, u};
        x->listed |= b0 | b1;
        out->nattempts = na + 2;
        return true;
    }
    if (l0 < CR_URI_SHORT) {
        *a++ = (cr_attempt){&c->gateways[g0], r, u};
        x->listed |= b0;
    }
    if (l1 < CR_URI_SHORT) {
        *a++ = (cr_attempt){&c->gateways[g1], r, u};
        x->listed |= b1;
    }
    out->nattempts = (size_t)(a - out->attempts);
    return true;
}

static void trace_skip(cr_trace *trace, const cr_gateway *g, int why)
{
    if (!trace)
        return;
    if (why == GW_LISTED) {
        cr_trace_add(trace, "  gateway '%s' already in the list: skipped", g->name);
    } else if (why == GW_DOWN) {
        trace->skipped_down++;
        cr_trace_add(trace, "  gateway '%s' is down: skipped", g->name);
    } else {
        trace->skipped_full++;
        cr_trace_add(trace, "  gateway '%s' is full (%d port%s in use): skipped", g->name, g->ports,
                     g->ports == 1 ? "" : "s");
    }
}

enum { ADD_FULL, ADD_LONG, ADD_DONE };

/* The trace line of add_attempt's outcome for gateway g (out of the hot path). */
static void __attribute__((noinline))
trace_attempt(cr_trace *trace, const cr_config *c, const cr_gateway *g, int what,
              const char *number, size_t len, const cr_decision *out)
{
    if (what == ADD_FULL) {
        cr_trace_add(trace, "  gateway '%s' not added: %d attempts at most", g->name,
                     CR_MAX_ATTEMPTS);
    } else if (what == ADD_LONG) {
        trace->skipped_long++;
        cr_trace_add(trace, "  gateway '%s': Request-URI too long: skipped", g->name);
    } else {
        char uri[CR_URI_SHORT];
        size_t hlen;
        const char *host = gateway_host(c, g, &hlen);
        uri_write(g, host, hlen, number, len, false, uri, sizeof uri);
        cr_trace_add(trace, "  gateway '%s' added as attempt %zu: %s", g->name, out->nattempts,
                     uri);
    }
}

/*
 * Adds one route's usable gateways (not yet listed, not down, not full) as attempts, in the
 * route's order rotated so that the first one moves on from one decision using this route to
 * the next: the route's own counter (rt->route_spread), else the decision's (`spread`). The
 * rotation runs over the usable gateways only, so a down or full gateway's share is spread
 * evenly over the others rather than all landing on the next one in the list. The route's
 * gateways are gw[0..n) (its list, or a merged walk's copy of its first ones). Each gateway's
 * verdict is asked once (the host's callbacks once per gateway and decision, and once more
 * for the reason of a decision blocked with routes matched: every_gateway_down); the usable ones
 * go to okgw[0..n), a list sized to the route (add_route_gateways), unless every gateway is
 * usable (none of them listed yet and no verdict to ask, the usual case): the route's own list
 * is then rotated. An attempt is added when the list has room and its Request-URI fits (the URI
 * is written when asked for, cr_attempt_uri: here only its length is checked).
 */
static inline __attribute__((always_inline)) void
add_usable_gateways(const cr_config *c, const cr_route *r, const uint32_t *gw, size_t n,
                    const cr_usage *u, const char *number, size_t len, const cr_runtime *rt,
                    uint32_t spread, adder *x, cr_decision *out, cr_trace *trace, uint32_t *okgw)
{
    uint64_t bits = 0;
    if (n == 2) /* the usual route, its two gateways inline in the merged item */
        bits = (uint64_t)1 << (gw[0] & 63) | (uint64_t)1 << (gw[1] & 63);
    else
        for (size_t k = 0; k < n; k++)
            bits |= (uint64_t)1 << (gw[k] & 63);
    const uint32_t *list = gw;
    size_t usable = n;
    if (__builtin_expect((x->listed & bits) != 0 || x->ask, 0)) {
        usable = 0;
        for (size_t k = 0; k < n; k++) {
            const cr_gateway *g = &c->gateways[gw[k]];
            int w = gateway_skip(g, (uint64_t)1 << (gw[k] & 63), x, rt, out);
            if (w == GW_OK)
                okgw[usable++] = gw[k];
            else
                trace_skip(trace, g, w);
        }
        list = okgw;
    }
    if (!usable)
        return;
    if (usable > 1 && rt && rt->route_spread)
        spread = rt->route_spread(rt->ud, r);
    /* usable <= n fits 32 bits: a 32-bit division (no division at all for one gateway) */
    size_t first = usable > 1 ? (uint32_t)spread % (uint32_t)usable : 0;
    size_t before = out->nattempts, na = before;
    uint64_t listed = x->listed;
    const cr_gateway_host *hosts = c->gateway_hosts;
    size_t keep = x->ulen, drop = x->ulen - x->plus; /* read once: host_uri_len's */
    for (size_t j = 0, q = first; j < usable; j++, q = q + 1 == usable ? 0 : q + 1) {
        uint32_t gi = list[q];
        uint64_t bit = (uint64_t)1 << (gi & 63);
        const cr_gateway *g = &c->gateways[gi];
        if (listed & bit) { /* a gateway listed twice in the route: added once */
            bool dup = false;
            for (size_t i = before; !dup && i < na; i++)
                dup = out->attempts[i].gateway == g;
            if (dup)
                continue;
        }
        size_t ulen;
        if (__builtin_expect(hosts != NULL, 1)) /* the host's entry, not the gateway's record */
            ulen = host_uri_len(&hosts[gi], keep, drop);
        else {
            size_t hlen;
            gateway_host(c, g, &hlen);
            ulen = uri_len(g, number, len, hlen);
        }
        int what = na == CR_MAX_ATTEMPTS ? ADD_FULL : ulen >= CR_URI_SHORT ? ADD_LONG : ADD_DONE;
        if (__builtin_expect(what == ADD_DONE, 1)) {
            cr_attempt *a = &out->attempts[na++];
            a->gateway = g;
            a->route = r;
            a->usage = u;
            listed |= bit;
        }
        if (__builtin_expect(trace != NULL, 0)) {
            out->nattempts = na;
            trace_attempt(trace, c, g, what, number, len, out);
        }
    }
    out->nattempts = na;
    x->listed = listed;
}

#define SKIP_CACHE 256 /* usable gateways kept on the stack; a longer list's on the heap */

/* add_usable_gateways with its list on the heap (a route of more than SKIP_CACHE gateways). */
static int __attribute__((noinline, cold))
add_many_gateways(const cr_config *c, const cr_route *r, const uint32_t *gw, size_t n,
                  const cr_usage *u, const char *number, size_t len, const cr_runtime *rt,
                  uint32_t spread, adder *x, cr_decision *out, cr_trace *trace)
{
    uint32_t *okgw = malloc(n * sizeof *okgw);
    if (!okgw)
        return CR_ENOMEM;
    add_usable_gateways(c, r, gw, n, u, number, len, rt, spread, x, out, trace, okgw);
    free(okgw);
    return CR_OK;
}

/* add_usable_gateways: CR_OK, or CR_ENOMEM (nothing added) when a list past SKIP_CACHE cannot
 * be allocated. */
static inline __attribute__((always_inline)) int
add_route_gateways(const cr_config *c, const cr_route *r, const uint32_t *gw, size_t n,
                   const cr_usage *u, const char *number, size_t len, const cr_runtime *rt,
                   uint32_t spread, adder *x, cr_decision *out, cr_trace *trace)
{
    if (__builtin_expect(n > SKIP_CACHE, 0))
        return add_many_gateways(c, r, gw, n, u, number, len, rt, spread, x, out, trace);
    uint32_t okgw[SKIP_CACHE];
    add_usable_gateways(c, r, gw, n, u, number, len, rt, spread, x, out, trace, okgw);
    return CR_OK;
}

/* One candidate route ri of usage u: its pattern decides unless the index did (`sure`); when
 * it matches, its gateways (gw[0..ngw), NULL: the route's list) become attempts. With `key`
 * (the number read by ce_px_key_init, in the alphabet), a route with an automaton
 * (ce_route_dfa) is decided by it, not by PCRE2. 1 when it matched, 0 when not, CR_ENOMEM
 * (add_route_gateways). */
static inline __attribute__((always_inline)) int
try_route(const cr_config *c, size_t ri, bool sure, const cr_px_key *key, const uint32_t *gw,
          size_t ngw, const cr_usage *u, const char *number, size_t n, const cr_runtime *rt,
          uint32_t spread, adder *x, cr_decision *out, cr_trace *trace)
{
    const cr_route *r = ce_route(c, ri);
    int rc = 1;
    if (!sure) {
        const cr_px_dfa *d = key ? ce_route_dfa(c, (uint32_t)ri) : NULL;
        if (d) {
            rc = ce_px_dfa_match(d, key);
        } else {
            const void *re = ce_route_re_now(r);
            rc = re ? ce_re_test(re, number, n) : 0;
        }
    }
    if (rc <= 0) {
        if (trace)
            cr_trace_add(trace, "  route '%s' (%s) %s", r->name, r->pattern,
                         rc == CR_ELIMIT ? "hit the PCRE2 match limit: skipped" : "does not match");
        return 0;
    }
    out->routes_matched++;
    if (trace)
        cr_trace_add(trace, "  route '%s' (%s) matches", r->name, r->pattern);
    if (!gw) {
        gw = r->gateways.idx;
        ngw = r->gateways.count;
    }
    if (ngw == 2 && x->plain && add_two_gateways(c, r, gw, u, rt, spread, x, out))
        return 1;
    return add_route_gateways(c, r, gw, ngw, u, number, n, rt, spread, x, out, trace) == CR_OK
               ? 1
               : CR_ENOMEM;
}

static void trace_usage(cr_trace *trace, const cr_config *c, const cr_policy *policy, size_t i)
{
    cr_trace_add(trace, "usage '%s' (%zu of %zu in policy '%s')",
                 c->usages[policy->usages.idx[i]].name, i + 1, (size_t)policy->usages.count,
                 policy->name);
}

static void trace_no_route(cr_trace *trace, const cr_config *c, const cr_policy *policy, size_t i,
                           const char *number)
{
    cr_trace_add(trace, "  no route of usage '%s' matches %s",
                 c->usages[policy->usages.idx[i]].name, number);
}

/* The policy's candidates in one walk of its merged trie (route_index.h): the same attempts,
 * in the same order, and the same trace as a walk per usage. CR_OK or CR_ENOMEM. */
static inline __attribute__((always_inline)) int
walk_merged(const cr_config *c, const cr_policy *policy, cr_policy_iter *it, const char *number,
            size_t n, const cr_px_key *key, const cr_runtime *rt, uint32_t spread, adder *x,
            cr_decision *out, cr_trace *trace)
{
    size_t rank = 0; /* usages whose trace header is out */
    bool any = false;
    const cr_px_witem *s;
    while ((s = ce_policy_walk_next(it)) != NULL) {
        if (trace)
            for (; rank <= s->rank; rank++, any = false) {
                if (rank && !any)
                    trace_no_route(trace, c, policy, rank - 1, number);
                trace_usage(trace, c, policy, rank);
            }
        const uint32_t *gw = s->ngw == CR_SLOT_GW_ROUTE ? NULL : s->gw;
        const cr_usage *u = &c->usages[policy->usages.idx[s->rank]];
        int m = try_route(c, s->route, it->px.match, key, gw, s->ngw, u, number, n, rt, spread, x,
                          out, trace);
        if (m < 0)
            return m;
        any |= m != 0;
    }
    if (trace)
        for (; rank <= policy->usages.count; rank++, any = false) {
            if (rank && !any)
                trace_no_route(trace, c, policy, rank - 1, number);
            if (rank < policy->usages.count)
                trace_usage(trace, c, policy, rank);
        }
    return CR_OK;
}

/* cr_route_attempts for out->normalized, already read into trie symbols (`key`, of
 * key->n characters): one walk of the policy's merged trie (`ahead`: already begun for this
 * policy and key, or NULL), else one walk per usage. CR_OK, or CR_ENOMEM: a route's gateway list
 * past SKIP_CACHE could not be read (the attempts are then dropped). */
static inline __attribute__((always_inline)) int
route_attempts_in(const cr_config *c, const cr_policy *policy, const cr_px_key *key,
                  cr_policy_iter *ahead, const cr_runtime *rt, cr_decision *out, cr_trace *trace)
{
    const char *number = out->normalized;
    size_t n = key->n;
    uint32_t spread = rt && !rt->route_spread && rt->spread ? rt->spread(rt->ud) : 0;
    int rc = CR_OK;
    adder x;
    adder_init(&x, c, number, n, rt, out, trace);
    cr_policy_iter pit;
    if (!ahead) {
        bool own = c->npolicies && policy >= c->policies && policy < c->policies + c->npolicies;
        if (own && ce_policy_walk_begin(c, (size_t)(policy - c->policies), key, &pit))
            ahead = &pit;
    }
    if (ahead) { /* one call of walk_merged, in line */
        rc = walk_merged(c, policy, ahead, number, n, key, rt, spread, &x, out, trace);
        goto done;
    }
    for (size_t i = 0; i < policy->usages.count; i++) {
        const cr_usage *u = &c->usages[policy->usages.idx[i]];
        cr_route_iter it;
        ce_route_index_begin_key(c, policy->usages.idx[i], key, &it);
        if (trace)
            trace_usage(trace, c, policy, i);
        size_t ri;
        bool any = false;
        while (rc == CR_OK && (ri = ce_route_index_next(&it)) != SIZE_MAX) {
            int m = try_route(c, ri, ce_route_index_match(&it), NULL, NULL, 0, u, number, n, rt,
                              spread, &x, out, trace);
            rc = m < 0 ? m : rc;
            any |= m > 0;
        }
        if (rc != CR_OK)
            break;
        if (trace && !any)
            trace_no_route(trace, c, policy, i, number);
    }
done:
    if (rc != CR_OK) {
        out->nattempts = 0;
        if (trace)
            cr_trace_add(trace, "out of memory reading a route's gateways: no attempts");
    }
    return rc;
}

/* route_attempts_in without a trace, the decisions' usual case (its trace lines compiled out,
 * its arguments all in registers), and with one. Their parts are in line in both (adder_init,
 * ce_policy_walk_next): with two copies, GCC left them out of line, for more instructions than
 * the one copy with its trace tests had. */
static int __attribute__((noinline))
route_attempts_quiet(const cr_config *c, const cr_policy *policy, const cr_px_key *key,
                     cr_policy_iter *ahead, const cr_runtime *rt, cr_decision *out)
{
    return route_attempts_in(c, policy, key, ahead, rt, out, NULL);
}

static int __attribute__((noinline))
route_attempts_traced(const cr_config *c, const cr_policy *policy, const cr_px_key *key,
                      cr_policy_iter *ahead, const cr_runtime *rt, cr_decision *out,
                      cr_trace *trace)
{
    return route_attempts_in(c, policy, key, ahead, rt, out, trace);
}

static inline int route_attempts(const cr_config *c, const cr_policy *policy, const cr_px_key *key,
                                 cr_policy_iter *ahead, const cr_runtime *rt, cr_decision *out,
                                 cr_trace *trace)
{
    if (!trace)
        return route_attempts_quiet(c, policy, key, ahead, rt, out);
    return route_attempts_traced(c, policy, key, ahead, rt, out, trace);
}

void cr_route_attempts(const cr_config *c, const cr_policy *policy, const char *number,
                       const cr_runtime *rt, cr_decision *out, cr_trace *trace)
{
    if (!policy)
        return;
    size_t n = strlen(number);
    if (n > CR_NUMBER_MAX) { /* no normalized number is longer: none of its URIs is kept */
        if (trace)
            cr_trace_add(trace, "number too long to route: %.40s...", number);
        return;
    }
    if (number != out->normalized) /* the attempts' URIs are built from out->normalized */
        memmove(out->normalized, number, n + 1);
    cr_px_key key; /* the number read once for every usage's trie */
    ce_px_key_init(&key, out->normalized, n);
    (void)route_attempts(c, policy, &key, NULL, rt, out, trace);
}

/* A directory user naming a policy this configuration lacks has none (calls are blocked),
 * rather than silently getting the default one. */
const cr_policy *ce_user_policy(const cr_config *c, const cr_user *u)
{
    if (u && u->policy_idx >= 0)
        return &c->policies[u->policy_idx];
    /* A policy that is gone (a directory user whose policy was deleted) is no policy at all:
     * the default applies (guide 9460: "any user that is not currently assigned a policy"). */
    return c->default_policy;
}

const cr_user *cr_user_find(const cr_config *c, const cr_runtime *rt, const char *uri)
{
    const cr_user *u = cr_config_user_find(c, uri);
    if (!u && uri && rt && rt->users && rt->users->find)
        u = rt->users->find(rt->users->ud, uri);
    return u;
}

const cr_user *cr_user_by_number(const cr_config *c, const cr_runtime *rt, const char *number,
                                 const char *ext)
{
    const cr_user *u = cr_config_user_by_number(c, number, ext);
    if (!u && rt && rt->users && rt->users->by_number)
        u = rt->users->by_number(rt->users->ud, number, ext);
    return u;
}

const cr_profile *cr_user_profile(const cr_config *c, const cr_user *u)
{
    if (u && u->profile_idx >= 0)
        return &c->profiles[u->profile_idx];
    return c->default_profile;
}

/* Profile for a dialed number: its phone-context when that names a profile, else the
 * caller's (profile index profile_idx, -1: none), else the default (SPEC §2 step 2). */
static inline __attribute__((always_inline)) const cr_profile *
pick_profile(const cr_config *c, long profile_idx, const cr_number *num, cr_trace *trace)
{
    if (num->context[0] && strcasecmp(num->context, "user-default") != 0) {
        const cr_profile *named = cr_config_profile_by_context(c, num->context);
        if (named) {
            if (trace)
                cr_trace_add(trace, "profile '%s' (named by phone-context)", named->name);
            return named;
        }
        if (trace)
            cr_trace_add(trace, "phone-context '%s' names no location profile", num->context);
    }
    const cr_profile *p = profile_idx >= 0 ? &c->profiles[profile_idx] : c->default_profile;
    if (trace)
        cr_trace_add(trace, "profile '%s' (%s)", p ? p->name : "(none)",
                     profile_idx >= 0 ? "the caller's location profile"
                                      : "the default location profile");
    return p;
}

static void set_reason(cr_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(cr_decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
    d->reason_code = CR_REASON_TEXT;
}

/* A reason recorded by its code (its text written when asked for), traced after `prefix`. */
static void set_reason_code(cr_decision *d, cr_reason_code code, cr_trace *trace,
                            const char *prefix)
{
    d->reason_code = code;
    if (trace) {
        char why[CR_REASON_MAX];
        cr_trace_add(trace, "%s%s", prefix, cr_decision_reason(d, why, sizeof why));
    }
}

/* Step 3 found the number to be callee's line: an internal call. */
static void set_internal(const cr_user *callee, cr_decision *out, cr_trace *trace)
{
    out->kind = CR_INTERNAL;
    out->callee = callee;
    set_reason_code(out, CR_REASON_LINE_USER, trace, "reverse number lookup: ");
}

/* Step 3 found the number to be a workflow's line (no user's): an internal call to the
 * workflow's contact URI. */
static void set_internal_workflow(const cr_workflow *w, cr_decision *out, cr_trace *trace)
{
    out->kind = CR_INTERNAL;
    out->workflow = w;
    out->reason_code = CR_REASON_LINE_WORKFLOW;
    if (trace) {
        char why[CR_REASON_MAX];
        cr_trace_add(trace, "reverse number lookup: %s (%s)",
                     cr_decision_reason(out, why, sizeof why), w->uri);
    }
}

static uint32_t no_spread(void *ud)
{
    (void)ud;
    return 0;
}

static uint32_t no_route_spread(void *ud, const cr_route *r)
{
    (void)ud, (void)r;
    return 0;
}

/* Step 5 found no attempt though routes matched (out, policy pol): whether every gateway of
 * those routes was down, else out's reason says why they were not usable (down, full, or a
 * Request-URI too long for them). Cold: the attempts are built again, traced, on a copy of
 * the decision, with the runtime's spread counters left as they are. */
static bool __attribute__((noinline, cold))
every_gateway_down(const cr_config *c, const cr_policy *pol, const cr_px_key *key,
                   const cr_runtime *rt, bool secure, cr_decision *out, cr_trace *trace)
{
    cr_runtime quiet;
    cr_trace t;
    cr_decision *copy = malloc(sizeof *copy);
    if (!copy)
        return true;
    *copy = *out;
    copy->nattempts = 0;
    copy->routes_matched = 0;
    if (rt) {
        quiet = *rt;
        quiet.spread = rt->spread ? no_spread : NULL;
        quiet.route_spread = rt->route_spread ? no_route_spread : NULL;
        rt = &quiet;
    }
    cr_trace_init(&t);
    int rc = route_attempts_traced(c, pol, key, NULL, rt, copy, &t);
    if (rc == CR_OK && secure)
        secure_attempts(c, copy, &t);
    size_t down = t.skipped_down, full = t.skipped_full, lng = t.skipped_long;
    cr_trace_free(&t);
    free(copy);
    if (rc != CR_OK || (full == 0 && lng == 0))
        return true;
    /* the causes, not counts: a gateway of several matching routes is skipped once for each */
    char why[96], uri[48];
    snprintf(uri, sizeof uri, "a Request-URI over %d characters", CR_URI_SHORT - 1);
    const char *part[3];
    size_t np = 0;
    if (down)
        part[np++] = "down";
    if (full)
        part[np++] = "full";
    if (lng)
        part[np++] = uri;
    /* "A", "A or B", "A, B or C" */
    snprintf(why, sizeof why, "%s%s%s%s%s", part[0],
             np == 3   ? ", "
             : np == 2 ? " or "
                       : "",
             np > 1 ? part[1] : "", np == 3 ? " or " : "", np == 3 ? part[2] : "");
    set_reason(out, "no gateway of the routes matching %s can take the call (%s)", out->normalized,
               why);
    if (trace)
        cr_trace_add(trace, "blocked: %s", out->text);
    return false;
}

/* Steps 4 and 5 of cr_route_decide for caller u and out->normalized (key->n characters, read
 * into trie symbols as `key`): the attempts of the caller's usages, or blocked. */
/* `ahead`: the merged walk of the likely policy begun for `key` while the caller was looked up,
 * or NULL. */
/* `pol`: the caller's voice policy (ce_user_policy). */
static inline __attribute__((always_inline)) int
decide_routes(const cr_config *c, const cr_user *u, const cr_policy *pol, bool secure,
              const cr_px_key *key, cr_policy_iter *ahead, const cr_runtime *rt, cr_decision *out,
              cr_trace *trace)
{
    /* 4. usages top to bottom, routes in order */
    if (trace && pol && u->policy && u->policy_idx < 0)
        cr_trace_add(trace,
                     "caller's voice policy '%s' is not configured: the default policy '%s' "
                     "applies",
                     u->policy, pol->name);
    if (!pol) {
        out->kind = CR_BLOCKED;
        if (u->policy)
            set_reason(out, "caller's voice policy '%.100s' is not configured", u->policy);
        else
            set_reason(out, "caller has no voice policy and there is no default policy");
        return CR_OK;
    }
    if (route_attempts(c, pol, key, pol == c->likely_policy ? ahead : NULL, rt, out, trace) !=
        CR_OK) {
        out->kind = CR_BLOCKED;
        set_reason(out, "out of memory reading the gateways of a route of policy '%.100s'",
                   pol->name);
        return CR_OK;
    }
    if (secure)
        secure_attempts(c, out, trace);
    /* 5. nothing → blocked */
    if (out->nattempts == 0) {
        out->kind = CR_BLOCKED;
        out->policy = pol;
        if (out->routes_matched && !every_gateway_down(c, pol, key, rt, secure, out, trace))
            return CR_OK;
        set_reason_code(out, out->routes_matched ? CR_REASON_GATEWAYS_DOWN : CR_REASON_NO_ROUTE,
                        trace, "blocked: ");
        return CR_OK;
    }
    out->kind = CR_OUTBOUND;
    out->reason_code = CR_REASON_ROUTE; /* "route '%s', usage '%s'": attempts[0]'s */
    return CR_OK;
}

/* Sets the reason of a decision that goes no further and adds it to the trace. */
static void refuse(cr_decision *d, cr_trace *trace, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(cr_decision *d, cr_trace *trace, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
    d->reason_code = CR_REASON_TEXT;
    if (trace)
        cr_trace_add(trace, "%s", d->text);
}

/* A SIP URI naming a user (or, failing that, a workflow) directly: an internal call. */
static bool direct_target(const cr_config *c, const cr_runtime *rt, const char *dialed,
                          cr_decision *out, cr_trace *trace)
{
    const cr_user *callee = cr_user_find(c, rt, dialed);
    const cr_workflow *w = callee ? NULL : cr_config_workflow_find(c, dialed);
    if (!callee && !w)
        return false;
    out->kind = CR_INTERNAL;
    out->callee = callee;
    out->workflow = w;
    if (callee)
        refuse(out, trace, "'%s' is a user", callee->uri);
    else
        refuse(out, trace, "'%s' is workflow '%.100s'", w->uri, w->name);
    return true;
}

/* What a decision reads of its caller: from the caller table's cell while the caller's key is
 * still on its way (cr_route_decide compares it before the answer is final), or from the user
 * once found. */
typedef struct caller_hot {
    long policy_idx, profile_idx; /* -1: none */
    bool ev;
} caller_hot;

static caller_hot cell_hot(const cr_user_cell *s)
{
    return (caller_hot){s->policy == CR_CELL_NONE ? -1 : (long)s->policy,
                        s->profile == CR_CELL_NONE ? -1 : (long)s->profile,
                        (s->hot & CR_CELL_EV) != 0};
}

/* Steps 2, 3 and 4 started ahead with the profile most callers have (when no phone-context can
 * name another), while the caller's cell and key come from memory: normalization, the reverse
 * lookup's slot, and the walk down the merged trie of the policy most callers have (its nodes
 * and first items then come from memory while the caller's do); kept when the caller turns out
 * to have that profile (and that policy, for the walk). Not with a trace, which tells the
 * steps in order. */
typedef struct decide_ahead {
    const cr_profile *profile; /* NULL: not started */
    int rc;
    const cr_rule *rule;
    size_t n;
    cr_line_probe line;
    bool keyed; /* `key` read from the normalized number */
    cr_px_key key;
    bool walking; /* `walk` begun for c->likely_policy */
    cr_policy_iter walk;
} decide_ahead;

/* `caller`: the caller's probe, or NULL; peeked last, once the line's slot and the walk's nodes
 * are asked for (its cell, fetched before the number was parsed, has come by then). */
static inline __attribute__((always_inline)) void start_ahead(const cr_config *c,
                                                              const cr_number *num, bool plain,
                                                              cr_user_probe *caller,
                                                              decide_ahead *a, cr_decision *out)
{
    a->profile = c->likely_profile;
    a->rc = ce_normalize_in_line(a->profile, num->digits, num->ndigits, plain, out->normalized,
                                 sizeof out->normalized, &a->n, &a->rule, NULL);
    if (a->rc == CR_OK) {
        ce_line_probe_start(c, out->normalized, a->n, num->ext, &a->line);
        /* a number an internal extension's rule translated is most likely a user's line: no
         * key and no walk for it yet (decide reads the key when it is no one's line, and the
         * attempts then walk the trie) */
        a->keyed = !(a->rule && a->rule->internal_extension);
        if (a->keyed) {
            ce_px_key_init_in_line(&a->key, out->normalized, a->n);
            a->walking = c->likely_policy &&
                         ce_policy_walk_begin(c, (size_t)(c->likely_policy - c->policies), &a->key,
                                              &a->walk);
        }
    }
    if (caller) /* last: the line's slot and the walk's nodes are on their way meanwhile */
        ce_user_probe_peek_in_line(c, caller);
}

/* Step 1's caller: from its cell (`tentative`, no trace: the key is compared later), else
 * looked up. Refuses (returns NULL) an unknown caller or one not enabled for Enterprise Voice. */
static inline __attribute__((always_inline)) const cr_user *
find_caller(const cr_config *c, const cr_runtime *rt, cr_user_probe *p, bool tentative,
            caller_hot *hot, cr_decision *out, cr_trace *trace)
{
    if (!tentative || trace)
        p->cell = NULL;
    else if (!p->peeked)
        ce_user_probe_peek_in_line(c, p);
    const cr_user *u;
    if (p->cell) {
        u = ce_user(c, (p->cell->val - 1) & CR_USER_IX_MASK);
        *hot = cell_hot(p->cell);
    } else {
        u = ce_user_probe_finish(c, rt, p);
        if (u)
            *hot = (caller_hot){u->policy_idx, u->profile_idx, u->enterprise_voice};
    }
    out->caller = u;
    if (!u) {
        refuse(out, trace, "caller '%.200s' is not a known user", p->uri);
        return NULL;
    }
    if (!hot->ev) {
        refuse(out, trace, "caller '%.200s' is not enabled for Enterprise Voice", u->uri);
        return NULL;
    }
    if (trace)
        cr_trace_add(trace, "caller '%s' (voice policy '%s')", u->uri,
                     ce_user_policy(c, u) ? ce_user_policy(c, u)->name : "(none)");
    return u;
}

/* cr_route_decide after the caller's probe started: `tentative` lets the caller come from its
 * cell, its key not yet compared (the caller then compares it: caller->cell set). Inline in
 * cr_route_decide; decide_again is the rare second time. */
static inline __attribute__((always_inline)) int decide(const cr_config *c, const char *dialed,
                                                        const cr_runtime *rt, cr_user_probe *caller,
                                                        bool tentative, cr_decision *out,
                                                        cr_trace *trace)
{
    cr_number num;
    bool plain; /* num.digits: decimal digits after an optional '+' */
    if (ce_number_parse_in_line(dialed, &num, &plain) != CR_OK) {
        if (num.invalid)
            refuse(out, trace, "'%.100s': %s", dialed, num.invalid);
        else
            refuse(out, trace, "'%.100s' is not a phone number or URI", dialed);
        return CR_OK;
    }
    /* 1. supported domain, caller enabled for Enterprise Voice */
    if (num.is_sip && num.host[0] && !cr_config_domain_supported(c, num.host)) {
        refuse(out, trace, "domain '%s' is not a supported domain", num.host);
        return CR_OK;
    }
    decide_ahead ahead;
    ahead.profile = NULL;
    ahead.walking = false;
    if (!trace && num.dialable && !num.context[0] && c->likely_profile)
        start_ahead(c, &num, plain, tentative ? caller : NULL, &ahead, out);
    caller_hot hot;
    const cr_user *u = find_caller(c, rt, caller, tentative, &hot, out, trace);
    if (!u) {
        out->normalized[0] = 0; /* start_ahead's: a refusal has none */
        return CR_OK;
    }
    /* a SIP URI naming a user or a workflow directly is an internal call */
    if (num.is_sip && !num.dialable && direct_target(c, rt, dialed, out, trace))
        return CR_OK;
    if (!num.dialable) {
        refuse(out, trace, "'%.100s' is not a phone number", num.digits);
        return CR_OK;
    }
    /* 2. profile and normalization */
    out->profile = pick_profile(c, hot.profile_idx, &num, trace);
    bool kept = ahead.profile && ahead.profile == out->profile;
    int nrc;
    if (kept) { /* start_ahead normalized into out->normalized */
        nrc = ahead.rc;
        out->rule = ahead.rule;
        if (nrc != CR_OK)
            out->normalized[0] = 0; /* none, as before the normalization ahead */
    } else {
        out->normalized[0] = 0; /* start_ahead's, if any: not this profile's */
        nrc = ce_profile_normalize_n(out->profile, num.digits, num.ndigits, plain, out->normalized,
                                     sizeof out->normalized, &ahead.n, &out->rule, trace);
    }
    if (nrc != CR_OK) {
        out->kind = CR_BLOCKED;
        set_reason(out, "%s",
                   nrc == CR_ENOMEM ? "a normalization rule could not be compiled on its first use"
                                    : "normalized number is too long");
        return CR_OK;
    }
    if (__builtin_expect(ahead.n <= 1, 0) && (ahead.n == 0 || out->normalized[0] == '+')) {
        /* a translation that leaves nothing ("$1" of "^9(\d*)$" on "9") or a bare '+' ("+$1"
         * of the guide's IntlCallingUS, ^011(\d*)$, on "011"): no number to look up or to
         * send ("sip:@gateway", "sip:+@gateway"), even where a route such as ^\+?(\d*)$
         * matches it */
        out->kind = CR_BLOCKED;
        refuse(out, trace, "rule '%.100s' translates %.100s to %s",
               out->rule ? out->rule->name : "", num.digits,
               ahead.n ? "'+' and no digit" : "an empty number");
        return CR_OK;
    }
    /* 3. reverse number lookup; its index slot is fetched while the number is read into
     * trie symbols for step 4 */
    if (!kept) {
        ce_line_probe_start(c, out->normalized, ahead.n, num.ext, &ahead.line);
        ce_px_key_init(&ahead.key, out->normalized, ahead.n);
        ahead.keyed = true;
    }
    size_t nlen = ahead.n;
    const cr_px_key *key = &ahead.key;
    const cr_user *callee = ce_line_probe_finish(c, rt, &ahead.line);
    if (callee) {
        set_internal(callee, out, trace);
        return CR_OK;
    }
    const cr_workflow *w =
        c->nworkflows ? cr_config_workflow_by_number(c, out->normalized, num.ext) : NULL;
    if (w) {
        set_internal_workflow(w, out, trace);
        return CR_OK;
    }
    if (trace)
        cr_trace_add(trace, "reverse number lookup: %s is no user's or workflow's line",
                     out->normalized);
    if (!ahead.keyed)
        ce_px_key_init(&ahead.key, out->normalized, nlen);
    const cr_policy *pol = hot.policy_idx >= 0 ? &c->policies[hot.policy_idx] : c->default_policy;
    return decide_routes(c, u, pol, num.secure, key, kept && ahead.walking ? &ahead.walk : NULL, rt,
                         out, trace);
}

/* "A" + lit + "B'" into buf when it fits in len (lit of litn characters); false when not. */
static bool reason_quoted(char *buf, size_t len, const char *a, const char *lit, size_t litn,
                          const char *b)
{
    size_t an = strlen(a), bn = strlen(b);
    if (an + litn + bn + 1 >= len)
        return false;
    memcpy(buf, a, an);
    memcpy(buf + an, lit, litn);
    memcpy(buf + an + litn, b, bn);
    memcpy(buf + an + litn + bn, "'", 2);
    return true;
}

const char *cr_decision_reason(const cr_decision *d, char *buf, size_t cap)
{
    if (!cap)
        return "";
    size_t len = cap < CR_REASON_MAX ? cap : CR_REASON_MAX, o = 0;
    /* the two reasons of nearly every decision, copied whole when they fit (else cut below) */
    if (d->reason_code == CR_REASON_ROUTE && d->nattempts) {
        static const char lit[] = "', usage '";
        const char *route = d->attempts[0].route->name;
        size_t rn = strlen(route);
        if (rn + 7 < len) {
            memcpy(buf, "route '", 7);
            if (reason_quoted(buf + 7, len - 7, route, lit, sizeof lit - 1,
                              d->attempts[0].usage->name))
                return buf;
        }
    } else if (d->reason_code == CR_REASON_LINE_USER && d->callee) {
        static const char lit[] = " is the line of user '";
        if (reason_quoted(buf, len, d->normalized, lit, sizeof lit - 1, d->callee->uri))
            return buf;
    }
    buf[0] = 0;
    switch (d->reason_code) {
    case CR_REASON_TEXT:
        put(buf, len, &o, d->text);
        break;
    case CR_REASON_ROUTE:
        if (!d->nattempts)
            break;
        put(buf, len, &o, "route '");
        put(buf, len, &o, d->attempts[0].route->name);
        put(buf, len, &o, "', usage '");
        put(buf, len, &o, d->attempts[0].usage->name);
        put(buf, len, &o, "'");
        break;
    case CR_REASON_LINE_USER:
        put(buf, len, &o, d->normalized);
        put(buf, len, &o, " is the line of user '");
        put(buf, len, &o, d->callee ? d->callee->uri : "");
        put(buf, len, &o, "'");
        break;
    case CR_REASON_LINE_WORKFLOW: {
        const char *name = d->workflow ? d->workflow->name : "";
        put(buf, len, &o, d->normalized);
        put(buf, len, &o, " is the line of workflow '");
        put_n(buf, len, &o, name, strnlen(name, 100));
        put(buf, len, &o, "'");
        break;
    }
    case CR_REASON_NO_ROUTE:
        put(buf, len, &o, "no route of voice policy '");
        put(buf, len, &o, d->policy ? d->policy->name : "");
        put(buf, len, &o, "' matches ");
        put(buf, len, &o, d->normalized);
        break;
    case CR_REASON_GATEWAYS_DOWN:
        put(buf, len, &o, "every gateway of the routes matching ");
        put(buf, len, &o, d->normalized);
        put(buf, len, &o, " is down");
        break;
    default:
        break;
    }
    return buf;
}

static void decision_reset(cr_decision *out)
{
    out->kind = CR_NOT_APPLICABLE;
    out->reason_code = CR_REASON_NONE;
    out->secure = false;
    out->caller = out->callee = NULL;
    out->workflow = NULL;
    out->profile = NULL;
    out->rule = NULL;
    out->policy = NULL;
    out->normalized[0] = 0;
    out->nattempts = 0;
    out->routes_matched = 0;
}

/* decide without the caller's cell (its key was another's with the same tag). */
static int __attribute__((noinline, cold))
decide_again(const cr_config *c, const char *dialed, const cr_runtime *rt, cr_user_probe *caller,
             cr_decision *out, cr_trace *trace)
{
    decision_reset(out);
    return decide(c, dialed, rt, caller, false, out, trace);
}

/* cr_route_decide, in line in its two copies (route_decide_quiet and route_decide_traced). */
static inline __attribute__((always_inline)) int route_decide(const cr_config *c, const char *from,
                                                              const char *dialed,
                                                              const cr_runtime *rt,
                                                              cr_decision *out, cr_trace *trace)
{
    decision_reset(out);
    if (!c || !from || !dialed) {
        set_reason(out, "missing caller or dialed number");
        return CR_EINVAL;
    }
    /* the caller's cell is fetched while the number is parsed */
    cr_user_probe caller;
    ce_user_probe_start(c, from, &caller);
    int rc = decide(c, dialed, rt, &caller, true, out, trace);
    /* a decision that went on from the caller's cell is final once the caller's key is
     * compared; a cell of another key with the same tag: decided again, the caller looked up */
    if (caller.cell && !ce_user_probe_confirm_in_line(c, &caller))
        rc = decide_again(c, dialed, rt, &caller, out, trace);
    return rc;
}

/* route_decide without a trace, the usual decision: its trace lines compiled out. */
static int __attribute__((noinline))
route_decide_quiet(const cr_config *c, const char *from, const char *dialed, const cr_runtime *rt,
                   cr_decision *out)
{
    return route_decide(c, from, dialed, rt, out, NULL);
}

/* route_decide with a trace (out of line: cr_route_decide is then a jump to one or the other,
 * not a frame of its own). */
static int __attribute__((noinline))
route_decide_traced(const cr_config *c, const char *from, const char *dialed, const cr_runtime *rt,
                    cr_decision *out, cr_trace *trace)
{
    return route_decide(c, from, dialed, rt, out, trace);
}

int cr_route_decide(const cr_config *c, const char *from, const char *dialed, const cr_runtime *rt,
                    cr_decision *out, cr_trace *trace)
{
    if (!trace)
        return route_decide_quiet(c, from, dialed, rt, out);
    return route_decide_traced(c, from, dialed, rt, out, trace);
}

/* ---- inbound from a gateway --------------------------------------------------------------- */

const cr_gateway *cr_config_gateway_match(const cr_config *c, const char *key)
{
    if (!key)
        return NULL;
    const cr_gateway *g = cr_config_gateway_find(c, key);
    if (g)
        return g;
    if (strncasecmp(key, "sip:", 4) == 0)
        key += 4;
    size_t kl = strlen(key);
    for (size_t i = 0; i < c->ngateways; i++) {
        const char *h = c->gateways[i].address + 4;
        const char *at = strchr(h, '@');
        if (at)
            h = at + 1;
        size_t hl = strcspn(h, ";?>");
        /* "host:port" equals; "host" alone matches an address without a port or :5060 */
        if (hl == kl && strncasecmp(h, key, kl) == 0)
            return &c->gateways[i];
        if (!strchr(key, ':')) {
            if (hl == kl + 5 && strncasecmp(h, key, kl) == 0 && strncmp(h + kl, ":5060", 5) == 0)
                return &c->gateways[i];
        } else if (!memchr(h, ':', hl)) {
            size_t hostl = (size_t)(strchr(key, ':') - key);
            if (hl == hostl && strncasecmp(h, key, hostl) == 0 && strcmp(key + hostl, ":5060") == 0)
                return &c->gateways[i];
        }
    }
    return NULL;
}

int cr_inbound_decide(const cr_config *c, const cr_gateway *gw, const char *called,
                      const char *calling, cr_inbound *out, cr_trace *trace)
{
    return cr_inbound_decide_ex(c, gw, called, calling, NULL, out, trace);
}

int cr_inbound_decide_ex(const cr_config *c, const cr_gateway *gw, const char *called,
                         const char *calling, const cr_runtime *rt, cr_inbound *out,
                         cr_trace *trace)
{
    memset(out, 0, sizeof *out);
    const cr_profile *p =
        gw && gw->profile_idx >= 0 ? &c->profiles[gw->profile_idx] : c->default_profile;
    out->profile = p;
    if (trace)
        cr_trace_add(trace, "inbound from gateway '%s': profile '%s'", gw ? gw->name : "(any)",
                     p ? p->name : "(none)");
    cr_number num;
    if (!called || cr_number_parse(called, &num) != CR_OK || !num.dialable) {
        if (trace)
            cr_trace_add(trace, "called number '%.100s' is not a phone number",
                         called ? called : "");
        return CR_EINVAL;
    }
    if (cr_profile_normalize(p, num.digits, out->called, sizeof out->called, &out->called_rule,
                             trace) != CR_OK)
        return CR_EINVAL;
    out->callee = cr_user_by_number(c, rt, out->called, num.ext);
    if (!out->callee)
        out->workflow = cr_config_workflow_by_number(c, out->called, num.ext);
    if (trace && out->workflow)
        cr_trace_add(trace, "called %s: workflow '%s' (%s)", out->called, out->workflow->name,
                     out->workflow->uri);
    else if (trace)
        cr_trace_add(trace, "called %s: %s", out->called,
                     out->callee ? out->callee->uri : "no such user");
    cr_number from;
    if (!calling || cr_number_parse(calling, &from) != CR_OK || !from.dialable) {
        if (trace)
            cr_trace_add(trace, "calling number '%.100s' left as is", calling ? calling : "");
        return CR_OK;
    }
    if (strcasecmp(from.context, "enterprise") == 0) {
        /* already marked as a private number: not normalized again */
        snprintf(out->calling, sizeof out->calling, "%s", from.digits);
        if (trace)
            cr_trace_add(trace, "calling %s already has phone-context=enterprise", from.digits);
        return CR_OK;
    }
    if (cr_profile_normalize(p, from.digits, out->calling, sizeof out->calling, &out->calling_rule,
                             trace) != CR_OK)
        return CR_OK;
    if (!out->calling[0] || (out->calling[0] == '+' && !out->calling[1])) {
        /* a rule left nothing, or '+' and no digit: the calling number as it came */
        if (trace)
            cr_trace_add(trace, "calling %s: rule '%s' translates it to %s, kept as is",
                         from.digits, out->calling_rule ? out->calling_rule->name : "",
                         out->calling[0] ? "'+' and no digit" : "an empty number");
        snprintf(out->calling, sizeof out->calling, "%s", from.digits);
        out->calling_rule = NULL;
    }
    if (!ce_is_e164(out->calling)) {
        const char *domain = NULL;
        const char *to = out->callee ? out->callee->uri : out->workflow ? out->workflow->uri : NULL;
        if (to) {
            domain = strchr(to, '@');
            domain = domain ? domain + 1 : NULL;
        }
        if (!domain && c->ndomains)
            domain = c->domains[0];
        if (domain)
            snprintf(out->pai, sizeof out->pai, "<sip:%s;phone-context=enterprise@%s;user=phone>",
                     out->calling, domain);
        else
            snprintf(out->pai, sizeof out->pai, "<tel:%s;phone-context=enterprise>", out->calling);
        if (trace)
            cr_trace_add(trace, "calling %s is not E.164: P-Asserted-Identity %s", out->calling,
                         out->pai);
    }
    return CR_OK;
}
