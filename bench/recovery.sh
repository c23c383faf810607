#!/usr/bin/env bash
# bench/recovery.sh — kill → back latency: the daemon with the embedded default config
# (poll_interval 1s, reconcile_interval 5s, auto pool ccl-auto-11..20 kept alive) recreates a
# killed auto session; time from the kill until `has-session` (polled every 10 ms) sees it.
#
# Usage: bench/recovery.sh        (ROUNDS=10, at most 10: each round kills a different slot,
# so no slot is in a restart backoff). Needs target/release/tmux-supervisor.

source "$(dirname "$0")/lib.sh"
bench_init

ROUNDS=${ROUNDS:-10}
((ROUNDS > 10)) && ROUNDS=10

new_socket SOCK
# The server exists before the daemon (with the bench settings); the daemon creates the pool.
create_sessions "$SOCK" main
start_daemon pid "$SOCK" -
deadline=$(($(now_ms) + 20000))
until (($(session_count "$SOCK") == 11)); do
    if (($(now_ms) > deadline)); then
        echo "the daemon did not create the auto pool within 20 s:" >&2
        tm "$SOCK" list-sessions >&2 || true
        exit 1
    fi
    sleep 0.1
done
sleep 3

has() { tm "$SOCK" has-session -t "=$1:" 2>/dev/null; }

results=()
for i in $(seq 1 "$ROUNDS"); do
    name="ccl-auto-$((10 + i))"
    # A random phase against the daemon's 1 s poll tick.
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 1 + r / 32768 * 1.5 }')"
    tm "$SOCK" kill-session -t "=$name:"
    t0=$(now_ms)
    if has "$name"; then
        echo "round $i: $name still there after kill-session" >&2
        exit 1
    fi
    until has "$name"; do
        if (($(now_ms) - t0 > 30000)); then
            echo "round $i: $name not back after 30 s" >&2
            exit 1
        fi
        sleep 0.01
    done
    t1=$(now_ms)
    results+=($((t1 - t0)))
    echo "round $i: $name back after $((t1 - t0)) ms" >&2
done
alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)
stop_daemon "$pid"

med=$(printf '%s\n' "${results[@]}" | median)
min=$(printf '%s\n' "${results[@]}" | sort -n | head -1)
max=$(printf '%s\n' "${results[@]}" | sort -n | tail -1)
echo
echo "recovery.sh: kill-session of an auto slot → has-session succeeds again (10 ms polling)"
echo "daemon: embedded default config (poll_interval 1s, reconcile_interval 5s); daemon alive at end: $alive"
echo
echo "| rounds | median | min | max | all (ms) |"
echo "|---:|---:|---:|---:|---|"
echo "| ${#results[@]} | $med ms | $min ms | $max ms | ${results[*]} |"
