#include "testutil.h"
#include "cr_engine.h"
#include "cr_rules.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

const char *cr_test_src(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("CR_SRC");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *cr_test_tmpfile(const char *text, const char *suffix)
{
    static char bufs[8][256];
    static int slot;
    char *p = bufs[slot++ % 8];
    snprintf(p, 256, "/tmp/crtestXXXXXX%s", suffix ? suffix : "");
    int fd = mkstemps(p, suffix ? (int)strlen(suffix) : 0);
    if (fd < 0)
        return NULL;
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) {
        close(fd);
        return NULL;
    }
    close(fd);
    return p;
}

struct cr_config *cr_test_load_xml(const char *xml)
{
    const char *path = cr_test_tmpfile(xml, ".xml");
    if (!path)
        return NULL;
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    cr_rules_load(path, &cfg, &d);
    for (size_t i = 0; i < d.count; i++) {
        char line[1024];
        cr_diag_format(&d, i, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    cr_diag_free(&d);
    remove(path);
    return cfg;
}

void cr_test_append(cr_test_out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->buf = realloc(o->buf, o->cap);
    }
    memcpy(o->buf + o->len, s, n + 1);
    o->len += n;
}

void cr_test_emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    char line[8192];
    snprintf(line, sizeof line, "%lld.%03lld %s %s%s%s\n", (long long)(at / 1000),
             (long long)(at % 1000), call, action, args[0] ? " " : "", args);
    cr_test_append(ud, line);
}

int64_t cr_test_parse_iso(const char *s)
{
    struct tm tm = {0};
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

char *cr_test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    b[fread(b, 1, (size_t)n, f)] = 0;
    fclose(f);
    return b;
}

int cr_test_list_events(const char *dir_rel, char (*names)[CR_TEST_NAME_MAX], size_t max,
                        const char *only)
{
    DIR *d = opendir(cr_test_src(dir_rel));
    if (!d)
        return -1;
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < max;) {
        size_t len = strlen(de->d_name);
        if (len < 8 || len - 7 >= CR_TEST_NAME_MAX || strcmp(de->d_name + len - 7, ".events"))
            continue;
        memcpy(names[n], de->d_name, len - 7);
        names[n][len - 7] = 0;
        if (only && strcmp(only, names[n]) != 0)
            continue;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return (int)n;
}

int cr_test_advised_huge(const void *p)
{
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!thp)
        return -1;
    fclose(thp);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    bool in = false;
    int r = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            r = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return r;
}

int cr_test_writable(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    char line[512], perms[8];
    int r = -1;
    while (r < 0 && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && (uintptr_t)p >= lo &&
            (uintptr_t)p < hi)
            r = perms[1] == 'w';
    }
    fclose(f);
    return r;
}

static char *text_slot(void)
{
    static char slots[8][CR_URI_SHORT > CR_REASON_MAX ? CR_URI_SHORT : CR_REASON_MAX];
    static unsigned next;
    return slots[next++ % 8];
}

const char *cr_test_reason(const cr_decision *d)
{
    return cr_decision_reason(d, text_slot(), CR_REASON_MAX);
}

const char *cr_test_uri(const cr_config *c, const cr_decision *d, size_t i)
{
    char *s = text_slot();
    cr_attempt_uri(c, d, i, s, CR_URI_SHORT);
    return s;
}

/* A plan of one profile, usage, policy and gateway, with `nroutes` routes (route-NNNNN, each
 * +1206 and its own five digits, then two more), or with nroutes 0 one route "local" for every
 * +1425 number, and `nusers` users, each with a line. Free with free(). */
char *cr_test_plan_xml(size_t nroutes, size_t nusers)
{
    size_t cap = nroutes * 160 + nusers * 140 + 4096, n = 0;
    char *xml = malloc(cap);
    if (!xml)
        abort();
    n += (size_t)snprintf(
        xml + n, cap - n,
        "<callroute xmlns=\"urn:callroute:config:1\">\n"
        "<domains><domain>example.com</domain></domains>\n"
        "<locationProfiles default=\"HQ\"><locationProfile name=\"HQ\"/></locationProfiles>\n"
        "<phoneUsages><usage name=\"Local\"/></phoneUsages>\n"
        "<voicePolicies default=\"A\"><voicePolicy name=\"A\"><usage>Local</usage>"
        "</voicePolicy></voicePolicies>\n"
        "<gateways><gateway name=\"gw\" address=\"sip:10.0.0.1\"/></gateways>\n<routes>\n");
    if (!nroutes)
        n += (size_t)snprintf(
            xml + n, cap - n,
            "<route name=\"local\" pattern=\"^\\+1425\\d{7}$\"><usage>Local</usage>"
            "<gateway>gw</gateway></route>\n");
    for (size_t i = 0; i < nroutes; i++)
        n += (size_t)snprintf(xml + n, cap - n,
                              "<route name=\"route-%05zu\" pattern=\"^\\+1206%05zu\\d{2}$\">"
                              "<usage>Local</usage><gateway>gw</gateway></route>\n",
                              i, i);
    n += (size_t)snprintf(xml + n, cap - n, "</routes>\n<users>\n");
    for (size_t i = 0; i < nusers; i++)
        n += (size_t)snprintf(xml + n, cap - n,
                              "<user uri=\"sip:u%zu@example.com\" line=\"tel:+1425%07zu\" "
                              "enterpriseVoice=\"true\"/>\n",
                              i, i);
    n += (size_t)snprintf(xml + n, cap - n, "</users>\n</callroute>\n");
    if (n >= cap)
        abort(); /* cap too small: a bug of this helper */
    return xml;
}
