#!/usr/bin/env bash
# bench/run-all.sh — every benchmark of BENCHMARKS.md in one command: the machine, criterion
# (pure parts and the UI's rows + frame), the end-to-end poll, the idle cost of the daemon and
# of the UI (and of the daemon with push off), the kill → back latency with push on and off,
# `check` against the bare tmux call, and the poll of two hosts over ssh against the bare ssh
# calls (needs openssh-server; said and skipped without it).
# Output goes to the terminal and to target/bench-results/run-DATE.txt.
#
# Usage: bench/run-all.sh         (env: SKIP_CRITERION=1, and those of idle.sh / recovery.sh)

set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench-results
out="target/bench-results/run-$(date +%Y%m%dT%H%M%S).txt"
unset TMUX TMUX_PANE

{
    bench/machine.sh
    cargo build --release --quiet
    cargo bench --no-run --quiet 2>&1 | grep -v '^ *Executable' || true

    if [[ -z ${SKIP_CRITERION:-} ]]; then
        echo "### criterion: cargo bench --bench pure"
        echo
        cargo bench --quiet --bench pure 2>&1 | tee target/bench-results/criterion.txt >/dev/null
        bench/criterion-table.sh target/bench-results/criterion.txt
        echo
        echo "### criterion: cargo bench --bench render"
        echo
        cargo bench --quiet --bench render 2>&1 | tee target/bench-results/render.txt >/dev/null
        bench/criterion-table.sh target/bench-results/render.txt
        echo
    fi

    echo "### end to end: cargo bench --bench poll_e2e"
    cargo bench --quiet --bench poll_e2e 2>&1
    echo

    echo "### idle cost, daemon and UI: bench/idle.sh"
    bench/idle.sh 2>&1
    echo

    echo "### idle cost with 20 slots, push on and off: bench/idle.sh"
    SCENARIOS=20 MODES=daemon PUSHES="on off" COUNT_SECONDS=60 bench/idle.sh 2>&1
    echo

    echo "### kill → back, push on and off: bench/recovery.sh"
    bench/recovery.sh 2>&1
    echo

    echo "### check --json against the bare list-panes call: bench/check.sh"
    bench/check.sh 2>&1
    echo

    echo "### hosts over ssh: bench/hosts.sh"
    bench/hosts.sh 2>&1 || echo "(bench/hosts.sh did not run: exit $?)"
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
echo "saved to $out" >&2
