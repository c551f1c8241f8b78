#!/usr/bin/env python3
"""Checks a soak run: where every call landed against `callroute route`, the reloads, the
malformed INVITEs and Kamailio's memory; prints the summary, exits 0 only when all is clean.

    verify.py --dir RUNDIR --holdoff S --fr-timer S --shm-bound BYTES --pkg-bound BYTES

RUNDIR holds what soak.sh collected:
  calls.log        sipp's -trace_logs: "sent CID CALLER NUMBER T", "final CID CALLER NUMBER T CODE"
  gateways.log     gateway.py's log: "inv T ENDPOINT ACTION CID RURI", "phase T ENDPOINT PHASE"
  decisions.jsonl  one line per distinct (caller, number): {"caller", "number", "decision": {...}}
                   where decision is `callroute route --config GOOD --from sip:CALLER@contoso.com
                   NUMBER --json`
  reloads.log      "reload T good|broken VARIANT accepted|refused|empty"
  malformed.json   malformed.py's summary
  mem-start.txt, mem-end.txt   kamcmd core.shmmem and pkg.stats output; rss-*.txt VmRSS (kB)
  endpoints.txt    "ENDPOINT GATEWAY-or-USER-URI" per line (GW-A, sip:bob@contoso.com, ...)

A call is routed correctly when the endpoints its INVITEs reached are the decision's attempts
in order, where an attempt may be passed over only while its gateway was down (it failed a
call - 503, or silence until tm's fr_timer - less than the hold-off before), every attempt but
the last one reached failed, and the caller's final answer is the last one's (200; 500 for
a 503, as tm never relays a 503; 408 for silence); a call no gateway took is answered 403
only when it is blocked or every attempt's gateway was down; internal calls reach their
user's phone; blocked ones get 403, not_applicable 404. A call whose first INVITE reached a
gateway well inside its hold-off (decided while it was down) is mis-routed too.
"""
import argparse
import collections
import json
import os
import re
import sys

SLACK = 1.0  # seconds between the clocks of sipp, Kamailio's decision and the gateways


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [line.rstrip("\n") for line in f]


def sipp_time(text):
    """sipp prints gettimeofday's two numbers as doubles: "1796317042.000000.812470.000000"
    (and once printed "1796318603.000000." for a call whose microseconds were 0)."""
    p = text.split(".")
    if len(p) >= 3:  # an empty microseconds part has been seen: count it as 0
        return int(p[0]) + (int(p[2]) if p[2].isdigit() else 0) / 1e6
    return float(text)


def load_calls(d, name):
    sent, final = {}, {}
    for line in read_lines(os.path.join(d, name)):
        p = line.split()
        if len(p) >= 5 and p[0] == "sent":
            sent[p[1]] = (p[2], p[3], sipp_time(p[4]))
        elif len(p) >= 6 and p[0] == "final":
            final.setdefault(p[1], (sipp_time(p[4]), p[5]))
    return sent, final


def load_landings(d):
    landings = collections.defaultdict(list)
    for line in read_lines(os.path.join(d, "gateways.log")):
        p = line.split("\t")
        if p[0] == "inv" and len(p) >= 6:
            landings[p[4]].append((float(p[1]), p[2], p[3], p[5]))
    for v in landings.values():
        v.sort()
    return landings


class DownWindows:
    """When each gateway was marked down: a failure at time t makes it down until t+holdoff.
    A 503 fails at the INVITE; silence fails when Kamailio moved on: the call's next INVITE
    at another gateway, else the caller's final answer, else fr_timer after the INVITE."""

    def __init__(self, landings, finals, endpoint_gw, holdoff, fr_timer):
        self.holdoff = holdoff
        self.fr_timer = fr_timer
        self.fails = collections.defaultdict(list)
        for cid, calls in landings.items():
            for k, (t, ep, action, _) in enumerate(calls):
                if action == "503":
                    t_fail = t
                elif action == "silent":
                    if k + 1 < len(calls):
                        t_fail = calls[k + 1][0]
                    elif cid in finals:
                        t_fail = finals[cid][0]
                    else:
                        t_fail = t + fr_timer
                else:
                    continue
                self.fails[endpoint_gw.get(ep, ep)].append(t_fail)
        for v in self.fails.values():
            v.sort()

    def _near(self, gw, lo, hi):
        return any(lo <= f <= hi for f in self.fails.get(gw, ()))

    def maybe_down(self, gw, lo, hi=None):
        """Could gw have been down at some time in [lo, hi] (a failure in
        [lo - holdoff - slack, hi + slack])?"""
        return self._near(gw, lo - self.holdoff - SLACK, (lo if hi is None else hi) + SLACK)

    def surely_down(self, gw, t):
        """Was gw down at t beyond any clock skew (a failure well inside the hold-off)?"""
        if self.holdoff <= 2 * SLACK:
            return False
        return self._near(gw, t - self.holdoff + SLACK, t - SLACK)


def final_for(action):
    """The caller's answer when the last gateway did `action`: tm never relays a 503
    upstream, it sends 500 instead (RFC 3261 16.7, step 6); silence ends in tm's 408."""
    return {"200": "200", "503": "500", "silent": "408"}.get(action)


def check_outbound(attempts, lands, final, sent_t, down):
    """Returns None when the call went where the decision says, else why not."""
    gws = [a["gateway"] for a in attempts]
    uris = {a["gateway"]: a["uri"] for a in attempts}
    idx = 0
    # Kamailio decides between the caller's INVITE (sent_t; later when sipp had to retransmit
    # it) and the first gateway's INVITE, which it sends at once: [t_prev, t] brackets it.
    t_prev = sent_t
    for k, (t, gw, action, ruri) in enumerate(lands):
        if gw not in gws[idx:]:
            return "reached %s, not a remaining attempt of %s" % (gw, gws)
        j = gws.index(gw, idx)
        for skipped in gws[idx:j]:
            if not down.maybe_down(skipped, t_prev, t):
                return "passed over %s while it was up (at %.3f)" % (skipped, t)
        if k == 0 and down.surely_down(gw, t):
            return "first INVITE to %s while it was down (hold-off)" % gw
        if ruri.split(";")[0] != uris[gw].split(";")[0]:
            return "%s received Request-URI %s, decision says %s" % (gw, ruri, uris[gw])
        if k < len(lands) - 1 and action == "200":
            return "%s answered 200 but the call went on to another gateway" % gw
        t_prev = lands[k + 1][0] if k + 1 < len(lands) else (
            final[0] if final is not None else t + down.fr_timer)
        idx = j + 1
    if final is None:
        return None  # counted as "no final answer" by the caller
    code = final[1]
    if not lands:
        if code == "403" and all(down.maybe_down(g, sent_t, final[0]) for g in gws):
            return None
        return "no gateway reached, final %s; attempts %s" % (code, gws)
    last = lands[-1]
    want = final_for(last[2])
    if code != want:
        return "final %s but the last gateway (%s) did %s" % (code, last[1], last[2])
    if code != "200":
        for rest in gws[idx:]:
            if not down.maybe_down(rest, t_prev):
                return "final %s without trying %s (up)" % (code, rest)
    return None


def check_call(dec, lands, final, sent_t, down, user_ep):
    kind = dec["decision"]
    if kind == "outbound":
        gw_lands = [(t, user_ep.get(ep, ep), a, r) for t, ep, a, r in lands]
        return check_outbound(dec["attempts"], gw_lands, final, sent_t, down)
    if kind == "internal":
        eps = [user_ep.get(ep, ep) for _, ep, _, _ in lands]
        if eps != [dec["target"]]:
            return "internal to %s but reached %s" % (dec["target"], eps or "nobody")
        if final is not None and final[1] != "200":
            return "internal call answered %s" % final[1]
        return None
    want = {"blocked": "403", "not_applicable": "404"}.get(kind, "?")
    if lands:
        return "%s but reached %s" % (kind, [ep for _, ep, _, _ in lands])
    if final is not None and final[1] != want:
        return "%s but answered %s" % (kind, final[1])
    return None


def parse_mem(path):
    """-> (shm dict, {pid: pkg used}) from kamcmd core.shmmem + pkg.stats output."""
    shm, pkg, pid = {}, {}, None
    section = None
    for line in read_lines(path):
        s = line.strip()
        if s.startswith("== "):
            section = s[3:]
            continue
        m = re.match(r"^(\w+):\s*(-?\d+)$", s)
        if not m:
            continue
        k, v = m.group(1), int(m.group(2))
        if section == "core.shmmem":
            shm[k] = v
        elif section == "pkg.stats":
            if k == "pid":
                pid = v
            elif k == "used" and pid is not None:
                pkg[pid] = v
    return shm, pkg


def rss(path):
    total = 0
    for line in read_lines(path):
        p = line.split()
        if len(p) == 2 and p[1].isdigit():
            total += int(p[1])
    return total


def summarize(args, out):
    d = args.dir
    bad = []
    sent, final = load_calls(d, "calls.log")
    warm_sent, warm_final = load_calls(d, "warmup.log")
    landings = load_landings(d)
    endpoint_target = dict(line.split(None, 1) for line in read_lines(os.path.join(d, "endpoints.txt")))
    decisions = {}
    for line in read_lines(os.path.join(d, "decisions.jsonl")):
        o = json.loads(line)
        decisions[(o["caller"], o["number"])] = o["decision"]
    down = DownWindows(landings, dict(warm_final, **final), endpoint_target, args.holdoff,
                       args.fr_timer)

    codes = collections.Counter()
    kinds = collections.Counter()
    misrouted = []
    for cid, (caller, number, t) in sent.items():
        dec = decisions.get((caller, number))
        f = final.get(cid)
        codes[f[1] if f else "none"] += 1
        if dec is None:
            misrouted.append((cid, number, "no decision from callroute route"))
            continue
        kinds[dec["decision"]] += 1
        why = check_call(dec, landings.get(cid, []), f, t, down, endpoint_target)
        if why:
            misrouted.append((cid, "%s->%s" % (caller, number), why))
    stray = [cid for cid in landings if cid not in sent and cid not in warm_sent]
    malformed_landed = [cid for cid in stray if cid.startswith("soak-malformed-")]

    answered = codes.get("200", 0)
    out.append("calls placed: %d (%s)" % (len(sent), ", ".join(
        "%s %d" % (k, v) for k, v in sorted(kinds.items()))))
    out.append("answered: %d" % answered)
    reasons = {"403": "blocked (403)", "404": "not applicable (404)",
               "500": "gateway refused (503), no alternative: 500",
               "408": "gateway silent, no alternative (408)",
               "none": "no final answer"}
    failed = {k: v for k, v in codes.items() if k != "200"}
    out.append("not answered: %d%s" % (sum(failed.values()), "".join(
        "\n  %-40s %d" % (reasons.get(k, k), v) for k, v in sorted(failed.items()))))
    per_gw = collections.Counter()
    for calls in landings.values():
        for _, ep, action, _ in calls:
            per_gw["%s %s" % (ep, action)] += 1
    out.append("INVITEs received: " + ", ".join("%s %d" % kv for kv in sorted(per_gw.items())))
    out.append("mis-routed: %d" % len(misrouted))
    for m in misrouted[:20]:
        out.append("  %s %s: %s" % m)
    if misrouted:
        bad.append("mis-routed calls")
    if codes.get("none"):
        bad.append("calls without a final answer")
    if stray:
        out.append("INVITEs at gateways from no placed call: %d (malformed: %d) %s" % (
            len(stray), len(malformed_landed), stray[:5]))
        bad.append("stray INVITEs at gateways")

    rel = collections.Counter()
    for line in read_lines(os.path.join(d, "reloads.log")):
        p = line.split()
        if len(p) >= 5:
            rel[(p[2], p[4])] += 1
    out.append("reloads: good accepted %d, good refused %d, broken refused %d, broken accepted %d"
               % (rel[("good", "accepted")], rel[("good", "refused")],
                  rel[("broken", "refused")], rel[("broken", "accepted")]))
    empty = rel[("good", "empty")] + rel[("broken", "empty")]
    if empty:
        out.append("reloads answered with an empty RPC reply (kamcmd exit 0, neither reloaded nor "
                   "an error): good %d, broken %d" % (rel[("good", "empty")], rel[("broken", "empty")]))
    if rel[("good", "refused")] or rel[("broken", "accepted")] or not rel[("good", "accepted")] \
            or empty:
        bad.append("reloads")

    try:
        with open(os.path.join(d, "malformed.json")) as f:
            mal = json.load(f)
        out.append("malformed INVITEs sent: %d (%s), replies %d, reached a gateway %d" % (
            mal["sent"], ", ".join("%s %d" % kv for kv in sorted(mal["by_kind"].items())),
            mal["replies"], len(malformed_landed)))
    except (OSError, ValueError, KeyError):
        out.append("malformed INVITEs: no summary")
        bad.append("malformed sender")

    shm0, pkg0 = parse_mem(os.path.join(d, "mem-start.txt"))
    shm1, pkg1 = parse_mem(os.path.join(d, "mem-end.txt"))
    if "used" not in shm0 or "used" not in shm1:
        out.append("memory: core.shmmem missing")
        bad.append("memory figures")
    else:
        grow = shm1["used"] - shm0["used"]
        out.append("shm used: start %d, end %d (%+d bytes; real_used %d -> %d, bound %d)" % (
            shm0["used"], shm1["used"], grow, shm0.get("real_used", 0),
            shm1.get("real_used", 0), args.shm_bound))
        if grow > args.shm_bound:
            bad.append("shared memory grew by %d bytes" % grow)
    common = sorted(set(pkg0) & set(pkg1))
    if not common:
        out.append("pkg used: pkg.stats missing")
        bad.append("memory figures")
    else:
        g0 = sum(pkg0[p] for p in common)
        g1 = sum(pkg1[p] for p in common)
        worst = max(common, key=lambda p: pkg1[p] - pkg0[p])
        out.append("pkg used (%d processes): start %d, end %d (%+d bytes; most: pid %d %+d, "
                   "bound %d per process)" % (len(common), g0, g1, g1 - g0, worst,
                                              pkg1[worst] - pkg0[worst], args.pkg_bound))
        if pkg1[worst] - pkg0[worst] > args.pkg_bound:
            bad.append("pkg memory of pid %d grew by %d bytes" % (worst, pkg1[worst] - pkg0[worst]))
    r0, r1 = rss(os.path.join(d, "rss-start.txt")), rss(os.path.join(d, "rss-end.txt"))
    if r0 and r1:
        out.append("RSS of Kamailio's processes (library memory is malloc's): start %d kB, "
                   "end %d kB (%+d kB)" % (r0, r1, r1 - r0))
        series = [line.split()[1] for line in read_lines(os.path.join(d, "rss-series.txt"))
                  if len(line.split()) == 2]
        if series:
            out.append("RSS every 30 s under load (kB): " + " ".join(series))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--holdoff", type=float, required=True)
    ap.add_argument("--fr-timer", type=float, required=True)
    ap.add_argument("--shm-bound", type=int, required=True)
    ap.add_argument("--pkg-bound", type=int, required=True)
    args = ap.parse_args()
    out = []
    bad = summarize(args, out)
    for line in out:
        print("soak: " + line)
    if bad:
        print("soak: FAIL: " + "; ".join(bad))
        return 1
    print("soak: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
