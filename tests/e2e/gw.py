#!/usr/bin/env python3
"""A loopback SIP gateway for the gateway-health e2e cases (tests/e2e/run.sh gw_*).

  gw.py PORT LOG [--silent-file F] [--hold-first-file H]

Answers INVITE with 180 then 200 (the first INVITE's 200 only once file H exists, with
--hold-first-file: a call that rings, holding a gateway port, until the test lets it go), BYE and CANCEL with 200 (CANCEL: then 487 to
the INVITE), OPTIONS with 200 unless file F exists (the gateway "stops answering" probes).
A 200 to an INVITE is repeated every 500 ms until its ACK or BYE (at most 8 times).
Appends one line per request received to LOG: "METHOD REQUEST-URI CALL-ID BRANCH".
"""
import socket
import sys
import threading
import time
import os

port, log = int(sys.argv[1]), sys.argv[2]
silent, hold = None, None
args = sys.argv[3:]
while args:
    if args[0] == "--silent-file":
        silent = args[1]
    elif args[0] == "--hold-first-file":
        hold = args[1]
    args = args[2:]

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", port))
lock = threading.Lock()
acked = set()      # Call-IDs whose 200 needs no more repeating
cancelled = set()  # Call-IDs cancelled before the 200
seen = {}          # INVITE branch -> last response sent (retransmissions)
invites = 0


def headers(msg):
    lines = msg.split("\r\n")
    out = []
    for l in lines[1:]:
        if not l:
            break
        if ":" in l:
            k, v = l.split(":", 1)
            out.append((k.strip(), v.strip()))
    return lines[0], out


def hget(hs, *names):
    names = [n.lower() for n in names]
    return [v for k, v in hs if k.lower() in names]


def reply(hs, code, text, addr, totag=True, extra=""):
    out = ["SIP/2.0 %d %s" % (code, text)]
    for v in hget(hs, "via", "v"):
        out.append("Via: " + v)
    if code >= 180 and code < 300:
        for v in hget(hs, "record-route"):
            out.append("Record-Route: " + v)
    out.append("From: " + hget(hs, "from", "f")[0])
    to = hget(hs, "to", "t")[0]
    if totag and ";tag=" not in to:
        to += ";tag=gw%d" % port
    out.append("To: " + to)
    out.append("Call-ID: " + hget(hs, "call-id", "i")[0])
    out.append("CSeq: " + hget(hs, "cseq")[0])
    out.append("Contact: <sip:gw@127.0.0.1:%d>" % port)
    out.append(extra + "Content-Length: 0")
    data = ("\r\n".join(out) + "\r\n\r\n").encode()
    sock.sendto(data, addr)
    return data


def send_200(hs, addr, cid, branch, wait_for=None):
    for _ in range(1200):
        if not wait_for or os.path.exists(wait_for):
            break
        time.sleep(0.1)
    with lock:
        if cid in cancelled:
            return
        seen[branch] = reply(hs, 200, "OK", addr)
    for _ in range(8):
        time.sleep(0.5)
        with lock:
            if cid in acked:
                return
            sock.sendto(seen[branch], addr)


while True:
    data, addr = sock.recvfrom(65535)
    msg = data.decode(errors="replace")
    if msg.startswith("SIP/2.0"):
        continue  # no requests of our own
    first, hs = headers(msg)
    method, ruri = first.split(" ")[0], first.split(" ")[1]
    cid = (hget(hs, "call-id", "i") or [""])[0]
    via = (hget(hs, "via", "v") or [""])[0]
    branch = via.split("branch=")[1].split(";")[0] if "branch=" in via else ""
    with open(log, "a") as f:
        f.write("%s %s %s %s\n" % (method, ruri, cid, branch))
    if method == "INVITE":
        with lock:
            if branch in seen:
                sock.sendto(seen[branch], addr)
                continue
            invites += 1
            seen[branch] = reply(hs, 180, "Ringing", addr)
        wait_for = hold if invites == 1 else None
        threading.Thread(target=send_200, args=(hs, addr, cid, branch, wait_for)).start()
    elif method == "ACK":
        with lock:
            acked.add(cid)
    elif method == "BYE":
        with lock:
            acked.add(cid)
        reply(hs, 200, "OK", addr, totag=False)
    elif method == "CANCEL":
        reply(hs, 200, "OK", addr, totag=False)
        with lock:
            cancelled.add(cid)
        # the INVITE's 487 (same Via branch as the CANCEL)
        inv = [(k, (v.split()[0] + " INVITE") if k.lower() == "cseq" else v) for k, v in hs]
        reply(inv, 487, "Request Terminated", addr)
    elif method == "OPTIONS":
        if silent and os.path.exists(silent):
            continue
        reply(hs, 200, "OK", addr)
