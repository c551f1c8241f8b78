/* callroute inbound: the ringing plan of a call to a user (SPEC §3). */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cr_optspec inbound_spec[] = {
    {"config", true},  {"db", true},    {"from", true},  {"endpoint", true},
    {"gateway", true}, {"json", false}, {"help", false}, {NULL, false},
};

static void usage(FILE *f)
{
    fputs("usage: callroute inbound --config FILE [--db DIR] --from URI TO [--endpoint URI]...\n"
          "                         [--gateway GW] [--json]\n"
          "  TO: a user's SIP URI, tel: URI or number. --endpoint: the callee's registered\n"
          "  contacts (default: its SIP URI). --gateway: TO and --from arrive from that gateway\n"
          "  and are normalized with its location profile first.\n"
          "Exit status: 0 TO is a user (or, with --gateway, a workflow's line), 1 it is neither,\n"
          "2 usage or configuration error.\n",
          f);
}

/* A JSON string at *s (after its opening quote) printed as plain text; *s moves past its
 * closing quote. Escapes are decoded; control characters print as '?'. */
static void text_string(const char **s, FILE *f)
{
    const char *c = *s;
    while (*c && *c != '"') {
        if (*c != '\\') {
            fputc(*c++, f);
            continue;
        }
        c++;
        if (*c == 'u') {
            unsigned v = 0;
            int k = 1;
            for (; k <= 4 && c[k]; k++) {
                char h = c[k];
                v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            c += k;
            if (v < 0x20 || v == 0x7f)
                fputc('?', f);
            else if (v < 0x80)
                fputc((int)v, f);
            else if (v < 0x800)
                fputc((int)(0xc0 | v >> 6), f), fputc((int)(0x80 | (v & 0x3f)), f);
            else
                fputc((int)(0xe0 | v >> 12), f), fputc((int)(0x80 | (v >> 6 & 0x3f)), f),
                    fputc((int)(0x80 | (v & 0x3f)), f);
            continue;
        }
        fputc(*c == '"' || *c == '\\' || *c == '/' ? *c : '?', f);
        if (*c)
            c++;
    }
    *s = *c ? c + 1 : c;
}

/*
 * A result field that holds a JSON array of flat objects ("notifications", "skipped") as
 * human text, one object a line: the first value, then each further field as "key value"
 * ("reason" as its value alone; lists joined by ", "). No JSON reaches text output
 * (issue 16).
 */
static void print_objects(const char *title, const char *json)
{
    if (!json || strcmp(json, "[]") == 0)
        return;
    printf("%s:\n", title);
    const char *c = json;
    int field = 0; /* in an object: the index of the current field */
    bool key = true, list = false, first_item = false;
    while (*c) {
        char ch = *c++;
        if (ch == '{') {
            fputs("  ", stdout);
            field = 0, key = true;
        } else if (ch == '}') {
            fputc('\n', stdout);
        } else if (ch == '[' && !key) {
            list = true, first_item = true;
        } else if (ch == ']' && list) {
            list = false;
        } else if (ch == ':') {
            key = false;
        } else if (ch == ',' && !list) {
            key = true, field++;
        } else if (ch == '"' && key) {
            const char *k = c;
            while (*c && *c != '"')
                c += *c == '\\' && c[1] ? 2 : 1;
            if (field > 0 && !(c - k == 6 && strncmp(k, "reason", 6) == 0)) {
                fputs(field > 1 ? ", " : " ", stdout);
                for (; k < c; k++)
                    fputc(*k == '_' ? ' ' : *k, stdout);
                fputc(' ', stdout);
            } else if (field > 0) {
                fputc(' ', stdout);
            }
            if (*c)
                c++;
        } else if (ch == '"') {
            if (list && !first_item)
                fputs(", ", stdout);
            first_item = false;
            text_string(&c, stdout);
            if (field == 0)
                fputc(':', stdout);
        } else if (ch == 'n' && strncmp(c - 1, "null", 4) == 0) {
            fputc('-', stdout);
            c += 3;
        }
    }
}

/* The plan as a timeline, one line per thing that rings. */
static void print_text(const cr_plugin *p, const cr_result *r, const cr_result *gwr)
{
    if (gwr) { /* what the gateway's profile made of the numbers */
        const char *v = p->result_get(gwr, "called");
        printf("gateway: %s (profile %s)\n", p->result_get(gwr, "gateway"),
               p->result_get(gwr, "profile") ? p->result_get(gwr, "profile") : "-");
        printf("called: %s\n", v ? v : "-");
        v = p->result_get(gwr, "calling");
        printf("calling: %s\n", v ? v : "-");
        v = p->result_get(gwr, "pai");
        printf("p-asserted-identity: %s\n", v ? v : "-");
        if ((v = p->result_get(gwr, "workflow")))
            printf("workflow: %s (%s)\n", v, p->result_get(gwr, "target"));
    }
    if (!r)
        return;
    const char *callee = p->result_get(r, "callee");
    printf("callee: %s\n", callee ? callee : "-");
    size_t n = p->result_count(r, "ring");
    for (size_t i = 0; i < n; i++) {
        const char *alt = p->result_item(r, "ring", i, "alt");
        const char *gw = p->result_item(r, "ring", i, "gateway");
        printf("  %4s s  %-17s %-9s %s", p->result_item(r, "ring", i, "at"),
               p->result_item(r, "ring", i, "branch"), p->result_item(r, "ring", i, "kind"),
               p->result_item(r, "ring", i, "target"));
        if (gw)
            printf("  %s %s %s", alt && strcmp(alt, "0") ? "else via" : "via", gw,
                   p->result_item(r, "ring", i, "uri"));
        fputc('\n', stdout);
    }
    print_objects("notifications", p->result_get(r, "notifications"));
    print_objects("skipped", p->result_get(r, "skipped"));
    printf("reason: %s\n", p->result_get(r, "reason"));
    size_t nt = p->result_count(r, "trace");
    if (nt)
        puts("trace:");
    for (size_t i = 0; i < nt; i++)
        printf("  %s\n", p->result_item(r, "trace", i, "text"));
}

/* A result as one line of JSON (malloc'd; NULL when out of memory). */
static char *json_of(const cr_plugin *p, const cr_result *r)
{
    size_t need = p->result_json(r, NULL, 0);
    char *s = malloc(need + 1);
    if (s)
        p->result_json(r, s, need + 1);
    return s;
}

/* --json with --gateway: the plan, with what the gateway's profile made of the numbers
 * (called, calling, pai: issue 15) as its "inbound" object. */
static void print_json(const cr_plugin *p, const cr_result *r, const cr_result *gwr)
{
    char *plan = json_of(p, r), *gw = gwr ? json_of(p, gwr) : NULL;
    size_t n = plan ? strlen(plan) : 0;
    while (n && plan[n - 1] != '}')
        n--;
    if (gw && n)
        printf("%.*s, \"inbound\": %s}\n", (int)(n - 1), plan, gw);
    else if (plan)
        printf("%s\n", plan);
    free(plan);
    free(gw);
}

int cr_cmd_inbound(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, inbound_spec, &o))
        return 2;
    if (cr_flag(&o, "help")) {
        usage(stdout);
        return 0;
    }
    const char *from = cr_opt(&o, "from");
    if (o.npos != 1 || !from) {
        usage(stderr);
        return 2;
    }
    if (!CR_HAS(cr_plugin, p, user_plan) || !p->user_plan) {
        fprintf(stderr, "callroute inbound: the library has no inbound call handling\n");
        return 2;
    }
    cr_open_options opts = {.size = sizeof opts, .db_path = cr_opt(&o, "db")};
    cr_handle *h = cr_cli_open(p, cr_opt(&o, "config"), &opts);
    if (!h)
        return 2;
    const char *endpoints[CR_OPTS_MAX];
    char buf[8192];
    size_t nend = cr_opt_all(&o, "endpoint", endpoints, CR_OPTS_MAX, buf, sizeof buf);
    const char *to = o.pos[0];
    cr_result *gwr = NULL, *r = NULL;
    const char *gateway = cr_opt(&o, "gateway");
    int rc = gateway ? p->inbound(h, gateway, to, from, &gwr) : 0;
    if (rc == CR_ABI_ENOENT) {
        fprintf(stderr, "callroute inbound: '%s' is no configured gateway\n", gateway);
        p->close(h);
        return 2;
    }
    if (rc == 0 && gwr && p->result_get(gwr, "workflow")) {
        /* the gateway's call is for a workflow's line: the response group takes it, no
         * user's ringing plan runs */
        if (cr_flag(&o, "json"))
            cr_cli_print(p, gwr, 1);
        else
            print_text(p, NULL, gwr);
        p->result_free(gwr);
        p->close(h);
        return 0;
    }
    if (rc == 0 && gwr && p->result_get(gwr, "target"))
        to = p->result_get(gwr, "target");
    if (gateway && CR_HAS(cr_plugin, p, user_plan_ex) && p->user_plan_ex)
        rc = p->user_plan_ex(h, from, to, gateway, endpoints, nend, &r);
    else
        rc = p->user_plan(h, from, to, endpoints, nend, &r);
    int status = 2;
    if (rc != 0 || !r) {
        fprintf(stderr, "callroute inbound: %s\n", p->strerror(rc));
    } else {
        if (cr_flag(&o, "json"))
            print_json(p, r, gwr);
        else
            print_text(p, r, gwr);
        status = p->result_kind(r) == 1 ? 0 : 1;
    }
    p->result_free(r);
    p->result_free(gwr);
    p->close(h);
    return status;
}
