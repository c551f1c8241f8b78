/* Internals of the Lua IVR driver, shared by the files of lua/. */
#ifndef CR_LUA_INT_H
#define CR_LUA_INT_H

#include "lua_dl.h" /* Lua's headers; liblua loaded on first use */
#include <sys/types.h>

#include "cr_lua.h"

#define LIVR_HOOK_EVERY 1000 /* instructions between two budget checks */
#define LIVR_PRINT_MAX  100  /* print lines logged per call */
/* Library work is charged to the call's instruction budget in units that cost about what
 * a VM instruction does: one per element, item or matching step, one per this many bytes
 * allocated, copied or compared. */
#define LIVR_BYTES_PER_UNIT 16
/* The largest single allocation a call may make (a string, a table's array or hash part, a
 * stack): it bounds what one VM instruction can cost (comparing two strings, `next` over a
 * table's empty slots), which the count hook only sees as one instruction. */
#define LIVR_OBJECT_MAX (1u << 20)
/* Blocks of up to LIVR_SMALL_MAX bytes are allocated at their class's size (24, 40, 56, ...
 * 248 bytes: what glibc's malloc gives a chunk of 32, 48, ... 256 bytes, so a class costs no
 * more memory than malloc of the exact size) and, when freed, kept on a list per class (at
 * most LIVR_SPARE_MAX bytes in all) for the next block of that class: a script's short-lived
 * tables and strings cost no malloc or free. */
#define LIVR_SMALL_MAX     248u
#define LIVR_SMALL_CLASSES 15u
#define LIVR_SPARE_MAX     (256u << 10)
/* The longest string a call may make. Comparing two strings (==, <) is one VM instruction
 * that reads both up to their first difference, and Lua's string comparison has no
 * metamethod to charge, so their length bounds what that instruction costs: at 16 KiB a
 * loop of comparisons spends the default budget in about a quarter of a second. */
#define LIVR_STRING_MAX (16u << 10)
/* Lua 5.4 allocates a new object with its type (LUA_TSTRING) as the old size; a string's
 * allocation holds its header (TString up to `contents`: 24 bytes on 64-bit), bytes and a
 * NUL. */
#define LIVR_STRING_ALLOC (LIVR_STRING_MAX + 24u + 1u)

/* The longest spec (or keys string) of a question call:ask compares without Lua. */
#define LIVR_ASK_KEPT_MAX 256

/* One script file. Its compiled chunk stays in the registry at `ref`; a reload replaces the
 * ref, and calls in progress keep the old chunk alive on their coroutine's stack. */
typedef struct lscript {
    char *path;
    char *chunkname; /* "@" + file name: what error messages and tracebacks show */
    int ref;         /* LUA_NOREF when it never compiled */
    char err[512];   /* last read or compile error, "" when none */
    int err_line;    /* its line, 0 when none */
    bool stat_ok;
    int64_t mtime_ns;
    off_t size;
    ino_t ino;
} lscript;

/* A key `next` returned for a table (lua_limits.c): a call of next(t, k) with it goes on
 * from where that one stopped. Identity: the table's address, the key's type and value
 * (its address when collectable). */
#define LIVR_NEXT_MARKS 4
typedef struct livr_next_mark {
    const void *t;
    uint64_t key;
    int ktype;
} livr_next_mark;

/* What a call waits for after a blocking step, handed to the resumed coroutine. */
typedef struct lcall {
    cr_lua_ivr *ivr;
    lua_State *co;
    int co_ref, env_ref;
    void **box; /* the call object's userdata (points back here; NULLed at end) */
    const char *id, *from, *to;
    const cr_rgs_workflow *wf;
    long script;
    uint64_t budget; /* instructions left */
    bool exhausted;  /* budget gone: every hook raises again */
    bool api_yield;  /* the last yield came from the call API */
    bool finished;   /* a final step was given */
    bool collect;    /* ran out of memory: collect the garbage when it ends */
    bool timed_out;  /* the time limit ended it (the budget is spent too) */
    bool too_big;    /* the last refused allocation was one object over LIVR_OBJECT_MAX */
    bool too_long;   /* ... or a string over LIVR_STRING_MAX */
    /* Known without a look at the call's private table (lua_ask.c): its `ahead` is "", its
     * `speech` nil. Cleared when the Lua API takes the table (priv). */
    bool ahead_none, spoken_none;
    int prints;
    cr_rgs_ivr_step *step; /* the engine's, during a resume */
    int64_t now_ms, unix_ms;
    int64_t run_ns;                /* wall-clock time its resumes took, up to the current one */
    int64_t resumed_ns;            /* when the current resume began */
    const char *in_kind, *in_text; /* the input being delivered */
    livr_next_mark next_at[LIVR_NEXT_MARKS]; /* where this call's traversals are */
    unsigned next_rr;
} lcall;

struct cr_lua_ivr {
    lua_State *L;
    const cr_rgs_config *cfg;
    cr_lua_options opt;
    cr_rgs_ivr_driver drv;
    size_t mem, peak, limit, call_limit, mark;
    lcall *cur;         /* the call being resumed, or NULL */
    lua_State *running; /* the script coroutine running inside it (NULL: its own) */
    lscript *scripts;
    size_t nscripts;
    long *wf_script; /* per workflow: index into scripts, or -1 */
    size_t calls;
    uint64_t steps, errors;
    uint64_t asks_in_place; /* call:ask questions whose options were read in place */
    uint64_t work;          /* budget units charged to calls: instructions and library work */
    int64_t now_ms;         /* engine time of the last driver call, for log lines */
    clockid_t clock;        /* of the time limit (livr_clock_pick) */
    /* Freed small blocks kept for reuse, one list per size class (livr_alloc). */
    void *spare[LIVR_SMALL_CLASSES];
    size_t spare_bytes;
    /* call:ask (lua_ask.c): its option names (interned strings its closure holds), and a copy
     * of the last question's spec and keys strings (its upvalues), compared without Lua. */
    const void *ask_name[7];
    const void *ask_dtmf[12]; /* the DTMF keys as one-character strings, interned too */
    char ask_kept[2][LIVR_ASK_KEPT_MAX];
    size_t ask_kept_len[2];
};

/* lua_sandbox.c */
/* The clock of the time limit, in ns: v->clock, which livr_clock_pick chooses when the
 * driver opens: the coarse monotonic clock (no TSC read: a few ns, not ~25 on a VM) when its
 * resolution is at most 1 % of the limit, else the monotonic clock. */
int64_t livr_clock_ns(const cr_lua_ivr *v);
void livr_clock_pick(cr_lua_ivr *v);
void *livr_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Frees the small blocks kept for reuse (after lua_close). */
void livr_spare_free(cr_lua_ivr *v);
void livr_hook(lua_State *L, lua_Debug *ar);
/* Charges `units` of work to the running call (none outside a call); raises "instruction
 * budget exceeded" once the call's budget is spent, before the work is done. */
void livr_charge(lua_State *L, uint64_t units);
/* Raises the budget error of the running call (its budget is spent). */
int livr_budget_error(lua_State *L);
/* Builds the read-only base, the per-call environment metatable and the locked string
 * metatable (a lua_CFunction: run it under lua_pcall). */
int livr_sandbox_build(lua_State *L);
/* Pushes a new per-call environment (a table over the base). Raises on memory. */
void livr_env_new(lua_State *L);

/* lua_limits.c: checked versions of the library functions whose work is not bounded by the
 * instructions that call them (string, table, utf8, coroutine, tonumber), installed over the
 * tables at the given stack indices. */
void livr_limits_install(lua_State *L, int base, int str, int tab, int utf, int co);
/* The slots of the table at i (a table): its array part's real size (luaH_realasize) and
 * its hash part's nodes, read from Lua 5.4's Table once its layout was checked; 0 when the
 * layout is not known. */
size_t livr_table_slots(lua_State *L, int i);

/* Lua 5.4's values, tables and stack (lobject.h, lstate.h; the same from 5.4.0 to 5.4.7),
 * read in place where the API would cost more than the work (call:ask's option tables):
 * only once livr_layout_ok says lua_limits.c's check of the liblua in use found this layout
 * on tables, nodes and a thread's stack it built. Readers fall back to the API otherwise. */
typedef union livr_value {
    void *p; /* a collectable object, a light userdata */
    lua_Integer i;
    lua_Number n;
} livr_value;
typedef struct livr_tv { /* TValue, and a stack slot (StackValue) */
    livr_value v;
    unsigned char tt; /* the tag: type (bits 0-3), variant (4-5), collectable (6) */
} livr_tv;
typedef struct livr_node { /* Node: a value, then its key's tag and value */
    livr_value v;
    unsigned char tt, key_tt;
    int next;
    livr_value key;
} livr_node;
typedef struct livr_table { /* Table, up to its metatable */
    void *gcnext;
    unsigned char tt, marked, flags, lsizenode;
    unsigned int alimit; /* the array's size, or (flags bit 7) a hint below it */
    livr_tv *array;
    livr_node *node;
    void *lastfree; /* NULL: no hash part (node is the shared dummy) */
    void *metatable;
} livr_table;
typedef struct livr_thread { /* lua_State, up to its stack's top */
    void *gcnext;
    unsigned char tt, marked, status, allowhook;
    unsigned short nci;
    livr_tv *top; /* the first free slot */
} livr_thread;
#define LIVR_TAG_EMPTY(tt) (((tt)&15) == LUA_TNIL) /* nil, an empty slot, an absent key */
#define LIVR_TAG_INT       3                       /* LUA_VNUMINT */
#define LIVR_TAG_SHRSTR    (LUA_TSTRING | 64)      /* a short (interned) string: by address */
#define LIVR_TAG_TABLE     (LUA_TTABLE | 64)
_Static_assert(sizeof(livr_tv) == 16 && sizeof(livr_node) == 24, "Lua 5.4's on 64 bits");
extern int livr_layout_ok; /* 1: checked; 0: not this layout; -1: not checked yet */

/* The table `t` (a value tagged LIVR_TAG_TABLE) read in place: its array part (the real
 * size, as luaH_realasize) and its nodes (none when it has only the dummy). False when the
 * layout is not known, it has a metatable or more than `max` slots: the caller then goes the
 * API's way, which does what the metatable says and, for a big table, costs no more. */
static inline bool livr_table_view(const void *t, size_t max, const livr_tv **array, size_t *asize,
                                   const livr_node **node, size_t *nnodes)
{
    const livr_table *h = t;
    if (livr_layout_ok != 1 || h->metatable)
        return false;
    size_t a = h->alimit;
    if ((h->flags & 0x80) && (a & (a - 1))) { /* the next power of 2 (a <= max below) */
        if (a > max)
            return false;
        size_t r = 1;
        while (r < a)
            r <<= 1;
        a = r;
    }
    size_t n = h->lastfree ? (size_t)1 << h->lsizenode : 0;
    if (a > max || n > max - a)
        return false;
    *array = h->array, *asize = a, *node = h->node, *nnodes = n;
    return true;
}

/* The first free slot of L's stack (when livr_layout_ok): slot i of a frame whose top is
 * index n sits at livr_stack_top(L) - (n - i + 1). A value is put there as lua_pushvalue
 * puts one (setobj2s: the value and its tag; a stack needs no GC barrier). */
static inline livr_tv *livr_stack_top(lua_State *L)
{
    return ((const livr_thread *)(const void *)L)->top;
}
static inline void livr_tv_set(livr_tv *to, livr_value v, unsigned char tt)
{
    to->v = v;
    to->tt = tt;
}

/* A string position as the string library reads it (negative from the end), 1-based and
 * clamped to 1. */
static inline size_t livr_posrelat(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

/* lua_pattern.c: string.find, match, gmatch and gsub over a matcher that charges every step
 * to the budget (Lua's backtracking matcher with a step counter), into the table at `str`. */
void livr_pattern_install(lua_State *L, int str);

/* lua_api.c */
#define LIVR_CALL_MT "cr.call" /* the call object's metatable, in the registry */
/* Fills the call's step for a blocking call API (play, collect or wait: `api` names it in
 * errors), checking its texts as step arguments (raises), and marks the coming yield as
 * the API's. The caller yields. */
void livr_step_wait(lua_State *L, lcall *c, cr_rgs_ivr_op op, const char *api, const char *arg,
                    const char *choices, lua_Integer timer_ms);
/* Registers the call object's metatable and methods and the `rg` table into the base at
 * the top of the stack (a lua_CFunction's helper; raises on memory). */
void livr_api_register(lua_State *L, int base);
/* Pushes the call object of `c`. */
void livr_call_push(lua_State *L, lcall *c);
extern const char livr_prelude[];
extern const size_t livr_prelude_len;

/* lua_ask.c: call:ask in C over the Lua version (the method `ask` of the table at
 * `methods`), with the Lua speech matcher at `speech_fn`. */
void livr_ask_register(lua_State *L, int methods, int speech_fn);
/* Tests only: every call:ask takes the Lua version (to compare the two). */
extern bool livr_ask_lua_only;

/* lua_ivr.c */
static inline cr_lua_ivr *livr_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}
void livr_logf(cr_lua_ivr *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The script line a call is at (innermost frame of its own script), or 0. */
int livr_script_line(lcall *c, lua_State *L);

#endif
