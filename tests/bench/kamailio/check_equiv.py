#!/usr/bin/env python3
"""Equivalence check of tests/bench/kamailio_compare.sh: the decisions gen_plan.py's model
expects (expected.txt: caller dialed status normalized gateways) against
  cli  CALLROUTE PLAN.xml   callroute's own `route --batch`, one run per distinct caller
  log  KAMAILIO.log         the "CMPV caller dialed status normalized gateway backup" lines
                            compare.cfg logs with -A CMP_VERIFY (callroute, drouting or lcr)
Prints "checked N, mismatches M" (and the first mismatches); exits 1 on any mismatch."""
import collections
import json
import os
import subprocess
import sys


def load_expected(path):
    exp = collections.OrderedDict()
    for line in open(path):
        caller, dialed, st, norm, gws = line.split()
        exp[(caller, dialed)] = (int(st), "" if norm == "-" else norm,
                                 [] if gws == "-" else gws.split(","))
    return exp


def got_cli(exp, cli, plan):
    by_caller = collections.defaultdict(list)
    for caller, dialed in exp:
        by_caller[caller].append(dialed)
    got = {}
    env = dict(os.environ, CALLROUTE_QUIET="1")
    for caller, nums in by_caller.items():
        out = subprocess.run([cli, "route", "--config", plan, "--from",
                              "sip:%s@contoso.com" % caller, "--batch", "-"],
                             input="".join(n + "\n" for n in nums), capture_output=True,
                             text=True, env=env).stdout.splitlines()
        if len(out) != len(nums):
            sys.exit("callroute route --batch: %d answers for %d numbers" % (len(out), len(nums)))
        for n, line in zip(nums, out):
            j = json.loads(line)
            st = {"outbound": 200, "blocked": 403, "not_applicable": 404}.get(j["decision"], 500)
            got[(caller, n)] = (st, j.get("normalized") or "",
                                [a["gateway"] for a in j.get("attempts", [])])
    return got


def got_log(path):
    got = {}
    for line in open(path, errors="replace"):
        i = line.find("CMPV ")
        if i < 0:
            continue
        f = line[i + 5:].rstrip("\n").split(" ", 5)
        caller, dialed, st, norm, gw = f[:5]
        backup = f[5] if len(f) > 5 else "-"
        # the backup as each setup logs it: callroute's $callroute(next_gateway) (a plain
        # name), drouting's attrs, lcr's gw_uri AVP (tag 5th)
        if "|" in backup:
            backup = backup.split("|")[4]
        norm = "" if norm in ("-", "<null>") else norm
        gws = [g for g in (gw, backup) if g not in ("-", "<null>", "")]
        got[(caller, dialed)] = (int(st), norm, gws)
    return got


def main():
    exp = load_expected(sys.argv[2])
    got = got_cli(exp, sys.argv[3], sys.argv[4]) if sys.argv[1] == "cli" else got_log(sys.argv[3])
    bad = []
    for k, e in exp.items():
        g = got.get(k)
        if g is None:
            bad.append("%s %s: no decision (expected %s)" % (k[0], k[1], e))
            continue
        # a refused call's gateways are empty; normalized is compared when routed or blocked
        if g[0] != e[0] or (e[0] != 404 and g[1] != e[1]) or g[2] != e[2]:
            bad.append("%s %s: got %s, expected %s" % (k[0], k[1], g, e))
    print("checked %d decisions, %d mismatches" % (len(exp), len(bad)))
    for b in bad[:10]:
        print("  " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
