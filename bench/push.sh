#!/usr/bin/env bash
# bench/push.sh — the benchmarks of push (issue 11), side by side in one run: the machine, kill
# → back with push on and off (recovery.sh), the daemon's idle cost with 20 slots over 60 s and
# the tmux processes it spawns per minute, push on and off (idle.sh), and the whole `check
# --json` against the bare `list-panes` call (check.sh).
# Output goes to the terminal and to target/bench-results/push-DATE.txt.
#
# Usage: bench/push.sh            (env: those of recovery.sh, idle.sh and check.sh)

set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench-results
out="target/bench-results/push-$(date +%Y%m%dT%H%M%S).txt"
unset TMUX TMUX_PANE

{
    bench/machine.sh
    cargo build --release --quiet --locked

    echo "### kill → back, push on and off: bench/recovery.sh"
    bench/recovery.sh 2>&1
    echo

    echo "### idle cost with 20 slots, push on and off: bench/idle.sh"
    SCENARIOS=20 MODES=daemon PUSHES="on off" COUNT_SECONDS=${COUNT_SECONDS:-60} bench/idle.sh 2>&1
    echo

    echo "### check --json against the bare list-panes call: bench/check.sh"
    bench/check.sh 2>&1
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
echo "saved to $out" >&2
