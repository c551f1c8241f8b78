/*
 * cr_result: the one answer type of the ABI. An ordered set of fields (string, null, number,
 * boolean) and named lists of items (each item an ordered set of fields). Rendered as one
 * line of JSON in field order, or as human text.
 */
#ifndef CRP_RESULT_H
#define CRP_RESULT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { RV_STR, RV_NULL, RV_NUM, RV_BOOL, RV_LIST, RV_JSON } rv_type;

typedef struct rfield {
    char *key;
    rv_type type;
    char *str; /* RV_STR / RV_NUM (textual) / RV_BOOL ("true"/"false") */
    struct rlist *list;
} rfield;

typedef struct ritem {
    rfield *fields;
    size_t n, cap;
} ritem;

typedef struct rlist {
    ritem *items;
    size_t n, cap;
} rlist;

struct cr_result {
    int kind;
    const char *type; /* "route", "normalize", "dial", "inbound", "check", "gateways" */
    ritem top;
    char *text; /* extra human text (trace), may be NULL */
};

typedef struct cr_result cr_result;

cr_result *crp_result_new(const char *type, int kind);
void crp_result_free(cr_result *r);

/* Setting fields on the top level (item == NULL) or on an item. Strings are copied. */
void crp_set_str(cr_result *r, ritem *item, const char *key, const char *value); /* NULL→null */
void crp_set_num(cr_result *r, ritem *item, const char *key, double v);
void crp_set_bool(cr_result *r, ritem *item, const char *key, bool v);
/* A value given as JSON text (an array or object built by the caller), rendered as is;
 * result_get returns the JSON text. */
void crp_set_json(cr_result *r, ritem *item, const char *key, const char *json);
/* Makes sure the list exists (renders as [] when empty). */
void crp_list(cr_result *r, const char *list);
/* Appends an item to a list (created when missing); returns it, or NULL on OOM. */
ritem *crp_add_item(cr_result *r, const char *list);

struct cr_trace;
void crp_result_trace(cr_result *r, const struct cr_trace *t);

const char *crp_get(const cr_result *r, const char *field);
size_t crp_count(const cr_result *r, const char *list);
const char *crp_item(const cr_result *r, const char *list, size_t i, const char *field);
size_t crp_json(const cr_result *r, char *buf, size_t len);
size_t crp_text(const cr_result *r, char *buf, size_t len);

#endif
