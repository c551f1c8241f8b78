/* call:ask in C. The Lua version (call_api.lua's M.ask) builds tables of keys, values and
 * phrases on every question and runs a few hundred VM instructions under the count hook;
 * this one checks the options and builds the step's spec without creating a Lua object but
 * the spec and keys strings, keeps what the answer loop needs on its own stack and in its
 * continuation's context across the yields, and builds the speech phrase list only when
 * speech comes.
 *
 * It is a fast path: whatever it does not handle exactly as the Lua version does (any
 * error, a metatable on an options table, a speech table keyed by other than strings, more
 * than ASK_PHRASES_MAX phrases) goes to the Lua version before anything is changed, which
 * then raises the same errors at the same points. The work is charged to the budget in
 * units, like the library functions'. */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "lua_int.h"

#define ASK_PHRASES_MAX 32 /* speech phrases the fast path shows; more go the Lua way */
#define ASK_SPEC_MAX    255
_Static_assert(ASK_SPEC_MAX < LIVR_ASK_KEPT_MAX, "a spec fits in its copy");

bool livr_ask_lua_only;

/* The options, by name; their raw values, then their checked ones, sit at S_ARG + A_*. */
enum { A_PROMPT, A_CHOICES, A_SPEECH, A_TIMEOUT, A_RETRIES, A_INVALID, A_NOANSWER, A_N };
static const char *const ask_names[A_N] = {"prompt",  "choices", "speech",  "timeout",
                                           "retries", "invalid", "noanswer"};
static const size_t ask_lens[A_N] = {6, 7, 6, 7, 7, 7, 8};
_Static_assert(A_N == sizeof((cr_lua_ivr *)0)->ask_name / sizeof(void *), "one per option");

/* Upvalues of api_ask. */
#define U_LUA_ASK lua_upvalueindex(1) /* the Lua version */
#define U_SPEECH  lua_upvalueindex(2) /* its speech matcher: (options, text) -> value */
#define U_CALL_MT lua_upvalueindex(3) /* the call object's metatable */
#define U_AHEAD   lua_upvalueindex(4) /* "ahead" and "speech": the private table's keys */
#define U_SPOKEN  lua_upvalueindex(5)
#define U_EMPTY   lua_upvalueindex(6) /* "": pushing it costs no string lookup */
#define U_SPEC    lua_upvalueindex(7) /* the last question's spec and keys strings */
#define U_KEYS    lua_upvalueindex(8)
/* 9..: the option names (ask_names), held for v->ask_name, then the DTMF keys (dtmf_keys)
 * for v->ask_dtmf */
static const char dtmf_names[12] = "0123456789*#";

/* Stack of the C function, kept across its yields. An option left out stays nil (a prompt
 * then reads as "", timeout and retries as their defaults). */
#define S_SELF   1
#define S_OPT    2
#define S_PRIV   3
#define S_ARG    4
#define S_SPEC   (S_ARG + A_N) /* "keys=1,2 speech=..." */
#define S_KEYS   (S_SPEC + 1)  /* the keys, sorted, one character each, then each one's place */
#define S_VALUES (S_KEYS + 1)  /* their values, in the choices table's order */

#define ASK_TIMEOUT_MS 5000 /* defaults of the options */
#define ASK_RETRIES    2

/* What the answer loop needs that is not on the stack, as the continuation's context: the
 * phase it resumes in, the attempt, the number of keys and retries, which of `invalid` and
 * `noanswer` has a prompt, and whether a timeout was given. */
enum { P_START, P_COLLECT, P_PLAY };
#define Q_PHASE(q)   ((int)((q)&3))
#define Q_ATTEMPT(q) ((int)(((q) >> 2) & 15))
#define Q_NKEYS(q)   ((int)(((q) >> 6) & 15))
#define Q_RETRIES(q) ((int)(((q) >> 10) & 15))
#define Q_INVALID    (1 << 14)
#define Q_NOANSWER   (1 << 15)
#define Q_TIMEOUT    (1 << 16) /* given: S_ARG + A_TIMEOUT holds it in ms */
#define Q_WITH(q, attempt, phase)                                                                  \
    (((q) & ~(lua_KContext)63) | (lua_KContext)(attempt) << 2 | (phase))

typedef struct phrase {
    const char *s; /* held by an options table, which outlives the question */
    size_t len;
} phrase;

typedef struct ask_plan {
    char keys[13];
    bool key_int[12];     /* the choice's key is an integer (else a string) */
    unsigned char at[12]; /* where the key's value sits in the table's order (read_choices) */
    int nkeys;
    phrase shown[ASK_PHRASES_MAX];
    int nshown;
    int nphrases;
    char spec[ASK_SPEC_MAX + 1];
    size_t speclen;
} ask_plan;

/* Lua's string order (lvm.c l_strcmp: strcoll, piecewise over embedded zeros). */
static int coll_cmp(const char *l, size_t ll, const char *r, size_t lr)
{
    for (;;) {
        int t = strcoll(l, r);
        if (t != 0)
            return t;
        size_t len = strlen(l);
        if (len == lr)
            return len == ll ? 0 : 1;
        if (len == ll)
            return -1;
        len++;
        l += len, ll -= len, r += len, lr -= len;
    }
}

static bool plain_table(lua_State *L, int i)
{
    if (lua_type(L, i) != LUA_TTABLE)
        return false;
    if (!lua_getmetatable(L, i))
        return true;
    lua_pop(L, 1);
    return false;
}

/* Reads the options into S_ARG + A_* (the stack is set to nil up to S_VALUES first), a bit
 * (1 << A_*) in *set for each one given: the checks skip the others without a look at the
 * stack. False on an unknown or non-string key. */
static bool read_options(lua_State *L, cr_lua_ivr *v, int *count, unsigned *set)
{
    lua_settop(L, S_VALUES - 1);
    size_t slots = livr_table_slots(L, S_OPT);
    lua_pushnil(L);
    while (lua_next(L, S_OPT)) {
        const void *kp = lua_topointer(L, -2); /* a name's interned string, usually */
        int a = 0;
        while (a < A_N && kp != v->ask_name[a])
            a++;
        if (a == A_N && lua_type(L, -2) == LUA_TSTRING) {
            size_t n;
            const char *k = lua_tolstring(L, -2, &n);
            for (a = 0; a < A_N; a++)
                if (k[0] == ask_names[a][0] && n == ask_lens[a] && memcmp(k, ask_names[a], n) == 0)
                    break;
        }
        if (a == A_N) {
            lua_pop(L, 2);
            return false;
        }
        lua_copy(L, -1, S_ARG + a);
        lua_pop(L, 1);
        *set |= 1u << a;
        if ((size_t)++ * count == slots) { /* every slot read: lua_next would find no more */
            lua_pop(L, 1);
            break;
        }
    }
    return true;
}

/* A prompt option: not given (read as "") or a non-empty string. */
static bool check_prompt(lua_State *L, int a, unsigned set)
{
    return !(set & 1u << a) ||
           (lua_type(L, S_ARG + a) == LUA_TSTRING && lua_rawlen(L, S_ARG + a) > 0);
}

/* timeout (seconds, 0 < v <= 3600, default 5) and retries (0..10, default 2): when given,
 * replaced by the integers the Lua version computes (ms, count); nil stays nil. */
static bool check_numbers(lua_State *L, int *retries, unsigned set)
{
    int t = S_ARG + A_TIMEOUT, r = S_ARG + A_RETRIES;
    *retries = ASK_RETRIES;
    if (set & 1u << A_TIMEOUT) {
        if (lua_type(L, t) != LUA_TNUMBER)
            return false;
        lua_Number v = lua_tonumber(L, t);
        if (!(v > 0 && v <= 3600))
            return false;
        /* floor(v * 1000 + 0.5): an integer's product is exact, then the sum a float */
        lua_Number x =
            lua_isinteger(L, t) ? (lua_Number)(lua_tointeger(L, t) * 1000) + 0.5 : v * 1000 + 0.5;
        lua_pushinteger(L, (lua_Integer)floor(x));
        lua_replace(L, t);
    }
    if (set & 1u << A_RETRIES) {
        if (lua_type(L, r) != LUA_TNUMBER)
            return false;
        lua_Number v = lua_tonumber(L, r);
        if (v != floor(v) || v < 0 || v > 10)
            return false;
        *retries = (int)v;
    }
    return true;
}

/* The choices' keys: single DTMF keys (a one-character string or an integer 0-9), no two
 * alike, sorted in Lua's string order. Their values are left on the stack from S_VALUES on
 * in the table's order (p->at: each sorted key's place there). */
static bool sort_keys(ask_plan *p);

static bool read_choices(lua_State *L, ask_plan *p, unsigned set)
{
    int ch = S_ARG + A_CHOICES;
    if (!(set & 1u << A_CHOICES))
        return true;
    if (!plain_table(L, ch))
        return false;
    size_t slots = livr_table_slots(L, ch);
    lua_pushnil(L);
    while (lua_next(L, ch)) {
        if (p->nkeys >= 8) /* more than a C function's LUA_MINSTACK: a waiting call's stack
                              grows only for a big menu */
            luaL_checkstack(L, 3, NULL);
        lua_insert(L, -2); /* the value stays; the key goes on */
        char k = 0;
        int t = lua_type(L, -1);
        bool is_int = t == LUA_TNUMBER && lua_isinteger(L, -1);
        if (is_int) {
            lua_Integer n = lua_tointeger(L, -1);
            k = n >= 0 && n <= 9 ? (char)('0' + n) : 0;
        } else if (t == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            k = n == 1 ? s[0] : 0;
        }
        bool dtmf = (k >= '0' && k <= '9') || k == '*' || k == '#';
        if (!dtmf || p->nkeys == 12 || memchr(p->keys, k, p->nkeys))
            return false;
        p->key_int[p->nkeys] = is_int;
        p->at[p->nkeys] = (unsigned char)p->nkeys;
        p->keys[p->nkeys++] = k;
        if ((size_t)p->nkeys == slots) { /* every slot read */
            lua_pop(L, 1);
            break;
        }
    }
    return sort_keys(p);
}

/* Sorts the keys read in Lua's string order (p->at, p->key_int follow); false when two are
 * alike in that order. */
static bool sort_keys(ask_plan *p)
{
    for (int i = 1; i < p->nkeys; i++) /* insertion sort: a dozen keys at most */
        for (int j = i; j > 0; j--) {
            char a[2] = {p->keys[j - 1], 0}, b[2] = {p->keys[j], 0};
            int c = coll_cmp(a, 1, b, 1);
            if (c == 0)
                return false;
            if (c < 0)
                break;
            p->keys[j - 1] = b[0], p->keys[j] = a[0];
            bool t = p->key_int[j - 1];
            p->key_int[j - 1] = p->key_int[j], p->key_int[j] = t;
            unsigned char o = p->at[j - 1];
            p->at[j - 1] = p->at[j], p->at[j] = o;
        }
    return true;
}

/* read_options and read_choices without the API: the options table's nodes and the choices
 * table's slots read in place (livr_table_view), their values put on the stack as the API
 * would. An option is found by its name's interned string, a key by its integer or its
 * one-character string (v->ask_dtmf). False when it cannot tell exactly as they do: the
 * layout is not known, a table has a metatable or more slots than the options or keys it
 * can hold, a key is not one it knows, a key comes twice, choices is not a table. The stack
 * may then hold some values: the caller clears it and reads through the API, which gives
 * the answer (most of these are errors, the Lua version's to raise). */
static bool scan_options(lua_State *L, cr_lua_ivr *v, ask_plan *p, int *count, unsigned *set)
{
    const livr_tv *array;
    const livr_node *node;
    size_t asize, nnodes;
    lua_settop(L, S_VALUES - 1);
    livr_tv *arg = livr_stack_top(L) - (S_VALUES - S_ARG);
    const livr_tv *opt = arg - (S_ARG - S_OPT);
    if (!livr_table_view(opt->v.p, 16, &array, &asize, &node, &nnodes))
        return false;
    for (size_t i = 0; i < asize; i++) /* an integer key: no option's */
        if (!LIVR_TAG_EMPTY(array[i].tt))
            return false;
    for (size_t i = 0; i < nnodes; i++) {
        const livr_node *n = &node[i];
        if (LIVR_TAG_EMPTY(n->tt))
            continue;
        if (n->key_tt != LIVR_TAG_SHRSTR)
            return false;
        int a = 0;
        while (a < A_N && n->key.p != v->ask_name[a])
            a++;
        if (a == A_N)
            return false;
        livr_tv_set(&arg[a], n->v, n->tt);
        *set |= 1u << a;
        ++*count;
    }
    if (!(*set & 1u << A_CHOICES))
        return true;
    const livr_tv *ch = &arg[A_CHOICES];
    if (ch->tt != LIVR_TAG_TABLE || !livr_table_view(ch->v.p, 32, &array, &asize, &node, &nnodes))
        return false;
    int n = 0;        /* the keys, in lua_next's order: the array's, then the nodes' */
    livr_tv vals[12]; /* their values, put on the stack once n is known */
    for (size_t i = 0; i < asize + nnodes; i++) {
        const livr_tv *val = i < asize ? &array[i] : NULL;
        const livr_node *nd = i < asize ? NULL : &node[i - asize];
        if (LIVR_TAG_EMPTY(val ? val->tt : nd->tt))
            continue;
        int k = val && i < 9 ? (int)i + 1 : -1; /* its index in dtmf_names */
        if (nd && nd->key_tt == LIVR_TAG_INT)
            k = nd->key.i >= 0 && nd->key.i <= 9 ? (int)nd->key.i : -1;
        else if (nd && nd->key_tt == LIVR_TAG_SHRSTR)
            for (k = 0; k < 12 && nd->key.p != v->ask_dtmf[k]; k++)
                ;
        if (k < 0 || k > 11 || n == 12 || memchr(p->keys, dtmf_names[k], (size_t)n))
            return false;
        p->key_int[n] = val || nd->key_tt == LIVR_TAG_INT;
        p->at[n] = (unsigned char)n;
        vals[n] = val ? *val : (livr_tv){nd->v, nd->tt};
        p->keys[n++] = dtmf_names[k];
    }
    if (n > 8) /* a big menu's values: the stack grows past LUA_MINSTACK (moving it) */
        luaL_checkstack(L, n, NULL);
    lua_settop(L, S_VALUES - 1 + n);
    livr_tv *out = livr_stack_top(L) - n;
    for (int j = 0; j < n; j++)
        livr_tv_set(&out[j], vals[j].v, vals[j].tt);
    p->nkeys = n;
    return sort_keys(p);
}

/* Adds a phrase to the shown list unless it is there already. */
static bool show(ask_plan *p, const char *s, size_t len)
{
    for (int i = 0; i < p->nshown; i++)
        if (p->shown[i].len == len && memcmp(p->shown[i].s, s, len) == 0)
            return true;
    if (p->nshown == ASK_PHRASES_MAX)
        return false;
    p->shown[p->nshown++] = (phrase){s, len};
    return true;
}

/* A speech entry's phrases (a string or a list of non-empty strings), shown. */
static bool speech_phrases(lua_State *L, ask_plan *p, int ws)
{
    if (lua_type(L, ws) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, ws, &n);
        return n > 0 && ++p->nphrases <= ASK_PHRASES_MAX && show(p, s, n);
    }
    if (!plain_table(L, ws))
        return false;
    for (lua_Integer i = 1;; i++) {
        int t = lua_rawgeti(L, ws, i);
        size_t n = 0;
        const char *s = t == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        lua_pop(L, 1);
        if (t == LUA_TNIL)
            return true;
        if (!s || n == 0 || ++p->nphrases > ASK_PHRASES_MAX || !show(p, s, n))
            return false;
    }
}

/* The speech table's values (its string keys) in Lua's string order, into vals; their
 * number, or -1 when a key is not a string or there are more than ASK_PHRASES_MAX. */
static int speech_values(lua_State *L, int sp, phrase *vals)
{
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, sp)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || n == ASK_PHRASES_MAX) {
            lua_pop(L, 1);
            return -1;
        }
        vals[n].s = lua_tolstring(L, -1, &vals[n].len);
        n++;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int c = coll_cmp(vals[j - 1].s, vals[j - 1].len, vals[j].s, vals[j].len);
            if (c == 0)
                return -1;
            if (c < 0)
                break;
            phrase t = vals[j - 1];
            vals[j - 1] = vals[j], vals[j] = t;
        }
    return n;
}

/* The speech table: its values in Lua's string order, each one's phrases. */
static bool read_speech(lua_State *L, ask_plan *p)
{
    int sp = S_ARG + A_SPEECH;
    if (!plain_table(L, sp))
        return false;
    phrase vals[ASK_PHRASES_MAX];
    int n = speech_values(L, sp, vals);
    if (n < 0)
        return false;
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, vals[i].s, vals[i].len);
        lua_rawget(L, sp);
        bool ok = speech_phrases(L, p, lua_gettop(L));
        lua_pop(L, 1);
        if (!ok)
            return false;
    }
    return true;
}

static void spec_add(ask_plan *p, const char *s, size_t n)
{
    size_t room = ASK_SPEC_MAX - p->speclen;
    if (n > room)
        n = room;
    memcpy(p->spec + p->speclen, s, n);
    p->speclen += n;
}

/* Puts `len` bytes at `s` as a string at stack index `i`: the one kept in upvalue U_SPEC
 * (u 0) or U_KEYS (u 1) when it has them (a question asked again costs no string lookup;
 * v->ask_kept[u] is its copy), which then keeps the new one. */
static void put_kept(lua_State *L, cr_lua_ivr *v, int u, int i, const char *s, size_t len)
{
    int up = u ? U_KEYS : U_SPEC;
    if (len == v->ask_kept_len[u] && memcmp(v->ask_kept[u], s, len) == 0) {
        lua_copy(L, up, i);
        return;
    }
    lua_pushlstring(L, s, len);
    lua_copy(L, -1, up);
    lua_replace(L, i);
    memcpy(v->ask_kept[u], s, len);
    v->ask_kept_len[u] = len;
}

/* Puts the spec at S_SPEC and the keys string at S_KEYS: the sorted keys, then the place of
 * each one's value after S_VALUES (read_choices left them in the table's order). */
static void put_plan(lua_State *L, cr_lua_ivr *v, ask_plan *p)
{
    char *o = p->spec; /* "keys=1,2": 29 bytes at most, the spec's first */
    size_t k = 5;
    memcpy(o, "keys=", 5);
    for (int i = 0; i < p->nkeys; i++) {
        if (i)
            o[k++] = ',';
        o[k++] = p->keys[i];
    }
    p->speclen = k;
    for (int i = 0; i < p->nshown; i++) {
        spec_add(p, i ? "|" : " speech=", i ? 1 : 8);
        spec_add(p, p->shown[i].s, p->shown[i].len);
    }
    char keys[24];
    memcpy(keys, p->keys, (size_t)p->nkeys);
    memcpy(keys + p->nkeys, p->at, (size_t)p->nkeys);
    put_kept(L, v, 0, S_SPEC, p->spec, p->speclen);
    put_kept(L, v, 1, S_KEYS, keys, 2 * (size_t)p->nkeys);
}

/* Checks the options as the Lua version does, without raising. The question's context (the
 * continuation's, see Q_*) when the fast path takes it, the stack then laid out as S_* say;
 * -1 when not. */
static lua_KContext ask_plan_build(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    lcall *c = v->cur;
    /* the running call's own object: its userdata's address (a script makes no light
     * userdata) */
    if (livr_ask_lua_only || !c || L != c->co || lua_touserdata(L, S_SELF) != (void *)c->box ||
        lua_type(L, S_OPT) != LUA_TTABLE)
        return -1;
    lua_getiuservalue(L, S_SELF, 1);
    int noptions = 0, retries;
    unsigned set = 0;
    ask_plan p;
    p.nkeys = p.nshown = p.nphrases = 0;
    p.speclen = 0;
    bool scanned = livr_layout_ok == 1 && scan_options(L, v, &p, &noptions, &set);
    if (scanned) {
        c->ivr->asks_in_place++;
    } else { /* what the scan left on the stack goes: lua_settop does not clear slots */
        lua_settop(L, S_PRIV);
        noptions = 0, set = 0, p.nkeys = 0;
        if (!plain_table(L, S_OPT) || !read_options(L, v, &noptions, &set))
            return -1;
    }
    if (!check_prompt(L, A_PROMPT, set) || !check_prompt(L, A_INVALID, set) ||
        !check_prompt(L, A_NOANSWER, set) || !check_numbers(L, &retries, set) ||
        (!scanned && !read_choices(L, &p, set)))
        return -1;
    bool speech = set & 1u << A_SPEECH;
    for (int i = 0; speech && i < p.nkeys; i++) {
        /* a string value is a phrase too (shown only with a speech table) */
        int vi = S_VALUES + p.at[i];
        size_t n = 0;
        const char *s = lua_type(L, vi) == LUA_TSTRING ? lua_tolstring(L, vi, &n) : NULL;
        if (s && n > 0 && !show(&p, s, n))
            return -1;
    }
    if ((speech && !read_speech(L, &p)) || (p.nkeys == 0 && p.nshown == 0))
        return -1;
    livr_charge(L, 4 + (uint64_t)(noptions + p.nkeys + p.nphrases + p.nshown) +
                       (p.speclen / LIVR_BYTES_PER_UNIT));
    put_plan(L, v, &p);
    return (lua_KContext)p.nkeys << 6 | (lua_KContext)retries << 10 |
           (set & 1u << A_INVALID ? Q_INVALID : 0) | (set & 1u << A_NOANSWER ? Q_NOANSWER : 0) |
           (set & 1u << A_TIMEOUT ? Q_TIMEOUT : 0);
}

/* ---- the answer loop ---------------------------------------------------------------------- */

/* The private table's `ahead` and `speech` are read and written here and by the Lua API
 * (call_api.lua, through priv(), which clears what the call knows of them): c->ahead_none
 * and c->spoken_none say that ahead is "" and speech nil without a look at the table. */

/* The DTMF keys of `text` (n bytes: anything else dropped, a-d upper-cased) into `out`;
 * their number. */
static size_t dtmf_keys(const char *text, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = text[i];
        if ((ch >= '0' && ch <= '9') || ch == '*' || ch == '#' || (ch >= 'A' && ch <= 'D'))
            out[k++] = ch;
        else if (ch >= 'a' && ch <= 'd')
            out[k++] = (char)(ch - 'a' + 'A');
    }
    return k;
}

/* Pushes the DTMF keys of `text` after `prefix`; their number with the prefix. */
static size_t push_dtmf(lua_State *L, const char *prefix, size_t plen, const char *text)
{
    size_t n = text ? strlen(text) : 0;
    livr_charge(L, 1 + (plen + n) / LIVR_BYTES_PER_UNIT);
    char small[64]; /* the usual few keys: no buffer object on the Lua stack */
    luaL_Buffer b;
    char *out = plen + n <= sizeof small ? small : luaL_buffinitsize(L, &b, plen + n);
    memcpy(out, prefix, plen);
    size_t k = plen + dtmf_keys(text, n, out + plen);
    if (out == small)
        lua_pushlstring(L, small, k);
    else
        luaL_pushresultsize(&b, k);
    return k;
}

/* The DTMF keys of an answer's text, charged as push_dtmf: in `small` (64 bytes) when they
 * fit, else pushed as a string. */
static const char *answer_keys(lua_State *L, const char *text, char *small, size_t *len)
{
    size_t n = text ? strlen(text) : 0;
    if (n > 64) {
        push_dtmf(L, "", 0, text);
        return lua_tolstring(L, -1, len);
    }
    livr_charge(L, 1 + n / LIVR_BYTES_PER_UNIT);
    *len = dtmf_keys(text, n, small);
    return small;
}

/* Pushes p.ahead (a string). */
static const char *get_ahead(lua_State *L, lcall *c, size_t *len)
{
    lua_pushvalue(L, U_AHEAD);
    lua_rawget(L, S_PRIV);
    const char *s = lua_tolstring(L, -1, len);
    if (!s) /* never: ahead is always a string */
        s = "", *len = 0;
    c->ahead_none = *len == 0;
    return s;
}

/* p.ahead = the value at the top (popped), `empty` when it is "" */
static void set_ahead(lua_State *L, lcall *c, bool empty)
{
    lua_pushvalue(L, U_AHEAD);
    lua_insert(L, -2);
    lua_rawset(L, S_PRIV);
    c->ahead_none = empty;
}

/* p.speech = the value at the top (popped), `none` when it is nil */
static void set_spoken(lua_State *L, lcall *c, bool none)
{
    lua_pushvalue(L, U_SPOKEN);
    lua_insert(L, -2);
    lua_rawset(L, S_PRIV);
    c->spoken_none = none;
}

/* p.speech when it is set: pushed, and p.speech = nil; false (nothing pushed) when not. */
static bool take_spoken(lua_State *L, lcall *c)
{
    lua_pushvalue(L, U_SPOKEN);
    int t = lua_rawget(L, S_PRIV);
    if (!lua_toboolean(L, -1)) {
        c->spoken_none = t == LUA_TNIL;
        lua_pop(L, 1);
        return false;
    }
    lua_pushnil(L);
    set_spoken(L, c, true);
    return true;
}

/* Takes the first key of the type-ahead `a` (n bytes; p.ahead becomes the rest) and pushes
 * its value, nil when it is none of ours. */
static void take_key(lua_State *L, lcall *c, int nkeys, const char *a, size_t n)
{
    const char *keys = lua_tostring(L, S_KEYS);
    const char *at = n ? memchr(keys, a[0], (size_t)nkeys) : NULL;
    if (n > 1) {
        lua_pushlstring(L, a + 1, n - 1);
        set_ahead(L, c, false);
    } else if (!c->ahead_none) {
        lua_pushvalue(L, U_EMPTY);
        set_ahead(L, c, true);
    }
    if (at)
        lua_pushvalue(L, S_VALUES + (unsigned char)keys[nkeys + (at - keys)]);
    else
        lua_pushnil(L);
}

/* ---- speech ------------------------------------------------------------------------------ */

#define NORM_MAX 512 /* a normalized text or phrase longer than this goes the Lua way */

/* norm() of call_api.lua: lower case, punctuation and control characters as spaces, runs of
 * space as one, a space either side (the ctype classes of Lua's patterns). Into out
 * (NORM_MAX bytes); its length, or 0 when it does not fit. */
static size_t norm(const char *s, size_t n, char *out)
{
    size_t k = 0;
    out[k++] = ' ';
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        int ch = tolower((unsigned char)s[i]);
        if (ispunct(ch) || iscntrl(ch))
            ch = ' ';
        if (isspace(ch)) {
            if (space)
                continue;
            space = true;
            ch = ' ';
        } else {
            space = false;
        }
        if (k + 2 > NORM_MAX)
            return 0;
        out[k++] = (char)ch;
    }
    out[k++] = ' ';
    return k;
}

/* What recognize() of call_api.lua keeps: the value found (a stack index, or a string held
 * by the speech table), how many times it changed. */
typedef struct speech_match {
    const char *said;
    size_t saidlen;
    int found;      /* stack index of the value, 0: none or the string below */
    const char *fs; /* found string (a speech table's value) */
    size_t fslen;
    int n;
    uint64_t bytes; /* compared, for the charge */
    bool too_long;
} speech_match;

static bool said_has(speech_match *m, const char *ph, size_t len)
{
    char buf[NORM_MAX];
    size_t k = norm(ph, len, buf);
    if (!k)
        return m->too_long = true, false;
    m->bytes += len + m->saidlen;
    return k <= m->saidlen && memmem(m->said, m->saidlen, buf, k) != NULL;
}

/* A phrase of the value at stack index `vi` (or, vi == 0, the string vs): counts as
 * recognize() does (`found ~= value`, raw: the caller took care of metamethods). */
static void match_phrase(lua_State *L, speech_match *m, const char *ph, size_t len, int vi,
                         const char *vs, size_t vslen)
{
    if (!said_has(m, ph, len))
        return;
    bool same;
    if (m->n == 0)
        same = false;
    else if (m->found && vi)
        same = lua_rawequal(L, m->found, vi);
    else if (m->found || vi) { /* a string value against a stack one */
        int i = m->found ? m->found : vi;
        const char *s = m->found ? vs : m->fs;
        size_t sl = m->found ? vslen : m->fslen, l;
        const char *t = lua_type(L, i) == LUA_TSTRING ? lua_tolstring(L, i, &l) : NULL;
        same = t && l == sl && memcmp(t, s, l) == 0;
    } else {
        same = m->fslen == vslen && memcmp(m->fs, vs, vslen) == 0;
    }
    if (!same) {
        m->found = vi, m->fs = vs, m->fslen = vslen;
        m->n++;
    }
}

/* The value an utterance (at `text`) names, pushed (nil when none or several): the phrases
 * of call_api.lua's phrases_of, in its order, matched as recognize() does, without building
 * a list or a string. False (nothing pushed) when it cannot tell exactly that way: a value
 * that is a table or userdata (`~=` may call __eq), a text or phrase too long. */
static bool match_speech(lua_State *L, int text, int nkeys)
{
    static const char *const say[12] = {"zero", "one",   "two",   "three", "four", "five",
                                        "six",  "seven", "eight", "nine",  "star", "pound"};
    const char *keys = lua_tostring(L, S_KEYS);
    for (int i = 0; i < nkeys; i++) {
        int t = lua_type(L, S_VALUES + i);
        if (t == LUA_TTABLE || t == LUA_TUSERDATA)
            return false;
    }
    size_t tl = 0;
    const char *ts = lua_type(L, text) == LUA_TSTRING ? lua_tolstring(L, text, &tl) : "";
    char said[NORM_MAX];
    speech_match m = {said, norm(ts, tl, said), 0, NULL, 0, 0, 0, false};
    if (!m.saidlen)
        return false;
    int sp = S_ARG + A_SPEECH;
    bool speech = !lua_isnil(L, sp);
    for (int i = 0; i < nkeys; i++) {
        int vi = S_VALUES + (unsigned char)keys[nkeys + i];
        const char *k = keys + i;
        match_phrase(L, &m, k, 1, vi, NULL, 0);
        const char *name = say[*k == '*' ? 10 : *k == '#' ? 11 : *k - '0'];
        match_phrase(L, &m, name, strlen(name), vi, NULL, 0);
        size_t vl;
        if (lua_type(L, vi) == LUA_TSTRING && (lua_tolstring(L, vi, &vl), vl > 0))
            match_phrase(L, &m, lua_tostring(L, vi), vl, vi, NULL, 0);
    }
    if (speech) {
        phrase vals[ASK_PHRASES_MAX];
        int n = speech_values(L, sp, vals);
        if (n < 0) /* checked when asked: never */
            return false;
        int base = lua_gettop(L);
        luaL_checkstack(L, n + 4, NULL);
        lua_settop(L, base + n);
        lua_pushnil(L); /* each value's phrases into its sorted place */
        while (lua_next(L, sp)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            for (int i = 0; k && i < n; i++)
                if (vals[i].s == k) {
                    lua_copy(L, -1, base + 1 + i);
                    break;
                }
            lua_pop(L, 1);
        }
        for (int i = 0; i < n; i++) {
            int ws = base + 1 + i;
            size_t l;
            if (lua_type(L, ws) == LUA_TSTRING) {
                const char *s = lua_tolstring(L, ws, &l);
                match_phrase(L, &m, s, l, 0, vals[i].s, vals[i].len);
                continue;
            }
            for (lua_Integer j = 1; lua_rawgeti(L, ws, j) == LUA_TSTRING; j++) {
                const char *s = lua_tolstring(L, -1, &l);
                lua_pop(L, 1);
                match_phrase(L, &m, s, l, 0, vals[i].s, vals[i].len);
            }
            lua_pop(L, 1);
        }
        lua_settop(L, base);
    }
    if (m.too_long)
        return false;
    livr_charge(L, 1 + (uint64_t)nkeys + m.bytes / LIVR_BYTES_PER_UNIT);
    if (m.n != 1)
        lua_pushnil(L);
    else if (m.found)
        lua_pushvalue(L, m.found);
    else
        lua_pushlstring(L, m.fs, m.fslen);
    return true;
}

static int ask_k(lua_State *L, int status, lua_KContext ctx);

/* Hands a step to the engine and yields; the continuation goes on with `phase`. */
static int ask_yield(lua_State *L, lcall *c, lua_KContext q, cr_rgs_ivr_op op, int a, int attempt,
                     int phase)
{
    bool collect = op == CR_RGS_IVR_COLLECT;
    const char *arg = lua_tostring(L, S_ARG + a); /* NULL: no prompt */
    lua_Integer ms = 0;
    if (collect) {
        ms = q & Q_TIMEOUT ? lua_tointeger(L, S_ARG + A_TIMEOUT) : ASK_TIMEOUT_MS;
    }
    livr_step_wait(L, c, op, collect ? "collect" : "play", arg ? arg : "",
                   collect ? lua_tostring(L, S_SPEC) : "", ms);
    return lua_yieldk(L, 0, Q_WITH(q, attempt, phase), ask_k);
}

/* Runs the question (context q) from its attempt on, resumed in its phase (P_START: nothing
 * to read). */
static int ask_run(lua_State *L, lua_KContext q)
{
    lcall *c = livr_of(L)->cur;
    int nkeys = Q_NKEYS(q), attempt = Q_ATTEMPT(q), phase = Q_PHASE(q);
    int base = S_VALUES + nkeys - 1;
    const char *kind = c->in_kind;
    lua_settop(L, base);
    if (phase == P_PLAY) { /* barge-in: kept for the next question */
        if (kind[0] == 'd') {
            size_t n;
            const char *a = get_ahead(L, c, &n);
            size_t k = push_dtmf(L, a, n, c->in_text);
            set_ahead(L, c, k == 0);
        } else if (kind[0] == 's') {
            lua_pushstring(L, c->in_text);
            set_spoken(L, c, c->in_text == NULL);
        }
        lua_settop(L, base);
        if (++attempt > Q_RETRIES(q))
            return lua_pushnil(L), 1;
        phase = P_START;
    }
    for (;;) {
        size_t n = 0;
        const char *a = NULL;
        char small[64];
        if (phase == P_COLLECT) {
            if (kind[0] == 'd')
                a = answer_keys(L, c->in_text, small, &n);
            else
                lua_pushstring(L, c->in_text); /* the speech text, or nil */
        } else if (!c->ahead_none && (a = get_ahead(L, c, &n), n > 0)) {
            kind = "dtmf";
        } else if (lua_settop(L, base), !c->spoken_none && take_spoken(L, c)) {
            kind = "speech";
        } else {
            return ask_yield(L, c, q, CR_RGS_IVR_COLLECT, A_PROMPT, attempt, P_COLLECT);
        }
        phase = P_START;
        if (kind[0] == 'd') {
            take_key(L, c, nkeys, a, n);
        } else if (kind[0] == 's') {
            int text = lua_gettop(L);
            if (match_speech(L, text, nkeys))
                ;
            else { /* the Lua version's phrases and match */
                lua_pushvalue(L, U_SPEECH);
                lua_pushvalue(L, S_OPT);
                lua_pushvalue(L, text);
                lua_call(L, 2, 1);
            }
        } else {
            lua_pushnil(L);
        }
        if (!lua_isnil(L, -1))
            return 1;
        if (!c->ahead_none) {
            lua_pushvalue(L, U_EMPTY);
            set_ahead(L, c, true);
        }
        lua_settop(L, base);
        bool noanswer = kind[0] == 't';
        if (q & (noanswer ? Q_NOANSWER : Q_INVALID))
            return ask_yield(L, c, q, CR_RGS_IVR_PLAY, noanswer ? A_NOANSWER : A_INVALID, attempt,
                             P_PLAY);
        if (++attempt > Q_RETRIES(q))
            return lua_pushnil(L), 1;
        kind = NULL;
    }
}

static int ask_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    livr_charge(L, 1);
    return ask_run(L, ctx);
}

static int ask_lua_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    return 1;
}

/* call:ask{...} (upvalues: U_*). */
static int api_ask(lua_State *L)
{
    lua_settop(L, 2);
    lua_KContext q = ask_plan_build(L);
    if (q >= 0)
        return ask_run(L, q);
    lua_settop(L, 2);
    lua_pushvalue(L, U_LUA_ASK);
    lua_insert(L, 1);
    lua_callk(L, 2, 1, 0, ask_lua_k);
    return ask_lua_k(L, LUA_OK, 0);
}

void livr_ask_register(lua_State *L, int methods, int speech_fn)
{
    lua_getfield(L, methods, "ask");
    lua_pushvalue(L, speech_fn);
    luaL_newmetatable(L, LIVR_CALL_MT); /* filled by livr_api_register */
    lua_pushliteral(L, "ahead");
    lua_pushliteral(L, "speech");
    lua_pushliteral(L, "");
    lua_pushliteral(L, "");
    lua_pushliteral(L, "");
    cr_lua_ivr *v = livr_of(L);
    for (int a = 0; a < A_N; a++) {
        lua_pushstring(L, ask_names[a]);
        v->ask_name[a] = lua_topointer(L, -1);
    }
    for (int k = 0; k < 12; k++) {
        lua_pushlstring(L, dtmf_names + k, 1);
        v->ask_dtmf[k] = lua_topointer(L, -1);
    }
    lua_pushcclosure(L, api_ask, 8 + A_N + 12);
    lua_setfield(L, methods, "ask");
}
