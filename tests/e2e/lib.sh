# Helpers for the end-to-end tests: Debian's Kamailio with the callroute module on
# loopback, sipp as phones and gateways, rtpengine for media. Sourced by run.sh, load.sh,
# media.sh, rgs.sh, rgs_load.sh, scripts/demo.sh and examples/kamailio/rgs-demo.sh.
#
# Needs CR_MODULE (callroute.so) and CR_LIBRARY (libcallroute.so.1) in the environment.
# Everything a test starts is recorded in $E2E_PIDS and stopped by e2e_cleanup (installed
# as an EXIT trap by e2e_init); every wait is bounded.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOP=$(cd "$E2E_DIR/../.." && pwd)
E2E_CFG=${E2E_CFG:-$E2E_TOP/examples/kamailio/kamailio.cfg}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
KAMCMD=${KAMCMD:-/usr/sbin/kamcmd}
SIPP=${SIPP:-sipp}
E2E_PIDS=()
E2E_KAM_PID=
# Debian's python3 (scripts/setup.sh installs it), not a version manager's shim that may come
# first on PATH: pyenv's costs a second or more per start on a loaded machine, and a media
# case starts python dozens of times (103 s instead of about 20 s under load).
E2E_PY=python3
[ -x /usr/bin/python3 ] && E2E_PY=/usr/bin/python3

e2e_log() { echo "e2e: $*" >&2; }
e2e_fail() {
    echo "e2e: FAIL: $*" >&2
    # E2E_KEEP_FAILED=1 (the repeated-run loops) keeps the scratch directory of a failed case.
    [ "${E2E_KEEP_FAILED:-0}" != 1 ] || E2E_KEEP=1
    if [ -n "${E2E_TMP:-}" ] && [ -f "$E2E_TMP/kamailio.log" ]; then
        echo "---- last lines of $E2E_TMP/kamailio.log" >&2
        tail -n 25 "$E2E_TMP/kamailio.log" >&2
    fi
    local f
    for f in uac.out uac.err; do
        if [ -n "${E2E_TMP:-}" ] && [ -s "$E2E_TMP/$f" ]; then
            echo "---- last lines of the caller's $f" >&2
            tail -n 15 "$E2E_TMP/$f" >&2
        fi
    done
    exit 1
}

# Stops every process this shell started (by pid), then removes the scratch directory
# unless E2E_KEEP=1.
e2e_cleanup() {
    local pid
    for pid in "${E2E_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${E2E_PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    E2E_PIDS=()
    if [ -n "${E2E_TMP:-}" ] && [ "${E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$E2E_TMP"
    elif [ -n "${E2E_TMP:-}" ]; then
        e2e_log "kept $E2E_TMP"
    fi
}

e2e_init() {
    [ -n "${CR_MODULE:-}" ] && [ -f "$CR_MODULE" ] || e2e_fail "CR_MODULE (callroute.so) not set or missing"
    [ -n "${CR_LIBRARY:-}" ] && [ -f "$CR_LIBRARY" ] || e2e_fail "CR_LIBRARY (libcallroute.so.1) not set or missing"
    command -v "$SIPP" >/dev/null || e2e_fail "sipp not installed (apt-get install sip-tester)"
    [ -x "$KAMAILIO" ] || e2e_fail "$KAMAILIO not installed"
    # The scratch directory (logs, sipp traces, plans) in memory when it can be: a write to the
    # root disk can wait on its journal for seconds while a loaded machine writes elsewhere.
    local scratch=${TMPDIR:-/dev/shm}
    [ -d "$scratch" ] && [ -w "$scratch" ] || scratch=/tmp
    E2E_TMP=$(mktemp -d "$scratch/callroute-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

# e2e_load_setup BUILD_DIR [NEEDS...]: what a load script (load.sh, rgs_load.sh,
# media_load.sh) does first: CR_MODULE and CR_LIBRARY from BUILD_DIR (empty: build/) unless
# set, 4 Kamailio workers, 256 MB of shared memory and log level 1 unless set (E2E_CHILDREN,
# E2E_SHM, E2E_DEBUG), e2e_init, then each of NEEDS checked: "rtpengine" (installed), "root"
# (RTP counted with a raw socket on lo).
# e2e_load_register N: the load tests' N agents (one per line of $E2E_TMP/agents.csv, after
# its SEQUENTIAL header) REGISTER with the Kamailio on KAM_PORT, 200 a second.
e2e_load_register() {
    timeout 60 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/rgs_load_register.xml" \
        -inf "$E2E_TMP/agents.csv" -m "$1" -r 200 -l 50 -i 127.0.0.1 \
        -p "$(e2e_ports 1)" -t u1 -nostdin -timeout 50s -timeout_error \
        >"$E2E_TMP/register.out" 2>&1 </dev/null || {
        tail -n 20 "$E2E_TMP/register.out" >&2
        e2e_fail "the agents could not REGISTER"
    }
}

e2e_load_setup() {
    local build need
    build=$(cd "${1:-$E2E_TOP/build}" && pwd) || e2e_fail "no build directory ${1:-$E2E_TOP/build}"
    shift $(($# > 0))
    export CR_MODULE=${CR_MODULE:-$build/plugin-api/kamailio/callroute.so}
    export CR_LIBRARY=${CR_LIBRARY:-$build/plugin-api/libcallroute.so.1}
    E2E_CHILDREN=${E2E_CHILDREN:-4}
    E2E_SHM=${E2E_SHM:-256}
    E2E_DEBUG=${E2E_DEBUG:-1}
    e2e_init
    for need in "$@"; do
        case $need in
        rtpengine) command -v rtpengine >/dev/null || e2e_fail "rtpengine not installed (rtpengine-daemon)" ;;
        root) [ "$(id -u)" = 0 ] || e2e_fail "needs root (RTP is counted with a raw socket on lo)" ;;
        *) e2e_fail "e2e_load_setup: unknown need $need" ;;
        esac
    done
}

# e2e_reserve_ports N SIZE LOW HIGH: N blocks of SIZE UDP ports in [LOW, HIGH), printed as
# their first ports. Every port of a block is free when it is picked (bound, then released),
# and the block is reserved for this test's shell in /tmp/callroute-e2e-ports under a lock,
# so tests running side by side never pick the same ports; a block whose shell has ended is
# taken back. Below the kernel's ephemeral range (32768 and up by default) no socket gets
# one by chance: a port the kernel picked and released at once could be taken before the
# daemon started later binds it, or be a parallel test's daemon answering on it.
e2e_reserve_ports() {
    $E2E_PY - "$1" "$2" "$3" "$4" "$$" <<'EOF'
import fcntl, os, random, socket, sys
n, size, low, high = (int(a) for a in sys.argv[1:5])
owner = sys.argv[5]
d = "/tmp/callroute-e2e-ports"
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, ".lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    held = set()
    for f in os.listdir(d):
        if f.startswith("."):
            continue
        try:
            first, count = (int(x) for x in f.split("+"))
            os.kill(int(open(os.path.join(d, f)).read() or 0), 0)
            held.update(range(first, first + count))
        except (ValueError, ProcessLookupError):
            os.unlink(os.path.join(d, f))
        except PermissionError:
            held.update(range(first, first + count))
    out = []
    for _ in range(10000):
        if len(out) == n:
            break
        p = random.randrange(low, high - size + 1, size)
        if any(q in held for q in range(p, p + size)):
            continue
        socks = []
        try:
            for q in range(p, p + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", q))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        with open(os.path.join(d, "%d+%d" % (p, size)), "w") as f:
            f.write(owner)
        held.update(range(p, p + size))
        out.append(p)
if len(out) < n:
    sys.exit("no free block of %d ports in [%d, %d)" % (size, low, high))
print(" ".join(str(p) for p in out))
EOF
}

# e2e_ports N: N UDP ports for SIP (Kamailio, sipp phones, gateways and callers), reserved
# as the media ports are, in [2000, 6000): apart from the media ports and rtpengine's windows
# (10000-32000) and from the ports sipp picks for itself (its RTP sockets from 6000 up, its
# control socket from 8888 up, when not given).
e2e_ports() { e2e_reserve_ports "$1" 1 2000 6000; }

# e2e_media_ports N: N blocks of 4 (a phone's RTP: sipp binds P and P+2, RTCP beside them),
# or of one port (a daemon's control or event port) with N1 (e2e_media_ports1 N).
e2e_media_ports() { e2e_reserve_ports "$1" 4 20000 32000; }
e2e_media_ports1() { e2e_reserve_ports "$1" 1 20000 32000; }

# Response-group media (tests/e2e/media.sh, scripts/demo.sh). E2E_TOOL runs media_tool.py.
E2E_TOOL="$E2E_PY $E2E_DIR/media_tool.py"

# e2e_start_rtpengine NG DTMF: rtpengine on loopback, its ng control port NG, DTMF events to
# DTMF (both reserved with e2e_media_ports1), RTP ports in a window of 100 reserved below the
# phones' media ports (e2e_reserve_ports) and the kernel's ephemeral range. Waits (at most 10 s) until it answers an ng ping; its pid is
# E2E_RTPENGINE_PID, its log $E2E_TMP/rtpengine.log.
e2e_start_rtpengine() {
    local ng=$1 dtmf=$2 base pid
    command -v rtpengine >/dev/null || e2e_fail "rtpengine not installed (rtpengine-daemon)"
    base=$(e2e_reserve_ports 1 100 10000 20000) || e2e_fail "no free window for rtpengine's RTP ports"
    rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
        --listen-ng=127.0.0.1:$ng --port-min=$base --port-max=$((base + 99)) \
        --dtmf-log-dest=127.0.0.1:$dtmf --delete-delay=0 --timeout=60 --num-threads=2 \
        --foreground --log-stderr --log-level=6 --pidfile="$E2E_TMP/rtpengine.pid" \
        >"$E2E_TMP/rtpengine.log" 2>&1 </dev/null &
    pid=$!
    E2E_PIDS+=("$pid")
    E2E_RTPENGINE_PID=$pid
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || e2e_fail "rtpengine exited: $(tail -n 3 "$E2E_TMP/rtpengine.log")"
        if [ "$($E2E_TOOL ng 127.0.0.1:$ng ping 2>/dev/null)" = pong ]; then
            # the pong must be ours: the control port is held by the rtpengine started here
            ss -H -lunp "sport = :$ng" | grep -q "pid=$pid," \
                || e2e_fail "another process answers on rtpengine's control port $ng: $(ss -H -lunp "sport = :$ng")"
            return 0
        fi
        sleep 0.1
    done
    e2e_fail "rtpengine did not answer ng ping within 10 s"
}

# e2e_rtpengine_sessions NG: the Call-IDs of rtpengine's sessions, one a line.
e2e_rtpengine_sessions() {
    $E2E_TOOL ng "127.0.0.1:$1" list
}

# e2e_agent NAME SCENARIO [MEDIA-PORT]: a sipp phone (with RTP on MEDIA-PORT when given) for
# agent sip:NAME@contoso.com, registered to Kamailio ($KAM_PORT) with a REGISTER from a second
# sipp; its messages in $E2E_TMP/NAME.msg.
e2e_agent() {
    local name=$1 scen=$2 mp=${3:-} port rport media=()
    read -r port rport <<<"$(e2e_ports 2)"
    [ -n "$mp" ] && media=(-mi 127.0.0.1 -mp "$mp")
    e2e_gateway "$name" "$port" "$scen" "${media[@]}"
    e2e_wait_ports "$port"
    timeout 15 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/register.xml" \
        -key user "$name" -key contact_port "$port" -m 1 -i 127.0.0.1 -p "$rport" -t u1 \
        -nostdin -timeout 10s -timeout_error >"$E2E_TMP/register_$name.out" 2>&1 </dev/null \
        || e2e_fail "agent $name could not REGISTER"
}

# e2e_media_call NAME SCENARIO NUMBER MEDIA-PORT: one call from sip:alice@contoso.com to
# NUMBER with RTP on MEDIA-PORT; its messages in $E2E_TMP/NAME.msg (sipp's output NAME.out,
# errors NAME.err). Fails (returns non-zero) when the scenario does.
e2e_media_call() {
    local name=$1 scen=$2 number=$3 mp=$4 port
    port=$(e2e_ports 1)
    case $scen in /*) ;; *) scen=$E2E_DIR/scenarios/$scen ;; esac
    timeout 60 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$scen" -s "$number" \
        -key caller alice -key domain contoso.com -m 1 -i 127.0.0.1 -p "$port" -t u1 -mi 127.0.0.1 -mp "$mp" \
        -nostdin -timeout 50s -timeout_error -trace_msg -message_file "$E2E_TMP/$name.msg" \
        -trace_err -error_file "$E2E_TMP/$name.err" >"$E2E_TMP/$name.out" 2>&1 </dev/null
}

# e2e_ivr_caller OUT KEYS...: scenarios/media_ivr_caller.xml into OUT, pressing each key (0-9)
# 1.5 s after the 183 or the previous key (RFC 2833, /usr/share/sip-tester/dtmf_2833_K.pcap);
# a key "wN" waits N ms more first.
e2e_ivr_caller() {
    local out=$1 k keys=""
    shift
    for k in "$@"; do
        case $k in
        w*) keys+="  <pause milliseconds=\"${k#w}\"/>"$'\n' ;;
        *) keys+="  <pause milliseconds=\"1500\"/>"$'\n'"  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_$k.pcap\"/></action></nop>"$'\n' ;;
        esac
    done
    awk -v keys="$keys" '/^@KEYS@$/ { printf "%s", keys; next } { print }' \
        "$E2E_DIR/scenarios/media_ivr_caller.xml" >"$out"
}

# e2e_sniff_start PORT...: every UDP datagram to PORTs on lo, one line each in
# $E2E_TMP/rtp.txt (media_tool.py sniff: a raw socket, so root), until e2e_sniff_stop.
e2e_sniff_start() {
    $E2E_TOOL sniff "$E2E_TMP/rtp.txt" "$@" &
    E2E_PIDS+=("$!")
    E2E_SNIFF=$!
    sleep 0.5
}

e2e_sniff_stop() {
    kill -TERM "$E2E_SNIFF" 2>/dev/null || true
    wait "$E2E_SNIFF" 2>/dev/null || true
}

# e2e_rtp PORT FROM TO: RTP datagrams the sniffer saw to PORT between the two times (epoch
# seconds).
e2e_rtp() {
    $E2E_TOOL count "$E2E_TMP/rtp.txt" "$1" "$2" "$3"
}

# e2e_msg_time NAME DIR REGEX: the time (epoch seconds) of the first message sent/received
# (DIR) by NAME's sipp whose first line matches REGEX.
e2e_msg_time() {
    awk -v want="$2" -v re="$3" '/^-+ [0-9-]+ [0-9:.]+$/ { ts = $2 " " $3; next }
         /^(UDP|TCP) message / { dir = ($0 ~ /message sent/) ? "sent" : "received"; first = 1; next }
         first && NF { first = 0; if (dir == want && $0 ~ re) { print ts; exit } }' "$E2E_TMP/$1.msg" \
        | { read -r d t && date -d "$d $t" +%s.%N; }
}

# e2e_got NAME METHOD: NAME's sipp received a METHOD request (waits up to 30 s for its log).
e2e_got() {
    for _ in $(seq 1 300); do
        grep -a -q -E "^$2 " "$E2E_TMP/$1.msg" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# e2e_invite_time NAME [sent]: when NAME's sipp received (or sent) its first INVITE (epoch
# seconds with microseconds, from the timestamp line sipp writes before each message it logs).
e2e_invite_time() {
    awk -v want="${2:-received}" '/^-+ [0-9-]+ [0-9:.]+$/ { ts = $2 " " $3 }
         /^(UDP|TCP) message / { dir = ($0 ~ /message sent/) ? "sent" : "received"; next }
         dir == want && /^INVITE / { print ts; exit }' "$E2E_TMP/$1.msg" \
        | { read -r d t && date -d "$d $t" +%s.%N; }
}

# e2e_delay FIRST SECOND: seconds between the first INVITEs FIRST and SECOND received.
e2e_delay() {
    local a b
    a=$(e2e_invite_time "$1") && b=$(e2e_invite_time "$2") || return 1
    [ -n "$a" ] && [ -n "$b" ] || return 1
    $E2E_PY -c "print('%.3f' % ($b - $a))"
}

# e2e_fixture SRC DST: copies an XML fixture with @PORT_A@... replaced by $PORT_A...
e2e_fixture() {
    sed -e "s/@PORT_A@/$PORT_A/g" -e "s/@PORT_B@/$PORT_B/g" -e "s/@PORT_C@/$PORT_C/g" \
        -e "s/@PORT_D@/${PORT_D:-0}/g" "$1" > "$2"
}

# Runs one RPC through kamcmd (at most E2E_RPC_TIMEOUT, 10, seconds); fails when the RPC
# answers with a fault (kamcmd itself exits 0 and prints "error: CODE - message").
e2e_kamcmd() {
    local out rc=0
    out=$(timeout "${E2E_RPC_TIMEOUT:-10}" "$KAMCMD" -s "unix:$E2E_TMP/kamailio_ctl" "$@" 2>&1) || rc=$?
    printf '%s\n' "$out"
    [ "$rc" = 0 ] && ! grep -q '^error: ' <<<"$out"
}

# Stops the Kamailio e2e_start_kamailio started last (TERM, then KILL after 10 s) so that
# another can start in the same scratch directory.
e2e_stop_kamailio() {
    local pid=$E2E_KAM_PID
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$E2E_TMP/kamailio_ctl"
}

# e2e_start_kamailio PORT XML [extra kamailio args...]: starts the example config on PORT
# (from e2e_ports) and waits (at most E2E_START_WAIT, 30, seconds) until its RPC answers,
# asking every E2E_START_POLL (0.1) seconds; with E2E_READY_PROBE (tests/bench/rpc_ready) it
# asks that program instead, which sets E2E_READY_AT to the time of the first answer.
# No second try on another port: PORT is reserved for this test (e2e_reserve_ports), and
# nothing that does not ask the reservation picks a port in its range between the check
# there and Kamailio's bind: the kernel gives out ephemeral ports only (32768 and up), sipp
# starts its own from 6000 and 8888, rtpengine binds inside its reserved window. Only a
# process outside the tests binding a fixed port below 6000 could, and a restart would
# hide that, so Kamailio's "Address already in use" fails the test naming the holder.
e2e_start_kamailio() {
    local port=$1 xml=$2 at
    shift 2
    KAM_PORT=$port
    at=$(stat -c %s "$E2E_TMP/kamailio.log" 2>/dev/null || echo 0)
    "$KAMAILIO" -DD -E -f "$E2E_CFG" -Y "$E2E_TMP" -P "$E2E_TMP/kamailio.pid" -w "$E2E_TMP" \
        -m "${E2E_SHM:-64}" -M 8 ${E2E_MEMMGR:+-x "$E2E_MEMMGR"} \
        -A "LISTEN=udp:127.0.0.1:$port" \
        -A "CR_MODULE=\"$CR_MODULE\"" -A "CR_LIBRARY=\"$CR_LIBRARY\"" \
        -A "CR_CONFIG=\"$xml\"" -A "CTL_SOCKET=\"unix:$E2E_TMP/kamailio_ctl\"" \
        -A "CR_CHILDREN=${E2E_CHILDREN:-2}" -A "CR_HOLDOFF=${E2E_HOLDOFF:-30}" \
        -A "CR_DEBUG=${E2E_DEBUG:-2}" "$@" \
        >>"$E2E_TMP/kamailio.log" 2>&1 &
    E2E_KAM_PID=$!
    E2E_PIDS+=("$E2E_KAM_PID")
    if [ -n "${E2E_READY_PROBE:-}" ]; then
        # a start-up measurement: the time of the first RPC answer, to the tenth of a ms
        if E2E_READY_AT=$("$E2E_READY_PROBE" "$E2E_TMP/kamailio_ctl" "$E2E_KAM_PID" \
            "${E2E_START_WAIT:-30}"); then
            return 0
        fi
        if ! kill -0 "$E2E_KAM_PID" 2>/dev/null; then
            tail -c +"$((at + 1))" "$E2E_TMP/kamailio.log" | grep -q "Address already in use" \
                && e2e_fail "kamailio: its reserved port $port is taken: $(ss -H -lunp "sport = :$port")"
            e2e_fail "kamailio exited at startup"
        fi
        e2e_fail "kamailio did not answer RPC within ${E2E_START_WAIT:-30} s"
    fi
    local polls
    polls=$(awk -v w="${E2E_START_WAIT:-30}" -v p="${E2E_START_POLL:-0.1}" 'BEGIN {print int(w / p)}')
    for _ in $(seq 1 "$polls"); do
        if ! kill -0 "$E2E_KAM_PID" 2>/dev/null; then
            tail -c +"$((at + 1))" "$E2E_TMP/kamailio.log" | grep -q "Address already in use" \
                && e2e_fail "kamailio: its reserved port $port is taken: $(ss -H -lunp "sport = :$port")"
            e2e_fail "kamailio exited at startup"
        fi
        if [ -S "$E2E_TMP/kamailio_ctl" ] && e2e_kamcmd core.uptime >/dev/null 2>&1; then
            return 0
        fi
        sleep "${E2E_START_POLL:-0.1}"
    done
    e2e_fail "kamailio did not answer RPC within ${E2E_START_WAIT:-30} s"
}

# e2e_gateway NAME PORT SCENARIO [sipp args...]: a sipp UAS on PORT that logs every
# message it receives or sends into $E2E_TMP/NAME.msg (unless E2E_TRACE=0). Its pid is
# E2E_GW_PID_NAME (non-alphanumerics in NAME as '_').
e2e_gateway() {
    local name=$1 port=$2 scen=$3
    shift 3
    local trace=(-trace_msg -message_file "$E2E_TMP/$name.msg")
    [ "${E2E_TRACE:-1}" = 1 ] || trace=()
    case $scen in /*) ;; *) scen=$E2E_DIR/scenarios/$scen ;; esac
    "$SIPP" -sf "$scen" -i 127.0.0.1 -p "$port" -t u1 -nostdin "${trace[@]}" \
        -trace_err -error_file "$E2E_TMP/$name.err" "$@" >/dev/null 2>&1 </dev/null &
    E2E_PIDS+=("$!")
    eval "E2E_GW_PID_${name//[^A-Za-z0-9_]/_}=$!"
}

# e2e_gateway_fail NAME PORT CODE REASON [sipp args...]: a gateway refusing every call.
e2e_gateway_fail() {
    local name=$1 port=$2 code=$3 reason=$4
    shift 4
    sed -e "s/@CODE@/$code/g" -e "s/@REASON@/$reason/g" "$E2E_DIR/scenarios/gw_fail.xml" \
        > "$E2E_TMP/gw_fail_$code.xml"
    e2e_gateway "$name" "$port" "$E2E_TMP/gw_fail_$code.xml" "$@"
}

# Waits until every gateway's UDP port is bound (sipp starts in ~50 ms).
e2e_wait_ports() {
    local p
    for p in "$@"; do
        for _ in $(seq 1 150); do
            ss -Hlun "sport = :$p" 2>/dev/null | grep -q . && break
            sleep 0.1
        done
    done
}

# e2e_call CALLER NUMBER [EXPECTED_STATUS]: one call from sip:CALLER@contoso.com to
# sip:NUMBER@$E2E_DOMAIN (default contoso.com). Without
# EXPECTED_STATUS the call must be answered (200, ACK, BYE); otherwise it must be refused
# with exactly that status. Extra sipp args in E2E_UAC_ARGS (an array).
e2e_call() {
    local caller=$1 number=$2 expect=${3:-} scen port
    port=$(e2e_ports 1)
    if [ -n "$expect" ]; then
        scen=$E2E_TMP/uac_$expect.xml
        sed "s/@EXPECT@/$expect/g" "$E2E_DIR/scenarios/uac_reject.xml" > "$scen"
    else
        scen=$E2E_DIR/scenarios/uac.xml
    fi
    local t0=$SECONDS rc=0
    timeout 30 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$scen" -s "$number" -key caller "$caller" \
        -key domain "${E2E_DOMAIN:-contoso.com}" \
        -m 1 -i 127.0.0.1 -p "${E2E_UAC_PORT:-$port}" -t u1 -nostdin -timeout 20s -timeout_error \
        -trace_err -error_file "$E2E_TMP/uac.err" -trace_msg -message_file "$E2E_TMP/uac.msg" \
        "${E2E_UAC_ARGS[@]}" \
        >"$E2E_TMP/uac.out" 2>&1 </dev/null || rc=$?
    # A failure says how sipp ended (124: killed by timeout) and when.
    [ "$rc" = 0 ] || echo "e2e: sipp (port ${E2E_UAC_PORT:-$port}) exited $rc after $((SECONDS - t0)) s" >>"$E2E_TMP/uac.out"
    return "$rc"
}

# Request-URIs of the INVITEs gateway NAME received, one per line: one per INVITE
# transaction (top Via branch), so that a retransmission (Kamailio repeats an INVITE after
# 500 ms without an answer, which a loaded machine can cause) does not count as a new call.
e2e_received() {
    [ -f "$E2E_TMP/$1.msg" ] || return 0
    awk '/^(UDP|TCP) message received/ { rcv = 1; uri = ""; next }
         /^(UDP|TCP) message sent/ { rcv = 0; next }
         rcv && uri == "" && /^INVITE / { uri = $2; next }
         rcv && uri != "" && tolower($0) ~ /^(via|v) *:/ {
             b = $0; sub(/.*branch=/, "", b); sub(/[;, \r].*/, "", b)
             if (!seen[b]++) print uri
             uri = ""; rcv = 0
         }' "$E2E_TMP/$1.msg"
}

e2e_count() {
    local n
    n=$(e2e_received "$1" | wc -l)
    echo "$n"
}

# e2e_expect_invite NAME REGEX: the last INVITE gateway NAME received has a Request-URI
# matching REGEX (waits up to 15 s for sipp's log: margins for a loaded machine).
e2e_expect_invite() {
    local name=$1 re=$2 got
    for _ in $(seq 1 150); do
        got=$(e2e_received "$name" | tail -n 1)
        [ -n "$got" ] && break
        sleep 0.1
    done
    [[ "$got" =~ $re ]] || e2e_fail "$name: expected an INVITE matching $re, got '${got:-nothing}'"
    e2e_log "ok: $name received INVITE $got"
}
