#!/usr/bin/env python3
"""The soak test's gateways and phones: one process, one UDP socket per endpoint on 127.0.0.1.

    gateway.py --log FILE [--phase SECONDS] NAME:PORT:BEHAVIOUR ...

BEHAVIOUR is "ok" (answers every INVITE with 200, then takes ACK and BYE) or "cycle"
(answers 200, then refuses with 503, then stays silent, PHASE seconds each, round and round,
from the moment the process starts). Every INVITE an endpoint receives for the first time
(per Call-ID) is logged, with what the endpoint did, as one tab-separated line:

    inv  <epoch seconds>  <endpoint>  <200|503|silent>  <Call-ID>  <Request-URI>

and every phase change of a cycling endpoint as "phase <epoch> <endpoint> <200|503|silent>".
Retransmitted INVITEs get the answer the first one got; a 200 is retransmitted (0.5, 1, 2 s)
until its ACK arrives. Stops on SIGTERM/SIGINT (or after --max-seconds) with the log flushed.
"""
import argparse
import selectors
import signal
import socket
import sys
import time

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}
PHASES = ("200", "503", "silent")
STATE_TTL = 40.0  # seconds a call's state is kept (longer than any INVITE retransmission)


def parse(data):
    """Returns (first line, [(lower-case name, raw line)]) or None for what is not SIP."""
    try:
        text = data.decode("utf-8", "replace")
    except Exception:
        return None
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    if len(lines) < 2:
        return None
    headers = []
    for line in lines[1:]:
        if ":" not in line:
            continue
        name = line.split(":", 1)[0].strip().lower()
        headers.append((COMPACT.get(name, name), line))
    return lines[0], headers


def value(headers, name):
    for n, line in headers:
        if n == name:
            return line.split(":", 1)[1].strip()
    return ""


def response(code, reason, headers, to_tag, contact=None):
    out = ["SIP/2.0 %s %s" % (code, reason)]
    record_route = contact is not None
    for n, line in headers:
        if n == "via" or (record_route and n == "record-route"):
            out.append(line)
    for n, line in headers:
        if n in ("from", "call-id", "cseq"):
            out.append(line)
        elif n == "to":
            out.append(line if ";tag=" in line or not to_tag else line + ";tag=" + to_tag)
    if contact:
        out.append("Contact: <%s>" % contact)
    out.append("Content-Length: 0")
    return ("\r\n".join(out) + "\r\n\r\n").encode()


class Endpoint:
    def __init__(self, name, port, behaviour, phase_s, start, log):
        self.name, self.behaviour, self.phase_s, self.start, self.log = (
            name, behaviour, phase_s, start, log)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.contact = "sip:%s@127.0.0.1:%d" % (name, port)
        self.sock.setblocking(False)
        self.calls = {}  # Call-ID -> [action, last INVITE response bytes, addr, created]
        self.pending = {}  # Call-ID -> [200 bytes, addr, next retransmission time, tries]
        self.phase = None

    def current(self, now):
        if self.behaviour == "ok":
            return "200"
        p = PHASES[int((now - self.start) // self.phase_s) % len(PHASES)]
        if p != self.phase:
            self.phase = p
            self.log.write("phase\t%.6f\t%s\t%s\n" % (now, self.name, p))
        return p

    def send(self, data, addr):
        try:
            self.sock.sendto(data, addr)
        except OSError:
            pass

    def on_invite(self, ruri, headers, addr, now):
        cid = value(headers, "call-id")
        call = self.calls.get(cid)
        if call is None:
            action = self.current(now)
            resp = None
            if action == "200":
                resp = response(200, "OK", headers, "soak%x" % (hash(cid) & 0xFFFFFF), self.contact)
                self.pending[cid] = [resp, addr, now + 0.5, 0]
            elif action == "503":
                resp = response(503, "Service Unavailable", headers, "soak503")
            call = self.calls[cid] = [action, resp, addr, now]
            self.log.write("inv\t%.6f\t%s\t%s\t%s\t%s\n" % (now, self.name, action, cid, ruri))
        if call[1] is not None:
            self.send(call[1], addr)

    def on_request(self, method, ruri, headers, addr, now):
        if method == "INVITE":
            self.on_invite(ruri, headers, addr, now)
        elif method == "ACK":
            self.pending.pop(value(headers, "call-id"), None)
        elif method in ("BYE", "CANCEL", "OPTIONS"):
            call = self.calls.get(value(headers, "call-id"))
            if call is not None and call[0] == "silent":
                return
            self.send(response(200, "OK", headers, None), addr)

    def read(self, now):
        for _ in range(64):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            msg = parse(data)
            if msg is None or msg[0].startswith("SIP/2.0"):
                continue
            parts = msg[0].split(" ")
            if len(parts) == 3:
                self.on_request(parts[0], parts[1], msg[1], addr, now)

    def tick(self, now):
        self.current(now)
        for cid, p in list(self.pending.items()):
            if now >= p[2]:
                if p[3] >= 3:
                    del self.pending[cid]
                    continue
                self.send(p[0], p[1])
                p[3] += 1
                p[2] = now + 0.5 * (2 ** p[3])
        old = [cid for cid, c in self.calls.items() if now - c[3] > STATE_TTL]
        for cid in old:
            del self.calls[cid]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--phase", type=float, default=10.0)
    ap.add_argument("--max-seconds", type=float, default=7200.0)
    ap.add_argument("endpoints", nargs="+", metavar="NAME:PORT:BEHAVIOUR")
    args = ap.parse_args()

    log = open(args.log, "a", buffering=1 << 16)
    start = time.time()
    sel = selectors.DefaultSelector()
    eps = []
    for spec in args.endpoints:
        name, port, behaviour = spec.split(":")
        if behaviour not in ("ok", "cycle"):
            sys.exit("gateway.py: unknown behaviour %r" % behaviour)
        ep = Endpoint(name, int(port), behaviour, args.phase, start, log)
        sel.register(ep.sock, selectors.EVENT_READ, ep)
        eps.append(ep)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    next_tick = 0.0
    while not stop and time.time() - start < args.max_seconds:
        for key, _ in sel.select(timeout=0.05):
            key.data.read(time.time())
        now = time.time()
        if now >= next_tick:
            for ep in eps:
                ep.tick(now)
            next_tick = now + 0.05
    log.flush()
    log.close()


if __name__ == "__main__":
    main()
