#!/usr/bin/env python3
"""Sends malformed INVITEs to Kamailio on 127.0.0.1 at a low rate, round-robin over kinds.

    malformed.py --port KAMAILIO_PORT --rate PER_SECOND --seconds N --summary FILE

Kinds: random garbage, an INVITE cut short at a random byte, an oversized INVITE (~60 KB of
headers), bad Request-URIs (empty user, empty or broken host, a 4,000-digit user, a
phone-context naming no profile, escapes and NULs), broken headers (no Call-ID, a CSeq that
is not a number, a Content-Length beyond the body, Max-Forwards 0, a Via without a host).
Every number in them is a blocked one (+1900...) or not a number at all, and every Call-ID
starts with "soak-malformed-": none of them may ever reach a gateway (verify.py checks it).
Replies (Kamailio's 400/403/404/483...) are read and counted, never answered. The summary is
one JSON object: {"sent": N, "by_kind": {...}, "replies": N}.
"""
import argparse
import json
import random
import socket
import time

GOOD = ("INVITE sip:{num}@contoso.com;user=phone SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-soak-{n}\r\n"
        "From: <sip:alice@contoso.com>;tag=m{n}\r\n"
        "To: <sip:{num}@contoso.com>\r\n"
        "Call-ID: soak-malformed-{n}\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:alice@127.0.0.1:{port}>\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n")


def good(n, port, num="19005550100"):
    return GOOD.format(n=n, port=port, num=num)


def garbage(rng, n, port):
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400)))


def truncated(rng, n, port):
    msg = good(n, port).encode()
    return msg[: rng.randint(1, len(msg) - 5)]


def oversized(rng, n, port):
    msg = good(n, port)
    pad = "".join("X-Soak-Pad-%d: %s\r\n" % (i, "p" * 180) for i in range(320))
    return (msg.replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\n" + pad)).encode()[:64000]


BAD_URIS = [
    "sip:@contoso.com",
    "sip:19005550100@",
    "sip:19005550100@[::1",
    "sip:%s@contoso.com" % ("9" * 4000),
    "sip:19005550100;phone-context=nowhere.example@contoso.com;user=phone",
    "sip:1900%00555@contoso.com",
    "sip:1900555%zz0100@contoso.com",
    "sip:19005550100@contoso.com:99999999",
    "tel:+1-900-555-0100",
    "<sip:19005550100@contoso.com>",
    "sip:19005550100@contoso.com\x00;user=phone",
    "sips:19005550100@",
    "sip:+19005550100@evil.example",
    "sip:*#*#@contoso.com",
]


def bad_uri(rng, n, port):
    uri = BAD_URIS[n % len(BAD_URIS)]
    msg = good(n, port).split("\r\n", 1)[1]
    return ("INVITE %s SIP/2.0\r\n" % uri + msg).encode("latin-1", "replace")


def bad_header(rng, n, port):
    msg = good(n, port)
    variant = n % 6
    if variant == 0:
        msg = msg.replace("Call-ID: soak-malformed-%d\r\n" % n, "")
    elif variant == 1:
        msg = msg.replace("CSeq: 1 INVITE", "CSeq: one INVITE")
    elif variant == 2:
        msg = msg.replace("Content-Length: 0", "Content-Length: 5000") + "v=0\r\n"
    elif variant == 3:
        msg = msg.replace("Max-Forwards: 70", "Max-Forwards: 0")
    elif variant == 4:
        msg = msg.replace("Via: SIP/2.0/UDP 127.0.0.1:%d" % port, "Via: SIP/2.0/UDP :")
    else:
        msg = msg.replace("From: <sip:alice@contoso.com>;tag=m%d" % n, "From: <<<sip:alice@>>")
    return msg.encode()


KINDS = [("garbage", garbage), ("truncated", truncated), ("oversized", oversized),
         ("bad_uri", bad_uri), ("bad_header", bad_header)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--seed", type=int, default=10)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0)
    port = sock.getsockname()[1]
    sent, replies, by_kind = 0, 0, {k: 0 for k, _ in KINDS}
    start = time.time()
    n = 0
    while time.time() - start < args.seconds:
        kind, make = KINDS[n % len(KINDS)]
        try:
            sock.sendto(make(rng, n, port), ("127.0.0.1", args.port))
            sent += 1
            by_kind[kind] += 1
        except OSError:
            pass
        n += 1
        deadline = start + n / args.rate
        while True:
            try:
                sock.recvfrom(65535)
                replies += 1
            except (BlockingIOError, InterruptedError):
                pass
            left = deadline - time.time()
            if left <= 0:
                break
            time.sleep(min(left, 0.05))
    with open(args.summary, "w") as f:
        json.dump({"sent": sent, "by_kind": by_kind, "replies": replies}, f)


if __name__ == "__main__":
    main()
