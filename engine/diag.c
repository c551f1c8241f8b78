/* Error codes' messages and diagnostics: what a load or check found, with file:line and the
 * object. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *cr_strerror(int code)
{
    switch (code) {
    case CR_OK:
        return "success";
    case CR_EINVAL:
        return "invalid argument";
    case CR_ENOMEM:
        return "out of memory";
    case CR_ECONFIG:
        return "configuration refused";
    case CR_ENOENT:
        return "not found";
    case CR_ERANGE:
        return "result too long";
    case CR_EIO:
        return "input/output error";
    case CR_EVERSION:
        return "ABI version refused";
    case CR_ESTATE:
        return "invalid state";
    case CR_ELIMIT:
        return "resource limit reached";
    }
    return "unknown error";
}

/* ---- diagnostics ------------------------------------------------------------------------ */

void cr_diag_init(cr_diag *d)
{
    memset(d, 0, sizeof *d);
}

void cr_diag_free(cr_diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].object);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

void cr_diag_add(cr_diag *d, cr_diag_level level, cr_srcloc loc, const char *object,
                 const char *fmt, ...)
{
    if (!d)
        return;
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        cr_diag_item *n = realloc(d->items, cap * sizeof *n);
        if (!n)
            return;
        d->items = n;
        d->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cr_diag_item *it = &d->items[d->count++];
    it->level = level;
    it->file = strdup(loc.file ? loc.file : "");
    it->line = loc.line;
    it->object = strdup(object ? object : "");
    it->message = strdup(msg);
    if (level == CR_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

void cr_diag_format(const cr_diag *d, size_t i, char *buf, size_t len)
{
    const cr_diag_item *it = &d->items[i];
    const char *lvl = it->level == CR_DIAG_ERROR ? "error" : "warning";
    char where[600];
    if (it->file && *it->file && it->line > 0)
        snprintf(where, sizeof where, "%s:%d: ", it->file, it->line);
    else if (it->file && *it->file)
        snprintf(where, sizeof where, "%s: ", it->file);
    else
        where[0] = 0;
    if (it->object && *it->object)
        snprintf(buf, len, "%s%s: %s: %s", where, lvl, it->object, it->message);
    else
        snprintf(buf, len, "%s%s: %s", where, lvl, it->message);
}
