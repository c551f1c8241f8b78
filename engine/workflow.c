/*
 * Workflows as call targets: the contact URIs and lines of response groups in the routing
 * model, so that the reverse number lookup (cr_route_decide step 3, inbound calls from
 * gateways) finds a workflow's number like a user's. Built before compile, indexed by it.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

cr_workflow *cr_config_add_workflow(cr_config *cfg, const char *name, cr_srcloc loc)
{
    if (!cfg || cfg->compiled || !CR_GROW(cfg->workflows, cfg->nworkflows, cfg->capworkflows))
        return NULL;
    cr_workflow *w = &cfg->workflows[cfg->nworkflows];
    memset(w, 0, sizeof *w);
    w->name = cr_config_strdup(cfg, name ? name : "");
    if (!w->name)
        return NULL;
    w->loc = loc;
    cfg->nworkflows++;
    return w;
}

size_t cr_config_workflow_count(const cr_config *c)
{
    return c ? c->nworkflows : 0;
}

const cr_workflow *cr_config_workflow_at(const cr_config *c, size_t i)
{
    return c && i < c->nworkflows ? &c->workflows[i] : NULL;
}

/* Index values: the workflow's number, flagged (CR_USER_IX_FLAG) for the bare number of a
 * line with an extension. */
static bool uri_eq(const void *ud, uint32_t v, const char *key, size_t n)
{
    const cr_workflow *w = &((const cr_config *)ud)->workflows[v];
    return w->uri_key && strncmp(w->uri_key, key, n) == 0 && w->uri_key[n] == 0;
}

static bool line_eq(const void *ud, uint32_t v, const char *key, size_t n)
{
    const cr_workflow *w = &((const cr_config *)ud)->workflows[v & CR_USER_IX_MASK];
    const char *k = v & CR_USER_IX_FLAG ? w->line_number : w->line_key;
    return k && strncmp(k, key, n) == 0 && k[n] == 0;
}

/* The number and extension of a "tel:" line into w (arena strings); false when it is none. */
static bool parse_line(cr_config *c, cr_workflow *w)
{
    cr_number num;
    if (strncasecmp(w->line, "tel:", 4) != 0 || cr_number_parse(w->line, &num) != CR_OK ||
        !num.dialable)
        return false;
    char key[CR_NUMBER_MAX + 48];
    int kl = num.ext[0] ? snprintf(key, sizeof key, "%s;ext=%s", num.digits, num.ext)
                        : snprintf(key, sizeof key, "%s", num.digits);
    if (kl < 0 || (size_t)kl >= sizeof key)
        return false;
    w->line_number = cr_config_strdup(c, num.digits);
    w->line_ext = num.ext[0] ? cr_config_strdup(c, num.ext) : NULL;
    w->line_key = cr_config_strdup(c, key);
    return w->line_number && w->line_key && (!num.ext[0] || w->line_ext);
}

/* A second workflow with the same key: the response-group loader reports duplicates as
 * written; here only those written differently ("tel:+1 425..." and "tel:+1425..."). */
static void duplicate(cr_diag *d, const cr_workflow *w, const cr_workflow *first, const char *what,
                      const char *mine, const char *theirs)
{
    if (!mine || !theirs || strcmp(mine, theirs) == 0)
        return;
    char obj[300];
    snprintf(obj, sizeof obj, "workflow '%.250s'", w->name);
    cr_diag_add(d, CR_DIAG_ERROR, w->loc, obj, "%s %s is also the %s of workflow '%s' (%s:%d)",
                what, mine, what, first->name, first->loc.file ? first->loc.file : "",
                first->loc.line);
}

static void index_workflow(cr_config *c, cr_diag *d, size_t i)
{
    cr_workflow *w = &c->workflows[i];
    char obj[300], key[CR_URI_MAX];
    snprintf(obj, sizeof obj, "workflow '%.250s'", w->name);
    size_t kn = w->uri ? cr_uri_key(w->uri, key, sizeof key) : 0;
    if (w->uri && (!kn || !strchr(key, '@'))) {
        cr_diag_add(d, CR_DIAG_ERROR, w->loc, obj, "uri '%s' is not a SIP URI (sip:user@domain)",
                    w->uri);
    } else if (kn) {
        if (!(w->uri_key = cr_config_strdup(c, key))) {
            cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
            return;
        }
        uint32_t prev = ce_index_put(&c->workflow_uri_ix, key, kn, (uint32_t)i);
        if (prev != CR_INDEX_NONE)
            duplicate(d, w, &c->workflows[prev], "uri", w->uri, c->workflows[prev].uri);
    }
    if (!w->line)
        return;
    if (!parse_line(c, w)) {
        cr_diag_add(d, CR_DIAG_ERROR, w->loc, obj,
                    "line '%s' is not a tel: URI with a phone number", w->line);
        return;
    }
    if (!cr_line_ext_ok(w->line)) {
        cr_diag_add(d, CR_DIAG_ERROR, w->loc, obj, "line '%s': ;ext= must be followed by digits",
                    w->line);
        return;
    }
    uint32_t prev =
        ce_index_put(&c->workflow_line_ix, w->line_key, strlen(w->line_key), (uint32_t)i);
    if (prev != CR_INDEX_NONE)
        duplicate(d, w, &c->workflows[prev & CR_USER_IX_MASK], "line", w->line,
                  c->workflows[prev & CR_USER_IX_MASK].line);
    /* the bare number also finds the first workflow with that number */
    if (w->line_ext)
        ce_index_put(&c->workflow_line_ix, w->line_number, strlen(w->line_number),
                     (uint32_t)i | CR_USER_IX_FLAG);
}

void ce_workflows_compile(cr_config *c, cr_diag *d)
{
    if (!c->nworkflows)
        return;
    if (ce_index_init(&c->workflow_uri_ix, c->nworkflows, false, uri_eq, c) != CR_OK ||
        ce_index_init(&c->workflow_line_ix, 2 * c->nworkflows, false, line_eq, c) != CR_OK) {
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->nworkflows; i++)
        index_workflow(c, d, i);
}

void ce_workflows_free(cr_config *c)
{
    ce_index_free(&c->workflow_uri_ix);
    ce_index_free(&c->workflow_line_ix);
    free(c->workflows);
    c->workflows = NULL;
    c->nworkflows = c->capworkflows = 0;
}

const cr_workflow *cr_config_workflow_find(const cr_config *c, const char *uri)
{
    if (!c || !uri || !c->workflow_uri_ix.cap)
        return NULL;
    char key[CR_URI_MAX];
    size_t n = cr_uri_key(uri, key, sizeof key);
    uint32_t i = n ? ce_index_get(&c->workflow_uri_ix, key, n) : CR_INDEX_NONE;
    return i == CR_INDEX_NONE ? NULL : &c->workflows[i];
}

const cr_workflow *cr_config_workflow_by_number(const cr_config *c, const char *number,
                                                const char *ext)
{
    if (!c || !number || !c->workflow_line_ix.cap)
        return NULL;
    uint32_t i = CR_INDEX_NONE;
    size_t nl = strlen(number);
    if (ext && *ext) {
        char key[CR_NUMBER_MAX + 48];
        int kl = snprintf(key, sizeof key, "%s;ext=%s", number, ext);
        if (kl > 0 && (size_t)kl < sizeof key)
            i = ce_index_get(&c->workflow_line_ix, key, (size_t)kl);
    }
    if (i == CR_INDEX_NONE)
        i = ce_index_get(&c->workflow_line_ix, number, nl);
    return i == CR_INDEX_NONE ? NULL : &c->workflows[i & CR_USER_IX_MASK];
}
