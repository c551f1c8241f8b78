/* cr_result: building, reading and rendering answers. */
#include "result.h"
#include "cr_grow.h"
#include "cr_engine.h"
#include "json_esc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cr_result *crp_result_new(const char *type, int kind)
{
    cr_result *r = calloc(1, sizeof *r);
    if (r) {
        r->type = type;
        r->kind = kind;
    }
    return r;
}

static void item_free(ritem *it);

static void list_free(rlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        item_free(&l->items[i]);
    free(l->items);
    free(l);
}

static void item_free(ritem *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->fields[i].key);
        free(it->fields[i].str);
        list_free(it->fields[i].list);
    }
    free(it->fields);
}

void crp_result_free(cr_result *r)
{
    if (!r)
        return;
    item_free(&r->top);
    free(r->text);
    free(r);
}

static rfield *field(ritem *it, const char *key, bool create)
{
    for (size_t i = 0; i < it->n; i++)
        if (strcmp(it->fields[i].key, key) == 0)
            return &it->fields[i];
    if (!create)
        return NULL;
    if (!CR_GROW(it->fields, it->n, it->cap))
        return NULL;
    rfield *f = &it->fields[it->n];
    memset(f, 0, sizeof *f);
    f->key = strdup(key);
    if (!f->key)
        return NULL;
    it->n++;
    return f;
}

static void set(cr_result *r, ritem *item, const char *key, rv_type t, const char *s)
{
    rfield *f = field(item ? item : &r->top, key, true);
    if (!f)
        return;
    free(f->str);
    f->type = t;
    f->str = s ? strdup(s) : NULL;
}

void crp_set_str(cr_result *r, ritem *item, const char *key, const char *value)
{
    set(r, item, key, value ? RV_STR : RV_NULL, value);
}

void crp_set_num(cr_result *r, ritem *item, const char *key, double v)
{
    char b[64];
    if (v == (double)(long long)v)
        snprintf(b, sizeof b, "%lld", (long long)v);
    else
        snprintf(b, sizeof b, "%.6g", v);
    set(r, item, key, RV_NUM, b);
}

void crp_set_bool(cr_result *r, ritem *item, const char *key, bool v)
{
    set(r, item, key, RV_BOOL, v ? "true" : "false");
}

void crp_set_json(cr_result *r, ritem *item, const char *key, const char *json)
{
    set(r, item, key, json ? RV_JSON : RV_NULL, json);
}

static rlist *get_list(const cr_result *r, const char *list, bool create)
{
    rfield *f = field((ritem *)&r->top, list, create);
    if (!f)
        return NULL;
    if (create && !f->list) {
        f->type = RV_LIST;
        f->list = calloc(1, sizeof *f->list);
    }
    return f->type == RV_LIST ? f->list : NULL;
}

void crp_list(cr_result *r, const char *list)
{
    get_list(r, list, true);
}

ritem *crp_add_item(cr_result *r, const char *list)
{
    rlist *l = get_list(r, list, true);
    if (!l)
        return NULL;
    if (!CR_GROW(l->items, l->n, l->cap))
        return NULL;
    ritem *it = &l->items[l->n++];
    memset(it, 0, sizeof *it);
    return it;
}

const char *crp_get(const cr_result *r, const char *key)
{
    rfield *f = field((ritem *)&r->top, key, false);
    return f && f->type != RV_LIST ? f->str : NULL;
}

size_t crp_count(const cr_result *r, const char *list)
{
    rlist *l = get_list(r, list, false);
    return l ? l->n : 0;
}

const char *crp_item(const cr_result *r, const char *list, size_t i, const char *key)
{
    rlist *l = get_list(r, list, false);
    if (!l || i >= l->n)
        return NULL;
    rfield *f = field(&l->items[i], key, false);
    return f && f->type != RV_LIST ? f->str : NULL;
}

/* ---- rendering ---------------------------------------------------------------------------- */

typedef struct sbuf {
    char *buf;
    size_t len, used; /* used counts every byte wanted, even past len */
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, b->used++)
        if (b->len && b->used < b->len - 1)
            b->buf[b->used] = s[i];
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_end(sbuf *b)
{
    if (b->len)
        b->buf[b->used < b->len - 1 ? b->used : b->len - 1] = 0;
}

static void sb_put_cb(void *ud, const char *s, size_t n)
{
    sb_put(ud, s, n);
}

static void json_str(sbuf *b, const char *s)
{
    crp_json_escape(s, sb_put_cb, b);
}

/* The "trace" list is for people (result_text, result_item); JSON keeps the contract shape. */
static void json_item(sbuf *b, const ritem *it, bool top)
{
    sb_put(b, "{", 1);
    bool first = true;
    for (size_t i = 0; i < it->n; i++) {
        const rfield *f = &it->fields[i];
        if (top && f->type == RV_LIST && strcmp(f->key, "trace") == 0)
            continue;
        if (!first)
            sb_puts(b, ", ");
        first = false;
        json_str(b, f->key);
        sb_puts(b, ": ");
        switch (f->type) {
        case RV_STR:
            json_str(b, f->str);
            break;
        case RV_NULL:
            sb_puts(b, "null");
            break;
        case RV_NUM:
        case RV_BOOL:
        case RV_JSON:
            sb_puts(b, f->str);
            break;
        case RV_LIST:
            sb_put(b, "[", 1);
            for (size_t k = 0; f->list && k < f->list->n; k++) {
                if (k)
                    sb_puts(b, ", ");
                json_item(b, &f->list->items[k], false);
            }
            sb_put(b, "]", 1);
            break;
        }
    }
    sb_put(b, "}", 1);
}

size_t crp_json(const cr_result *r, char *buf, size_t len)
{
    sbuf b = {buf, len, 0};
    json_item(&b, &r->top, true);
    sb_end(&b);
    return b.used;
}

size_t crp_text(const cr_result *r, char *buf, size_t len)
{
    sbuf b = {buf, len, 0};
    for (size_t i = 0; i < r->top.n; i++) {
        const rfield *f = &r->top.fields[i];
        if (f->type == RV_LIST) {
            if (!f->list || !f->list->n || strcmp(f->key, "trace") == 0)
                continue;
            sb_puts(&b, f->key);
            sb_puts(&b, ":\n");
            for (size_t k = 0; k < f->list->n; k++) {
                const ritem *it = &f->list->items[k];
                char num[32];
                snprintf(num, sizeof num, "  %zu.", k + 1);
                sb_puts(&b, num);
                for (size_t m = 0; m < it->n; m++) {
                    sb_puts(&b, " ");
                    if (it->n > 1) {
                        sb_puts(&b, it->fields[m].key);
                        sb_puts(&b, "=");
                    }
                    sb_puts(&b, it->fields[m].str ? it->fields[m].str : "-");
                }
                sb_puts(&b, "\n");
            }
            continue;
        }
        sb_puts(&b, f->key);
        sb_puts(&b, ": ");
        sb_puts(&b, f->str ? f->str : "-");
        sb_puts(&b, "\n");
    }
    if (r->text) {
        sb_puts(&b, "trace:\n");
        sb_puts(&b, r->text);
    }
    sb_end(&b);
    return b.used;
}

/* Attaches a decision trace: the "trace" list (one item per line) and the text. */
void crp_result_trace(cr_result *r, const cr_trace *t)
{
    if (!t->len)
        return;
    r->text = strdup(t->buf);
    char line[1024];
    for (size_t i = 0; cr_trace_line(t, i, line, sizeof line); i++) {
        ritem *it = crp_add_item(r, "trace");
        if (it)
            crp_set_str(r, it, "text", line);
    }
}
