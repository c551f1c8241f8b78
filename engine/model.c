/* The routing model: building a cr_config, reading it back, diagnostics. */
#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- building ----------------------------------------------------------------------------- */

cr_config *cr_config_new(void)
{
    cr_config *c = calloc(1, sizeof *c);
    return c;
}

/* Arena chunks grow with the configuration (64 KB to 1 MB, then 2 MB huge pages): a
 * 400,000-route plan holds tens of megabytes of strings, which would otherwise cost a malloc
 * header and rounding each. */
#define ARENA_SMALL_MAX ((size_t)1024 * 1024)
void *ce_arena_alloc(cr_config *cfg, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    cr_arena_chunk *k = cfg->arena;
    if (k) /* strings leave the end unaligned */
        k->used = (k->used + align - 1) & ~(align - 1);
    if (k && k->used <= k->cap && k->cap - k->used >= n) {
        void *p = (char *)k->data + k->used;
        k->used += n;
        return p;
    }
    /* a large block gets a chunk of its own, behind the one being filled */
    bool own = n > 16 * 1024 && k;
    size_t cap = own ? n : (k ? k->cap * 2 : 64 * 1024);
    /* past 1 MB, chunks are whole huge pages (cr_table_alloc, header included): decisions read
     * route names and user URIs from here at random, which on 4 KB pages spread over thousands
     * of TLB entries at 400,000 routes */
    bool huge = !own && cap > ARENA_SMALL_MAX && !cfg->small_pages;
    if (huge)
        cap = CR_TABLE_HUGE - sizeof *k;
    if (cap < n)
        cap = n, huge = false;
    /* chunks are mapped, not taken from the heap: interleaved with a parsed document's nodes,
     * they would keep the pages of the freed document resident */
    cr_arena_chunk *nk = NULL;
    if (huge)
        nk = cr_table_alloc(CR_TABLE_HUGE);
    if (!nk) {
        nk = mmap(NULL, sizeof *nk + cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                  0);
        if (nk == MAP_FAILED)
            return NULL;
    }
    nk->cap = cap;
    nk->used = n;
    if (own) {
        nk->next = k->next;
        k->next = nk;
    } else {
        nk->next = k;
        cfg->arena = nk;
    }
    return nk->data;
}

void ce_config_borrow(cr_config *cfg, const void *base, size_t len, void (*release)(void *ud),
                      void *ud)
{
    cfg->borrow_lo = base;
    cfg->borrow_hi = (const char *)base + len;
    cfg->borrow_release = release;
    cfg->borrow_ud = ud;
}

bool ce_config_borrowed(const cr_config *cfg, const void *s)
{
    const char *p = s;
    return p && cfg->borrow_lo && p >= cfg->borrow_lo && p < cfg->borrow_hi;
}

/* Strings are packed byte-aligned: they need no alignment and are most of the arena. A string
 * of the borrowed block (a mapped plan image) is not copied: every process mapping the image
 * shares its pages. */
static char *arena_str(cr_config *cfg, const char *s, size_t n)
{
    if (ce_config_borrowed(cfg, s) && (size_t)(cfg->borrow_hi - s) > n && s[n] == 0)
        return (char *)s;
    cr_arena_chunk *k = cfg->arena;
    char *d;
    if (k && k->cap - k->used >= n + 1) {
        d = (char *)k->data + k->used;
        k->used += n + 1;
    } else if (!(d = ce_arena_alloc(cfg, n + 1))) {
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *cr_config_strdup(cr_config *cfg, const char *s)
{
    return s ? arena_str(cfg, s, strlen(s)) : NULL;
}

const char *cr_config_intern(cr_config *cfg, const char *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < cfg->ninterned; i++)
        if (strcmp(cfg->interned[i], s) == 0)
            return cfg->interned[i];
    if (!CR_GROW(cfg->interned, cfg->ninterned, cfg->capinterned))
        return NULL;
    char *d = cr_config_strdup(cfg, s);
    if (!d)
        return NULL;
    cfg->interned[cfg->ninterned++] = d;
    return d;
}

/* A name of a list, interned: the same usage or gateway name is stored once. The set is
 * dropped by compile. */
static char *intern_name(cr_config *cfg, const char *s)
{
    size_t n = strlen(s);
    if ((cfg->names_n + 1) * 2 > cfg->names_cap) {
        size_t cap = cfg->names_cap ? cfg->names_cap * 2 : 256;
        const char **t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < cfg->names_cap; i++) {
            const char *k = cfg->names_set[i];
            if (!k)
                continue;
            size_t j = ce_hash(k, strlen(k), false) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = k;
        }
        free(cfg->names_set);
        cfg->names_set = t;
        cfg->names_cap = cap;
    }
    size_t j = ce_hash(s, n, false) & (cfg->names_cap - 1);
    for (; cfg->names_set[j]; j = (j + 1) & (cfg->names_cap - 1))
        if (strcmp(cfg->names_set[j], s) == 0)
            return (char *)cfg->names_set[j];
    char *d = arena_str(cfg, s, n);
    if (d) {
        cfg->names_set[j] = d;
        cfg->names_n++;
    }
    return d;
}

/* Grows *arr (of n items, cap capacity) by one zeroed slot; returns false on OOM. */
bool cr_grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (size == 0 || ncap < *cap || ncap > SIZE_MAX / size)
        return false; /* the new size would not fit a size_t */
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return false;
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *arr = p;
    *cap = ncap;
    return true;
}

bool cr_grow_bytes(unsigned char **buf, size_t len, size_t need, size_t *cap, size_t first)
{
    if (need <= *cap - len)
        return true;
    if (len + need < len)
        return false;
    size_t ncap = *cap ? *cap : first;
    while (ncap < len + need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    unsigned char *p = realloc(*buf, ncap);
    if (!p)
        return false;
    *buf = p;
    *cap = ncap;
    return true;
}

void *cr_map_aligned(size_t len, size_t align)
{
    if (len > SIZE_MAX - align)
        return NULL;
    char *m = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    size_t head = (align - (uintptr_t)m % align) % align;
    if (head)
        munmap(m, head);
    munmap(m + head + len, align - head);
    return m + head;
}

void *cr_map_huge(size_t len)
{
    void *m = cr_map_aligned(len, CR_TABLE_HUGE);
#ifdef MADV_HUGEPAGE
    if (m)
        (void)madvise(m, len, MADV_HUGEPAGE); /* advice: a refusal changes nothing */
#endif
    return m;
}

void *cr_map_file(int fd, size_t len, int prot, bool populate)
{
    if (len == 0 || len > SIZE_MAX - CR_TABLE_HUGE) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    /* a 2 MB page of the file can only be mapped by one page-table entry at an address
     * aligned as its offset is: a reservation aligned to CR_TABLE_HUGE, the file over it (an
     * address the kernel picks is aligned for some file systems, not for tmpfs mounted
     * without huge=) */
    long page = sysconf(_SC_PAGESIZE);
    size_t span = page > 0 ? (len + (size_t)page - 1) / (size_t)page * (size_t)page : len;
    char *r = cr_map_aligned(span, CR_TABLE_HUGE); /* whole pages: its tail is unmapped exactly */
    void *m = r ? mmap(r, len, prot, MAP_SHARED | MAP_FIXED, fd, 0) : MAP_FAILED;
    if (m == MAP_FAILED) {
        if (r) /* MAP_FIXED failing may have unmapped part of it already: no harm */
            munmap(r, span);
        /* no aligned room: where the kernel puts it (its errno, when that fails too) */
        return mmap(NULL, len, prot, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    }
#ifdef MADV_HUGEPAGE
    /* before the first fault: a fault in an advised range may take (or read ahead into) a
     * 2 MB folio where the file system or a tmpfs mounted huge=advise allows; the folios
     * already in the page cache are what they are. Advice: a refusal changes nothing. */
    (void)madvise(m, len, MADV_HUGEPAGE);
#endif
    if (!populate)
        return m;
#ifdef MADV_POPULATE_READ
    /* what MAP_POPULATE did, after the advice (MAP_POPULATE faults before madvise can run) */
    if (madvise(m, len, (prot & PROT_WRITE) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
        return m;
#endif
    /* older kernels (before 5.14): a read of every page faults it in */
    for (size_t at = 0; page > 0 && at < len; at += (size_t)page)
        (void)*(volatile const char *)((const char *)m + at);
    return m;
}

#if defined(__SANITIZE_ADDRESS__)
#define CR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CR_ASAN 1
#endif
#endif

#ifdef CR_ASAN
#include <semaphore.h>

/*
 * Under AddressSanitizer a start returns once the new thread runs. The allocator of the
 * AddressSanitizer of GCC 12 and LLVM 14-17 is not fork-safe (LLVM added its fork handlers in
 * 18: llvm/llvm-project#75290): a thread still setting itself up (the runtime allocates and
 * frees for it before it runs fn) when another thread forks can leave an allocator lock held
 * in the child for ever, and the child hangs at its next allocation of that size
 * (llvm/llvm-project#63224; seen here once in 65 runs of abi_plan, which forks right after
 * opening a plan starts the lease's mover thread). glibc's malloc is fork-safe: builds without
 * AddressSanitizer do not wait. This closes the window of a thread's start only: a thread of
 * the library that allocates later (the mover copying the image a second after the start, a
 * watcher following a reload) while its host forks can still hang the child under such an
 * AddressSanitizer, more rarely.
 */
typedef struct thread_start {
    void *(*fn)(void *);
    void *arg;
    sem_t running;
} thread_start;

static void *thread_trampoline(void *p)
{
    thread_start *ts = p;
    void *(*fn)(void *) = ts->fn;
    void *arg = ts->arg;
    sem_post(&ts->running); /* ts is the starter's: not touched after this */
    return fn(arg);
}

static int thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    thread_start ts = {.fn = fn, .arg = arg};
    if (sem_init(&ts.running, 0, 0) != 0)
        return pthread_create(t, NULL, fn, arg);
    int rc = pthread_create(t, NULL, thread_trampoline, &ts);
    while (rc == 0 && sem_wait(&ts.running) != 0)
        ; /* EINTR */
    sem_destroy(&ts.running);
    return rc;
}
#else
static int thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return pthread_create(t, NULL, fn, arg);
}
#endif

int cr_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = thread_create(t, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

size_t cr_table_len(size_t bytes)
{
    return (bytes + CR_TABLE_HUGE - 1) & ~(CR_TABLE_HUGE - 1);
}

void *cr_table_alloc(size_t bytes)
{
    if (bytes >= CR_TABLE_HUGE) {
        if (bytes > SIZE_MAX - CR_TABLE_HUGE)
            return NULL;
        size_t len = cr_table_len(bytes);
        return cr_map_huge(len); /* zero: fresh pages */
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0)
        return NULL;
    memset(p, 0, bytes);
    return p;
}

void cr_table_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes >= CR_TABLE_HUGE)
        munmap(p, cr_table_len(bytes));
    else
        free(p);
}

int cr_config_add_domain(cr_config *cfg, const char *domain, cr_srcloc loc)
{
    (void)loc;
    if (!CR_GROW(cfg->domains, cfg->ndomains, cfg->capdomains))
        return CR_ENOMEM;
    cfg->domains[cfg->ndomains] = cr_config_strdup(cfg, domain);
    if (!cfg->domains[cfg->ndomains])
        return CR_ENOMEM;
    cfg->ndomains++;
    return CR_OK;
}

#define ADD_NAMED(arr, n, cap, field, value, loc_)                                                 \
    do {                                                                                           \
        if (!CR_GROW(arr, n, cap))                                                                 \
            return NULL;                                                                           \
        typeof(&(arr)[0]) o_ = &(arr)[(n)];                                                        \
        memset(o_, 0, sizeof *o_);                                                                 \
        o_->field = cr_config_strdup(cfg, value ? value : "");                                     \
        if (!o_->field)                                                                            \
            return NULL;                                                                           \
        o_->loc = (loc_);                                                                          \
        (n)++;                                                                                     \
        return o_;                                                                                 \
    } while (0)

cr_profile *cr_config_add_profile(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->profiles, cfg->nprofiles, cfg->capprofiles, name, name, loc);
}

cr_rule *cr_profile_add_rule(cr_config *cfg, cr_profile *p, const char *name, cr_srcloc loc)
{
    ADD_NAMED(p->rules, p->nrules, p->caprules, name, name, loc);
}

cr_usage *cr_config_add_usage(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->usages, cfg->nusages, cfg->capusages, name, name, loc);
}

static cr_policy *add_policy(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->policies, cfg->npolicies, cfg->cappolicies, name, name, loc);
}

cr_policy *cr_config_add_policy(cr_config *cfg, const char *name, cr_srcloc loc)
{
    cr_policy *p = add_policy(cfg, name, loc);
    if (p)
        p->simultaneous_ring = p->call_forwarding = p->team_call = p->delegation = true;
    return p;
}

static cr_gateway *add_gateway(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->gateways, cfg->ngateways, cfg->capgateways, name, name, loc);
}

cr_gateway *cr_config_add_gateway(cr_config *cfg, const char *name, cr_srcloc loc)
{
    cr_gateway *g = add_gateway(cfg, name, loc);
    if (g)
        g->profile_idx = -1;
    return g;
}

cr_route *cr_config_add_route(cr_config *cfg, const char *name, cr_srcloc loc)
{
    if (cfg->routes_table || cfg->routes_mapped) /* compiled or adopted: not grown in place */
        return NULL;
    ADD_NAMED(cfg->routes, cfg->nroutes, cfg->caproutes, name, name, loc);
}

static cr_user *add_user(cr_config *cfg, const char *uri, cr_srcloc loc)
{
    ADD_NAMED(cfg->users, cfg->nusers, cfg->capusers, uri, uri, loc);
}

cr_user *cr_config_add_user(cr_config *cfg, const char *uri, cr_srcloc loc)
{
    cr_user *u = add_user(cfg, uri, loc);
    if (u) {
        u->policy_idx = -1;
        u->profile_idx = -1;
    }
    return u;
}

/* While loading, a list owns one block: cap names, then cap source locations. */
int cr_namelist_add(cr_config *cfg, cr_namelist *l, const char *name, cr_srcloc loc)
{
    if (cfg->lists_in_arena)
        return CR_ESTATE;
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 2;
        char **n = realloc(l->names, cap * (sizeof *n + sizeof(cr_srcloc)));
        if (!n)
            return CR_ENOMEM;
        /* the locations move up to their new place after the names */
        memmove(n + cap, n + l->cap, l->count * sizeof(cr_srcloc));
        l->names = n;
        l->cap = cap;
    }
    char *s = intern_name(cfg, name ? name : "");
    if (!s)
        return CR_ENOMEM;
    l->names[l->count] = s;
    ce_namelist_locs(l)[l->count] = loc;
    l->count++;
    return CR_OK;
}

int cr_config_set_default_profile(cr_config *cfg, const char *name, cr_srcloc loc)
{
    free(cfg->default_profile_name);
    cfg->default_profile_name = strdup(name);
    cfg->default_profile_loc = loc;
    return cfg->default_profile_name ? CR_OK : CR_ENOMEM;
}

int cr_config_set_default_policy(cr_config *cfg, const char *name, cr_srcloc loc)
{
    free(cfg->default_policy_name);
    cfg->default_policy_name = strdup(name);
    cfg->default_policy_loc = loc;
    return cfg->default_policy_name ? CR_OK : CR_ENOMEM;
}

int cr_config_set_directory(cr_config *cfg, const char *path, cr_srcloc loc)
{
    free(cfg->directory);
    cfg->directory = strdup(path);
    cfg->directory_loc = loc;
    return cfg->directory ? CR_OK : CR_ENOMEM;
}

const char *cr_config_directory(const cr_config *cfg, cr_srcloc *loc)
{
    if (loc)
        *loc = cfg->directory_loc;
    return cfg->directory;
}

void cr_config_set_source_digest(cr_config *cfg, uint64_t digest)
{
    cfg->source_digest = digest;
}

uint64_t ce_config_source_digest(const cr_config *cfg)
{
    return cfg->source_digest;
}

int cr_config_attach(cr_config *cfg, const char *name, const void *bytes, size_t len)
{
    cr_attachment *a = NULL;
    for (size_t i = 0; i < cfg->nattached && !a; i++)
        if (strcmp(cfg->attached[i].name, name) == 0)
            a = &cfg->attached[i];
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return CR_ENOMEM;
    if (len)
        memcpy(copy, bytes, len);
    if (!a) {
        char *n = strdup(name);
        if (!n || !CR_GROW(cfg->attached, cfg->nattached, cfg->capattached)) {
            free(n);
            free(copy);
            return CR_ENOMEM;
        }
        a = &cfg->attached[cfg->nattached++];
        a->name = n;
        a->bytes = NULL;
    }
    free(a->bytes);
    a->bytes = copy;
    a->len = len;
    return CR_OK;
}

const void *cr_config_attached(const cr_config *cfg, const char *name, size_t *len)
{
    for (size_t i = 0; cfg && i < cfg->nattached; i++)
        if (strcmp(cfg->attached[i].name, name) == 0) {
            *len = cfg->attached[i].len;
            return cfg->attached[i].bytes;
        }
    *len = 0;
    return NULL;
}

bool cr_config_is_compiled(const cr_config *cfg)
{
    return cfg->compiled;
}

void ce_config_drop_attached(cr_config *cfg)
{
    for (size_t i = 0; i < cfg->nattached; i++) {
        free(cfg->attached[i].name);
        free(cfg->attached[i].bytes);
    }
    free(cfg->attached);
    cfg->attached = NULL;
    cfg->nattached = cfg->capattached = 0;
}

/* A compiled configuration's routes move into a table (cr_table_alloc: whole huge pages from
 * CR_TABLE_HUGE bytes on): a decision reads the record of the route it names at random, one
 * TLB miss a decision on 4 KB pages past a few thousand routes. Left on the heap when smaller
 * or when the table cannot be had. */
void cr_config_set_image_only(cr_config *cfg)
{
    if (cfg)
        cfg->small_pages = true;
}

void ce_routes_to_table(cr_config *c)
{
    size_t bytes = c->nroutes * sizeof *c->routes;
    if (c->routes_mapped || c->routes_table || c->small_pages || bytes < CR_TABLE_HUGE)
        return;
    cr_route *t = cr_table_alloc(bytes);
    if (!t)
        return;
    memcpy(t, c->routes, bytes);
    free(c->routes);
    c->routes = t;
    c->caproutes = c->nroutes;
    c->routes_table = true;
}

/* An array of records: malloc'd, or an anonymous mapping of `bytes` (filled on first use). */
static void free_records(void *p, size_t bytes, bool mapped)
{
    if (mapped)
        munmap(p, bytes);
    else
        free(p);
}

void cr_config_free(cr_config *c)
{
    if (!c)
        return;
    ce_config_drop_attached(c);
    ce_compiled_free(c);
    ce_workflows_free(c);
    free(c->domains);
    for (size_t i = 0; i < c->nprofiles; i++)
        free(c->profiles[i].rules);
    free(c->profiles);
    free(c->usages);
    if (!c->lists_in_arena) {
        for (size_t i = 0; i < c->npolicies; i++)
            free(c->policies[i].usages.names);
        for (size_t i = 0; i < c->nroutes; i++) {
            free(c->routes[i].usages.names);
            free(c->routes[i].gateways.names);
        }
        for (size_t i = 0; i < c->nusers; i++) {
            free(c->users[i].team_call.names);
            free(c->users[i].delegates.names);
        }
    }
    free(c->policies);
    free(c->gateways);
    if (c->routes_table)
        cr_table_free(c->routes, c->caproutes * sizeof *c->routes);
    else
        free_records(c->routes, c->caproutes * sizeof *c->routes, c->routes_mapped);
    free((void *)c->route_state);
    free((void *)c->route_done);
    ce_route_src_free(c->route_src);
    free_records(c->users, c->capusers * sizeof *c->users, c->users_mapped);
    free((void *)c->user_state);
    free((void *)c->user_done);
    free(c->default_profile_name);
    free(c->default_policy_name);
    free(c->directory);
    free(c->interned);
    free(c->names_set);
    for (cr_arena_chunk *k = c->arena, *next; k; k = next) {
        next = k->next;
        munmap(k, sizeof *k + k->cap);
    }
    if (c->borrow_release)
        c->borrow_release(c->borrow_ud);
    free(c);
}

void cr_config_abandon(cr_config *c)
{
    if (c && c->borrow_release)
        c->borrow_release(c->borrow_ud);
}

bool cr_config_borrowed_span(const cr_config *c, const void **base, size_t *len)
{
    if (!c || !c->borrow_lo || c->borrow_hi <= c->borrow_lo)
        return false;
    *base = c->borrow_lo;
    *len = (size_t)(c->borrow_hi - c->borrow_lo);
    return true;
}

/* ---- reading ------------------------------------------------------------------------------- */

size_t cr_config_profile_count(const cr_config *c)
{
    return c->nprofiles;
}
const cr_profile *cr_config_profile_at(const cr_config *c, size_t i)
{
    return i < c->nprofiles ? &c->profiles[i] : NULL;
}
const cr_profile *cr_config_profile_find(const cr_config *c, const char *name)
{
    uint32_t i = name ? ce_index_get(&c->profile_ix, name, strlen(name)) : CR_INDEX_NONE;
    return i == CR_INDEX_NONE ? NULL : &c->profiles[i];
}
const cr_profile *cr_config_profile_by_context(const cr_config *c, const char *context)
{
    if (!context || !context[0] || strcasecmp(context, "user-default") == 0)
        return NULL;
    /* the profile of that exact name first; else one whose name differs only in case
     * (names are FQDNs), so "R" and "r" can both be named */
    size_t len = strlen(context);
    uint32_t v = ce_index_get(&c->profile_ix, context, len);
    if (v == CR_INDEX_NONE)
        v = ce_index_get(&c->profile_fold_ix, context, len);
    return v == CR_INDEX_NONE ? NULL : &c->profiles[v];
}
const cr_profile *cr_config_default_profile(const cr_config *c)
{
    return c->default_profile;
}
size_t cr_config_gateway_count(const cr_config *c)
{
    return c->ngateways;
}
const cr_gateway *cr_config_gateway_at(const cr_config *c, size_t i)
{
    return i < c->ngateways ? &c->gateways[i] : NULL;
}
const cr_gateway *cr_config_gateway_find(const cr_config *c, const char *name)
{
    uint32_t i = name ? ce_index_get(&c->gateway_ix, name, strlen(name)) : CR_INDEX_NONE;
    return i == CR_INDEX_NONE ? NULL : &c->gateways[i];
}
size_t cr_config_route_count(const cr_config *c)
{
    return c->nroutes;
}
const cr_route *cr_config_route_at(const cr_config *c, size_t i)
{
    return i < c->nroutes ? ce_route(c, i) : NULL;
}
size_t cr_config_usage_count(const cr_config *c)
{
    return c->nusages;
}
const cr_usage *ce_config_usage_at(const cr_config *c, size_t i)
{
    return i < c->nusages ? &c->usages[i] : NULL;
}
size_t cr_config_policy_count(const cr_config *c)
{
    return c->npolicies;
}
const cr_policy *cr_config_policy_at(const cr_config *c, size_t i)
{
    return i < c->npolicies ? &c->policies[i] : NULL;
}
const cr_policy *cr_config_default_policy(const cr_config *c)
{
    return c->default_policy;
}
void cr_config_mark_response_groups(cr_config *cfg)
{
    cfg->has_response_groups = true;
}

bool cr_config_has_response_groups(const cr_config *cfg)
{
    return cfg->has_response_groups;
}
