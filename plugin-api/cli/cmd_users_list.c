/*
 * callroute users list|show|remove: reading and editing the LMDB directory through the ABI's
 * export and import (a CSV snapshot of the directory, one write transaction for remove).
 */
#include "cli.h"
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FIELDS_MAX 32

/* One CSV record (RFC 4180 quotes, fields may span lines) into fields (heap strings, freed
 * by the caller); returns the count, 0 at the end. `raw` gets the record as read. */
static int csv_next(FILE *f, char **fields, int max, char **raw, size_t *rawlen)
{
    size_t cap = 0, rcap = 0;
    char *cur = NULL;
    FILE *r = open_memstream(raw, &rcap);
    int n = 0, c;
    bool quoted = false, any = false;
    FILE *fld = open_memstream(&cur, &cap);
    while ((c = fgetc(f)) != EOF) {
        any = true;
        fputc(c, r);
        if (quoted) {
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') {
                    fputc('"', fld), fputc('"', r);
                    continue;
                }
                if (d != EOF)
                    ungetc(d, f);
                quoted = false;
            } else {
                fputc(c, fld);
            }
            continue;
        }
        if (c == '"')
            quoted = true;
        else if (c == ',' || c == '\n') {
            fclose(fld);
            if (n < max)
                fields[n++] = cur;
            else
                free(cur);
            cur = NULL;
            cap = 0;
            if (c == '\n')
                break;
            fld = open_memstream(&cur, &cap);
        } else if (c != '\r')
            fputc(c, fld);
    }
    if (c == EOF) {
        fclose(fld);
        if (any && n < max)
            fields[n++] = cur;
        else
            free(cur);
    }
    fclose(r);
    *rawlen = rcap;
    return n;
}

/* The directory's key of a SIP URI, as the library's lookups compare users (cr_uri_key):
 * "sip:" (sips: folded to it, the scheme in any case), the user part as written, the host in
 * lower case without port, parameters or headers; angle brackets and a display name dropped.
 * "" when `uri` is not a sip: or sips: URI. */
static void uri_key(const char *uri, char *out, size_t len)
{
    const char *lt = strchr(uri, '<');
    if (lt)
        uri = lt + 1;
    while (*uri == ' ')
        uri++;
    size_t skip = strncasecmp(uri, "sip:", 4) == 0 ? 4 : strncasecmp(uri, "sips:", 5) == 0 ? 5 : 0;
    out[0] = 0;
    if (!skip)
        return;
    const char *p = uri + skip;
    size_t ul = strcspn(p, "@>;?");
    ul = p[ul] == '@' ? ul + 1 : 0;
    const char *h = p + ul;
    int hl = (int)strcspn(h, ">;?:");
    int n = snprintf(out, len, "sip:%.*s%.*s", (int)ul, p, hl, h);
    if (n < 0 || (size_t)n >= len) {
        out[0] = 0;
        return;
    }
    for (char *c = out + 4 + ul; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

/* Whether `stored` (a directory user's URI) is the user `wanted` names (its key `wkey`). */
static bool same_user(const char *stored, const char *wanted, const char *wkey)
{
    char k[4096];
    if (!*wkey)
        return strcmp(stored, wanted) == 0;
    uri_key(stored, k, sizeof k);
    return strcmp(k, wkey) == 0;
}

static void free_fields(char **fields, int n)
{
    for (int i = 0; i < n; i++)
        free(fields[i]);
}

/* The directory as CSV in an unlinked temporary file, rewound; NULL after saying why. */
static FILE *snapshot(const cr_plugin *p, const char *db, char *path, size_t len)
{
    snprintf(path, len, "%s/callroute-users.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "callroute users: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    close(fd);
    char err[1024] = "";
    int rc = p->users_export(db, path, "csv", err, sizeof err);
    FILE *f = rc == 0 ? fopen(path, "r") : NULL;
    if (!f)
        fprintf(stderr, "callroute users: %s\n", err[0] ? err : p->strerror(rc));
    return f;
}

/* s as a JSON string; "" as null (an empty CSV field is a field not set). */
static void json_str(const char *s)
{
    cr_cli_json_str(*s ? s : NULL);
}

/* A user's fields (the export's CSV columns) as one JSON object: booleans and seconds typed,
 * the space-separated lists (teamCall, delegates) as arrays, fields not set as null. */
static void json_user(char **head, char **fields, int n)
{
    fputc('{', stdout);
    for (int i = 0; i < n; i++) {
        printf("%s", i ? ", " : "");
        cr_cli_json_str(head[i]);
        fputs(": ", stdout);
        const char *v = fields[i];
        if (!strcmp(head[i], "enterpriseVoice") || !strcmp(head[i], "pbxIntegration")) {
            fputs(*v ? (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ? "true" : "false")
                     : "null",
                  stdout);
        } else if (*v && (!strcmp(head[i], "noAnswerAfter") || !strcmp(head[i], "teamCallDelay")) &&
                   strspn(v, "0123456789") == strlen(v)) {
            fputs(v, stdout);
        } else if (!strcmp(head[i], "teamCall") || !strcmp(head[i], "delegates")) {
            fputc('[', stdout);
            char *copy = strdup(v), *save = NULL;
            int k = 0;
            for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t;
                 t = strtok_r(NULL, " ", &save))
                fputs(k++ ? ", " : "", stdout), cr_cli_json_str(t);
            free(copy);
            fputc(']', stdout);
        } else {
            json_str(v);
        }
    }
    fputs("}\n", stdout);
}

int cr_users_list(const cr_plugin *p, const char *db, const char *cmd, const char *uri, bool json)
{
    char path[4096];
    FILE *f = snapshot(p, db, path, sizeof path);
    if (!f) {
        unlink(path);
        return 2;
    }
    char *head[FIELDS_MAX], *fields[FIELDS_MAX], *raw = NULL, wkey[4096] = "";
    if (uri)
        uri_key(uri, wkey, sizeof wkey);
    size_t rawlen;
    int nh = csv_next(f, head, FIELDS_MAX, &raw, &rawlen), found = 0, count = 0;
    FILE *keep = NULL;
    char kpath[4200];
    if (strcmp(cmd, "remove") == 0) {
        snprintf(kpath, sizeof kpath, "%s.csv", path);
        keep = fopen(kpath, "w");
        if (keep)
            fwrite(raw, 1, rawlen, keep);
    }
    free(raw);
    if (json && strcmp(cmd, "list") == 0) { /* {"db": DB, "users": [{"uri", "line"}...], "count"} */
        fputs("{\"db\": ", stdout);
        cr_cli_json_str(db);
        fputs(", \"users\": [", stdout);
    }
    for (int n; (n = csv_next(f, fields, FIELDS_MAX, &raw, &rawlen)) > 0; free(raw)) {
        bool match = uri && n > 0 && same_user(fields[0], uri, wkey);
        count++;
        if (strcmp(cmd, "list") == 0 && json) {
            fputs(count > 1 ? ", {\"uri\": " : "{\"uri\": ", stdout);
            cr_cli_json_str(fields[0]);
            fputs(", \"line\": ", stdout);
            json_str(n > 1 ? fields[1] : "");
            fputc('}', stdout);
        } else if (strcmp(cmd, "list") == 0)
            printf("%s%s%s\n", fields[0], n > 1 && *fields[1] ? " " : "", n > 1 ? fields[1] : "");
        else if (match && strcmp(cmd, "show") == 0 && json)
            json_user(head, fields, n < nh ? n : nh);
        else if (match && strcmp(cmd, "show") == 0)
            for (int i = 0; i < n && i < nh; i++)
                if (*fields[i])
                    printf("%s: %s\n", head[i], fields[i]);
        if (keep && !match)
            fwrite(raw, 1, rawlen, keep);
        found += match;
        free_fields(fields, n);
    }
    free(raw);
    free_fields(head, nh);
    fclose(f);
    unlink(path);
    int status = 0;
    if (strcmp(cmd, "list") == 0) {
        if (json)
            printf("], \"count\": %d}\n", count);
        fprintf(stderr, "%d users\n", count);
    } else if (!found) {
        fprintf(stderr, "callroute users %s: no user '%s' in %s\n", cmd, uri, db);
        status = 1;
    } else if (keep) {
        char err[4096] = "";
        fclose(keep);
        keep = NULL;
        int rc = p->users_import_ex(db, kpath, CR_IMPORT_REPLACE, NULL, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "callroute users remove: %s\n", err[0] ? err : p->strerror(rc));
            status = 2;
        } else if (json) {
            fputs("{\"db\": ", stdout);
            cr_cli_json_str(db);
            fputs(", \"removed\": ", stdout);
            cr_cli_json_str(uri);
            fputs("}\n", stdout);
        } else {
            printf("removed %s from %s\n", uri, db);
        }
    }
    if (keep)
        fclose(keep);
    if (strcmp(cmd, "remove") == 0)
        unlink(kpath);
    return status;
}
