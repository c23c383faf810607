#!/usr/bin/env bash
# bench/recovery.sh — kill → back latency of the daemon, push on and push off side by side in
# one run, at poll_interval 2s and reconcile_interval 5s (env POLL, RECONCILE):
#   kill-session  of an auto slot → the session is back (the daemon created it again);
#   SIGKILL       of an auto slot's pane process → the pane is respawned.
# "Back" is when the tmux server has a new child process that is not libutempter's helper: the
# pane process of the new session or of the respawned pane (found by reading
# /proc/SERVER/task/SERVER/children every 2 ms with bash builtins, no process spawned while
# waiting). Each round hits a slot of its own (the first restart of a slot is immediate, later
# ones back off), after a random pause of 1–3.5 s (a random phase against the poll tick).
#
# Usage: bench/recovery.sh        (ROUNDS=10 per event kind, PUSHES="on off")
# Needs target/release/tmux-supervisor.

source "$(dirname "$0")/lib.sh"
bench_init

ROUNDS=${ROUNDS:-10}
PUSHES=${PUSHES:-"on off"}
POLL=${POLL:-2s}
RECONCILE=${RECONCILE:-5s}
SLOTS=$((2 * ROUNDS))

# A sleep without a process: a read that times out on a pipe nobody writes to.
exec {NAP}<> <(:)
nap() { read -r -t "$1" -u "$NAP" _ || true; }

# The server's children (pids), as one space-separated line.
children() {
    local kids=""
    read -r kids <"/proc/$1/task/$1/children" || true
    printf '%s' "$kids"
}

# wait_new_child SERVER_PID "KIDS_BEFORE": returns once the server has a child that was not
# there before and is not libutempter's helper; fails after 30 s.
wait_new_child() {
    local spid=$1 before=" $2 " deadline=$(($(now_ms) + 30000)) kids p comm
    while :; do
        kids=()
        # The file has no newline at its end: read says so, and has read it all.
        read -r -a kids <"/proc/$spid/task/$spid/children" || true
        for p in "${kids[@]}"; do
            [[ $before == *" $p "* ]] && continue
            comm=""
            { read -r comm <"/proc/$p/comm"; } 2>/dev/null || [[ -n $comm ]] || continue
            [[ $comm == utempter ]] && continue
            return 0
        done
        (($(now_ms) > deadline)) && return 1
        nap 0.002
    done
}

config_for() {
    cat <<YAML
poll_interval: $POLL
reconcile_interval: $RECONCILE
push: $([[ $1 == on ]] && echo true || echo false)
pools:
  - name: auto
    prefix: "ccl-auto-"
    start_index: 11
    max: $SLOTS
    restart: always
YAML
}

rows=()
for push in $PUSHES; do
    new_socket SOCK
    cfg="$BENCH_TMP/config-push-$push.yaml"
    config_for "$push" >"$cfg"
    create_sessions "$SOCK" main
    start_daemon pid "$SOCK" "$cfg"
    deadline=$(($(now_ms) + 30000))
    until (($(session_count "$SOCK") == SLOTS + 1)); do
        if (($(now_ms) > deadline)); then
            echo "the daemon did not create the auto pool within 30 s" >&2
            exit 1
        fi
        sleep 0.1
    done
    sleep 3
    spid=$(tm "$SOCK" display-message -p '#{pid}')
    kill_session=()
    sigkill=()
    for i in $(seq 1 "$ROUNDS"); do
        name="ccl-auto-$((10 + i))"
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 1 + r / 32768 * 2.5 }')"
        before=$(children "$spid")
        tm "$SOCK" kill-session -t "=$name:"
        t0=$(now_ms)
        wait_new_child "$spid" "$before" || { echo "push $push: $name not back after 30 s" >&2; exit 1; }
        t1=$(now_ms)
        kill_session+=($((t1 - t0)))
        tm "$SOCK" has-session -t "=$name:" || { echo "push $push: $name is not there" >&2; exit 1; }
        echo "push $push: kill-session $name back after $((t1 - t0)) ms" >&2
    done
    for i in $(seq 1 "$ROUNDS"); do
        name="ccl-auto-$((10 + ROUNDS + i))"
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 1 + r / 32768 * 2.5 }')"
        old=$(tm "$SOCK" display-message -p -t "=$name:" '#{pane_pid}')
        before=$(children "$spid")
        kill -KILL "$old"
        t0=$(now_ms)
        wait_new_child "$spid" "$before" || { echo "push $push: $name not respawned after 30 s" >&2; exit 1; }
        t1=$(now_ms)
        sigkill+=($((t1 - t0)))
        now=$(tm "$SOCK" display-message -p -t "=$name:" '#{pane_dead} #{pane_pid}')
        [[ $now == "0 "* && $now != "0 $old" ]] || { echo "push $push: $name is $now after the new child" >&2; exit 1; }
        echo "push $push: SIGKILL $name respawned after $((t1 - t0)) ms" >&2
    done
    alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)
    stop_daemon "$pid"
    tm "$SOCK" kill-server 2>/dev/null || true
    for kind in kill-session SIGKILL; do
        if [[ $kind == kill-session ]]; then v=("${kill_session[@]}"); else v=("${sigkill[@]}"); fi
        rows+=("| $push | $kind | ${#v[@]} | $(printf '%s\n' "${v[@]}" | median) ms | $(printf '%s\n' "${v[@]}" | percentile 90) ms | $(printf '%s\n' "${v[@]}" | sort -n | head -1) ms | $(printf '%s\n' "${v[@]}" | sort -n | tail -1) ms | ${v[*]} |")
    done
    rows+=("|  | (daemon alive at the end: $alive) | | | | | | |")
done

echo
echo "recovery.sh: kill → back, poll_interval $POLL, reconcile_interval $RECONCILE, auto pool of $SLOTS slots, one slot per round"
echo "(back = the tmux server has the new pane's process; read every 2 ms)"
echo
echo "| push | event | rounds | median | p90 | min | max | all (ms) |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
