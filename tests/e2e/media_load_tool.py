#!/usr/bin/env python3
"""Helpers of tests/e2e/media_load.sh (no third-party module).

  media_load_tool.py sniff OUT PORT        until SIGTERM: RTP datagrams on lo to PORT (the
                                           callers' media port), counted per source port
                                           (one rtpengine port per caller) and second; at
                                           the end OUT gets "SECOND SPORT COUNT" lines.
                                           A kernel filter passes only UDP to PORT (root).
  media_load_tool.py hold OUT FROM TO      per source port the datagrams with
                                           FROM <= SECOND < TO; prints
                                           "PORTS MIN MEDIAN MAX" (0 0 0 0 without any)
  media_load_tool.py sample OUT NAME=PID[,PID...]...
                                           until SIGTERM, every second: per NAME the CPU
                                           ticks (utime + stime) and the summed RSS and PSS
                                           (kB, smaps_rollup) of its processes into OUT
  media_load_tool.py usage OUT FROM TO     per NAME over samples in [FROM, TO]: peak and
                                           average CPU (% of one core), peak RSS and PSS
                                           (MB); one line a NAME: "NAME PEAK AVG RSS PSS"
"""
import collections, os, signal, socket, statistics, struct, sys, time

SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4


def bpf_udp_dport(port):
    # classic BPF on lo (Ethernet header): not outgoing (each datagram on lo is seen twice),
    # IPv4, UDP, not a fragment, destination port PORT; 64 bytes of it are enough
    ins = [
        (0x20, 0, 0, 0xFFFFF000 + 4),  # ld #pkttype
        (0x15, 10, 0, PACKET_OUTGOING),  # jeq OUTGOING -> drop
        (0x28, 0, 0, 12),  # ldh [12]
        (0x15, 0, 8, 0x0800),  # jeq IPv4
        (0x30, 0, 0, 23),  # ldb [23]
        (0x15, 0, 6, 17),  # jeq UDP
        (0x28, 0, 0, 20),  # ldh [20]
        (0x45, 4, 0, 0x1FFF),  # jset fragment -> drop
        (0xB1, 0, 0, 14),  # ldxb 4*([14]&0xf)
        (0x48, 0, 0, 16),  # ldh [x+16]
        (0x15, 0, 1, port),  # jeq PORT
        (0x06, 0, 0, 64),  # ret 64
        (0x06, 0, 0, 0),  # ret 0
    ]
    prog = b"".join(struct.pack("HBBI", *i) for i in ins)
    import ctypes
    buf = ctypes.create_string_buffer(prog)
    return struct.pack("HL", len(ins), ctypes.addressof(buf)), buf


def sniff(out, port):
    port = int(port)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    fprog, keep = bpf_udp_dport(port)
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("lo", 0))
    s.settimeout(0.2)
    counts = collections.Counter()
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    while not stop:
        try:
            p, a = s.recvfrom(128)
        except (socket.timeout, InterruptedError):
            continue
        if a[2] == PACKET_OUTGOING or len(p) < 14 + 28 + 12:
            continue
        ip = p[14:]
        ihl = (ip[0] & 15) * 4
        sp, dp = struct.unpack("!HH", ip[ihl:ihl + 4])
        if dp != port or ip[ihl + 8] >> 6 != 2:
            continue
        counts[(int(time.time()), sp)] += 1
    with open(out, "w") as f:
        for (sec, sp), n in sorted(counts.items()):
            f.write("%d %d %d\n" % (sec, sp, n))


def hold(out, t0, t1):
    t0, t1 = float(t0), float(t1)
    per = collections.Counter()
    for line in open(out):
        sec, sp, n = (int(x) for x in line.split())
        if t0 <= sec < t1:
            per[sp] += n
    v = sorted(per.values())
    if not v:
        print("0 0 0 0")
    else:
        print("%d %d %d %d" % (len(v), v[0], statistics.median_low(v), v[-1]))


def proc_sample(pids):
    ticks = rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            ticks += int(fields[11]) + int(fields[12])
            with open("/proc/%s/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return ticks, rss, pss


def sample(out, groups):
    groups = [(g.split("=", 1)[0], g.split("=", 1)[1].split(",")) for g in groups]
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    with open(out, "w", buffering=1) as f:
        while not stop:
            now = time.time()
            for name, pids in groups:
                f.write("%.3f %s %d %d %d\n" % ((now, name) + proc_sample(pids)))
            time.sleep(max(0.0, 1.0 - (time.time() - now)))


def usage(out, t0, t1):
    t0, t1 = float(t0), float(t1)
    hz = os.sysconf("SC_CLK_TCK")
    rows = collections.defaultdict(list)
    for line in open(out):
        t, name, ticks, rss, pss = line.split()
        rows[name].append((float(t), int(ticks), int(rss), int(pss)))
    for name, r in rows.items():
        r = [x for x in r if t0 <= x[0] <= t1]
        if len(r) < 2:
            print("%s 0 0 0 0" % name)
            continue
        peak = max(100.0 * (b[1] - a[1]) / hz / (b[0] - a[0]) for a, b in zip(r, r[1:]))
        avg = 100.0 * (r[-1][1] - r[0][1]) / hz / (r[-1][0] - r[0][0])
        print("%s %.0f %.1f %.1f %.1f" % (name, peak, avg, max(x[2] for x in r) / 1024.0,
                                          max(x[3] for x in r) / 1024.0))


def main(a):
    if len(a) >= 3 and a[0] == "sniff":
        sniff(a[1], a[2])
    elif len(a) == 4 and a[0] == "hold":
        hold(a[1], a[2], a[3])
    elif len(a) >= 3 and a[0] == "sample":
        sample(a[1], a[2:])
    elif len(a) == 4 and a[0] == "usage":
        usage(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
