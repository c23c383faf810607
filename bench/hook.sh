#!/usr/bin/env bash
# bench/hook.sh — the cost of `tmux-supervisor hook EVENT` as Claude Code runs it: `/bin/sh -c
# "'<exe>' hook PreToolUse"` with a real-sized event JSON on stdin and $TMUX / $TMUX_PANE /
# $TMUX_SUPERVISOR_SLOT set as in a supervised pane. Wall time of CALLS calls (default 100):
# median, p99 and max, with no supervisor running, and with a daemon on a private tmux server
# and a listener on the wake socket `<state dir>/wake-<key>.sock` (the daemon's own when it binds
# one, else a python3 stand-in bound on that path; the output says which). Side by side: the
# bare `/bin/sh -c true` every hook pays before ours starts, and `hook --help` (the binary
# starting and exiting, recording nothing).
#
# Usage: bench/hook.sh            (CALLS=100)
# Needs target/release/tmux-supervisor (cargo build --release) and python3 (the stand-in).

source "$(dirname "$0")/lib.sh"
bench_init

CALLS=${CALLS:-100}

# An event as the client sends it (from Claude Code 2.1.197, paths shortened).
EVENT=$(
    cat <<'JSON'
{"session_id":"9b1ef456-84c5-4603-989d-505d96147d83","transcript_path":"/home/op/.claude/projects/-home-op-src-proj/9b1ef456-84c5-4603-989d-505d96147d83.jsonl","cwd":"/home/op/src/proj","prompt_id":"17ef0f33-8532-4df2-8be0-412d4604c282","permission_mode":"default","effort":{"level":"high"},"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"cargo test --locked --test hooks_cli 2>&1 | tail -30","description":"Run the hook tests"},"tool_use_id":"toolu_01a41fbedbc21a41149eb91762"}
JSON
)

new_socket SOCK
tm "$SOCK" new-session -d -s bench-hook -x 80 -y 20
SOCKET_PATH=$(tm "$SOCK" display-message -p -t =bench-hook: '#{socket_path}')
SERVER_PID=$(tm "$SOCK" display-message -p -t =bench-hook: '#{pid}')
PANE=$(tm "$SOCK" display-message -p -t =bench-hook: '#{pane_id}')

# time_calls STATE_DIR OUT COMMAND: CALLS runs of `/bin/sh -c COMMAND` in a supervised pane's
# environment, the event on stdin; one wall time (µs) a line in OUT, their stdout in OUT.stdout.
time_calls() {
    local state=$1 out=$2 cmd=$3 i s e
    : >"$out"
    for ((i = 0; i < CALLS; i++)); do
        s=${EPOCHREALTIME/./}
        TMUX="$SOCKET_PATH,$SERVER_PID,0" TMUX_PANE=$PANE TMUX_SUPERVISOR_SLOT=bench-hook \
            TMUX_SUPERVISOR_STATE_DIR=$state /bin/sh -c "$cmd" <<<"$EVENT" >>"$out.stdout"
        e=${EPOCHREALTIME/./}
        echo $((e - s)) >>"$out"
    done
}

# row LABEL FILE: a table row with the median, p99 (nearest rank) and max, in ms.
row() {
    sort -n "$2" | awk -v label="$1" '{ v[NR] = $1 }
        END {
            p = int(NR * 0.99 + 0.999)
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "| %s | %d | %.2f ms | %.2f ms | %.2f ms |\n", label, NR, m / 1000, v[p] / 1000, v[NR] / 1000
        }'
}

# check_recorded STATE_DIR OUT: the last record is ours, and nothing was printed on stdout.
check_recorded() {
    local file
    file=$(ls "$1"/events-*/slot-bench-hook.json)
    grep -q '"event":"PreToolUse"' "$file" || { echo "no PreToolUse recorded in $file" >&2; exit 1; }
    [[ ! -s $2.stdout ]] || { echo "the hook printed on stdout: $(head -c 200 "$2.stdout")" >&2; exit 1; }
}

HOOK="'$BIN' hook PreToolUse"

# 1. No supervisor: nobody listens on the wake socket.
alone=$BENCH_TMP/alone-state
time_calls "$alone" "$BENCH_TMP/alone" "$HOOK"
check_recorded "$alone" "$BENCH_TMP/alone"
time_calls "$alone" "$BENCH_TMP/sh" "true"
time_calls "$alone" "$BENCH_TMP/start" "'$BIN' hook --help >/dev/null"

# 2. A daemon on the server (a pool of 3 sessions) and a listener on its wake socket.
cfg=$BENCH_TMP/hook.yaml
cat >"$cfg" <<'YAML'
poll_interval: 1s
pools:
  - name: auto
    prefix: "bench-auto-"
    start_index: 1
    max: 3
    min: 3
    restart: always
YAML
start_daemon dpid "$SOCK" "$cfg"
for _ in $(seq 100); do
    (($(session_count "$SOCK") >= 4)) && break
    sleep 0.1
done
(($(session_count "$SOCK") >= 4)) || { echo "the daemon did not create its pool:" >&2; cat "$BENCH_TMP/daemon-$SOCK/stderr" >&2; exit 1; }
state=$BENCH_TMP/daemon-$SOCK/state/tmux-supervisor
# One call to learn the server's key (the events dir it makes), then the wake socket's path.
TMUX="$SOCKET_PATH,$SERVER_PID,0" TMUX_PANE=$PANE TMUX_SUPERVISOR_SLOT=bench-hook \
    TMUX_SUPERVISOR_STATE_DIR=$state /bin/sh -c "$HOOK" <<<"$EVENT"
events_dir=$(ls -d "$state"/events-*)
wake=$state/wake-${events_dir##*/events-}.sock
if [[ -S $wake ]]; then
    listener="the daemon's own wake socket"
    counted=
else
    listener="a python3 stand-in bound on $(basename "$wake") (the daemon binds none yet)"
    counted=$BENCH_TMP/wakes
    python3 -c '
import os, signal, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
os.chdir(os.path.dirname(sys.argv[1]))  # the path may be too long for a socket address
s.bind(os.path.basename(sys.argv[1]))
n = 0
def done(*_):
    open(sys.argv[2], "w").write(str(n))
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
open(sys.argv[2], "w").write("ready")
while True:
    s.recv(256)
    n += 1
' "$wake" "$counted" &
    stand_in=$!
    BENCH_PIDS+=("$stand_in")
    for _ in $(seq 100); do
        [[ -S $wake && -s $counted ]] && break
        sleep 0.05
    done
fi
time_calls "$state" "$BENCH_TMP/daemon" "$HOOK"
check_recorded "$state" "$BENCH_TMP/daemon"
alive=$(kill -0 "$dpid" 2>/dev/null && echo yes || echo no)
if [[ -n $counted ]]; then
    kill -TERM "$stand_in"
    wait "$stand_in" 2>/dev/null || true
    received="; wake datagrams received by the stand-in: $(cat "$counted") of $CALLS"
fi
stop_daemon "$dpid"

echo "tmux $("$REAL_TMUX" -V | cut -d' ' -f2), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $CALLS calls of \`/bin/sh -c \"'tmux-supervisor' hook PreToolUse\"\`, a ${#EVENT}-byte event on stdin"
echo "| case | calls | median | p99 | max |"
echo "|---|---|---|---|---|"
row "no supervisor running (nobody on the wake socket)" "$BENCH_TMP/alone"
row "daemon running, $listener" "$BENCH_TMP/daemon"
row "baseline: \`/bin/sh -c true\`, same stdin and environment" "$BENCH_TMP/sh"
row "the binary starting and recording nothing: \`hook --help\`" "$BENCH_TMP/start"
echo "daemon alive at end: $alive${received:-}"
