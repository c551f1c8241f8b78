/* Persistence of the engine's state in LMDB: agents (presence, idle since, sign-ins),
 * round-robin positions, and calls waiting in a queue or connected to an agent. Times are
 * stored as Unix milliseconds so that a restarted engine may use another start time.
 *
 * Databases: "agents" (uri -> "presence idle_unix_ms\n" + one signed-in group per line),
 * "groups" (name -> uri of the agent offered last), "calls" (id -> tab-separated record),
 * "meta" ("seq" -> next queue sequence number). */
#define _GNU_SOURCE
#include "rgs_engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include "cr_lmdb.h" /* lmdb.h; liblmdb loaded on first use */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct rgs_store {
    MDB_env *env;
    MDB_dbi agents, groups, calls, meta;
};

static MDB_val val(const char *s, size_t n)
{
    return (MDB_val){n, (void *)s};
}

static int put(MDB_txn *t, MDB_dbi db, const char *k, const char *v, size_t n)
{
    MDB_val key = val(k, strlen(k)), data = val(v, n);
    return mdb_put(t, db, &key, &data, 0);
}

static int del(MDB_txn *t, MDB_dbi db, const char *k)
{
    MDB_val key = val(k, strlen(k));
    int rc = mdb_del(t, db, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A NUL-terminated copy of an LMDB value (static buffer per slot). */
static char *str(const MDB_val *v, char *buf, size_t len)
{
    size_t n = v->mv_size < len - 1 ? v->mv_size : len - 1;
    memcpy(buf, v->mv_data, n);
    buf[n] = 0;
    return buf;
}

static long find_pos(const cr_rgs_group *g, size_t agent)
{
    for (size_t i = 0; i < g->nagents; i++)
        if (g->agents[i] == agent)
            return (long)i;
    return -1;
}

static void load_agent(cr_rgs_engine *e, const char *uri, char *v)
{
    long a = cr_rgs_config_agent_find(e->cfg, uri);
    if (a < 0)
        return;
    rgs_agent *ag = &e->agents[a];
    char *line = strtok(v, "\n");
    int64_t idle;
    int p;
    if (!line || sscanf(line, "%d %" SCNd64, &p, &idle) != 2)
        return;
    ag->presence = (uint8_t)(p >= P_AVAILABLE && p <= P_OFFLINE ? p : P_AVAILABLE);
    ag->idle_since = idle - e->opt.start_unix_ms;
    while ((line = strtok(NULL, "\n"))) {
        long g = cr_rgs_config_group_find(e->cfg, line);
        long pos = g < 0 ? -1 : find_pos(&e->cfg->groups[g], (size_t)a);
        for (size_t i = 0; pos >= 0 && i < ag->ngroups; i++)
            if (ag->groups[i].group == (size_t)g && ag->groups[i].pos == (size_t)pos)
                rgs_set_signed_in(e, (size_t)a, i, true);
    }
}

static void load_group(cr_rgs_engine *e, const char *name, const char *uri)
{
    long g = cr_rgs_config_group_find(e->cfg, name);
    long a = cr_rgs_config_agent_find(e->cfg, uri);
    if (g >= 0 && a >= 0)
        e->groups[g].rr_last = find_pos(&e->cfg->groups[g], (size_t)a);
}

static long workflow_by_name(const cr_rgs_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nworkflows; i++)
        if (strcmp(cfg->workflows[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Forgets a stored call: its key is deleted at the next flush. */
static void drop_call(cr_rgs_engine *e, const char *id)
{
    rgs_call tmp = {.id = (char *)id};
    rgs_mark_call(e, &tmp);
}

/* state seq enter answered on_moh queue agent workflow from to [handle] */
static void load_call(cr_rgs_engine *e, const char *id, char *v)
{
    if (e->opt.flags & CR_RGS_ENGINE_DROP_CALLS) {
        drop_call(e, id);
        return;
    }
    char *f[11];
    int n = 0;
    for (char *p = v; n < 11; n++) {
        f[n] = p;
        p = strchr(p, '\t');
        if (!p) {
            n++;
            break;
        }
        *p++ = 0;
    }
    if (n != 10 && n != 11)
        return;
    long wf = workflow_by_name(e->cfg, f[7]);
    if (wf < 0 || rgs_call_by_id(e, id) >= 0)
        return;
    long q = cr_rgs_config_queue_find(e->cfg, f[5]);
    long a = cr_rgs_config_agent_find(e->cfg, f[6]);
    if ((f[0][0] == 'Q' && q < 0) || (f[0][0] == 'C' && a < 0))
        return;
    uint64_t handle = n == 11 ? strtoull(f[10], NULL, 10) : 0;
    /* a slot handle keeps naming its call, whichever slot the call takes now (call_handles
     * holds it when that is another); the slot handles this engine gives have later
     * generations than every restored one's, so that none equals one of them */
    if ((handle & RGS_SLOT_BIT) && (uint32_t)(handle >> 31) >= e->gen_base)
        e->gen_base = (uint32_t)(handle >> 31) + 1;
    long s = rgs_call_new(e, handle, id, f[8], f[9], wf);
    if (s == -2) /* handle in use (a damaged store): a new one */
        s = rgs_call_new(e, 0, id, f[8], f[9], wf);
    if (s < 0)
        return;
    rgs_call *c = &e->calls[s];
    c->seq = strtoull(f[1], NULL, 10);
    c->enter_ms = strtoll(f[2], NULL, 10) - e->opt.start_unix_ms;
    c->answered = f[3][0] == '1';
    c->on_moh = f[4][0] == '1';
    c->queue = q;
    if (f[0][0] == 'C') {
        c->state = CS_CONNECTED;
        c->agent = a;
        e->agents[a].ncalls++;
        return;
    }
    c->state = CS_QUEUED;
    c->hops = 1;
    rgs_call_round_init(c);
    e->resume_pending = true;
    int timeout = e->cfg->queues[q].timeout_s;
    if (timeout > 0)
        c->th_timeout = rgs_timer_add(e, c->enter_ms + timeout * 1000LL, (size_t)s, T_TIMEOUT,
                                      ++c->tok_timeout);
}

static int by_seq(const void *x, const void *y, void *ud)
{
    const cr_rgs_engine *e = ud;
    uint64_t a = e->calls[*(const long *)x].seq, b = e->calls[*(const long *)y].seq;
    return a < b ? -1 : a > b;
}

/* Links the restored queued calls into their queues in sequence order. */
static void link_queues(cr_rgs_engine *e)
{
    long *v = malloc((e->ncalls + 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        return;
    for (size_t s = 0; s < e->ncalls; s++)
        if (e->calls[s].state == CS_QUEUED)
            v[n++] = (long)s;
    qsort_r(v, n, sizeof *v, by_seq, e);
    for (size_t i = 0; i < n; i++) {
        rgs_call *c = &e->calls[v[i]];
        rgs_queue *q = &e->queues[c->queue];
        c->qprev = q->tail;
        c->qnext = -1;
        if (q->tail >= 0)
            e->calls[q->tail].qnext = v[i];
        else
            q->head = v[i];
        q->tail = v[i];
        q->count++;
    }
    free(v);
}

static int load(cr_rgs_engine *e, MDB_txn *t)
{
    rgs_store *st = e->store;
    MDB_cursor *cur;
    MDB_val k, v;
    char key[1024], buf[65536];
    MDB_dbi dbs[3] = {st->agents, st->groups, st->calls};
    for (int d = 0; d < 3; d++) {
        if (mdb_cursor_open(t, dbs[d], &cur))
            return -1;
        for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
            str(&k, key, sizeof key);
            str(&v, buf, sizeof buf);
            if (d == 0)
                load_agent(e, key, buf);
            else if (d == 1)
                load_group(e, key, buf);
            else
                load_call(e, key, buf);
        }
        mdb_cursor_close(cur);
    }
    k = val("seq", 3);
    if (mdb_get(t, st->meta, &k, &v) == 0)
        e->next_seq = strtoull(str(&v, buf, 64), NULL, 10);
    link_queues(e);
    return 0;
}

int rgs_store_open(cr_rgs_engine *e, const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return CR_EIO;
    }
    const char *why = NULL;
    if (cr_lmdb_load(&why) != 0) {
        snprintf(err, errlen, "%s: %s", dir, why);
        return CR_EIO;
    }
    rgs_store *st = calloc(1, sizeof *st);
    if (!st)
        return CR_ENOMEM;
    e->store = st;
    MDB_txn *t = NULL;
    int rc = mdb_env_create(&st->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(st->env, 8);
    if (!rc)
        rc = mdb_env_set_mapsize(st->env, (size_t)1 << 30);
    if (!rc)
        rc = mdb_env_open(st->env, dir, 0, 0644);
    if (!rc)
        rc = mdb_txn_begin(st->env, NULL, 0, &t);
    if (!rc)
        rc = mdb_dbi_open(t, "agents", MDB_CREATE, &st->agents);
    if (!rc)
        rc = mdb_dbi_open(t, "groups", MDB_CREATE, &st->groups);
    if (!rc)
        rc = mdb_dbi_open(t, "calls", MDB_CREATE, &st->calls);
    if (!rc)
        rc = mdb_dbi_open(t, "meta", MDB_CREATE, &st->meta);
    if (!rc && load(e, t) < 0)
        rc = EIO;
    if (!rc) {
        rc = mdb_txn_commit(t);
        t = NULL;
    }
    if (rc) {
        if (t)
            mdb_txn_abort(t);
        snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
        return CR_EIO;
    }
    /* dropped calls leave the directory now, not at the first event */
    if (e->ndirty_calls && rgs_store_flush(e) < 0) {
        snprintf(err, errlen, "%s: could not drop the stored calls", dir);
        return CR_EIO;
    }
    return CR_OK;
}

void rgs_store_close(cr_rgs_engine *e)
{
    if (!e->store)
        return;
    if (e->store->env)
        mdb_env_close(e->store->env);
    free(e->store);
    e->store = NULL;
}

static int put_agent(cr_rgs_engine *e, MDB_txn *t, size_t a)
{
    const rgs_agent *ag = &e->agents[a];
    char buf[65536];
    size_t off = (size_t)snprintf(buf, sizeof buf, "%d %" PRId64 "\n", ag->presence,
                                  ag->idle_since + e->opt.start_unix_ms);
    for (size_t i = 0; i < ag->ngroups && off < sizeof buf; i++)
        if (e->groups[ag->groups[i].group].signed_in[ag->groups[i].pos])
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\n",
                                    e->cfg->groups[ag->groups[i].group].name);
    if (off >= sizeof buf)
        off = sizeof buf - 1;
    return put(t, e->store->agents, e->cfg->agents[a].uri, buf, off);
}

static int put_call(cr_rgs_engine *e, MDB_txn *t, const char *id)
{
    long s = rgs_call_by_id(e, id);
    const rgs_call *c = s >= 0 ? &e->calls[s] : NULL;
    if (!c || (c->state != CS_QUEUED && c->state != CS_CONNECTED))
        return del(t, e->store->calls, id);
    char buf[8192];
    int n = snprintf(buf, sizeof buf,
                     "%c\t%" PRIu64 "\t%" PRId64 "\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%" PRIu64,
                     c->state == CS_QUEUED ? 'Q' : 'C', c->seq, c->enter_ms + e->opt.start_unix_ms,
                     c->answered, c->on_moh, c->queue >= 0 ? e->cfg->queues[c->queue].name : "",
                     c->agent >= 0 ? e->cfg->agents[c->agent].uri : "",
                     e->cfg->workflows[c->wf].name, rgs_call_from(c), rgs_call_to(c), c->handle);
    if (n < 0 || (size_t)n >= sizeof buf)
        return EINVAL;
    return put(t, e->store->calls, id, buf, (size_t)n);
}

int rgs_store_flush(cr_rgs_engine *e)
{
    if (!e->store)
        return CR_OK;
    if (!e->dirty_agents.n && !e->dirty_groups.n && !e->ndirty_calls)
        return CR_OK;
    MDB_txn *t = NULL;
    int rc = mdb_txn_begin(e->store->env, NULL, 0, &t);
    if (rc)
        t = NULL;
    for (size_t i = 0; i < e->dirty_agents.n; i++) {
        size_t a = e->dirty_agents.v[i];
        e->agents[a].dirty = false;
        if (!rc)
            rc = put_agent(e, t, a);
    }
    for (size_t i = 0; i < e->dirty_groups.n; i++) {
        size_t g = e->dirty_groups.v[i];
        e->groups[g].dirty = false;
        long p = e->groups[g].rr_last;
        const char *uri = p >= 0 ? e->cfg->agents[e->cfg->groups[g].agents[p]].uri : "";
        if (!rc)
            rc = put(t, e->store->groups, e->cfg->groups[g].name, uri, strlen(uri));
    }
    for (size_t i = 0; i < e->ndirty_calls; i++) {
        if (!rc)
            rc = put_call(e, t, e->dirty_calls[i]);
        free(e->dirty_calls[i]);
    }
    char seq[32];
    snprintf(seq, sizeof seq, "%" PRIu64, e->next_seq);
    if (!rc)
        rc = put(t, e->store->meta, "seq", seq, strlen(seq));
    e->dirty_agents.n = e->dirty_groups.n = e->ndirty_calls = 0;
    if (rc) {
        if (t)
            mdb_txn_abort(t);
        return CR_EIO;
    }
    return mdb_txn_commit(t) ? CR_EIO : CR_OK;
}
