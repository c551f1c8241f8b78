/*
 * `callroute simulate` event files: any bytes as a timeline ("<seconds> <event> <args...>"
 * lines, as the command line reads them) through the event parser and the response-group
 * engine, on a fixed configuration with every routing method, timeouts, overflows, business
 * hours and holidays (tests/rgs/rgs.xml without its IVR, plus an hours workflow). Then the
 * timers run out and every queue's counters are read. Never a crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "sim_time.h" /* the command line's time field (plugin-api/cli) */

static const char config_xml[] =
    "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
    "    <agentGroup name=\"Serial\" routingMethod=\"serial\" alertTime=\"10\">\n"
    "      "
    "<agent>sip:s1@contoso.com</agent><agent>sip:s2@contoso.com</agent><agent>sip:s3@contoso.com</"
    "agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Round Robin\" routingMethod=\"roundRobin\" alertTime=\"10\">\n"
    "      "
    "<agent>sip:r1@contoso.com</agent><agent>sip:r2@contoso.com</agent><agent>sip:r3@contoso.com</"
    "agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Longest Idle\" routingMethod=\"longestIdle\" alertTime=\"10\">\n"
    "      "
    "<agent>sip:l1@contoso.com</agent><agent>sip:l2@contoso.com</agent><agent>sip:l3@contoso.com</"
    "agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Parallel\" routingMethod=\"parallel\" alertTime=\"15\">\n"
    "      "
    "<agent>sip:p1@contoso.com</agent><agent>sip:p2@contoso.com</agent><agent>sip:p3@contoso.com</"
    "agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Attendant\" routingMethod=\"attendant\" alertTime=\"10\" "
    "participation=\"formal\">\n"
    "      "
    "<agent>sip:t1@contoso.com</agent><agent>sip:t2@contoso.com</agent><agent>sip:t3@contoso.com</"
    "agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Formal\" routingMethod=\"serial\" participation=\"formal\">\n"
    "      <agent>sip:f1@contoso.com</agent><agent>sip:f2@contoso.com</agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Decliners\" routingMethod=\"serial\" alertTime=\"10\" "
    "declineGrace=\"30\">\n"
    "      <agent>sip:d1@contoso.com</agent><agent>sip:d2@contoso.com</agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Tier 1\" routingMethod=\"serial\" alertTime=\"10\">\n"
    "      <agent>sip:m1@contoso.com</agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Tier 2\" routingMethod=\"parallel\" alertTime=\"10\">\n"
    "      <agent>sip:m2@contoso.com</agent><agent>sip:m3@contoso.com</agent>\n"
    "    </agentGroup>\n"
    "    <agentGroup name=\"Solo\" "
    "alertTime=\"10\"><agent>sip:o1@contoso.com</agent></agentGroup>\n"
    "    <agentGroup name=\"Empty Group\"/>\n"
    "\n"
    "    <queue name=\"Serial\"><group>Serial</group></queue>\n"
    "    <queue name=\"Round Robin\"><group>Round Robin</group></queue>\n"
    "    <queue name=\"Longest Idle\"><group>Longest Idle</group></queue>\n"
    "    <queue name=\"Parallel\"><group>Parallel</group></queue>\n"
    "    <queue name=\"Attendant\"><group>Attendant</group></queue>\n"
    "    <queue name=\"Formal\"><group>Formal</group></queue>\n"
    "    <queue name=\"Decliners\"><group>Decliners</group></queue>\n"
    "    <queue name=\"Tiers\"><group>Tier 1</group><group>Tier 2</group></queue>\n"
    "    <queue name=\"Timeout\">\n"
    "      <group>Solo</group>\n"
    "      <timeout seconds=\"30\" action=\"voicemail\" target=\"sip:vm@contoso.com\"/>\n"
    "    </queue>\n"
    "    <queue name=\"Overflow Newest\">\n"
    "      <group>Solo</group>\n"
    "      <overflow calls=\"1\" candidate=\"newest\" action=\"forward\" "
    "target=\"tel:+14255550111\"/>\n"
    "    </queue>\n"
    "    <queue name=\"Overflow Oldest\">\n"
    "      <group>Solo</group>\n"
    "      <overflow calls=\"1\" candidate=\"oldest\" action=\"queue\" target=\"Backup\"/>\n"
    "    </queue>\n"
    "    <queue name=\"Backup\">\n"
    "      <group>Tier 1</group>\n"
    "      <timeout seconds=\"20\" action=\"disconnect\" prompt=\"sorry.wav\"/>\n"
    "    </queue>\n"
    "    <queue name=\"Nobody\"><group>Empty Group</group></queue>\n"
    "\n"
    "    <workflow name=\"Serial\" uri=\"sip:serial@contoso.com\" queue=\"Serial\"/>\n"
    "    <workflow name=\"Round Robin\" uri=\"sip:rr@contoso.com\" queue=\"Round Robin\"/>\n"
    "    <workflow name=\"Longest Idle\" uri=\"sip:li@contoso.com\" queue=\"Longest Idle\"/>\n"
    "    <workflow name=\"Parallel\" uri=\"sip:par@contoso.com\" queue=\"Parallel\" "
    "musicOnHold=\"jazz.wav\"/>\n"
    "    <workflow name=\"Attendant\" uri=\"sip:att@contoso.com\" queue=\"Attendant\"/>\n"
    "    <workflow name=\"Formal\" uri=\"sip:formal@contoso.com\" queue=\"Formal\"/>\n"
    "    <workflow name=\"Decliners\" uri=\"sip:decl@contoso.com\" queue=\"Decliners\"/>\n"
    "    <workflow name=\"Tiers\" uri=\"sip:tiers@contoso.com\" line=\"tel:+14255550120\" "
    "queue=\"Tiers\"\n"
    "              welcome=\"welcome.wav\" musicOnHold=\"moh.wav\"/>\n"
    "    <workflow name=\"Timeout\" uri=\"sip:timeout@contoso.com\" queue=\"Timeout\"/>\n"
    "    <workflow name=\"Overflow Newest\" uri=\"sip:ovn@contoso.com\" queue=\"Overflow "
    "Newest\"/>\n"
    "    <workflow name=\"Overflow Oldest\" uri=\"sip:ovo@contoso.com\" queue=\"Overflow "
    "Oldest\"/>\n"
    "    <workflow name=\"Nobody\" uri=\"sip:nobody@contoso.com\" queue=\"Nobody\"/>\n"
    "    <workflow name=\"Closed\" uri=\"sip:closed@contoso.com\" queue=\"Serial\" "
    "active=\"false\"/>\n"
    "      <agentGroup "
    "name=\"Desk\"><agent>sip:h@contoso.com</agent><agent>sip:s1@contoso.com</agent></agentGroup>\n"
    "    <queue name=\"Desk\"><group>Desk</group><group>Tier 1</group>\n"
    "      <timeout seconds=\"45\" action=\"queue\" target=\"Backup\"/>\n"
    "      <overflow calls=\"2\" candidate=\"oldest\" action=\"voicemail\" "
    "target=\"sip:vm@contoso.com\"/></queue>\n"
    "    <hoursSet name=\"Redmond\" timeZone=\"America/Los_Angeles\">\n"
    "      <range days=\"mon-fri\" open=\"08:00\" close=\"12:00\"/>\n"
    "      <range days=\"sat\" open=\"10:00\" close=\"14:00\"/>\n"
    "    </hoursSet>\n"
    "    <holidaySet name=\"US 2027\"><holiday name=\"Spring Day\" start=\"2027-01-05T00:00\" "
    "end=\"2027-01-06T00:00\"/></holidaySet>\n"
    "    <workflow name=\"Desk\" uri=\"sip:desk@contoso.com\" queue=\"Desk\" hours=\"Redmond\" "
    "holidays=\"US 2027\" welcome=\"w.wav\">\n"
    "      <afterHours action=\"voicemail\" target=\"sip:vm-hours@contoso.com\"/>\n"
    "      <holidayAction action=\"forward\" target=\"tel:+14255550111\" prompt=\"holiday.wav\"/>\n"
    "    </workflow>\n"
    "</responseGroups></callroute>\n";

/* Timelines are cut at 10^6 s (11.6 days): an unanswered call in a queue without a timeout
 * rings agents every alertTime seconds for as long as the timeline lasts, so a line at
 * 342034199 s ran 2.6e7 rounds (libFuzzer timeout; `callroute simulate` prints them all). */
#define MAX_SPAN_MS 1000000000LL

static cr_rgs_config *load_config(void)
{
    char path[] = "/tmp/crfuzzevXXXXXX.xml";
    int fd = mkstemps(path, 4);
    if (fd < 0)
        abort();
    if (write(fd, config_xml, sizeof config_xml - 1) != (ssize_t)(sizeof config_xml - 1))
        abort();
    close(fd);
    cr_rgs_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_rgs_xml_load(path, &cfg, &d);
    unlink(path);
    for (size_t i = 0; rc != CR_OK && i < d.count; i++) {
        char line[512];
        cr_diag_format(&d, i, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    cr_diag_free(&d);
    if (rc != CR_OK || !cfg)
        abort(); /* the fixed configuration must load */
    return cfg;
}

/* Actions and log lines are read in full, so that a dangling or unterminated string shows. */
static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    size_t *n = ud;
    if (at < 0 || !call || !action || !args)
        abort();
    *n += strlen(call) + strlen(action) + strlen(args);
}

static void on_log(void *ud, int64_t at, const char *line)
{
    size_t *n = ud;
    if (at < 0 || !line)
        abort();
    *n += strlen(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cr_rgs_config *cfg;
    if (!cfg)
        cfg = load_config();
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    size_t seen = 0;
    /* Monday 2027-01-04T09:00:00Z, the command line's default start */
    cr_rgs_engine_options opt = {.start_unix_ms = 1799053200000LL, .log = on_log, .log_ud = &seen};
    cr_rgs_engine *e = NULL;
    char err[512];
    if (cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err) != CR_OK)
        abort();
    int64_t last = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        const char *q = line + strspn(line, " \t"), *rest;
        if (*q == '#' || *q == '\r' || !*q)
            continue;
        int64_t at = cr_sim_parse_seconds(q, &rest);
        if (at < 0 || at < last)
            break; /* the command line stops at such a line */
        if (at > MAX_SPAN_MS)
            break; /* a call nobody answers rings round after round: work grows with time */
        last = at;
        cr_rgs_engine_advance(e, at, emit, &seen);
        cr_rgs_event ev;
        if (cr_rgs_event_parse(rest + strspn(rest, " \t"), &ev, err, sizeof err) != CR_OK) {
            if (!memchr(err, 0, sizeof err))
                abort();
            break;
        }
        cr_rgs_engine_event(e, at, &ev, emit, &seen, err, sizeof err);
    }
    /* the timers run on for a while (a call nobody answers rings agents round after round
     * for ever: the command line's bound, 10^6 deadlines, would make inputs slow) */
    for (int i = 0; i < 300; i++) {
        int64_t d = cr_rgs_engine_next_deadline(e);
        if (d < 0)
            break;
        if (d < last)
            abort(); /* a deadline in the past would never be reached */
        cr_rgs_engine_advance(e, d, emit, &seen);
        last = d;
    }
    for (size_t q = 0; q < cfg->nqueues; q++) {
        cr_rgs_queue_stats st;
        if (cr_rgs_engine_queue_stats(e, q, last, &st) == CR_OK && st.answered > st.entered)
            abort();
    }
    cr_rgs_engine_close(e);
    free(text);
    return 0;
}
