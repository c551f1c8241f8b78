#!/usr/bin/env python3
"""Helpers of tests/e2e/media.sh (no third-party module).

  media_tool.py wav FILE SECONDS HZ        an 8 kHz mono 16-bit PCM WAV: a tone
  media_tool.py ng HOST:PORT ping|list     an rtpengine ng command; prints the result
                                           (list: one Call-ID a line)
  media_tool.py sniff OUT PORT...          until SIGTERM: every UDP datagram on lo whose
                                           destination is one of PORTs, one line each:
                                           "TIME DPORT SPORT RTP-PAYLOAD-TYPE" (needs root)
  media_tool.py count OUT PORT FROM TO     datagrams to PORT with FROM <= TIME < TO
"""
import math, os, signal, socket, struct, sys, time, wave


def wav(path, seconds, hz):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        n = int(8000 * float(seconds))
        w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(2 * math.pi * float(hz) * i / 8000)))
                               for i in range(n)))


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(x) for k, x in v.items()) + b"e"


def bdecode(s, i=0):
    c = s[i:i + 1]
    if c == b"i":
        e = s.index(b"e", i)
        return int(s[i + 1:e]), e + 1
    if c in (b"l", b"d"):
        i += 1
        out = []
        while s[i:i + 1] != b"e":
            v, i = bdecode(s, i)
            out.append(v)
        if c == b"l":
            return out, i + 1
        return {out[k].decode(): out[k + 1] for k in range(0, len(out), 2)}, i + 1
    colon = s.index(b":", i)
    n = int(s[i:colon])
    return s[colon + 1:colon + 1 + n], colon + 1 + n


def ng(addr, cmd):
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    cookie = b"t%d_%d " % (os.getpid(), int(time.time() * 1e6))
    s.sendto(cookie + bencode(cmd), (host, int(port)))
    data = s.recv(65535)
    return bdecode(data[len(cookie):])[0]


def sniff(out, ports):
    ports = set(int(p) for p in ports)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    s.bind(("lo", 0))
    s.settimeout(0.2)
    # the kernel's receive time of each packet, not when this loop got to it: on a loaded
    # machine the sniffer reads in bursts, and a packet's time decides the window it counts in
    stamp = getattr(socket, "SO_TIMESTAMPNS", 35)
    s.setsockopt(socket.SOL_SOCKET, stamp, 1)
    f = open(out, "w", buffering=1)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    while not stop:
        try:
            p, anc, _, a = s.recvmsg(65535, socket.CMSG_SPACE(16))
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if a[2] == socket.PACKET_OUTGOING or len(p) < 14 + 28:
            continue
        ip = p[14:]
        if ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sp, dp = struct.unpack("!HH", ip[ihl:ihl + 4])
        if dp not in ports:
            continue
        pl = ip[ihl + 8:]
        pt = pl[1] & 0x7F if len(pl) >= 12 and pl[0] >> 6 == 2 else -1
        t = time.time()
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == stamp and len(data) >= 16:
                sec, nsec = struct.unpack("qq", data[:16])
                t = sec + nsec / 1e9
        f.write("%.3f %d %d %d\n" % (t, dp, sp, pt))
    f.close()


def count(out, port, t0, t1):
    n = 0
    for line in open(out):
        t, dp, sp, pt = line.split()
        if int(dp) == int(port) and float(t0) <= float(t) < float(t1) and int(pt) >= 0:
            n += 1
    return n


def main(a):
    if a[0] == "wav":
        wav(a[1], a[2], a[3])
    elif a[0] == "ng" and a[2] == "ping":
        print(ng(a[1], {"command": "ping"})["result"].decode())
    elif a[0] == "ng" and a[2] == "list":
        r = ng(a[1], {"command": "list", "limit": 1000})
        for c in r.get("calls", []):
            print(c.decode())
    elif a[0] == "sniff":
        sniff(a[1], a[2:])
    elif a[0] == "count":
        print(count(a[1], a[2], a[3], a[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
