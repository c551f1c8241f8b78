/*
 * The library's handle: the configuration as an immutable snapshot, swapped atomically on
 * reload, plus runtime state shared between the host's processes (gateway up/down,
 * load-spreading counter, reload generation).
 */
#ifndef CRP_HANDLE_H
#define CRP_HANDLE_H

#include "callroute.h"
#include "cr_engine.h"
#include "cr_xml.h"

#include <pthread.h>
#include <stdatomic.h>

#define CRP_GW_SLOTS     4096
#define CRP_NAME_MAX     96
#define CRP_SHARED_MAGIC 0x43525348u /* "CRSH" */

typedef struct crp_gw_slot {
    _Atomic uint64_t hash; /* 0 = free */
    char name[CRP_NAME_MAX];
    _Atomic int64_t down_until_ms; /* 0 = never failed */
    _Atomic int64_t down_since_ms;
    _Atomic uint32_t failures;
    /* gateway health (gateways.c) */
    _Atomic uint32_t consecutive; /* failures in a row since the last answer */
    _Atomic int32_t reason;       /* CRP_GW_R_*: why down_until_ms was set */
    _Atomic int32_t manual;       /* CRP_GW_AUTO / CRP_GW_UP / CRP_GW_DOWN (operator) */
    _Atomic int32_t probe_down;   /* 1: the last OPTIONS probe got no useful answer */
    _Atomic int64_t probe_since_ms;
    _Atomic int32_t calls; /* calls holding a port now (every process) */
} crp_gw_slot;

enum { CRP_GW_AUTO = 0, CRP_GW_UP = 1, CRP_GW_DOWN = 2 };
enum {
    CRP_GW_R_NONE = 0,
    CRP_GW_R_FAILED,      /* gateway_failed: held down by the host */
    CRP_GW_R_TIMEOUT,     /* 408 / no answer in time */
    CRP_GW_R_RETRY_AFTER, /* 503 with Retry-After */
    CRP_GW_R_THRESHOLD,   /* N failures in a row */
};

/* Load-spreading counter of one route (keyed by the hash of its name). */
#define CRP_ROUTE_SLOTS 8192
typedef struct crp_route_slot {
    _Atomic uint64_t hash; /* 0 = free */
    _Atomic uint32_t counter;
} crp_route_slot;

/* A call holding a port of a gateway: Call-ID hash -> gateway slot. */
#define CRP_CALL_SLOTS 32768
typedef struct crp_call_slot {
    _Atomic uint64_t hash; /* 0 = free, 1 = being written */
    _Atomic int32_t gw;    /* index in crp_shared.gw */
} crp_call_slot;

#define CRP_PROC_SLOTS    512
#define CRP_PLAN_PATH_MAX 256

/* A process following reloads: which move of the admin's image (inplace_move) it acknowledged. */
typedef struct crp_proc_slot {
    _Atomic int32_t pid;    /* 0 = free */
    _Atomic uint64_t moved; /* the last crp_shared.plan_move it acknowledged */
} crp_proc_slot;

/* Lives in memory the host may share between processes: plain data and atomics only. */
typedef struct crp_shared {
    _Atomic uint32_t magic;
    _Atomic uint64_t generation; /* bumped by every successful reload */
    _Atomic uint32_t spread;
    _Atomic int64_t started_ms;
    crp_gw_slot gw[CRP_GW_SLOTS];
    crp_proc_slot procs[CRP_PROC_SLOTS];
    crp_route_slot routes[CRP_ROUTE_SLOTS];
    crp_call_slot calls[CRP_CALL_SLOTS];
    /* The published plan (multi-process hosts): the image every process adopts, written by
     * the process that loaded and validated it (handle.c, "publishing plans"). The record is
     * read and written under plan_lock (the pid of its holder, 0 = free). */
    _Atomic int32_t plan_lock;
    _Atomic int32_t plan_owner; /* pid in the image files' names: the block's first opener */
    _Atomic uint64_t plan_gen;  /* generation of the published image; plan_path "" = none */
    _Atomic uint64_t plan_checksum;
    /* plan_path is the admin's own image, read in place under the publisher's lease: never
     * unlinked; plan_move is bumped when the processes must move to its copy (handle.c) */
    _Atomic uint32_t plan_borrowed;
    _Atomic uint64_t plan_move;
    /* bumped, and its sleepers woken (a futex every process shares), whenever generation or
     * plan_move changes or a watcher is stopped: the watchers sleep on it (handle.c) */
    _Atomic uint32_t wake;
    char plan_path[CRP_PLAN_PATH_MAX];
} crp_shared;

typedef struct crp_snapshot {
    cr_config *cfg;
} crp_snapshot;

struct cr_handle {
    char *path;
    _Atomic(crp_snapshot *) cur;
    /* Readers announce themselves in the counter of the current epoch (see handle.c). */
    _Atomic uint64_t epoch;
    _Atomic long readers[2];
    pthread_mutex_t reload_lock;
    crp_shared *shared;
    bool own_shared;
    int holdoff_s;
    int fail_threshold;      /* failures in a row that hold a gateway down (gateways.c) */
    unsigned rgs_max_wait_s; /* cr_open_options.rgs_max_wait_s; 0 = unknown */
    char *db_path;
    char **include_dirs; /* NULL-terminated copy of cr_open_options.include_dirs, or NULL */
    /* The shared generation the current snapshot was built for. */
    _Atomic uint64_t generation;
    /* Multi-process hosts (shared memory given): a watcher thread of the deciding process
     * follows other processes' reloads off the decision path. */
    bool follow;
    _Atomic int watcher_pid; /* process whose watcher runs, 0 = none */
    pthread_t watcher;
    _Atomic bool stop;
    crp_proc_slot *slot;
    int32_t opener; /* the process that opened it (a forked child inherits the handle) */
};

/* cr_open_options.rgs_max_wait_s of `opts` (0 when absent, negative or an older host). */
unsigned crp_rgs_max_wait(const cr_open_options *opts);

const cr_host *crp_host(void);
int64_t crp_now_ms(void);
void crp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens a handle on `path`; errors as "file:line: error: ..." lines into err. */
int crp_handle_open(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                    size_t errlen);
int crp_handle_reload(cr_handle *h, const char *path, char *err, size_t errlen);
/* ABI 1.10 preload / preload_drop: the plan image read ahead of the first open (handle.c). */
int crp_handle_preload(const char *path, const cr_open_options *opts, char *err, size_t errlen);
void crp_handle_preload_drop(void);
/* The plan this process inherited stops mapping its image until open() takes it back. */
void crp_handle_park(void);
/* ABI 1.12 hold_threads: no thread of the library's starts in this process until 0. */
void crp_handle_hold_threads(int on);
void crp_handle_close(cr_handle *h);
const char *crp_handle_path(const cr_handle *h);

/* Pins the current snapshot for one decision; release with crp_snapshot_release(h, token).
 * Follows a reload done by another process first (shared generation). */
const crp_snapshot *crp_snapshot_acquire(cr_handle *h, int *token);
void crp_snapshot_release(cr_handle *h, int token);

/* Runtime for decisions over this handle; `down`/`ndown` add per-call down gateways. */
#define CRP_FRESH_ROUTES 32
typedef struct crp_runtime_ud {
    cr_handle *h;
    const char *const *down;
    size_t ndown;
    int64_t now;
    /* CR_ROUTE_FRESH_SPREAD: this decision's own counters, from zero (the shared ones are
     * left alone) */
    bool fresh;
    uint32_t fresh_spread, nfresh;
    struct {
        uint64_t hash;
        uint32_t counter;
    } fresh_routes[CRP_FRESH_ROUTES];
} crp_runtime_ud;
void crp_runtime_init(cr_runtime *rt, crp_runtime_ud *ud);

int crp_gateway_failed(cr_handle *h, const char *name);
/* cr_open_options.gateway_fail_threshold, or the default (3). */
int crp_gw_threshold(const cr_open_options *opts);
crp_gw_slot *crp_gw_slot_find(crp_shared *s, const char *name, bool create);
/* Gateway health and capacity (gateways.c; see callroute.h, ABI 1.6). */
int crp_gateway_result(cr_handle *h, const char *name, int code, int retry_after_s);
int crp_gateway_result_ex(cr_handle *h, const char *name, int code, int retry_after_s);
int crp_gateway_set_state(cr_handle *h, const char *name, int state);
int crp_gateway_probe(cr_handle *h, const char *name, int up);
int crp_gateway_call(cr_handle *h, const char *name, const char *call_id);
int crp_gateway_call_end(cr_handle *h, const char *call_id);
/* The state of slot g (may be NULL) at now: "up", "down" or "full" (ports all held), and why
 * ("" when up). */
const char *crp_gw_state(const crp_gw_slot *g, const cr_gateway *gw, int64_t now,
                         const char **reason);

/* Loads and compiles a file, collecting diagnostics as lines into err. */
int crp_load(const char *path, cr_config **out, cr_diag *diag);
/* crp_load with load options (include directories); `opts` may be NULL. */
int crp_load_ex(const char *path, const cr_load_options *opts, cr_config **out, cr_diag *diag);
/* crp_load_ex that also hands out the response groups it read and checked (*rgs: NULL when the
 * plan declares none; the caller frees it), read in the same walk as the routing model. */
struct cr_rgs_config;
int crp_load_keep(const char *path, const cr_load_options *opts, cr_config **out,
                  struct cr_rgs_config **rgs, cr_diag *diag);
/* The load options of a handle (its include directories). */
cr_load_options crp_handle_load_options(const cr_handle *h);
/* The load options a host's cr_open_options carries (include_dirs; opts may be NULL or a
 * shorter struct from an older host). */
cr_load_options crp_open_load_options(const cr_open_options *opts);
struct cr_rgs_config;
/* The response groups of the handle's current plan (no file read when the plan kept their
 * sources, as every plan loaded from XML or an image does). */
int crp_handle_rgs_load(cr_handle *h, const cr_load_options *lo, struct cr_rgs_config **out,
                        cr_diag *diag);
/* The ABI's compile: validates `config` and writes its plan image to out_path. */
int crp_compile(const char *config, const cr_open_options *opts, const char *out_path, char *err,
                size_t errlen);
void crp_diag_to_text(const cr_diag *d, char *err, size_t errlen, bool errors_only);

#endif
