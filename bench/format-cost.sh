#!/usr/bin/env bash
# bench/format-cost.sh — what the two fields push and `check` added to the snapshot format
# (`#{version}` and the `#{pane-died[42]}` hook) cost tmux: `list-panes -a -F` with the format
# before them and with the format now, alternating, at N sessions on a private server.
#
# Usage: bench/format-cost.sh     (SIZES="20 1000" ROUNDS=31)

source "$(dirname "$0")/lib.sh"
bench_init

SIZES=${SIZES:-"20 1000"}
ROUNDS=${ROUNDS:-31}
N=TSUPbench00000000000000000000000000000000
T=$'\t'
FIXED="#{pid}$T#{session_id}$T#{session_name}$T#{session_created}$T#{session_activity}$T#{session_attached}$T#{window_activity}$T#{pane_id}$T#{pane_pid}$T#{pane_dead}$T#{pane_dead_status}$T#{pane_dead_signal}"
BEFORE="$N<$FIXED$N|#{pane_current_command}$N|#{pane_title}$N|#{pane_current_path}$N>"
NOW="$N<$FIXED$T#{version}$N|#{pane_current_command}$N|#{pane_title}$N|#{pane_current_path}$N|#{pane-died[42]}$N>"

us() {
    local t0=${EPOCHREALTIME/./} t1
    "$REAL_TMUX" -L "$SOCK" -f /dev/null list-panes -a -F "$1" >/dev/null
    t1=${EPOCHREALTIME/./}
    echo $((t1 - t0))
}

rows=()
for n in $SIZES; do
    new_socket SOCK
    mapfile -t names < <(seq -f 's-%g' 1 "$n")
    create_sessions "$SOCK" "${names[@]}"
    sleep 2
    before=() now=()
    for _ in $(seq 1 "$ROUNDS"); do
        before+=("$(us "$BEFORE")")
        now+=("$(us "$NOW")")
    done
    tm "$SOCK" kill-server 2>/dev/null || true
    mb=$(printf '%s\n' "${before[@]}" | median)
    mn=$(printf '%s\n' "${now[@]}" | median)
    rows+=("| $n | $(awk -v v="$mb" 'BEGIN { printf "%.2f", v / 1000 }') | $(awk -v v="$mn" 'BEGIN { printf "%.2f", v / 1000 }') | $(awk -v a="$mn" -v b="$mb" 'BEGIN { printf "%.2f", a / b }') |")
done
echo
echo "format-cost.sh: medians of $ROUNDS rounds of list-panes -a -F, alternating the two formats"
echo
echo "| sessions | format before push (ms) | format now: + version + hook (ms) | now/before |"
echo "|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
