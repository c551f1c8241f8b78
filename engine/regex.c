/* PCRE2 behind a small interface: JIT compilation, match limits, thread-local match data. */
#include "model.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pcre2_match_context *match_ctx;
static pthread_once_t match_ctx_once = PTHREAD_ONCE_INIT;

static void match_ctx_init(void)
{
    match_ctx = pcre2_match_context_create(NULL);
    if (match_ctx) {
        pcre2_set_match_limit(match_ctx, CR_MATCH_LIMIT);
        pcre2_set_depth_limit(match_ctx, CR_DEPTH_LIMIT);
    }
}

/* One element of a pattern, as re_step reads it. */
enum re_elem {
    RE_PLAIN,     /* one character outside a class */
    RE_ESCAPE,    /* a backslash and the character after it, outside \Q...\E */
    RE_QUOTED,    /* one character inside \Q...\E, or its \E */
    RE_CLASS,     /* the "[" opening a class, with a leading "^" and a leading "]" */
    RE_IN_CLASS,  /* one character inside a class, or a POSIX class "[:digit:]" */
    RE_CLASS_END, /* the "]" closing a class */
};

typedef struct re_scan {
    bool quoted, in_class;
} re_scan;

/* Reads the element at p (not at its end); returns its length and kind in *what. The one
 * reader of pattern syntax here: groups, back-references and class subtraction all use it. */
static size_t re_step(re_scan *st, const char *p, enum re_elem *what)
{
    if (st->quoted) {
        *what = RE_QUOTED;
        if (p[0] == '\\' && p[1] == 'E') {
            st->quoted = false;
            return 2;
        }
        return 1;
    }
    if (p[0] == '\\') {
        *what = RE_ESCAPE;
        st->quoted = p[1] == 'Q';
        return p[1] ? 2 : 1;
    }
    if (st->in_class) {
        *what = RE_IN_CLASS;
        if (p[0] == '[' && p[1] == ':') {
            const char *e = strstr(p + 2, ":]");
            if (e)
                return (size_t)(e + 2 - p);
        }
        if (p[0] == ']') {
            st->in_class = false;
            *what = RE_CLASS_END;
        }
        return 1;
    }
    if (p[0] == '[') {
        size_t n = 1;
        *what = RE_CLASS;
        st->in_class = true;
        if (p[n] == '^')
            n++;
        if (p[n] == ']') /* a leading ']' is a member */
            n++;
        return n;
    }
    *what = RE_PLAIN;
    return 1;
}

/* The groups of a pattern in order of their opening parenthesis (PCRE2's numbering): named
 * or not. Returns the count, -1 when there are more than `max`. */
static int scan_groups(const char *p, bool *named, int max)
{
    re_scan st = {false, false};
    enum re_elem what;
    int n = 0;
    for (size_t len; *p; p += len) {
        len = re_step(&st, p, &what);
        if (what != RE_PLAIN || *p != '(' || p[1] == '*') /* (*VERB) */
            continue;
        bool is_named = false;
        if (p[1] == '?') {
            /* (?<name> (?'name' (?P<name>: named; every other (? form captures nothing */
            const char *q = p[2] == 'P' ? p + 3 : p + 2;
            if (!((q[0] == '<' || q[0] == '\'') && q[1] != '=' && q[1] != '!'))
                continue;
            is_named = true;
        }
        if (n == max)
            return -1;
        named[n++] = is_named;
    }
    return n;
}

int ce_re_group_count(const char *pattern)
{
    bool named[2];
    return pattern ? scan_groups(pattern, named, 2) : -1;
}

/* The length of a numeric back-reference at p (an RE_ESCAPE: \N, \k<N> or \k'N', N from 1
 * to ng), with N in *num; 0 when it is not one. */
static size_t backref_at(const char *p, int ng, int *num)
{
    const char *q = p + 1;
    char close = 0;
    int nd = 0;
    if (q[0] == 'k' && (q[1] == '<' || q[1] == '\'')) {
        close = q[1] == '<' ? '>' : '\'';
        q += 2;
    }
    for (*num = 0; q[nd] >= '0' && q[nd] <= '9' && nd < 3; nd++)
        *num = *num * 10 + (q[nd] - '0');
    if (nd == 0 || q[0] == '0' || *num > ng || (close && q[nd] != close))
        return 0;
    return (size_t)(q + nd - p) + (close ? 1 : 0);
}

/*
 * .NET numbers unnamed groups first, then named ones; PCRE2 numbers all groups left to
 * right. In a pattern with both, a numeric back-reference (\N, \k<N>, \k'N') means .NET's
 * group N: it is rewritten as \g{M}, M being PCRE2's number of that group (translations map
 * their $N the same way: normalize.c). Returns a malloc'd pattern, or NULL when nothing needs
 * rewriting (or on no memory: the pattern then compiles as written).
 */
static char *net_backrefs(const char *pattern)
{
    enum { MAXG = 64 };
    bool named[MAXG];
    int net2pcre[MAXG + 1], ng = scan_groups(pattern, named, MAXG), k = 1, nn = 0, num;
    if (ng <= 0)
        return NULL;
    for (int i = 0; i < ng; i++)
        nn += named[i];
    if (nn == 0 || nn == ng || !strchr(pattern, '\\'))
        return NULL;
    for (int i = 0; i < ng; i++)
        if (!named[i])
            net2pcre[k++] = i + 1;
    for (int i = 0; i < ng; i++)
        if (named[i])
            net2pcre[k++] = i + 1;
    char *out = malloc(strlen(pattern) * 3 + 16), *o = out; /* "\1" -> "\g{64}": x3 at most */
    if (!out)
        return NULL;
    re_scan st = {false, false};
    enum re_elem what;
    bool changed = false;
    for (const char *p = pattern; *p;) {
        size_t len = re_step(&st, p, &what), ref;
        if (what == RE_ESCAPE && !st.in_class && (ref = backref_at(p, ng, &num)) > 0) {
            o += sprintf(o, "\\g{%d}", net2pcre[num]);
            changed |= net2pcre[num] != num;
            p += ref;
            continue;
        }
        memcpy(o, p, len);
        o += len;
        p += len;
    }
    *o = '\0';
    if (!changed) {
        free(out);
        return NULL;
    }
    return out;
}

void *ce_re_compile(const char *pattern, char *err, size_t errlen, size_t *erroffset)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    char *net = net_backrefs(pattern);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(net ? net : pattern), PCRE2_ZERO_TERMINATED, 0,
                                   &code, &off, NULL);
    free(net);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "%s", (const char *)msg);
        *erroffset = off;
        return NULL;
    }
    return re;
}

/* JIT is an optimisation: a platform without it still matches through the interpreter. It is
 * applied by the index builder (route_index.c), which knows which patterns run on every
 * decision: JIT code costs 1-3 KB and ~30 us per pattern, too much for 400,000 routes. */
void ce_re_jit(void *re)
{
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD);
}

/* The code in *slot, compiled from `pattern` the first time it is asked for and published with
 * a compare-and-swap: decisions on many threads may race here, and the loser's copy is freed. */
static const void *re_on_use(void **slot, const char *pattern, bool jit)
{
    void *re = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (re || !pattern)
        return re;
    char err[8];
    size_t off;
    void *fresh = ce_re_compile(pattern, err, sizeof err, &off);
    if (!fresh)
        return NULL;
    if (jit) /* before it is published: JIT compiling code another thread matches with is not safe
              */
        ce_re_jit(fresh);
    if (!__atomic_compare_exchange_n(slot, &re, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        ce_re_free(fresh); /* another thread was first: use its */
        return re;
    }
    return fresh;
}

const void *ce_route_re(const cr_route *r)
{
    return re_on_use((void **)&((cr_route *)r)->re, r->pattern,
                     false); /* the route is otherwise read-only */
}

const void *ce_rule_re(const cr_rule *r)
{
    /* a lazy translation is filled first: a rule PCRE2 decides then gets its code with JIT
     * there (ce_rule_re_jit), as adoption gives it, whichever use comes first (dialing, lint) */
    if (r->xlat && !__atomic_load_n(&r->re, __ATOMIC_ACQUIRE) && !ce_xlat_lazy_filled(r->xlat))
        (void)ce_xlat_is_simple(r->xlat);
    return re_on_use((void **)&((cr_rule *)r)->re, r->pattern, false);
}

const void *ce_rule_re_jit(const cr_rule *r)
{
    return re_on_use((void **)&((cr_rule *)r)->re, r->pattern, true);
}

void ce_re_free(void *re)
{
    pcre2_code_free(re);
}

uint32_t ce_re_capture_count(const void *re)
{
    uint32_t n = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n);
    return n;
}

int ce_re_group_number(const void *re, const char *name)
{
    int n = pcre2_substring_number_from_name((const pcre2_code *)re, (PCRE2_SPTR)name);
    return n > 0 ? n : -1;
}

void ce_re_names(const void *re, void (*fn)(void *ud, const char *name, int num), void *ud)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + i * size;
        fn(ud, (const char *)e + 2, (e[0] << 8) | e[1]);
    }
}

/* Match data per thread, grown for patterns with many groups. Freed at thread exit. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void md_key_init(void)
{
    pthread_key_create(&md_key, md_free);
}

static __thread pcre2_match_data *md;
static __thread uint32_t md_pairs;
static __thread size_t ovec[2 * 256];

/* When the library is unloaded (dlclose), release the shared match context and the unloading
 * thread's match data; other threads' match data go with their thread-exit destructor. */
__attribute__((destructor)) static void regex_unload(void)
{
    pcre2_match_context_free(match_ctx);
    match_ctx = NULL;
    if (md) {
        pthread_setspecific(md_key, NULL);
        pcre2_match_data_free(md);
        md = NULL;
        md_pairs = 0;
    }
}

int ce_re_exec(const void *re, const char *s, size_t n, size_t start, unsigned flags,
               const size_t **ov)
{
    if (!re) /* a pattern compiled on first use that could not be (out of memory) */
        return CR_ENOMEM;
    pthread_once(&match_ctx_once, match_ctx_init);
    /* a yes/no question needs no ovector: any match data does */
    uint32_t need = ov ? ce_re_capture_count(re) + 1 : 1;
    if (need > 256)
        return CR_EINVAL;
    if (!md || md_pairs < need) {
        pthread_once(&md_once, md_key_init);
        uint32_t pairs = need < 64 ? 64 : need;
        pcre2_match_data *nmd = pcre2_match_data_create(pairs, NULL);
        if (!nmd)
            return CR_ENOMEM;
        pcre2_match_data_free(md);
        md = nmd;
        md_pairs = pairs;
        pthread_setspecific(md_key, md);
    }
    uint32_t opts = 0;
    if (flags & CR_RE_PARTIAL)
        opts |= PCRE2_PARTIAL_HARD;
    int rc;
    /* JIT code straight away (pcre2_match's own checks and dispatch cost as much as a short
     * match); patterns without it, and anchoring, which JIT matching does not take, go
     * through pcre2_match */
    if (flags & CR_RE_ANCHORED)
        rc = PCRE2_ERROR_JIT_BADOPTION;
    else
        rc = pcre2_jit_match(re, (PCRE2_SPTR)s, n, start, opts, md, match_ctx);
    if (rc == PCRE2_ERROR_JIT_BADOPTION) {
        if (flags & CR_RE_ANCHORED)
            opts |= PCRE2_ANCHORED;
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, start, opts, md, match_ctx);
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_PARTIAL)
        return CR_RE_PARTIAL_MATCH;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return CR_ELIMIT;
    if (rc < 0)
        return CR_EINVAL;
    if (!ov)
        return 1;
    PCRE2_SIZE *v = pcre2_get_ovector_pointer(md);
    for (uint32_t i = 0; i < need; i++) {
        ovec[2 * i] = v[2 * i] == PCRE2_UNSET ? SIZE_MAX : v[2 * i];
        ovec[2 * i + 1] = v[2 * i + 1] == PCRE2_UNSET ? SIZE_MAX : v[2 * i + 1];
    }
    *ov = ovec;
    return (int)need;
}

int ce_re_test(const void *re, const char *s, size_t n)
{
    /* match data on this thread: ce_re_exec made it, after the shared match context */
    if (__builtin_expect(re != NULL && md != NULL, 1)) {
        int rc = pcre2_jit_match(re, (PCRE2_SPTR)s, n, 0, 0, md, match_ctx);
        if (rc >= 0)
            return 1;
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
    }
    /* the first match on this thread, no JIT code, a limit: ce_re_exec's own way (a match
     * asked again gives the same answer) */
    return ce_re_exec(re, s, n, 0, 0, NULL);
}

/* Offset + 1 of the "-[" of a .NET character-class subtraction ([a-z-[aeiou]]), 0 when the
 * pattern has none. PCRE2 would read "[2-9-[5]]" as the class [2-9-[5] then a literal ']'
 * and never match what the admin meant. */
size_t ce_re_class_subtraction(const char *p)
{
    re_scan st = {false, false};
    enum re_elem what;
    for (const char *s = p; *p;) {
        size_t len = re_step(&st, p, &what);
        if (what == RE_IN_CLASS && p[0] == '-' && p[1] == '[')
            return (size_t)(p - s) + 1;
        p += len;
    }
    return 0;
}
