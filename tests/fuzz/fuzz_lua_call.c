/* Lua IVR scripts under a small budget. The first byte picks the mode: odd, the rest of the
 * input is a script body run in the sandbox; even, the input is decoded into a script that
 * calls the call API (call:play/ask/collect/queue/transfer/voicemail/hangup/set, call
 * fields, rg.*) and the libraries with generated values: strings, integers at the limits,
 * inf/nan, nil, booleans, nested tables, huge strings. Either way the call is then driven
 * by events decoded from the input (prompt_done, DTMF, speech, timers, hangup). Whatever the
 * script does must end in an action or the fallback, with no crash, leak or stall. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned byte(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        if (!t->s)
            abort();
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

static const char *const fields[] = {"prompt",  "choices",  "speech", "timeout", "retries",
                                     "invalid", "noanswer", "min",    "max",     "terminator",
                                     "1",       "2",        "#",      "x"};

static void value(reader *r, text *t, int depth)
{
    char buf[64];
    switch (byte(r) % 10) {
    case 0:
        put(t, "nil");
        break;
    case 1:
        put(t, byte(r) & 1 ? "true" : "false");
        break;
    case 2: {
        static const char *const ints[] = {"math.maxinteger",
                                           "math.mininteger",
                                           "-1",
                                           "0",
                                           "1",
                                           "2",
                                           "64",
                                           "65",
                                           "3600",
                                           "3601",
                                           "1e9",
                                           "-0.0"};
        put(t, ints[byte(r) % 12]);
        break;
    }
    case 3: {
        static const char *const floats[] = {"1/0", "-1/0", "0/0", "1e308", "0.5", "2.5"};
        put(t, floats[byte(r) % 6]);
        break;
    }
    case 4:
    case 5: { /* a short string literal, every byte escaped */
        unsigned n = byte(r) % 24;
        put(t, "\"");
        for (unsigned i = 0; i < n; i++) {
            snprintf(buf, sizeof buf, "\\%u", byte(r));
            put(t, buf);
        }
        put(t, "\"");
        break;
    }
    case 6:
        snprintf(buf, sizeof buf, "string.rep(\"9\", %u)", 1u << (byte(r) % 22));
        put(t, buf);
        break;
    case 7:
    case 8:
        if (depth > 3) {
            put(t, "{}");
            break;
        }
        put(t, "{");
        for (unsigned i = 0, n = byte(r) % 5; i < n; i++) {
            put(t, "[\"");
            put(t, fields[byte(r) % (sizeof fields / sizeof *fields)]);
            put(t, "\"] = ");
            value(r, t, depth + 1);
            put(t, ", ");
            if (byte(r) & 1) {
                value(r, t, depth + 1);
                put(t, ", ");
            }
        }
        put(t, "}");
        break;
    default:
        snprintf(buf, sizeof buf, "%d", (int)(int8_t)byte(r));
        put(t, buf);
        break;
    }
}

static const char *const calls[] = {"call:play(%)",
                                    "call:ask(%)",
                                    "call:collect(%)",
                                    "call:queue(%)",
                                    "call:transfer(%)",
                                    "call:voicemail(%)",
                                    "call:hangup(%)",
                                    "call:set(%, %)",
                                    "rg.is_open(%)",
                                    "rg.is_holiday(%)",
                                    "rg.now(%)",
                                    "local _ = call[%]",
                                    "string.rep(%, %)",
                                    "string.format(%, %)",
                                    "string.find(%, %)",
                                    "string.gsub(%, %, %)",
                                    "table.concat(%, %)",
                                    "table.unpack(%, %)",
                                    "table.insert(%, %)",
                                    "utf8.char(%)",
                                    "utf8.len(%)",
                                    "tostring(%)",
                                    "tonumber(%, %)",
                                    "select(%, %)",
                                    "load(%)",
                                    "table.sort(%)",
                                    "string.byte(%, %)",
                                    "table.move(%, %, %, %)"};

static char *api_script(reader *r)
{
    text t = {0};
    for (unsigned k = 0, n = 1 + byte(r) % 8; k < n && r->n; k++) {
        const char *c = calls[byte(r) % (sizeof calls / sizeof *calls)];
        bool protect = byte(r) & 1;
        put(&t, protect ? "pcall(function() " : "");
        for (; *c; c++) {
            if (*c == '%') {
                value(r, &t, 0);
            } else {
                char ch[2] = {*c, 0};
                put(&t, ch);
            }
        }
        put(&t, protect ? " end)\n" : "\n");
    }
    put(&t, "call:hangup('end')\n");
    return t.s;
}

static void ignore(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    (void)ud, (void)at, (void)call, (void)action, (void)args;
}

static void on_log(void *ud, int64_t at, const char *line)
{
    (void)ud, (void)at, (void)line;
}

static char dir[64];

static const char xml[] =
    "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
    "<agentGroup name=\"G\" routingMethod=\"serial\" alertTime=\"10\">"
    "<agent>sip:agent1@test</agent></agentGroup>\n"
    "<queue name=\"Q\"><group>G</group></queue>\n"
    "<hoursSet name=\"H\" timeZone=\"UTC\"><range days=\"mon-fri\" open=\"08:00\" "
    "close=\"17:00\"/></hoursSet>\n"
    "<workflow name=\"W\" uri=\"sip:w@test\" type=\"ivr\" script=\"f.lua\" queue=\"Q\" "
    "hours=\"H\"/>\n"
    "</responseGroups></callroute>\n";

static void write_file(const char *name, const char *s, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(s, 1, n, f);
    fclose(f);
}

static void feed(cr_rgs_engine *e, int64_t at, const char *line)
{
    cr_rgs_event ev;
    char err[256];
    if (cr_rgs_event_parse(line, &ev, err, sizeof err) != CR_OK)
        return;
    cr_rgs_engine_advance(e, at, ignore, NULL);
    cr_rgs_engine_event(e, at, &ev, ignore, NULL, err, sizeof err);
}

static void drive(cr_rgs_engine *e, reader *r)
{
    static const char *const said[] = {"one two", "sales", "help broken", "", "star pound"};
    char line[128];
    int64_t at = 0;
    feed(e, at, "call c1 sip:x@test sip:w@test");
    for (unsigned k = 0; k < 12; k++) {
        unsigned b = byte(r);
        at += 1000 * (b >> 4);
        switch (b % 5) {
        case 0:
            snprintf(line, sizeof line, "prompt_done c1");
            break;
        case 1:
            snprintf(line, sizeof line, "dtmf c1 %u#", byte(r));
            break;
        case 2:
            snprintf(line, sizeof line, "speech c1 %s", said[byte(r) % 5]);
            break;
        case 3:
            cr_rgs_engine_advance(e, at += 10000, ignore, NULL);
            continue;
        default:
            snprintf(line, sizeof line, "prompt_done c1");
            break;
        }
        feed(e, at, line);
    }
    feed(e, at + 1000, "hangup c1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cr_rgs_config *cfg;
    if (!cfg) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_lua_XXXXXX");
        if (!mkdtemp(dir))
            abort();
        write_file("rg.xml", xml, sizeof xml - 1);
        char path[128];
        snprintf(path, sizeof path, "%s/rg.xml", dir);
        cr_diag d;
        cr_diag_init(&d);
        if (cr_rgs_xml_load(path, &cfg, &d) != CR_OK)
            abort();
        cr_diag_free(&d);
    }
    reader r = {data, size};
    if (size && (data[0] & 1)) {
        write_file("f.lua", (const char *)data + 1, size - 1);
        r.p += size, r.n = 0;
    } else {
        byte(&r);
        char *s = api_script(&r);
        write_file("f.lua", s, strlen(s));
        free(s);
    }
    cr_lua_options o = {.budget = 50000,
                        .time_limit_ms = 100,
                        .memory_limit = 16u << 20,
                        .call_memory_limit = 4u << 20,
                        .log = on_log};
    cr_lua_ivr *ivr;
    char err[256];
    if (cr_lua_ivr_open(cfg, &o, &ivr, err, sizeof err) != CR_OK)
        abort();
    cr_rgs_engine_options eo = {.start_unix_ms = 1799053200000LL, .ivr = cr_lua_ivr_driver(ivr)};
    cr_rgs_engine *e;
    if (cr_rgs_engine_open(cfg, &eo, &e, err, sizeof err) != CR_OK)
        abort();
    drive(e, &r);
    cr_rgs_engine_close(e);
    cr_lua_stats st;
    cr_lua_ivr_stats(ivr, &st);
    if (st.calls != 0) /* every call ended exactly once */
        abort();
    cr_lua_ivr_close(ivr);
    return 0;
}
