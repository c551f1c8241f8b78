#!/usr/bin/env python3
"""Checks the module's queue event log (rgs_log) and engine timeline (rgs_events) of a
response-group load run (tests/e2e/rgs_load.sh):

  rgs_load_check.py QUEUE_LOG EVENTS [CALLS]

- every call that entered a queue has exactly one end (connected, timeout, abandoned,
  no_agents, overflow), and none is connected twice; CALLS (optional) calls entered;
- no agent is offered a call while it rings for another one or is on a call: busy from its
  `offered` to its `no_answer` / `declined` / `withdrawn`, to the end of the call it rang
  for (timeout, abandoned), or, once `connected`, to the call's hangup in the timeline;
- first in, first out per queue: calls are first offered in the order they entered.
Prints a summary; exits 1 with the first problems found."""
import re
import sys

LINE = re.compile(r"^(\d+\.\d+) (\w+)(.*)$")
KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse_log(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f):
            m = LINE.match(line.strip())
            if not m:
                continue
            kv = {k: v.strip('"') for k, v in KV.findall(m.group(3))}
            out.append((float(m.group(1)), 1, n, m.group(2), kv))
    return out


def parse_events(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f):
            if line.startswith("#"):
                continue
            p = line.split()
            if len(p) >= 3 and p[1] in ("hangup", "agent_hangup"):
                out.append((float(p[0]), 0, n, "end_" + p[1], {"call": p[2]}))
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    items = sorted(parse_log(sys.argv[1]) + parse_events(sys.argv[2]))
    errors = []
    entered, order, ends, connected = {}, {}, {}, {}
    first_offer = []
    offered_calls = set()
    busy = {}  # agent -> (call, since, "ringing" | "talking")
    ringing = {}  # call -> set of agents
    stats = {"offered": 0, "connected": 0, "timeout": 0, "abandoned": 0}

    def err(msg):
        if len(errors) < 20:
            errors.append(msg)

    for t, _, _, kind, kv in items:
        call, agent, queue = kv.get("call"), kv.get("agent"), kv.get("queue", "")
        if kind == "enter":
            if call in entered:
                err("%.3f %s entered twice" % (t, call))
            entered[call] = queue
            order.setdefault(queue, {})[call] = len(order.setdefault(queue, {}))
        elif kind == "offered":
            stats["offered"] += 1
            if agent in busy and busy[agent][0] != call:
                b = busy[agent]
                err("%.3f %s offered %s while %s for %s since %.3f" % (t, agent, call, b[2], b[0], b[1]))
            busy[agent] = (call, t, "ringing")
            ringing.setdefault(call, set()).add(agent)
            if call not in offered_calls:
                offered_calls.add(call)
                first_offer.append((queue, call))
        elif kind in ("no_answer", "declined", "withdrawn"):
            if busy.get(agent, (None,))[0] == call:
                del busy[agent]
            ringing.get(call, set()).discard(agent)
        elif kind == "connected":
            stats["connected"] += 1
            connected[call] = connected.get(call, 0) + 1
            if connected[call] > 1:
                err("%.3f %s bridged twice" % (t, call))
            ends[call] = ends.get(call, 0) + 1
            for a in ringing.pop(call, set()):
                if a != agent and busy.get(a, (None,))[0] == call:
                    del busy[a]
            busy[agent] = (call, t, "talking")
        elif kind in ("timeout", "abandoned", "no_agents", "overflow"):
            stats[kind] = stats.get(kind, 0) + 1
            ends[call] = ends.get(call, 0) + 1
            for a in ringing.pop(call, set()):
                if busy.get(a, (None,))[0] == call:
                    del busy[a]
        elif kind.startswith("end_"):
            for a, b in list(busy.items()):
                if b[0] == call and b[2] == "talking":
                    del busy[a]

    for call in entered:
        if ends.get(call, 0) != 1:
            err("%s entered and ended %d times" % (call, ends.get(call, 0)))
    for queue, calls in order.items():
        last = -1
        for q, call in first_offer:
            if q != queue:
                continue
            i = calls.get(call, -1)
            if i < last:
                err("queue %s: %s (arrived #%d) offered after a call that arrived later (#%d)"
                    % (queue, call, i, last))
            last = max(last, i)
    if len(sys.argv) > 3 and len(entered) != int(sys.argv[3]):
        err("%d calls entered, %s expected" % (len(entered), sys.argv[3]))
    print("rgs_load_check: %d calls entered, %d offers, %d connected, %d timed out, %d abandoned"
          % (len(entered), stats["offered"], stats["connected"], stats["timeout"],
             stats["abandoned"]))
    for e in errors:
        print("rgs_load_check: " + e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
