/*
 * The help of the command line: `callroute --help` and `callroute COMMAND --help`. The man
 * page (callroute.1) is generated from these texts.
 */
#include "opts.h"

#include <string.h>

static const struct {
    const char *cmd, *text;
} help[] = {
    {"check", "usage: callroute check --config FILE [--db DIR] [--include-dir DIR]...\n"
              "                       [--max-wait SECONDS] [--json]\n"
              "  Validates and lints a configuration: errors and warnings name file:line and\n"
              "  the object. --db also checks the users of an LMDB directory against it.\n"
              "  --max-wait: the longest a caller may wait in a response group on the proxy\n"
              "  (the Kamailio module's rgs_max_wait; default 600, 0 = do not check): a queue\n"
              "  whose <timeout> is longer gets a warning.\n"
              "  Exit status: 0 valid (maybe with warnings), 2 refused.\n"},
    {"normalize",
     "usage: callroute normalize --config FILE --profile NAME NUMBER [--include-dir DIR]...\n"
     "                           [--json]\n"
     "  Normalizes NUMBER with the location profile NAME (the default profile without\n"
     "  --profile). Exit status: 0 normalized, 1 not a number, 2 no such profile.\n"},
    {"route",
     "usage: callroute route --config FILE --from SIP_URI NUMBER [--db DIR] [--json] [--trace]\n"
     "                       [--down GW]... [--include-dir DIR]...\n"
     "       callroute route --config FILE --from SIP_URI --batch FILE|- [--spread] [--down "
     "GW]...\n"
     "  The outbound decision for a call from --from to NUMBER, with its trace (--json\n"
     "  --trace: the JSON with a \"trace\" list of those lines). --down GW\n"
     "  (repeatable, or GW1,GW2) treats configured gateways as down; an unknown name is an\n"
     "  error. --batch: one number per line, one JSON line per number carrying \"input\";\n"
     "  blank and '#' lines are printed back as they are. Each line is decided from a fresh\n"
     "  load-spreading state (the same number gets the same gateway order wherever it\n"
     "  stands) unless --spread carries the state from line to line as a live server does.\n"
     "  Answers are written before the program waits for more input: a program may feed\n"
     "  numbers through a pipe and read each answer before it sends the next.\n"
     "  Exit status: 0 outbound or internal (every line), 1 blocked or not applicable,\n"
     "  2 usage or configuration error.\n"},
    {"dial", "usage: callroute dial --config FILE --profile NAME DIGITS [--json] [--trace]\n"
             "                      [--include-dir DIR]...\n"
             "  Off-hook dialing: complete, need_more or no_match (exit status 1). --trace:\n"
             "  the rule that decided (with --json, a \"trace\" list).\n"},
    {"simulate",
     "usage: callroute simulate --config FILE [--start ISO-8601-UTC] [--state DIR]\n"
     "                          [--until SECONDS] [--log FILE] [--stats [--service-level N]]\n"
     "                          [--json] EVENTS\n"
     "  Replays a timeline of response-group events and prints every action as\n"
     "  \"<seconds.mmm> <call-id> <action> <args...>\". EVENTS: \"<seconds> <event> <args...>\"\n"
     "  per line; '#' comments; the headers \"#! config FILE\" (relative to EVENTS; used\n"
     "  when --config is not given) and \"#! start ISO-8601-UTC\" (when --start is not).\n"
     "  After the last event timers run until --until, or until nothing but periodic\n"
     "  re-offers to agents is left (stderr says so); with --state the run stops at the\n"
     "  last event. --stats prints per-queue figures at the end (average wait of answered\n"
     "  and of abandoned calls, service level: answered within --service-level N seconds,\n"
     "  default 20, over the calls that ended) and per-agent figures.\n"},
    {"inbound",
     "usage: callroute inbound --config FILE [--db DIR] --from URI TO [--endpoint URI]...\n"
     "                         [--gateway GW] [--json]\n"},
    {"bench", "usage: callroute bench (--config FILE | --generate routes=N,rules=M,users=U)\n"
              "                       [--baseline OLD/libcallroute-bench.so [--runs N]]\n"
              "       callroute bench --rgs [--agents N --groups G --waiting W | --model NAME]\n"
              "                             [--text] [--baseline LIB [--runs N]]\n"},
    {"test",
     "usage: callroute test [--config FILE] [--db DIR] [--verbose] CASES...\n"
     "  Runs test cases and prints the failures and a count (--verbose: every case).\n"
     "  CASES: one case a line, '#' comments; values with spaces in double quotes:\n"
     "    route FROM NUMBER [down=GW,...] => DECISION [key=value]...\n"
     "      DECISION: outbound, internal, blocked or not_applicable; keys: normalized,\n"
     "      profile, rule, target, reason (a part of it), gateways (the attempt order\n"
     "      A,B,C), first (the first gateway), route and usage (of the first attempt)\n"
     "    normalize PROFILE NUMBER => NORMALIZED\n"
     "    dial PROFILE DIGITS => complete|need_more|no_match\n"
     "    simulate EVENTS [EXPECTED]   (EXPECTED: EVENTS' .expected, or its '#expect' lines)\n"
     "  A CASES argument ending in .events is one simulate case. Paths are relative to the\n"
     "  CASES file; each route case starts from a fresh load-spreading state. A word the\n"
     "  format does not know (a down= name that is no gateway, a key, a decision, an\n"
     "  answer) or a missing EVENTS file is a CASES error naming FILE:LINE.\n"
     "  Exit status: 0 all passed, 1 a case failed, 2 usage, configuration or CASES error.\n"},
    {"diff",
     "usage: callroute diff --config OLD --config NEW [--from URI]... [--numbers FILE |\n"
     "                      --generate N]\n"
     "  What a reload from OLD to NEW changes: every number is decided by both, from every\n"
     "  --from caller (default: the users of both, one per distinct voice policy, location\n"
     "  profile and Enterprise Voice flag; without users an unknown caller, and stderr\n"
     "  warns), and each difference in decision, normalized number, target or gateway\n"
     "  order is printed (- OLD, + NEW). --numbers FILE: one NUMBER or \"FROM NUMBER\" a\n"
     "  line; else --generate N (default 2000) numbers of the shapes people dial and up to\n"
     "  4 numbers sampled from every rule and route pattern of both (20000 at most).\n"
     "  Exit status: 0 no difference, 1 differences, 2 usage or configuration error.\n"},
    {"users", "usage: callroute users import --db DIR FILE [--replace] [--owner USER[:GROUP]]\n"
              "                              [--json]\n"
              "       callroute users export --db DIR [FILE|-] [--format xml|csv]\n"
              "       callroute users list --db DIR | show|remove --db DIR URI  [--json]\n"},
    {"compile",
     "usage: callroute compile --config FILE -o PLAN [--include-dir DIR]...\n"
     "                         [--owner USER[:GROUP]]\n"
     "  Validates a configuration (XML, or a plan image) and writes its compiled plan\n"
     "  image to PLAN: one checksummed block that every command, cr_open and the Kamailio\n"
     "  modparam `config` accept in place of the XML, without parsing it. PLAN is written\n"
     "  with mode 0640: --owner gives it to the SIP server's user (kamailio:kamailio) when\n"
     "  it is compiled as root. Exit status: 0 written, 2 configuration refused (as check),\n"
     "  usage or I/O error.\n"},
};

void cr_cli_help(const char *cmd, FILE *f)
{
    for (size_t i = 0; cmd && i < sizeof help / sizeof *help; i++)
        if (strcmp(cmd, help[i].cmd) == 0) {
            fputs(help[i].text, f);
            return;
        }
    fputs("usage: callroute COMMAND [options]\n"
          "  check     --config FILE [--json]                 validate and lint\n"
          "  normalize --config FILE --profile NAME NUMBER [--json]\n"
          "  route     --config FILE --from SIP_URI NUMBER [--json] [--down GW]... [--trace]\n"
          "  route     --config FILE --from SIP_URI --batch FILE [--spread] [--down GW]...\n"
          "  dial      --config FILE --profile NAME DIGITS [--json]\n"
          "  inbound   --config FILE [--db DIR] --from URI TO [--gateway GW] [--json]\n"
          "  simulate  --config FILE [--start ISO-8601-UTC] [--state DIR] [--until S] EVENTS\n"
          "  bench     --config FILE | --generate routes=N,rules=M,users=U  [--json]\n"
          "  bench     --rgs [--agents N --groups G --waiting W | --model ocs2007r2 --scale K]\n"
          "  users     import|export|list|show|remove --db DIR ...\n"
          "  test      [--config FILE] CASES...               run test cases (pass/fail)\n"
          "  diff      --config OLD --config NEW [--numbers FILE | --generate N]\n"
          "  compile   --config FILE -o PLAN                  write a plan image\n"
          "Global: --library PATH (libcallroute.so to load; or CALLROUTE_LIBRARY),\n"
          "  --version (the CLI's, and the library's version and ABI), -h/--help\n"
          "`callroute COMMAND --help` describes each command.\n"
          "check, normalize, route, dial, compile: --include-dir DIR (repeatable) lets\n"
          "  <include href> reach DIR besides the configuration's own directory\n"
          "Exit status: 0 success, 1 decision or validation failed, 2 usage or configuration "
          "error.\n",
          f);
}
