#!/usr/bin/env bash
# bench/idle.sh — idle cost of `tmux-supervisor daemon` and of the terminal UI in a tmux pane: CPU seconds (utime+stime of the
# daemon, from /proc/PID/stat) over a window at poll_interval 1s, peak RSS (VmHWM), and how
# many tmux processes the daemon spawns per poll (counted with a logging `tmux` wrapper first
# on PATH, in a separate run so the wrapper's cost never lands in the CPU numbers), with push
# on and (PUSHES="on off") off side by side; the tmux calls made while it settled (its
# start, push's one waiter) are listed too.
#
# Usage: bench/idle.sh            (IDLE_SECONDS=60 COUNT_SECONDS=15 SETTLE_SECONDS=5 PUSHES=on)
# Needs target/release/tmux-supervisor (cargo build --release).

source "$(dirname "$0")/lib.sh"
bench_init

IDLE_SECONDS=${IDLE_SECONDS:-60}
COUNT_SECONDS=${COUNT_SECONDS:-15}
SETTLE_SECONDS=${SETTLE_SECONDS:-5}
SCENARIOS=${SCENARIOS:-"20 1000slots 20+980"}
# daemon: `tmux-supervisor daemon`; ui: the terminal UI drawing in a tmux pane.
MODES=${MODES:-"daemon ui"}
# on: the default; off: `push: false` in the config.
PUSHES=${PUSHES:-on}

# config_for SCENARIO PUSH: the YAML, with poll_interval 1s and reconcile_interval 5s.
config_for() {
    local manual=10 auto=10
    [[ $1 == 1000slots ]] && auto=990
    cat <<YAML
poll_interval: 1s
reconcile_interval: 5s
push: $([[ $2 == off ]] && echo false || echo true)
pools:
  - name: manual
    prefix: "ccl-"
    start_index: 0
    max: $manual
    restart: never
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: $auto
    min: $auto
    restart: always
YAML
}

# names_for SCENARIO: every session the server holds (all slots, plus the others).
names_for() {
    local i
    for i in $(seq 0 9); do echo "ccl-$i"; done
    case $1 in
        20) for i in $(seq 11 20); do echo "ccl-auto-$i"; done ;;
        1000slots) for i in $(seq 11 1000); do echo "ccl-auto-$i"; done ;;
        20+980)
            for i in $(seq 11 20); do echo "ccl-auto-$i"; done
            for i in $(seq 1 980); do echo "other-$i"; done
            ;;
    esac
}

describe() {
    case $1 in
        20) echo "20 slots (manual 10 + auto 10), 20 sessions" ;;
        1000slots) echo "1000 slots (manual 10 + auto 990), 1000 sessions" ;;
        20+980) echo "20 slots + 980 other sessions (1000 sessions)" ;;
    esac
}

# setup SCENARIO PUSH: a server holding the scenario's sessions; sets SOCK and CFG.
setup() {
    new_socket SOCK
    CFG="$BENCH_TMP/config-$1-$2.yaml"
    config_for "$1" "$2" >"$CFG"
    mapfile -t names < <(names_for "$1")
    create_sessions "$SOCK" "${names[@]}"
    local have
    have=$(session_count "$SOCK")
    if ((have != ${#names[@]})); then
        echo "expected ${#names[@]} sessions, found $have" >&2
        exit 1
    fi
    sleep 2 # let the shells start
}

teardown() {
    tm "$SOCK" kill-server 2>/dev/null || true
}

count_rows=()
cpu_rows=()

for mode in $MODES; do
for sc in $SCENARIOS; do
for push in $PUSHES; do
    # 1. Spawns per poll, with the logging wrapper.
    setup "$sc" "$push"
    wrap="$BENCH_TMP/wrap-$sc"
    mkdir -p "$wrap"
    calls="$wrap/calls.log"
    : >"$calls"
    cat >"$wrap/tmux" <<WRAP
#!/bin/sh
# logs each call (arguments after the base options), then runs the real tmux
printf '%s\n' "\$*" >>"$calls"
exec "$REAL_TMUX" "\$@"
WRAP
    chmod +x "$wrap/tmux"
    "start_$mode" pid "$SOCK" "$CFG" "$wrap"
    sleep "$SETTLE_SECONDS"
    start_line=$(wc -l <"$calls")
    sleep "$COUNT_SECONDS"
    end_line=$(wc -l <"$calls")
    "stop_$mode" "$pid"
    window=$(sed -n "$((start_line + 1)),${end_line}p" "$calls")
    settling=$(head -n "$start_line" "$calls" | awk '{ w = $NF; for (i = 1; i <= NF; i++) if ($i !~ /^-/ && $(i-1) !~ /^-[LSf]$/) { w = $i; break } print w }' | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
    polls=$(grep -c ' list-panes -a ' <<<"$window" || true)
    total=$((end_line - start_line))
    others=$((total - polls))
    other_kinds=$({ grep -v ' list-panes -a ' <<<"$window" || true; } | awk '{ w = $NF; for (i = 1; i <= NF; i++) if ($i !~ /^-/ && $(i-1) !~ /^-[LSf]$/) { w = $i; break } print w }' | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
    per_poll=$(awk -v t="$total" -v p="$polls" 'BEGIN { if (p) printf "%.2f", t / p; else print "n/a" }')
    count_rows+=("| $mode, push $push | $(describe "$sc") | ${COUNT_SECONDS} s | $polls | $others${other_kinds:+ ($other_kinds)} | $per_poll | $settling |")
    teardown

    # 2. CPU and RSS, with the real tmux.
    setup "$sc" "$push"
    "start_$mode" pid "$SOCK" "$CFG"
    sleep "$SETTLE_SECONDS"
    server_pid=$(tm "$SOCK" display-message -p '#{pid}')
    own0=$(cpu_ticks "$pid")
    kids0=$(cpu_ticks "$pid" children)
    srv0=$(cpu_ticks "$server_pid")
    t0=$(now_ms)
    sleep "$IDLE_SECONDS"
    own1=$(cpu_ticks "$pid")
    kids1=$(cpu_ticks "$pid" children)
    srv1=$(cpu_ticks "$server_pid")
    t1=$(now_ms)
    hwm=$(status_kib "$pid" VmHWM)
    rss=$(status_kib "$pid" VmRSS)
    "stop_$mode" "$pid"
    teardown
    cpu_rows+=("$(awk -v d="$sc" -v desc="$mode, push $push: $(describe "$sc")" -v w="$(((t1 - t0)))" -v hz="$CLK_TCK" \
        -v own=$((own1 - own0)) -v kids=$((kids1 - kids0)) -v srv=$((srv1 - srv0)) \
        -v hwm="$hwm" -v rss="$rss" 'BEGIN {
            s = w / 1000
            printf "| %s | %.1f s | %.2f s | %.3f %% | %.2f s | %.2f s | %.1f MiB | %.1f MiB |",
                desc, s, own / hz, 100 * own / hz / s, kids / hz, srv / hz, hwm / 1024, rss / 1024
        }')")
done
done
done

echo
echo "idle.sh: tmux-supervisor ($MODES) at poll_interval 1s, reconcile_interval 5s, all sessions up"
echo "(CPU in clock ticks of 1/$CLK_TCK s; the window starts ${SETTLE_SECONDS} s after the daemon)"
echo
echo "| scenario | window | process CPU (utime+stime) | of one core | its tmux children (cutime+cstime) | tmux server CPU | peak RSS (VmHWM) | RSS at end |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${cpu_rows[@]}"
echo
echo "tmux processes spawned by the daemon while idle (logging wrapper first on PATH):"
echo
echo "| mode | scenario | window | polls (list-panes -a) | other tmux calls | tmux calls per poll | calls while it settled (${SETTLE_SECONDS} s) |"
echo "|---|---|---:|---:|---:|---:|---|"
printf '%s\n' "${count_rows[@]}"
