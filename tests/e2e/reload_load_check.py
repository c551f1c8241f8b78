#!/usr/bin/env python3
"""The checker of the reload load test (tests/e2e/reload_load.sh, issue 14).

    reload_load_check.py --uac UAC_LOG --gw A=GW_A_LOG --gw B=GW_B_LOG --reloads RELOADS
                         [--kamailio KAMAILIO_LOG] [--sipp SIPP_STDOUT] [--children N]
                         [--sipp-errors SIPP_ERRORS] [--psx PSX] [--initial A]
                         [--meta KEY=VALUE]...

Inputs (every time is epoch seconds, CLOCK_REALTIME of the same machine):
  UAC_LOG   the caller's sipp log (scenarios/reload_uac.xml): "S CALL-ID SEC USEC" when an
            INVITE is sent, "A CALL-ID SEC USEC" when its 200 arrives;
  GW_x_LOG  gateway x's sipp log (scenarios/reload_gw.xml): "CALL-ID SEC USEC" per INVITE;
  RELOADS   one line per callroute.reload: "N PLAN T0 T1 RC GENERATION PUBLISHED", PLAN the
            gateway label of the file swapped in, T0/T1 when the RPC was sent / had returned,
            RC 0 when it was accepted, GENERATION and PUBLISHED (the image's ctime) or "-";
  KAMAILIO_LOG  for "callroute: pid P adopted generation G in X ms (at T_MS)", "callroute:
            pid P opened generation G (at T_MS)" (a SIP worker's first open: one that had
            not opened when a plan was published is not waited for), "callroute: reloaded
            ... (generation G) in X ms" (the reload in the library, without kamcmd's own
            start and connection: `library_ms`), the example configuration's line for a
            call it refused ("dialed N: blocked|not applicable ... (REASON)": counted by
            REASON, digits as 9) and the library's "gateway G failed (CODE): marked down";
  SIPP_STDOUT   the caller's final statistics (Successful call, Failed call, INVITE retrans);
  SIPP_ERRORS   the caller's -error_file: why sipp failed each call it counts failed, as
            "REASON: METHOD got STATUS" (a BYE answered 408 after an answered INVITE...);
  PSX       `kamcmd core.psx`: the SIP workers are the processes described "receiver child=";
            adoptions by other processes (the main process, timers) are reported apart.

A call is routed correctly when the plan of the gateway that got it was live at some moment
between the caller sending it and the gateway receiving it: plan k is live from the moment
its reload's RPC was sent (it cannot be published earlier) until the next reload's RPC had
returned (every worker has adopted by then). So a call sent after a reload returned must reach
the new plan's gateway; one already in flight may reach either. A call failed when its
INVITE was not answered 200 by a gateway (the caller logged no 200: refused by Kamailio,
timed out, or sipp gave up) or the 200 came from no gateway. Exit status 1 when a call
failed, reached more than one gateway or was mis-routed, or when a reload was refused; 0
otherwise. What happened after the answer (the BYE's own transaction, which never involves
callroute: a BYE answered 408 when the machine dropped the gateway's 200) is reported, as
"failed_after_answer" and sipp's "failed" count with its reasons, and does not fail the test.
Prints readable lines, then one JSON line.
"""
import argparse
import json
import os
import re
import sys

ADOPTED = re.compile(r"callroute: pid (\d+) adopted generation (\d+) in (\d+) ms \(at (\d+)\)")
OPENED = re.compile(r"callroute: pid (\d+) opened generation (\d+) \(at (\d+)\)")
RELOADED = re.compile(r"callroute: reloaded .*\(generation (\d+)\)(?: in ([\d.]+) ms)?")
REFUSED = re.compile(r"dialed \S+: (blocked|not applicable)\b.*?\((.*)\)\s*$")
MARKED_DOWN = re.compile(r"callroute: gateway \S+ failed \((\d+)\): marked down")
INF = float("inf")


def read_times(path, prefixed):
    """{call-id: [times]} of a sipp log; with `prefixed`, {kind: {call-id: [times]}}."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if prefixed:
                if len(p) != 4 or p[0] not in ("S", "A"):
                    continue
                kind, cid, sec, usec = p
            else:
                if len(p) != 3:
                    continue
                kind, (cid, sec, usec) = None, p
            try:
                t = float(sec) + float(usec) / 1e6
            except ValueError:
                continue
            d = out.setdefault(kind, {}) if prefixed else out
            d.setdefault(cid, []).append(t)
    return out


def read_reloads(path):
    reloads = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) != 7:
                continue
            n, plan, t0, t1, rc, gen, pub = p
            reloads.append({"n": int(n), "plan": plan, "t0": float(t0), "t1": float(t1),
                            "rc": int(rc), "generation": None if gen == "-" else int(gen),
                            "published": None if pub == "-" else float(pub)})
    return reloads


def read_kamailio(path):
    """The adoptions by generation, the reloads' generations in order, the calls Kamailio
    refused and the gateways it marked down, counted by reason, and when each process first
    opened the plan ({pid: seconds}: a SIP worker opens at its first call)."""
    adoptions, reloaded, refused, opened = {}, [], {}, {}
    if not path:
        return adoptions, reloaded, refused, opened
    with open(path, errors="replace") as f:
        for line in f:
            m = REFUSED.search(line) or MARKED_DOWN.search(line)
            if m:
                key = ("%s: %s" % m.groups() if m.re is REFUSED
                       else "gateway marked down after %s" % m.group(1))
                key = re.sub(r"\d", "9", key)
                refused[key] = refused.get(key, 0) + 1
                continue
            m = ADOPTED.search(line)
            if m:
                pid, gen, work, at = (int(x) for x in m.groups())
                adoptions.setdefault(gen, []).append({"pid": pid, "work_ms": work, "at": at / 1000.0})
                continue
            m = OPENED.search(line)
            if m:
                pid, at = int(m.group(1)), int(m.group(3)) / 1000.0
                opened[pid] = min(opened.get(pid, INF), at)
                continue
            m = RELOADED.search(line)
            if m:
                reloaded.append((int(m.group(1)),
                                 float(m.group(2)) if m.group(2) is not None else None))
    return adoptions, reloaded, refused, opened


def read_sipp(path):
    s = {"successful": None, "failed": None, "invite_retrans": None}
    if not path:
        return s
    with open(path, errors="replace") as f:
        for line in f:
            cells = [c.strip() for c in line.split("|")]
            if len(cells) == 3 and cells[0] in ("Successful call", "Failed call"):
                key = "successful" if cells[0].startswith("Successful") else "failed"
                try:
                    s[key] = int(cells[2])
                except ValueError:
                    pass
            m = re.match(r"\s*INVITE -+>\s+(\d+)\s+(\d+)", line)
            if m:
                s["invite_retrans"] = int(m.group(2))
    return s


def read_workers(path):
    """The pids of Kamailio's SIP workers in `kamcmd core.psx` (None without the file)."""
    if not path:
        return None
    workers, pid = set(), None
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"\s*PID:\s*(\d+)", line)
            if m:
                pid = int(m.group(1))
            elif re.match(r"\s*DSC:.*receiver child=", line) and pid is not None:
                workers.add(pid)
    return workers


# the last "TIMESTAMP: REASON for Call-Id" of a line: sipp writes some warnings without an end
EVENT = re.compile(r".*\t\d+\.\d+: (.*?) for Call-Id '([^']+)'.*?received '([^\n]*)")


def read_sipp_errors(path):
    """{call-id: "REASON: METHOD got FIRST-LINE"} of the events in sipp's error file."""
    events, cur = {}, None
    if not path or not os.path.exists(path):  # sipp writes it on the first error only
        return events
    with open(path, errors="replace") as f:
        for line in f:
            m = EVENT.match(line)
            if m:
                reason, cid, first = m.groups()
                cur = cid
                events[cid] = [reason, "?", first.strip()]
                continue
            m = re.match(r"CSeq:\s*\d+\s+(\w+)", line)
            if m and cur is not None:
                events[cur][1] = m.group(1)
                cur = None
    return {cid: "%s: %s got %s" % tuple(e) for cid, e in events.items()}


def minmax(values):
    return {"min": round(min(values), 1), "max": round(max(values), 1)} if values else None


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 1)


def plan_intervals(reloads, initial):
    """[(gateway label, live from, live until)] from the initial plan and the reloads."""
    plans = [[initial, -INF, INF]]
    for r in reloads:
        plans[-1][2] = r["t1"]
        plan = r["plan"] if r["rc"] == 0 else plans[-1][0]
        plans.append([plan, r["t0"], INF])
    return plans


def check_calls(sent, answered, got, plans, reloads):
    """Per call: answered, at which gateway, routed by a live plan. Returns the counts, the
    offending call-ids and the answer times."""
    res = {"unanswered": [], "no_gateway": [], "several": [], "misrouted": [], "answer_ms": {}}
    per_reload = [{"old": 0, "new": 0} for _ in reloads]
    for cid, ts in sent.items():
        s = ts[0]
        if cid not in answered:
            res["unanswered"].append(cid)
        else:
            res["answer_ms"][cid] = (s, (answered[cid][0] - s) * 1000.0)
        hits = [(gw, t) for gw, calls in got.items() for t in calls.get(cid, [])]
        if not hits:
            if cid in answered:
                res["no_gateway"].append(cid)
            continue
        if len(hits) > 1:
            res["several"].append(cid)
        gw, r = hits[0]
        if not any(p == gw and s <= end and r >= start for p, start, end in plans):
            res["misrouted"].append((cid, gw, s, r))
        for i, rl in enumerate(reloads):
            # sent before reload i returned, received after it began: either plan may decide
            if s <= rl["t1"] and r >= rl["t0"]:
                per_reload[i]["new" if gw == plans[i + 1][0] else "old"] += 1
    return res, per_reload


def reload_report(i, rl, adoptions, reloaded, answer, children, workers, opened):
    gen = rl["generation"]
    if gen is None and i < len(reloaded):
        gen = reloaded[i][0]
    library_ms = next((ms for g, ms in reloaded if g == gen), None) if gen is not None else None
    every = adoptions.get(gen, []) if gen is not None else []
    ad = [a for a in every if workers is None or a["pid"] in workers]
    base = rl["published"] if rl["published"] is not None else rl["t0"]
    lat = {str(a["pid"]): round((a["at"] - base) * 1000.0, 1) for a in ad}
    others = {str(a["pid"]): round((a["at"] - base) * 1000.0, 1) for a in every if a not in ad}
    around = [ms for s, ms in answer.values() if rl["t0"] - 1.0 <= s <= rl["t1"] + 1.0]
    # A SIP worker that had not opened the plan when the new one was published (parked until
    # its first call) held no plan to leave: it opens the new one. When the library logs the
    # opens, the workers that must adopt are those that had opened before the publication.
    idle = []
    if opened and workers is not None:
        idle = sorted(w for w in workers if opened.get(w, INF) >= base)
        held = set(workers) - set(idle)
        every_one = bool(ad) and held <= {a["pid"] for a in ad}
    else:
        every_one = bool(ad) and len(ad) >= children
    return {
        "n": rl["n"], "to": rl["plan"], "accepted": rl["rc"] == 0, "generation": gen,
        "rpc_ms": round((rl["t1"] - rl["t0"]) * 1000.0, 1),
        "library_ms": library_ms,
        "published_after_ms": (round((rl["published"] - rl["t0"]) * 1000.0, 1)
                               if rl["published"] is not None else None),
        "adopted": len(ad),
        "adoption_after_publication_ms": minmax(list(lat.values())),
        "adoption_work_ms": minmax([a["work_ms"] for a in ad]),
        "per_worker_ms": lat,
        "other_processes_ms": others,
        "held_no_plan": idle,
        "all_within_100ms": every_one and max(lat.values()) <= 100.0,
        "answer_max_ms": round(max(around), 1) if around else None,
        "calls_around": len(around),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uac", required=True)
    ap.add_argument("--gw", action="append", required=True, metavar="LABEL=LOG")
    ap.add_argument("--reloads", required=True)
    ap.add_argument("--kamailio")
    ap.add_argument("--sipp")
    ap.add_argument("--sipp-errors")
    ap.add_argument("--children", type=int, default=0)
    ap.add_argument("--psx")
    ap.add_argument("--initial", default="A")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()

    uac = read_times(a.uac, True)
    sent, answered = uac.get("S", {}), uac.get("A", {})
    got = {}
    for spec in a.gw:
        label, _, path = spec.partition("=")
        got[label] = read_times(path, False)
    reloads = read_reloads(a.reloads)
    adoptions, reloaded, refused, opened = read_kamailio(a.kamailio)
    sipp = read_sipp(a.sipp)
    errors = read_sipp_errors(a.sipp_errors)
    plans = plan_intervals(reloads, a.initial)
    res, during = check_calls(sent, answered, got, plans, reloads)
    answer = res["answer_ms"]
    windows = [(r["t0"] - 1.0, r["t1"] + 1.0) for r in reloads]
    outside = [ms for s, ms in answer.values() if not any(lo <= s <= hi for lo, hi in windows)]
    workers = read_workers(a.psx)
    reps = [reload_report(i, rl, adoptions, reloaded, answer, a.children, workers, opened)
            for i, rl in enumerate(reloads)]
    for rep, fl in zip(reps, during):
        rep["during_reload"] = fl

    failed = sipp["failed"] or 0
    bad = (res["unanswered"] or res["no_gateway"] or res["several"] or res["misrouted"]
           or any(r["rc"] != 0 for r in reloads) or not sent)
    summary = {}
    for kv in a.meta:
        k, _, v = kv.partition("=")
        summary[k] = int(v) if v.isdigit() else v
    all_ms = [ms for _, ms in answer.values()]
    summary.update({
        "calls": len(sent), "answered": sum(1 for cid in sent if cid in answered),
        "answers_without_invite": sum(1 for cid in answered if cid not in sent),
        "failed": len(res["unanswered"]) + len(res["no_gateway"]),
        "failed_after_answer": sum(1 for cid in errors if cid in answered),
        "sipp_failed": failed,
        "sipp_errors": {k: sum(1 for v in errors.values() if v == k)
                        for k in sorted(set(errors.values()))},
        "kamailio_refused": refused,
        "unanswered": len(res["unanswered"]), "no_gateway": len(res["no_gateway"]),
        "several_gateways": len(res["several"]), "misrouted": len(res["misrouted"]),
        "per_gateway": {k: len(v) for k, v in got.items()},
        "invite_retransmissions": sipp["invite_retrans"],
        "answer_ms": {"p50": percentile(all_ms, 0.5), "p99": percentile(all_ms, 0.99),
                      "max": round(max(all_ms), 1) if all_ms else None,
                      "max_away_from_reloads": round(max(outside), 1) if outside else None},
        "reloads_every_worker_within_100ms": sum(1 for r in reps if r["all_within_100ms"]),
        "reloads": reps,
        "result": "FAIL" if bad else "PASS",
    })
    for cid, gw, s, r in res["misrouted"][:10]:
        print(f"reload_load: mis-routed: {cid} sent at {s:.6f} reached {gw} at {r:.6f}",
              file=sys.stderr)
    for key in ("unanswered", "no_gateway", "several"):
        for cid in res[key][:10]:
            print(f"reload_load: {key.replace('_', ' ')}: {cid}", file=sys.stderr)
    print("reload_load: %d calls: %d answered, %d failed, %d mis-routed, %d at several gateways; "
          "%d failed after the answer (sipp: %s); refused by Kamailio: %s"
          % (summary["calls"], summary["answered"], summary["failed"], summary["misrouted"],
             summary["several_gateways"], summary["failed_after_answer"],
             summary["sipp_errors"] or "-", refused or "-"))
    for rep in reps:
        ad = rep["adoption_after_publication_ms"]
        print("reload_load: reload %d to %s: rpc %.0f ms (%s in the library), %d workers adopted "
              "%s ms after publication (work %s ms)%s, answers around it at most %s ms"
              % (rep["n"], rep["to"], rep["rpc_ms"],
                 "%.0f ms" % rep["library_ms"] if rep["library_ms"] is not None else "?",
                 rep["adopted"],
                 "%.0f-%.0f" % (ad["min"], ad["max"]) if ad else "?",
                 "%.0f-%.0f" % (rep["adoption_work_ms"]["min"], rep["adoption_work_ms"]["max"])
                 if rep["adoption_work_ms"] else "?",
                 "; %d had not opened the plan yet" % len(rep["held_no_plan"])
                 if rep["held_no_plan"] else "", rep["answer_max_ms"]))
    print(json.dumps(summary, sort_keys=False))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
